#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::resources::ResourceName;
use crate::scheduling::model::{
    LabelSelector, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm,
};

const GI: i64 = 1 << 30;

fn node(name: &str, zone: &str) -> NodeSpec {
    NodeSpec::new(name, Resources::pod(2000, 8 * GI).with_pods(10)).in_zone(zone)
}

fn pod(name: &str, cpu: i64) -> PodSpec {
    PodSpec::new(name, Resources::pod(cpu, GI))
}

#[test]
fn nodes_and_pods_are_tracked_with_used_and_free() {
    let mut c = ClusterState::new();
    let a = c.add_node(node("a", "z1")).unwrap();
    assert_eq!(
        c.add_node(node("a", "z2")),
        Err(ClusterError::DuplicateNode("a".into()))
    );
    let p1 = c.place(pod("p1", 500), a).unwrap();
    let _p2 = c
        .place(pod("p2", 700).with_host_port(HostPort::tcp(80)), a)
        .unwrap();
    assert_eq!(c.used(a).unwrap().cpu_millis, 1200);
    assert_eq!(c.free(a).unwrap().cpu_millis, 800);
    assert_eq!(c.free(a).unwrap().pods, 8);
    assert_eq!(c.pod_count(), 2);
    assert_eq!(c.pods_on(a).count(), 2);
    assert_eq!(c.node_id("a"), Some(a));
    assert_eq!(c.pod(p1).unwrap().1, a);
    let removed = c.remove_pod(p1).unwrap();
    assert_eq!(removed.name, "p1");
    assert_eq!(c.used(a).unwrap().cpu_millis, 700);
    assert_eq!(c.remove_pod(p1), Err(ClusterError::UnknownPod(p1)));
    assert_eq!(c.zones(), vec!["z1".to_owned()]);
}

#[test]
fn remove_node_returns_its_pods_and_frees_the_slot() {
    let mut c = ClusterState::new();
    let a = c.add_node(node("a", "z1")).unwrap();
    let b = c.add_node(node("b", "z2")).unwrap();
    c.place(pod("p1", 100), a).unwrap();
    c.place(
        pod("p2", 100).with_anti_affinity(LabelSelector::labels([("app", "x")])),
        a,
    )
    .unwrap();
    let (spec, pods) = c.remove_node(a).unwrap();
    assert_eq!(spec.name, "a");
    assert_eq!(pods.len(), 2);
    assert_eq!(c.node_count(), 1);
    assert_eq!(c.pod_count(), 0);
    assert_eq!(c.node(a), None);
    assert_eq!(c.remove_node(a).unwrap_err(), ClusterError::UnknownNode(a));
    assert_eq!(
        c.place(pod("p", 1), a).unwrap_err(),
        ClusterError::UnknownNode(a)
    );
    assert_eq!(c.zones(), vec!["z2".to_owned()]);
    // The slot is reused; the old anti-affinity term is gone with its pod.
    let a2 = c.add_node(node("a2", "z1")).unwrap();
    assert_eq!(a2.index(), a.index());
    let x = pod("x", 100).with_label("app", "x");
    assert_eq!(c.check_fit(&x, a2), Ok(()));
    assert_eq!(c.nodes().map(|(id, _)| id).collect::<Vec<_>>(), vec![a2, b]);
}

#[test]
fn check_fit_covers_resources_ports_and_anti_affinity() {
    let mut c = ClusterState::new();
    let a = c.add_node(node("a", "z1")).unwrap();
    c.place(
        pod("web-1", 1500)
            .with_label("app", "web")
            .with_host_port(HostPort::tcp(80)),
        a,
    )
    .unwrap();
    assert_eq!(
        c.check_fit(&pod("big", 600), a),
        Err(Unfit::Resource(ResourceName::Cpu))
    );
    assert_eq!(
        c.check_fit(&pod("port", 100).with_host_port(HostPort::tcp(80)), a),
        Err(Unfit::HostPort(HostPort::tcp(80)))
    );
    let anti = pod("web-2", 100).with_anti_affinity(LabelSelector::labels([("app", "web")]));
    assert_eq!(c.check_fit(&anti, a), Err(Unfit::AntiAffinity));
    assert_eq!(c.check_fit(&pod("ok", 500), a), Ok(()));
    assert_eq!(c.check_fit_local(&pod("ok", 500), a), Ok(()));
}

fn spread_pod(name: &str) -> PodSpec {
    pod(name, 10).with_label("app", "s").with_zone_spread(
        1,
        WhenUnsatisfiable::DoNotSchedule,
        LabelSelector::labels([("app", "s")]),
    )
}

/// Zones z1, z2, z3 with one node each; z1 already runs `in_z1` matching pods.
fn three_zones(in_z1: usize) -> (ClusterState, Vec<NodeId>) {
    let mut c = ClusterState::new();
    let ids: Vec<NodeId> = ["z1", "z2", "z3"]
        .iter()
        .map(|z| c.add_node(node(&format!("n-{z}"), z)).unwrap())
        .collect();
    for i in 0..in_z1 {
        c.place(pod(&format!("s{i}"), 10).with_label("app", "s"), ids[0])
            .unwrap();
    }
    (c, ids)
}

#[test]
fn spread_check_uses_zone_counts_and_max_skew() {
    let (c, ids) = three_zones(1);
    let p = spread_pod("new");
    // z1 would have 2 against a minimum of 0: skew 2 > 1.
    assert_eq!(
        c.check_fit(&p, ids[0]),
        Err(Unfit::TopologySpread {
            zone: "z1".into(),
            max_skew: 1
        })
    );
    assert_eq!(c.check_fit(&p, ids[1]), Ok(()));
    // ScheduleAnyway never blocks.
    let mut soft = p.clone();
    soft.topology_spread[0].when_unsatisfiable = WhenUnsatisfiable::ScheduleAnyway;
    assert_eq!(c.check_fit(&soft, ids[0]), Ok(()));
    // A larger maxSkew allows it.
    let mut loose = p.clone();
    loose.topology_spread[0].max_skew = 2;
    assert_eq!(c.check_fit(&loose, ids[0]), Ok(()));
    // Pods in other namespaces do not count.
    let other_ns = p.in_namespace("other");
    assert_eq!(c.check_fit(&other_ns, ids[0]), Ok(()));
    // The indexed path agrees: the first fit skips z1.
    assert_eq!(c.find_fit(&spread_pod("new")), Some(ids[1]));
}

#[test]
fn spread_domains_follow_node_affinity_and_zoneless_nodes_fail() {
    let (mut c, ids) = three_zones(1);
    // Only z1 and z2 carry pool=x: z3 is not a domain for a pod selecting pool=x.
    let x1 = c
        .add_node(node("x1", "z1").with_label("pool", "x"))
        .unwrap();
    let x2 = c
        .add_node(node("x2", "z2").with_label("pool", "x"))
        .unwrap();
    c.place(pod("s-z2", 10).with_label("app", "s"), ids[1])
        .unwrap();
    let p = spread_pod("new").with_node_selector("pool", "x");
    // Counts z1=1, z2=1 (z3 ignored): z1 → 2 − 1 = 1 ≤ 1.
    assert_eq!(c.check_fit(&p, x1), Ok(()));
    assert_eq!(c.find_fit(&p), Some(x1));
    let _ = x2;
    // Without the selector z3 (count 0) is a domain and z1 → 2 − 0 = 2 > 1.
    assert!(c.check_fit(&spread_pod("new"), x1).is_err());
    let zoneless = c
        .add_node(NodeSpec::new(
            "nozone",
            Resources::pod(2000, 8 * GI).with_pods(10),
        ))
        .unwrap();
    assert!(matches!(
        c.check_fit(&spread_pod("n"), zoneless),
        Err(Unfit::TopologySpread { .. })
    ));
}

#[test]
fn find_fit_takes_the_first_node_that_fits() {
    let mut c = ClusterState::new();
    let a = c.add_node(node("a", "z1")).unwrap();
    let b = c.add_node(node("b", "z1")).unwrap();
    let x = c.add_node(node("x", "z1").with_label("pool", "x")).unwrap();
    c.place(pod("fill", 1900), a).unwrap();
    c.place(pod("web", 10).with_label("app", "web"), b).unwrap();
    assert_eq!(c.find_fit(&pod("p", 500)), Some(b));
    let anti = pod("p", 10).with_anti_affinity(LabelSelector::labels([("app", "web")]));
    assert_eq!(c.find_fit(&anti), Some(a));
    assert_eq!(
        c.find_fit(&pod("p", 10).with_node_selector("pool", "x")),
        Some(x)
    );
    assert_eq!(c.find_fit(&pod("p", 5000)), None);
    let aff =
        pod("p", 10).with_affinity_term(NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
            "pool",
            NodeSelectorOperator::DoesNotExist,
            &[],
        )]));
    assert_eq!(c.find_fit(&aff), Some(a));
    // A bound pod's own anti-affinity keeps matching pods away from its node.
    c.place(
        pod("guard", 10).with_anti_affinity(LabelSelector::labels([("app", "db")])),
        a,
    )
    .unwrap();
    assert_eq!(c.find_fit(&pod("db", 10).with_label("app", "db")), Some(b));
}

#[test]
fn reschedule_moves_a_nodes_pods_without_changing_the_cluster() {
    let mut c = ClusterState::new();
    let a = c.add_node(node("a", "z1")).unwrap();
    let b = c.add_node(node("b", "z1")).unwrap();
    let d = c.add_node(node("d", "z1")).unwrap();
    c.place(pod("b-fill", 1000), b).unwrap();
    c.place(pod("d-fill", 1400), d).unwrap();
    c.place(pod("m1", 800), a).unwrap();
    c.place(pod("m2", 600), a).unwrap();
    let moving: Vec<PodSpec> = c.pods_on(a).map(|(_, p)| (**p).clone()).collect();
    let before = c.used(b).cloned();
    // FFD: 800m goes to b (1000m free, 200m left), 600m then only fits d (600m free).
    assert_eq!(c.reschedule(&moving, a), Ok(vec![(0, b), (1, d)]));
    assert_eq!(c.used(b).cloned(), before, "cluster unchanged");
    assert_eq!(c.pod_count(), 4);
}

#[test]
fn can_reschedule_fails_when_a_pod_fits_nowhere_else() {
    let mut c = ClusterState::new();
    let a = c.add_node(node("a", "z1")).unwrap();
    let b = c.add_node(node("b", "z1")).unwrap();
    c.place(pod("m1", 800), a).unwrap();
    c.place(pod("m2", 600), a).unwrap();
    c.place(pod("b-fill", 1000), b).unwrap();
    let moving: Vec<PodSpec> = c.pods_on(a).map(|(_, p)| (**p).clone()).collect();
    // b has 1000m free: 800 fits, then 600 does not.
    assert_eq!(c.reschedule(&moving, a), Err(1));
    assert!(!c.can_reschedule(&moving, a));
    let c2 = {
        let mut c2 = c.clone();
        c2.add_node(node("e", "z1")).unwrap();
        c2
    };
    let plan = c2.reschedule(&moving, a).unwrap();
    assert_eq!(plan.len(), 2);
    assert!(plan.iter().all(|(_, n)| *n != a));
    assert!(c2.can_reschedule(&moving, a));
}

#[test]
fn reschedule_ignores_the_excluded_nodes_pods_for_anti_affinity_and_spread() {
    let (mut c, ids) = three_zones(0);
    let sel = LabelSelector::labels([("app", "s")]);
    // Two spread pods in z1 (on node 0) and one in z2: moving node 0's pods must not count them.
    let s = |n: &str| spread_pod(n).with_anti_affinity(sel.clone());
    c.place(s("a"), ids[0]).unwrap();
    c.place(s("b"), ids[1]).unwrap();
    let moving: Vec<PodSpec> = c.pods_on(ids[0]).map(|(_, p)| (**p).clone()).collect();
    // z2 holds one with anti-affinity; z3 is free and is the only place that keeps the skew.
    assert_eq!(c.reschedule(&moving, ids[0]), Ok(vec![(0, ids[2])]));
}
