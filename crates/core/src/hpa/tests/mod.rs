//! HPA tests: tables of cases documenting Kubernetes' behaviour (numbers derived by hand
//! in the comments) and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod behavior;
mod combine;
mod groups;
mod metrics;
mod parity;
mod props;
mod reconcile;
mod spec;
mod upstream;

use std::time::Duration;

use super::*;
use crate::Timestamp;
use crate::quantity::Quantity;

/// The loop time of single-loop tests.
pub(super) const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

/// `s` seconds before [`NOW`].
pub(super) fn ago(s: i64) -> Timestamp {
    Timestamp::from_millis(NOW.as_millis() - s * 1000)
}

/// `s` seconds after [`NOW`].
pub(super) fn at(s: i64) -> Timestamp {
    Timestamp::from_millis(NOW.as_millis() + s * 1000)
}

pub(super) fn q(s: &str) -> Quantity {
    s.parse().unwrap()
}

/// A pod running and Ready for an hour, container `app` requesting `cpu_milli` CPU.
pub(super) fn cpu_pod(name: &str, cpu_milli: i64) -> PodInfo {
    PodInfo::running(name, ago(3600)).with_request("app", "cpu", cpu_milli)
}

/// `n` pods `pod-0`… requesting `cpu_milli` each.
pub(super) fn cpu_pods(n: usize, cpu_milli: i64) -> Vec<PodInfo> {
    (0..n)
        .map(|i| cpu_pod(&format!("pod-{i}"), cpu_milli))
        .collect()
}

/// CPU usage samples of container `app`, taken 10 s ago over a 30 s window.
pub(super) fn cpu_usage(samples: &[(&str, i64)]) -> MetricObservation {
    MetricObservation::Resource(
        samples
            .iter()
            .map(|(pod, usage)| {
                PodResourceSample::single(*pod, "app", *usage, ago(10), Duration::from_secs(30))
            })
            .collect(),
    )
}

/// Usage samples for `pod-0`… in order.
pub(super) fn cpu_usage_of(usages: &[i64]) -> MetricObservation {
    let names: Vec<String> = (0..usages.len()).map(|i| format!("pod-{i}")).collect();
    let pairs: Vec<(&str, i64)> = names
        .iter()
        .zip(usages)
        .map(|(n, u)| (n.as_str(), *u))
        .collect();
    cpu_usage(&pairs)
}

/// Custom metric samples per pod.
pub(super) fn pod_values(samples: &[(&str, i64)]) -> MetricObservation {
    MetricObservation::Pods(
        samples
            .iter()
            .map(|(pod, value)| PodMetricSample {
                pod: (*pod).to_owned(),
                value: *value,
            })
            .collect(),
    )
}

/// One metric's proposal with the default config at [`NOW`], status replicas = current.
pub(super) fn propose(
    metric: &MetricSpec,
    current: i32,
    pods: &[PodInfo],
    observation: MetricObservation,
) -> Result<MetricProposal, HpaError> {
    let config = HpaControllerConfig::default();
    let ctx = MetricContext {
        spec_replicas: current,
        status_replicas: current,
        calculator: ReplicaCalculator::new(pods, &config, NOW),
        tolerances: Tolerances::symmetric(0.1),
    };
    compute_metric(0, metric, Some(&observation), &ctx).result
}

/// The replicas of a proposal, panicking with the error otherwise.
pub(super) fn replicas(result: Result<MetricProposal, HpaError>) -> i32 {
    result
        .unwrap_or_else(|e| panic!("expected a proposal, got {e}"))
        .replicas
}

pub(super) fn cpu_utilization(percent: i32) -> MetricSpec {
    MetricSpec::resource_utilization("cpu", percent)
}

/// An External metric with an `AverageValue` target of 1: a value of `n` asks for exactly
/// `n` replicas (`ceil(n / 1)`) unless `n` is within 10 % of the current count.
pub(super) fn demand() -> MetricSpec {
    MetricSpec::external("demand", MetricTarget::average_value(q("1")))
}

/// A spec scaled by [`demand`].
pub(super) fn demand_spec(min: i32, max: i32) -> HpaSpec {
    HpaSpec::new(min, max, vec![demand()])
}

/// One loop at `t` where the demand asks for `wanted` replicas.
pub(super) fn step_with(
    spec: &HpaSpec,
    state: &mut HpaState,
    config: &HpaControllerConfig,
    current: i32,
    wanted: i64,
    t: Timestamp,
) -> HpaDecision {
    let observed = HpaObservation::new(
        current,
        Vec::new(),
        vec![MetricObservation::External(vec![wanted * 1000])],
    );
    reconcile(spec, &observed, state, config, t).unwrap()
}

/// [`step_with`] with the default config.
pub(super) fn step(
    spec: &HpaSpec,
    state: &mut HpaState,
    current: i32,
    wanted: i64,
    t: Timestamp,
) -> HpaDecision {
    step_with(
        spec,
        state,
        &HpaControllerConfig::default(),
        current,
        wanted,
        t,
    )
}

/// Runs loops at the given seconds after [`NOW`], applying each decision; returns the
/// replica count after each loop.
pub(super) fn run(spec: &HpaSpec, start: i32, loops: &[(i64, i64)]) -> Vec<i32> {
    let mut state = HpaState::new();
    let mut current = start;
    loops
        .iter()
        .map(|&(t, wanted)| {
            current = step(spec, &mut state, current, wanted, at(t)).desired_replicas;
            current
        })
        .collect()
}

pub(super) fn limited(
    reason: ScalingLimitedReason,
    status: bool,
) -> Option<Condition<ScalingLimitedReason>> {
    Some(Condition { status, reason })
}
