use super::*;
use crate::outcome::{ScaleDownSkip, ScaleDownStep};
use crate::ports::{EventReason, InstanceState, TO_BE_DELETED_TAINT};
use crate::testing::{CloudCall, ClusterCall};
use tidal_core::scheduling::{Taint, TaintEffect};

#[test]
fn unneeded_node_is_removed_only_after_the_unneeded_time_then_terminated_when_drained() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    let first = w.run(at(0));
    assert_eq!(first.unneeded_nodes, 1);
    assert!(first.scale_downs.is_empty());
    assert!(w.run(at(9)).scale_downs.is_empty());
    let out = w.run(at(10));
    assert_eq!(out.scale_downs.len(), 1);
    let sd = &out.scale_downs[0];
    assert_eq!((sd.node.as_str(), sd.empty), ("node-2", false));
    assert_eq!(sd.step, ScaleDownStep::Draining { evicted: 1 });
    assert_eq!(
        w.cluster.calls(),
        [
            ClusterCall::Mark("node-2".into()),
            ClusterCall::Evict("default".into(), "light".into())
        ]
    );
    assert!(
        w.cloud.calls().is_empty(),
        "not terminated while pods are on it"
    );
    // The pod left the node (evicted and rescheduled): the next loop terminates the instance.
    w.cluster.update(|s| {
        Arc::make_mut(&mut s.pods).retain(|p| p.name != "light");
        if let Some(n) = s.nodes.iter_mut().find(|n| n.name == "node-2") {
            Arc::make_mut(n).unschedulable = true;
        }
    });
    let next = w.run(at(11));
    assert_eq!(next.scale_downs[0].step, ScaleDownStep::Terminated);
    assert_eq!(
        w.cloud.calls(),
        [CloudCall::Terminate(
            NodeGroupId::new("default", ZONE_A),
            "i-2".into()
        )]
    );
    assert_eq!(w.desired("default", ZONE_A), 2);
    assert!(
        w.cluster
            .events()
            .iter()
            .any(|e| e.reason == EventReason::ScaleDown)
    );
}

#[test]
fn a_node_that_gets_busy_restarts_its_timer() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    bind(&w, "more", "node-2", 2000, |_| {});
    assert_eq!(w.run(at(5)).unneeded_nodes, 0);
    w.cluster
        .update(|s| Arc::make_mut(&mut s.pods).retain(|p| p.name != "more"));
    w.run(at(6));
    assert!(
        w.run(at(15)).scale_downs.is_empty(),
        "unneeded since minute 6 only"
    );
    assert_eq!(w.run(at(16)).scale_downs.len(), 1);
}

#[test]
fn empty_nodes_go_first_and_are_terminated_at_once() {
    let mut w = cluster_of(3, 0, AutoscalerConfig::default());
    bind(&w, "a", "node-0", 3000, |_| {});
    bind(&w, "light", "node-1", 500, |_| {});
    w.run(at(0));
    let out = w.run(at(10));
    assert_eq!(out.scale_downs[0].node, "node-2");
    assert!(out.scale_downs[0].empty);
    assert_eq!(out.scale_downs[0].step, ScaleDownStep::Terminated);
    assert_eq!(out.scale_downs.len(), 2);
}

#[test]
fn never_below_the_group_minimum() {
    let mut w = cluster_of(3, 2, AutoscalerConfig::default());
    w.run(at(0));
    let out = w.run(at(10));
    assert_eq!(out.unneeded_nodes, 3);
    assert_eq!(out.scale_downs.len(), 1, "3 nodes, min 2");
}

#[test]
fn removals_at_once_are_limited() {
    let config = AutoscalerConfig {
        max_scale_down_parallelism: 2,
        ..AutoscalerConfig::default()
    };
    let mut w = cluster_of(6, 0, config);
    bind(&w, "x", "node-0", 100, |p| p.controller_kind = None);
    for i in 1..6 {
        bind(&w, &format!("p{i}"), &format!("node-{i}"), 100, |_| {});
    }
    w.run(at(0));
    let out = w.run(at(10));
    assert_eq!(out.scale_downs.len(), 2);
    // Nodes still draining count against the limit in the next loop: nothing new starts.
    let next = w.run(at(11));
    let nodes: Vec<&str> = next.scale_downs.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(nodes, ["node-1", "node-2"]);
    assert!(
        next.scale_downs
            .iter()
            .all(|s| matches!(s.step, ScaleDownStep::Draining { .. }))
    );
}

fn blocked(f: impl FnOnce(&mut ClusterPod)) -> usize {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.cluster.update(|s| {
        let pod = Arc::make_mut(&mut s.pods)
            .iter_mut()
            .find(|p| p.name == "light")
            .unwrap();
        f(Arc::make_mut(pod));
    });
    w.run(at(0));
    w.run(at(10)).scale_downs.len()
}

#[test]
fn safe_to_evict_false_blocks() {
    assert_eq!(blocked(|p| p.safe_to_evict = Some(false)), 0);
}

#[test]
fn local_storage_blocks_unless_safe_to_evict() {
    assert_eq!(blocked(|p| p.has_local_storage = true), 0);
    assert_eq!(
        blocked(|p| {
            p.has_local_storage = true;
            p.safe_to_evict = Some(true);
        }),
        1
    );
}

#[test]
fn bare_pods_block() {
    assert_eq!(blocked(|p| p.controller_kind = None), 0);
}

#[test]
fn kube_system_pods_block_without_a_budget() {
    let kube_system = |p: &mut ClusterPod| {
        p.namespace = "kube-system".into();
        p.spec.namespace = "kube-system".into();
        p.spec.labels.insert("app".into(), "dns".into());
    };
    assert_eq!(blocked(kube_system), 0);
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.cluster.update(|s| {
        let pod = Arc::make_mut(&mut s.pods)
            .iter_mut()
            .find(|p| p.name == "light")
            .unwrap();
        kube_system(Arc::make_mut(pod));
        s.pdbs.push(crate::testing::pdb("kube-system", "dns", 1));
    });
    w.run(at(0));
    assert_eq!(w.run(at(10)).scale_downs.len(), 1);
}

#[test]
fn disruption_budgets_block_when_exhausted() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.cluster.update(|s| {
        let pod = Arc::make_mut(&mut s.pods)
            .iter_mut()
            .find(|p| p.name == "light")
            .unwrap();
        Arc::make_mut(pod)
            .spec
            .labels
            .insert("app".into(), "web".into());
        s.pdbs.push(crate::testing::pdb("default", "web", 0));
    });
    w.run(at(0));
    assert_eq!(w.run(at(10)).scale_downs.len(), 0);
}

#[test]
fn daemonset_pods_are_not_moved() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    bind(&w, "agent", "node-2", 100, |p| {
        p.controller_kind = Some("DaemonSet".into())
    });
    w.run(at(0));
    let out = w.run(at(10));
    assert_eq!(out.scale_downs.len(), 1);
    assert!(
        !w.cluster
            .calls()
            .contains(&ClusterCall::Evict("default".into(), "agent".into()))
    );
}

#[test]
fn pods_that_fit_nowhere_keep_their_node() {
    let mut w = cluster_of(2, 0, AutoscalerConfig::default());
    bind(&w, "a", "node-0", 3500, |_| {});
    bind(&w, "b", "node-1", 1500, |_| {});
    w.run(at(0));
    let out = w.run(at(10));
    assert_eq!(out.unneeded_nodes, 0);
    assert!(out.scale_downs.is_empty());
}

#[test]
fn refused_eviction_abandons_the_removal() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.cluster
        .blocked_evictions
        .lock()
        .unwrap()
        .insert("default/light".into());
    w.run(at(0));
    let out = w.run(at(10));
    assert!(matches!(out.scale_downs[0].step, ScaleDownStep::Aborted(_)));
    assert!(
        w.cluster
            .calls()
            .contains(&ClusterCall::Unmark("node-2".into()))
    );
    assert!(
        w.cluster
            .events()
            .iter()
            .any(|e| e.reason == EventReason::ScaleDownFailed)
    );
    assert!(w.cloud.calls().is_empty());
}

#[test]
fn stale_snapshot_skips_scale_down_and_resets_timers() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    w.cluster.update(|s| s.taken_at = at(9));
    let out = w.run_as_is(at(10));
    assert!(matches!(
        out.scale_down_skipped,
        Some(ScaleDownSkip::StaleSnapshot { .. })
    ));
    assert!(out.scale_downs.is_empty());
    assert!(w.cluster.calls().is_empty());
    assert!(
        w.run(at(11)).scale_downs.is_empty(),
        "timer restarted at minute 11"
    );
}

#[test]
fn a_failed_port_call_skips_scale_down() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    w.cloud.fail("scale_up_failures");
    let out = w.run(at(10));
    assert_eq!(out.scale_down_skipped, Some(ScaleDownSkip::PortError));
    assert!(out.scale_downs.is_empty());
    assert!(w.cluster.calls().is_empty());
    w.cloud.heal("scale_up_failures");
    assert_eq!(w.run(at(11)).scale_downs.len(), 1, "timer kept running");
}

#[test]
fn no_scale_down_in_a_loop_with_a_scale_up() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    add_pending(&w, vec![spec("big", 3500, 1)], at(10));
    let out = w.run(at(10));
    assert_eq!(out.scale_ups.len(), 1);
    assert_eq!(out.scale_down_skipped, Some(ScaleDownSkip::RecentScaleUp));
    assert!(out.scale_downs.is_empty());
}

#[test]
fn per_pool_threshold_override_applies() {
    let yaml = "node_pools:\n- name: default\n  instance_types: [m5.xlarge]\n  max_size: 30\n  scale_down_utilization_threshold: 0.2\n";
    let mut g = group_with("default", ZONE_A, 0, 30);
    g.desired = 2;
    g.instances = vec![instance("i-0", at(0)), instance("i-1", at(0))];
    let mut w = World::new(yaml, vec![g], AutoscalerConfig::default());
    w.cluster.update(|s| {
        s.nodes.push(node("node-0", "i-0", ZONE_A, 4000, 16));
        s.nodes.push(node("node-1", "i-1", ZONE_A, 4000, 16));
    });
    bind(&w, "a", "node-0", 1000, |_| {});
    bind(&w, "b", "node-1", 1000, |_| {});
    assert_eq!(
        w.run(at(0)).unneeded_nodes,
        0,
        "25 % is above the pool's 20 %"
    );
}

#[test]
fn a_loop_that_cannot_read_the_cluster_restarts_the_timers() {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    w.cluster.fail("snapshot");
    let err = futures::executor::block_on(w.autoscaler.run_once(&w.cloud, &w.cluster, at(5)))
        .unwrap_err();
    assert_eq!(err.label(), "cluster");
    w.cluster.failing.lock().unwrap().clear();
    assert!(w.run(at(10)).scale_downs.is_empty());
    assert!(w.run(at(19)).scale_downs.is_empty());
    assert_eq!(w.run(at(20)).scale_downs.len(), 1);
}

/// Shows `name` as the API does once it is marked: cordoned by the deletion taint.
fn show_marked(w: &World, name: &str) {
    w.cluster.update(|s| {
        if let Some(n) = s.nodes.iter_mut().find(|n| n.name == name) {
            let n = Arc::make_mut(n);
            n.unschedulable = true;
            n.spec.taints.push(Taint::new(
                TO_BE_DELETED_TAINT,
                "1000000",
                TaintEffect::NoSchedule,
            ));
        }
    });
}

fn unmarks(w: &World) -> Vec<ClusterCall> {
    w.cluster
        .calls()
        .into_iter()
        .filter(|c| matches!(c, ClusterCall::Unmark(_)))
        .collect()
}

/// [`busy_and_light`] with node-2 unneeded for 10 minutes: being drained, shown marked.
fn draining_light_node() -> World {
    let mut w = busy_and_light(AutoscalerConfig::default());
    w.run(at(0));
    assert_eq!(w.run(at(10)).scale_downs.len(), 1, "node-2 starts draining");
    show_marked(&w, "node-2");
    w
}

/// Shows pod `name` as being deleted (`metadata.deletionTimestamp` set).
fn set_deleting(w: &World, name: &str) {
    w.cluster.update(|s| {
        for p in Arc::make_mut(&mut s.pods)
            .iter_mut()
            .filter(|p| p.name == name)
        {
            Arc::make_mut(p).deleting = true;
        }
    });
}

#[test]
fn a_drain_forgotten_with_a_lost_term_is_released_not_left_cordoned() {
    let mut w = draining_light_node();
    // Our own drain in progress keeps its mark.
    w.run(at(11));
    assert!(unmarks(&w).is_empty(), "{:?}", w.cluster.calls());
    // Leadership lost and won back: the drain is forgotten, its mark released.
    w.autoscaler.forget();
    let out = w.run(at(12));
    assert_eq!(unmarks(&w), [ClusterCall::Unmark("node-2".into())]);
    let released = out.scale_downs.iter().find(|d| d.node == "node-2").unwrap();
    assert!(matches!(released.step, ScaleDownStep::Aborted(_)));
    assert!(w.cloud.calls().is_empty(), "nothing terminated");
}

#[test]
fn marks_on_leaving_or_foreign_instances_and_in_dry_run_stay() {
    for dry_run in [false, true] {
        let config = AutoscalerConfig {
            dry_run,
            ..AutoscalerConfig::default()
        };
        let mut w = cluster_of(3, 0, config);
        for n in ["node-0", "node-1", "node-2"] {
            show_marked(&w, n);
        }
        {
            let mut groups = w.cloud.groups.lock().unwrap();
            // node-0's instance is terminating; node-1's belongs to no group of ours.
            groups[0].instances[0].state = InstanceState::Terminating;
            groups[0].instances.retain(|i| &*i.id != "i-1");
        }
        w.run(at(0));
        let expected = if dry_run {
            Vec::new()
        } else {
            vec![ClusterCall::Unmark("node-2".into())]
        };
        assert_eq!(unmarks(&w), expected, "dry run: {dry_run}");
    }
}

fn set_ready(w: &World, name: &str, ready: bool) {
    w.cluster.update(|s| {
        if let Some(n) = s.nodes.iter_mut().find(|n| n.name == name) {
            Arc::make_mut(n).ready = ready;
        }
    });
}

#[test]
fn an_unready_node_is_removed_after_the_unready_time_whatever_its_requests() {
    // node-0 is busy (2.5 of 4 CPUs) but not Ready; its pod fits on node-2 (1 CPU used by a
    // bare pod, which keeps node-2 itself).
    let mut w = cluster_of(3, 0, AutoscalerConfig::default());
    bind(&w, "stuck", "node-0", 2500, |_| {});
    bind(&w, "b", "node-1", 2500, |_| {});
    bind(&w, "c", "node-2", 1000, |p| p.controller_kind = None);
    assert_eq!(w.run(at(0)).unneeded_nodes, 0, "all ready and busy");
    set_ready(&w, "node-0", false);
    assert_eq!(w.run(at(1)).unneeded_nodes, 1);
    // The pool's 10 minutes are not enough for an unready node: it gets 20.
    assert!(w.run(at(11)).scale_downs.is_empty());
    let out = w.run(at(21));
    assert_eq!(out.scale_downs.len(), 1, "{out:?}");
    assert_eq!(out.scale_downs[0].node, "node-0");
    // Its pod is being deleted (the taint manager evicted it); the kubelet is gone and will
    // never confirm, so the pod does not hold the node: the next loop terminates it.
    set_deleting(&w, "stuck");
    show_marked(&w, "node-0");
    let next = w.run(at(22));
    assert_eq!(
        next.scale_downs[0].step,
        ScaleDownStep::Terminated,
        "{next:?}"
    );
}

#[test]
fn a_pod_being_deleted_on_a_ready_node_holds_it_until_gone() {
    let mut w = draining_light_node();
    set_deleting(&w, "light");
    let out = w.run(at(11));
    assert!(
        matches!(out.scale_downs[0].step, ScaleDownStep::Draining { .. }),
        "{out:?}"
    );
    assert!(w.cloud.calls().is_empty());
}

#[test]
fn pending_pods_being_deleted_trigger_no_scale_up() {
    let mut w = cluster_of(1, 0, AutoscalerConfig::default());
    let mut pod = (*crate::testing::pending_pod(spec("gone", 3000, 1), at(0))).clone();
    pod.deleting = true;
    w.cluster
        .update(|s| Arc::make_mut(&mut s.pods).push(arc(pod)));
    let out = w.run(at(1));
    assert_eq!(out.unschedulable_pods, 0);
    assert!(out.scale_ups.is_empty());
}

#[test]
fn many_unready_nodes_stop_scale_down_as_a_broken_cluster() {
    // 4 of 8 nodes not Ready (more than 3 and more than 45 %): an incident, not 4 bad nodes.
    let mut w = cluster_of(8, 0, AutoscalerConfig::default());
    for i in 0..4 {
        set_ready(&w, &format!("node-{i}"), false);
    }
    for minute in [0, 10, 21, 40] {
        let out = w.run(at(minute));
        assert_eq!(
            out.scale_down_skipped,
            Some(ScaleDownSkip::TooManyUnready {
                unready: 4,
                total: 8
            })
        );
        assert!(out.scale_downs.is_empty(), "{out:?}");
    }
    assert!(w.cluster.calls().is_empty() && w.cloud.calls().is_empty());
    // Back to health: timers start over, so nothing goes at once.
    for i in 0..4 {
        set_ready(&w, &format!("node-{i}"), true);
    }
    let out = w.run(at(41));
    assert_eq!(out.scale_down_skipped, None);
    assert!(out.scale_downs.is_empty(), "{out:?}");
}
