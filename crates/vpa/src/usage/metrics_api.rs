//! [`UsageSource`] over the `metrics.k8s.io/v1beta1` PodMetrics API (metrics-server): live
//! samples only, no history.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Client, ResourceExt};
use serde::Deserialize;
use tidal_core::Timestamp;
use tidal_core::quantity::{parse_bytes, parse_cpu_millis};

use crate::ports::{ObjectKey, UsageError, UsageHistory, UsageSample, UsageSource};

/// Usage from the resource metrics API.
#[derive(Clone)]
pub struct MetricsApiUsage {
    api: Api<DynamicObject>,
}

#[derive(Deserialize)]
struct PodMetricsData {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

#[derive(Deserialize)]
struct ContainerMetrics {
    name: String,
    #[serde(default)]
    usage: std::collections::BTreeMap<String, String>,
}

impl MetricsApiUsage {
    /// A source reading PodMetrics of every namespace through `client`.
    pub fn new(client: Client) -> Self {
        let gvk = GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics");
        let resource = ApiResource::from_gvk_with_plural(&gvk, "pods");
        Self {
            api: Api::all_with(client, &resource),
        }
    }
}

/// The samples of one PodMetrics object (`None` values for unparsable quantities).
fn samples_of(object: &DynamicObject) -> Vec<UsageSample> {
    let Ok(data) = serde_json::from_value::<PodMetricsData>(object.data.clone()) else {
        return Vec::new();
    };
    let at = data
        .timestamp
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| Timestamp::from_millis(t.as_millisecond()))
        .unwrap_or_default();
    let pod = ObjectKey::new(object.namespace().unwrap_or_default(), object.name_any());
    data.containers
        .into_iter()
        .map(|c| UsageSample {
            pod: pod.clone(),
            at,
            cpu_cores: c
                .usage
                .get("cpu")
                .and_then(|q| parse_cpu_millis(q).ok())
                .map(|m| m as f64 / 1000.0),
            memory_bytes: c
                .usage
                .get("memory")
                .and_then(|q| parse_bytes(q).ok())
                .map(|b| b as f64),
            container: c.name,
        })
        .collect()
}

impl UsageSource for MetricsApiUsage {
    async fn current(&self) -> Result<Vec<UsageSample>, UsageError> {
        let list = self
            .api
            .list(&ListParams::default())
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code < 500 => UsageError::BadAnswer(s.message),
                e => UsageError::Unreachable(Box::new(e)),
            })?;
        Ok(list.items.iter().flat_map(samples_of).collect())
    }

    async fn history(&self, _: Timestamp, _: Timestamp) -> Result<UsageHistory, UsageError> {
        Ok(UsageHistory::default())
    }

    fn has_history(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn pod_metrics_become_samples() {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "metrics.k8s.io/v1beta1",
            "kind": "PodMetrics",
            "metadata": {"name": "web-1", "namespace": "shop"},
            "timestamp": "2026-12-01T10:00:00Z",
            "window": "30s",
            "containers": [
                {"name": "app", "usage": {"cpu": "250m", "memory": "512Mi"}},
                {"name": "sidecar", "usage": {"cpu": "junk"}}
            ]
        }))
        .unwrap();
        let samples = samples_of(&object);
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].pod, ObjectKey::new("shop", "web-1"));
        assert_eq!(samples[0].cpu_cores, Some(0.25));
        assert_eq!(samples[0].memory_bytes, Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(samples[0].at, Timestamp::from_secs(1_796_119_200));
        assert_eq!(
            (samples[1].cpu_cores, samples[1].memory_bytes),
            (None, None)
        );
    }
}
