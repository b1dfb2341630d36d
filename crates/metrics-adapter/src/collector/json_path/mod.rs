//! `json-path`: GET JSON from every Ready pod of a workload, or from one URL, and read a number
//! with an RFC 9535 JSONPath (`serde_json_path`).

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use serde_json::Value;
use serde_json_path::JsonPath;
use tidal_core::Timestamp;

use super::{CollectError, Collected, Collector, PodValue, finite};
use crate::config::{HttpTimeouts, JsonPathSpec, PodsJsonPath, UrlJsonPath};
use crate::ports::{ClusterView, PodSummary};

/// Pods asked at the same time by one collection.
const POD_CONCURRENCY: usize = 32;
/// Larger bodies are refused: metrics endpoints answer in kilobytes.
const MAX_BODY_BYTES: usize = 4 << 20;

fn http_client(timeouts: HttpTimeouts) -> Result<reqwest::Client, CollectError> {
    reqwest::Client::builder()
        // Pod IPs and in-cluster URLs must never go through an egress proxy.
        .no_proxy()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .build()
        .map_err(|source| CollectError::ClientSetup {
            what: "JSON HTTP client",
            source,
        })
}

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
    http: &reqwest::Client,
    url: &str,
    path: &JsonPath,
    spec: &JsonPathSpec,
) -> Result<f64, CollectError> {
    let http_err = |source| CollectError::Http {
        url: url.to_string(),
        source,
    };
    let mut response = http.get(url).send().await.map_err(http_err)?;
    if !response.status().is_success() {
        return Err(CollectError::HttpStatus {
            url: url.to_string(),
            status: response.status().as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http_err)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(CollectError::NotNumber {
                url: url.to_string(),
                path: spec.json_key.clone(),
                found: format!("a body larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    let document: Value = serde_json::from_slice(&body).map_err(|source| CollectError::Json {
        url: url.to_string(),
        source,
    })?;
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
    parsed.ok_or_else(|| {
        let mut found = node.to_string();
        if found.len() > 80 {
            found = format!("{}…", found.chars().take(80).collect::<String>());
        }
        CollectError::NotNumber {
            url: url.to_string(),
            path: spec.json_key.clone(),
            found,
        }
    })
}

/// `json-path` on every Ready pod of the scale target.
pub struct PodsJsonPathCollector {
    source: PodsJsonPath,
    path: JsonPath,
    http: reqwest::Client,
    cluster: Arc<dyn ClusterView>,
}

impl PodsJsonPathCollector {
    /// A collector for `source`, finding pods through `cluster`.
    pub fn new(source: PodsJsonPath, cluster: Arc<dyn ClusterView>) -> Result<Self, CollectError> {
        Ok(Self {
            path: compile(&source.json)?,
            http: http_client(source.timeouts)?,
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
                let value = fetch_value(&self.http, &url, &self.path, &s.json).await;
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
    http: reqwest::Client,
}

impl UrlJsonPathCollector {
    /// A collector for `source`.
    pub fn new(source: UrlJsonPath) -> Result<Self, CollectError> {
        Ok(Self {
            path: compile(&source.json)?,
            http: http_client(source.timeouts)?,
            source,
        })
    }
}

impl Collector for UrlJsonPathCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            let value =
                fetch_value(&self.http, &self.source.url, &self.path, &self.source.json).await?;
            Ok(Collected::Value(value))
        })
    }
}

#[cfg(test)]
mod tests;
