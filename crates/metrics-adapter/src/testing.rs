//! Test and benchmark helpers (feature `testing`, never in the production binary): a throwaway
//! PKI shaped like a cluster's (serving CA, front-proxy CA, client certificates), a synthetic
//! store of many HPAs, and an API server started on a loopback port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tidal_core::Timestamp;
use tidal_core::quantity::Quantity;
use tidal_runtime::Clock;

use crate::api::ApiState;
use crate::auth::RequestHeaderAuth;
use crate::authorization::Authorizer;
use crate::metrics::Metrics;
use crate::server::ConnectionLimits;
use crate::store::{CollectorId, DescribedObject, MetricStore, MetricValue, Sample};
use crate::tls::{self, TlsError};

/// Why a test fixture could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// Certificate generation failed.
    #[error("generating test certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The TLS configuration was rejected.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A rustls client configuration failed.
    #[error("building the client TLS configuration: {0}")]
    Client(#[from] rustls::Error),
    /// The loopback listener could not be bound.
    #[error("binding 127.0.0.1:0: {0}")]
    Bind(#[from] std::io::Error),
    /// The collection load could not be set up.
    #[error("setting up the collection load: {0}")]
    Load(String),
}

/// A certificate with its private key, in DER and PEM.
pub struct Identity {
    /// The certificate.
    pub cert: CertificateDer<'static>,
    /// The certificate as PEM.
    pub cert_pem: String,
    /// The private key as PKCS#8 PEM.
    pub key_pem: String,
    key_der: Vec<u8>,
}

impl Identity {
    /// The private key in DER.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    cert_pem: String,
}

impl Authority {
    fn new(cn: &str) -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
        })
    }

    fn issue(&self, cn: &str, sans: &[&str]) -> Result<Identity, rcgen::Error> {
        let key = KeyPair::generate()?;
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        })
    }
}

/// A cluster-like PKI: a serving CA with a certificate for `localhost`/`127.0.0.1`, and a
/// front-proxy (requestheader) CA that signs client certificates.
pub struct Pki {
    serving_ca: Authority,
    front_proxy_ca: Authority,
    other_ca: Authority,
    /// The server's certificate and key.
    pub server: Identity,
}

impl Pki {
    /// Generates fresh CAs and the serving certificate.
    pub fn generate() -> Result<Self, FixtureError> {
        let serving_ca = Authority::new("tidal test serving CA")?;
        let server = serving_ca.issue("tidal-metrics-adapter", &["localhost", "127.0.0.1"])?;
        Ok(Self {
            serving_ca,
            front_proxy_ca: Authority::new("tidal test front-proxy CA")?,
            other_ca: Authority::new("some other CA")?,
            server,
        })
    }

    /// A client certificate with CN `cn` signed by the front-proxy CA.
    pub fn front_proxy_client(&self, cn: &str) -> Result<Identity, FixtureError> {
        Ok(self.front_proxy_ca.issue(cn, &[])?)
    }

    /// A client certificate with CN `cn` signed by a CA the server does not trust.
    pub fn foreign_client(&self, cn: &str) -> Result<Identity, FixtureError> {
        Ok(self.other_ca.issue(cn, &[])?)
    }

    /// The serving CA certificate (what an APIService `caBundle` would hold).
    pub fn serving_ca(&self) -> &CertificateDer<'static> {
        &self.serving_ca.cert
    }

    /// The serving CA certificate as PEM.
    pub fn serving_ca_pem(&self) -> &str {
        &self.serving_ca.cert_pem
    }

    /// The front-proxy CA certificate as PEM (what `--requestheader-client-ca-file` holds).
    pub fn front_proxy_ca_pem(&self) -> &str {
        &self.front_proxy_ca.cert_pem
    }

    /// The front-proxy CA certificate.
    pub fn front_proxy_ca(&self) -> &CertificateDer<'static> {
        &self.front_proxy_ca.cert
    }

    /// The server's TLS configuration, trusting the front-proxy CA for client certificates.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, FixtureError> {
        Ok(tls::server_config(
            vec![self.server.cert.clone()],
            self.server.key(),
            std::slice::from_ref(&self.front_proxy_ca.cert),
            "test front-proxy CA",
        )?)
    }

    /// A client configuration trusting the serving CA, presenting `identity` if given.
    pub fn client_config(&self, identity: Option<&Identity>) -> Result<ClientConfig, FixtureError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.serving_ca.cert.clone())?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        Ok(match identity {
            Some(id) => builder.with_client_auth_cert(vec![id.cert.clone()], id.key())?,
            None => builder.with_no_client_auth(),
        })
    }
}

/// Name of the synthetic Pods metric.
pub const PODS_METRIC: &str = "requests-per-second";
/// Name of the synthetic External metric.
pub const EXTERNAL_METRIC: &str = "queue-length";
/// Synthetic HPAs per namespace.
pub const HPAS_PER_NAMESPACE: usize = 100;

/// Namespace and name of synthetic HPA number `i`.
pub fn synthetic_hpa(i: usize) -> (String, String) {
    (
        format!("team-{}", i / HPAS_PER_NAMESPACE),
        format!("app-{i}"),
    )
}

fn synthetic_samples(i: usize, pods: usize, now: Timestamp) -> (Vec<Sample>, Sample) {
    let (ns, name) = synthetic_hpa(i);
    let labels = BTreeMap::from([("app".to_string(), name.clone())]);
    let pod_samples = (0..pods)
        .map(|p| Sample {
            target: MetricValue::Custom {
                object: DescribedObject {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    resource: "pods".into(),
                    namespace: Some(ns.clone()),
                    name: format!("{name}-{p}"),
                    labels: labels.clone(),
                },
                metric: PODS_METRIC.into(),
                metric_labels: BTreeMap::new(),
            },
            value: Quantity::from_milli(((i * 7 + p * 13) % 5000) as i64 * 10),
            timestamp: now,
            window: Some(Duration::from_secs(60)),
        })
        .collect();
    let external = Sample {
        target: MetricValue::External {
            namespace: ns,
            metric: EXTERNAL_METRIC.into(),
            metric_labels: BTreeMap::from([
                ("type".to_string(), "sqs-queue-length".to_string()),
                ("queue-name".to_string(), format!("{name}-jobs")),
            ]),
        },
        value: Quantity::from_units((i % 1000) as i64),
        timestamp: now,
        window: None,
    };
    (pod_samples, external)
}

/// Fills `store` with `hpas` HPAs × 2 metrics: a Pods metric over `pods` pods each and an
/// External SQS-style metric, all observed at `now` and valid for `ttl`.
pub fn fill_synthetic(
    store: &MetricStore,
    hpas: usize,
    pods: usize,
    now: Timestamp,
    ttl: Duration,
) {
    for i in 0..hpas {
        let (ns, name) = synthetic_hpa(i);
        let (pod_samples, external) = synthetic_samples(i, pods, now);
        let pods_id = CollectorId(format!("{ns}/{name}/pods/{PODS_METRIC}"));
        store.put(&pods_id, pod_samples, ttl);
        let ext_id = CollectorId(format!("{ns}/{name}/external/{EXTERNAL_METRIC}"));
        store.put(&ext_id, vec![external], ttl);
    }
}

/// The request paths the HPA controller would send for synthetic HPA `i`: the Pods metric over
/// its pods, and its External metric.
pub fn synthetic_paths(i: usize) -> [String; 2] {
    let (ns, name) = synthetic_hpa(i);
    [
        format!(
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/pods/*/{PODS_METRIC}?labelSelector=app%3D{name}"
        ),
        format!(
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{EXTERNAL_METRIC}?labelSelector=type%3Dsqs-queue-length%2Cqueue-name%3D{name}-jobs"
        ),
    ]
}

/// Who may call a [`TestServer`] and how many at once.
#[derive(Clone, Debug)]
pub struct Access<'a> {
    /// Front-proxy client certificate CNs allowed (empty: any the CA signed).
    pub allowed_names: &'a [&'a str],
    /// Connection limits of the API port.
    pub limits: ConnectionLimits,
    /// Who may read what ([`Authorizer::disabled`]: every authenticated user everything).
    pub authorizer: Authorizer,
}

impl<'a> Access<'a> {
    /// `allowed_names` with default limits and no authorization.
    pub fn new(allowed_names: &'a [&'a str]) -> Self {
        Self {
            allowed_names,
            limits: ConnectionLimits::default(),
            authorizer: Authorizer::disabled(),
        }
    }
}

/// An API server running on a loopback port until dropped.
pub struct TestServer {
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts the API server on 127.0.0.1 (ephemeral port) with `pki`'s certificates.
    pub async fn start(
        store: MetricStore,
        pki: &Pki,
        allowed_names: &[&str],
        metrics: Metrics,
        clock: Clock,
    ) -> Result<Self, FixtureError> {
        Self::start_with(store, pki, Access::new(allowed_names), metrics, clock).await
    }

    /// [`Self::start`] with these allowed names and connection limits.
    pub async fn start_with(
        store: MetricStore,
        pki: &Pki,
        access: Access<'_>,
        metrics: Metrics,
        clock: Clock,
    ) -> Result<Self, FixtureError> {
        let Access {
            allowed_names,
            limits,
            authorizer,
        } = access;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let tls = pki.server_config()?;
        let auth = Arc::new(RequestHeaderAuth::new(
            allowed_names.iter().map(|s| s.to_string()),
        ));
        let state = ApiState {
            store,
            metrics,
            clock,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (_, tls) = tokio::sync::watch::channel(tls);
        let task = tokio::spawn(crate::app::serve_api(
            listener,
            tls,
            state,
            auth,
            authorizer,
            limits,
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `https://localhost:{port}` (the serving certificate is for `localhost`).
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Figures of one [`collection_load`] run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionLoadReport {
    /// HPAs collected.
    pub hpas: usize,
    /// Size of every endpoint's body in bytes.
    pub body_bytes: usize,
    /// Requests the endpoints served.
    pub requests: usize,
    /// HPA metrics whose last collection succeeded at the end.
    pub succeeding: usize,
    /// HPA metrics whose last collection failed, by reason.
    pub failing: BTreeMap<&'static str, usize>,
    /// Highest resident set size seen while running, in KiB (Linux only).
    pub peak_rss_kib: Option<u64>,
}

/// A JSON body of `bytes` bytes with as many values as the collectors accept: `{"value": 1,
/// "pad": ["xxx", …]}`, so reading and parsing it costs the most the limits allow.
pub fn maximal_json_body(bytes: usize) -> String {
    use crate::collector::fetch::MAX_JSON_VALUES;
    let strings = MAX_JSON_VALUES - 5;
    let overhead = r#"{"value": 1, "pad": []}"#.len();
    // Each string costs its content plus two quotes and a comma.
    let per_string = (bytes.saturating_sub(overhead) / strings)
        .saturating_sub(3)
        .max(1);
    let pad = vec![format!("\"{}\"", "x".repeat(per_string)); strings].join(",");
    let mut body = format!(r#"{{"value": 1, "pad": [{pad}]}}"#);
    // Fill the remainder with spaces inside the object so the body is exactly `bytes` long.
    if body.len() < bytes {
        let fill = " ".repeat(bytes - body.len());
        body.insert_str(1, &fill);
    }
    body
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the real collection path (annotations → configs → poller → json-path collectors →
/// store) for `hpas` HPAs in 10 namespaces, each pointing at its own URL on one loopback server
/// that answers every request with the same maximal body of `body_bytes` (sent chunked, so the
/// adapter cannot size its reservation from a `Content-Length`). Runs for `duration` at the
/// shortest interval allowed and reports the peak resident memory of this process (which
/// includes the server, so the figure is an upper bound for the adapter).
pub async fn collection_load(
    hpas: usize,
    body_bytes: usize,
    duration: Duration,
) -> Result<CollectionLoadReport, FixtureError> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::collector::Backends;
    use crate::config::{CollectionSettings, build_hpa_collectors};
    use crate::outbound::OutboundPolicy;
    use crate::poller::{Poller, PollerDeps};

    let body = axum::body::Bytes::from(maximal_json_body(body_bytes));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let app = axum::Router::new().route(
        "/hpa/{i}",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = body
                .chunks(64 * 1024)
                .map(|c| Ok(body.slice_ref(c)))
                .collect();
            async move { axum::body::Body::from_stream(futures::stream::iter(chunks)) }
        }),
    );
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let settings = CollectionSettings {
        outbound: OutboundPolicy {
            allow: vec![ipnet::IpNet::from(std::net::IpAddr::from(
                std::net::Ipv4Addr::LOCALHOST,
            ))],
            ..OutboundPolicy::default()
        },
        ..CollectionSettings::default()
    };
    let backends = Backends::new(Arc::new(NoCluster), &settings)
        .map_err(|e| FixtureError::Load(e.to_string()))?;
    let poller = Poller::new(PollerDeps {
        store: MetricStore::new(),
        metrics: Metrics::default(),
        factory: Arc::new(backends),
        events: Arc::new(NoEvents),
        clock: Clock::system(),
        max_concurrent: settings.max_concurrent_collections,
        max_concurrent_per_namespace: settings.max_concurrent_per_namespace,
    });
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let running = tokio::spawn(poller.clone().run(async move { stopped.notified().await }));
    for i in 0..hpas {
        let hpa = load_hpa(i, &format!("http://{addr}/hpa/{i}"));
        poller.sync_hpa(build_hpa_collectors(&hpa, &settings), None, None);
    }
    let mut peak = rss_kib();
    let deadline = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kib());
    }
    stop.notify_one();
    let _ = running.await;
    let mut succeeding = 0;
    let mut failing = BTreeMap::new();
    for status in poller.reports().into_iter().filter_map(|r| r.status) {
        match (status.last_error.is_some(), status.last_error_reason) {
            (false, _) if status.last_success.is_some() => succeeding += 1,
            (true, Some(reason)) => *failing.entry(reason).or_default() += 1,
            _ => *failing.entry("not yet collected").or_default() += 1,
        }
    }
    Ok(CollectionLoadReport {
        hpas,
        body_bytes,
        requests: requests.load(Ordering::Relaxed),
        succeeding,
        failing,
        peak_rss_kib: peak,
    })
}

/// HPA `i` of the load: an external json-path metric read every 5 s from `url`.
fn load_hpa(i: usize, url: &str) -> k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler {
    let key = |k: &str| format!("metric-config.external.load.json-path/{k}");
    let hpa = serde_json::json!({
        "metadata": {
            "name": format!("hpa-{i}"),
            "namespace": format!("team-{}", i % 10),
            "annotations": {
                key("endpoint"): url,
                key("json-key"): "$.value",
                key("interval"): "5s",
            },
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
            "maxReplicas": 10,
            "metrics": [{"type": "External", "external": {
                "metric": {"name": "load", "selector": {"matchLabels": {"type": "json-path"}}},
                "target": {"type": "AverageValue", "averageValue": "1"},
            }}],
        },
    });
    // A fixed, valid object: only a bug in this function could make it fail.
    serde_json::from_value(hpa).unwrap_or_default()
}

/// A cluster with nothing in it (the load uses URL collectors only).
struct NoCluster;

impl crate::ports::ClusterView for NoCluster {
    fn pods(&self, _: &str, _: &crate::selector::Selector) -> Vec<crate::ports::PodSummary> {
        Vec::new()
    }

    fn scale_target_selector<'a>(
        &'a self,
        namespace: &'a str,
        target: &'a crate::config::ScaleTarget,
    ) -> futures::future::BoxFuture<'a, Result<crate::selector::Selector, crate::ports::ClusterError>>
    {
        Box::pin(async move {
            Err(crate::ports::ClusterError::Routing {
                object: format!("{} {namespace}/{}", target.kind, target.name),
                problem: "no cluster in the load test".to_string(),
            })
        })
    }

    fn routing<'a>(
        &'a self,
        namespace: &'a str,
        kind: crate::config::RoutingKind,
        name: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<crate::ports::RoutingInfo, crate::ports::ClusterError>>
    {
        Box::pin(async move {
            Err(crate::ports::ClusterError::Routing {
                object: format!("{kind:?} {namespace}/{name}"),
                problem: "no cluster in the load test".to_string(),
            })
        })
    }
}

/// Drops warnings (the load test counts outcomes from the poller's reports).
struct NoEvents;

impl crate::events::EventSink for NoEvents {
    fn warn(&self, _warning: crate::events::Warning) {}
}
