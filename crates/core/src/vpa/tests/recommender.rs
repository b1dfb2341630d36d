//! The recommendation: upstream's numbers for the same sample streams, then policy.

use super::super::aggregate::ContainerAggregate;
use super::super::limits::limit_for;
use super::super::policy::{
    Amounts, ContainerMode, ContainerPolicy, ControlledValues, PolicyError, ResourcePolicy,
    VpaResource,
};
use super::super::recommender::{ContainerRecommendation, NoteKind, RecommenderConfig, recommend};
use super::*;

/// `minutes` of one sample a minute from T0.
fn stream(
    minutes: u64,
    cpu: impl Fn(u64) -> f64,
    memory: impl Fn(u64) -> f64,
) -> ContainerAggregate {
    let mut s = ContainerAggregate::new(T0);
    for m in 0..minutes {
        s.add_cpu_sample(T0 + mins(m), cpu(m));
        s.add_memory_sample(T0 + mins(m), memory(m));
    }
    s
}

/// (target, lower bound, upper bound) of one resource.
fn bounds(c: &ContainerRecommendation, r: VpaResource) -> (i64, i64, i64) {
    let get = |a: &Amounts| a.get(r).unwrap();
    (get(&c.target), get(&c.lower_bound), get(&c.upper_bound))
}

/// Expected values: upstream's estimator chain computed independently for the same
/// streams (percentile → truncate → +15 % → confidence factor → pod minimum).
#[test]
fn upstream_numbers_for_the_same_sample_streams() {
    let now = T0 + hours(48);
    /// (name, state, CPU and memory (target, lower, upper))
    type Case = (
        &'static str,
        ContainerAggregate,
        (i64, i64, i64),
        (i64, i64, i64),
    );
    let cases: Vec<Case> = vec![
        (
            "two steady days",
            stream(2880, |_| 0.5, |_| 300.0 * MIB),
            (587, 586, 880),
            (380_258_472, 379_878_366, 570_453_748),
        ),
        (
            "cycling CPU, memory doubling on day two",
            stream(
                2880,
                |m| 0.1 * (1 + m % 10) as f64,
                |m| if m < 1440 { GIB } else { 2.0 * GIB },
            ),
            (1168, 715, 1752),
            (2_539_377_048, 2_536_838_693, 3_809_506_589),
        ),
        (
            "half an hour of history",
            stream(30, |_| 0.25, |_| 400.0 * MIB),
            (296, 268, 14_993),
            (511_772_986, 464_498_223, 25_923_948_842),
        ),
    ];
    for (name, state, cpu, memory) in cases {
        let r = recommend(
            [("app", &state)],
            &ResourcePolicy::default(),
            &RecommenderConfig::default(),
            now,
        );
        let c = &r.containers[0];
        assert_eq!(bounds(c, VpaResource::Cpu), cpu, "{name}: cpu");
        assert_eq!(bounds(c, VpaResource::Memory), memory, "{name}: memory");
        assert_eq!(c.uncapped_target, c.target, "{name}");
        assert!(r.notes.is_empty(), "{name}: {:?}", r.notes);
    }
}

#[test]
fn pod_minimums_are_split_across_recommended_containers() {
    let tiny = stream(3 * 1440, |_| 0.001, |_| 5e6);
    let off = stream(3 * 1440, |_| 0.001, |_| 5e6);
    let mut sidecar_off = ContainerPolicy::new("sidecar");
    sidecar_off.mode = ContainerMode::Off;
    let policy = ResourcePolicy::new(vec![sidecar_off]).unwrap();
    let now = T0 + hours(72);
    let config = RecommenderConfig::default();
    let r = recommend(
        [("a", &tiny), ("b", &tiny), ("sidecar", &off)],
        &policy,
        &config,
        now,
    );
    // The Off container gets nothing and does not take a share of the minimum.
    assert_eq!(r.containers.len(), 2);
    for c in &r.containers {
        assert_eq!(bounds(c, VpaResource::Cpu), (12, 12, 14));
        assert_eq!(
            bounds(c, VpaResource::Memory),
            (131_072_000, 131_072_000, 131_072_000)
        );
    }
    // One container alone gets the whole pod minimum.
    let r = recommend([("a", &tiny)], &policy, &config, now);
    assert_eq!(r.containers[0].target, Amounts::new(25, 262_144_000));
}

#[test]
fn no_history_means_unbounded_upper_and_no_entry_without_samples() {
    let mut one = ContainerAggregate::new(T0);
    one.add_cpu_sample(T0, 0.5);
    let empty = ContainerAggregate::new(T0);
    let r = recommend(
        [("one", &one), ("empty", &empty)],
        &ResourcePolicy::default(),
        &RecommenderConfig::default(),
        T0,
    );
    assert_eq!(r.containers.len(), 1);
    let c = &r.containers[0];
    assert_eq!(c.container_name, "one");
    assert_eq!(c.upper_bound.cpu_millis, Some(100_000_000_000_000));
    assert_eq!(c.lower_bound.cpu_millis, Some(25));
    assert_eq!(c.confidence_days, 0.0);
}

#[test]
fn capping_keeps_the_uncapped_target_and_notes_it() {
    let s = stream(2880, |_| 0.5, |_| 300.0 * MIB);
    let mut p = ContainerPolicy::new("*");
    p.max_allowed = Amounts {
        cpu_millis: Some(300),
        memory_bytes: None,
    };
    p.min_allowed = Amounts {
        cpu_millis: None,
        memory_bytes: Some(600 * 1024 * 1024),
    };
    let policy = ResourcePolicy::new(vec![p]).unwrap();
    let r = recommend(
        [("app", &s)],
        &policy,
        &RecommenderConfig::default(),
        T0 + hours(48),
    );
    let c = &r.containers[0];
    assert_eq!(c.target, Amounts::new(300, 600 * 1024 * 1024));
    assert_eq!(c.uncapped_target, Amounts::new(587, 380_258_472));
    assert_eq!(c.lower_bound, Amounts::new(300, 600 * 1024 * 1024));
    assert_eq!(c.upper_bound, Amounts::new(300, 600 * 1024 * 1024));
    let kinds: Vec<&NoteKind> = r.notes.iter().map(|n| &n.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &NoteKind::CappedToMaxAllowed(VpaResource::Cpu),
            &NoteKind::CappedToMinAllowed(VpaResource::Memory)
        ]
    );
}

#[test]
fn container_policy_beats_the_wildcard_and_controlled_resources_filter() {
    let s = stream(2880, |_| 0.5, |_| 300.0 * MIB);
    let mut all = ContainerPolicy::new("*");
    all.controlled_resources = Some(vec![VpaResource::Memory]);
    let app = ContainerPolicy::new("app");
    let policy = ResourcePolicy::new(vec![all, app]).unwrap();
    let config = RecommenderConfig::default();
    let r = recommend(
        [("app", &s), ("proxy", &s)],
        &policy,
        &config,
        T0 + hours(48),
    );
    assert_eq!(r.containers[0].container_name, "app");
    assert!(r.containers[0].target.cpu_millis.is_some());
    assert_eq!(r.containers[1].container_name, "proxy");
    assert_eq!(r.containers[1].target.cpu_millis, None);
    assert_eq!(r.containers[1].uncapped_target.cpu_millis, None);
    assert!(r.containers[1].target.memory_bytes.is_some());
}

#[test]
fn rounding_goes_up_to_the_unit() {
    let s = stream(2880, |_| 0.5, |_| 300.0 * MIB);
    let config = RecommenderConfig {
        cpu_rounding_millis: Some(100),
        memory_rounding_bytes: Some(64 * 1024 * 1024),
        ..RecommenderConfig::default()
    };
    let r = recommend(
        [("app", &s)],
        &ResourcePolicy::default(),
        &config,
        T0 + hours(48),
    );
    let c = &r.containers[0];
    assert_eq!(c.target.cpu_millis, Some(600));
    assert_eq!(c.lower_bound.cpu_millis, Some(600));
    assert_eq!(c.upper_bound.cpu_millis, Some(900));
    assert_eq!(c.target.memory_bytes, Some(384 * 1024 * 1024));
}

#[test]
fn bad_policies_are_refused_with_the_place() {
    let mut p = ContainerPolicy::new("app");
    p.min_allowed = Amounts::new(500, 1);
    p.max_allowed = Amounts::new(100, 0);
    assert_eq!(
        ResourcePolicy::new(vec![ContainerPolicy::new("x"), p]),
        Err(PolicyError::MinAboveMax {
            index: 1,
            container: "app".into(),
            resource: VpaResource::Cpu,
            min: 500,
            max: 100
        })
    );
    let mut p = ContainerPolicy::new("app");
    p.max_allowed.memory_bytes = Some(-1);
    assert!(matches!(
        ResourcePolicy::new(vec![p]),
        Err(PolicyError::Negative {
            field: "maxAllowed",
            ..
        })
    ));
    assert!(matches!(
        ResourcePolicy::new(vec![ContainerPolicy::new("a"), ContainerPolicy::new("a")]),
        Err(PolicyError::Duplicate { index: 1, .. })
    ));
    assert_eq!(VpaResource::parse("memory"), Ok(VpaResource::Memory));
    assert_eq!(
        VpaResource::parse("nvidia.com/gpu"),
        Err(PolicyError::UnknownResource {
            resource: "nvidia.com/gpu".into()
        })
    );
}

#[test]
fn limits_keep_their_ratio_or_stay_with_requests_only() {
    use ControlledValues::*;
    // limit 2 × request: keeps ×2.
    assert_eq!(
        limit_for(RequestsAndLimits, Some(500), Some(1000), 300),
        Some(600)
    );
    // Rounded up to a whole unit.
    assert_eq!(limit_for(RequestsAndLimits, Some(3), Some(4), 10), Some(14));
    // No limit: none; no request: limit = request; equal: equal.
    assert_eq!(limit_for(RequestsAndLimits, Some(500), None, 300), None);
    assert_eq!(
        limit_for(RequestsAndLimits, None, Some(1000), 300),
        Some(300)
    );
    assert_eq!(
        limit_for(RequestsAndLimits, Some(1000), Some(1000), 300),
        Some(300)
    );
    // Saturates instead of overflowing.
    assert_eq!(
        limit_for(RequestsAndLimits, Some(1), Some(i64::MAX), 10),
        Some(i64::MAX)
    );
    // Requests only: the limit stays.
    assert_eq!(
        limit_for(RequestsOnly, Some(500), Some(1000), 300),
        Some(1000)
    );
    assert_eq!(limit_for(RequestsOnly, Some(500), None, 300), None);
}
