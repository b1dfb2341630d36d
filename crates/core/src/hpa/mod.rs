//! The Kubernetes HorizontalPodAutoscaler algorithm (`autoscaling/v2`), sans IO.
//!
//! [`reconcile`] is one loop of kube-controller-manager's HPA controller for one HPA:
//! the caller observes the target's pods and metrics ([`HpaObservation`]), keeps an
//! [`HpaState`] per HPA across loops and passes `now`; the function returns an
//! [`HpaDecision`] (desired replicas, per-metric proposals, the condition reasons).
//!
//! The steps mirror `pkg/controller/podautoscaler` (`horizontal.go`,
//! `replica_calculator.go`, `metrics/utilization.go`) so the numbers match what a real
//! HPA does:
//! - `pods`: pods are ignored (being deleted, Failed), unready (Pending; for CPU,
//!   samples not to be trusted yet), missing (no sample) or ready; a Succeeded pod is
//!   not ignored, as upstream;
//! - `replicas`: one proposal per metric, with tolerance, `ceil`, and conservative gap
//!   filling that never reverses the direction of a change;
//! - `metrics`: the largest proposal wins; a failed metric blocks scale-down;
//! - `normalize` and `behavior`: stabilization windows, rate-limit policies and the
//!   min/max bounds, or the legacy rules when the HPA has no `behavior`.
//!
//! Deliberate differences from upstream: float-to-int conversions saturate at the `i32`
//! range (Go's are undefined there), and the sum of an External metric's series
//! saturates instead of treating a negative running sum as overflow.

mod behavior;
mod config;
mod decision;
mod error;
mod metrics;
mod normalize;
mod observation;
mod pods;
mod reconcile;
mod replicas;
mod spec;
mod state;
mod validate;

#[cfg(test)]
mod tests;

pub use behavior::{
    NormalizedBehavior, ScalingRules, default_scale_down, default_scale_up, legacy_scale_up_limit,
    replicas_changed_in_period, scale_down_limit, scale_up_limit,
};
pub use config::{
    DEFAULT_CPU_INITIALIZATION_PERIOD, DEFAULT_DOWNSCALE_STABILIZATION_WINDOW,
    DEFAULT_INITIAL_READINESS_DELAY, DEFAULT_TOLERANCE, HpaControllerConfig, Tolerances,
};
pub use decision::{
    AbleToScaleReason, Condition, HpaDecision, MetricCurrent, MetricOutcome, MetricProposal,
    ScalingActiveReason, ScalingLimitedReason,
};
pub use error::HpaError;
pub use metrics::{MetricContext, MetricsSummary, compute_metric, compute_replicas_for_metrics};
pub use normalize::{
    Normalized, ReplicaBounds, convert_with_behavior_rate, convert_with_rules, normalize_legacy,
    normalize_with_behavior, stabilize_with_behavior,
};
pub use observation::{
    ConditionStatus, ContainerRequests, ContainerUsage, HpaObservation, MetricObservation, PodInfo,
    PodMetricSample, PodPhase, PodResourceSample, ReadyCondition,
};
pub use pods::{
    PodGroup, PodMetric, PodMetrics, PodRequests, group_pod, match_samples, pod_request,
    ready_pods_count,
};
pub use reconcile::reconcile;
pub use replicas::{
    ReplicaCalculator, ResourceProposal, SampleSums, Utilization, ValueProposal, ceil_replicas,
    external_total, per_pod_replicas,
};
pub use spec::{
    ContainerResourceMetricSource, CrossVersionObjectReference, DEFAULT_CPU_UTILIZATION,
    ExternalMetricSource, HpaBehavior, HpaScalingPolicy, HpaScalingRules, HpaSpec,
    MetricIdentifier, MetricSelector, MetricSelectorRequirement, MetricSpec, MetricTarget,
    ObjectMetricSource, PodsMetricSource, ResourceMetricSource, ScalingPolicyKind, SelectPolicy,
};
pub use state::{HpaState, ScaleEvent, TimestampedRecommendation};
pub use validate::{MAX_POLICY_PERIOD_SECONDS, MAX_STABILIZATION_WINDOW_SECONDS};
