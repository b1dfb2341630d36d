//! The Kubernetes adapters against kube's mocked service, and `/readyz` against a loopback server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::Handle;

use super::*;

type MockHandle = Handle<Request<Body>, Response<Body>>;

fn mock() -> (Client, MockHandle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

fn reply(send: tower_test::mock::SendResponse<Response<Body>>, body: &Value) {
    let resp = Response::builder()
        .status(200)
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    send.send_response(resp);
}

fn node(name: &str, instance: &str, ready: bool, ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {CONTROL_PLANE_LABEL: ""}},
        "spec": {"providerID": format!("aws:///us-east-1a/{instance}")},
        "status": {
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "addresses": [{"type": "InternalIP", "address": ip}]
        }
    })
}

#[tokio::test]
async fn the_node_count_follows_every_page() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        for (page, (count, next)) in [(500, "token-1"), (120, "")].into_iter().enumerate() {
            let (req, send) = handle.next_request().await.unwrap();
            let query = req.uri().query().unwrap_or_default().to_owned();
            assert!(query.contains("limit=500"), "{query}");
            assert_eq!(query.contains("continue=token-1"), page == 1, "{query}");
            let items: Vec<Value> = (0..count)
                .map(|i| json!({"apiVersion": "v1", "kind": "PartialObjectMetadata", "metadata": {"name": format!("n{i}")}}))
                .collect();
            reply(
                send,
                &json!({"apiVersion": "v1", "kind": "PartialObjectMetadataList", "metadata": {"continue": next}, "items": items}),
            );
        }
    });
    assert_eq!(KubeNodes::new(client).node_count().await.unwrap(), 620);
    server.await.unwrap();
}

#[test]
fn ready_nodes_are_matched_to_instances_by_provider_id() {
    let nodes: Vec<Node> = [
        node("cp-1", "i-aaa", true, "10.0.0.1"),
        node("cp-2", "i-bbb", false, "10.0.0.2"),
        node("cp-3", "i-ccc", true, "10.0.0.3"),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    let ids = vec!["i-aaa".to_owned(), "i-bbb".to_owned(), "i-zzz".to_owned()];
    let ready = ready_instances(&nodes, &ids);
    assert_eq!(ready.len(), 1, "{ready:?}");
    assert_eq!(ready["i-aaa"].as_deref(), Some("10.0.0.1"));
}

/// A loopback server answering `/readyz` with `body`.
async fn readyz_server(body: &'static str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/readyz", axum::routing::get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn readyz_must_answer_ok() {
    let (client, _handle) = mock();
    let config = Config::new("http://127.0.0.1:1".parse().unwrap());
    let health = KubeNodeHealth::new(client, config, 6443, Duration::from_secs(5));
    let ok = readyz_server("ok").await;
    assert!(health.readyz(format!("http://{ok}")).await);
    let failing = readyz_server("[-]etcd failed: reason withheld\nreadyz check failed").await;
    assert!(!health.readyz(format!("http://{failing}")).await);
    let closed = tidal_test_support::free_port().unwrap();
    assert!(!health.readyz(format!("http://127.0.0.1:{closed}")).await);
}

#[tokio::test]
async fn a_node_that_is_not_ready_is_not_healthy_and_the_list_is_of_control_plane_nodes() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.unwrap();
        let query = req.uri().query().unwrap_or_default().to_owned();
        assert!(
            query.contains("labelSelector=node-role.kubernetes.io%2Fcontrol-plane"),
            "{query}"
        );
        reply(
            send,
            &json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {},
            "items": [node("cp-2", "i-bbb", false, "127.0.0.1")]}),
        );
    });
    let config = Config::new("http://127.0.0.1:1".parse().unwrap());
    let health = KubeNodeHealth::new(client, config, 6443, Duration::from_secs(1));
    let healthy = health.healthy(&["i-bbb".to_owned()]).await.unwrap();
    assert!(healthy.is_empty());
    server.await.unwrap();
}
