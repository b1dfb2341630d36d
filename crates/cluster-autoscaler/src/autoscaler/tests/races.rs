//! The world moves while a loop works: what the loop observed at its start is out of date when
//! it acts. The fakes change the world right after the loop's reads; the loop must act on what
//! is true when it writes, never remove a node or capacity on the strength of an old view.

use super::*;
use crate::outcome::ScaleDownStep;
use crate::testing::{CloudCall, ClusterCall};

/// node-0 busy (3 CPUs of 4), node-1 empty: node-1 is removed at minute 10.
fn busy_and_empty() -> World {
    let w = cluster_of(2, 0, AutoscalerConfig::default());
    bind(&w, "a", "node-0", 3000, |_| {});
    w
}

/// A pod bound to `node` (as the scheduler would bind it between observe and act).
fn late_pod(name: &str, node: &str) -> Arc<ClusterPod> {
    bound_pod(name, node, 500, 1)
}

#[test]
fn a_pod_bound_to_an_empty_node_after_the_snapshot_keeps_the_node() {
    let mut w = busy_and_empty();
    w.run(at(0));
    // Right after the loop's snapshot, the scheduler binds a pod to the "empty" node.
    w.cluster
        .after_next_snapshot(|s| Arc::make_mut(&mut s.pods).push(late_pod("late", "node-1")));
    let out = w.run(at(10));
    let sd = out
        .scale_downs
        .iter()
        .find(|d| d.node == "node-1")
        .expect("node-1 was planned for removal");
    assert!(sd.empty, "it looked empty in the snapshot");
    assert!(
        matches!(&sd.step, ScaleDownStep::Aborted(why) if why.contains("default/late")),
        "{:?}",
        sd.step
    );
    assert!(
        w.cloud.calls().is_empty(),
        "no termination: {:?}",
        w.cloud.calls()
    );
    assert_eq!(
        w.cluster.calls(),
        [
            ClusterCall::Mark("node-1".into()),
            ClusterCall::Unmark("node-1".into())
        ],
        "tainted, rechecked, untainted"
    );
    assert_eq!(w.desired("default", ZONE_A), 2);
}

#[test]
fn daemon_pods_found_by_the_recheck_do_not_keep_an_empty_node() {
    let mut w = busy_and_empty();
    w.run(at(0));
    w.cluster.after_next_snapshot(|s| {
        let mut daemon = (*late_pod("logs", "node-1")).clone();
        daemon.controller_kind = Some("DaemonSet".into());
        Arc::make_mut(&mut s.pods).push(arc(daemon));
    });
    let out = w.run(at(10));
    assert!(
        out.scale_downs
            .iter()
            .any(|d| d.node == "node-1" && d.step == ScaleDownStep::Terminated),
        "{:?}",
        out.scale_downs
    );
    assert_eq!(
        w.cloud.calls(),
        [CloudCall::Terminate(
            NodeGroupId::new("default", ZONE_A),
            "i-1".into()
        )]
    );
}

#[test]
fn an_empty_node_is_not_terminated_when_the_recheck_fails() {
    let mut w = busy_and_empty();
    w.run(at(0));
    w.cluster.fail("pods_on_node");
    let out = w.run(at(10));
    assert!(w.cloud.calls().is_empty(), "{:?}", w.cloud.calls());
    assert!(
        out.port_errors
            .iter()
            .any(|e| e.operation == "pods_on_node" && e.target == "node-1"),
        "{:?}",
        out.port_errors
    );
    // Once the cluster answers again, the marked node is rechecked and goes.
    w.cluster.heal("pods_on_node");
    w.run(at(11));
    assert_eq!(w.cloud.calls().len(), 1, "{:?}", w.cloud.calls());
}

#[test]
fn a_drained_node_that_got_a_pod_after_the_snapshot_is_drained_again_not_terminated() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    let out = w.run(at(10));
    assert_eq!(
        out.scale_downs[0].step,
        ScaleDownStep::Draining { evicted: 1 }
    );
    // The pod left; the snapshot shows node-2 drained, but a pod tolerating the taint is bound
    // right after the snapshot.
    w.cluster
        .update(|s| Arc::make_mut(&mut s.pods).retain(|p| p.name != "light"));
    w.cluster
        .after_next_snapshot(|s| Arc::make_mut(&mut s.pods).push(late_pod("tolerant", "node-2")));
    let next = w.run(at(11));
    assert_eq!(
        next.scale_downs[0].step,
        ScaleDownStep::Draining { evicted: 1 }
    );
    assert!(w.cloud.calls().is_empty(), "{:?}", w.cloud.calls());
    assert_eq!(
        w.cluster.calls().last(),
        Some(&ClusterCall::Evict("default".into(), "tolerant".into())),
        "the late pod is evicted through the Eviction API"
    );
}

/// One group asked for 3 nodes; one instance exists (its node registered); the cloud has just
/// reported that the rest could not be launched.
fn scale_up_failing_after_one() -> (World, NodeGroupId) {
    let w = cluster_of(1, 0, AutoscalerConfig::default());
    let id = NodeGroupId::new("default", ZONE_A);
    w.cloud.groups.lock().unwrap()[0].desired = 3;
    w.cloud
        .report_failure(&id, "InsufficientInstanceCapacity", at(1));
    (w, id)
}

#[test]
fn cancelling_a_scale_up_keeps_an_instance_launched_since_the_loop_started() {
    let (mut w, id) = scale_up_failing_after_one();
    // The ASG launches a second instance right after the loop read it.
    w.cloud.after_next_read(|groups| {
        groups[0].instances.push(instance("i-new", at(1)));
    });
    let out = w.run(at(2));
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert_eq!(
        out.failures[0].cancelled_to,
        Some(2),
        "lowered only by the request that did not launch"
    );
    assert_eq!(w.cloud.calls(), [CloudCall::SetDesired(id, 2)]);
}

#[test]
fn a_scale_up_is_not_cancelled_when_the_group_cannot_be_read_again() {
    let (mut w, _) = scale_up_failing_after_one();
    // The loop's first read works; the read right before the write fails.
    w.cloud.fail_after("node_groups", 1);
    let out = w.run(at(2));
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].cancelled_to, None);
    assert!(w.cloud.calls().is_empty(), "{:?}", w.cloud.calls());
    assert!(
        out.port_errors.iter().any(|e| e.operation == "node_groups"),
        "{:?}",
        out.port_errors
    );
    assert_eq!(w.desired("default", ZONE_A), 3);
}

#[test]
fn a_node_with_a_pod_that_could_not_be_read_is_not_removed() {
    let mut w = busy_and_empty();
    // node-1 looks empty only because the pod bound to it could not be converted.
    w.cluster.update(|s| {
        s.unreadable.nodes_with_pods.insert("node-1".into());
    });
    w.run(at(0));
    let out = w.run(at(10));
    assert!(out.scale_downs.is_empty(), "{:?}", out.scale_downs);
    assert!(w.cloud.calls().is_empty() && w.cluster.calls().is_empty());
    assert_eq!(out.unneeded_nodes, 0, "not even a candidate");
    assert!(out.unreadable.nodes_with_pods.contains("node-1"));
    let text = out.status.to_text();
    assert!(
        text.contains("node node-1: not removed, a pod bound to it could not be read"),
        "{text}"
    );
}

#[test]
fn a_drained_node_with_a_pod_that_could_not_be_read_is_not_terminated() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    w.run(at(10));
    // "light" left; a pod on node-2 that cannot be read makes it look drained.
    w.cluster.update(|s| {
        Arc::make_mut(&mut s.pods).retain(|p| p.name != "light");
        s.unreadable.nodes_with_pods.insert("node-2".into());
    });
    let out = w.run(at(11));
    assert_eq!(
        out.scale_downs[0].step,
        ScaleDownStep::Draining { evicted: 0 }
    );
    assert!(w.cloud.calls().is_empty(), "{:?}", w.cloud.calls());
}

#[test]
fn an_instance_whose_node_could_not_be_read_is_not_terminated_by_the_provision_timeout() {
    let mut w = busy_and_empty();
    bind(&w, "b", "node-1", 3000, |_| {});
    add_pending(&w, vec![spec("big", 3500, 1)], at(0));
    let first = w.run(at(0));
    assert_eq!(first.scale_ups[0].to, 3);
    let launched = w.cloud.launch(at(0));
    // The new node registered, but its Node object cannot be read; the pod got scheduled.
    w.cluster.update(|s| {
        Arc::make_mut(&mut s.pods).retain(|p| p.name != "big");
        s.unreadable.node_instances.insert(launched[0].1.clone());
    });
    let out = w.run(at(30));
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert!(
        !w.cloud
            .calls()
            .iter()
            .any(|c| matches!(c, CloudCall::Terminate(..))),
        "{:?}",
        w.cloud.calls()
    );
    let group = &out.status.node_groups[0];
    assert_eq!((group.instances, group.registered), (3, 3));
    assert!(
        out.status
            .unreadable
            .iter()
            .any(|l| l.contains(&launched[0].1))
    );
}
