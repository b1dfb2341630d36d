//! Against a real Prometheus on loopback scraping the test exporter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tidal_runtime::Clock;
use tidal_test_support::{Prometheus, TestExporter};

use super::*;

/// Bound on waiting for scrapes so a broken setup fails instead of hanging; not a performance claim.
const SCRAPE_WAIT: Duration = Duration::from_secs(60);

fn source(url: &str, queries: Queries) -> PrometheusSignals {
    PrometheusSignals::new(
        url,
        queries,
        Duration::from_secs(1),
        Duration::from_secs(10),
    )
    .unwrap()
}

#[tokio::test]
async fn range_queries_fill_the_configured_signals() {
    let exporter = TestExporter::start().await.unwrap();
    for (node, cores, mib) in [("cp-1", 2.0, 3000.0), ("cp-2", 4.0, 5000.0)] {
        let labels = [("node", node), ("role", "control-plane")];
        exporter.set("test_cpu_cores", &labels, cores).unwrap();
        exporter.set("test_memory_mib", &labels, mib).unwrap();
    }
    exporter
        .set(
            "test_cpu_cores",
            &[("node", "worker-1"), ("role", "worker")],
            50.0,
        )
        .unwrap();
    exporter
        .set("test_seats", &[("apiserver", "a")], 100.0)
        .unwrap();
    exporter
        .set("test_seats", &[("apiserver", "b")], 20.0)
        .unwrap();
    let prom = Prometheus::start(&[exporter.addr()], Duration::from_secs(1))
        .await
        .unwrap_or_else(|e| panic!("cannot start prometheus: {e}"));
    prom.wait_for_series("test_seats", SCRAPE_WAIT)
        .await
        .unwrap();
    // Two scrapes, so the range has more than one point.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let queries = Queries {
        cpu: Some(r#"avg(test_cpu_cores{role="control-plane"})"#.into()),
        memory: Some(r#"avg(test_memory_mib{role="control-plane"})"#.into()),
        seats: Some("sum(test_seats)".into()),
        latency_p99: None,
    };
    let now = Clock::wall().now();
    let signals = source(&prom.url(), queries.clone())
        .signals(now, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(signals.cpu.points().len() >= 2, "{:?}", signals.cpu);
    assert!(
        signals.cpu.points().iter().all(|(_, v)| *v == 3.0),
        "{:?}",
        signals.cpu
    );
    assert_eq!(signals.memory.latest().unwrap().1, 4000.0);
    assert_eq!(signals.seats.latest().unwrap().1, 120.0);
    assert!(
        signals.latency_p99.points().is_empty(),
        "not configured, not read"
    );
    let (at, _) = signals.cpu.latest().unwrap();
    assert!(
        now.since(at) < Duration::from_secs(10),
        "timestamps are wall time: {at:?} vs {now:?}"
    );

    // A query with no data is an empty series (the decision then holds), not an error.
    let empty = Queries {
        cpu: Some("absent_metric_for_tidal".into()),
        ..Queries::default()
    };
    let signals = source(&prom.url(), empty)
        .signals(now, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(signals.cpu.points().is_empty());

    // The default queries are valid PromQL (no node-exporter here, so they are empty).
    let defaults = Queries {
        cpu: Some(Queries::default_cpu(r#"role="control-plane""#)),
        memory: Some(Queries::default_memory(r#"role="control-plane""#)),
        seats: Some(Queries::DEFAULT_SEATS.into()),
        latency_p99: Some(Queries::DEFAULT_LATENCY_P99.into()),
    };
    source(&prom.url(), defaults)
        .signals(now, Duration::from_secs(120))
        .await
        .unwrap();

    // Several series: which to judge would be a guess.
    let many = Queries {
        seats: Some("test_seats".into()),
        ..Queries::default()
    };
    let err = source(&prom.url(), many)
        .signals(now, Duration::from_secs(120))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "unexpected");
    assert!(err.to_string().contains("2 series"), "{err}");

    // Bad PromQL is the server's error, named by signal.
    let bad = Queries {
        memory: Some("sum(".into()),
        ..Queries::default()
    };
    let err = source(&prom.url(), bad)
        .signals(now, Duration::from_secs(120))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "query");
    assert!(err.to_string().contains("memory"), "{err}");
}

#[tokio::test]
async fn prometheus_down_is_an_error_not_an_empty_answer() {
    let port = tidal_test_support::free_port().unwrap();
    let queries = Queries {
        cpu: Some("up".into()),
        ..Queries::default()
    };
    let err = source(&format!("http://127.0.0.1:{port}"), queries)
        .signals(Clock::wall().now(), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "query");
}
