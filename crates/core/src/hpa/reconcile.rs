//! One loop of the HPA controller for one HPA (`reconcileAutoscaler`), minus the IO.

use super::HpaError;
use super::behavior::NormalizedBehavior;
use super::config::{HpaControllerConfig, Tolerances};
use super::decision::{Condition, HpaDecision, ScalingActiveReason};
use super::metrics::{MetricContext, compute_replicas_for_metrics};
use super::normalize::{Normalized, ReplicaBounds, normalize_legacy, normalize_with_behavior};
use super::observation::HpaObservation;
use super::replicas::ReplicaCalculator;
use super::spec::{HpaSpec, MetricSpec};
use super::state::HpaState;
use crate::Timestamp;

/// Decides the replica count of one HPA for one loop at `now`, updating `state`.
///
/// The decision assumes the caller applies it: when `rescale` is true the scale event is
/// already recorded in `state` (Kubernetes records it after a successful update).
/// An invalid spec is an error and leaves `state` untouched.
pub fn reconcile(
    spec: &HpaSpec,
    observed: &HpaObservation,
    state: &mut HpaState,
    config: &HpaControllerConfig,
    now: Timestamp,
) -> Result<HpaDecision, HpaError> {
    spec.validate()?;
    let current = observed.current_replicas;
    let metrics = spec.effective_metrics();
    state.record_initial_recommendation(current, now);
    let mut decision = HpaDecision::unchanged(current);
    let has_object_or_external = spec.has_object_or_external_metric();
    let scaled_to_zero = config.scaled_to_zero_condition() && state.scaled_to_zero;
    let desired = if current == 0 {
        if !scales_from_zero(spec, state, config, has_object_or_external) {
            decision.scaling_active = Some(Condition {
                status: false,
                reason: ScalingActiveReason::ScalingDisabled,
            });
            if !config.scaled_to_zero_condition() {
                state.scaled_to_zero = false;
            }
            return Ok(decision);
        }
        decide_from_metrics(spec, &metrics, observed, state, config, now, &mut decision)
    } else if current > spec.max_replicas {
        decision.reason = Some("Current number of replicas above Spec.MaxReplicas".to_owned());
        Some(spec.max_replicas)
    } else if current < spec.min_replicas {
        decision.reason = Some("Current number of replicas below Spec.MinReplicas".to_owned());
        Some(spec.min_replicas)
    } else {
        decide_from_metrics(spec, &metrics, observed, state, config, now, &mut decision)
    };
    let Some(mut desired) = desired else {
        return Ok(decision);
    };
    if current == 0 && spec.min_replicas != 0 && scaled_to_zero && desired < spec.min_replicas {
        desired = spec.min_replicas;
        decision
            .reason
            .get_or_insert_with(|| "Current number of replicas below Spec.MinReplicas".to_owned());
    }
    if desired != current {
        decision.rescale = true;
        decision.desired_replicas = desired;
        record_scale(
            spec,
            current,
            desired,
            has_object_or_external,
            state,
            config,
            now,
        );
    }
    Ok(decision)
}

/// Whether a target at zero replicas is scaled from its metrics. Upstream (SPEC §1): zero
/// replicas switch the HPA off unless `minReplicas` is 0 (HPAScaleToZero), in which case
/// the Object/External metrics bring it back. Under the `ScaledToZero` condition rule only
/// a zero the HPA reached itself is left again.
fn scales_from_zero(
    spec: &HpaSpec,
    state: &HpaState,
    config: &HpaControllerConfig,
    has_object_or_external: bool,
) -> bool {
    if config.scaled_to_zero_condition() {
        state.scaled_to_zero && (spec.min_replicas != 0 || has_object_or_external)
    } else {
        spec.min_replicas == 0
    }
}

/// Metrics, then normalization; `None` when the metrics block any change.
fn decide_from_metrics(
    spec: &HpaSpec,
    metrics: &[MetricSpec],
    observed: &HpaObservation,
    state: &mut HpaState,
    config: &HpaControllerConfig,
    now: Timestamp,
    decision: &mut HpaDecision,
) -> Option<i32> {
    let current = observed.current_replicas;
    let ctx = MetricContext {
        spec_replicas: current,
        status_replicas: observed.status_replicas,
        calculator: ReplicaCalculator::new(&observed.pods, config, now),
        tolerances: Tolerances::for_hpa(config, spec.behavior.as_ref()),
    };
    let summary = compute_replicas_for_metrics(metrics, &observed.metrics, &ctx);
    decision.metrics = summary.outcomes;
    let Some(metric_replicas) = summary.replicas else {
        let reason = decision
            .metrics
            .iter()
            .find(|m| m.result.is_err())
            .map_or(ScalingActiveReason::FailedGetResourceMetric, |m| {
                m.failure_reason()
            });
        decision.scaling_active = Some(Condition {
            status: false,
            reason,
        });
        return None;
    };
    decision.scaling_active = Some(Condition {
        status: true,
        reason: ScalingActiveReason::ValidMetricFound,
    });
    decision.metric_replicas = Some(metric_replicas);
    decision.metric_name = summary.metric.clone();
    let recommendation = metric_replicas.max(0);
    if recommendation > current {
        let metric = summary.metric.unwrap_or_default();
        decision.reason = Some(format!("{metric} above target"));
    } else if recommendation < current {
        decision.reason = Some("All metrics below target".to_owned());
    }
    let normalized = normalize(spec, state, config, current, recommendation, now);
    decision.stabilized_replicas = Some(normalized.stabilized);
    decision.able_to_scale = Some(normalized.able_to_scale);
    decision.scaling_limited = Some(normalized.scaling_limited);
    Some(normalized.desired)
}

/// Stabilization, rate limits and bounds: legacy without `behavior`, else the policies.
fn normalize(
    spec: &HpaSpec,
    state: &mut HpaState,
    config: &HpaControllerConfig,
    current: i32,
    recommendation: i32,
    now: Timestamp,
) -> Normalized {
    let bounds = ReplicaBounds {
        min: spec.min_replicas,
        max: spec.max_replicas,
    };
    match &spec.behavior {
        None => normalize_legacy(
            state,
            current,
            recommendation,
            bounds,
            config.downscale_stabilization_window(),
            now,
        ),
        Some(behavior) => normalize_with_behavior(
            state,
            &NormalizedBehavior::new(behavior, config),
            current,
            recommendation,
            bounds,
            now,
        ),
    }
}

/// Bookkeeping after a change: scale events (only with `behavior`, as upstream) and the
/// `ScaledToZero` condition (kept only under the condition rule).
fn record_scale(
    spec: &HpaSpec,
    current: i32,
    desired: i32,
    has_object_or_external: bool,
    state: &mut HpaState,
    config: &HpaControllerConfig,
    now: Timestamp,
) {
    if let Some(behavior) = &spec.behavior {
        let rules = NormalizedBehavior::new(behavior, config);
        let longest = if desired > current {
            rules.scale_up.longest_period_seconds()
        } else {
            rules.scale_down.longest_period_seconds()
        };
        state.store_scale_event(current, desired, longest, now);
    }
    state.scaled_to_zero = config.scaled_to_zero_condition()
        && current > 0
        && desired == 0
        && spec.min_replicas == 0
        && has_object_or_external;
}
