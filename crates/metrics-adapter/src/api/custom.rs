//! custom.metrics.k8s.io: values describing Kubernetes objects, in v1beta1 and v1beta2.
//!
//! Paths under `/apis/custom.metrics.k8s.io/{version}/`:
//! - `namespaces/{ns}/{resource}/{name}/{metric}`: a namespaced object (name `*`: by labelSelector)
//! - `{resource}/{name}/{metric}`: a cluster-scoped object
//! - `namespaces/{ns}/metrics/{metric}`: the namespace object itself
//!
//! The body types are our own: the `k8s-metrics` crate has only v1beta2 and types its values by a
//! compile-time resource, while this server serves any resource (Ingress, RouteGroup, …).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

use crate::selector::{self, Selector};
use crate::store::{CustomQuery, ObjectSelector, StoredValue};

use super::discovery;
use super::status::ApiError;
use super::{ApiState, CUSTOM_GROUP, CUSTOM_VERSIONS, MetricParams, Reply, rfc3339};

/// `describedObject` (a `core/v1` ObjectReference with the fields metric servers fill in).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference<'a> {
    /// Kind of the object, e.g. `Pod`.
    pub kind: &'a str,
    /// Namespace, absent for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    /// Name of the object.
    pub name: &'a str,
    /// apiVersion of the object, e.g. `v1`.
    pub api_version: &'a str,
}

/// `metric` of a v1beta2 value.
#[derive(Debug, Serialize)]
pub struct MetricIdentifier<'a> {
    /// Metric name.
    pub name: &'a str,
    /// The metricLabelSelector the value was selected by, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<&'a LabelSelector>,
}

/// One custom.metrics.k8s.io/v1beta2 `MetricValue`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricValueV1Beta2<'a> {
    /// The object the value describes.
    pub described_object: ObjectReference<'a>,
    /// Metric name and selector.
    pub metric: MetricIdentifier<'a>,
    /// When the value was observed (RFC 3339).
    pub timestamp: String,
    /// Window the value was computed over, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<i64>,
    /// The value as a Kubernetes Quantity string.
    pub value: String,
}

/// One custom.metrics.k8s.io/v1beta1 `MetricValue`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricValueV1Beta1<'a> {
    /// The object the value describes.
    pub described_object: ObjectReference<'a>,
    /// Metric name.
    pub metric_name: &'a str,
    /// When the value was observed (RFC 3339).
    pub timestamp: String,
    /// Window the value was computed over, in seconds (`window` in v1beta1).
    #[serde(rename = "window", skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<i64>,
    /// The value as a Kubernetes Quantity string.
    pub value: String,
    /// The metricLabelSelector (v1beta1 always carries the field, `null` when absent).
    pub selector: Option<&'a LabelSelector>,
}

/// Empty list metadata (`metadata: {}`), as API servers send it.
#[derive(Debug, Serialize, Default)]
pub struct ListMeta {}

/// A `MetricValueList` of either version.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricValueList<T> {
    /// Always `MetricValueList`.
    pub kind: &'static str,
    /// `custom.metrics.k8s.io/v1beta1` or `…/v1beta2`.
    pub api_version: String,
    /// Empty list metadata.
    pub metadata: ListMeta,
    /// The values.
    pub items: Vec<T>,
}

/// A parsed custom-metrics path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Discovery,
    Values {
        namespace: Option<&'a str>,
        resource: &'a str,
        name: &'a str,
        metric: &'a str,
    },
}

fn route<'a>(segments: &[&'a str]) -> Option<Route<'a>> {
    Some(match *segments {
        [] => Route::Discovery,
        ["namespaces", ns, "metrics", metric] => Route::Values {
            namespace: None,
            resource: "namespaces",
            name: ns,
            metric,
        },
        ["namespaces", ns, resource, name, metric] => Route::Values {
            namespace: Some(ns),
            resource,
            name,
            metric,
        },
        [resource, name, metric] => Route::Values {
            namespace: None,
            resource,
            name,
            metric,
        },
        _ => return None,
    })
}

fn object_ref(value: &StoredValue) -> Option<ObjectReference<'_>> {
    let object = value.object()?;
    Some(ObjectReference {
        kind: &object.kind,
        namespace: object.namespace.as_deref(),
        name: &object.name,
        api_version: &object.api_version,
    })
}

fn window_seconds(value: &StoredValue) -> Option<i64> {
    value
        .window
        .map(|w| i64::try_from(w.as_secs()).unwrap_or(i64::MAX))
}

fn v1beta2_body(samples: &[StoredValue], selector: Option<&LabelSelector>) -> Reply {
    let items = samples
        .iter()
        .filter_map(|s| {
            Some(MetricValueV1Beta2 {
                described_object: object_ref(s)?,
                metric: MetricIdentifier {
                    name: &s.metric,
                    selector,
                },
                timestamp: rfc3339(s.timestamp),
                window_seconds: window_seconds(s),
                value: s.value.to_string(),
            })
        })
        .collect();
    Reply::json(&MetricValueList {
        kind: "MetricValueList",
        api_version: format!("{CUSTOM_GROUP}/v1beta2"),
        metadata: ListMeta::default(),
        items,
    })
}

fn v1beta1_body(samples: &[StoredValue], selector: Option<&LabelSelector>) -> Reply {
    let items = samples
        .iter()
        .filter_map(|s| {
            Some(MetricValueV1Beta1 {
                described_object: object_ref(s)?,
                metric_name: &s.metric,
                timestamp: rfc3339(s.timestamp),
                window_seconds: window_seconds(s),
                value: s.value.to_string(),
                selector,
            })
        })
        .collect();
    Reply::json(&MetricValueList {
        kind: "MetricValueList",
        api_version: format!("{CUSTOM_GROUP}/v1beta1"),
        metadata: ListMeta::default(),
        items,
    })
}

fn parse_selector(parameter: &'static str, value: Option<&str>) -> Result<Selector, ApiError> {
    selector::parse(value.unwrap_or_default())
        .map_err(|source| ApiError::BadSelector { parameter, source })
}

/// Answers a GET below `/apis/custom.metrics.k8s.io/`; `path` is the part after the group.
pub fn handle(state: &ApiState, path: &str, params: &MetricParams) -> Result<Reply, ApiError> {
    let no_route = || ApiError::NoRoute {
        path: format!("/apis/{CUSTOM_GROUP}/{path}"),
    };
    let mut segments = path.split('/');
    let version = segments.next().unwrap_or_default();
    let rest: Vec<&str> = segments.collect();
    if !CUSTOM_VERSIONS.contains(&version) || rest.iter().any(|s| s.is_empty()) {
        return Err(no_route());
    }
    let (namespace, resource, name, metric) = match route(&rest).ok_or_else(no_route)? {
        Route::Discovery => {
            return Ok(Reply::json(&discovery::custom_resources(
                &state.store,
                version,
            )));
        }
        Route::Values {
            namespace,
            resource,
            name,
            metric,
        } => (namespace, resource, name, metric),
    };
    let objects = if name == "*" {
        ObjectSelector::Labels(parse_selector(
            "labelSelector",
            params.label_selector.as_deref(),
        )?)
    } else {
        ObjectSelector::Named(name.to_string())
    };
    let metric_selector = parse_selector(
        "metricLabelSelector",
        params.metric_label_selector.as_deref(),
    )?;
    let echoed =
        (!metric_selector.selects_all()).then(|| selector::to_label_selector(&metric_selector));
    let query = CustomQuery {
        namespace: namespace.map(str::to_string),
        resource: resource.to_string(),
        objects,
        metric: metric.to_string(),
        metric_selector,
    };
    let samples = state.store.custom(&query, state.now());
    if samples.is_empty() {
        return Err(not_found(&query, name));
    }
    Ok(match version {
        "v1beta1" => v1beta1_body(&samples, echoed.as_ref()),
        _ => v1beta2_body(&samples, echoed.as_ref()),
    })
}

fn not_found(query: &CustomQuery, name: &str) -> ApiError {
    let scope = match &query.namespace {
        Some(ns) => format!(" in namespace {ns:?}"),
        None => String::new(),
    };
    let objects = if name == "*" {
        "any object matching the label selector".to_string()
    } else {
        format!("{name:?}")
    };
    ApiError::NotFound {
        message: format!(
            "no fresh value of metric {:?} for {} {objects}{scope}",
            query.metric, query.resource
        ),
        metric: query.metric.clone(),
        group: CUSTOM_GROUP,
        resource: query.resource.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_told_apart_by_shape() {
        assert_eq!(route(&[]), Some(Route::Discovery));
        assert_eq!(
            route(&["namespaces", "team", "metrics", "queue"]),
            Some(Route::Values {
                namespace: None,
                resource: "namespaces",
                name: "team",
                metric: "queue"
            })
        );
        assert_eq!(
            route(&["namespaces", "team", "pods", "*", "rps"]),
            Some(Route::Values {
                namespace: Some("team"),
                resource: "pods",
                name: "*",
                metric: "rps"
            })
        );
        assert_eq!(
            route(&["nodes", "n1", "load"]),
            Some(Route::Values {
                namespace: None,
                resource: "nodes",
                name: "n1",
                metric: "load"
            })
        );
        assert_eq!(route(&["nodes", "n1"]), None);
        assert_eq!(route(&["a", "b", "c", "d", "e", "f"]), None);
    }
}
