//! Serving: discovery, custom and external metrics, errors and front-proxy authentication.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tidal_metrics_adapter::metrics::Metrics;
use tidal_metrics_adapter::server::ConnectionLimits;
use tidal_metrics_adapter::testing::{Access, Pki, TestServer};

use crate::fixture::*;

#[tokio::test]
async fn discovery_documents_match_what_kube_aggregator_reads() {
    let f = start().await;
    let (code, apis) = f.get("/apis").await;
    assert_eq!(code, 200);
    assert_eq!(apis["kind"], "APIGroupList");
    assert_eq!(apis["apiVersion"], "v1");
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["custom.metrics.k8s.io", "external.metrics.k8s.io"]);

    let (code, group) = f.get("/apis/custom.metrics.k8s.io").await;
    assert_eq!(code, 200);
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(
        group["preferredVersion"],
        json!({"groupVersion": "custom.metrics.k8s.io/v1beta2", "version": "v1beta2"})
    );
    assert_eq!(group["versions"].as_array().unwrap().len(), 2);

    for version in ["v1beta1", "v1beta2"] {
        let (code, list) = f
            .get(&format!("/apis/custom.metrics.k8s.io/{version}"))
            .await;
        assert_eq!(code, 200);
        assert_eq!(list["kind"], "APIResourceList");
        assert_eq!(
            list["groupVersion"],
            format!("custom.metrics.k8s.io/{version}")
        );
        let resources = list["resources"].as_array().unwrap();
        let pods = resources
            .iter()
            .find(|r| r["name"] == "pods/requests-per-second")
            .unwrap();
        assert_eq!(pods["namespaced"], true);
        assert_eq!(pods["kind"], "MetricValueList");
        assert_eq!(pods["verbs"], json!(["get"]));
        assert_eq!(pods["singularName"], "");
        let ns = resources
            .iter()
            .find(|r| r["name"] == "namespaces/budget")
            .unwrap();
        assert_eq!(ns["namespaced"], false);
        assert!(
            resources
                .iter()
                .any(|r| r["name"] == "ingresses.networking.k8s.io/requests-per-second")
        );
    }

    let (code, list) = f.get("/apis/external.metrics.k8s.io/v1beta1").await;
    assert_eq!(code, 200);
    assert_eq!(list["groupVersion"], "external.metrics.k8s.io/v1beta1");
    assert_eq!(
        list["resources"],
        json!([{"name": "queue-length", "singularName": "", "namespaced": true, "kind": "ExternalMetricValueList", "verbs": ["get"]}])
    );
    let (code, group) = f.get("/apis/external.metrics.k8s.io").await;
    assert_eq!(
        (code, group["name"].as_str()),
        (200, Some("external.metrics.k8s.io"))
    );
    f.server.stop().await;
}

#[tokio::test]
async fn pods_metrics_by_label_selector_in_both_versions() {
    let f = start().await;
    let path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/requests-per-second?labelSelector=app%3Dweb";
    let (code, body) = f.get(path).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["kind"], "MetricValueList");
    assert_eq!(body["apiVersion"], "custom.metrics.k8s.io/v1beta2");
    assert_eq!(names(&body), ["web-1", "web-2"]);
    let item = &body["items"][0];
    assert_eq!(
        item["describedObject"],
        json!({"kind": "Pod", "namespace": "shop", "name": "web-1", "apiVersion": "v1"})
    );
    assert_eq!(item["metric"], json!({"name": "requests-per-second"}));
    assert_eq!(item["value"], "1500m");
    assert_eq!(item["windowSeconds"], 60);
    let ts = chrono::DateTime::parse_from_rfc3339(item["timestamp"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - ts.to_utc()).num_seconds() < 120);

    let path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/pods/*/requests-per-second?labelSelector=app+in+%28web%2Capi%29";
    let (code, body) = f.get(path).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["apiVersion"], "custom.metrics.k8s.io/v1beta1");
    assert_eq!(names(&body), ["api-1", "web-1", "web-2"]);
    let item = &body["items"][0];
    assert_eq!(item["metricName"], "requests-per-second");
    assert_eq!(item["window"], 60);
    assert_eq!(item["value"], "7");
    assert!(item.get("metric").is_none() && item.get("windowSeconds").is_none());

    // One pod by name.
    let (code, body) = f
        .get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/web-2/requests-per-second")
        .await;
    assert_eq!((code, names(&body)), (200, vec!["web-2".to_string()]));
    f.server.stop().await;
}

#[tokio::test]
async fn object_and_namespace_metrics_with_metric_label_selector() {
    let f = start().await;
    let base = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/ingresses.networking.k8s.io/front/requests-per-second";
    let (code, body) = f.get(base).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(body["items"][0]["describedObject"]["kind"], "Ingress");
    assert_eq!(
        body["items"][0]["describedObject"]["apiVersion"],
        "networking.k8s.io/v1"
    );

    let (code, body) = f
        .get(&format!("{base}?metricLabelSelector=backend%3Dblue"))
        .await;
    assert_eq!(code, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["value"], "42");
    assert_eq!(
        items[0]["metric"]["selector"],
        json!({"matchLabels": {"backend": "blue"}})
    );

    let (code, body) = f
        .get(&format!("{base}?metricLabelSelector=backend%3Dred"))
        .await;
    assert_status(&body, 404, "NotFound", "requests-per-second");
    assert_eq!(code, 404);

    let (code, body) = f
        .get("/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/metrics/budget")
        .await;
    assert_eq!(code, 200, "{body}");
    let item = &body["items"][0];
    assert_eq!(
        item["describedObject"],
        json!({"kind": "Namespace", "name": "shop", "apiVersion": "v1"})
    );
    assert_eq!(item["value"], "3");
    assert_eq!(item["selector"], Value::Null);
    f.server.stop().await;
}

#[tokio::test]
async fn external_metrics_by_label_selector() {
    let f = start().await;
    let base = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/queue-length";
    let (code, body) = f
        .get(&format!(
            "{base}?labelSelector=type%3Dsqs-queue-length%2Cqueue-name%3Djobs"
        ))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["kind"], "ExternalMetricValueList");
    assert_eq!(body["apiVersion"], "external.metrics.k8s.io/v1beta1");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metricName"], "queue-length");
    assert_eq!(
        items[0]["metricLabels"],
        json!({"queue-name": "jobs", "type": "sqs-queue-length"})
    );
    assert_eq!(items[0]["value"], "120");
    assert!(items[0].get("window").is_none());

    let (code, body) = f.get(base).await;
    assert_eq!((code, body["items"].as_array().unwrap().len()), (200, 2));

    let (code, body) = f
        .get("/apis/external.metrics.k8s.io/v1beta1/namespaces/other/queue-length")
        .await;
    assert_eq!(code, 404);
    assert_status(&body, 404, "NotFound", "queue-length");
    f.server.stop().await;
}

#[tokio::test]
async fn missing_stale_and_malformed_requests_get_status_bodies() {
    let f = start().await;
    let (code, body) = f
        .get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/unknown-metric")
        .await;
    assert_eq!(code, 404);
    assert_status(&body, 404, "NotFound", "unknown-metric");
    assert_eq!(body["details"]["name"], "unknown-metric");

    // Collected ten minutes ago with a three-minute TTL: never served.
    let (code, body) = f
        .get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/stale-metric")
        .await;
    assert_eq!(code, 404);
    assert_status(&body, 404, "NotFound", "stale-metric");

    let (code, body) = f.get("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/requests-per-second?labelSelector=app%3D%3D%3D").await;
    assert_eq!(code, 400);
    assert_status(&body, 400, "BadRequest", "labelSelector");

    let (code, body) = f
        .get("/apis/custom.metrics.k8s.io/v9/namespaces/shop/pods/*/x")
        .await;
    assert_status(
        &body,
        404,
        "NotFound",
        "could not find the requested resource",
    );
    assert_eq!(code, 404);
    let (code, _) = f.get("/api/v1/pods").await;
    assert_eq!(code, 404);

    let response = f
        .proxy()
        .post(format!(
            "{}/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/x",
            f.server.base_url()
        ))
        .header("X-Remote-User", "u")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    f.server.stop().await;
}

#[tokio::test]
async fn rejects_requests_not_proxied_by_an_allowed_front_proxy() {
    let f = start().await;
    let path = "/apis/custom.metrics.k8s.io/v1beta2";

    let (code, body) = f
        .get_with(&f.client(None), path, Some("alice"))
        .await
        .unwrap();
    assert_eq!(code, 401);
    assert_status(&body, 401, "Unauthorized", "no client certificate");

    let intruder = f.pki.front_proxy_client("intruder").unwrap();
    let (code, body) = f
        .get_with(&f.client(Some(&intruder)), path, Some("alice"))
        .await
        .unwrap();
    assert_eq!(code, 403);
    assert_status(&body, 403, "Forbidden", "intruder");

    let (code, body) = f.get_with(&f.proxy(), path, None).await.unwrap();
    assert_eq!(code, 401);
    assert_status(&body, 401, "Unauthorized", "x-remote-user");

    // Right CN, wrong CA: the handshake itself fails, nothing is served.
    let forged = f.pki.foreign_client(PROXY_CN).unwrap();
    let result = f
        .get_with(&f.client(Some(&forged)), path, Some("alice"))
        .await;
    assert!(
        result.is_err(),
        "a certificate from another CA must not get an answer: {result:?}"
    );

    // Rejections are counted like answers; the forged handshake never reached HTTP.
    let (code, _) = f.get(path).await;
    assert_eq!(code, 200);
    f.server.stop().await;
    let count = |code| {
        f.metrics
            .requests_count("custom.metrics.k8s.io", "v1beta2", code)
    };
    assert_eq!((count(200), count(401), count(403)), (1, 2, 1));
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let pki = Pki::generate().unwrap();
    let access = Access {
        limits: ConnectionLimits {
            max_connections: 2,
            max_handshakes: 1,
            ..ConnectionLimits::default()
        },
        ..Access::new(&[PROXY_CN])
    };
    let server =
        TestServer::start_with(populated_store(), &pki, access, Metrics::default(), clock())
            .await
            .unwrap();
    let proxy = pki.front_proxy_client(PROXY_CN).unwrap();
    let config = Arc::new(pki.client_config(Some(&proxy)).unwrap());
    let first = tls_connect(Arc::clone(&config), server.addr).await.unwrap();
    let _second = tls_connect(Arc::clone(&config), server.addr).await.unwrap();
    // The kernel takes the third connection into the backlog, but the server does not start
    // its handshake while two connections are open.
    let third = tokio::spawn(tls_connect(Arc::clone(&config), server.addr));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection was taken up");
    drop(first);
    let third = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("taken up once a connection closed")
        .unwrap();
    assert!(third.is_ok(), "{third:?}");
    server.stop().await;
}
