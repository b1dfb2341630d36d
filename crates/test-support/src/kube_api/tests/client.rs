//! The stand-in driven by a real `kube::Client`: typed calls, a reflector, the event recorder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    DeleteParams, EvictParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

use crate::kube_api::KubeApi;

const HANG_GUARD: Duration = Duration::from_secs(20);

fn pod(name: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": phase},
    })
}

/// A client configured the way a binary is: from the kubeconfig the stand-in writes.
async fn client(api: &KubeApi, dir: &tempfile::TempDir) -> Client {
    let kubeconfig = Kubeconfig::read_from(api.kubeconfig(dir.path()).unwrap()).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .unwrap();
    // kube retries 429 answers up to 15 times with exponential backoff (minutes in all, as a
    // real server sends a refused eviction without Retry-After): the refusal must come back now.
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

/// Polls `check` until it holds; fails after [`HANG_GUARD`] with `what`.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(HANG_GUARD, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "never happened: {what}");
}

#[tokio::test]
async fn a_reflector_lists_with_a_field_selector_and_follows_changes() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    api.put(pod("a", "Pending")).unwrap();
    api.put(pod("done", "Succeeded")).unwrap();
    let pods: Api<Pod> = Api::all(client(&api, &dir).await);
    let config = watcher::Config::default().fields("status.phase!=Succeeded,status.phase!=Failed");
    let (store, writer) = reflector::store();
    let stream = watcher(pods, config)
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    let task = tokio::spawn(stream.for_each(|_| async {}));

    tokio::time::timeout(HANG_GUARD, store.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    let names = |s: &reflector::Store<Pod>| {
        let mut n: Vec<String> = s.state().iter().map(|p| p.name_any()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&store), ["a"]);

    api.put(pod("b", "Pending")).unwrap();
    eventually("b is added", || names(&store) == ["a", "b"]).await;
    api.put(pod("a", "Failed")).unwrap();
    eventually("a leaves the selector", || names(&store) == ["b"]).await;
    let b = store.get(&ObjectRef::new("b").within("default")).unwrap();
    assert_eq!(
        b.resource_version(),
        api.get("v1", "Pod", Some("default"), "b").unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_owned)
    );
    task.abort();
}

#[tokio::test]
async fn a_streaming_list_watcher_gets_the_initial_objects_then_changes() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    api.put(pod("a", "Pending")).unwrap();
    let pods: Api<Pod> = Api::all(client(&api, &dir).await);
    let (store, writer) = reflector::store();
    let config = watcher::Config::default().streaming_lists();
    let stream = watcher(pods, config).reflect(writer).applied_objects();
    let task = tokio::spawn(stream.for_each(|_| async {}));
    tokio::time::timeout(HANG_GUARD, store.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.state().len(), 1);
    api.put(pod("b", "Pending")).unwrap();
    eventually("b is added", || store.state().len() == 2).await;
    assert!(
        api.requests().iter().all(|r| r.contains("watch=true")),
        "no list call: {:?}",
        api.requests()
    );
    task.abort();
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_is_a_410_for_kube() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    api.put(pod("a", "Pending")).unwrap();
    api.put(pod("a", "Running")).unwrap();
    api.compact();
    let pods: Api<Pod> = Api::namespaced(client(&api, &dir).await, "default");
    let mut events = pods
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    let first = tokio::time::timeout(HANG_GUARD, events.try_next())
        .await
        .unwrap()
        .unwrap();
    match first {
        Some(WatchEvent::Error(status)) => assert_eq!(status.code, 410),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_calls_create_apply_evict_and_record_events() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = client(&api, &dir).await;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "one"}, "data": {"k": "v"}})).unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.uid().is_some());
    let err = cms.create(&PostParams::default(), &cm).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "status"}, "data": {"status": "ok"}});
    cms.patch(
        "status",
        &PatchParams::apply("test").force(),
        &Patch::Apply(&applied),
    )
    .await
    .unwrap();
    assert_eq!(
        cms.get("status").await.unwrap().data.unwrap()["status"],
        "ok"
    );
    cms.delete("one", &DeleteParams::default()).await.unwrap();
    assert!(cms.get_opt("one").await.unwrap().is_none());

    api.put(pod("a", "Running")).unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let a = pods.get("a").await.unwrap();
    let recorder = Recorder::new(
        client,
        Reporter {
            controller: "test".into(),
            instance: None,
        },
    );
    let event = Event {
        type_: EventType::Normal,
        reason: "Tested".into(),
        note: Some("by the stand-in".into()),
        action: "Test".into(),
        secondary: None,
    };
    recorder.publish(&event, &a.object_ref(&())).await.unwrap();
    let events = api.list("events.k8s.io/v1", "Event", Some("default"));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["reason"], "Tested");
    assert_eq!(events[0]["regarding"]["name"], "a");

    pods.evict("a", &EvictParams::default()).await.unwrap();
    assert!(pods.get_opt("a").await.unwrap().is_none());
    api.put(pod("b", "Running")).unwrap();
    api.refuse_evictions(true);
    let err = pods.evict("b", &EvictParams::default()).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 429),
        "{err:?}"
    );
}
