#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use tidal_cluster_autoscaler::ports::{ClusterActions, ClusterError, ClusterSource};
use tidal_core::scheduling::{LABEL_ZONE, Toleration};

use super::*;
use crate::scheduler::SimScheduler;

fn node(name: &str, cpu: i64) -> NodeSpec {
    NodeSpec::new(name, Resources::new(cpu, 16 << 30).with_pods(110)).with_label(LABEL_ZONE, "z")
}

fn web() -> Arc<PodSpec> {
    Arc::new(PodSpec::new("web", Resources::pod(1000, 1 << 30)).with_label("app", "web"))
}

fn cluster() -> SimCluster {
    let agent = Arc::new(
        PodSpec::new("agent", Resources::pod(100, 1 << 20))
            .with_toleration(Toleration::exists("", None)),
    );
    let startup = vec![Duration::from_secs(10)];
    SimCluster::new(
        vec![agent],
        BTreeMap::from([(0, 2)]),
        startup,
        Timestamp::from_secs(0),
    )
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn group() -> NodeGroupId {
    NodeGroupId::new("default", "z")
}

#[test]
fn nodes_get_daemon_pods_and_losing_a_node_makes_its_pods_go() {
    let c = cluster();
    let mut w = c.world();
    w.add_node(node("n1", 4000), group(), "i-1").unwrap();
    assert!(
        w.add_node(node("n1", 4000), group(), "i-9").is_err(),
        "duplicate name"
    );
    assert_eq!(w.by_owner[&Owner::DaemonSet(0)].len(), 1);
    assert_eq!(w.totals.pools["default"].nodes, 1);
    assert_eq!(w.totals.pools["default"].allocatable.cpu_millis, 4000);
    for _ in 0..3 {
        w.create_pod(Owner::Workload(0), web());
    }
    assert_eq!(w.totals.requested.cpu_millis, 3000);
    assert_eq!(
        w.totals.pools["default"].requested.cpu_millis, 100,
        "the daemon pod"
    );
    SimScheduler::new().schedule(&mut w).unwrap();
    assert!(w.pending.is_empty());
    assert_eq!(w.totals.pools["default"].requested.cpu_millis, 3100);
    let uid = *w.by_owner[&Owner::Workload(0)].first().unwrap();
    w.delete_pod(uid);
    assert_eq!(w.totals.pools["default"].requested.cpu_millis, 2100);
    w.create_pod(Owner::Workload(0), web());
    SimScheduler::new().schedule(&mut w).unwrap();
    assert_eq!(w.state.pod_count(), 4);
    let (name, displaced) = w.remove_instance("i-1").unwrap().unwrap();
    assert_eq!((name.as_str(), displaced), ("n1", 3));
    assert!(w.pods.is_empty() && w.nodes.is_empty());
    assert_eq!(w.state.node_count(), 0);
    assert_eq!(w.totals.requested, Resources::zero());
    assert_eq!(w.totals.allocatable(), Resources::zero());
    assert_eq!(w.totals.pools["default"], PoolTotals::default());
    assert!(w.remove_instance("i-1").unwrap().is_none());
}

#[test]
fn the_scheduler_marks_unschedulable_pods_and_retries_when_capacity_appears() {
    let c = cluster();
    let mut w = c.world();
    w.add_node(node("n1", 2500), group(), "i-1").unwrap();
    let uids: Vec<u64> = (0..3)
        .map(|_| w.create_pod(Owner::Workload(0), web()))
        .collect();
    let mut s = SimScheduler::new();
    let pass = s.schedule(&mut w).unwrap();
    assert_eq!((pass.bound, pass.unschedulable), (2, 1));
    assert_eq!(
        w.pods[&uids[2]].pod.unschedulable_since,
        Some(Timestamp::from_secs(0))
    );
    w.now = Timestamp::from_secs(10);
    let pass = s.schedule(&mut w).unwrap();
    assert_eq!((pass.bound, pass.unschedulable), (0, 1));
    assert_eq!(
        w.pods[&uids[2]].pod.unschedulable_since,
        Some(Timestamp::from_secs(0)),
        "the first transition time stays"
    );
    w.add_node(node("n2", 2500), group(), "i-2").unwrap();
    let pass = s.schedule(&mut w).unwrap();
    assert_eq!((pass.bound, pass.unschedulable), (1, 0));
    let pod = &w.pods[&uids[2]].pod;
    assert_eq!(pod.node_name.as_deref(), Some("n2"));
    assert_eq!(pod.unschedulable_since, None);
    let waits: Vec<f64> = w.pending_waits.iter().map(|(_, s)| *s).collect();
    assert_eq!(waits, vec![0.0, 0.0, 10.0]);
}

#[test]
fn marked_nodes_take_no_new_pods_and_keep_their_own() {
    let c = cluster();
    {
        let mut w = c.world();
        w.add_node(node("n1", 4000), group(), "i-1").unwrap();
        let uid = w.create_pod(Owner::Workload(0), web());
        SimScheduler::new().schedule(&mut w).unwrap();
        assert!(w.pods[&uid].slot.is_some());
    }
    block(c.mark_for_deletion("n1")).unwrap();
    {
        let mut w = c.world();
        let n = &w.nodes["n1"].node;
        assert!(n.unschedulable);
        assert!(n.spec.taints.iter().any(|t| t.key == TO_BE_DELETED_TAINT));
        assert_eq!(w.state.pod_count(), 2, "its pods are still bound");
        w.create_pod(Owner::Workload(0), web());
        let pass = SimScheduler::new().schedule(&mut w).unwrap();
        assert_eq!(pass.bound, 0);
    }
    block(c.unmark_for_deletion("n1")).unwrap();
    let mut w = c.world();
    assert!(!w.nodes["n1"].node.unschedulable);
    let pass = SimScheduler::new().schedule(&mut w).unwrap();
    assert_eq!(pass.bound, 1);
    drop(w);
    assert!(matches!(
        block(c.mark_for_deletion("nope")),
        Err(ClusterError::NotFound { .. })
    ));
}

#[test]
fn evictions_respect_the_disruption_budget() {
    let c = cluster();
    let names: Vec<String> = {
        let mut w = c.world();
        w.add_node(node("n1", 8000), group(), "i-1").unwrap();
        let uids: Vec<u64> = (0..3)
            .map(|_| w.create_pod(Owner::Workload(0), web()))
            .collect();
        SimScheduler::new().schedule(&mut w).unwrap();
        w.now = Timestamp::from_secs(60);
        uids.iter().map(|u| w.pods[u].pod.name.clone()).collect()
    };
    let snapshot = c.snapshot().unwrap();
    assert_eq!(snapshot.pods.len(), 4);
    assert_eq!(snapshot.pdbs.len(), 1);
    assert_eq!(snapshot.pdbs[0].disruptions_allowed, 1, "3 ready, min 2");
    block(c.evict_pod("default", &names[0])).unwrap();
    let err = block(c.evict_pod("default", &names[1])).unwrap_err();
    assert!(matches!(err, ClusterError::EvictionBlocked { .. }), "{err}");
    assert!(matches!(
        block(c.evict_pod("default", &names[0])),
        Err(ClusterError::NotFound { .. })
    ));
    let w = c.world();
    assert_eq!(w.by_owner[&Owner::Workload(0)].len(), 2);
    assert!(
        w.notes
            .iter()
            .any(|n| matches!(n, ClusterNote::Evicted { .. }))
    );
}

#[test]
fn budgets_count_pods_ready_only_after_their_start_up_and_forget_pods_that_go() {
    let c = cluster();
    let allowed = || c.snapshot().unwrap().pdbs[0].disruptions_allowed;
    let bind_web = |n: usize| {
        let mut w = c.world();
        let uids: Vec<u64> = (0..n)
            .map(|_| w.create_pod(Owner::Workload(0), web()))
            .collect();
        SimScheduler::new().schedule(&mut w).unwrap();
        uids.iter()
            .map(|u| w.pods[u].pod.name.clone())
            .collect::<Vec<_>>()
    };
    let at = |secs: i64| c.world().now = Timestamp::from_secs(secs);
    c.world()
        .add_node(node("n1", 8000), group(), "i-1")
        .unwrap();
    let first = bind_web(3);
    at(5);
    assert_eq!(allowed(), 0, "none Ready within the 10 s start-up");
    // A pod that is not Ready may go even though none are Ready.
    block(c.evict_pod("default", &first[0])).unwrap();
    let second = bind_web(1);
    at(10);
    assert_eq!(allowed(), 0, "2 Ready (bound at 0 s), min 2");
    let err = block(c.evict_pod("default", &first[1])).unwrap_err();
    assert!(matches!(err, ClusterError::EvictionBlocked { .. }), "{err}");
    at(15);
    assert_eq!(allowed(), 1, "the pod bound at 5 s is Ready too");
    block(c.evict_pod("default", &first[1])).unwrap();
    assert_eq!(allowed(), 0);
    // The snapshot lists the pods left, in creation order: the daemon pod, then web.
    let listed: Vec<String> = (c.snapshot().unwrap().pods.iter())
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(listed[1..], [first[2].clone(), second[0].clone()]);
    // Losing the node takes its pods, Ready or not, out of the count.
    c.world().remove_instance("i-1").unwrap();
    c.world()
        .add_node(node("n2", 8000), group(), "i-2")
        .unwrap();
    bind_web(4);
    at(30);
    assert_eq!(
        allowed(),
        2,
        "the 4 pods bound anew are Ready; the old ones are gone"
    );
}
