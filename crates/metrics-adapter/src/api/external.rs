//! external.metrics.k8s.io/v1beta1: values not tied to a Kubernetes object (queues, hostnames,
//! PromQL results), scoped to the namespace of the HPA asking.
//!
//! Path below `/apis/external.metrics.k8s.io/v1beta1/`: `namespaces/{ns}/{metric}`, with
//! `labelSelector` matched against the metric labels (the HPA's `metric.selector`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::selector;
use crate::store::ExternalQuery;

use super::custom::ListMeta;
use super::discovery;
use super::status::ApiError;
use super::{ApiState, EXTERNAL_GROUP, EXTERNAL_VERSIONS, MetricParams, Reply, rfc3339};

/// One `ExternalMetricValue`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricValue<'a> {
    /// Metric name.
    pub metric_name: &'a str,
    /// Labels identifying this series of the metric.
    pub metric_labels: &'a BTreeMap<String, String>,
    /// When the value was observed (RFC 3339).
    pub timestamp: String,
    /// Window the value was computed over, in seconds.
    #[serde(rename = "window", skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<i64>,
    /// The value as a Kubernetes Quantity string.
    pub value: String,
}

/// An `ExternalMetricValueList`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricValueList<'a> {
    /// Always `ExternalMetricValueList`.
    pub kind: &'static str,
    /// Always `external.metrics.k8s.io/v1beta1`.
    pub api_version: String,
    /// Empty list metadata.
    pub metadata: ListMeta,
    /// The values.
    pub items: Vec<ExternalMetricValue<'a>>,
}

/// Answers a GET below `/apis/external.metrics.k8s.io/`; `path` is the part after the group.
pub fn handle(state: &ApiState, path: &str, params: &MetricParams) -> Result<Reply, ApiError> {
    let no_route = || ApiError::NoRoute {
        path: format!("/apis/{EXTERNAL_GROUP}/{path}"),
    };
    let segments: Vec<&str> = path.split('/').collect();
    let (version, namespace, metric) = match *segments.as_slice() {
        [version] if EXTERNAL_VERSIONS.contains(&version) => {
            return Ok(Reply::json(&discovery::external_resources(
                &state.store,
                version,
            )));
        }
        [version, "namespaces", ns, metric]
            if EXTERNAL_VERSIONS.contains(&version) && !ns.is_empty() && !metric.is_empty() =>
        {
            (version, ns, metric)
        }
        _ => return Err(no_route()),
    };
    let selector = selector::parse(params.label_selector.as_deref().unwrap_or_default()).map_err(
        |source| ApiError::BadSelector {
            parameter: "labelSelector",
            source,
        },
    )?;
    let query = ExternalQuery {
        namespace: namespace.to_string(),
        metric: metric.to_string(),
        selector,
    };
    let samples = state.store.external(&query, state.now());
    let items: Vec<ExternalMetricValue<'_>> = samples
        .iter()
        .map(|s| ExternalMetricValue {
            metric_name: &s.metric,
            metric_labels: &s.metric_labels,
            timestamp: rfc3339(s.timestamp),
            window_seconds: s
                .window
                .map(|w| i64::try_from(w.as_secs()).unwrap_or(i64::MAX)),
            value: s.value.to_string(),
        })
        .collect();
    if items.is_empty() {
        return Err(ApiError::NotFound {
            message: format!(
                "no fresh value of external metric {metric:?} in namespace {namespace:?} matching the label selector"
            ),
            metric: metric.to_string(),
            group: EXTERNAL_GROUP,
            resource: metric.to_string(),
        });
    }
    Ok(Reply::json(&ExternalMetricValueList {
        kind: "ExternalMetricValueList",
        api_version: format!("{EXTERNAL_GROUP}/{version}"),
        metadata: ListMeta::default(),
        items,
    }))
}
