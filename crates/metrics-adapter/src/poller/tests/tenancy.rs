//! The poller against a tenant's bad input: addresses it must not reach, slow endpoints that
//! would hold every slot, intervals that would keep values forever, errors too long for an
//! Event. Real collectors and loopback servers where the network matters.

use std::net::SocketAddr;

use super::*;
use crate::collector::Backends;
use crate::config::{
    CollectionSettings, HttpTimeouts, JsonPathSpec, PodsJsonPath, ScaleTarget, Scheme, UrlJsonPath,
};
use crate::test_fixtures::{FakeCluster, Reply, allow_loopback, ready_pod, serve, tar_pit};

fn poller_with(
    factory: Arc<dyn CollectorFactory>,
    max_concurrent: usize,
    max_concurrent_per_namespace: usize,
) -> (Poller, MetricStore, Arc<RecordedEvents>) {
    let store = MetricStore::new();
    let events = Arc::new(RecordedEvents::default());
    let poller = Poller::new(PollerDeps {
        store: store.clone(),
        metrics: Metrics::default(),
        factory,
        events: events.clone(),
        clock: tidal_runtime::Clock::system(),
        max_concurrent,
        max_concurrent_per_namespace,
    });
    tokio::spawn(poller.clone().run(std::future::pending()));
    (poller, store, events)
}

fn key(namespace: &str, name: &str) -> HpaKey {
    HpaKey {
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn timeouts() -> HttpTimeouts {
    HttpTimeouts {
        connect: Duration::from_secs(30),
        request: Duration::from_secs(30),
    }
}

/// An external json-path metric `m` of HPA `namespace/name` reading `$.x` from `url`.
fn url_config(namespace: &str, name: &str, url: String, interval: Duration) -> CollectorConfig {
    let hpa = key(namespace, name);
    let metric = MetricKey {
        metric_type: MetricType::External,
        name: "m".into(),
    };
    CollectorConfig {
        id: crate::config::collector_id(&hpa, &metric, 1),
        output: Output {
            target: OutputTarget::External {
                namespace: namespace.into(),
                metric: "m".into(),
                labels: BTreeMap::new(),
            },
            per_replica: false,
            weight_percent: None,
        },
        hpa,
        metric,
        interval,
        source: Source::UrlJsonPath(UrlJsonPath {
            url,
            json: JsonPathSpec {
                json_key: "$.x".into(),
                aggregator: None,
            },
            timeouts: timeouts(),
        }),
    }
}

/// A pods json-path metric `m` of HPA `shop/name` over the workload `web`.
fn pods_config(name: &str) -> CollectorConfig {
    let hpa = key("shop", name);
    let metric = MetricKey {
        metric_type: MetricType::Pods,
        name: "m".into(),
    };
    CollectorConfig {
        id: crate::config::collector_id(&hpa, &metric, 1),
        output: Output {
            target: OutputTarget::Pods {
                namespace: "shop".into(),
                metric: "m".into(),
            },
            per_replica: false,
            weight_percent: None,
        },
        hpa,
        metric,
        interval: Duration::from_secs(1),
        source: Source::PodsJsonPath(PodsJsonPath {
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
            json: JsonPathSpec {
                json_key: "$.x".into(),
                aggregator: None,
            },
            timeouts: timeouts(),
            min_pod_ready_age: Duration::ZERO,
        }),
    }
}

fn sync(poller: &Poller, config: CollectorConfig) {
    let hpa = config.hpa.clone();
    poller.sync_hpa(
        HpaCollectors {
            hpa,
            configs: vec![config],
            errors: Vec::new(),
            adjusted: Vec::new(),
        },
        Some("uid".into()),
        None,
    );
}

/// Polls `done` every 50 ms; panics with `what` after a minute (a hang guard, not a timing
/// assertion).
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

fn external_values(store: &MetricStore, namespace: &str, now: Timestamp) -> usize {
    let q = crate::store::ExternalQuery {
        namespace: namespace.into(),
        metric: "m".into(),
        selector: Default::default(),
    };
    store.external(&q, now).len()
}

#[tokio::test]
async fn a_refused_target_gets_no_request_and_its_hpa_a_clear_event_while_others_are_served() {
    let (target, target_hits) = serve(Reply::Json(r#"{"x": 1}"#.into())).await;
    let (pod, _) = serve(Reply::Json(r#"{"x": 2}"#.into())).await;
    let long_ago = Timestamp::from_secs(1_000_000_000);
    let cluster = FakeCluster {
        pods: vec![(ready_pod("web-1", long_ago), pod.port())],
        ..FakeCluster::default()
    };
    // Default settings: the default outbound policy, which refuses loopback.
    let backends = Backends::new(Arc::new(cluster), &CollectionSettings::default()).unwrap();
    let (poller, store, events) = poller_with(Arc::new(backends), 8, 8);
    let url = format!("http://{target}/metrics");
    sync(
        &poller,
        url_config("shop", "nosy", url, Duration::from_secs(1)),
    );
    sync(&poller, pods_config("web"));

    let clock = tidal_runtime::Clock::system();
    eventually(
        "a Warning on the nosy HPA and a value for the other",
        || {
            let warned = events
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|w| w.hpa.name == "nosy");
            let pods = crate::store::CustomQuery {
                namespace: Some("shop".into()),
                resource: "pods".into(),
                objects: crate::store::ObjectSelector::Named("web-1".into()),
                metric: "m".into(),
                metric_selector: Default::default(),
            };
            warned && !store.custom(&pods, clock.now()).is_empty()
        },
    )
    .await;
    let warnings = events.0.lock().unwrap().clone();
    let warning = warnings.iter().find(|w| w.hpa.name == "nosy").unwrap();
    assert_eq!(warning.reason, REASON_COLLECTION);
    assert_eq!(warning.uid.as_deref(), Some("uid"));
    assert!(
        warning
            .note
            .contains("is not allowed: loopback addresses are not allowed"),
        "{}",
        warning.note
    );
    assert!(
        warnings.iter().all(|w| w.hpa.name == "nosy"),
        "{warnings:?}"
    );
    assert_eq!(
        target_hits.load(Ordering::SeqCst),
        0,
        "the target got no request"
    );
    assert_eq!(external_values(&store, "shop", clock.now()), 0);
}

#[tokio::test]
async fn a_namespace_of_tar_pits_does_not_starve_another_namespace() {
    let mut pits: Vec<SocketAddr> = Vec::new();
    for _ in 0..100 {
        pits.push(tar_pit().await.0);
    }
    let (quiet, quiet_hits) = serve(Reply::Json(r#"{"x": 7}"#.into())).await;
    let settings = CollectionSettings {
        outbound: allow_loopback(),
        ..CollectionSettings::default()
    };
    let backends = Backends::new(Arc::new(FakeCluster::default()), &settings).unwrap();
    let (poller, store, _events) = poller_with(Arc::new(backends), 8, 4);
    let interval = Duration::from_secs(2);
    for (i, pit) in pits.iter().enumerate() {
        let url = format!("http://{pit}/metrics");
        sync(
            &poller,
            url_config("noisy", &format!("pit-{i}"), url, interval),
        );
    }
    let url = format!("http://{quiet}/metrics");
    let quiet_config = url_config("quiet", "app", url, interval);
    let quiet_id = quiet_config.id.clone();
    sync(&poller, quiet_config);

    let mut most_noisy = 0;
    eventually("three collections of the quiet namespace", || {
        most_noisy = most_noisy.max(poller.shared.slots.running("noisy").1);
        quiet_hits.load(Ordering::SeqCst) >= 3
    })
    .await;
    let status = poller.status(&quiet_id).unwrap();
    assert_eq!(status.consecutive_failures, 0, "{:?}", status.last_error);
    let clock = tidal_runtime::Clock::system();
    assert_eq!(
        external_values(&store, "quiet", clock.now()),
        1,
        "fresh value"
    );
    assert!(most_noisy <= 4, "noisy held {most_noisy} slots");
}

#[tokio::test(start_paused = true)]
async fn values_never_live_longer_than_the_ttl_cap() {
    let h = harness(8);
    let forever = Duration::from_secs(1000 * 24 * 3600);
    h.poller
        .sync_hpa(built("a", vec![config("a", "m", "q", forever)]), None, None);
    tokio::time::sleep(forever).await;
    let snapshot = h.store.snapshot();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].ttl, MAX_TTL);
}

#[tokio::test(start_paused = true)]
async fn event_notes_fit_the_events_api() {
    let h = harness(8);
    *h.factory.default.lock().unwrap() = Some(Behaviour::Fail);
    // The metric's name is part of the note.
    let long_name = "m".repeat(3000);
    h.poller.sync_hpa(
        built("a", vec![config("a", &long_name, "q", MINUTE)]),
        None,
        None,
    );
    tokio::time::sleep(2 * MINUTE).await;
    let events = h.events.0.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].note.len() <= 1000, "{}", events[0].note.len());
    assert!(events[0].note.ends_with("..."));
}
