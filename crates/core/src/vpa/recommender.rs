//! From the aggregates of one VPA's containers to its recommendation.
//!
//! Per container and resource, as upstream's `logic/recommender.go` and `estimator.go`:
//! target = p90, lower bound = p50, upper bound = p95 of the histogram (CPU usage or
//! memory peaks), each plus the 15 % safety margin; the upper bound × (1 + 1/confidence),
//! the lower bound × (1 + 0.001/confidence)^−2; each at least the pod minimum (25 mCPU,
//! 250 MiB) divided by the number of containers recommended. Every step truncates to a
//! whole millicore or byte, as upstream's `ResourceAmount` does. Then Tidal's OOM floor
//! (memory), optional rounding up, `uncappedTarget`, capping to `minAllowed`/`maxAllowed`
//! and the `controlledResources` filter.

use super::aggregate::ContainerAggregate;
use super::policy::{Amounts, ContainerPolicy, ResourcePolicy, VpaResource};
use crate::Timestamp;

/// Upstream's largest resource amount (1e14 millicores or bytes).
pub const MAX_RESOURCE_AMOUNT: i64 = 100_000_000_000_000;
/// 250 MiB, upstream's `--pod-recommendation-min-memory-mb` default.
pub const POD_MIN_MEMORY_BYTES: f64 = 250.0 * 1024.0 * 1024.0;

/// Recommender settings. Defaults are upstream's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecommenderConfig {
    /// Percentile for the target (0.9).
    pub target_percentile: f64,
    /// Percentile for the lower bound (0.5).
    pub lower_bound_percentile: f64,
    /// Percentile for the upper bound (0.95).
    pub upper_bound_percentile: f64,
    /// Fraction added to each estimate (0.15).
    pub safety_margin: f64,
    /// Minimum CPU per pod, millicores (25), split equally across containers.
    pub pod_min_cpu_millis: f64,
    /// Minimum memory per pod, bytes (250 MiB), split equally across containers.
    pub pod_min_memory_bytes: f64,
    /// Round CPU up to a multiple of this many millicores (`None`: no rounding).
    pub cpu_rounding_millis: Option<i64>,
    /// Round memory up to a multiple of this many bytes (`None`: no rounding).
    pub memory_rounding_bytes: Option<i64>,
}

impl Default for RecommenderConfig {
    fn default() -> Self {
        Self {
            target_percentile: 0.9,
            lower_bound_percentile: 0.5,
            upper_bound_percentile: 0.95,
            safety_margin: 0.15,
            pod_min_cpu_millis: 25.0,
            pod_min_memory_bytes: POD_MIN_MEMORY_BYTES,
            cpu_rounding_millis: None,
            memory_rounding_bytes: None,
        }
    }
}

/// The recommendation for one container (CPU in millicores, memory in bytes; a resource
/// the policy does not control is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRecommendation {
    /// The container name.
    pub container_name: String,
    /// `target`.
    pub target: Amounts,
    /// `lowerBound`.
    pub lower_bound: Amounts,
    /// `upperBound`.
    pub upper_bound: Amounts,
    /// `uncappedTarget`: the target before `minAllowed`/`maxAllowed`.
    pub uncapped_target: Amounts,
    /// Confidence in the history, in days (min(lifespan, samples / 1,440)).
    pub confidence_days: f64,
}

/// Something worth telling the VPA's owner about one container's recommendation.
#[derive(Clone, Debug, PartialEq)]
pub enum NoteKind {
    /// The target was raised to `minAllowed`.
    CappedToMinAllowed(VpaResource),
    /// The target was lowered to `maxAllowed`.
    CappedToMaxAllowed(VpaResource),
    /// The memory target comes from the OOM floor, not from the usage history.
    OomBumped {
        /// The memory target the floor asks for (with margin), bytes.
        target_bytes: i64,
        /// Kills recorded.
        kills: u32,
    },
    /// The container is OOM-killed and `maxAllowed.memory` keeps it below what it needs:
    /// the recommendation stops at the cap, the kills will go on.
    OomCappedByMaxAllowed {
        /// What the OOM floor asks for (with margin), bytes.
        needed_bytes: i64,
        /// `maxAllowed.memory`.
        max_allowed_bytes: i64,
        /// Kills at a request below the floor since the floor last rose.
        kills_at_cap: u32,
    },
    /// No usage sample yet: the recommendation comes from OOM kills and minimums only.
    NoUsageSamples,
}

/// A note on one container.
#[derive(Clone, Debug, PartialEq)]
pub struct RecommendationNote {
    /// The container name.
    pub container_name: String,
    /// What happened.
    pub kind: NoteKind,
}

/// The recommendation for one VPA.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VpaRecommendation {
    /// One entry per container that has history (samples or an OOM kill) and is not `Off`,
    /// in the order given.
    pub containers: Vec<ContainerRecommendation>,
    /// Capping and OOM notes, in container order.
    pub notes: Vec<RecommendationNote>,
}

/// Computes the recommendation of one VPA from its containers' aggregates (by container
/// name), its resource policy and `now` (for the OOM floor's decay).
pub fn recommend<'a>(
    containers: impl IntoIterator<Item = (&'a str, &'a ContainerAggregate)>,
    policy: &ResourcePolicy,
    config: &RecommenderConfig,
    now: Timestamp,
) -> VpaRecommendation {
    let recommended: Vec<(&str, &ContainerAggregate, f64)> = containers
        .into_iter()
        .filter(|(name, _)| policy.is_enabled(name))
        .map(|(name, state)| (name, state, state.oom.floor_at(&state.config.oom, now)))
        .filter(|(_, state, floor)| state.total_samples > 0 || *floor > 0.0)
        .collect();
    let mut out = VpaRecommendation::default();
    if recommended.is_empty() {
        return out;
    }
    let fraction = 1.0 / recommended.len() as f64;
    let minimum = Amounts::new(
        scale(amount(config.pod_min_cpu_millis), fraction),
        scale(amount(config.pod_min_memory_bytes), fraction),
    );
    for (name, state, floor) in recommended {
        let (rec, notes) = recommend_container(name, state, floor, policy, config, &minimum);
        out.containers.push(rec);
        out.notes
            .extend(notes.into_iter().map(|kind| RecommendationNote {
                container_name: name.to_string(),
                kind,
            }));
    }
    out
}

/// One container: estimate, OOM floor, rounding, capping, controlled resources.
fn recommend_container(
    name: &str,
    state: &ContainerAggregate,
    floor: f64,
    policy: &ResourcePolicy,
    config: &RecommenderConfig,
    minimum: &Amounts,
) -> (ContainerRecommendation, Vec<NoteKind>) {
    let container_policy = policy.for_container(name);
    let mut notes = Vec::new();
    if state.total_samples == 0 {
        notes.push(NoteKind::NoUsageSamples);
    }
    let mut e = estimate(state, config, minimum);
    let oom_target = (floor > 0.0).then(|| amount(floor * (1.0 + config.safety_margin)));
    if let Some(t) = oom_target {
        if e.target.memory_bytes.is_some_and(|m| t > m) {
            notes.push(NoteKind::OomBumped {
                target_bytes: t,
                kills: state.oom.kills(),
            });
        }
        raise_to_oom_floor(&mut e, floor, t);
    }
    round_up(&mut e, config);
    let uncapped = e.target;
    if let Some(p) = container_policy {
        cap(&mut e, p, &mut notes);
        if let (Some(needed), Some(max)) = (oom_target, p.max(VpaResource::Memory))
            && needed > max
        {
            notes.push(NoteKind::OomCappedByMaxAllowed {
                needed_bytes: needed,
                max_allowed_bytes: max,
                kills_at_cap: state.oom.kills_below_floor(),
            });
        }
    }
    let mut rec = ContainerRecommendation {
        container_name: name.to_string(),
        target: e.target,
        lower_bound: e.lower,
        upper_bound: e.upper,
        uncapped_target: uncapped,
        confidence_days: state.confidence(),
    };
    filter_controlled(&mut rec, container_policy);
    (rec, notes)
}

/// Target, lower and upper bound of one container, both resources set.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    target: Amounts,
    lower: Amounts,
    upper: Amounts,
}

/// Upstream's estimators: percentile, margin, confidence multiplier, minimum.
fn estimate(state: &ContainerAggregate, config: &RecommenderConfig, minimum: &Amounts) -> Estimate {
    let confidence = state.confidence();
    let upper_factor = 1.0 + 1.0 / confidence;
    let lower_factor = (1.0 + 0.001 / confidence).powf(-2.0);
    let mut e = Estimate {
        target: Amounts::default(),
        lower: Amounts::default(),
        upper: Amounts::default(),
    };
    for resource in VpaResource::ALL {
        let at = |p: f64| {
            let v = match resource {
                VpaResource::Cpu => state.cpu.percentile(p) * 1000.0,
                VpaResource::Memory => state.memory.percentile(p),
            };
            let a = amount(v);
            a.saturating_add(scale(a, config.safety_margin))
        };
        let min = minimum.get(resource).unwrap_or(0);
        e.target
            .set(resource, Some(at(config.target_percentile).max(min)));
        let lower = scale(at(config.lower_bound_percentile), lower_factor);
        e.lower.set(resource, Some(lower.max(min)));
        let upper = scale(at(config.upper_bound_percentile), upper_factor);
        e.upper.set(resource, Some(upper.max(min)));
    }
    e
}

/// Raises memory to the OOM floor: target to floor + margin, lower bound to the floor,
/// upper bound to at least the target.
fn raise_to_oom_floor(e: &mut Estimate, floor: f64, target: i64) {
    let raise = |a: &mut Amounts, v: i64| {
        a.memory_bytes = Some(a.memory_bytes.unwrap_or(0).max(v));
    };
    raise(&mut e.target, target);
    raise(&mut e.lower, amount(floor));
    let t = e.target.memory_bytes.unwrap_or(target);
    raise(&mut e.upper, t);
    // Keep lower ≤ target (the floor without margin never passes the raised target, but
    // the percentile-based lower bound could after the confidence factor).
    if let (Some(l), Some(t)) = (e.lower.memory_bytes, e.target.memory_bytes) {
        e.lower.memory_bytes = Some(l.min(t));
    }
}

fn round(v: i64, unit: Option<i64>) -> i64 {
    match unit {
        Some(u) if u > 1 => {
            let r = v.rem_euclid(u);
            if r == 0 {
                v
            } else {
                v.saturating_add(u - r).min(MAX_RESOURCE_AMOUNT)
            }
        }
        _ => v,
    }
}

/// Optional rounding up to a multiple of the configured unit.
fn round_up(e: &mut Estimate, config: &RecommenderConfig) {
    for a in [&mut e.target, &mut e.lower, &mut e.upper] {
        a.cpu_millis = a.cpu_millis.map(|v| round(v, config.cpu_rounding_millis));
        a.memory_bytes = a
            .memory_bytes
            .map(|v| round(v, config.memory_rounding_bytes));
    }
}

/// `minAllowed` then `maxAllowed` on target and both bounds; notes for the target.
fn cap(e: &mut Estimate, policy: &ContainerPolicy, notes: &mut Vec<NoteKind>) {
    for resource in VpaResource::ALL {
        for (i, a) in [&mut e.target, &mut e.lower, &mut e.upper]
            .into_iter()
            .enumerate()
        {
            let Some(mut v) = a.get(resource) else {
                continue;
            };
            if let Some(min) = policy.min(resource)
                && v < min
            {
                v = min;
                if i == 0 {
                    notes.push(NoteKind::CappedToMinAllowed(resource));
                }
            }
            if let Some(max) = policy.max(resource)
                && v > max
            {
                v = max;
                if i == 0 {
                    notes.push(NoteKind::CappedToMaxAllowed(resource));
                }
            }
            a.set(resource, Some(v));
        }
    }
}

/// Drops the resources the policy does not control.
fn filter_controlled(rec: &mut ContainerRecommendation, policy: Option<&ContainerPolicy>) {
    let Some(policy) = policy else { return };
    for resource in VpaResource::ALL {
        if !policy.controls(resource) {
            for a in [
                &mut rec.target,
                &mut rec.lower_bound,
                &mut rec.upper_bound,
                &mut rec.uncapped_target,
            ] {
                a.set(resource, None);
            }
        }
    }
}

/// A float as a resource amount, truncated, within [0, 1e14]; NaN is 0.
pub(crate) fn amount(v: f64) -> i64 {
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= MAX_RESOURCE_AMOUNT as f64 {
        MAX_RESOURCE_AMOUNT
    } else {
        v as i64
    }
}

/// `a × factor` as a resource amount.
fn scale(a: i64, factor: f64) -> i64 {
    amount(a as f64 * factor)
}
