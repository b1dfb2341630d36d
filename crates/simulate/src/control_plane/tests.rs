#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use proptest::prelude::*;
use tidal_core::control_plane::Direction;

use super::load::ClusterLoad;
use super::*;
use crate::record::{Recording, TimelineRow};

fn settings(yaml: &str) -> ControlPlaneSettings {
    serde_yaml_ng::from_str::<RawControlPlane>(yaml)
        .unwrap()
        .validate()
        .unwrap()
}

fn self_managed(extra: &str) -> ControlPlaneSettings {
    settings(&format!(
        "kind: self_managed\nsizes: [m6i.large, m6i.xlarge, m6i.2xlarge, m6i.4xlarge]\n\
         size: m6i.xlarge\n{extra}"
    ))
}

/// 40 nodes until 08:00, then 20 more every half hour until 420 at 17:30; 25 pods per node;
/// 3 pod changes a second while it grows, 0.1 otherwise.
fn growing_day() -> Vec<ClusterLoad> {
    (0..=1440u32)
        .map(|m| {
            let steps = m.saturating_sub(480) / 30;
            let nodes = 40 + 20 * steps.min(19);
            let growing = (480..1080).contains(&m);
            ClusterLoad {
                nodes,
                pods: nodes * 25,
                churn: if growing { 3.0 } else { 0.1 },
            }
        })
        .collect()
}

/// Every decided change keeps the decision's invariants: inside the bounds, never below
/// the node-count floor, never within the cooldown of the change before (a floor, known
/// rather than guessed from load, does not wait), one step at a time unless the load is far
/// above or a floor applies, and each change starts from the size the last one reached.
fn assert_invariants(s: &ControlPlaneSettings, minutes: &[ClusterLoad], run: &CpRun) {
    let mut previous: Option<&CpChange> = None;
    for c in &run.changes {
        assert!(
            c.to >= s.bounds.min() && c.to <= s.bounds.max(),
            "{c:?} leaves the bounds"
        );
        if let Some(floor) = s.decision.node_floor.rung(&s.ladder, c.nodes) {
            assert!(c.to >= s.bounds.clamp(floor), "{c:?} below the node floor");
        }
        let floor_rule = matches!(c.reason, "below_node_floor" | "below_minimum");
        if let Some(p) = previous {
            let cooldown = if p.to > p.from {
                s.decision.up_cooldown
            } else {
                s.decision.down_cooldown
            };
            let since = Duration::from_secs(u64::from(c.minute - p.minute) * 60);
            let wait = if floor_rule {
                s.resize_time
            } else {
                cooldown.max(s.resize_time)
            };
            assert!(since >= wait, "{c:?} within the cooldown of {p:?}");
            assert_eq!(
                c.from, p.to,
                "a change starts from the size the last one reached"
            );
        }
        let direction = if c.to > c.from {
            Direction::Up
        } else {
            Direction::Down
        };
        match direction {
            Direction::Up if !floor_rule && c.reason != "far_above_high" => {
                assert_eq!(Some(c.to), s.ladder.next_up(c.from), "{c:?} skipped a size");
            }
            Direction::Down => {
                assert_eq!(
                    Some(c.to),
                    s.ladder.next_down(c.from),
                    "{c:?} skipped a size"
                );
                let floor = s
                    .decision
                    .node_floor
                    .rung(&s.ladder, minutes[c.minute as usize].nodes);
                assert!(floor.is_none_or(|f| c.to >= f));
            }
            Direction::Up => {}
        }
        previous = Some(c);
    }
    for (m, minute) in run.minutes.iter().enumerate() {
        assert!(
            minute.rung >= s.bounds.min() && minute.rung <= s.bounds.max(),
            "minute {m}"
        );
    }
}

#[test]
fn the_autoscaled_control_plane_spends_fewer_minutes_above_the_threshold_on_a_growing_day() {
    for extra in ["", "node_floor: false\n"] {
        let s = self_managed(extra);
        let minutes = growing_day();
        let autoscaled = run(&s, &minutes, true);
        let fixed = run(&s, &minutes, false);
        assert_eq!(autoscaled.minutes.len(), 1441);
        assert!(fixed.changes.is_empty());
        assert!(fixed.minutes.iter().all(|m| m.rung == s.start));
        assert!(
            fixed.minutes_above_high > 120,
            "the fixed size must be overloaded on this day: {}",
            fixed.minutes_above_high
        );
        assert!(
            autoscaled.minutes_above_high < fixed.minutes_above_high / 4,
            "{extra:?}: autoscaled {} vs fixed {} minutes above",
            autoscaled.minutes_above_high,
            fixed.minutes_above_high
        );
        assert!(autoscaled.changes.iter().any(|c| c.to > c.from));
        assert_invariants(&s, &minutes, &autoscaled);
    }
}

#[test]
fn the_node_floor_steps_up_at_once_and_a_quiet_night_steps_back_down() {
    // 60 nodes at night (floor: 4 vCPU) and 160 by day (floor: 8 vCPU), little load.
    let s = self_managed("");
    let minutes: Vec<ClusterLoad> = (0..=1440u32)
        .map(|m| {
            let nodes = if (480..960).contains(&m) { 160 } else { 60 };
            ClusterLoad {
                nodes,
                pods: nodes * 5,
                churn: 0.0,
            }
        })
        .collect();
    let r = run(&s, &minutes, true);
    let up = &r.changes[0];
    assert_eq!((up.minute, up.reason), (480, "below_node_floor"));
    assert_eq!(s.ladder.get(up.to).unwrap().name, "m6i.2xlarge");
    // The floor held it up all day; once the nodes are gone, the day's peak (judged over the
    // 2 h down window) fits the smaller size within the margin.
    let down = &r.changes[1];
    assert_eq!(
        (down.minute, down.reason),
        (960, "low_on_smaller"),
        "{down:?}"
    );
    assert_eq!(s.ladder.get(down.to).unwrap().name, "m6i.xlarge");
    assert_eq!(r.changes.len(), 2, "{:?}", r.changes);
    assert_invariants(&s, &minutes, &r);
    // The resize is in service resize_time (15 min) after the decision.
    assert_eq!(r.minutes[480 + 14].rung, s.start);
    assert_eq!(r.minutes[480 + 15].rung, up.to);
}

#[test]
fn eks_tiers_are_judged_by_seats() {
    let s = settings("kind: eks\nsize: standard\n");
    assert_eq!(s.decision.high_threshold, 0.8);
    assert_eq!(s.ladder.len(), 5);
    let minutes = growing_day();
    let autoscaled = run(&s, &minutes, true);
    let fixed = run(&s, &minutes, false);
    assert!(fixed.minutes_above_high > autoscaled.minutes_above_high);
    let top = autoscaled.minutes.iter().map(|m| m.rung).max().unwrap();
    assert!(top >= 1, "a tier above standard was used");
    assert_invariants(&s, &minutes, &autoscaled);
}

#[test]
fn bad_settings_name_the_field() {
    let err = |yaml: &str| {
        serde_yaml_ng::from_str::<RawControlPlane>(yaml)
            .unwrap()
            .validate()
            .unwrap_err()
    };
    let e = err("kind: self_managed\nsizes: [m6i.large, x9.huge]\nsize: m6i.large\n");
    assert_eq!(e.field, "control_plane.sizes[1]");
    assert!(e.message.contains("x9.huge"), "{e:?}");
    let e = err("kind: self_managed\nsizes: [m6i.large]\nsize: m6i.xlarge\n");
    assert_eq!(e.field, "control_plane.size");
    let e = err("kind: eks\nsizes: [m6i.large]\nsize: standard\n");
    assert_eq!(e.field, "control_plane.sizes");
    let e = err("kind: eks\nsize: tier-xl\nhigh_threshold: 1.5\n");
    assert_eq!(e.field, "control_plane.high_threshold");
    let e = err("kind: eks\nsize: standard\nnodes: 0\n");
    assert_eq!(e.field, "control_plane.nodes");
    let e = err("kind: eks\nsize: standard\nload: {seats: {per_node: -1}}\n");
    assert_eq!(e.field, "control_plane.load.seats");
    let e = err(
        "kind: self_managed\nsizes: [m6i.large, m6i.xlarge]\nsize: m6i.large\nmin_size: m6i.xlarge\nmax_size: m6i.large\n",
    );
    assert_eq!(e.field, "control_plane.min_size");
    assert!(serde_yaml_ng::from_str::<RawControlPlane>("kind: gke\nsize: x\n").is_err());
}

#[test]
fn the_load_model_keeps_defaults_for_absent_coefficients() {
    let s = self_managed("load: {cpu: {per_node: 50m}, memory_mib: {base: 4096}}\n");
    let d = load::LoadModel::default();
    assert!((s.load.cpu.per_node - 0.05).abs() < 1e-12);
    assert_eq!(s.load.cpu.base, d.cpu.base);
    assert_eq!(s.load.memory_mib.base, 4096.0);
    assert_eq!(s.load.memory_mib.per_node, d.memory_mib.per_node);
    assert_eq!(s.load.seats, d.seats);
}

fn row(t: f64, nodes: u32, replicas: Vec<u32>) -> TimelineRow {
    TimelineRow {
        t,
        nodes_by_pool: vec![nodes],
        instances: nodes,
        pending_pods: 0,
        desired: replicas.clone(),
        desired_unclamped: replicas.clone(),
        load: vec![0.0; replicas.len()],
        replicas,
        ..TimelineRow::default()
    }
}

#[test]
fn load_per_minute_counts_daemonset_pods_and_churn() {
    let rec = Recording {
        timeline: vec![
            row(-10.0, 1, vec![1, 1]),
            row(0.0, 2, vec![10, 5]),
            row(30.0, 3, vec![16, 5]),
            row(60.0, 3, vec![16, 2]),
            row(180.0, 3, vec![16, 2]),
        ],
        ..Recording::default()
    };
    let m = load::per_minute(&rec, 2);
    assert_eq!(m.len(), 4);
    assert_eq!((m[0].nodes, m[0].pods), (3, 21 + 6));
    // Minute 0: 6 more pods of the first workload and one node's 2 DaemonSet pods.
    assert!((m[0].churn - 8.0 / 60.0).abs() < 1e-12);
    assert!((m[1].churn - 3.0 / 60.0).abs() < 1e-12);
    // Minute 2 has no tick: the size of minute 1 holds, nothing changed.
    assert_eq!((m[2].nodes, m[2].pods, m[2].churn), (3, 24, 0.0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any day of nodes stepping up and down: the decisions keep their invariants.
    #[test]
    fn decisions_keep_their_invariants_on_any_day(
        steps in proptest::collection::vec((0u32..600, 0.0f64..5.0), 1..8),
        per_pod in 0.0005f64..0.005,
    ) {
        let s = self_managed(&format!("load: {{cpu: {{per_pod: {per_pod}}}}}\n"));
        let minutes: Vec<ClusterLoad> = (0..=1440usize)
            .map(|m| {
                let (nodes, churn) = steps[(m * steps.len() / 1441).min(steps.len() - 1)];
                ClusterLoad { nodes: nodes + 1, pods: (nodes + 1) * 20, churn }
            })
            .collect();
        let r = run(&s, &minutes, true);
        assert_invariants(&s, &minutes, &r);
    }
}
