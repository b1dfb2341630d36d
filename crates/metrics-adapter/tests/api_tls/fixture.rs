//! What every API test shares: a populated store, the server on a loopback port with a
//! throwaway PKI, and clients that speak as kube-apiserver's front proxy does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tidal_core::Timestamp;
use tidal_core::quantity::Quantity;
use tidal_metrics_adapter::metrics::Metrics;
use tidal_metrics_adapter::store::{
    CollectorId, DescribedObject, MetricStore, MetricValue, Sample,
};
use tidal_metrics_adapter::testing::{Access, Identity, Pki, TestServer};
use tidal_runtime::Clock;

pub const PROXY_CN: &str = "front-proxy-client";
pub const TTL: Duration = Duration::from_secs(180);

pub fn now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

pub fn clock() -> Clock {
    Clock::wall()
}

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn object(
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

pub fn custom(
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

pub fn external(ns: &str, metric: &str, l: &[(&str, &str)], value: &str, at: Timestamp) -> Sample {
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
pub fn populated_store() -> MetricStore {
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

pub struct Fixture {
    pub pki: Pki,
    pub server: TestServer,
    pub metrics: Metrics,
}

pub async fn start() -> Fixture {
    start_with(Access::new(&[PROXY_CN])).await
}

/// The server on the populated store, with `access`.
pub async fn start_with(access: Access<'_>) -> Fixture {
    let pki = Pki::generate().unwrap();
    let metrics = Metrics::default();
    let server = TestServer::start_with(populated_store(), &pki, access, metrics.clone(), clock())
        .await
        .unwrap();
    Fixture {
        pki,
        server,
        metrics,
    }
}

impl Fixture {
    pub fn client(&self, identity: Option<&Identity>) -> reqwest::Client {
        let tls = self.pki.client_config(identity).unwrap();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .resolve("localhost", self.server.addr)
            .build()
            .unwrap()
    }

    pub fn proxy(&self) -> reqwest::Client {
        self.client(Some(&self.pki.front_proxy_client(PROXY_CN).unwrap()))
    }

    /// GET as kube-apiserver would proxy it for the HPA controller.
    pub async fn get_with(
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

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let user = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
        self.get_with(&self.proxy(), path, Some(user))
            .await
            .unwrap()
    }
}

pub fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["describedObject"]["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn assert_status(body: &Value, code: u16, reason: &str, needle: &str) {
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

/// Opens a connection as the front proxy and completes the TLS handshake.
pub async fn tls_connect(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}
