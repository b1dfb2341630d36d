//! Load-test server: the real metrics API (TLS, front-proxy authentication, router, store)
//! preloaded with synthetic values of many HPAs, for `loadgen` to hit from a second process.
//! A test fixture, not part of the `tidal` binary.
//!
//! ```text
//! cargo run --release -p tidal-metrics-adapter --example loadtest_server -- DIR [HPAS] [PODS]
//! ```
//! Writes `DIR/ca.pem` (serving CA), `DIR/client.pem` + `DIR/client-key.pem` (front-proxy client
//! `front-proxy-client`) and `DIR/addr` (`127.0.0.1:PORT`), prints its PID, and serves until
//! SIGTERM or Ctrl-C.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_metrics_adapter::metrics::Metrics;
use tidal_metrics_adapter::store::MetricStore;
use tidal_metrics_adapter::testing::{Pki, TestServer, fill_synthetic};
use tidal_runtime::Clock;

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: loadtest_server DIR [HPAS] [PODS]"),
    );
    let hpas: usize = args
        .next()
        .map_or(10_000, |s| s.parse().expect("HPAS is a number"));
    let pods: usize = args
        .next()
        .map_or(10, |s| s.parse().expect("PODS is a number"));

    let pki = Pki::generate().unwrap();
    let client = pki.front_proxy_client("front-proxy-client").unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), pki.serving_ca_pem()).unwrap();
    std::fs::write(dir.join("client.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.join("client-key.pem"), &client.key_pem).unwrap();

    let store = MetricStore::new();
    // Valid for the whole run: the load test measures serving, not collection.
    fill_synthetic(&store, hpas, pods, now(), Duration::from_secs(24 * 3600));
    let clock = Clock::system();
    let server = TestServer::start(
        store,
        &pki,
        &["front-proxy-client"],
        Metrics::default(),
        clock,
    )
    .await
    .unwrap();
    std::fs::write(dir.join("addr"), server.addr.to_string()).unwrap();
    println!(
        "serving {hpas} HPAs x 2 metrics ({pods} pods each) on {} pid {}",
        server.addr,
        std::process::id()
    );
    tidal_runtime::shutdown_signal().await;
    server.stop().await;
}
