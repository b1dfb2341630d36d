#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::json;

use super::*;
use crate::selector::SelectorExt;

fn json_response(body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn reads_and_caches_the_deployment_selector() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let cluster = KubeClusterView::new(kube::Client::new(service, "default"), PodIndex::new());
    let target = ScaleTarget {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "web".into(),
    };
    let server = tokio::spawn(async move {
        let (request, send) = handle.next_request().await.expect("GET deployment");
        assert_eq!(
            request.uri().path(),
            "/apis/apps/v1/namespaces/shop/deployments/web"
        );
        send.send_response(json_response(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}
        })));
        handle
    });
    let selector = cluster
        .scale_target_selector("shop", &target)
        .await
        .unwrap();
    assert!(selector.matches(&labels(&[("app", "web"), ("pod-template-hash", "x")])));
    assert!(!selector.matches(&labels(&[("app", "api")])));
    let _handle = server.await.unwrap();
    // Served from the cache: no second request (it would never be answered).
    let cached = tokio::time::timeout(
        Duration::from_secs(30),
        cluster.scale_target_selector("shop", &target),
    )
    .await
    .expect("second lookup must not call the API");
    assert_eq!(cached.unwrap(), selector);
}

#[tokio::test]
async fn reads_ingress_hosts_and_backend_weights() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let cluster = KubeClusterView::new(kube::Client::new(service, "default"), PodIndex::new());
    tokio::spawn(async move {
        let (request, send) = handle.next_request().await.expect("GET ingress");
        assert_eq!(
            request.uri().path(),
            "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web"
        );
        send.send_response(json_response(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop",
                "annotations": {BACKEND_WEIGHTS_ANNOTATION: "{\"web\": 80, \"web-canary\": 20}"}},
            "spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]}
        })));
        let (request, send) = handle.next_request().await.expect("GET routegroup");
        assert_eq!(
            request.uri().path(),
            "/apis/zalando.org/v1/namespaces/shop/routegroups/rg"
        );
        send.send_response(json_response(json!({
            "apiVersion": "zalando.org/v1", "kind": "RouteGroup",
            "metadata": {"name": "rg", "namespace": "shop"},
            "spec": {"hosts": ["rg.example.com"],
                     "backends": [{"name": "main", "type": "service"}],
                     "defaultBackends": [{"backendName": "main", "weight": 100}]}
        })));
    });
    let ingress = cluster
        .routing("shop", RoutingKind::Ingress, "web")
        .await
        .unwrap();
    assert_eq!(ingress.hosts, ["a.example.com", "b.example.com"]);
    assert_eq!(ingress.backend_weights["web-canary"], 20.0);
    let group = cluster
        .routing("shop", RoutingKind::RouteGroup, "rg")
        .await
        .unwrap();
    assert_eq!(group.hosts, ["rg.example.com"]);
    assert_eq!(group.backend_weights["main"], 100.0);
}

#[test]
fn empty_workload_selector_is_refused() {
    let err = workload_selector("Deployment shop/web", None).unwrap_err();
    assert!(err.to_string().contains("empty selector"), "{err}");
}

#[test]
fn bad_backend_weights_annotation_is_reported() {
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "web", "annotations": {BACKEND_WEIGHTS_ANNOTATION: "web=80"}},
    }))
    .unwrap();
    let err = ingress_routing("Ingress shop/web", &ingress).unwrap_err();
    assert!(
        err.to_string().contains(BACKEND_WEIGHTS_ANNOTATION),
        "{err}"
    );
}
