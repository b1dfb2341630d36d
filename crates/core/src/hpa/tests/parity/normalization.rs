//! Rows for normalization (`horizontal.go`): the min/max branches, `behavior` policies,
//! stabilization windows, the defaults and the legacy rules. The [`demand`] metric asks
//! for exactly the replicas each row wants, so only normalization is at work.

use super::*;

use SelectPolicy::{Disabled, Max, Min};

fn rules(window: i32, select: SelectPolicy, policies: Vec<HpaScalingPolicy>) -> HpaScalingRules {
    HpaScalingRules {
        stabilization_window_seconds: Some(window),
        select_policy: Some(select),
        policies: Some(policies),
        tolerance: None,
    }
}

/// A [`demand`] spec in `[min, max]` with these scale-up and scale-down rules (unset:
/// Kubernetes' defaults).
fn with_rules(
    min: i32,
    max: i32,
    up: Option<HpaScalingRules>,
    down: Option<HpaScalingRules>,
) -> HpaSpec {
    demand_spec(min, max).with_behavior(HpaBehavior {
        scale_up: up,
        scale_down: down,
    })
}

fn up_only(select: SelectPolicy, policies: Vec<HpaScalingPolicy>) -> HpaSpec {
    with_rules(1, 100, Some(rules(0, select, policies)), None)
}

fn down_only(min: i32, select: SelectPolicy, policies: Vec<HpaScalingPolicy>) -> HpaSpec {
    with_rules(min, 100, None, Some(rules(0, select, policies)))
}

fn scaled_up(entries: &[(i32, i64)]) -> HpaState {
    HpaState {
        scale_up_events: events(entries),
        ..HpaState::new()
    }
}

#[test]
fn bounds_and_legacy_rules_follow_kubernetes() {
    check(vec![
        // horizontal.go: currentReplicas > maxReplicas → maxReplicas, metrics not read.
        row(
            "Bounds: above maxReplicas goes to maxReplicas",
            demand_spec(1, 10),
            demand_at(12, 12),
            (None, 10),
        ),
        // currentReplicas < minReplicas → minReplicas, metrics not read.
        row(
            "Bounds: below minReplicas goes to minReplicas",
            demand_spec(3, 10),
            demand_at(1, 1),
            (None, 3),
        ),
        // convertDesiredReplicasWithRules: at most max(2 × 3, 4) = 6.
        row(
            "Defaults, legacy: scale-up limit max(2 × current, 4)",
            demand_spec(1, 100),
            demand_at(3, 20),
            (Some(20), 6),
        ),
        // max(2 × 1, 4) = 4.
        row(
            "Defaults, legacy: scale-up limit at least 4",
            demand_spec(1, 100),
            demand_at(1, 20),
            (Some(20), 4),
        ),
        // stabilizeRecommendation: the highest recommendation of the 300 s window, 6.
        row(
            "Defaults, legacy: 300 s downscale window holds a scale-down",
            demand_spec(1, 100),
            demand_at(6, 2),
            (Some(2), 6),
        )
        .after(recommendations(&[(6, 299)]))
        .with_default_config(),
        // The entry is exactly 300 s old: out of the window (SPEC §1: windows are strict;
        // upstream's legacy path tests Before(cutoff), a boundary real loops never hit).
        row(
            "Stabilization: legacy window is strict",
            demand_spec(1, 100),
            demand_at(6, 2),
            (Some(2), 2),
        )
        .after(recommendations(&[(6, 300)]))
        .with_default_config(),
        // A fresh controller records the current count first: no scale-down for a full
        // window after a restart (recordInitialRecommendation).
        row(
            "Stabilization: a restarted controller holds scale-downs",
            demand_spec(1, 100),
            demand_at(6, 2),
            (Some(2), 6),
        )
        .with_default_config(),
    ]);
}

#[test]
fn behavior_policies_follow_kubernetes() {
    let pods_2 = || vec![HpaScalingPolicy::pods(2, 60)];
    let both = || {
        vec![
            HpaScalingPolicy::pods(4, 60),
            HpaScalingPolicy::percent(50, 60),
        ]
    };
    let both_down = || {
        vec![
            HpaScalingPolicy::pods(2, 60),
            HpaScalingPolicy::percent(50, 60),
        ]
    };
    check(vec![
        // calculateScaleUpLimitWithScalingRules: period start = 7 − 1 added 30 s ago = 6;
        // Pods 2 → 8.
        row(
            "Behavior: period start = current − scale-ups in the period",
            up_only(Max, pods_2()),
            demand_at(7, 20),
            (Some(20), 8),
        )
        .after(scaled_up(&[(1, 30)])),
        // The event is exactly 60 s old: outside the period (After(cutoff)) → 7 + 2 = 9.
        row(
            "Behavior: periods are strict",
            up_only(Max, pods_2()),
            demand_at(7, 20),
            (Some(20), 9),
        )
        .after(scaled_up(&[(1, 60)])),
        // Start 7 − 3 = 4 → 6 < 7: the up limit never falls below current → 7.
        row(
            "Behavior: the up limit never falls below current",
            up_only(Max, pods_2()),
            demand_at(7, 20),
            (Some(20), 7),
        )
        .after(scaled_up(&[(3, 30)])),
        // Start = 7 + 2 removed in the period = 9 → 11.
        row(
            "Behavior: period start = current + scale-downs in the period",
            up_only(Max, pods_2()),
            demand_at(7, 20),
            (Some(20), 11),
        )
        .after(HpaState {
            scale_down_events: events(&[(2, 30)]),
            ..HpaState::new()
        }),
        // Percent 50 up: ceil(5 × 1.5) = ceil(7.5) = 8.
        row(
            "Behavior: Percent up is ceil(start × (1 + v/100))",
            up_only(Max, vec![HpaScalingPolicy::percent(50, 60)]),
            demand_at(5, 20),
            (Some(20), 8),
        ),
        // Percent 50 down: trunc(5 × 0.5) = trunc(2.5) = 2.
        row(
            "Behavior: Percent down is trunc(start × (1 − v/100))",
            down_only(1, Max, vec![HpaScalingPolicy::percent(50, 60)]),
            demand_at(5, 1),
            (Some(1), 2),
        ),
        // Pods 1 down: 5 − 1 = 4.
        row(
            "Behavior: Pods down is start − value",
            down_only(1, Max, vec![HpaScalingPolicy::pods(1, 60)]),
            demand_at(5, 1),
            (Some(1), 4),
        ),
        // Pods 10 + 4 = 14, Percent ceil(10 × 1.5) = 15: Max → 15.
        row(
            "Behavior: selectPolicy Max up takes the biggest change",
            up_only(Max, both()),
            demand_at(10, 40),
            (Some(40), 15),
        ),
        // Min → 14.
        row(
            "Behavior: selectPolicy Min up takes the smallest change",
            up_only(Min, both()),
            demand_at(10, 40),
            (Some(40), 14),
        ),
        // Disabled → no scale-up.
        row(
            "Behavior: selectPolicy Disabled up",
            up_only(Disabled, both()),
            demand_at(10, 40),
            (Some(40), 10),
        ),
        // Pods 10 − 2 = 8, Percent trunc(10 × 0.5) = 5: Max (biggest change) → 5.
        row(
            "Behavior: selectPolicy Max down takes the biggest change",
            down_only(1, Max, both_down()),
            demand_at(10, 1),
            (Some(1), 5),
        ),
        // Min (smallest change) → 8.
        row(
            "Behavior: selectPolicy Min down takes the smallest change",
            down_only(1, Min, both_down()),
            demand_at(10, 1),
            (Some(1), 8),
        ),
        row(
            "Behavior: selectPolicy Disabled down",
            down_only(1, Disabled, both_down()),
            demand_at(10, 1),
            (Some(1), 10),
        ),
        // Up limit 15, maxReplicas 12 → min(12, 15) = 12.
        row(
            "Behavior: clamp to min(maxReplicas, up limit)",
            with_rules(1, 12, Some(rules(0, Max, both())), None),
            demand_at(10, 40),
            (Some(40), 12),
        ),
        // Down limit 5, minReplicas 7 → max(7, 5) = 7.
        row(
            "Behavior: clamp to max(minReplicas, down limit)",
            down_only(7, Max, both_down()),
            demand_at(10, 1),
            (Some(1), 7),
        ),
    ]);
}

#[test]
fn stabilization_and_defaults_follow_kubernetes() {
    let up_window = |window| {
        with_rules(
            1,
            100,
            Some(HpaScalingRules {
                stabilization_window_seconds: Some(window),
                ..HpaScalingRules::default()
            }),
            Some(rules(0, Max, vec![HpaScalingPolicy::percent(100, 15)])),
        )
    };
    let down_window = with_rules(
        1,
        100,
        None,
        Some(HpaScalingRules {
            stabilization_window_seconds: Some(300),
            ..HpaScalingRules::default()
        }),
    );
    check(vec![
        // stabilizeRecommendationWithBehaviors: up only as far as the lowest
        // recommendation of the 60 s window: min(10, 6, 9) = 6.
        row(
            "Stabilization: scale up to the window's minimum",
            up_window(60),
            demand_at(5, 10),
            (Some(10), 6),
        )
        .after(recommendations(&[(6, 30), (9, 45)])),
        // The 6 is exactly 60 s old: out (After(cutoff)) → min(10, 9) = 9.
        row(
            "Stabilization: behavior windows are strict",
            up_window(60),
            demand_at(5, 10),
            (Some(10), 9),
        )
        .after(recommendations(&[(6, 60), (9, 45)])),
        // Down only as far as the highest of the 300 s window: max(3, 8, 7) = 8.
        row(
            "Stabilization: scale down to the window's maximum",
            down_window.clone(),
            demand_at(8, 3),
            (Some(3), 8),
        )
        .after(recommendations(&[(8, 200), (7, 100)])),
        // The 8 is exactly 300 s old: out → max(3, 7) = 7; default Percent 100 % allows it.
        row(
            "Stabilization: scale-down window is strict",
            down_window,
            demand_at(8, 3),
            (Some(3), 7),
        )
        .after(recommendations(&[(8, 300), (7, 100)])),
        // Default scale-up: Pods 4 → 14, Percent 100 % → 20, Max → 20.
        row(
            "Defaults: scale-up Pods 4 and Percent 100 % per 15 s, Max",
            demand_spec(1, 100).with_behavior(HpaBehavior::default()),
            demand_at(10, 40),
            (Some(40), 20),
        ),
        // From 2: Pods 2 + 4 = 6, Percent 4 → 6.
        row(
            "Defaults: scale-up Pods 4 wins on small counts",
            demand_spec(1, 100).with_behavior(HpaBehavior::default()),
            demand_at(2, 40),
            (Some(40), 6),
        ),
        // The default scale-down window is the controller's 300 s: 10 from 100 s ago holds.
        row(
            "Defaults: scale-down after the 300 s window",
            demand_spec(1, 100).with_behavior(HpaBehavior::default()),
            demand_at(10, 2),
            (Some(2), 10),
        )
        .after(recommendations(&[(10, 100)]))
        .with_default_config(),
        // Out of the window: Percent 100 % per 15 s allows trunc(10 × 0) = 0 → 2.
        row(
            "Defaults: scale-down Percent 100 % per 15 s",
            demand_spec(1, 100).with_behavior(HpaBehavior::default()),
            demand_at(10, 2),
            (Some(2), 2),
        )
        .after(recommendations(&[(10, 301)]))
        .with_default_config(),
    ]);
}
