//! Usage from a real Prometheus on loopback, scraping the test exporter's cAdvisor-shaped
//! series, through `prometheus-http-query`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tidal_core::Timestamp;
use tidal_test_support::{Prometheus, TestExporter};
use tidal_vpa::ports::{ObjectKey, UsageError, UsageSource};
use tidal_vpa::usage::{PrometheusQueries, PrometheusUsage};

/// Bound on waiting for scrapes so a broken setup fails instead of hanging; not a performance claim.
const SCRAPE_WAIT: Duration = Duration::from_secs(60);
const LABELS: [(&str, &str); 3] = [
    ("namespace", "shop"),
    ("pod", "web-1"),
    ("container", "app"),
];

fn queries() -> PrometheusQueries {
    PrometheusQueries {
        live_window: Duration::from_secs(5),
        history_step: Duration::from_secs(5),
        ..PrometheusQueries::default()
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
}

#[tokio::test]
async fn live_samples_and_history_come_from_cadvisor_series() {
    let exporter = TestExporter::start().await.unwrap();
    exporter
        .set(
            "container_memory_working_set_bytes",
            &LABELS,
            512.0 * 1024.0 * 1024.0,
        )
        .unwrap();
    // The POD pause container and cgroup totals (no container label value) are not containers.
    exporter
        .set(
            "container_memory_working_set_bytes",
            &[
                ("namespace", "shop"),
                ("pod", "web-1"),
                ("container", "POD"),
            ],
            1.0,
        )
        .unwrap();
    exporter
        .set("container_cpu_usage_seconds_total", &LABELS, 0.0)
        .unwrap();
    let prom = Prometheus::start(&[exporter.addr()], Duration::from_secs(1))
        .await
        .unwrap_or_else(|e| panic!("cannot start prometheus: {e}"));
    // Half a core: the counter grows by 0.5 s per second of wall time.
    let started = std::time::Instant::now();
    let feeder = tokio::spawn(async move {
        loop {
            let cpu_seconds = started.elapsed().as_secs_f64() * 0.5;
            exporter
                .set("container_cpu_usage_seconds_total", &LABELS, cpu_seconds)
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    prom.wait_for_series(
        "rate(container_cpu_usage_seconds_total[5s]) > 0",
        SCRAPE_WAIT,
    )
    .await
    .unwrap();
    // `rate` divides by the whole window: let the window fill with scrapes first.
    tokio::time::sleep(Duration::from_secs(7)).await;

    let usage = PrometheusUsage::new(&prom.url(), Duration::from_secs(10), queries()).unwrap();
    let live = usage.current().await.unwrap();
    assert_eq!(live.len(), 1, "only the app container: {live:?}");
    let s = &live[0];
    assert_eq!(
        (s.pod.clone(), s.container.as_str()),
        (ObjectKey::new("shop", "web-1"), "app")
    );
    assert_eq!(s.memory_bytes, Some(512.0 * 1024.0 * 1024.0));
    let cpu = s.cpu_cores.unwrap();
    assert!((0.3..0.7).contains(&cpu), "about half a core: {cpu}");

    let end = now();
    let history = usage
        .history(Timestamp::from_millis(end.as_millis() - 60_000), end)
        .await
        .unwrap();
    assert!(
        history
            .samples
            .iter()
            .any(|s| s.memory_bytes == Some(512.0 * 1024.0 * 1024.0)),
        "{history:?}"
    );
    assert!(history.samples.iter().all(|s| s.container == "app"));
    feeder.abort();
}

#[tokio::test]
async fn prometheus_down_is_an_unreachable_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let usage = PrometheusUsage::new(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(2),
        queries(),
    )
    .unwrap();
    let err = usage.current().await.unwrap_err();
    assert!(matches!(err, UsageError::Unreachable(_)), "{err}");
    assert_eq!(err.label(), "unreachable");
    let err = usage
        .history(Timestamp::from_secs(0), Timestamp::from_secs(3600))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "unreachable");
}
