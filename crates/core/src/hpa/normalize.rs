//! From the metrics' recommendation to the replica count: stabilization, rate limits and
//! the min/max bounds (`normalizeDesiredReplicas` and `…WithBehaviors`).

use std::time::Duration;

use super::behavior::{
    NormalizedBehavior, legacy_scale_up_limit, scale_down_limit, scale_up_limit,
};
use super::decision::{AbleToScaleReason, Condition, ScalingLimitedReason};
use super::state::{HpaState, seconds};
use crate::Timestamp;

/// The result of normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// The replica count to set.
    pub desired: i32,
    /// The recommendation after stabilization, before limits.
    pub stabilized: i32,
    /// `AbleToScale` reason.
    pub able_to_scale: AbleToScaleReason,
    /// `ScalingLimited`: True when limits changed the stabilized recommendation.
    pub scaling_limited: Condition<ScalingLimitedReason>,
}

/// Bounds of the replica count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaBounds {
    /// `minReplicas`.
    pub min: i32,
    /// `maxReplicas`.
    pub max: i32,
}

fn limited(
    stabilized: i32,
    desired: i32,
    reason: ScalingLimitedReason,
) -> Condition<ScalingLimitedReason> {
    Condition {
        status: desired != stabilized,
        reason,
    }
}

/// Without `behavior`: the highest recommendation of the downscale window, then the
/// legacy scale-up limit and the bounds.
///
/// The window is strict, like the `behavior` windows: an entry exactly as old as the
/// window no longer counts. Upstream tests `Before(cutoff)` here, but its loops never
/// land exactly on the boundary (processing time separates them); with simulated time
/// they do, and SPEC §1 asks for strict windows.
pub fn normalize_legacy(
    state: &mut HpaState,
    current: i32,
    recommendation: i32,
    bounds: ReplicaBounds,
    window: Duration,
    now: Timestamp,
) -> Normalized {
    let cutoff = now - window;
    let mut stabilized = recommendation;
    let mut reuse = None;
    for (i, rec) in state.recommendations.iter().enumerate() {
        if rec.timestamp > cutoff {
            stabilized = stabilized.max(rec.replicas);
        } else {
            reuse = Some(i);
        }
    }
    state.store_recommendation(reuse, recommendation, now);
    let able_to_scale = if stabilized != recommendation {
        AbleToScaleReason::ScaleDownStabilized
    } else {
        AbleToScaleReason::ReadyForNewScale
    };
    let (desired, reason) = convert_with_rules(current, stabilized, bounds);
    Normalized {
        desired,
        stabilized,
        able_to_scale,
        scaling_limited: limited(stabilized, desired, reason),
    }
}

/// The legacy limits: at most `max(2 × current, 4)`, within `[min, max]`.
pub fn convert_with_rules(
    current: i32,
    desired: i32,
    bounds: ReplicaBounds,
) -> (i32, ScalingLimitedReason) {
    let up_limit = legacy_scale_up_limit(current);
    let (maximum, max_reason) = if bounds.max > up_limit {
        (up_limit, ScalingLimitedReason::ScaleUpLimit)
    } else {
        (bounds.max, ScalingLimitedReason::TooManyReplicas)
    };
    if desired < bounds.min {
        (bounds.min, ScalingLimitedReason::TooFewReplicas)
    } else if desired > maximum {
        (maximum, max_reason)
    } else {
        (desired, ScalingLimitedReason::DesiredWithinRange)
    }
}

/// With `behavior`: stabilize within both windows (strictly younger entries count), then
/// apply the policies' rate limits and the bounds.
pub fn normalize_with_behavior(
    state: &mut HpaState,
    behavior: &NormalizedBehavior,
    current: i32,
    recommendation: i32,
    bounds: ReplicaBounds,
    now: Timestamp,
) -> Normalized {
    let stabilized = stabilize_with_behavior(state, behavior, current, recommendation, now);
    let able_to_scale = if stabilized == recommendation {
        AbleToScaleReason::ReadyForNewScale
    } else if recommendation >= current {
        AbleToScaleReason::ScaleUpStabilized
    } else {
        AbleToScaleReason::ScaleDownStabilized
    };
    let (desired, reason) =
        convert_with_behavior_rate(state, behavior, current, stabilized, bounds, now);
    Normalized {
        desired,
        stabilized,
        able_to_scale,
        scaling_limited: limited(stabilized, desired, reason),
    }
}

/// Scale up only as far as the lowest recommendation of the scale-up window, down only as
/// far as the highest of the scale-down window; records `recommendation`.
pub fn stabilize_with_behavior(
    state: &mut HpaState,
    behavior: &NormalizedBehavior,
    current: i32,
    recommendation: i32,
    now: Timestamp,
) -> i32 {
    let up_cutoff = now - seconds(behavior.scale_up.stabilization_window_seconds);
    let down_cutoff = now - seconds(behavior.scale_down.stabilization_window_seconds);
    let mut up = recommendation;
    let mut down = recommendation;
    let mut reuse = None;
    for (i, rec) in state.recommendations.iter().enumerate() {
        if rec.timestamp > up_cutoff {
            up = up.min(rec.replicas);
        }
        if rec.timestamp > down_cutoff {
            down = down.max(rec.replicas);
        }
        if rec.timestamp < up_cutoff && rec.timestamp < down_cutoff {
            reuse = Some(i);
        }
    }
    state.store_recommendation(reuse, recommendation, now);
    current.max(up).min(down)
}

/// The policies' rate limits (never below current going up, never above it going down)
/// and the bounds, applied in the direction of the change.
pub fn convert_with_behavior_rate(
    state: &HpaState,
    behavior: &NormalizedBehavior,
    current: i32,
    desired: i32,
    bounds: ReplicaBounds,
    now: Timestamp,
) -> (i32, ScalingLimitedReason) {
    let (up_events, down_events) = (&state.scale_up_events, &state.scale_down_events);
    if desired > current {
        let limit =
            scale_up_limit(current, up_events, down_events, &behavior.scale_up, now).max(current);
        let (maximum, reason) = if bounds.max > limit {
            (limit, ScalingLimitedReason::ScaleUpLimit)
        } else {
            (bounds.max, ScalingLimitedReason::TooManyReplicas)
        };
        if desired > maximum {
            return (maximum, reason);
        }
    } else if desired < current {
        let limit = scale_down_limit(current, up_events, down_events, &behavior.scale_down, now)
            .min(current);
        let (minimum, reason) = if bounds.min < limit {
            (limit, ScalingLimitedReason::ScaleDownLimit)
        } else {
            (bounds.min, ScalingLimitedReason::TooFewReplicas)
        };
        if desired < minimum {
            return (minimum, reason);
        }
    }
    (desired, ScalingLimitedReason::DesiredWithinRange)
}
