//! `json-path`: GET JSON from every Ready pod of a workload, or from one URL, and read a number
//! with an RFC 9535 JSONPath (`serde_json_path`).

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use serde_json::Value;
use serde_json_path::JsonPath;
use tidal_core::Timestamp;

#[cfg(test)]
use super::fetch::BodyLimits;
use super::fetch::Fetcher;
use super::{CollectError, Collected, Collector, PodValue, finite};
use crate::config::{JsonPathSpec, PodsJsonPath, UrlJsonPath};
#[cfg(test)]
use crate::outbound::{OutboundPolicy, http_client};
use crate::ports::{ClusterView, PodSummary};

/// Pods asked at the same time by one collection.
const POD_CONCURRENCY: usize = 32;

fn compile(spec: &JsonPathSpec) -> Result<JsonPath, CollectError> {
    // Validated when the config was built; this only fails if that check was bypassed.
    JsonPath::parse(&spec.json_key).map_err(|e| CollectError::NotNumber {
        url: String::new(),
        path: spec.json_key.clone(),
        found: format!("an invalid JSONPath ({e})"),
    })
}

/// GETs `url` and evaluates the JSONPath on the body.
async fn fetch_value(
    fetcher: &Fetcher,
    url: &str,
    path: &JsonPath,
    spec: &JsonPathSpec,
) -> Result<f64, CollectError> {
    let body = fetcher.get(url, &[]).await?;
    if !(200..300).contains(&body.status) {
        return Err(CollectError::HttpStatus {
            url: url.to_string(),
            status: body.status,
        });
    }
    let document: Value = fetcher.parse(url, &body).await?;
    drop(body);
    evaluate(url, path, spec, &document)
}

/// The number `path` selects in `document`, aggregated when it selects several.
pub fn evaluate(
    url: &str,
    path: &JsonPath,
    spec: &JsonPathSpec,
    document: &Value,
) -> Result<f64, CollectError> {
    let numbers = path
        .query(document)
        .all()
        .into_iter()
        .map(|node| number(url, spec, node))
        .collect::<Result<Vec<f64>, _>>()?;
    let value = match (numbers.len(), spec.aggregator) {
        (0, _) => {
            return Err(CollectError::NoMatch {
                url: url.to_string(),
                path: spec.json_key.clone(),
            });
        }
        (1, _) => numbers[0],
        (count, None) => {
            return Err(CollectError::Ambiguous {
                url: url.to_string(),
                path: spec.json_key.clone(),
                count,
            });
        }
        (_, Some(aggregator)) => aggregator.apply(&numbers).unwrap_or(f64::NAN),
    };
    finite(&format!("{url} {}", spec.json_key), value)
}

fn number(url: &str, spec: &JsonPathSpec, node: &Value) -> Result<f64, CollectError> {
    let parsed = match node {
        Value::Number(n) => n.as_f64(),
        // Some exporters quote numbers; accept them, but nothing else.
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| CollectError::NotNumber {
        url: url.to_string(),
        path: spec.json_key.clone(),
        found: describe(node),
    })
}

/// What kind of JSON value `node` is, without its content (which may be anything the endpoint
/// chose to put there, credentials included).
fn describe(node: &Value) -> String {
    match node {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Number(_) => "a number".to_string(),
        Value::String(s) => format!("a string of {} bytes", s.len()),
        Value::Array(a) => format!("an array of {} values", a.len()),
        Value::Object(o) => format!("an object with {} members", o.len()),
    }
}

/// `json-path` on every Ready pod of the scale target.
pub struct PodsJsonPathCollector {
    source: PodsJsonPath,
    path: JsonPath,
    fetcher: Fetcher,
    cluster: Arc<dyn ClusterView>,
}

impl PodsJsonPathCollector {
    /// A collector for `source`, finding pods through `cluster`. Pod IPs come from the
    /// Kubernetes API, not from the tenant, so no outbound policy applies; redirects are still
    /// refused and bodies still bounded by `limits`.
    #[cfg(test)]
    pub fn new(
        source: PodsJsonPath,
        cluster: Arc<dyn ClusterView>,
        limits: BodyLimits,
    ) -> Result<Self, CollectError> {
        let http = http_client(None, source.timeouts.connect, source.timeouts.request).map_err(
            |source| CollectError::ClientSetup {
                what: "JSON HTTP client",
                source,
            },
        )?;
        Self::with_fetcher(source, cluster, Fetcher::new(http, None, limits))
    }

    /// A collector for `source` fetching through `fetcher` (shared by collectors with the
    /// same timeouts; it must not resolve through the outbound policy).
    pub fn with_fetcher(
        source: PodsJsonPath,
        cluster: Arc<dyn ClusterView>,
        fetcher: Fetcher,
    ) -> Result<Self, CollectError> {
        Ok(Self {
            path: compile(&source.json)?,
            fetcher,
            source,
            cluster,
        })
    }

    fn pod_url(&self, pod: &PodSummary) -> Option<String> {
        let s = &self.source;
        let address = self.cluster.pod_address(pod, s.port)?;
        let query = s
            .raw_query
            .as_deref()
            .map(|q| format!("?{}", q.trim_start_matches('?')))
            .unwrap_or_default();
        Some(format!(
            "{}://{address}{}{query}",
            s.scheme.as_str(),
            s.path
        ))
    }

    async fn collect_pods(&self, now: Timestamp) -> Result<Collected, CollectError> {
        let s = &self.source;
        let selector = self
            .cluster
            .scale_target_selector(&s.namespace, &s.scale_target)
            .await?;
        let pods: Vec<(PodSummary, String)> = self
            .cluster
            .pods(&s.namespace, &selector)
            .into_iter()
            .filter(|p| p.serves(now, s.min_pod_ready_age))
            .filter_map(|p| self.pod_url(&p).map(|url| (p, url)))
            .collect();
        let results: Vec<(PodSummary, Result<f64, CollectError>)> = stream::iter(pods)
            .map(|(pod, url)| async move {
                let value = fetch_value(&self.fetcher, &url, &self.path, &s.json).await;
                (pod, value)
            })
            .buffer_unordered(POD_CONCURRENCY)
            .collect()
            .await;
        let mut values = Vec::new();
        let mut failures = Vec::new();
        for (pod, result) in results {
            match result {
                Ok(value) => values.push(PodValue {
                    name: pod.name,
                    labels: pod.labels,
                    value,
                }),
                Err(e) => {
                    // Left out, not counted as zero: the HPA treats a missing pod conservatively.
                    tracing::debug!(pod = %pod.name, namespace = %pod.namespace, error = %e, "pod left out");
                    failures.push(e);
                }
            }
        }
        if values.is_empty() && !failures.is_empty() {
            let failed = failures.len();
            return Err(CollectError::AllPodsFailed {
                failed,
                first: Box::new(failures.swap_remove(0)),
            });
        }
        values.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Collected::PerPod(values))
    }
}

impl Collector for PodsJsonPathCollector {
    fn collect(&self, now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(self.collect_pods(now))
    }
}

/// `json-path` on one URL (external metric).
pub struct UrlJsonPathCollector {
    source: UrlJsonPath,
    path: JsonPath,
    fetcher: Fetcher,
}

impl UrlJsonPathCollector {
    /// A collector for `source`, whose URL the tenant chose: connections go through `policy`.
    #[cfg(test)]
    pub fn new(
        source: UrlJsonPath,
        policy: Arc<OutboundPolicy>,
        limits: BodyLimits,
    ) -> Result<Self, CollectError> {
        let http = http_client(
            Some(policy.clone()),
            source.timeouts.connect,
            source.timeouts.request,
        )
        .map_err(|source| CollectError::ClientSetup {
            what: "JSON HTTP client",
            source,
        })?;
        Self::with_fetcher(source, Fetcher::new(http, Some(policy), limits))
    }

    /// A collector for `source` fetching through `fetcher` (shared by collectors with the
    /// same timeouts; it must enforce the outbound policy).
    pub fn with_fetcher(source: UrlJsonPath, fetcher: Fetcher) -> Result<Self, CollectError> {
        Ok(Self {
            path: compile(&source.json)?,
            fetcher,
            source,
        })
    }
}

impl Collector for UrlJsonPathCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            let value = fetch_value(
                &self.fetcher,
                &self.source.url,
                &self.path,
                &self.source.json,
            )
            .await?;
            Ok(Collected::Value(value))
        })
    }
}

#[cfg(test)]
mod tests;
