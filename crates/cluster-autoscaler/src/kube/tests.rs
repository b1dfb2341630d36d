//! The cluster source fed through reflector stores by hand, and the cluster actions asserted
//! through kube's mocked service: method, path and body of every API call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use k8s_openapi::api::core::v1::Node;
use kube::client::Body;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde_json::{Value, json};
use tidal_core::Timestamp;
use tower_test::mock::{self, Handle, SendResponse};

use super::fixtures::*;
use super::*;
use crate::ports::{
    ClusterActions, ClusterError, ClusterSource, Event, EventReason, ObjectRef, PodPhase,
    StatusReport,
};

type MockHandle = Handle<Request<Body>, Response<Body>>;

fn now() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn list<K>(writer: &mut Writer<K>, objects: Vec<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    writer.apply_watcher_event(&watcher::Event::Init);
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(o));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
}

fn cluster() -> (KubeCluster, Writers, MockHandle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = ::kube::Client::new(service, "default");
    let (stores, writers) = Stores::new();
    let cluster = KubeCluster::from_stores(
        client,
        stores,
        Arc::new(WatchHealth::default()),
        StatusLocation::default(),
        Some("replica-0".into()),
    )
    .with_clock(tidal_runtime::Clock::manual(now()));
    (cluster, writers, handle)
}

fn list_all(w: &mut Writers) {
    list(
        &mut w.nodes,
        vec![node("n2", &[("cpu", "2")]), node("n1", &[("cpu", "2")])],
    );
    list(
        &mut w.pods,
        vec![
            pod("web", "b")
                .container("a", &[("cpu", "100m")])
                .node("n1")
                .build(),
            pod("web", "a")
                .container("a", &[("cpu", "200m")])
                .unschedulable_since(100)
                .build(),
            pod("db", "pg-0")
                .container("a", &[])
                .volume(claim_volume("data-pg-0"))
                .build(),
        ],
    );
    list(
        &mut w.pdbs,
        vec![
            pdb("web", "web", Some("web"), 1),
            pdb("web", "empty", None, 1),
        ],
    );
    list(&mut w.claims, vec![claim("db", "data-pg-0", Some("pv-1"))]);
    list(
        &mut w.volumes,
        vec![volume_in_zone("pv-1", "eu-central-1b")],
    );
}

#[tokio::test]
async fn snapshots_wait_for_every_list_then_convert_everything() {
    let (cluster, mut w, _h) = cluster();
    list(&mut w.nodes, vec![]);
    match cluster.snapshot() {
        Err(ClusterError::NotReady(why)) => {
            assert!(
                why.contains("pods") && why.contains("persistentvolumes") && !why.contains("nodes"),
                "{why}"
            )
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    list_all(&mut w);
    cluster.wait_until_ready().await.unwrap();
    let s = cluster.snapshot().unwrap();
    assert_eq!(s.taken_at, now());
    assert_eq!(
        s.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["n1", "n2"]
    );
    let pods: Vec<_> = s
        .pods
        .iter()
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    assert_eq!(pods, ["db/pg-0", "web/a", "web/b"], "sorted");
    assert_eq!(s.pods[0].spec.volume_zone.as_deref(), Some("eu-central-1b"));
    assert_eq!(
        s.pods[1].unschedulable_since,
        Some(Timestamp::from_secs(100))
    );
    assert_eq!(s.pods[2].phase, PodPhase::Running);
    assert_eq!(s.pdbs.len(), 1, "the selector-less budget covers nothing");
}

#[tokio::test]
async fn failing_watches_age_the_snapshot() {
    let (cluster, mut w, _h) = cluster();
    list_all(&mut w);
    cluster
        .health
        .failed(WatchedKind::Pods, Timestamp::from_secs(1_799_999_900));
    assert_eq!(
        cluster.snapshot().unwrap().taken_at,
        Timestamp::from_secs(1_799_999_900)
    );
    cluster.health.working(WatchedKind::Pods);
    assert_eq!(cluster.snapshot().unwrap().taken_at, now());
}

#[tokio::test]
async fn thirty_thousand_pods_are_converted_once_and_then_only_when_they_change() {
    let (cluster, mut w, _h) = cluster();
    list_all(&mut w);
    let pods: Vec<_> = (0..30_000)
        .map(|i| {
            pod("load", &format!("p-{i:05}"))
                .container("a", &[("cpu", "100m"), ("memory", "128Mi")])
                .node("n1")
                .build()
        })
        .collect();
    let changed = pods[7].clone();
    list(&mut w.pods, pods);

    assert_eq!(cluster.snapshot().unwrap().pods.len(), 30_000);
    assert_eq!(cluster.pod_conversions(), 30_000);
    let again = cluster.snapshot().unwrap();
    assert_eq!(
        cluster.pod_conversions(),
        30_000,
        "nothing changed, nothing converted"
    );

    let mut updated = changed.clone();
    updated.metadata.resource_version = Some("2".into());
    updated.spec.as_mut().unwrap().containers[0]
        .resources
        .as_mut()
        .unwrap()
        .requests
        .as_mut()
        .unwrap()
        .insert(
            "cpu".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("300m".into()),
        );
    w.pods.apply_watcher_event(&watcher::Event::Apply(updated));
    w.pods
        .apply_watcher_event(&watcher::Event::Delete(pod("load", "p-00008").build()));
    let after = cluster.snapshot().unwrap();
    assert_eq!(cluster.pod_conversions(), 30_001);
    assert_eq!(after.pods.len(), 29_999);
    assert_eq!(after.pods[7].spec.requests.cpu_millis, 300);
    assert!(
        Arc::ptr_eq(&again.pods[0], &after.pods[0]),
        "unchanged pods are shared, not copied"
    );
}

#[tokio::test]
async fn malformed_pods_are_skipped_counted_and_reported_once() {
    let (cluster, mut w, _h) = cluster();
    list_all(&mut w);
    let bad = pod("web", "broken")
        .container("app", &[("cpu", "a lot")])
        .node("n2")
        .build();
    w.pods.apply_watcher_event(&watcher::Event::Apply(bad));
    w.nodes
        .apply_watcher_event(&watcher::Event::Apply(node("n3", &[("cpu", "lots")])));
    let s = cluster.snapshot().unwrap();
    assert!(s.pods.iter().all(|p| p.name != "broken"));
    assert_eq!(s.pods.len(), 3);
    assert_eq!(cluster.skipped_objects().pods, 1);
    assert_eq!(cluster.skipped_objects().nodes, 1);
    // What they touch is kept: n2 (a pod there is unreadable) and n3's instance.
    assert_eq!(
        s.unreadable.nodes_with_pods.iter().collect::<Vec<_>>(),
        ["n2"]
    );
    assert_eq!(
        s.unreadable.node_instances.iter().collect::<Vec<_>>(),
        ["i-n3"]
    );
    let events = cluster.take_invalid_pod_events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        e.object,
        ObjectRef::Pod {
            namespace: "web".into(),
            name: "broken".into()
        }
    );
    assert!(e.warning && e.reason == EventReason::InvalidPod);
    assert!(
        e.message
            .contains("spec.containers[app].resources.requests.cpu"),
        "{}",
        e.message
    );
    cluster.snapshot().unwrap();
    assert!(
        cluster.take_invalid_pod_events().is_empty(),
        "same version: no second event"
    );
    assert_eq!(cluster.skipped_objects().pods, 1, "still skipped");
}

// ---- actions through the mocked API ----

async fn next(
    handle: &mut MockHandle,
    method: Method,
    path: &str,
) -> (Request<Body>, Value, SendResponse<Response<Body>>) {
    let (request, send) = handle
        .next_request()
        .await
        .expect("the client made no further request");
    assert_eq!(request.method(), method, "{}", request.uri());
    assert_eq!(request.uri().path(), path);
    let (parts, body) = request.into_parts();
    let bytes = body.collect_bytes().await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (Request::from_parts(parts, Body::empty()), json, send)
}

fn respond(send: SendResponse<Response<Body>>, status: u16, body: &Value) {
    let response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    send.send_response(response);
}

fn status(code: u16, reason: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": if code < 300 { "Success" } else { "Failure" },
            "reason": reason, "message": reason, "code": code })
}

/// Drops the cluster (every client clone) and checks the API saw no further request.
async fn no_more_requests(cluster: KubeCluster, mut handle: MockHandle) {
    drop(cluster);
    assert!(
        handle.next_request().await.is_none(),
        "unexpected extra request"
    );
}

#[tokio::test]
async fn eviction_posts_to_the_eviction_subresource_and_maps_budget_refusals() {
    let (cluster, _w, mut handle) = cluster();
    let server = tokio::spawn(async move {
        let (_, body, send) = next(
            &mut handle,
            Method::POST,
            "/api/v1/namespaces/ns/pods/p/eviction",
        )
        .await;
        assert_eq!(body["metadata"]["name"], "p");
        respond(send, 201, &status(201, ""));
        let (_, _, send) = next(
            &mut handle,
            Method::POST,
            "/api/v1/namespaces/ns/pods/q/eviction",
        )
        .await;
        respond(send, 429, &status(429, "TooManyRequests"));
        let (_, _, send) = next(
            &mut handle,
            Method::POST,
            "/api/v1/namespaces/ns/pods/gone/eviction",
        )
        .await;
        respond(send, 404, &status(404, "NotFound"));
        handle
    });
    cluster.evict_pod("ns", "p").await.unwrap();
    assert!(
        matches!(cluster.evict_pod("ns", "q").await, Err(ClusterError::EvictionBlocked { ref name, .. }) if name == "q")
    );
    assert!(matches!(
        cluster.evict_pod("ns", "gone").await,
        Err(ClusterError::NotFound { .. })
    ));
    no_more_requests(cluster, server.await.unwrap()).await;
}

#[tokio::test]
async fn pods_on_node_are_listed_live_by_field_selector_and_unreadable_ones_are_an_error() {
    let (cluster, _w, mut handle) = cluster();
    let server = tokio::spawn(async move {
        for items in [
            vec![pod("web", "p").container("a", &[]).node("n1").build()],
            vec![
                pod("web", "bad")
                    .container("a", &[("cpu", "x")])
                    .node("n1")
                    .build(),
            ],
        ] {
            let (request, _, send) = next(&mut handle, Method::GET, "/api/v1/pods").await;
            let query = request.uri().query().unwrap_or_default().to_owned();
            assert!(
                query.contains("fieldSelector=spec.nodeName%3Dn1"),
                "{query}"
            );
            let list =
                json!({ "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items });
            respond(send, 200, &list);
        }
        handle
    });
    let pods = cluster.pods_on_node("n1").await.unwrap();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].node_name.as_deref(), Some("n1"));
    assert!(matches!(
        cluster.pods_on_node("n1").await,
        Err(ClusterError::Unreadable { ref object, .. }) if object == "pod web/bad"
    ));
    no_more_requests(cluster, server.await.unwrap()).await;
}

fn node_json(node: &Node) -> Value {
    serde_json::to_value(node).unwrap()
}

#[tokio::test]
async fn marking_taints_and_cordons_with_the_version_it_read() {
    let (cluster, _w, mut handle) = cluster();
    let n = node("n1", &[("cpu", "2")]);
    let server = tokio::spawn(async move {
        let (_, _, send) = next(&mut handle, Method::GET, "/api/v1/nodes/n1").await;
        respond(
            send,
            200,
            &node_json(&with_taint(n, "dedicated", "web", "NoSchedule")),
        );
        let (req, body, send) = next(&mut handle, Method::PATCH, "/api/v1/nodes/n1").await;
        assert_eq!(
            req.headers()["content-type"],
            "application/merge-patch+json"
        );
        assert_eq!(body["metadata"]["resourceVersion"], "1");
        assert_eq!(
            body["metadata"]["annotations"][CORDONED_BY_ANNOTATION],
            "true"
        );
        assert_eq!(body["spec"]["unschedulable"], true);
        assert_eq!(
            body["spec"]["taints"],
            json!([
                { "key": "dedicated", "value": "web", "effect": "NoSchedule" },
                { "key": "ToBeDeletedByClusterAutoscaler", "value": "1800000000", "effect": "NoSchedule" }
            ])
        );
        respond(send, 200, &body);
        handle
    });
    cluster.mark_for_deletion("n1").await.unwrap();
    no_more_requests(cluster, server.await.unwrap()).await;
}

#[tokio::test]
async fn marking_retries_a_conflict_and_skips_a_node_already_marked() {
    let (cluster, _w, mut handle) = cluster();
    let fresh = node("n1", &[("cpu", "2")]);
    let mut marked = with_taint(
        fresh.clone(),
        "ToBeDeletedByClusterAutoscaler",
        "1",
        "NoSchedule",
    );
    marked.spec.as_mut().unwrap().unschedulable = Some(true);
    let server = tokio::spawn(async move {
        let (_, _, send) = next(&mut handle, Method::GET, "/api/v1/nodes/n1").await;
        respond(send, 200, &node_json(&fresh));
        let (_, _, send) = next(&mut handle, Method::PATCH, "/api/v1/nodes/n1").await;
        respond(send, 409, &status(409, "Conflict"));
        let mut newer = fresh.clone();
        newer.metadata.resource_version = Some("2".into());
        let (_, _, send) = next(&mut handle, Method::GET, "/api/v1/nodes/n1").await;
        respond(send, 200, &node_json(&newer));
        let (_, body, send) = next(&mut handle, Method::PATCH, "/api/v1/nodes/n1").await;
        assert_eq!(body["metadata"]["resourceVersion"], "2");
        respond(send, 200, &node_json(&newer));
        // Second call: the node is already marked, so only a read.
        let (_, _, send) = next(&mut handle, Method::GET, "/api/v1/nodes/n1").await;
        respond(send, 200, &node_json(&marked));
        handle
    });
    cluster.mark_for_deletion("n1").await.unwrap();
    cluster.mark_for_deletion("n1").await.unwrap();
    no_more_requests(cluster, server.await.unwrap()).await;
}

#[tokio::test]
async fn unmarking_uncordons_only_nodes_the_autoscaler_cordoned() {
    let (cluster, _w, mut handle) = cluster();
    let mut ours = with_taint(
        node("n1", &[]),
        "ToBeDeletedByClusterAutoscaler",
        "1",
        "NoSchedule",
    );
    ours.spec.as_mut().unwrap().unschedulable = Some(true);
    ours.metadata.annotations =
        Some([(CORDONED_BY_ANNOTATION.to_owned(), "true".to_owned())].into());
    let mut operators = ours.clone();
    operators.metadata.name = Some("n2".into());
    operators.metadata.annotations = None;
    let server = tokio::spawn(async move {
        let (_, _, send) = next(&mut handle, Method::GET, "/api/v1/nodes/n1").await;
        respond(send, 200, &node_json(&ours));
        let (_, body, send) = next(&mut handle, Method::PATCH, "/api/v1/nodes/n1").await;
        assert_eq!(body["spec"]["taints"], json!([]));
        assert_eq!(body["spec"]["unschedulable"], false);
        assert_eq!(
            body["metadata"]["annotations"][CORDONED_BY_ANNOTATION],
            Value::Null
        );
        assert!(
            body["metadata"]["annotations"]
                .as_object()
                .unwrap()
                .contains_key(CORDONED_BY_ANNOTATION),
            "null deletes"
        );
        respond(send, 200, &node_json(&ours));
        let (_, _, send) = next(&mut handle, Method::GET, "/api/v1/nodes/n2").await;
        respond(send, 200, &node_json(&operators));
        let (_, body, send) = next(&mut handle, Method::PATCH, "/api/v1/nodes/n2").await;
        assert_eq!(body["spec"]["taints"], json!([]));
        assert!(
            body["spec"].get("unschedulable").is_none(),
            "an operator's cordon stays: {body}"
        );
        respond(send, 200, &node_json(&operators));
        handle
    });
    cluster.unmark_for_deletion("n1").await.unwrap();
    cluster.unmark_for_deletion("n2").await.unwrap();
    no_more_requests(cluster, server.await.unwrap()).await;
}

#[tokio::test]
async fn events_are_published_by_the_autoscaler_about_the_object() {
    let (cluster, mut w, mut handle) = cluster();
    list_all(&mut w);
    let server = tokio::spawn(async move {
        let (_, body, send) = next(
            &mut handle,
            Method::POST,
            "/apis/events.k8s.io/v1/namespaces/web/events",
        )
        .await;
        assert_eq!(body["reason"], "NotTriggerScaleUp");
        assert_eq!(body["type"], "Warning");
        assert_eq!(
            body["note"],
            "pod didn't trigger scale-up: 2 node groups lack nvidia.com/gpu"
        );
        assert_eq!(body["reportingController"], "tidal-cluster-autoscaler");
        assert_eq!(body["reportingInstance"], "replica-0");
        assert_eq!(body["regarding"]["kind"], "Pod");
        assert_eq!(body["regarding"]["name"], "a");
        assert_eq!(body["regarding"]["uid"], "uid-web-a");
        respond(send, 201, &body);
        let (_, body, send) = next(
            &mut handle,
            Method::POST,
            "/apis/events.k8s.io/v1/namespaces/default/events",
        )
        .await;
        assert_eq!(
            (body["reason"].as_str(), body["type"].as_str()),
            (Some("ScaleDown"), Some("Normal"))
        );
        assert_eq!(body["regarding"]["kind"], "Node");
        assert_eq!(body["regarding"]["uid"], "uid-n1");
        respond(send, 201, &body);
        handle
    });
    let pod_event = Event {
        object: ObjectRef::Pod {
            namespace: "web".into(),
            name: "a".into(),
        },
        warning: true,
        reason: EventReason::NotTriggerScaleUp,
        message: "pod didn't trigger scale-up: 2 node groups lack nvidia.com/gpu".into(),
    };
    cluster.record_event(&pod_event).await.unwrap();
    let node_event = Event {
        object: ObjectRef::Node { name: "n1".into() },
        warning: false,
        reason: EventReason::ScaleDown,
        message: "removing empty node".into(),
    };
    cluster.record_event(&node_event).await.unwrap();
    no_more_requests(cluster, server.await.unwrap()).await;
}

#[tokio::test]
async fn status_is_server_side_applied_to_the_status_configmap() {
    let (cluster, _w, mut handle) = cluster();
    let server = tokio::spawn(async move {
        let (req, body, send) = next(
            &mut handle,
            Method::PATCH,
            "/api/v1/namespaces/kube-system/configmaps/cluster-autoscaler-status",
        )
        .await;
        assert_eq!(
            req.headers()["content-type"],
            "application/apply-patch+yaml"
        );
        let query = req.uri().query().unwrap_or_default().to_owned();
        assert!(
            query.contains("fieldManager=tidal-cluster-autoscaler") && query.contains("force=true"),
            "{query}"
        );
        assert_eq!(body["kind"], "ConfigMap");
        assert_eq!(body["metadata"]["name"], "cluster-autoscaler-status");
        let text = body["data"]["status"].as_str().unwrap();
        assert!(text.contains("Unschedulable pods: 4"), "{text}");
        respond(send, 200, &body);
        handle
    });
    let report = StatusReport {
        time: now(),
        unschedulable_pods: 4,
        ..StatusReport::default()
    };
    cluster.write_status(&report).await.unwrap();
    no_more_requests(cluster, server.await.unwrap()).await;
}
