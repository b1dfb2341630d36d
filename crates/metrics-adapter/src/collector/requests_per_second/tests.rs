#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tidal_test_support::{Prometheus, TestExporter};

use super::*;
use crate::config::{DEFAULT_RPS_QUERY_TEMPLATE, RoutingKind};
use crate::test_fixtures::FakeCluster;

fn hosts(list: &[&str]) -> Vec<String> {
    list.iter().map(|h| h.to_string()).collect()
}

#[test]
fn render_query_for_skipper_and_regex_hosts() {
    assert_eq!(
        render_query(
            DEFAULT_RPS_QUERY_TEMPLATE,
            &hosts(&["a.example.com", "b-2.example.com"])
        ),
        "sum(rate(skipper_serve_host_duration_seconds_count{host=~\"a_example_com|b_2_example_com\"}[1m]))"
    );
    assert_eq!(
        render_query("x{host=~\"{hosts_regex}\"}", &hosts(&["a.example.com"])),
        "x{host=~\"a\\\\.example\\\\.com\"}"
    );
}

#[test]
fn backend_share_table() {
    let routing = RoutingInfo {
        hosts: hosts(&["a.example.com"]),
        backend_weights: BTreeMap::from([("main".to_string(), 60.0), ("canary".to_string(), 20.0)]),
    };
    assert_eq!(backend_share("o", &routing, None).unwrap(), 1.0);
    assert_eq!(backend_share("o", &routing, Some("canary")).unwrap(), 0.25);
    assert_eq!(backend_share("o", &routing, Some("main")).unwrap(), 0.75);
    let err = backend_share("Ingress shop/web", &routing, Some("other")).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"other\" has no weight (known: canary, main)"),
        "{err}"
    );
    let unweighted = RoutingInfo::default();
    assert_eq!(backend_share("o", &unweighted, Some("main")).unwrap(), 1.0);
    let zero = RoutingInfo {
        hosts: vec![],
        backend_weights: BTreeMap::from([("main".to_string(), 0.0)]),
    };
    assert!(backend_share("o", &zero, Some("main")).is_err());
}

fn collector(
    server: &str,
    target: RpsTarget,
    template: &str,
    cluster: FakeCluster,
) -> RequestsPerSecondCollector {
    RequestsPerSecondCollector::new(
        crate::test_fixtures::loopback_fetcher(),
        RequestsPerSecond {
            server: server.to_string(),
            target,
        },
        template.to_string(),
        Arc::new(cluster),
    )
}

fn value(collected: Collected) -> f64 {
    match collected {
        Collected::Value(v) => v,
        other => panic!("expected one value, got {other:?}"),
    }
}

#[tokio::test]
async fn measures_hosts_in_a_real_prometheus() {
    let exporter = TestExporter::start().await.unwrap();
    // Gauges stand in for the counters' rates so the test does not depend on scrape timing.
    exporter
        .set("skipper_rps", &[("host", "a_example_com")], 30.0)
        .unwrap();
    exporter
        .set("skipper_rps", &[("host", "b_example_com")], 10.0)
        .unwrap();
    exporter
        .set("skipper_rps", &[("host", "other_com")], 1000.0)
        .unwrap();
    exporter
        .set("nginx_rps", &[("host", "a.example.com")], 4.0)
        .unwrap();
    // Would match if the dots were not escaped.
    exporter
        .set("nginx_rps", &[("host", "aXexample.com")], 400.0)
        .unwrap();
    let prometheus = Prometheus::start(&[exporter.addr()], Duration::from_secs(1))
        .await
        .expect("start Prometheus (see tidal-test-support for how to install it)");
    prometheus
        .wait_for_series("nginx_rps", Duration::from_secs(60))
        .await
        .unwrap();
    let url = prometheus.url();
    let skipper = "sum(skipper_rps{host=~\"{hosts}\"})";

    let by_hostnames = collector(
        &url,
        RpsTarget::Hostnames(hosts(&["a.example.com", "b.example.com"])),
        skipper,
        FakeCluster::default(),
    );
    assert_eq!(
        value(by_hostnames.collect(Timestamp::from_secs(0)).await.unwrap()),
        40.0
    );

    let ingress = FakeCluster {
        routing: HashMap::from([(
            ("shop".to_string(), "web".to_string()),
            RoutingInfo {
                hosts: hosts(&["a.example.com", "b.example.com"]),
                backend_weights: BTreeMap::from([
                    ("web".to_string(), 75.0),
                    ("web-canary".to_string(), 25.0),
                ]),
            },
        )]),
        ..FakeCluster::default()
    };
    let object = RpsTarget::Object {
        namespace: "shop".into(),
        kind: RoutingKind::Ingress,
        name: "web".into(),
        backend: Some("web-canary".into()),
    };
    let by_object = collector(&url, object, skipper, ingress);
    assert_eq!(
        value(by_object.collect(Timestamp::from_secs(0)).await.unwrap()),
        10.0
    );

    let nginx = collector(
        &url,
        RpsTarget::Hostnames(hosts(&["a.example.com"])),
        "sum(nginx_rps{host=~\"{hosts_regex}\"})",
        FakeCluster::default(),
    );
    assert_eq!(
        value(nginx.collect(Timestamp::from_secs(0)).await.unwrap()),
        4.0
    );

    let idle = collector(
        &url,
        RpsTarget::Hostnames(hosts(&["idle.example.com"])),
        skipper,
        FakeCluster::default(),
    );
    let err = idle.collect(Timestamp::from_secs(0)).await.unwrap_err();
    assert!(
        matches!(err, CollectError::EmptyResult { .. }),
        "no traffic data is not zero: {err}"
    );

    let missing = collector(
        &url,
        RpsTarget::Object {
            namespace: "shop".into(),
            kind: RoutingKind::RouteGroup,
            name: "gone".into(),
            backend: None,
        },
        skipper,
        FakeCluster::default(),
    );
    let err = missing.collect(Timestamp::from_secs(0)).await.unwrap_err();
    assert!(err.to_string().contains("RouteGroup shop/gone"), "{err}");
}
