//! `behavior`: defaults, policies with periods, selectPolicy, stabilization windows, and
//! the legacy rules without `behavior`. Numbers derived in the comments.

use super::*;

fn event(change: i32, t: Timestamp) -> ScaleEvent {
    ScaleEvent {
        replica_change: change,
        timestamp: t,
        outdated: false,
    }
}

fn rules(select: SelectPolicy, policies: Vec<HpaScalingPolicy>) -> ScalingRules {
    ScalingRules {
        stabilization_window_seconds: 0,
        select_policy: select,
        policies,
    }
}

fn with_behavior(up: Option<HpaScalingRules>, down: Option<HpaScalingRules>) -> HpaSpec {
    demand_spec(1, 100).with_behavior(HpaBehavior {
        scale_up: up,
        scale_down: down,
    })
}

#[test]
fn defaults_fill_unset_fields() {
    let config = HpaControllerConfig::default();
    let b = NormalizedBehavior::new(&HpaBehavior::default(), &config);
    assert_eq!(b.scale_up.stabilization_window_seconds, 0);
    assert_eq!(b.scale_up.select_policy, SelectPolicy::Max);
    assert_eq!(
        b.scale_up.policies,
        vec![
            HpaScalingPolicy::pods(4, 15),
            HpaScalingPolicy::percent(100, 15)
        ]
    );
    assert_eq!(b.scale_down.stabilization_window_seconds, 300);
    assert_eq!(
        b.scale_down.policies,
        vec![HpaScalingPolicy::percent(100, 15)]
    );
    // A partly given rule keeps its fields and takes defaults for the rest.
    let partial = HpaBehavior {
        scale_up: None,
        scale_down: Some(HpaScalingRules {
            select_policy: Some(SelectPolicy::Min),
            ..HpaScalingRules::default()
        }),
    };
    let b = NormalizedBehavior::new(&partial, &config);
    assert_eq!(b.scale_down.select_policy, SelectPolicy::Min);
    assert_eq!(b.scale_down.stabilization_window_seconds, 300);
    assert_eq!(
        b.scale_down.policies,
        vec![HpaScalingPolicy::percent(100, 15)]
    );
    // The controller's downscale window is the default window.
    let config = HpaControllerConfig::try_new(
        0.1,
        DEFAULT_CPU_INITIALIZATION_PERIOD,
        DEFAULT_INITIAL_READINESS_DELAY,
        Duration::from_secs(120),
    )
    .unwrap();
    assert_eq!(
        NormalizedBehavior::new(&HpaBehavior::default(), &config)
            .scale_down
            .stabilization_window_seconds,
        120
    );
}

#[test]
fn period_start_is_reconstructed_from_events() {
    // 10 replicas now; +4 at -10 s and -3 at -5 s within a 60 s period: the period began at
    // 10 - 4 + 3 = 9. Pods 5 → 14; Percent 20 → ceil(9 × 1.2) = ceil(10.8) = 11.
    // Max → 14, Min → 11.
    let up = [event(4, ago(10))];
    let down = [event(3, ago(5))];
    let max = rules(
        SelectPolicy::Max,
        vec![
            HpaScalingPolicy::pods(5, 60),
            HpaScalingPolicy::percent(20, 60),
        ],
    );
    assert_eq!(scale_up_limit(10, &up, &down, &max, NOW), 14);
    let min = ScalingRules {
        select_policy: SelectPolicy::Min,
        ..max.clone()
    };
    assert_eq!(scale_up_limit(10, &up, &down, &min, NOW), 11);
    // Events exactly one period old no longer count (strict): start = 10.
    let old = [event(4, ago(60))];
    assert_eq!(scale_up_limit(10, &old, &[], &max, NOW), 15);
    assert_eq!(
        replicas_changed_in_period(60, &[event(4, ago(60)), event(2, ago(59))], NOW),
        2
    );
}

#[test]
fn scale_down_limits_pick_the_right_policy() {
    let both = vec![
        HpaScalingPolicy::pods(2, 60),
        HpaScalingPolicy::percent(50, 60),
    ];
    // From 10: Pods → 8, Percent → trunc(10 × 0.5) = 5. Max (biggest change) → 5, Min → 8.
    assert_eq!(
        scale_down_limit(10, &[], &[], &rules(SelectPolicy::Max, both.clone()), NOW),
        5
    );
    assert_eq!(
        scale_down_limit(10, &[], &[], &rules(SelectPolicy::Min, both.clone()), NOW),
        8
    );
    assert_eq!(
        scale_down_limit(10, &[], &[], &rules(SelectPolicy::Disabled, both), NOW),
        10
    );
    // Percent down truncates: 7 × (1 - 0.3) = 4.9 → 4.
    let pct = rules(SelectPolicy::Max, vec![HpaScalingPolicy::percent(30, 60)]);
    assert_eq!(scale_down_limit(7, &[], &[], &pct, NOW), 4);
    // Percent up rounds up: 3 × 1.1 = 3.3 → 4.
    let pct = rules(SelectPolicy::Max, vec![HpaScalingPolicy::percent(10, 60)]);
    assert_eq!(scale_up_limit(3, &[], &[], &pct, NOW), 4);
    assert_eq!(legacy_scale_up_limit(1), 4);
    assert_eq!(legacy_scale_up_limit(7), 14);
    assert_eq!(legacy_scale_up_limit(i32::MAX), i32::MAX, "saturates");
}

#[test]
fn default_policies_scale_up_by_four_or_double_per_15_seconds() {
    let spec = with_behavior(None, None);
    let mut state = HpaState::new();
    // From 1, wanting 10: Pods 1 + 4 = 5, Percent ceil(1 × 2) = 2; Max → 5.
    let d = step(&spec, &mut state, 1, 10, at(0));
    assert_eq!(d.desired_replicas, 5);
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::ScaleUpLimit, true)
    );
    assert_eq!(
        d.reason.as_deref(),
        Some("external metric demand above target")
    );
    // 14 s later the +4 is still inside the period: start = 5 - 4 = 1 → limit 5 → no change.
    let d = step(&spec, &mut state, 5, 10, at(14));
    assert_eq!((d.desired_replicas, d.rescale), (5, false));
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::ScaleUpLimit, true)
    );
    // At 15 s it is exactly one period old and drops out: Pods 9, Percent 10 → 10.
    let d = step(&spec, &mut state, 5, 10, at(15));
    assert_eq!(d.desired_replicas, 10);
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::DesiredWithinRange, false)
    );
}

#[test]
fn select_policy_min_and_disabled_scale_up() {
    let min = with_behavior(
        Some(HpaScalingRules {
            select_policy: Some(SelectPolicy::Min),
            ..HpaScalingRules::default()
        }),
        None,
    );
    // min(Pods 5, Percent 2) = 2.
    assert_eq!(run(&min, 1, &[(0, 10)]), vec![2]);
    let disabled = with_behavior(
        Some(HpaScalingRules {
            select_policy: Some(SelectPolicy::Disabled),
            ..HpaScalingRules::default()
        }),
        None,
    );
    let mut state = HpaState::new();
    let d = step(&disabled, &mut state, 1, 10, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (1, false));
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::ScaleUpLimit, true)
    );
    // Scale-down still works when only scale-up is disabled (window 0 so it acts now).
    let down_now = HpaScalingRules {
        stabilization_window_seconds: Some(0),
        ..HpaScalingRules::default()
    };
    let disabled_up = with_behavior(
        Some(HpaScalingRules {
            select_policy: Some(SelectPolicy::Disabled),
            ..HpaScalingRules::default()
        }),
        Some(down_now),
    );
    assert_eq!(run(&disabled_up, 6, &[(0, 2)]), vec![2]);
}

#[test]
fn scale_down_percent_policy_with_period() {
    let down = HpaScalingRules {
        stabilization_window_seconds: Some(0),
        policies: Some(vec![HpaScalingPolicy::percent(50, 60)]),
        ..HpaScalingRules::default()
    };
    let spec = with_behavior(None, Some(down));
    // 10 → trunc(10 × 0.5) = 5. At +30 s the −5 is inside the 60 s period: start 10 → 5
    // again → no change. At +60 s it dropped out: trunc(5 × 0.5) = 2.
    assert_eq!(
        run(&spec, 10, &[(0, 1), (30, 1), (60, 1), (120, 1)]),
        vec![5, 5, 2, 1]
    );
}

#[test]
fn scale_down_select_policy() {
    let rules_with = |select| HpaScalingRules {
        stabilization_window_seconds: Some(0),
        select_policy: Some(select),
        policies: Some(vec![
            HpaScalingPolicy::pods(2, 60),
            HpaScalingPolicy::percent(50, 60),
        ]),
        tolerance: None,
    };
    // From 10 wanting 1: Pods → 8, Percent → 5.
    assert_eq!(
        run(
            &with_behavior(None, Some(rules_with(SelectPolicy::Max))),
            10,
            &[(0, 1)]
        ),
        vec![5]
    );
    assert_eq!(
        run(
            &with_behavior(None, Some(rules_with(SelectPolicy::Min))),
            10,
            &[(0, 1)]
        ),
        vec![8]
    );
    let spec = with_behavior(None, Some(rules_with(SelectPolicy::Disabled)));
    let mut state = HpaState::new();
    let d = step(&spec, &mut state, 10, 1, at(0));
    assert_eq!((d.desired_replicas, d.rescale), (10, false));
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::ScaleDownLimit, true)
    );
}

#[test]
fn scale_down_stabilization_window_is_strict() {
    let down = HpaScalingRules {
        stabilization_window_seconds: Some(60),
        ..HpaScalingRules::default()
    };
    let spec = with_behavior(None, Some(down));
    let mut state = HpaState::new();
    assert_eq!(step(&spec, &mut state, 10, 10, at(0)).desired_replicas, 10);
    // Wanting 4 at +30 s: the 10s recorded at 0 s are inside the window → stay at 10.
    let d = step(&spec, &mut state, 10, 4, at(30));
    assert_eq!(d.desired_replicas, 10);
    assert_eq!(d.stabilized_replicas, Some(10));
    assert_eq!(
        d.able_to_scale,
        Some(AbleToScaleReason::ScaleDownStabilized)
    );
    // At +60 s the entries from 0 s are exactly 60 s old and no longer count: highest is 4.
    // Default down policy Percent 100 % allows it; minReplicas 1 does not bind.
    let d = step(&spec, &mut state, 10, 4, at(60));
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(d.able_to_scale, Some(AbleToScaleReason::ReadyForNewScale));
    assert_eq!(d.reason.as_deref(), Some("All metrics below target"));
}

#[test]
fn scale_up_stabilization_window() {
    let up = HpaScalingRules {
        stabilization_window_seconds: Some(60),
        ..HpaScalingRules::default()
    };
    let spec = with_behavior(Some(up), None);
    let mut state = HpaState::new();
    assert_eq!(step(&spec, &mut state, 2, 2, at(0)).desired_replicas, 2);
    // The lowest recommendation within 60 s is 2 → no scale-up yet.
    let d = step(&spec, &mut state, 2, 6, at(10));
    assert_eq!(d.desired_replicas, 2);
    assert_eq!(d.able_to_scale, Some(AbleToScaleReason::ScaleUpStabilized));
    // At +60 s the 2s from 0 s dropped out; lowest is 6. Pods 2 + 4 = 6, Percent 4 → 6.
    assert_eq!(step(&spec, &mut state, 2, 6, at(60)).desired_replicas, 6);
}

#[test]
fn legacy_rules_without_behavior() {
    // Doubling limit: from 4 at most max(8, 4) = 8.
    let mut state = HpaState::new();
    let d = step(&demand_spec(1, 100), &mut state, 4, 20, at(0));
    assert_eq!(d.desired_replicas, 8);
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::ScaleUpLimit, true)
    );
    // From 1 at most 4.
    assert_eq!(run(&demand_spec(1, 100), 1, &[(0, 10)]), vec![4]);
    // maxReplicas below the doubling limit binds with TooManyReplicas.
    let mut state = HpaState::new();
    let d = step(&demand_spec(1, 6), &mut state, 4, 20, at(0));
    assert_eq!(d.desired_replicas, 6);
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::TooManyReplicas, true)
    );
    // The legacy up limit has no memory: it applies per loop.
    assert_eq!(
        run(&demand_spec(1, 100), 4, &[(0, 40), (15, 40), (30, 40)]),
        vec![8, 16, 32]
    );
}

#[test]
fn legacy_downscale_stabilization_is_300_seconds() {
    // From 5 wanting 2. A fresh state records the current 5 at 0 s, so nothing happens
    // until that entry is a full window old (strict): 300 s.
    assert_eq!(
        run(
            &demand_spec(1, 10),
            5,
            &[(0, 2), (150, 2), (299, 2), (300, 2)]
        ),
        vec![5, 5, 5, 2]
    );
    let mut state = HpaState::new();
    let d = step(&demand_spec(1, 10), &mut state, 5, 2, at(0));
    assert_eq!(
        d.able_to_scale,
        Some(AbleToScaleReason::ScaleDownStabilized)
    );
    assert_eq!(
        (d.metric_replicas, d.stabilized_replicas),
        (Some(2), Some(5))
    );
    // A spike: 6 is rate-limited to max(2 × 2, 4) = 4. When demand falls back to 2 the
    // highest recommendation of the window (6) still applies, and the doubling limit now
    // allows it: the legacy rules go up to 6 after the spike, as upstream does. The 6
    // leaves the window 300 s after it was made (at 360 s).
    assert_eq!(
        run(
            &demand_spec(1, 10),
            2,
            &[(0, 2), (60, 6), (120, 2), (359, 2), (360, 2)]
        ),
        vec![2, 4, 6, 6, 2]
    );
}

#[test]
fn legacy_min_bound() {
    // Wanting 0 with no window: minReplicas 2 binds with TooFewReplicas.
    let config = HpaControllerConfig::try_new(
        0.1,
        DEFAULT_CPU_INITIALIZATION_PERIOD,
        DEFAULT_INITIAL_READINESS_DELAY,
        Duration::ZERO,
    )
    .unwrap();
    let mut state = HpaState::new();
    let d = step_with(&demand_spec(2, 10), &mut state, &config, 5, 0, at(0));
    assert_eq!(d.desired_replicas, 2);
    assert_eq!(
        d.scaling_limited,
        limited(ScalingLimitedReason::TooFewReplicas, true)
    );
}

#[test]
fn scale_events_reuse_outdated_slots() {
    let mut state = HpaState::new();
    state.store_scale_event(1, 5, 15, at(0));
    state.store_scale_event(5, 9, 15, at(5));
    assert_eq!(state.scale_up_events.len(), 2);
    // At 30 s both are older than 15 s: marked outdated, the last one is overwritten.
    state.store_scale_event(9, 10, 15, at(30));
    assert_eq!(state.scale_up_events.len(), 2);
    assert_eq!(
        state.scale_up_events[1],
        ScaleEvent {
            replica_change: 1,
            timestamp: at(30),
            outdated: false
        }
    );
    assert!(state.scale_up_events[0].outdated);
    state.store_scale_event(10, 7, 15, at(31));
    assert_eq!(
        state.scale_down_events,
        vec![ScaleEvent {
            replica_change: 3,
            timestamp: at(31),
            outdated: false
        }]
    );
}

#[test]
fn legacy_hpas_keep_no_scale_events() {
    let mut state = HpaState::new();
    step(&demand_spec(1, 100), &mut state, 4, 8, at(0));
    assert!(state.scale_up_events.is_empty() && state.scale_down_events.is_empty());
}
