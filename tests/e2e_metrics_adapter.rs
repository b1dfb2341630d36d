//! `tidal metrics-adapter` end to end: the real binary, with Kubernetes served by the in-memory
//! API stand-in of tidal-test-support and the metric source by a small JSON server, all on
//! 127.0.0.1. The metrics API is requested as kube-apiserver proxies it for the HPA controller:
//! over TLS with a front-proxy client certificate and `X-Remote-User` / `X-Remote-Group`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;

use common::{HANG_GUARD, Tidal, metrics};
use serde_json::{Value, json};
use tidal_metrics_adapter::testing::{Identity, Pki};
use tidal_test_support::{AccessRule, KubeApi, free_port};

const NS: &str = "shop";
const METRIC: &str = "queue-depth";
/// The HPA's `metric.selector.matchLabels`, as the HPA controller sends them.
const SELECTOR: &str = "type%3Djson-path%2Cqueue%3Dorders";
const PROXY_CN: &str = "front-proxy-client";
const HPA_CONTROLLER: &str = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
const COLLECTIONS: &str = "tidal_metrics_adapter_collections_total";

/// The metric source: serves `{"queue": {"name": "orders", "depth": <value>}}` at `/stats`.
struct JsonSource {
    url: String,
    depth: Arc<Mutex<Value>>,
    task: tokio::task::JoinHandle<()>,
}

impl JsonSource {
    async fn start(depth: Value) -> Self {
        async fn stats(State(depth): State<Arc<Mutex<Value>>>) -> axum::Json<Value> {
            let depth = depth.lock().unwrap().clone();
            axum::Json(json!({"queue": {"name": "orders", "depth": depth}}))
        }
        let depth = Arc::new(Mutex::new(depth));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let url = format!("http://{}/stats", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/stats", axum::routing::get(stats))
            .with_state(depth.clone());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, depth, task }
    }

    fn set(&self, depth: Value) {
        *self.depth.lock().unwrap() = depth;
    }
}

impl Drop for JsonSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An External metric of an HPA, selected by `type: json-path` and `queue: orders`.
fn external_metric(name: &str) -> Value {
    json!({"type": "External", "external": {
        "metric": {"name": name,
            "selector": {"matchLabels": {"type": "json-path", "queue": "orders"}}},
        "target": {"type": "AverageValue", "averageValue": "10"}}})
}

/// An autoscaling/v2 HPA in `shop` scaling Deployment `name` on `metrics`.
fn hpa(name: &str, annotations: Value, metrics: Vec<Value>) -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1, "maxReplicas": 10, "metrics": metrics,
        },
    })
}

/// The annotations of a json-path External metric read from `url` every second.
fn json_path_annotations(metric: &str, url: &str, json_key: &str) -> Vec<(String, String)> {
    let key = |k: &str| format!("metric-config.external.{metric}.json-path/{k}");
    vec![
        (key("endpoint"), url.to_owned()),
        (key("json-key"), json_key.to_owned()),
        (key("interval"), "1s".to_owned()),
    ]
}

/// The binary, run with a clean environment: only the kubeconfig, so nothing of the
/// developer's machine (clusters, AWS profiles) is reached.
struct Adapter {
    process: Tidal,
    secure_port: u16,
    admin_port: u16,
}

impl Adapter {
    /// Writes the serving certificate, its key and the front-proxy CA to `dir` and starts the
    /// adapter with them.
    fn spawn(dir: &Path, kubeconfig: &Path, pki: &Pki) -> Self {
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let cert = write("serving.crt", &pki.server.cert_pem);
        let key = write("serving.key", &pki.server.key_pem);
        let ca = write("front-proxy-ca.crt", pki.front_proxy_ca_pem());
        let secure_port = free_port().unwrap();
        let admin_port = loop {
            let port = free_port().unwrap();
            if port != secure_port {
                break port;
            }
        };
        let (secure, admin) = (secure_port.to_string(), admin_port.to_string());
        let args: Vec<&OsStr> = vec![
            OsStr::new("metrics-adapter"),
            OsStr::new("--tls-cert-file"),
            cert.as_os_str(),
            OsStr::new("--tls-private-key-file"),
            key.as_os_str(),
            OsStr::new("--requestheader-client-ca-file"),
            ca.as_os_str(),
            OsStr::new("--requestheader-allowed-names"),
            OsStr::new(PROXY_CN),
            OsStr::new("--bind-address"),
            OsStr::new("127.0.0.1"),
            OsStr::new("--secure-port"),
            OsStr::new(&secure),
            OsStr::new("--admin-port"),
            OsStr::new(&admin),
            // The JSON source is on loopback, which the outbound policy refuses by default.
            OsStr::new("--outbound-allow-cidr"),
            OsStr::new("127.0.0.0/8"),
        ];
        let env = [("KUBECONFIG", kubeconfig.as_os_str())];
        let level = "info,tidal_metrics_adapter=debug";
        let process = Tidal::spawn("metrics adapter", dir, level, &args, &env);
        Self {
            process,
            secure_port,
            admin_port,
        }
    }

    /// Polls the external metric at `path` until it is served with exactly `expected`; on
    /// the hang guard, fails with the last answer and the log. Returns the answer's body.
    async fn served(&mut self, client: &reqwest::Client, path: &str, expected: &[&str]) -> Value {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        let mut last = None;
        loop {
            self.process.assert_running();
            if let Some(answer) = get_metric(client, self.secure_port, path).await {
                if values(&answer).is_some_and(|v| v == expected) {
                    return answer.1;
                }
                last = Some(answer);
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{path} never served {expected:?}; last answer {last:?}; the metrics adapter's output:\n{}",
                    self.process.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// An HTTPS client trusting the serving CA, presenting `identity` if given; `localhost`
    /// (the serving certificate's name) resolves to the adapter's port on 127.0.0.1.
    fn client(&self, pki: &Pki, identity: Option<&Identity>) -> reqwest::Client {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.secure_port));
        reqwest::Client::builder()
            .tls_backend_preconfigured(pki.client_config(identity).unwrap())
            .resolve("localhost", addr)
            .no_proxy()
            .build()
            .unwrap()
    }
}

/// GET `path` as kube-apiserver proxies it for the HPA controller; `None` until it answers.
async fn get_metric(client: &reqwest::Client, port: u16, path: &str) -> Option<(u16, Value)> {
    let response = client
        .get(format!("https://localhost:{port}{path}"))
        .header("Accept", "application/json")
        .header("X-Remote-User", HPA_CONTROLLER)
        .header("X-Remote-Group", "system:serviceaccounts")
        .send()
        .await
        .ok()?;
    let code = response.status().as_u16();
    Some((code, response.json().await.ok()?))
}

fn external_path(metric: &str, selector: &str) -> String {
    format!(
        "/apis/external.metrics.k8s.io/v1beta1/namespaces/{NS}/{metric}?labelSelector={selector}"
    )
}

/// The values of an ExternalMetricValueList answer, `None` for any other answer.
fn values(answer: &(u16, Value)) -> Option<Vec<String>> {
    let (code, body) = answer;
    if *code != 200 || body["kind"] != "ExternalMetricValueList" {
        return None;
    }
    let items = body["items"].as_array()?;
    Some(
        items
            .iter()
            .map(|i| i["value"].as_str().unwrap_or_default().to_owned())
            .collect(),
    )
}

/// The value of the sample of `name` whose labels are exactly `labels`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// The Kubernetes API stand-in, answering the adapter's SubjectAccessReviews as the built-in
/// `system:controller:horizontal-pod-autoscaler` role would: the HPA controller may read
/// external metrics.
async fn api_for_the_hpa_controller() -> KubeApi {
    let api = KubeApi::start().await.unwrap();
    api.allow(AccessRule {
        user: Some(HPA_CONTROLLER.to_owned()),
        api_group: Some("external.metrics.k8s.io".to_owned()),
        ..AccessRule::default()
    });
    api
}

#[tokio::test]
async fn an_hpa_external_json_path_metric_is_collected_and_served_to_the_front_proxy() {
    let source = JsonSource::start(json!(42)).await;
    let api = api_for_the_hpa_controller().await;
    let annotations: serde_json::Map<String, Value> =
        json_path_annotations(METRIC, &source.url, "$.queue.depth")
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
    api.put(hpa(
        "worker",
        Value::Object(annotations),
        vec![external_metric(METRIC)],
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path()).unwrap();
    let pki = Pki::generate().unwrap();
    let mut adapter = Adapter::spawn(dir.path(), &kubeconfig, &pki);
    let proxy = adapter.client(&pki, Some(&pki.front_proxy_client(PROXY_CN).unwrap()));
    let port = adapter.secure_port;
    let path = external_path(METRIC, SELECTOR);

    let body = adapter.served(&proxy, &path, &["42"]).await;
    assert_eq!(body["apiVersion"], "external.metrics.k8s.io/v1beta1");
    let item = &body["items"][0];
    assert_eq!(item["metricName"], METRIC, "{body}");
    assert_eq!(
        item["metricLabels"],
        json!({"type": "json-path", "queue": "orders"}),
        "{body}"
    );
    assert!(item["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));

    // Collection keeps running: a new value at the source reaches the API, as a quantity.
    source.set(json!(2.5));
    adapter.served(&proxy, &path, &["2500m"]).await;

    // The selector is matched against the metric's labels.
    let other = get_metric(&proxy, port, &external_path(METRIC, "queue%3Dpayments"))
        .await
        .expect("the adapter answers");
    assert_eq!(other.0, 404, "{}", other.1);
    assert_eq!(other.1["kind"], "Status");
    assert_eq!(other.1["reason"], "NotFound");

    // Without a front-proxy client certificate the user headers are not trusted.
    let anonymous = adapter.client(&pki, None);
    let (code, status) = get_metric(&anonymous, port, &path)
        .await
        .expect("the adapter answers a client without a certificate");
    assert_eq!(code, 401, "{status}");
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["reason"], "Unauthorized", "{status}");
    assert_eq!(status["code"], 401, "{status}");

    // Two values were served, so at least two collections succeeded.
    let labels = format!("collector=\"json-path-url\",namespace=\"{NS}\",hpa=\"worker\"");
    let text = metrics(adapter.admin_port).await.expect("/metrics answers");
    let collections = sample(&text, COLLECTIONS, &labels);
    assert!(
        collections.is_some_and(|n| n >= 2.0),
        "{COLLECTIONS}{{{labels}}} is {collections:?}: {text}"
    );
    adapter.process.assert_running();
    common::assert_requests_granted(&api, tidal_metrics_adapter::access::API_ACCESS);
}

#[tokio::test]
async fn a_malformed_annotation_warns_on_the_hpa_and_its_other_metric_is_still_served() {
    let source = JsonSource::start(json!(7)).await;
    let api = api_for_the_hpa_controller().await;
    let bad_key = "metric-config.external.backlog.json-path/json-key";
    let mut annotations: serde_json::Map<String, Value> =
        json_path_annotations(METRIC, &source.url, "$.queue.depth")
            .into_iter()
            .chain(json_path_annotations("backlog", &source.url, "$.queue["))
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
    assert!(annotations.contains_key(bad_key));
    // Not a metric-config annotation: ignored.
    annotations.insert("team".into(), json!("payments"));
    api.put(hpa(
        "mixed",
        Value::Object(annotations),
        vec![external_metric(METRIC), external_metric("backlog")],
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path()).unwrap();
    let pki = Pki::generate().unwrap();
    let mut adapter = Adapter::spawn(dir.path(), &kubeconfig, &pki);

    let api_ref = &api;
    let event = adapter
        .process
        .eventually(
            "an InvalidMetricConfig event on the HPA",
            move || async move {
                api_ref
                    .list("events.k8s.io/v1", "Event", Some(NS))
                    .into_iter()
                    .find(|e| e["reason"] == "InvalidMetricConfig")
            },
        )
        .await;
    assert_eq!(event["type"], "Warning", "{event}");
    assert_eq!(event["regarding"]["kind"], "HorizontalPodAutoscaler");
    assert_eq!(event["regarding"]["name"], "mixed");
    let uid = api
        .get(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some(NS),
            "mixed",
        )
        .unwrap()["metadata"]["uid"]
        .clone();
    assert_eq!(event["regarding"]["uid"], uid, "kubectl describe finds it");
    assert!(
        event["note"].as_str().is_some_and(|n| n.contains(bad_key)),
        "the note names the annotation: {event}"
    );

    let proxy = adapter.client(&pki, Some(&pki.front_proxy_client(PROXY_CN).unwrap()));
    let port = adapter.secure_port;
    adapter
        .served(&proxy, &external_path(METRIC, SELECTOR), &["7"])
        .await;
    let (code, status) = get_metric(&proxy, port, &external_path("backlog", SELECTOR))
        .await
        .expect("the adapter answers");
    assert_eq!(code, 404, "the broken metric is not collected: {status}");
    assert_eq!(status["reason"], "NotFound", "{status}");
    let warnings = api
        .list("events.k8s.io/v1", "Event", Some(NS))
        .into_iter()
        .filter(|e| e["reason"] == "InvalidMetricConfig")
        .count();
    assert_eq!(warnings, 1, "one warning per change of the HPA");
    adapter.process.assert_running();
}
