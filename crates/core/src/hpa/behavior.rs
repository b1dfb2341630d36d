//! `behavior`: Kubernetes' defaults for scaling rules and the rate limits the policies
//! impose (`calculateScaleUpLimitWithScalingRules`, `calculateScaleDownLimitWithBehaviors`).

use super::config::HpaControllerConfig;
use super::spec::{
    HpaBehavior, HpaScalingPolicy, HpaScalingRules, ScalingPolicyKind, SelectPolicy,
};
use super::state::{ScaleEvent, seconds};
use crate::Timestamp;

/// Scaling rules for one direction with every default filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    /// Stabilization window, seconds.
    pub stabilization_window_seconds: i32,
    /// How policies combine.
    pub select_policy: SelectPolicy,
    /// The rate limits.
    pub policies: Vec<HpaScalingPolicy>,
}

impl ScalingRules {
    /// Longest policy period, seconds: how long scale events are kept.
    pub fn longest_period_seconds(&self) -> i32 {
        self.policies
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    fn filled(rules: Option<&HpaScalingRules>, defaults: ScalingRules) -> Self {
        let Some(rules) = rules else {
            return defaults;
        };
        Self {
            stabilization_window_seconds: rules
                .stabilization_window_seconds
                .unwrap_or(defaults.stabilization_window_seconds),
            select_policy: rules.select_policy.unwrap_or(defaults.select_policy),
            policies: rules.policies.clone().unwrap_or(defaults.policies),
        }
    }
}

/// `behavior` with Kubernetes' defaults applied to every unset field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedBehavior {
    /// Scale-up rules.
    pub scale_up: ScalingRules,
    /// Scale-down rules.
    pub scale_down: ScalingRules,
}

impl NormalizedBehavior {
    /// Fills `behavior` like the API server's defaulting plus the controller's: scale-up
    /// Pods 4 / 15 s and Percent 100 % / 15 s, Max, window 0 s; scale-down Percent
    /// 100 % / 15 s, Max, window = the controller's downscale stabilization window.
    pub fn new(behavior: &HpaBehavior, config: &HpaControllerConfig) -> Self {
        Self {
            scale_up: ScalingRules::filled(behavior.scale_up.as_ref(), default_scale_up()),
            scale_down: ScalingRules::filled(
                behavior.scale_down.as_ref(),
                default_scale_down(config),
            ),
        }
    }
}

/// Kubernetes' scale-up rules when none are given.
pub fn default_scale_up() -> ScalingRules {
    ScalingRules {
        stabilization_window_seconds: 0,
        select_policy: SelectPolicy::Max,
        policies: vec![
            HpaScalingPolicy::pods(4, 15),
            HpaScalingPolicy::percent(100, 15),
        ],
    }
}

/// Kubernetes' scale-down rules when none are given.
pub fn default_scale_down(config: &HpaControllerConfig) -> ScalingRules {
    let window = config.downscale_stabilization_window().as_secs();
    ScalingRules {
        stabilization_window_seconds: i32::try_from(window).unwrap_or(i32::MAX),
        select_policy: SelectPolicy::Max,
        policies: vec![HpaScalingPolicy::percent(100, 15)],
    }
}

/// Replicas changed by `events` strictly within the last `period_seconds`.
pub fn replicas_changed_in_period(
    period_seconds: i32,
    events: &[ScaleEvent],
    now: Timestamp,
) -> i64 {
    let cutoff = now - seconds(period_seconds);
    events
        .iter()
        .filter(|e| e.timestamp > cutoff)
        .map(|e| i64::from(e.replica_change))
        .sum()
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// The replica count each policy allows, with the count at the start of its period
/// reconstructed from the events.
fn policy_proposals<'a>(
    current: i32,
    up_events: &'a [ScaleEvent],
    down_events: &'a [ScaleEvent],
    rules: &'a ScalingRules,
    up: bool,
    now: Timestamp,
) -> impl Iterator<Item = i32> + 'a {
    rules.policies.iter().map(move |policy| {
        let added = replicas_changed_in_period(policy.period_seconds, up_events, now);
        let deleted = replicas_changed_in_period(policy.period_seconds, down_events, now);
        let start = i64::from(current) - added + deleted;
        let value = f64::from(policy.value);
        match (policy.kind, up) {
            (ScalingPolicyKind::Pods, true) => clamp_i32(start + i64::from(policy.value)),
            (ScalingPolicyKind::Pods, false) => clamp_i32(start - i64::from(policy.value)),
            // Rounded up so that a small percentage still adds a pod.
            (ScalingPolicyKind::Percent, true) => {
                (start as f64 * (1.0 + value / 100.0)).ceil() as i32
            }
            // Truncated, as upstream converts to int32.
            (ScalingPolicyKind::Percent, false) => (start as f64 * (1.0 - value / 100.0)) as i32,
        }
    })
}

/// The most replicas the scale-up policies allow now (before clamping to ≥ current).
pub fn scale_up_limit(
    current: i32,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
    now: Timestamp,
) -> i32 {
    let proposals = policy_proposals(current, up_events, down_events, rules, true, now);
    match rules.select_policy {
        SelectPolicy::Disabled => current,
        SelectPolicy::Min => proposals.fold(i32::MAX, i32::min),
        SelectPolicy::Max => proposals.fold(i32::MIN, i32::max),
    }
}

/// The fewest replicas the scale-down policies allow now (before clamping to ≤ current).
pub fn scale_down_limit(
    current: i32,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    rules: &ScalingRules,
    now: Timestamp,
) -> i32 {
    let proposals = policy_proposals(current, up_events, down_events, rules, false, now);
    match rules.select_policy {
        SelectPolicy::Disabled => current,
        // The smallest change down is the highest count.
        SelectPolicy::Min => proposals.fold(i32::MIN, i32::max),
        SelectPolicy::Max => proposals.fold(i32::MAX, i32::min),
    }
}

/// Without `behavior`, one loop may at most double the replicas, or reach 4.
pub fn legacy_scale_up_limit(current: i32) -> i32 {
    (2.0 * f64::from(current)).max(4.0) as i32
}
