//! Open-loop load generator for `loadtest_server`, run as a second process: sends GETs shaped
//! like the HPA controller's (through kube-apiserver: front-proxy client certificate,
//! `X-Remote-User`) at a fixed rate over loopback, then prints latency percentiles and the
//! server's resident memory. A test tool, not part of the `tidal` binary.
//!
//! ```text
//! cargo run --release -p tidal-metrics-adapter --example loadgen -- DIR RATE SECONDS SERVER_PID [http1|http2] [HPAS]
//! ```
//! Requests are scheduled every 1/RATE s whether or not earlier ones have finished (open loop);
//! latency is reported both from the moment a request was sent and from the moment it was
//! scheduled (the latter also counts any delay of the generator itself).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tidal_metrics_adapter::testing::synthetic_paths;

/// Requests in flight beyond this are counted as errors instead of piling up.
const MAX_IN_FLIGHT: usize = 2000;
/// Not recorded: connection set-up and first-touch effects.
const WARM_UP: Duration = Duration::from_secs(2);

struct Outcome {
    from_send: Duration,
    from_schedule: Duration,
    ok: bool,
    recorded: bool,
}

fn client(dir: &std::path::Path, http2: bool) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("client.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("client-key.pem")).unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    tls.alpn_protocols = if http2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let addr: std::net::SocketAddr = std::fs::read_to_string(dir.join("addr"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        addr.ip().is_loopback(),
        "load is only ever sent to loopback"
    );
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .resolve("localhost", addr)
        .pool_max_idle_per_host(256);
    let builder = if http2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    builder.build().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn rss(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Settings {
    rate: f64,
    seconds: f64,
    http2: bool,
    hpas: usize,
}

async fn one_request(
    client: reqwest::Client,
    url: String,
    in_flight: Arc<AtomicUsize>,
) -> (Duration, bool) {
    if in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_IN_FLIGHT {
        in_flight.fetch_sub(1, Ordering::Relaxed);
        return (Duration::ZERO, false);
    }
    let sent_at = Instant::now();
    let result = client
        .get(url)
        .header("Accept", "application/json")
        .header(
            "X-Remote-User",
            "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
        )
        .header("X-Remote-Group", "system:authenticated")
        .send()
        .await;
    let ok = match result {
        Ok(response) => response.status() == 200 && response.bytes().await.is_ok(),
        Err(_) => false,
    };
    in_flight.fetch_sub(1, Ordering::Relaxed);
    (sent_at.elapsed(), ok)
}

/// Sends requests at `settings.rate` for warm-up + `settings.seconds`; returns every outcome.
async fn generate(client: reqwest::Client, base: String, settings: &Settings) -> Vec<Outcome> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let total = WARM_UP + Duration::from_secs_f64(settings.seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let (mut sent, mut seed) = (0u64, 0x9E37_79B9_7F4A_7C15u64);
    while start.elapsed() < total {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * settings.rate) as u64;
        while sent < due {
            let scheduled = start + Duration::from_secs_f64(sent as f64 / settings.rate);
            sent += 1;
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let hpa = (seed >> 33) as usize % settings.hpas;
            let url = format!("{base}{}", synthetic_paths(hpa)[(seed >> 20) as usize % 2]);
            let request = one_request(client.clone(), url, in_flight.clone());
            let tx = tx.clone();
            let recorded = scheduled >= start + WARM_UP;
            tokio::spawn(async move {
                let (from_send, ok) = request.await;
                let from_schedule = scheduled.elapsed();
                let _ = tx.send(Outcome {
                    from_send,
                    from_schedule,
                    ok,
                    recorded,
                });
            });
        }
    }
    drop(tx);
    let mut outcomes = Vec::new();
    while let Some(o) = rx.recv().await {
        outcomes.push(o);
    }
    outcomes
}

fn report(outcomes: &[Outcome], settings: &Settings) {
    let recorded: Vec<&Outcome> = outcomes.iter().filter(|o| o.recorded).collect();
    let errors = recorded.iter().filter(|o| !o.ok).count();
    let mut from_send: Vec<Duration> = recorded
        .iter()
        .filter(|o| o.ok)
        .map(|o| o.from_send)
        .collect();
    let mut from_schedule: Vec<Duration> = recorded
        .iter()
        .filter(|o| o.ok)
        .map(|o| o.from_schedule)
        .collect();
    from_send.sort();
    from_schedule.sort();
    let connection = if settings.http2 {
        "HTTP/2, one connection"
    } else {
        "HTTP/1.1 keep-alive pool"
    };
    println!(
        "{} ok, {errors} errors in {:.1} s after {:.0} s warm-up: {:.0} req/s ({connection})",
        from_send.len(),
        settings.seconds,
        WARM_UP.as_secs_f64(),
        recorded.len() as f64 / settings.seconds,
    );
    for (name, v) in [("from send", &from_send), ("from schedule", &from_schedule)] {
        println!(
            "latency {name}: p50 {:?} p90 {:?} p99 {:?} p99.9 {:?} max {:?}",
            percentile(v, 50.0),
            percentile(v, 90.0),
            percentile(v, 99.0),
            percentile(v, 99.9),
            v.last().copied().unwrap_or_default()
        );
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: loadgen DIR RATE SECONDS SERVER_PID [http1|http2] [HPAS]";
    let dir = PathBuf::from(args.first().expect(usage));
    let settings = Settings {
        rate: args.get(1).expect(usage).parse().expect("RATE is a number"),
        seconds: args
            .get(2)
            .expect(usage)
            .parse()
            .expect("SECONDS is a number"),
        http2: args.get(4).is_some_and(|s| s == "http2"),
        hpas: args
            .get(5)
            .map_or(10_000, |s| s.parse().expect("HPAS is a number")),
    };
    let pid = args.get(3).expect(usage).clone();
    let addr = std::fs::read_to_string(dir.join("addr")).unwrap();
    let port = addr.trim().rsplit(':').next().unwrap().to_string();
    let client = client(&dir, settings.http2);
    println!("server before: {}", rss(&pid));
    let outcomes = generate(client, format!("https://localhost:{port}"), &settings).await;
    report(&outcomes, &settings);
    println!("server after: {}", rss(&pid));
}
