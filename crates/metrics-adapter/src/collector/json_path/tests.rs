#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::collector::fetch::ByteBudget;
use crate::config::{Aggregator, HttpTimeouts, ScaleTarget, Scheme};
use crate::config::{DEFAULT_BODY_BUDGET_BYTES, DEFAULT_MAX_BODY_BYTES};
use crate::test_fixtures::{FakeCluster, Reply, allow_loopback, ready_pod, serve};

fn limits() -> BodyLimits {
    BodyLimits {
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        budget: ByteBudget::new(DEFAULT_BODY_BUDGET_BYTES),
    }
}

fn spec(json_key: &str, aggregator: Option<Aggregator>) -> JsonPathSpec {
    JsonPathSpec {
        json_key: json_key.to_string(),
        aggregator,
    }
}

fn eval(json_key: &str, aggregator: Option<Aggregator>, doc: Value) -> Result<f64, CollectError> {
    let spec = spec(json_key, aggregator);
    evaluate("http://x", &compile(&spec).unwrap(), &spec, &doc)
}

#[test]
fn evaluate_table() {
    let doc = json!({
        "http_server": {"rps": 12.5, "quoted": " 7 ", "name": "web", "nan": "NaN"},
        "workers": [{"queue": 1}, {"queue": 5}, {"queue": 3}],
    });
    assert_eq!(eval("$.http_server.rps", None, doc.clone()).unwrap(), 12.5);
    assert_eq!(
        eval("$.http_server.quoted", None, doc.clone()).unwrap(),
        7.0
    );
    assert_eq!(
        eval("$['http_server']['rps']", None, doc.clone()).unwrap(),
        12.5
    );
    for (aggregator, want) in [
        (Aggregator::Avg, 3.0),
        (Aggregator::Max, 5.0),
        (Aggregator::Min, 1.0),
        (Aggregator::Sum, 9.0),
    ] {
        assert_eq!(
            eval("$.workers[*].queue", Some(aggregator), doc.clone()).unwrap(),
            want
        );
    }
    let err = eval("$.workers[*].queue", None, doc.clone()).unwrap_err();
    assert!(
        matches!(err, CollectError::Ambiguous { count: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("set an aggregator"));
    let err = eval("$.missing", None, doc.clone()).unwrap_err();
    assert!(matches!(err, CollectError::NoMatch { .. }), "{err}");
    let err = eval("$.http_server.name", None, doc.clone()).unwrap_err();
    assert!(
        err.to_string()
            .contains("matched a string of 3 bytes, not a number"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("web"),
        "the value is not echoed: {err}"
    );
    let err = eval("$.http_server.nan", None, doc).unwrap_err();
    assert!(matches!(err, CollectError::NotFinite { .. }), "{err}");
}

fn pods_source(json_key: &str, min_pod_ready_age: Duration) -> PodsJsonPath {
    PodsJsonPath {
        namespace: "shop".into(),
        scale_target: ScaleTarget {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        },
        scheme: Scheme::Http,
        port: 9090,
        path: "/metrics".into(),
        raw_query: None,
        json: spec(json_key, None),
        timeouts: HttpTimeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_millis(300),
        },
        min_pod_ready_age,
    }
}

fn now() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

#[tokio::test]
async fn pods_that_fail_are_left_out_not_counted_as_zero() {
    let (a, _) = serve(Reply::Json(r#"{"rps": 10}"#.into())).await;
    let (b, _) = serve(Reply::Json(r#"{"rps": 30}"#.into())).await;
    let (broken, broken_hits) = serve(Reply::Status(500)).await;
    let (slow, _) = serve(Reply::Slow(Duration::from_secs(30))).await;
    let (garbage, _) = serve(Reply::Json("not json".into())).await;
    let (unready, unready_hits) = serve(Reply::Json(r#"{"rps": 999}"#.into())).await;
    let (young, young_hits) = serve(Reply::Json(r#"{"rps": 999}"#.into())).await;
    let long_ago = now() - Duration::from_secs(3600);
    let mut not_ready = ready_pod("f-unready", long_ago);
    not_ready.ready = false;
    let cluster = Arc::new(FakeCluster {
        pods: vec![
            (ready_pod("a", long_ago), a.port()),
            (ready_pod("b", long_ago), b.port()),
            (ready_pod("c-broken", long_ago), broken.port()),
            (ready_pod("d-slow", long_ago), slow.port()),
            (ready_pod("e-garbage", long_ago), garbage.port()),
            (not_ready, unready.port()),
            (
                ready_pod("g-young", now() - Duration::from_secs(5)),
                young.port(),
            ),
        ],
        ..FakeCluster::default()
    });
    let collector = PodsJsonPathCollector::new(
        pods_source("$.rps", Duration::from_secs(60)),
        cluster.clone(),
        limits(),
    )
    .unwrap();
    let Collected::PerPod(values) = collector.collect(now()).await.unwrap() else {
        panic!("pods collector must return per-pod values")
    };
    let got: Vec<(&str, f64)> = values.iter().map(|v| (v.name.as_str(), v.value)).collect();
    assert_eq!(got, [("a", 10.0), ("b", 30.0)]);
    assert_eq!(values[0].labels["app"], "web");
    assert_eq!(
        broken_hits.load(Ordering::SeqCst),
        1,
        "failing pod was asked"
    );
    assert_eq!(
        unready_hits.load(Ordering::SeqCst),
        0,
        "unready pod must not be asked"
    );
    assert_eq!(
        young_hits.load(Ordering::SeqCst),
        0,
        "pod younger than min-pod-ready-age"
    );
    assert_eq!(cluster.selector_calls.lock().unwrap()[0].name, "web");
}

#[tokio::test]
async fn all_pods_failing_is_an_error_and_no_pods_is_an_empty_result() {
    let (broken, _) = serve(Reply::Status(503)).await;
    let long_ago = now() - Duration::from_secs(3600);
    let cluster = Arc::new(FakeCluster {
        pods: vec![(ready_pod("a", long_ago), broken.port())],
        ..FakeCluster::default()
    });
    let collector =
        PodsJsonPathCollector::new(pods_source("$.rps", Duration::ZERO), cluster, limits())
            .unwrap();
    let err = collector.collect(now()).await.unwrap_err();
    assert!(
        matches!(err, CollectError::AllPodsFailed { failed: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP status 503"), "{err}");
    assert_eq!(err.reason(), "http_status");

    let empty = PodsJsonPathCollector::new(
        pods_source("$.rps", Duration::ZERO),
        Arc::new(FakeCluster::default()),
        limits(),
    )
    .unwrap();
    assert_eq!(
        empty.collect(now()).await.unwrap(),
        Collected::PerPod(vec![])
    );
}

#[tokio::test]
async fn raw_query_is_appended_to_the_pod_url() {
    let collector = PodsJsonPathCollector::new(
        PodsJsonPath {
            raw_query: Some("format=json".into()),
            ..pods_source("$.rps", Duration::ZERO)
        },
        Arc::new(FakeCluster {
            pods: vec![(ready_pod("a", now()), 4242)],
            ..FakeCluster::default()
        }),
        limits(),
    )
    .unwrap();
    let url = collector.pod_url(&ready_pod("a", now())).unwrap();
    assert_eq!(url, "http://127.0.0.1:4242/metrics?format=json");
}

#[tokio::test]
async fn url_collector_reads_and_aggregates() {
    let (addr, hits) = serve(Reply::Json(
        r#"{"queues": [{"depth": 4}, {"depth": 6}]}"#.into(),
    ))
    .await;
    let collector = UrlJsonPathCollector::new(
        UrlJsonPath {
            url: format!("http://{addr}/metrics"),
            json: spec("$.queues[*].depth", Some(Aggregator::Sum)),
            timeouts: HttpTimeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(5),
            },
        },
        Arc::new(allow_loopback()),
        limits(),
    )
    .unwrap();
    assert_eq!(
        collector.collect(now()).await.unwrap(),
        Collected::Value(10.0)
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let (down, _) = serve(Reply::Status(404)).await;
    let failing = UrlJsonPathCollector::new(
        UrlJsonPath {
            url: format!("http://{down}/metrics"),
            json: spec("$.x", None),
            timeouts: HttpTimeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(5),
            },
        },
        Arc::new(allow_loopback()),
        limits(),
    )
    .unwrap();
    let err = failing.collect(now()).await.unwrap_err();
    assert!(
        matches!(err, CollectError::HttpStatus { status: 404, .. }),
        "{err}"
    );
}

fn url_source(url: String) -> UrlJsonPath {
    UrlJsonPath {
        url,
        json: spec("$.x", None),
        timeouts: HttpTimeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
        },
    }
}

#[tokio::test]
async fn a_url_on_a_refused_address_gets_no_request() {
    let (addr, hits) = serve(Reply::Json(r#"{"x": 1}"#.into())).await;
    // The default policy: loopback (like link-local and the metadata service) is refused.
    let refusing = Arc::new(OutboundPolicy::default());
    for url in [
        format!("http://{addr}/metrics"),
        format!("http://localhost:{}/metrics", addr.port()),
    ] {
        let collector =
            UrlJsonPathCollector::new(url_source(url.clone()), refusing.clone(), limits()).unwrap();
        let err = collector.collect(now()).await.unwrap_err();
        assert!(matches!(err, CollectError::Refused { .. }), "{url}: {err}");
        assert!(
            err.to_string()
                .contains("loopback addresses are not allowed"),
            "{err}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the target got no request");
}

#[tokio::test]
async fn a_redirect_from_an_allowed_endpoint_is_not_followed() {
    let (target, target_hits) = serve(Reply::Json(r#"{"x": 1}"#.into())).await;
    let (redirector, _) = serve(Reply::Redirect(format!("http://{target}/metrics"))).await;
    let collector = UrlJsonPathCollector::new(
        url_source(format!("http://{redirector}/metrics")),
        Arc::new(allow_loopback()),
        limits(),
    )
    .unwrap();
    let err = collector.collect(now()).await.unwrap_err();
    assert!(matches!(err, CollectError::Redirect { .. }), "{err}");
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);

    // Pod endpoints (addresses from the Kubernetes API) do not follow redirects either.
    let long_ago = now() - Duration::from_secs(3600);
    let pods = PodsJsonPathCollector::new(
        pods_source("$.x", Duration::ZERO),
        Arc::new(FakeCluster {
            pods: vec![(ready_pod("a", long_ago), redirector.port())],
            ..FakeCluster::default()
        }),
        limits(),
    )
    .unwrap();
    let err = pods.collect(now()).await.unwrap_err();
    assert_eq!(err.reason(), "redirect", "{err}");
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn pod_addresses_from_the_api_are_not_subject_to_the_policy() {
    // FakeCluster puts every pod on loopback, which the default policy refuses for URLs.
    let (pod, hits) = serve(Reply::Json(r#"{"rps": 3}"#.into())).await;
    let long_ago = now() - Duration::from_secs(3600);
    let collector = PodsJsonPathCollector::new(
        pods_source("$.rps", Duration::ZERO),
        Arc::new(FakeCluster {
            pods: vec![(ready_pod("a", long_ago), pod.port())],
            ..FakeCluster::default()
        }),
        limits(),
    )
    .unwrap();
    assert!(collector.collect(now()).await.is_ok());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
