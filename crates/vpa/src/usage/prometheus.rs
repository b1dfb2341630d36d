//! [`UsageSource`] over Prometheus (`prometheus-http-query`): cAdvisor's
//! `container_cpu_usage_seconds_total` as a rate and `container_memory_working_set_bytes`,
//! with queries an operator can replace. Every result series must carry `namespace`, `pod` and
//! `container` labels; others are ignored.
//!
//! History is read in one-day range queries (a step of `history_step`), so an 8-day load of a
//! big cluster never holds more than a day of answers at once. The labels of pods that are gone
//! come from kube-state-metrics' `kube_pod_labels` (prefix `label_`), when it is there.

use std::collections::HashMap;
use std::time::Duration;

use prometheus_http_query::Client;
use prometheus_http_query::response::Data;
use tidal_core::Timestamp;
use tidal_core::scheduling::Labels;

use crate::ports::{ObjectKey, UsageError, UsageHistory, UsageSample, UsageSource};

/// The placeholder in the CPU query replaced by the rate window.
pub const WINDOW_PLACEHOLDER: &str = "$window";

/// What to ask Prometheus.
#[derive(Clone, Debug)]
pub struct PrometheusQueries {
    /// CPU cores per container; `$window` is replaced by the rate window.
    pub cpu: String,
    /// Memory working set bytes per container.
    pub memory: String,
    /// Pod labels (one series per pod, labels prefixed); empty to not read them.
    pub pod_labels: String,
    /// The prefix of the label labels in `pod_labels` (`label_` in kube-state-metrics).
    pub pod_label_prefix: String,
    /// Rate window of live CPU samples.
    pub live_window: Duration,
    /// Step (and rate window) of history samples.
    pub history_step: Duration,
}

impl Default for PrometheusQueries {
    fn default() -> Self {
        Self {
            cpu: "sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!=\"\",container!=\"POD\",pod!=\"\"}[$window]))".into(),
            memory: "max by (namespace, pod, container) (container_memory_working_set_bytes{container!=\"\",container!=\"POD\",pod!=\"\"})".into(),
            pod_labels: "kube_pod_labels".into(),
            pod_label_prefix: "label_".into(),
            live_window: Duration::from_secs(300),
            history_step: Duration::from_secs(3600),
        }
    }
}

/// Usage from a Prometheus server.
#[derive(Clone)]
pub struct PrometheusUsage {
    client: Client,
    queries: PrometheusQueries,
}

/// Longest range query: one day.
const CHUNK: Duration = Duration::from_secs(24 * 3600);

impl PrometheusUsage {
    /// A source asking the server at `url`, each request bounded by `timeout`.
    pub fn new(url: &str, timeout: Duration, queries: PrometheusQueries) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        let client =
            Client::from(http, url).map_err(|e| format!("--prometheus-url {url:?}: {e}"))?;
        Ok(Self { client, queries })
    }

    fn cpu_query(&self, window: Duration) -> String {
        self.queries
            .cpu
            .replace(WINDOW_PLACEHOLDER, &format!("{}s", window.as_secs().max(1)))
    }

    async fn instant(
        &self,
        query: &str,
    ) -> Result<Vec<(HashMap<String, String>, f64, f64)>, UsageError> {
        let result = self.client.query(query).get().await.map_err(usage_error)?;
        match result.data() {
            Data::Vector(v) => Ok(v
                .iter()
                .map(|s| {
                    (
                        s.metric().clone(),
                        s.sample().timestamp(),
                        s.sample().value(),
                    )
                })
                .collect()),
            other => Err(UsageError::BadAnswer(format!(
                "{query}: expected a vector, got {}",
                kind(other)
            ))),
        }
    }

    async fn range(
        &self,
        query: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<(HashMap<String, String>, Vec<(f64, f64)>)>, UsageError> {
        let step = self.queries.history_step.as_secs_f64().max(1.0);
        let result = self
            .client
            .query_range(
                query,
                start.as_millis() / 1000,
                end.as_millis() / 1000,
                step,
            )
            .get()
            .await
            .map_err(usage_error)?;
        match result.data() {
            Data::Matrix(m) => Ok(m
                .iter()
                .map(|r| {
                    let points = r
                        .samples()
                        .iter()
                        .map(|s| (s.timestamp(), s.value()))
                        .collect();
                    (r.metric().clone(), points)
                })
                .collect()),
            other => Err(UsageError::BadAnswer(format!(
                "{query}: expected a matrix, got {}",
                kind(other)
            ))),
        }
    }

    async fn history_chunk(
        &self,
        start: Timestamp,
        end: Timestamp,
        out: &mut UsageHistory,
    ) -> Result<(), UsageError> {
        let cpu = self
            .range(&self.cpu_query(self.queries.history_step), start, end)
            .await?;
        let memory = self.range(&self.queries.memory, start, end).await?;
        for (metric, points) in cpu {
            if let Some((pod, container)) = container_of(&metric) {
                out.samples.extend(
                    points
                        .into_iter()
                        .map(|(t, v)| sample(&pod, &container, t, Some(v), None)),
                );
            }
        }
        for (metric, points) in memory {
            if let Some((pod, container)) = container_of(&metric) {
                out.samples.extend(
                    points
                        .into_iter()
                        .map(|(t, v)| sample(&pod, &container, t, None, Some(v))),
                );
            }
        }
        if !self.queries.pod_labels.is_empty() {
            for (metric, _) in self.range(&self.queries.pod_labels, start, end).await? {
                if let (Some(ns), Some(pod)) = (metric.get("namespace"), metric.get("pod")) {
                    let labels: Labels = metric
                        .iter()
                        .filter_map(|(k, v)| {
                            k.strip_prefix(&self.queries.pod_label_prefix)
                                .map(|k| (k.to_owned(), v.clone()))
                        })
                        .collect();
                    out.pod_labels.insert(ObjectKey::new(ns, pod), labels);
                }
            }
        }
        Ok(())
    }
}

impl UsageSource for PrometheusUsage {
    async fn current(&self) -> Result<Vec<UsageSample>, UsageError> {
        let cpu = self
            .instant(&self.cpu_query(self.queries.live_window))
            .await?;
        let memory = self.instant(&self.queries.memory).await?;
        let mut by_container: HashMap<(ObjectKey, String), UsageSample> = HashMap::new();
        for (metric, t, v) in cpu {
            if let Some((pod, container)) = container_of(&metric) {
                by_container.insert(
                    (pod.clone(), container.clone()),
                    sample(&pod, &container, t, Some(v), None),
                );
            }
        }
        for (metric, t, v) in memory {
            if let Some((pod, container)) = container_of(&metric) {
                by_container
                    .entry((pod.clone(), container.clone()))
                    .or_insert_with(|| sample(&pod, &container, t, None, None))
                    .memory_bytes = Some(v);
            }
        }
        Ok(by_container.into_values().collect())
    }

    async fn history(&self, start: Timestamp, end: Timestamp) -> Result<UsageHistory, UsageError> {
        let mut out = UsageHistory::default();
        let mut from = start;
        while from < end {
            let to = (from + CHUNK).min(end);
            self.history_chunk(from, to, &mut out).await?;
            // Range queries include both ends: start the next chunk one step later.
            from = to + self.queries.history_step;
        }
        Ok(out)
    }

    fn has_history(&self) -> bool {
        true
    }
}

fn container_of(metric: &HashMap<String, String>) -> Option<(ObjectKey, String)> {
    let ns = metric.get("namespace")?;
    let pod = metric.get("pod")?;
    let container = metric.get("container")?;
    Some((ObjectKey::new(ns, pod), container.clone()))
}

fn sample(
    pod: &ObjectKey,
    container: &str,
    at_secs: f64,
    cpu: Option<f64>,
    memory: Option<f64>,
) -> UsageSample {
    UsageSample {
        pod: pod.clone(),
        container: container.to_owned(),
        at: Timestamp::from_millis((at_secs * 1000.0) as i64),
        cpu_cores: cpu.filter(|v| v.is_finite() && *v >= 0.0),
        memory_bytes: memory.filter(|v| v.is_finite() && *v >= 0.0),
    }
}

fn kind(data: &Data) -> &'static str {
    match data {
        Data::Vector(_) => "a vector",
        Data::Matrix(_) => "a matrix",
        Data::Scalar(_) => "a scalar",
    }
}

fn usage_error(e: prometheus_http_query::Error) -> UsageError {
    match e {
        prometheus_http_query::Error::Prometheus(p) => UsageError::BadAnswer(p.to_string()),
        e => UsageError::Unreachable(Box::new(e)),
    }
}
