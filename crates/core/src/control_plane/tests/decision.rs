//! Decision tables: each rule of the decision, and what holds it back.

use super::*;

/// Three control-plane nodes: high threshold 2/3, down below 2/3 × 0.8 ≈ 53 %.
fn config() -> DecisionConfig {
    DecisionConfig::for_nodes(3)
}

struct Case {
    name: &'static str,
    current: usize,
    cpu: f64,
    mem_gib: f64,
    nodes: u32,
    last_change: Option<(u64, Direction)>,
    target: usize,
    reason: &'static str,
}

#[test]
fn decision_table_on_an_instance_ladder() {
    let up = Some((10, Direction::Up));
    let cases = [
        Case {
            name: "75% cpu steps up one size",
            current: 1,
            cpu: 3.0,
            mem_gib: 4.0,
            nodes: 20,
            last_change: None,
            target: 2,
            reason: "above_high",
        },
        Case {
            name: "memory above the threshold steps up",
            current: 1,
            cpu: 1.0,
            mem_gib: 12.0,
            nodes: 20,
            last_change: None,
            target: 2,
            reason: "above_high",
        },
        Case {
            name: "60% cpu fits, and would not fit the smaller size",
            current: 1,
            cpu: 2.4,
            mem_gib: 4.0,
            nodes: 20,
            last_change: None,
            target: 1,
            reason: "fits",
        },
        Case {
            name: "25% for two hours steps down",
            current: 2,
            cpu: 2.0,
            mem_gib: 8.0,
            nodes: 20,
            last_change: None,
            target: 1,
            reason: "low_on_smaller",
        },
        Case {
            name: "the node floor blocks the step down",
            current: 2,
            cpu: 2.0,
            mem_gib: 8.0,
            nodes: 150,
            last_change: None,
            target: 2,
            reason: "fits",
        },
        Case {
            name: "below the node floor goes straight to it",
            current: 0,
            cpu: 0.1,
            mem_gib: 1.0,
            nodes: 300,
            last_change: None,
            target: 3,
            reason: "below_node_floor",
        },
        Case {
            name: "the node floor ignores the cooldown",
            current: 0,
            cpu: 0.1,
            mem_gib: 1.0,
            nodes: 300,
            last_change: up,
            target: 3,
            reason: "below_node_floor",
        },
        Case {
            name: "cooldown after a step up",
            current: 1,
            cpu: 3.5,
            mem_gib: 4.0,
            nodes: 20,
            last_change: up,
            target: 1,
            reason: "cooldown",
        },
        Case {
            name: "the up cooldown ends after 30 min",
            current: 1,
            cpu: 3.5,
            mem_gib: 4.0,
            nodes: 20,
            last_change: Some((31, Direction::Up)),
            target: 2,
            reason: "above_high",
        },
        Case {
            name: "cooldown after a step down lasts 2 h",
            current: 1,
            cpu: 3.5,
            mem_gib: 4.0,
            nodes: 20,
            last_change: Some((119, Direction::Down)),
            target: 1,
            reason: "cooldown",
        },
        Case {
            name: "after the down cooldown",
            current: 1,
            cpu: 3.5,
            mem_gib: 4.0,
            nodes: 20,
            last_change: Some((121, Direction::Down)),
            target: 2,
            reason: "above_high",
        },
        Case {
            name: "at the top of the ladder",
            current: 4,
            cpu: 30.0,
            mem_gib: 8.0,
            nodes: 20,
            last_change: None,
            target: 4,
            reason: "at_maximum",
        },
        Case {
            name: "a saturated size jumps to the one that fits",
            current: 1,
            cpu: 3.9,
            mem_gib: 15.5,
            nodes: 20,
            last_change: None,
            target: 2,
            reason: "far_above_high",
        },
        Case {
            name: "the smallest size holds",
            current: 0,
            cpu: 0.1,
            mem_gib: 0.5,
            nodes: 3,
            last_change: None,
            target: 0,
            reason: "fits",
        },
    ];
    let ladder = m6i_ladder();
    let now = t0();
    for c in cases {
        let signals = steady(c.cpu, c.mem_gib, now);
        let last = c.last_change.map(|(mins, direction)| Change {
            at: now - MIN * mins as u32,
            direction,
        });
        let d = decide(
            &ladder,
            Bounds::whole(&ladder),
            &config(),
            &signals,
            Some(c.nodes),
            c.current,
            now,
            last,
        );
        assert_eq!(
            (d.target, d.reason.label()),
            (c.target, c.reason),
            "{}: {}",
            c.name,
            d.reason
        );
        assert_eq!(d.current, c.current, "{}", c.name);
    }
}

#[test]
fn missing_or_stale_metrics_change_nothing() {
    let ladder = m6i_ladder();
    let now = t0();
    let cfg = config();
    let whole = Bounds::whole(&ladder);
    // Prometheus down: no samples at all, under load that would otherwise step up.
    let mut signals = steady(3.5, 4.0, now);
    signals.cpu = Series::default();
    let d = decide(&ladder, whole, &cfg, &signals, Some(20), 1, now, None);
    assert_eq!(d.target, 1);
    assert_eq!(
        d.reason,
        Reason::MissingMetrics {
            signal: Signal::Cpu,
            long_window: false
        }
    );
    // Stale: the last sample is 10 min old.
    let signals = steady(3.5, 4.0, now - MIN * 10);
    let d = decide(&ladder, whole, &cfg, &signals, Some(20), 1, now, None);
    assert_eq!(d.reason.label(), "missing_metrics");
    // A gap at the start of the up window: the samples cover less than 80 % of it.
    let signals = Signals {
        cpu: Series::steady(3.5, now, MIN * 10, MIN),
        memory: Series::steady(4096.0, now, MIN * 10, MIN),
        ..Signals::default()
    };
    let d = decide(&ladder, whole, &cfg, &signals, Some(20), 1, now, None);
    assert_eq!(d.reason.label(), "missing_metrics");
    // A step down needs the whole long window: one hour of low load is not enough.
    let signals = Signals {
        cpu: Series::steady(0.5, now, MIN * 60, MIN),
        memory: Series::steady(1024.0, now, MIN * 60, MIN),
        ..Signals::default()
    };
    let d = decide(&ladder, whole, &cfg, &signals, Some(20), 2, now, None);
    assert_eq!(d.target, 2);
    assert_eq!(
        d.reason,
        Reason::MissingMetrics {
            signal: Signal::Cpu,
            long_window: true
        }
    );
    // Non-finite and negative samples are dropped, not read as zero load.
    let signals = Signals {
        cpu: Series::new([(now, f64::NAN), (now - MIN, -1.0)]),
        memory: Series::steady(1024.0, now, MIN * 200, MIN),
        ..Signals::default()
    };
    assert!(signals.cpu.points().is_empty());
    // Without a node count, a configured floor cannot be checked.
    let d = decide(
        &ladder,
        whole,
        &cfg,
        &steady(3.5, 4.0, now),
        None,
        1,
        now,
        None,
    );
    assert_eq!(d.reason, Reason::MissingNodeCount);
}

#[test]
fn a_short_peak_in_the_long_window_blocks_the_step_down() {
    let ladder = m6i_ladder();
    let now = t0();
    let mut points: Vec<(Timestamp, f64)> =
        Series::steady(2.0, now, MIN * 180, MIN).points().to_vec();
    points.push((now - MIN * 61, 6.0));
    let signals = Signals {
        cpu: Series::new(points),
        memory: Series::steady(8192.0, now, MIN * 180, MIN),
        ..Signals::default()
    };
    let d = decide(
        &ladder,
        Bounds::whole(&ladder),
        &config(),
        &signals,
        Some(20),
        2,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (2, "fits"), "{}", d.reason);
}

#[test]
fn bounds_are_respected_both_ways() {
    let ladder = m6i_ladder();
    let now = t0();
    let bounds = ladder
        .bounds(
            Some(("--min-size", "m6i.xlarge")),
            Some(("--max-size", "m6i.2xlarge")),
        )
        .unwrap();
    let cfg = config();
    let d = decide(
        &ladder,
        bounds,
        &cfg,
        &steady(0.1, 1.0, now),
        Some(3),
        0,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (1, "below_minimum"));
    let d = decide(
        &ladder,
        bounds,
        &cfg,
        &steady(7.0, 4.0, now),
        Some(3),
        2,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (2, "at_maximum"));
    let d = decide(
        &ladder,
        bounds,
        &cfg,
        &steady(0.1, 1.0, now),
        Some(3),
        1,
        now,
        None,
    );
    assert_eq!(
        (d.target, d.reason.label()),
        (1, "fits"),
        "never below the minimum"
    );
    // A size above the maximum (set by hand) comes down to it once the load fits there.
    let d = decide(
        &ladder,
        bounds,
        &cfg,
        &steady(1.0, 2.0, now),
        Some(3),
        4,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (2, "low_on_smaller"));
    // The floor above the maximum stops at the maximum.
    let d = decide(
        &ladder,
        bounds,
        &cfg,
        &steady(0.1, 1.0, now),
        Some(1000),
        1,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (2, "below_node_floor"));
}

#[test]
fn each_direction_can_be_disabled() {
    let ladder = m6i_ladder();
    let now = t0();
    let whole = Bounds::whole(&ladder);
    let cfg = DecisionConfig {
        scale_up: false,
        ..config()
    };
    let d = decide(
        &ladder,
        whole,
        &cfg,
        &steady(3.5, 4.0, now),
        Some(3),
        1,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (1, "scale_up_disabled"));
    let cfg = DecisionConfig {
        scale_down: false,
        ..config()
    };
    let d = decide(
        &ladder,
        whole,
        &cfg,
        &steady(0.5, 1.0, now),
        Some(3),
        2,
        now,
        None,
    );
    assert_eq!((d.target, d.reason.label()), (2, "fits"));
}

#[test]
fn latency_p99_above_its_limit_steps_up_and_blocks_down() {
    let ladder = m6i_ladder();
    let now = t0();
    let whole = Bounds::whole(&ladder);
    let cfg = DecisionConfig {
        latency_p99_high: Some(1.0),
        ..config()
    };
    let mut signals = steady(1.0, 2.0, now);
    signals.latency_p99 = Series::steady(2.5, now, MIN * 180, MIN);
    let d = decide(&ladder, whole, &cfg, &signals, Some(3), 1, now, None);
    assert_eq!(
        (d.target, d.reason.clone()),
        (2, Reason::LatencyHigh { p99: 2.5 })
    );
    // Latency fine in the up window but a spike in the long window: no step down.
    let mut points = Series::steady(0.2, now, MIN * 180, MIN).points().to_vec();
    points.push((now - MIN * 90, 3.0));
    signals.latency_p99 = Series::new(points);
    let d = decide(&ladder, whole, &cfg, &signals, Some(3), 2, now, None);
    assert_eq!((d.target, d.reason.label()), (2, "fits"));
    // A configured limit with no latency samples is missing metrics.
    signals.latency_p99 = Series::default();
    let d = decide(&ladder, whole, &cfg, &signals, Some(3), 2, now, None);
    assert_eq!(
        d.reason,
        Reason::MissingMetrics {
            signal: Signal::LatencyP99,
            long_window: false
        }
    );
}

#[test]
fn eks_tiers_follow_concurrency_seats_and_jump_when_far_above() {
    let ladder = Ladder::eks_tiers();
    let now = t0();
    let whole = Bounds::whole(&ladder);
    let cfg = DecisionConfig {
        node_floor: NodeFloor::none(),
        high_threshold: 0.8,
        ..config()
    };
    let seats = |n: f64| Signals {
        seats: Series::steady(n, now, MIN * 180, MIN),
        ..Signals::default()
    };
    // The standard tier scales itself past its nominal 600 seats: 2,000 in use needs tier-2xl.
    let d = decide(&ladder, whole, &cfg, &seats(2000.0), None, 0, now, None);
    assert_eq!(
        (d.target, d.reason.label()),
        (2, "far_above_high"),
        "{}",
        d.reason
    );
    assert_eq!(d.action(), Action::Up);
    let d = decide(&ladder, whole, &cfg, &seats(1500.0), None, 1, now, None);
    assert_eq!((d.target, d.reason.label()), (2, "above_high"));
    let d = decide(&ladder, whole, &cfg, &seats(1000.0), None, 2, now, None);
    assert_eq!((d.target, d.reason.label()), (1, "low_on_smaller"));
    assert_eq!(d.action(), Action::Down);
    // CPU samples do not matter to a tier, which states no CPU.
    let mut s = seats(1000.0);
    s.cpu = Series::default();
    assert_eq!(
        decide(&ladder, whole, &cfg, &s, None, 1, now, None)
            .reason
            .label(),
        "fits"
    );
}

#[test]
fn config_errors_name_the_flag() {
    let bad = [
        (
            DecisionConfig {
                high_threshold: 1.5,
                ..config()
            },
            "--high-threshold",
        ),
        (
            DecisionConfig {
                high_threshold: f64::NAN,
                ..config()
            },
            "--high-threshold",
        ),
        (
            DecisionConfig {
                down_margin: 0.95,
                ..config()
            },
            "--down-margin",
        ),
        (
            DecisionConfig {
                jump_threshold: 0.5,
                ..config()
            },
            "--jump-threshold",
        ),
        (
            DecisionConfig {
                up_window: Duration::ZERO,
                ..config()
            },
            "--up-window",
        ),
        (
            DecisionConfig {
                latency_p99_high: Some(-1.0),
                ..config()
            },
            "--latency-p99-high",
        ),
    ];
    for (cfg, field) in bad {
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().starts_with(field), "{err}");
    }
    assert!(config().validate().is_ok());
    assert!(
        DecisionConfig {
            down_margin: 0.0,
            ..config()
        }
        .validate()
        .is_ok()
    );
    assert!((ha_threshold(3) - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(ha_threshold(2), 0.5);
    assert_eq!(ha_threshold(1), 0.8);
}
