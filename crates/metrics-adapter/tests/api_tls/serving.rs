//! The metrics API over real TLS, requested the way kube-apiserver proxies requests to an
//! aggregated API server: a front-proxy client certificate plus `X-Remote-User` /
//! `X-Remote-Group` headers, `Accept: application/json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tidal_core::Timestamp;
use tidal_core::quantity::Quantity;
use tidal_metrics_adapter::metrics::{Clock, Metrics};
use tidal_metrics_adapter::server::ConnectionLimits;
use tidal_metrics_adapter::store::{
    CollectorId, DescribedObject, MetricStore, MetricValue, Sample,
};
use tidal_metrics_adapter::testing::{Access, Identity, Pki, TestServer};

const PROXY_CN: &str = "front-proxy-client";
const TTL: Duration = Duration::from_secs(180);

fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

fn clock() -> Clock {
    Arc::new(now)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn object(
    api_version: &str,
    kind: &str,
    resource: &str,
    ns: Option<&str>,
    name: &str,
    l: &[(&str, &str)],
) -> DescribedObject {
    DescribedObject {
        api_version: api_version.into(),
        kind: kind.into(),
        resource: resource.into(),
        namespace: ns.map(str::to_string),
        name: name.into(),
        labels: labels(l),
    }
}

fn custom(
    object: DescribedObject,
    metric: &str,
    metric_labels: &[(&str, &str)],
    value: &str,
    at: Timestamp,
) -> Sample {
    Sample {
        target: MetricValue::Custom {
            object,
            metric: metric.into(),
            metric_labels: labels(metric_labels),
        },
        value: value.parse::<Quantity>().unwrap(),
        timestamp: at,
        window: Some(Duration::from_secs(60)),
    }
}

fn external(ns: &str, metric: &str, l: &[(&str, &str)], value: &str, at: Timestamp) -> Sample {
    Sample {
        target: MetricValue::External {
            namespace: ns.into(),
            metric: metric.into(),
            metric_labels: labels(l),
        },
        value: value.parse::<Quantity>().unwrap(),
        timestamp: at,
        window: None,
    }
}

/// The store the tests read: pods of two apps, an Ingress, a Namespace, SQS queues, and a stale
/// value.
fn populated_store() -> MetricStore {
    let store = MetricStore::new();
    let t = now();
    let pod =
        |name: &str, app: &str| object("v1", "Pod", "pods", Some("shop"), name, &[("app", app)]);
    store.put(
        &CollectorId("shop/web/pods/requests-per-second".into()),
        vec![
            custom(pod("web-1", "web"), "requests-per-second", &[], "1500m", t),
            custom(pod("web-2", "web"), "requests-per-second", &[], "2", t),
            custom(pod("api-1", "api"), "requests-per-second", &[], "7", t),
        ],
        TTL,
    );
    let ingress = object(
        "networking.k8s.io/v1",
        "Ingress",
        "ingresses.networking.k8s.io",
        Some("shop"),
        "front",
        &[],
    );
    store.put(
        &CollectorId("shop/front/object/requests-per-second".into()),
        vec![
            custom(
                ingress.clone(),
                "requests-per-second",
                &[("backend", "blue")],
                "42",
                t,
            ),
            custom(
                ingress,
                "requests-per-second",
                &[("backend", "green")],
                "8",
                t,
            ),
        ],
        TTL,
    );
    let namespace = object("v1", "Namespace", "namespaces", None, "shop", &[]);
    store.put(
        &CollectorId("shop/budget/object/budget".into()),
        vec![custom(namespace, "budget", &[], "3", t)],
        TTL,
    );
    store.put(
        &CollectorId("shop/worker/external/queue-length".into()),
        vec![
            external(
                "shop",
                "queue-length",
                &[("type", "sqs-queue-length"), ("queue-name", "jobs")],
                "120",
                t,
            ),
            external(
                "shop",
                "queue-length",
                &[("type", "sqs-queue-length"), ("queue-name", "mails")],
                "4",
                t,
            ),
        ],
        TTL,
    );
    let old = t - Duration::from_secs(600);
    store.put(
        &CollectorId("shop/old/pods/stale-metric".into()),
        vec![custom(pod("web-1", "web"), "stale-metric", &[], "1", old)],
        TTL,
    );
    store
}

struct Fixture {
    pki: Pki,
    server: TestServer,
    metrics: Metrics,
}

async fn start() -> Fixture {
    let pki = Pki::generate().unwrap();
    let metrics = Metrics::default();
    let server = TestServer::start(
        populated_store(),
        &pki,
        &[PROXY_CN],
        metrics.clone(),
        clock(),
    )
    .await
    .unwrap();
    Fixture {
        pki,
        server,
        metrics,
    }
}

impl Fixture {
    fn client(&self, identity: Option<&Identity>) -> reqwest::Client {
        let tls = self.pki.client_config(identity).unwrap();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .resolve("localhost", self.server.addr)
            .build()
            .unwrap()
    }

    fn proxy(&self) -> reqwest::Client {
        self.client(Some(&self.pki.front_proxy_client(PROXY_CN).unwrap()))
    }

    /// GET as kube-apiserver would proxy it for the HPA controller.
    async fn get_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        user: Option<&str>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = client
            .get(format!("{}{path}", self.server.base_url()))
            .header("Accept", "application/json, */*")
            .header("X-Remote-Group", "system:serviceaccounts")
            .header("X-Remote-Group", "system:authenticated");
        if let Some(user) = user {
            request = request.header("X-Remote-User", user);
        }
        let response = request.send().await?;
        let code = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/json", "{path}");
        Ok((code, response.json().await?))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let user = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
        self.get_with(&self.proxy(), path, Some(user))
            .await
            .unwrap()
    }
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["describedObject"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn assert_status(body: &Value, code: u16, reason: &str, needle: &str) {
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["apiVersion"], "v1");
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["code"], code);
    assert_eq!(body["reason"], reason);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
}

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

/// Opens a connection as the front proxy and completes the TLS handshake.
async fn tls_connect(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let pki = Pki::generate().unwrap();
    let limits = ConnectionLimits {
        max_connections: 2,
        max_handshakes: 1,
    };
    let access = Access {
        allowed_names: &[PROXY_CN],
        limits,
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
