#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use tidal_core::Timestamp;

use super::*;
use crate::collector::CollectorFactory;
use crate::collector::{CollectError, Collected, Collector};
use crate::config::Source;
use crate::events::REASON_CONFIG;
use crate::metrics::Metrics;
use crate::poller::PollerDeps;
use crate::store::MetricStore;

fn hpa_json(name: &str, uid: &str, annotations: Value, replicas: i32) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop", "uid": uid, "resourceVersion": "101",
            "annotations": annotations},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "maxReplicas": 10,
            "metrics": [
                {"type": "External", "external": {
                    "metric": {"name": "jobs", "selector": {"matchLabels": {
                        "type": "sqs-queue-length", "queue-name": "jobs", "region": "eu-central-1"}}},
                    "target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "External", "external": {
                    "metric": {"name": "events", "selector": {"matchLabels": {"type": "prometheus"}}},
                    "target": {"type": "Value", "value": "10"}}}
            ]
        },
        "status": {"currentReplicas": replicas, "desiredReplicas": replicas}
    })
}

fn hpa(name: &str, annotations: Value, replicas: i32) -> HorizontalPodAutoscaler {
    serde_json::from_value(hpa_json(
        name,
        &format!("uid-{name}"),
        annotations,
        replicas,
    ))
    .unwrap()
}

fn settings() -> CollectionSettings {
    CollectionSettings {
        prometheus_server: Some("http://prometheus:9090".into()),
        aws_regions: vec!["eu-central-1".into()],
        ..CollectionSettings::default()
    }
}

fn good() -> Value {
    json!({"metric-config.external.events.prometheus/query": "sum(events)"})
}

fn sync_parts(action: &HpaAction) -> (&HpaCollectors, &Option<Warning>, Option<u32>) {
    match action {
        HpaAction::Sync {
            built,
            warning,
            replicas,
            ..
        } => (built, warning, *replicas),
        other => panic!("expected Sync, got {other:?}"),
    }
}

#[test]
fn builds_on_change_only_and_refreshes_replicas_otherwise() {
    let mut handler = HpaWatchHandler::new(settings());
    let actions = handler.handle(Event::Apply(hpa("web", good(), 2)));
    let (built, warning, replicas) = sync_parts(&actions[0]);
    assert_eq!(built.configs.len(), 2);
    assert!(warning.is_none());
    assert_eq!(replicas, Some(2));

    // A status update (every HPA sync) does not rebuild anything.
    let actions = handler.handle(Event::Apply(hpa("web", good(), 3)));
    assert_eq!(
        actions,
        [HpaAction::Replicas {
            hpa: hpa_key(&hpa("web", good(), 3)),
            replicas: Some(3)
        }]
    );

    // Unrelated annotations do not count as a change either.
    let mut other = good();
    other["kubectl.kubernetes.io/last-applied-configuration"] = json!("{}");
    let actions = handler.handle(Event::Apply(hpa("web", other, 3)));
    assert!(matches!(actions[0], HpaAction::Replicas { .. }));

    let mut changed = good();
    changed["metric-config.external.events.prometheus/interval"] = json!("30s");
    let actions = handler.handle(Event::Apply(hpa("web", changed, 3)));
    let (built, _, _) = sync_parts(&actions[0]);
    assert!(built.configs.iter().any(|c| c.interval.as_secs() == 30));
}

#[test]
fn config_errors_warn_once_per_change() {
    let mut handler = HpaWatchHandler::new(settings());
    let broken = json!({"metric-config.external.events.prometheus/qurey": "sum(events)"});
    let actions = handler.handle(Event::Apply(hpa("web", broken.clone(), 2)));
    let (built, warning, _) = sync_parts(&actions[0]);
    assert_eq!(built.configs.len(), 1, "the SQS metric still works");
    let warning = warning.as_ref().expect("a warning for the broken metric");
    assert_eq!(warning.reason, REASON_CONFIG);
    assert_eq!(warning.uid.as_deref(), Some("uid-web"));
    assert!(warning.note.contains("qurey"), "{}", warning.note);

    // Every loop afterwards (status updates) is quiet.
    for replicas in 3..6 {
        let actions = handler.handle(Event::Apply(hpa("web", broken.clone(), replicas)));
        assert!(matches!(actions[0], HpaAction::Replicas { .. }));
    }
    // A watch restart re-lists the same HPA: no rebuild, no warning.
    assert!(handler.handle(Event::Init).is_empty());
    let actions = handler.handle(Event::InitApply(hpa("web", broken.clone(), 5)));
    assert!(matches!(actions[0], HpaAction::Replicas { .. }));
    assert!(handler.handle(Event::InitDone).is_empty());

    // Another broken edit warns again.
    let mut still_broken = broken;
    still_broken["metric-config.external.events.prometheus/interval"] = json!("soon");
    let actions = handler.handle(Event::Apply(hpa("web", still_broken, 5)));
    assert!(sync_parts(&actions[0]).1.is_some());
}

#[test]
fn delete_and_relist_remove_hpas() {
    let mut handler = HpaWatchHandler::new(settings());
    handler.handle(Event::Apply(hpa("a", good(), 1)));
    handler.handle(Event::Apply(hpa("b", good(), 1)));
    let actions = handler.handle(Event::Delete(hpa("a", good(), 1)));
    assert_eq!(actions, [HpaAction::Remove(hpa_key(&hpa("a", good(), 1)))]);
    handler.handle(Event::Init);
    handler.handle(Event::InitApply(hpa("c", good(), 1)));
    // "b" was deleted while the watch was down.
    let actions = handler.handle(Event::InitDone);
    assert_eq!(actions, [HpaAction::Remove(hpa_key(&hpa("b", good(), 1)))]);
}

struct ConstCollector;

impl Collector for ConstCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async { Ok(Collected::Value(1.0)) })
    }
}

struct ConstFactory;

impl CollectorFactory for ConstFactory {
    fn collector_for(&self, _source: &Source) -> Result<Arc<dyn Collector>, CollectError> {
        Ok(Arc::new(ConstCollector))
    }
}

#[derive(Default)]
struct RecordedEvents(Mutex<Vec<Warning>>);

impl EventSink for RecordedEvents {
    fn warn(&self, warning: Warning) {
        self.0.lock().unwrap().push(warning);
    }
}

fn json_response(body: &Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// The real watcher against kube's mocked API service: list, then watch, then a delete.
#[tokio::test]
async fn watches_hpas_in_all_namespaces_through_the_api() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    let poller = Poller::new(PollerDeps {
        store: MetricStore::new(),
        metrics: Metrics::default(),
        factory: Arc::new(ConstFactory),
        events: Arc::new(crate::events::NoEvents),
        clock: tidal_runtime::Clock::system(),
        max_concurrent: 4,
        max_concurrent_per_namespace: 4,
    });
    let events = Arc::new(RecordedEvents::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watch = tokio::spawn(run_hpa_watch(
        client,
        poller.clone(),
        events.clone(),
        settings(),
        async {
            stop_rx.await.ok();
        },
    ));

    let broken = json!({"metric-config.external.events.prometheus/query": ""});
    let (request, send) = handle.next_request().await.expect("list request");
    assert_eq!(request.method(), http::Method::GET);
    let uri = request.uri().to_string();
    assert!(
        uri.starts_with("/apis/autoscaling/v2/horizontalpodautoscalers?"),
        "list in all namespaces: {uri}"
    );
    assert!(!uri.contains("watch=true"), "{uri}");
    send.send_response(json_response(&json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscalerList",
        "metadata": {"resourceVersion": "100"},
        "items": [hpa_json("web", "uid-web", good(), 2), hpa_json("api", "uid-api", broken, 1)]
    })));

    // The watch request comes after the listed HPAs were handled.
    let (request, send) = handle.next_request().await.expect("watch request");
    let uri = request.uri().to_string();
    assert!(
        uri.contains("watch=true") && uri.contains("resourceVersion=100"),
        "{uri}"
    );
    let ids: Vec<String> = poller
        .reports()
        .iter()
        .filter(|r| r.config_error.is_none())
        .filter_map(|r| r.id.as_ref().map(|i| i.0.clone()))
        .collect();
    assert_eq!(
        ids,
        [
            "shop/api/external/jobs",
            "shop/web/external/events",
            "shop/web/external/jobs"
        ]
    );
    assert_eq!(
        poller.query_count(),
        2,
        "both HPAs' SQS metrics share one query"
    );
    {
        let warnings = events.0.lock().unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].hpa.name, "api");
    }

    let deleted = json!({"type": "DELETED", "object": hpa_json("web", "uid-web", good(), 2)});
    let mut body = serde_json::to_vec(&deleted).unwrap();
    body.push(b'\n');
    send.send_response(Response::builder().body(Body::from(body)).unwrap());

    // The stream ended, so the watcher watches again: by then the delete was handled.
    let (_request, _send) = handle.next_request().await.expect("re-watch request");
    let remaining: Vec<String> = poller
        .reports()
        .iter()
        .filter_map(|r| r.id.as_ref().map(|i| i.0.clone()))
        .collect();
    assert_eq!(
        remaining,
        ["shop/api/external/events", "shop/api/external/jobs"]
    );
    stop_tx.send(()).unwrap();
    watch.await.unwrap();
}

#[test]
fn clamped_values_warn_once_per_change_and_are_still_collected() {
    let mut handler = HpaWatchHandler::new(settings());
    let mut eager = good();
    eager["metric-config.external.events.prometheus/interval"] = json!("1s");
    let actions = handler.handle(Event::Apply(hpa("web", eager.clone(), 2)));
    let HpaAction::Sync {
        built,
        warning,
        adjusted,
        ..
    } = &actions[0]
    else {
        panic!("expected Sync, got {:?}", actions[0])
    };
    assert!(warning.is_none(), "nothing is invalid");
    assert_eq!(built.configs.len(), 2, "both metrics are collected");
    let adjusted = adjusted
        .as_ref()
        .expect("a warning naming the clamped interval");
    assert_eq!(adjusted.reason, crate::events::REASON_ADJUSTED);
    assert!(adjusted.note.contains("interval 1s"), "{}", adjusted.note);
    let actions = handler.handle(Event::Apply(hpa("web", eager, 3)));
    assert!(
        matches!(actions[0], HpaAction::Replicas { .. }),
        "no repeat"
    );
}
