//! A real Prometheus scrapes the test exporter and answers PromQL through `prometheus-http-query`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prometheus_http_query::response::Data;
use tidal_test_support::{Prometheus, TestExporter};

/// Bound on waiting for scrapes so a broken setup fails instead of hanging; not a performance claim.
const SCRAPE_WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn prometheus_scrapes_the_exporter_and_answers_promql() {
    let exporter = TestExporter::start().await.unwrap();
    let requests = "nginx_ingress_controller_requests";
    let labels = [("ingress", "web"), ("namespace", "shop")];
    exporter.set(requests, &labels, 42.0).unwrap();
    exporter
        .set(requests, &[("ingress", "api"), ("namespace", "other")], 7.0)
        .unwrap();

    let prom = Prometheus::start(&[exporter.addr()], Duration::from_secs(1))
        .await
        .unwrap_or_else(|e| panic!("cannot start prometheus: {e}"));
    prom.wait_for_series(requests, SCRAPE_WAIT).await.unwrap();

    let client = prometheus_http_query::Client::try_from(prom.url()).unwrap();
    let query = format!(r#"sum by (ingress) ({requests}{{namespace="shop"}})"#);
    let result = client.query(&query).get().await.unwrap();
    let Data::Vector(vector) = result.data() else {
        panic!("expected a vector, got {:?}", result.data());
    };
    assert_eq!(vector.len(), 1, "{vector:?}");
    assert_eq!(
        vector[0].metric().get("ingress").map(String::as_str),
        Some("web")
    );
    assert_eq!(vector[0].sample().value(), 42.0);

    // A new value reaches PromQL with the next scrape.
    exporter.set(requests, &labels, 50.0).unwrap();
    let samples = prom
        .wait_for_series(
            &format!(r#"{requests}{{ingress="web"}} == 50"#),
            SCRAPE_WAIT,
        )
        .await
        .unwrap();
    assert_eq!(samples[0].value, 50.0);
}
