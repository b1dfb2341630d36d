//! The outcome of one HPA loop, with the reasons Kubernetes puts in the HPA's
//! conditions, so it can be logged, exported and drawn.

use serde::Serialize;

use super::HpaError;

/// Reasons of the `AbleToScale` condition (always True here: fetching and updating the
/// scale subresource is the caller's job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AbleToScaleReason {
    /// The recommendation was applied unchanged by stabilization.
    ReadyForNewScale,
    /// Recent lower recommendations held a scale-up back.
    ScaleUpStabilized,
    /// Recent higher recommendations held a scale-down back.
    ScaleDownStabilized,
}

/// Reasons of the `ScalingActive` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ScalingActiveReason {
    /// At least one metric produced a usable proposal.
    ValidMetricFound,
    /// The target has zero replicas, which switches the HPA off.
    ScalingDisabled,
    /// A Resource metric failed.
    FailedGetResourceMetric,
    /// A ContainerResource metric failed.
    FailedGetContainerResourceMetric,
    /// A Pods metric failed.
    FailedGetPodsMetric,
    /// An Object metric failed.
    FailedGetObjectMetric,
    /// An External metric failed.
    FailedGetExternalMetric,
}

/// Reasons of the `ScalingLimited` condition: what bounded the desired replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ScalingLimitedReason {
    /// Nothing bounded it.
    DesiredWithinRange,
    /// `maxReplicas`.
    TooManyReplicas,
    /// `minReplicas`.
    TooFewReplicas,
    /// The scale-up rate limit (policies, or the legacy doubling limit).
    ScaleUpLimit,
    /// The scale-down rate limit.
    ScaleDownLimit,
}

macro_rules! reason_strings {
    ($ty:ty { $($variant:ident => $message:expr),+ $(,)? }) => {
        impl $ty {
            /// The reason as Kubernetes spells it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant)),+ }
            }

            /// The condition message Kubernetes shows with this reason.
            pub fn message(self) -> &'static str {
                match self { $(Self::$variant => $message),+ }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

reason_strings!(AbleToScaleReason {
    ReadyForNewScale => "recommended size matches current size",
    ScaleUpStabilized => "recent recommendations were lower than current one, applying the lowest recent recommendation",
    ScaleDownStabilized => "recent recommendations were higher than current one, applying the highest recent recommendation",
});

reason_strings!(ScalingActiveReason {
    ValidMetricFound => "the HPA was able to successfully calculate a replica count",
    ScalingDisabled => "scaling is disabled since the replica count of the target is zero",
    FailedGetResourceMetric => "the HPA was unable to compute the replica count from a resource metric",
    FailedGetContainerResourceMetric => "the HPA was unable to compute the replica count from a container resource metric",
    FailedGetPodsMetric => "the HPA was unable to compute the replica count from a pods metric",
    FailedGetObjectMetric => "the HPA was unable to compute the replica count from an object metric",
    FailedGetExternalMetric => "the HPA was unable to compute the replica count from an external metric",
});

reason_strings!(ScalingLimitedReason {
    DesiredWithinRange => "the desired count is within the acceptable range",
    TooManyReplicas => "the desired replica count is more than the maximum replica count",
    TooFewReplicas => "the desired replica count is less than the minimum replica count",
    ScaleUpLimit => "the desired replica count is increasing faster than the maximum scale rate",
    ScaleDownLimit => "the desired replica count is decreasing faster than the maximum scale rate",
});

/// A condition: its status and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Condition<R> {
    /// True or False.
    pub status: bool,
    /// The reason.
    pub reason: R,
}

/// What a metric currently measures, in the units of its target (milli-values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MetricCurrent {
    /// Percent of request (Utilization targets).
    pub average_utilization: Option<i32>,
    /// Average per pod, milli-value.
    pub average_value: Option<i64>,
    /// Total, milli-value (Value targets).
    pub value: Option<i64>,
}

/// A metric's replica proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MetricProposal {
    /// Replicas this metric alone asks for.
    pub replicas: i32,
    /// The measurement behind it.
    pub current: MetricCurrent,
}

/// One metric's result in a loop.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricOutcome {
    /// Position in `spec.metrics`.
    pub index: usize,
    /// The metric's type, e.g. `Resource`.
    pub metric_type: &'static str,
    /// The metric's description, e.g. `cpu resource utilization (percentage of request)`.
    pub description: String,
    /// The proposal, or why there is none.
    #[serde(serialize_with = "serialize_result")]
    pub result: Result<MetricProposal, HpaError>,
}

fn serialize_result<S: serde::Serializer>(
    result: &Result<MetricProposal, HpaError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match result {
        Ok(proposal) => proposal.serialize(serializer),
        Err(error) => serializer.collect_str(error),
    }
}

impl MetricOutcome {
    /// The `ScalingActive` reason Kubernetes sets when this metric fails.
    pub fn failure_reason(&self) -> ScalingActiveReason {
        match self.metric_type {
            "ContainerResource" => ScalingActiveReason::FailedGetContainerResourceMetric,
            "Pods" => ScalingActiveReason::FailedGetPodsMetric,
            "Object" => ScalingActiveReason::FailedGetObjectMetric,
            "External" => ScalingActiveReason::FailedGetExternalMetric,
            _ => ScalingActiveReason::FailedGetResourceMetric,
        }
    }
}

/// The decision of one loop for one HPA.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HpaDecision {
    /// Replicas the target had (`scale.spec.replicas`).
    pub current_replicas: i32,
    /// Replicas to set; equals `current_replicas` when nothing changes.
    pub desired_replicas: i32,
    /// Whether the scale subresource should be updated.
    pub rescale: bool,
    /// Why the count changes, in Kubernetes' words (e.g. `cpu resource utilization
    /// (percentage of request) above target`).
    pub reason: Option<String>,
    /// The largest metric proposal, before stabilization and limits; `None` when metrics
    /// were not consulted or failed.
    pub metric_replicas: Option<i32>,
    /// The metric behind `metric_replicas`.
    pub metric_name: Option<String>,
    /// The recommendation after stabilization, before rate limits and bounds.
    pub stabilized_replicas: Option<i32>,
    /// Per-metric results, in spec order.
    pub metrics: Vec<MetricOutcome>,
    /// `AbleToScale` this loop; `None` when normalization did not run.
    pub able_to_scale: Option<AbleToScaleReason>,
    /// `ScalingActive` this loop; `None` when metrics were not consulted.
    pub scaling_active: Option<Condition<ScalingActiveReason>>,
    /// `ScalingLimited` this loop; `None` when normalization did not run.
    pub scaling_limited: Option<Condition<ScalingLimitedReason>>,
}

impl HpaDecision {
    /// A decision to keep `current` replicas, with nothing evaluated yet.
    pub fn unchanged(current: i32) -> Self {
        Self {
            current_replicas: current,
            desired_replicas: current,
            rescale: false,
            reason: None,
            metric_replicas: None,
            metric_name: None,
            stabilized_replicas: None,
            metrics: Vec::new(),
            able_to_scale: None,
            scaling_active: None,
            scaling_limited: None,
        }
    }

    /// The error of the first failed metric, if any.
    pub fn first_metric_error(&self) -> Option<&HpaError> {
        self.metrics.iter().find_map(|m| m.result.as_ref().err())
    }
}
