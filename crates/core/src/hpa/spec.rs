//! The `autoscaling/v2` HorizontalPodAutoscaler spec, in the same shape as the
//! Kubernetes API (camelCase fields, `type` tags), so HPA YAML deserializes directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

/// Kubernetes' default target when an HPA lists no metrics: 80 % CPU utilization.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// What an HPA scales and how: `spec` of an `autoscaling/v2` HorizontalPodAutoscaler.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaSpec {
    /// The scaled workload; informative only, the algorithm does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_target_ref: Option<CrossVersionObjectReference>,
    /// Lower bound of the replica count (Kubernetes default 1).
    #[serde(default = "default_min_replicas")]
    pub min_replicas: i32,
    /// Upper bound of the replica count.
    pub max_replicas: i32,
    /// The metrics; empty means 80 % CPU utilization, as Kubernetes defaults it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
    /// Scaling policies and stabilization; `None` selects the legacy behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HpaBehavior>,
}

fn default_min_replicas() -> i32 {
    1
}

impl HpaSpec {
    /// A spec with the given bounds and metrics and no `behavior`.
    pub fn new(min_replicas: i32, max_replicas: i32, metrics: Vec<MetricSpec>) -> Self {
        Self {
            scale_target_ref: None,
            min_replicas,
            max_replicas,
            metrics,
            behavior: None,
        }
    }

    /// The same spec with `behavior` set.
    pub fn with_behavior(mut self, behavior: HpaBehavior) -> Self {
        self.behavior = Some(behavior);
        self
    }

    /// The metrics the controller evaluates: the listed ones, or Kubernetes' default.
    pub fn effective_metrics(&self) -> Vec<MetricSpec> {
        if self.metrics.is_empty() {
            vec![MetricSpec::resource_utilization(
                "cpu",
                DEFAULT_CPU_UTILIZATION,
            )]
        } else {
            self.metrics.clone()
        }
    }

    /// Whether an Object or External metric is configured: the only kinds that can bring
    /// a target back from zero replicas.
    pub fn has_object_or_external_metric(&self) -> bool {
        self.metrics
            .iter()
            .any(|m| matches!(m, MetricSpec::Object { .. } | MetricSpec::External { .. }))
    }
}

/// Reference to an object by kind and name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrossVersionObjectReference {
    /// The object's kind, e.g. `Deployment` or `Ingress`.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The object's API version, e.g. `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// One metric of an HPA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum MetricSpec {
    /// A resource (CPU, memory) of the whole pod, as the resource metrics API reports it.
    Resource {
        /// The source.
        resource: ResourceMetricSource,
    },
    /// A resource of one named container of each pod.
    ContainerResource {
        /// The source.
        #[serde(rename = "containerResource")]
        container_resource: ContainerResourceMetricSource,
    },
    /// A custom metric per pod, averaged over the pods.
    Pods {
        /// The source.
        pods: PodsMetricSource,
    },
    /// A custom metric describing one Kubernetes object.
    Object {
        /// The source.
        object: ObjectMetricSource,
    },
    /// A metric from outside the cluster (queue length, …).
    External {
        /// The source.
        external: ExternalMetricSource,
    },
}

/// Source of a `Resource` metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceMetricSource {
    /// The resource name, e.g. `cpu` or `memory`.
    pub name: String,
    /// `Utilization` or `AverageValue`.
    pub target: MetricTarget,
}

/// Source of a `ContainerResource` metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerResourceMetricSource {
    /// The resource name, e.g. `cpu`.
    pub name: String,
    /// The container whose usage and request count.
    pub container: String,
    /// `Utilization` or `AverageValue`.
    pub target: MetricTarget,
}

/// Source of a `Pods` metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodsMetricSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// `AverageValue`.
    pub target: MetricTarget,
}

/// Source of an `Object` metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMetricSource {
    /// The object the metric describes.
    pub described_object: CrossVersionObjectReference,
    /// The metric.
    pub metric: MetricIdentifier,
    /// `Value` or `AverageValue`.
    pub target: MetricTarget,
}

/// Source of an `External` metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalMetricSource {
    /// The metric.
    pub metric: MetricIdentifier,
    /// `Value` or `AverageValue`.
    pub target: MetricTarget,
}

/// A metric name with an optional label selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricIdentifier {
    /// The metric's name.
    pub name: String,
    /// Narrows the metric's series; passed through to the metrics source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<MetricSelector>,
}

/// A Kubernetes label selector, carried through to metrics sources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSelector {
    /// Labels that must equal the given values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<MetricSelectorRequirement>,
}

/// One set-based requirement of a [`MetricSelector`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` / `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The target of a metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum MetricTarget {
    /// Average utilization in percent of the request (Resource, ContainerResource).
    Utilization {
        /// Percent of the request, e.g. 50.
        average_utilization: i32,
    },
    /// Target value per pod.
    AverageValue {
        /// The value per pod, e.g. `500m`.
        average_value: Quantity,
    },
    /// Target value of the whole metric (Object, External).
    Value {
        /// The value.
        value: Quantity,
    },
}

impl MetricTarget {
    /// `Utilization` at `percent` % of the request.
    pub fn utilization(percent: i32) -> Self {
        Self::Utilization {
            average_utilization: percent,
        }
    }

    /// `AverageValue` of `value` per pod.
    pub fn average_value(value: Quantity) -> Self {
        Self::AverageValue {
            average_value: value,
        }
    }

    /// `Value` of `value` in total.
    pub fn value(value: Quantity) -> Self {
        Self::Value { value }
    }

    /// `Utilization`, `AverageValue` or `Value`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Utilization { .. } => "Utilization",
            Self::AverageValue { .. } => "AverageValue",
            Self::Value { .. } => "Value",
        }
    }
}

fn identifier(name: impl Into<String>) -> MetricIdentifier {
    MetricIdentifier {
        name: name.into(),
        selector: None,
    }
}

impl MetricSpec {
    /// A `Resource` metric with a `Utilization` target.
    pub fn resource_utilization(resource: impl Into<String>, percent: i32) -> Self {
        Self::resource(resource, MetricTarget::utilization(percent))
    }

    /// A `Resource` metric with any target.
    pub fn resource(resource: impl Into<String>, target: MetricTarget) -> Self {
        Self::Resource {
            resource: ResourceMetricSource {
                name: resource.into(),
                target,
            },
        }
    }

    /// A `ContainerResource` metric.
    pub fn container_resource(
        resource: impl Into<String>,
        container: impl Into<String>,
        target: MetricTarget,
    ) -> Self {
        Self::ContainerResource {
            container_resource: ContainerResourceMetricSource {
                name: resource.into(),
                container: container.into(),
                target,
            },
        }
    }

    /// A `Pods` metric with an `AverageValue` target.
    pub fn pods(metric: impl Into<String>, average_value: Quantity) -> Self {
        Self::Pods {
            pods: PodsMetricSource {
                metric: identifier(metric),
                target: MetricTarget::average_value(average_value),
            },
        }
    }

    /// An `Object` metric about object `kind`/`name`.
    pub fn object(
        kind: impl Into<String>,
        name: impl Into<String>,
        metric: impl Into<String>,
        target: MetricTarget,
    ) -> Self {
        Self::Object {
            object: ObjectMetricSource {
                described_object: CrossVersionObjectReference {
                    kind: kind.into(),
                    name: name.into(),
                    api_version: None,
                },
                metric: identifier(metric),
                target,
            },
        }
    }

    /// An `External` metric.
    pub fn external(metric: impl Into<String>, target: MetricTarget) -> Self {
        Self::External {
            external: ExternalMetricSource {
                metric: identifier(metric),
                target,
            },
        }
    }

    /// The metric's target.
    pub fn target(&self) -> &MetricTarget {
        match self {
            Self::Resource { resource } => &resource.target,
            Self::ContainerResource { container_resource } => &container_resource.target,
            Self::Pods { pods } => &pods.target,
            Self::Object { object } => &object.target,
            Self::External { external } => &external.target,
        }
    }

    /// `Resource`, `ContainerResource`, `Pods`, `Object` or `External`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Resource { .. } => "Resource",
            Self::ContainerResource { .. } => "ContainerResource",
            Self::Pods { .. } => "Pods",
            Self::Object { .. } => "Object",
            Self::External { .. } => "External",
        }
    }

    /// A short human description, as the controller names metrics in its messages
    /// (e.g. `cpu resource utilization (percentage of request)`).
    pub fn describe(&self) -> String {
        let utilization = matches!(self.target(), MetricTarget::Utilization { .. });
        match self {
            Self::Resource { resource } if utilization => {
                format!(
                    "{} resource utilization (percentage of request)",
                    resource.name
                )
            }
            Self::Resource { resource } => format!("{} resource", resource.name),
            Self::ContainerResource {
                container_resource: c,
            } if utilization => format!(
                "{} container resource utilization (percentage of request)",
                c.name
            ),
            Self::ContainerResource {
                container_resource: c,
            } => {
                format!("{} resource of container {}", c.name, c.container)
            }
            Self::Pods { pods } => format!("pods metric {}", pods.metric.name),
            Self::Object { object } => format!(
                "{} metric {}",
                object.described_object.kind, object.metric.name
            ),
            Self::External { external } => format!("external metric {}", external.metric.name),
        }
    }
}

/// `spec.behavior`: scaling rules for each direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaBehavior {
    /// Rules for scaling up; unset fields take Kubernetes' defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<HpaScalingRules>,
    /// Rules for scaling down; unset fields take Kubernetes' defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<HpaScalingRules>,
}

/// Scaling rules for one direction; every field is optional and defaulted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaScalingRules {
    /// Seconds of past recommendations considered (0–3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    /// Which policy wins when several apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    /// Rate limits; when given, at least one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<HpaScalingPolicy>>,
    /// Per-HPA tolerance for this direction (Kubernetes `HPAConfigurableTolerance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Quantity>,
}

/// How the policies of one direction combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectPolicy {
    /// The policy allowing the biggest change wins.
    #[default]
    Max,
    /// The policy allowing the smallest change wins.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One rate limit: at most `value` pods or percent per `period_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub kind: ScalingPolicyKind,
    /// Pods or percent allowed per period (> 0).
    pub value: i32,
    /// The period in seconds (1–1800).
    pub period_seconds: i32,
}

impl HpaScalingPolicy {
    /// At most `pods` pods per `period_seconds`.
    pub fn pods(pods: i32, period_seconds: i32) -> Self {
        Self {
            kind: ScalingPolicyKind::Pods,
            value: pods,
            period_seconds,
        }
    }

    /// At most `percent` % of the replicas per `period_seconds`.
    pub fn percent(percent: i32, period_seconds: i32) -> Self {
        Self {
            kind: ScalingPolicyKind::Percent,
            value: percent,
            period_seconds,
        }
    }
}

/// The unit of a scaling policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalingPolicyKind {
    /// An absolute number of pods.
    Pods,
    /// A percentage of the replicas at the start of the period.
    Percent,
}
