//! Typed collector configs: one per HPA metric, built from the HPA's metric specs and its
//! `metric-config.` annotations ([`build_hpa_collectors`]).
//!
//! A [`CollectorConfig`] splits into a [`Source`] (what to ask which backend: the
//! de-duplication key, identical for identical queries of different HPAs) and an [`Output`]
//! (how the answer becomes this HPA's samples: metric name, described object, labels,
//! per-replica division, weight).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::annotations::{MetricKey, MetricType};
use crate::outbound::OutboundPolicy;
use crate::redact::redact_userinfo;
use crate::store::{CollectorId, DescribedObject};

mod build;
mod error;
mod keys;
pub mod limits;

pub use build::{HpaCollectors, MetricConfigError, build_hpa_collectors};
pub use error::ConfigError;
pub(crate) use keys::valid_hostname;

/// skipper's per-host request counter; `{hosts}` becomes the hostnames as skipper labels them.
pub const DEFAULT_RPS_QUERY_TEMPLATE: &str =
    "sum(rate(skipper_serve_host_duration_seconds_count{host=~\"{hosts}\"}[1m]))";

/// Settings of the collection side that come from flags.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionSettings {
    /// Interval of metrics without an `interval` annotation (`--default-collection-interval`).
    pub default_interval: Duration,
    /// Prometheus used when an HPA names none (`--prometheus-server`).
    pub prometheus_server: Option<String>,
    /// Regions SQS queues may live in (`--aws-region`, else the region the adapter runs in);
    /// empty allows none.
    pub aws_regions: Vec<String>,
    /// Endpoint override for AWS clients, for tests (`--aws-endpoint-url`).
    pub aws_endpoint_url: Option<String>,
    /// PromQL for requests per second. `{hosts}` is replaced by a regex alternation of the
    /// hostnames with every character other than `[A-Za-z0-9_]` turned into `_` (skipper's
    /// `host` label); `{hosts_regex}` by the hostnames as written, dots escaped (e.g. for
    /// `nginx_ingress_controller_requests{host=~"{hosts_regex}"}`).
    pub rps_query_template: String,
    /// At most this many collections run at the same time.
    pub max_concurrent_collections: usize,
    /// Connect timeout of JSON collectors without a `connect-timeout` annotation.
    pub default_connect_timeout: Duration,
    /// Request timeout of JSON collectors without a `request-timeout` annotation.
    pub default_request_timeout: Duration,
    /// Confine annotation PromQL queries to the HPA's namespace
    /// (`--promql-namespace-isolation`, see [`crate::promql_tenancy`]).
    pub promql_namespace_isolation: bool,
    /// At most this many collections of one namespace run at the same time.
    pub max_concurrent_per_namespace: usize,
    /// Which addresses tenant-chosen URLs may reach.
    pub outbound: OutboundPolicy,
    /// Prometheus servers an HPA may name in `prometheus-server`, besides the default one.
    pub allowed_prometheus_servers: Vec<String>,
    /// Largest response body read, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of response bodies (and their parsed form) held at once across all collections.
    pub body_budget_bytes: usize,
}

/// Default of [`CollectionSettings::max_body_bytes`]: metrics endpoints answer in kilobytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Default of [`CollectionSettings::body_budget_bytes`].
pub const DEFAULT_BODY_BUDGET_BYTES: usize = 64 << 20;

impl Default for CollectionSettings {
    fn default() -> Self {
        Self {
            default_interval: Duration::from_secs(60),
            prometheus_server: None,
            aws_regions: Vec::new(),
            aws_endpoint_url: None,
            rps_query_template: DEFAULT_RPS_QUERY_TEMPLATE.to_string(),
            max_concurrent_collections: 64,
            default_connect_timeout: Duration::from_secs(5),
            default_request_timeout: Duration::from_secs(15),
            promql_namespace_isolation: false,
            max_concurrent_per_namespace: 16,
            outbound: OutboundPolicy::default(),
            allowed_prometheus_servers: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_budget_bytes: DEFAULT_BODY_BUDGET_BYTES,
        }
    }
}

impl CollectionSettings {
    /// Prometheus servers an HPA may name: the default one and the allowed ones, without
    /// trailing slashes.
    pub fn allowed_prometheus_servers(&self) -> impl Iterator<Item = &str> {
        self.prometheus_server
            .iter()
            .chain(&self.allowed_prometheus_servers)
            .map(|s| s.trim_end_matches('/'))
    }
}

/// Namespace and name of an HPA.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HpaKey {
    /// The HPA's namespace.
    pub namespace: String,
    /// The HPA's name.
    pub name: String,
}

impl fmt::Display for HpaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The collector types Tidal implements, with their annotation spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollectorType {
    /// JSON from every Ready pod of the scale target.
    JsonPathPods,
    /// JSON from one URL.
    JsonPathUrl,
    /// A PromQL query.
    Prometheus,
    /// Requests per second of hostnames, from the ingress controller's metrics in Prometheus.
    RequestsPerSecond,
    /// Visible messages in an SQS queue.
    SqsQueueLength,
}

impl CollectorType {
    /// A bounded label value for metrics and `/debug/collectors`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorType::JsonPathPods => "json-path-pods",
            CollectorType::JsonPathUrl => "json-path-url",
            CollectorType::Prometheus => "prometheus",
            CollectorType::RequestsPerSecond => "requests-per-second",
            CollectorType::SqsQueueLength => "sqs-queue-length",
        }
    }
}

impl fmt::Display for CollectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How several values matched by one JSONPath become one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregator {
    /// Arithmetic mean.
    Avg,
    /// Largest value.
    Max,
    /// Smallest value.
    Min,
    /// Sum.
    Sum,
}

impl Aggregator {
    /// Applies the aggregation; `None` for no values.
    pub fn apply(self, values: &[f64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let sum: f64 = values.iter().sum();
        Some(match self {
            Aggregator::Avg => sum / values.len() as f64,
            Aggregator::Sum => sum,
            Aggregator::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregator::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        })
    }
}

/// URL scheme of a pod endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A JSONPath (RFC 9535) and how to combine several matches. The path is validated when the
/// config is built.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JsonPathSpec {
    /// The JSONPath, e.g. `$.http_server.rps`.
    pub json_key: String,
    /// How to combine several matched values; `None` requires exactly one match.
    pub aggregator: Option<Aggregator>,
}

/// Per-request HTTP timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HttpTimeouts {
    /// Time to establish the connection.
    pub connect: Duration,
    /// Time for the whole request.
    pub request: Duration,
}

/// The workload whose pods a Pods metric reads (`spec.scaleTargetRef`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScaleTarget {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `Deployment` or `StatefulSet`.
    pub kind: String,
    /// Name of the workload.
    pub name: String,
}

/// JSON from every Ready pod of a workload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodsJsonPath {
    /// Namespace of the workload and its pods.
    pub namespace: String,
    /// The workload.
    pub scale_target: ScaleTarget,
    /// `scheme`.
    pub scheme: Scheme,
    /// `port`.
    pub port: u16,
    /// `path`, starting with `/`.
    pub path: String,
    /// `raw-query`, appended after `?`.
    pub raw_query: Option<String>,
    /// `json-key` and `aggregator`.
    pub json: JsonPathSpec,
    /// `connect-timeout` and `request-timeout`.
    pub timeouts: HttpTimeouts,
    /// `min-pod-ready-age`.
    pub min_pod_ready_age: Duration,
}

/// JSON from one URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UrlJsonPath {
    /// `endpoint`, an http(s) URL.
    pub url: String,
    /// `json-key` and `aggregator`.
    pub json: JsonPathSpec,
    /// `connect-timeout` and `request-timeout`.
    pub timeouts: HttpTimeouts,
}

/// One PromQL query against one Prometheus.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrometheusQuery {
    /// Base URL of Prometheus.
    pub server: String,
    /// The PromQL expression.
    pub query: String,
}

/// Routing object kinds whose traffic the requests-per-second collector measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoutingKind {
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `zalando.org/v1` RouteGroup (skipper).
    RouteGroup,
}

/// What the requests-per-second collector measures.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RpsTarget {
    /// The hosts of an Ingress or RouteGroup, times the weight of `backend` if given.
    Object {
        /// Namespace of the object.
        namespace: String,
        /// Ingress or RouteGroup.
        kind: RoutingKind,
        /// Name of the object.
        name: String,
        /// Backend whose share of the traffic counts (`backend` annotation).
        backend: Option<String>,
    },
    /// Fixed hostnames (`hostnames` annotation).
    Hostnames(Vec<String>),
}

/// Requests per second measured in Prometheus.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestsPerSecond {
    /// Base URL of Prometheus.
    pub server: String,
    /// What to measure.
    pub target: RpsTarget,
}

/// Visible messages in one SQS queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SqsQueue {
    /// AWS region of the queue.
    pub region: String,
    /// Queue name (not URL).
    pub queue_name: String,
}

/// What to ask which backend. Equal sources are collected once and shared.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// `json-path` on pods.
    PodsJsonPath(PodsJsonPath),
    /// `json-path` on a URL.
    UrlJsonPath(UrlJsonPath),
    /// `prometheus`.
    Prometheus(PrometheusQuery),
    /// `requests-per-second`.
    RequestsPerSecond(RequestsPerSecond),
    /// `sqs-queue-length`.
    SqsQueueLength(SqsQueue),
}

impl Source {
    /// The collector type that serves this source.
    pub fn collector_type(&self) -> CollectorType {
        match self {
            Source::PodsJsonPath(_) => CollectorType::JsonPathPods,
            Source::UrlJsonPath(_) => CollectorType::JsonPathUrl,
            Source::Prometheus(_) => CollectorType::Prometheus,
            Source::RequestsPerSecond(_) => CollectorType::RequestsPerSecond,
            Source::SqsQueueLength(_) => CollectorType::SqsQueueLength,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::PodsJsonPath(s) => write!(
                f,
                "{}://<pods of {} {}/{}>:{}{} {}",
                s.scheme.as_str(),
                s.scale_target.kind,
                s.namespace,
                s.scale_target.name,
                s.port,
                s.path,
                s.json.json_key
            ),
            Source::UrlJsonPath(s) => {
                write!(f, "{} {}", redact_userinfo(s.url.as_str()), s.json.json_key)
            }
            Source::Prometheus(s) => {
                write!(f, "{}: {}", redact_userinfo(s.server.as_str()), s.query)
            }
            Source::RequestsPerSecond(s) => match &s.target {
                RpsTarget::Object {
                    namespace,
                    kind,
                    name,
                    backend,
                } => write!(
                    f,
                    "{}: hosts of {kind:?} {namespace}/{name} backend {}",
                    s.server,
                    backend.as_deref().unwrap_or("(all)")
                ),
                RpsTarget::Hostnames(hosts) => write!(f, "{}: {}", s.server, hosts.join(",")),
            },
            Source::SqsQueueLength(s) => write!(f, "sqs {} {}", s.region, s.queue_name),
        }
    }
}

/// What the samples of one HPA metric describe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// One custom value per pod (`pods/*/{metric}`).
    Pods {
        /// Namespace of the pods.
        namespace: String,
        /// Metric name.
        metric: String,
    },
    /// One custom value describing `object`.
    Object {
        /// The described object (labels empty: object metrics are fetched by name).
        object: DescribedObject,
        /// Metric name.
        metric: String,
    },
    /// One external value.
    External {
        /// Namespace of the HPA.
        namespace: String,
        /// Metric name.
        metric: String,
        /// The metric selector's `matchLabels`.
        labels: BTreeMap<String, String>,
    },
}

/// How the collected value becomes this HPA's samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// What the samples describe.
    pub target: OutputTarget,
    /// Divide by the HPA's current replica count (`per-replica`).
    pub per_replica: bool,
    /// Multiply by this percentage (`weight`).
    pub weight_percent: Option<f64>,
}

/// Everything needed to collect one HPA metric.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorConfig {
    /// Store key: `namespace/hpa/metric-type/metric-name`.
    pub id: CollectorId,
    /// The HPA.
    pub hpa: HpaKey,
    /// The metric's type and name.
    pub metric: MetricKey,
    /// Collection interval.
    pub interval: Duration,
    /// What to query.
    pub source: Source,
    /// How the result is labelled.
    pub output: Output,
}

impl CollectorConfig {
    /// The collector type serving this metric.
    pub fn collector_type(&self) -> CollectorType {
        self.source.collector_type()
    }
}

/// The store key of one HPA metric; `occurrence` > 1 disambiguates repeated names.
pub fn collector_id(hpa: &HpaKey, metric: &MetricKey, occurrence: usize) -> CollectorId {
    let base = format!(
        "{}/{}/{}/{}",
        hpa.namespace, hpa.name, metric.metric_type, metric.name
    );
    if occurrence > 1 {
        CollectorId(format!("{base}#{occurrence}"))
    } else {
        CollectorId(base)
    }
}

/// The lowercase plural resource (`kind` + group) the HPA controller puts into URLs,
/// e.g. `ingresses.networking.k8s.io` for `networking.k8s.io/v1` `Ingress`.
pub fn resource_name(api_version: &str, kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    let plural = if lower == "endpoints" {
        lower
    } else if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    };
    match api_version.split_once('/') {
        Some((group, _)) if !group.is_empty() => format!("{plural}.{group}"),
        _ => plural,
    }
}

/// Metric type helper for [`MetricKey`] construction.
pub fn metric_key(metric_type: MetricType, name: &str) -> MetricKey {
    MetricKey {
        metric_type,
        name: name.to_string(),
    }
}
