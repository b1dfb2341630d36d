#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;

use std::sync::Arc;

use proptest::prelude::*;
use tidal_core::resources::Resources;
use tidal_core::scheduling::{
    ClusterState, LabelSelector, NodeSpec, PodSpec, Taint, TaintEffect, Toleration,
    WhenUnsatisfiable,
};

use super::*;
use crate::config::ExpanderKind;
use crate::groups::GroupView;

const GIB: i64 = 1 << 30;

thread_local! {
    /// Makes the planner repack every group in every round (the reference behaviour).
    static FORCE_REPACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the planner must ignore its kept packings (set by a test on its own thread).
pub(super) fn force_repack() -> bool {
    FORCE_REPACK.with(Cell::get)
}
const ZONES: [&str; 3] = ["eu-central-1a", "eu-central-1b", "eu-central-1c"];

fn view(pool: &str, zone: &str, priority: i32, cpu: i64, desired: u32, max: u32) -> GroupView {
    let template = NodeSpec::new(
        format!("template-{pool}-{zone}"),
        Resources::new(cpu, cpu / 1000 * 4 * GIB).with_pods(110),
    )
    .in_zone(zone);
    GroupView {
        id: NodeGroupId::new(pool, zone),
        asg_name: format!("asg-{pool}-{zone}"),
        priority,
        min_size: 0,
        max_size: max,
        asg_min_size: 0,
        desired,
        instances: desired,
        registered: desired,
        ready: desired,
        template: Some(Arc::new(template)),
        backed_off_until: None,
        live_instances: Vec::new(),
    }
}

fn settings(headroom: Option<u32>) -> ScaleUpSettings<'static> {
    ScaleUpSettings {
        expanders: &[ExpanderKind::Priority, ExpanderKind::LeastWaste],
        seed: 7,
        node_headroom: headroom,
    }
}

#[test]
fn pods_fitting_existing_room_are_not_scaled_for() {
    let mut cluster = ClusterState::new();
    cluster
        .add_node(
            NodeSpec::new("n0", Resources::new(4000, 16 * GIB).with_pods(110)).in_zone(ZONES[0]),
        )
        .unwrap();
    let pending = vec![
        PodSpec::new("fits", Resources::pod(1000, GIB)),
        PodSpec::new("big", Resources::pod(6000, GIB)),
    ];
    let groups = [view("default", ZONES[0], 0, 8000, 0, 10)];
    let plan = plan_scale_up(&mut cluster, &groups, &pending, &settings(None));
    assert_eq!(plan.awaiting, [0]);
    assert_eq!(
        plan.placed_on_existing,
        [(0, cluster.node_id("n0").unwrap())]
    );
    assert_eq!(plan.scale_ups.len(), 1);
    assert_eq!(plan.scale_ups[0].pods, [1]);
    // The cluster is returned as it was given.
    assert_eq!((cluster.node_count(), cluster.pod_count()), (1, 0));
}

#[test]
fn backed_off_groups_are_skipped_and_named() {
    let mut cluster = ClusterState::new();
    let mut backed_off = view("spot", ZONES[0], 10, 8000, 0, 10);
    backed_off.backed_off_until = Some(tidal_core::Timestamp::from_secs(99));
    let groups = [backed_off, view("default", ZONES[0], 0, 8000, 0, 10)];
    let pending = vec![PodSpec::new("p", Resources::pod(1000, GIB))];
    let plan = plan_scale_up(&mut cluster, &groups, &pending, &settings(None));
    assert_eq!(plan.scale_ups[0].group.pool, "default");
    let groups = [groups[0].clone()];
    let plan = plan_scale_up(&mut cluster, &groups, &pending, &settings(None));
    assert!(plan.scale_ups.is_empty());
    assert!(
        plan.unhelped[0].reason.contains("backed off"),
        "{}",
        plan.unhelped[0].reason
    );
}

/// Pods (cpu millis, memory in tenths of GiB, kind), groups (priority, cpu millis, desired,
/// max, tainted), node headroom. Kinds: 0 plain, 1 hostname anti-affinity, 2 zone spread,
/// 3 tolerates the taint.
type Case = (
    Vec<(i64, i64, u8)>,
    Vec<(i32, i64, u32, u32, bool)>,
    Option<u32>,
);

fn arb_case() -> impl Strategy<Value = Case> {
    let pods = proptest::collection::vec((100i64..9000, 1i64..40, 0u8..4), 0..60);
    let groups = proptest::collection::vec(
        (
            -5i32..5,
            prop_oneof![Just(2000i64), Just(4000), Just(8000)],
            0u32..5,
            0u32..12,
            proptest::bool::weighted(0.3),
        ),
        1..6,
    );
    (pods, groups, proptest::option::of(0u32..20))
}

fn build(groups: &[(i32, i64, u32, u32, bool)]) -> Vec<GroupView> {
    groups
        .iter()
        .enumerate()
        .map(|(i, (prio, cpu, desired, max, tainted))| {
            let max = (*max).max(*desired);
            // Registered below desired: some nodes are still booting.
            let mut v = view(
                &format!("pool{i}"),
                ZONES[i % 3],
                *prio,
                *cpu,
                *desired,
                max,
            );
            v.registered = desired / 2;
            if *tainted {
                let t = Taint::new("dedicated", "x", TaintEffect::NoSchedule);
                v.template = v.template.map(|n| Arc::new((*n).clone().with_taint(t)));
            }
            v
        })
        .collect()
}

fn pods(sizes: &[(i64, i64, u8)]) -> Vec<PodSpec> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, (cpu, mem_gib_tenths, kind))| {
            let p = PodSpec::new(
                format!("p{i}"),
                Resources::pod(*cpu, mem_gib_tenths * GIB / 10),
            );
            match kind {
                1 => p
                    .with_label("app", "a")
                    .with_anti_affinity(LabelSelector::labels([("app", "a")])),
                2 => p.with_label("app", "b").with_zone_spread(
                    1,
                    WhenUnsatisfiable::DoNotSchedule,
                    LabelSelector::labels([("app", "b")]),
                ),
                3 => p.with_toleration(Toleration::equal(
                    "dedicated",
                    "x",
                    Some(TaintEffect::NoSchedule),
                )),
                _ => p,
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn same_input_same_plan((sizes, groups, headroom) in arb_case()) {
        let groups = build(&groups);
        let pending = pods(&sizes);
        let a = plan_scale_up(&mut ClusterState::new(), &groups, &pending, &settings(headroom));
        let b = plan_scale_up(&mut ClusterState::new(), &groups, &pending, &settings(headroom));
        prop_assert_eq!(a, b);
    }

    /// Reusing a group's packing across rounds gives the plan that repacking every time gives.
    #[test]
    fn kept_packings_match_repacking((sizes, groups, headroom) in arb_case()) {
        let groups = build(&groups);
        let pending = pods(&sizes);
        let kept = plan_scale_up(&mut ClusterState::new(), &groups, &pending, &settings(headroom));
        FORCE_REPACK.with(|f| f.set(true));
        let fresh = plan_scale_up(&mut ClusterState::new(), &groups, &pending, &settings(headroom));
        FORCE_REPACK.with(|f| f.set(false));
        prop_assert_eq!(kept, fresh);
    }

    #[test]
    fn never_above_max_or_the_node_limit((sizes, groups, headroom) in arb_case()) {
        let groups = build(&groups);
        let pending = pods(&sizes);
        let plan = plan_scale_up(&mut ClusterState::new(), &groups, &pending, &settings(headroom));
        for s in &plan.scale_ups {
            let g = groups.iter().find(|g| g.id == s.group).unwrap();
            prop_assert!(s.to <= g.max_size, "{:?} above max {}", s, g.max_size);
            prop_assert!(s.to > s.from);
        }
        if let Some(h) = headroom {
            prop_assert!(plan.new_nodes() <= h);
        }
        // Every pod is accounted for exactly once.
        let mut seen: Vec<usize> = plan.awaiting.clone();
        seen.extend(plan.scale_ups.iter().flat_map(|s| s.pods.iter().copied()));
        seen.extend(plan.unhelped.iter().flat_map(|u| u.pods.iter().copied()));
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..pending.len()).collect::<Vec<_>>());
    }
}

/// Sizes the plan gives each zone of pool `default` (desired after the plan), in `ZONES` order.
fn zone_sizes(groups: &[GroupView], plan: &ScaleUpPlan) -> Vec<u32> {
    groups
        .iter()
        .map(|g| {
            plan.scale_ups
                .iter()
                .find(|s| s.group == g.id)
                .map_or(g.desired, |s| s.to)
        })
        .collect()
}

#[test]
fn a_scale_up_without_zone_constraints_is_spread_over_the_pools_zones() {
    // 25 pods that each need a node of their own; the zones start at 4, 2 and 3 nodes.
    let groups: Vec<GroupView> = [4, 2, 3]
        .iter()
        .zip(ZONES)
        .map(|(&desired, zone)| view("default", zone, 0, 4000, desired, 30))
        .collect();
    let pending: Vec<PodSpec> = (0..25)
        .map(|i| PodSpec::new(format!("web-{i}"), Resources::pod(3000, GIB)))
        .collect();
    let mut cluster = ClusterState::new();
    let plan = plan_scale_up(&mut cluster, &groups, &pending, &settings(None));
    assert_eq!(plan.new_nodes(), 25);
    // The expander picks zone b (the smallest group); its new nodes even the zones out, and
    // the node that cannot be shared evenly stays with the chosen group.
    assert_eq!(zone_sizes(&groups, &plan), [11, 12, 11]);
    let mut pods: Vec<usize> = plan.scale_ups.iter().flat_map(|s| s.pods.clone()).collect();
    pods.sort_unstable();
    assert_eq!(pods, (0..25).collect::<Vec<_>>(), "every pod named once");
}

#[test]
fn pods_bound_to_a_zone_are_not_spread() {
    let groups: Vec<GroupView> = ZONES
        .iter()
        .map(|zone| view("default", zone, 0, 4000, 0, 30))
        .collect();
    let pending: Vec<PodSpec> = (0..6)
        .map(|i| {
            PodSpec::new(format!("db-{i}"), Resources::pod(3000, GIB)).with_volume_zone(ZONES[1])
        })
        .collect();
    let mut cluster = ClusterState::new();
    let plan = plan_scale_up(&mut cluster, &groups, &pending, &settings(None));
    assert_eq!(zone_sizes(&groups, &plan), [0, 6, 0]);
}
