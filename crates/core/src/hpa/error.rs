//! The HPA module's error type.

/// Why an HPA spec, a controller config or one metric could not be used.
///
/// Spec and config errors are returned before anything changes; metric errors are
/// recorded per metric in the decision, as the Kubernetes controller records them in
/// the `ScalingActive` condition.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum HpaError {
    /// The HPA spec breaks a rule the Kubernetes API server enforces.
    #[error("invalid HPA spec: {field}: {reason}")]
    InvalidSpec {
        /// Path of the offending field, e.g. `metrics[0].resource.target.averageUtilization`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A controller setting is out of range.
    #[error("invalid HPA controller config: {field}: {reason}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The caller supplied no observation for a metric of the spec.
    #[error("metric {index} ({metric}): no observation supplied")]
    MissingObservation {
        /// Position in `spec.metrics`.
        index: usize,
        /// The metric's description.
        metric: String,
    },
    /// The observation's kind does not fit the metric's type.
    #[error("metric {index} ({metric}): expected {expected} observation, got {got}")]
    ObservationMismatch {
        /// Position in `spec.metrics`.
        index: usize,
        /// The metric's description.
        metric: String,
        /// The kind the metric type needs.
        expected: &'static str,
        /// The kind supplied.
        got: &'static str,
    },
    /// The metrics source failed; the reason is the caller's.
    #[error("unable to get metric {metric}: {reason}")]
    MetricUnavailable {
        /// The metric's description.
        metric: String,
        /// The failure as the caller reported it.
        reason: String,
    },
    /// The metrics API answered with no samples at all.
    #[error("no metrics returned from {api} metrics API")]
    NoMetricsReturned {
        /// `resource`, `custom` or `external`.
        api: &'static str,
    },
    /// No pods match the target's selector.
    #[error("no pods returned by selector while calculating replica count")]
    NoPods,
    /// Every sample belonged to a pod that was ignored or unready.
    #[error("did not receive metrics for targeted pods (pods might be unready)")]
    NoMetricsForTargetedPods,
    /// No sample belonged to a known pod, so there is no request to divide by.
    #[error("no metrics returned matched known pods")]
    NoMetricsMatchedPods,
    /// A container has no request for the resource, so utilization is undefined.
    #[error("missing request for {resource} in container {container} of Pod {pod}")]
    MissingRequest {
        /// The resource, e.g. `cpu`.
        resource: String,
        /// The container.
        container: String,
        /// The pod.
        pod: String,
    },
    /// A ContainerResource metric names a container the pod does not have.
    #[error("container {container} not found in Pod {pod}")]
    ContainerNotFound {
        /// The container the metric names.
        container: String,
        /// The pod.
        pod: String,
    },
    /// The utilization percentage does not fit in an `i32`.
    #[error("resource utilization {percent} is outside the int32 range")]
    UtilizationOutOfRange {
        /// The computed percentage.
        percent: i128,
    },
}
