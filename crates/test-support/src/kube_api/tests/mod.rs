//! The stand-in over raw HTTP: what a client sends and what it gets back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};

use super::KubeApi;

mod access_review;
mod client;

/// Bounds a wait so a broken stream fails the test instead of hanging it.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn pod(name: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": phase},
    })
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(api: &KubeApi) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: api.url(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req
                .header("content-type", content_type)
                .body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        (code, resp.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, "", None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, "application/json", Some(body))
            .await
    }

    async fn patch(&self, path: &str, content_type: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, content_type, Some(body))
            .await
    }
}

/// Reads whole lines of a watch response.
struct EventReader {
    resp: reqwest::Response,
    buf: String,
}

impl EventReader {
    async fn open(api: &KubeApi, query: &str) -> Self {
        let url = format!("{}/api/v1/pods?watch=true&{query}", api.url());
        let resp = reqwest::get(url).await.unwrap();
        assert_eq!(resp.status(), 200);
        Self {
            resp,
            buf: String::new(),
        }
    }

    /// The next event, or `None` when the server ended the stream.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buf.find('\n') {
                let line: String = self.buf.drain(..=end).collect();
                return Some(serde_json::from_str(&line).unwrap());
            }
            let chunk = tokio::time::timeout(HANG_GUARD, self.resp.chunk())
                .await
                .expect("a watch event or the end of the stream")
                .unwrap()?;
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test]
async fn list_then_watch_from_its_resource_version_sees_a_later_modification() {
    let api = KubeApi::start().await.unwrap();
    api.put(pod("a", "Pending")).unwrap();
    let http = Http::new(&api);

    let (code, list) = http.get("/api/v1/pods").await;
    assert_eq!(code, 200);
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rv, "1");

    let mut events =
        EventReader::open(&api, &format!("resourceVersion={rv}&timeoutSeconds=30")).await;
    let patch = json!({"status": {"phase": "Running"}});
    let (code, patched) = http
        .patch(
            "/api/v1/namespaces/default/pods/a",
            "application/merge-patch+json",
            patch,
        )
        .await;
    assert_eq!(code, 200);
    let event = events.next().await.unwrap();
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["status"]["phase"], "Running");
    assert_eq!(event["object"]["metadata"]["resourceVersion"], "2");
    assert_eq!(patched["metadata"]["resourceVersion"], "2");

    api.put(pod("b", "Pending")).unwrap();
    let event = events.next().await.unwrap();
    assert_eq!(
        (
            event["type"].as_str(),
            event["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("b"))
    );
}

#[tokio::test]
async fn watches_filter_by_selector_and_end_at_their_timeout_with_a_bookmark() {
    let api = KubeApi::start().await.unwrap();
    api.put(pod("a", "Running")).unwrap();
    let query = "resourceVersion=0&fieldSelector=status.phase%21%3DSucceeded&allowWatchBookmarks=true&timeoutSeconds=1";
    let mut events = EventReader::open(&api, query).await;
    let first = events.next().await.unwrap();
    assert_eq!(
        first["type"], "ADDED",
        "resourceVersion 0 starts with the current objects"
    );
    api.put(pod("a", "Succeeded")).unwrap();
    let left = events.next().await.unwrap();
    assert_eq!(
        left["type"], "DELETED",
        "leaving the selector reads as a deletion"
    );
    let bookmark = events.next().await.unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "Pod");
    assert_eq!(bookmark["object"]["metadata"]["resourceVersion"], "2");
    assert!(
        events.next().await.is_none(),
        "the stream ends after timeoutSeconds"
    );
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_gets_410_expired() {
    let api = KubeApi::start().await.unwrap();
    api.put(pod("a", "Pending")).unwrap();
    api.put(pod("a", "Running")).unwrap();
    api.compact();
    let mut events = EventReader::open(&api, "resourceVersion=1").await;
    let error = events.next().await.unwrap();
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    assert!(events.next().await.is_none());

    // From the current version a watch works.
    let mut events = EventReader::open(&api, "resourceVersion=2&timeoutSeconds=30").await;
    api.put(pod("a", "Failed")).unwrap();
    assert_eq!(events.next().await.unwrap()["type"], "MODIFIED");
}

#[tokio::test]
async fn create_names_generated_objects_and_refuses_a_taken_name() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}});
    let (code, created) = http
        .post("/api/v1/namespaces/kube-system/configmaps", cm.clone())
        .await;
    assert_eq!(code, 201);
    assert_eq!(created["metadata"]["namespace"], "kube-system");
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let (code, status) = http
        .post("/api/v1/namespaces/kube-system/configmaps", cm)
        .await;
    assert_eq!(code, 409);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "AlreadyExists");

    let generated = json!({"metadata": {"generateName": "ev-"}, "reason": "Test"});
    let (code, ev) = http
        .post(
            "/apis/events.k8s.io/v1/namespaces/default/events",
            generated,
        )
        .await;
    assert_eq!(code, 201);
    let name = ev["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("ev-") && name.len() == 8, "{name}");
    assert_eq!(
        (ev["kind"].as_str(), ev["apiVersion"].as_str()),
        (Some("Event"), Some("events.k8s.io/v1"))
    );
    assert!(
        api.get("events.k8s.io/v1", "Event", Some("default"), name)
            .is_some()
    );

    let (code, status) = http
        .post("/api/v1/namespaces/default/configmaps", json!({"data": {}}))
        .await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
    let (code, _) = http
        .post(
            "/api/v1/namespaces/default/nodes",
            json!({"metadata": {"name": "n"}}),
        )
        .await;
    assert_eq!(code, 404, "nodes are cluster-scoped");
}

#[tokio::test]
async fn patches_merge_remove_null_fields_and_check_the_resource_version() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "annotations": {"a": "1", "b": "2"}},
        "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}});
    let rv = api.put(node).unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = "/api/v1/nodes/n1";

    let patch = json!({"metadata": {"resourceVersion": rv, "annotations": {"a": null}},
        "spec": {"unschedulable": true, "taints": []}});
    let (code, node) = http
        .patch(
            path,
            "application/strategic-merge-patch+json",
            patch.clone(),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(node["metadata"]["annotations"], json!({"b": "2"}));
    assert_eq!(node["spec"], json!({"unschedulable": true, "taints": []}));

    let (code, status) = http
        .patch(path, "application/merge-patch+json", patch)
        .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (409, Some("Conflict")),
        "stale resourceVersion"
    );

    let ops = json!([{"op": "replace", "path": "/spec/unschedulable", "value": false}]);
    let (code, node) = http.patch(path, "application/json-patch+json", ops).await;
    assert_eq!(
        (code, node["spec"]["unschedulable"].as_bool()),
        (200, Some(false))
    );

    let (code, _) = http
        .patch(
            "/api/v1/nodes/missing",
            "application/merge-patch+json",
            json!({}),
        )
        .await;
    assert_eq!(code, 404);
    let (code, _) = http.patch(path, "text/plain", json!({})).await;
    assert_eq!(code, 415);
}

#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let path = "/api/v1/namespaces/kube-system/configmaps/status?fieldManager=test&force=true";
    let apply = |data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "status", "namespace": "kube-system"}, "data": data})
    };
    let (code, cm) = http
        .patch(
            path,
            "application/apply-patch+yaml",
            apply(json!({"a": "1"})),
        )
        .await;
    assert_eq!((code, cm["data"].clone()), (201, json!({"a": "1"})));
    let (code, cm) = http
        .patch(
            path,
            "application/apply-patch+yaml",
            apply(json!({"b": "2"})),
        )
        .await;
    assert_eq!(
        (code, cm["data"].clone()),
        (200, json!({"a": "1", "b": "2"}))
    );

    let no_manager = "/api/v1/namespaces/kube-system/configmaps/status";
    let (code, _) = http
        .patch(no_manager, "application/apply-patch+yaml", apply(json!({})))
        .await;
    assert_eq!(code, 400, "apply needs a field manager");
}

#[tokio::test]
async fn eviction_deletes_the_pod_unless_refused() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    api.put(pod("a", "Running")).unwrap();
    api.put(pod("b", "Running")).unwrap();
    let eviction =
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}});

    let (code, status) = http
        .post(
            "/api/v1/namespaces/default/pods/a/eviction",
            eviction.clone(),
        )
        .await;
    assert_eq!((code, status["status"].as_str()), (201, Some("Success")));
    assert!(api.get("v1", "Pod", Some("default"), "a").is_none());

    api.refuse_evictions(true);
    let (code, status) = http
        .post(
            "/api/v1/namespaces/default/pods/b/eviction",
            eviction.clone(),
        )
        .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (429, Some("TooManyRequests"))
    );
    assert!(api.get("v1", "Pod", Some("default"), "b").is_some());

    let (code, _) = http
        .post("/api/v1/namespaces/default/pods/gone/eviction", eviction)
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn unknown_paths_and_objects_answer_404_status_and_requests_are_logged() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let (code, status) = http.get("/api/v1/namespaces/default/pods/nope").await;
    assert_eq!(code, 404);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NotFound");
    let (code, _) = http.get("/apis").await;
    assert_eq!(code, 404, "discovery is not served");
    assert_eq!(
        api.requests(),
        ["GET /api/v1/namespaces/default/pods/nope", "GET /apis"]
    );
    let err = api
        .put(json!({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}))
        .unwrap_err();
    assert!(err.to_string().contains("Widget"), "{err}");
}

#[tokio::test]
async fn replace_and_delete_check_preconditions() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let stored = api.put(pod("a", "Pending")).unwrap();
    let path = "/api/v1/namespaces/default/pods/a";
    let mut stale = stored.clone();
    stale["metadata"]["resourceVersion"] = json!("999");
    let (code, _) = http
        .send(reqwest::Method::PUT, path, "application/json", Some(stale))
        .await;
    assert_eq!(code, 409);
    let (code, replaced) = http
        .send(reqwest::Method::PUT, path, "application/json", Some(stored))
        .await;
    assert_eq!(code, 200);

    let wrong = json!({"preconditions": {"uid": "not-it"}});
    let (code, _) = http
        .send(
            reqwest::Method::DELETE,
            path,
            "application/json",
            Some(wrong),
        )
        .await;
    assert_eq!(code, 409);
    let (code, gone) = http
        .send(reqwest::Method::DELETE, path, "application/json", None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(gone["metadata"]["uid"], replaced["metadata"]["uid"]);
    assert!(api.list("v1", "Pod", None).is_empty());
}

#[tokio::test]
async fn the_kubeconfig_points_at_the_server() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = api.kubeconfig(dir.path()).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(&format!("server: {}", api.url())), "{text}");
    assert!(api.url().starts_with("http://127.0.0.1:"));
}
