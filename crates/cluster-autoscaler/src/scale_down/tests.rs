#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tidal_core::Timestamp;

use super::*;
use crate::autoscaler::cluster_state;
use crate::groups::GroupView;
use crate::ports::{ClusterSnapshot, NodeGroupId};
use crate::testing::{bound_pod, node, pdb};

const ZONE: &str = "eu-central-1a";

fn candidate(name: &str) -> NodeCandidate {
    NodeCandidate {
        unready: false,
        node: name.to_owned(),
        group: NodeGroupId::new("default", ZONE),
        instance_id: format!("i-{name}"),
        threshold: 0.5,
        unneeded_time: Duration::from_secs(600),
    }
}

/// Nodes `n0`..: 4 CPUs each; `pods` are (name, node, cpu millis).
fn snapshot(nodes: usize, pods: &[(&str, &str, i64)]) -> ClusterSnapshot {
    ClusterSnapshot {
        taken_at: Timestamp::from_secs(0),
        nodes: (0..nodes)
            .map(|i| node(&format!("n{i}"), &format!("i-n{i}"), ZONE, 4000, 16))
            .collect(),
        pods: Arc::new(
            pods.iter()
                .map(|(p, n, cpu)| bound_pod(p, n, *cpu, 1))
                .collect(),
        ),
        pdbs: Vec::new(),
        unreadable: Default::default(),
    }
}

fn unneeded_of(s: &ClusterSnapshot) -> Unneeded {
    let cluster = cluster_state(s, &BTreeSet::new());
    let candidates: Vec<NodeCandidate> = s.nodes.iter().map(|n| candidate(&n.name)).collect();
    let mut pods = PodsByNode::default();
    for p in s.pods.iter() {
        pods.entry(p.node_name.as_deref().unwrap())
            .or_default()
            .push(p);
    }
    find_unneeded(&cluster, &candidates, &pods, &s.pdbs)
}

fn edit(s: &mut ClusterSnapshot, pod: &str, f: impl FnOnce(&mut ClusterPod)) {
    let p = Arc::make_mut(&mut s.pods)
        .iter_mut()
        .find(|p| p.name == pod)
        .unwrap();
    f(Arc::make_mut(p));
}

/// Labels `pods` `app=web`, the label the budgets of [`pdb`]`("default", "web", _)` select.
fn label_web(s: &mut ClusterSnapshot, pods: &[&str]) {
    for p in pods {
        edit(s, p, |p| {
            p.spec.labels.insert("app".into(), "web".into());
        });
    }
}

/// The blocker that keeps `node` from being unneeded, if any.
fn blocker_of<'a>(found: &'a Unneeded, node: &str) -> Option<&'a Blocker> {
    found
        .blocked
        .iter()
        .find(|(n, _)| n == node)
        .map(|(_, b)| b)
}

#[test]
fn utilization_is_the_larger_of_cpu_and_memory() {
    let s = snapshot(1, &[("a", "n0", 1000)]);
    let cluster = cluster_state(&s, &BTreeSet::new());
    let id = cluster.node_id("n0").unwrap();
    // 1 of 4 CPUs, 1 of 16 GiB.
    assert!((utilization(&cluster, id).unwrap() - 0.25).abs() < 1e-9);
}

#[test]
fn each_blocker_is_named() {
    let base = snapshot(2, &[("busy", "n0", 3000), ("x", "n1", 500)]);
    type Change = Box<dyn Fn(&mut ClusterPod)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|p| p.safe_to_evict = Some(false)),
            "not_safe_to_evict",
        ),
        (Box::new(|p| p.controller_kind = None), "not_replicated"),
        (Box::new(|p| p.has_local_storage = true), "local_storage"),
        (
            Box::new(|p| {
                p.namespace = "kube-system".into();
                p.spec.namespace = "kube-system".into();
            }),
            "kube_system_without_pdb",
        ),
    ];
    for (change, label) in cases {
        let mut s = base.clone();
        edit(&mut s, "x", change);
        let found = unneeded_of(&s);
        assert!(
            found.nodes.iter().all(|u| u.candidate.node != "n1"),
            "{label}"
        );
        assert_eq!(blocker_of(&found, "n1").map(Blocker::label), Some(label));
    }
}

#[test]
fn budgets_count_the_pods_of_the_node() {
    let mut s = snapshot(
        2,
        &[("busy", "n0", 1000), ("w1", "n1", 200), ("w2", "n1", 200)],
    );
    label_web(&mut s, &["w1", "w2"]);
    s.pdbs = vec![pdb("default", "web", 1)];
    let found = unneeded_of(&s);
    assert_eq!(
        blocker_of(&found, "n1"),
        Some(&Blocker::DisruptionBudget {
            pdb: "default/web-pdb".into(),
            needed: 2,
            allowed: 1
        })
    );
    s.pdbs = vec![pdb("default", "web", 2)];
    assert!(
        unneeded_of(&s)
            .nodes
            .iter()
            .any(|u| u.candidate.node == "n1")
    );
}

#[test]
fn finished_and_daemon_pods_do_not_have_to_move() {
    let mut s = snapshot(1, &[("done", "n0", 100), ("ds", "n0", 100)]);
    edit(&mut s, "done", |p| {
        p.phase = crate::ports::PodPhase::Succeeded
    });
    edit(&mut s, "ds", |p| {
        p.controller_kind = Some("DaemonSet".into())
    });
    let found = unneeded_of(&s);
    assert_eq!(found.nodes.len(), 1);
    assert!(
        found.nodes[0].is_empty(),
        "a lone node with nothing to move is empty"
    );
}

fn view(desired: u32, min: u32) -> GroupView {
    GroupView {
        id: NodeGroupId::new("default", ZONE),
        asg_name: "asg".into(),
        priority: 0,
        min_size: min,
        max_size: 100,
        asg_min_size: 0,
        desired,
        instances: desired,
        registered: desired,
        ready: desired,
        template: None,
        backed_off_until: None,
        live_instances: Vec::new(),
    }
}

/// The removals planned at `now` for the unneeded nodes of `s` (all unneeded since time 0), in
/// the one group `group`, with the budgets of `s`; and the simulated cluster they were planned
/// on (to check that planning left it unchanged).
fn plan_at(
    s: &ClusterSnapshot,
    found: &Unneeded,
    group: GroupView,
    max_removals: u32,
    now: Timestamp,
) -> (Vec<NodeRemoval>, ClusterState) {
    let since: HashMap<String, Timestamp> = found
        .nodes
        .iter()
        .map(|u| (u.candidate.node.clone(), Timestamp::from_secs(0)))
        .collect();
    let groups = [group];
    let limits = ScaleDownLimits {
        groups: &groups,
        in_progress: &BTreeMap::new(),
        max_removals,
    };
    let cluster = cluster_state(s, &BTreeSet::new());
    let removals = plan_scale_down(&cluster, &found.nodes, &since, now, &s.pdbs, &limits);
    (removals, cluster)
}

#[test]
fn two_removals_never_count_on_the_same_room() {
    // n0 (busy enough to stay) has room for one of the pods of n1 and n2, not both.
    let s = snapshot(
        3,
        &[("base", "n0", 2100), ("a", "n1", 1900), ("b", "n2", 1900)],
    );
    let found = unneeded_of(&s);
    assert_eq!(found.nodes.len(), 2, "each alone can move");
    let (removals, cluster) = plan_at(&s, &found, view(3, 0), 10, Timestamp::from_secs(600));
    assert_eq!(removals.len(), 1);
    assert_eq!(cluster.node_count(), 3, "the input is not changed");
}

#[test]
fn budgets_are_shared_across_a_batch() {
    let mut s = snapshot(3, &[("w1", "n1", 100), ("w2", "n2", 100)]);
    label_web(&mut s, &["w1", "w2"]);
    s.pdbs = vec![pdb("default", "web", 1)];
    let found = unneeded_of(&s);
    let (removals, _) = plan_at(&s, &found, view(3, 0), 10, Timestamp::from_secs(600));
    let with_pods = removals.iter().filter(|r| !r.pods.is_empty()).count();
    assert_eq!(with_pods, 1, "{removals:?}");
}

proptest! {
    /// Whatever the load, removals never take a group below its minimum, never exceed the
    /// limit, and only pick nodes that were unneeded long enough.
    #[test]
    fn removals_respect_minimum_and_limit(
        loads in proptest::collection::vec(0i64..4000, 1..12),
        min in 0u32..12,
        max_removals in 0u32..6,
        minutes in 0u64..20,
    ) {
        let names: Vec<String> = (0..loads.len()).map(|i| format!("p{i}")).collect();
        let nodes: Vec<String> = (0..loads.len()).map(|i| format!("n{i}")).collect();
        let pods: Vec<(&str, &str, i64)> = loads
            .iter()
            .enumerate()
            .filter(|(_, l)| **l > 0)
            .map(|(i, l)| (names[i].as_str(), nodes[i].as_str(), *l))
            .collect();
        let s = snapshot(loads.len(), &pods);
        let found = unneeded_of(&s);
        let desired = u32::try_from(loads.len()).unwrap();
        let min = min.min(desired);
        let now = Timestamp::from_secs(0) + Duration::from_secs(minutes * 60);
        let (removals, _) = plan_at(&s, &found, view(desired, min), max_removals, now);
        let removed = u32::try_from(removals.len()).unwrap();
        prop_assert!(removed <= max_removals);
        prop_assert!(desired - removed >= min);
        if minutes < 10 {
            prop_assert!(removals.is_empty());
        }
        for r in &removals {
            prop_assert!(found.nodes.iter().any(|u| u.candidate.node == r.node));
        }
    }
}
