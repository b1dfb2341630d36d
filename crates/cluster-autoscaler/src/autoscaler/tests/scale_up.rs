use tidal_core::scheduling::{LabelSelector, TaintEffect, Toleration};

use super::*;
use crate::outcome::{FailureKind, ScaleDownSkip, ScaleUpReason};
use crate::testing::CloudCall;

const TWO_POOLS: &str = r#"
node_pools:
- name: default
  instance_types: [m5.xlarge]
  max_size: 30
  priority: 0
- name: preferred
  instance_types: [m5.xlarge]
  max_size: 30
  priority: 10
"#;

#[test]
fn highest_priority_pool_is_chosen() {
    let mut w = World::with_pools(TWO_POOLS, pool_groups(&["default", "preferred"], 30));
    add_pending(&w, numbered_pods(3, 1000, 2), at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups.len(), 1, "{:?}", out.scale_ups);
    let s = &out.scale_ups[0];
    assert_eq!(s.group, NodeGroupId::new("preferred", ZONE_A));
    assert_eq!(
        (s.from, s.to, s.pods, s.reason),
        (0, 1, 3, ScaleUpReason::PendingPods)
    );
    assert!(s.applied);
    assert_eq!(w.desired("preferred", ZONE_A), 1);
    assert_eq!(w.desired("default", ZONE_A), 0);
    let triggered = w.events_of(EventReason::TriggeredScaleUp);
    assert_eq!(triggered.len(), 3);
    assert_eq!(
        triggered[0].message,
        "pod triggered scale-up: [preferred/eu-central-1a 0->1 (max: 30)]"
    );
}

#[test]
fn least_waste_decides_between_equal_priorities() {
    let yaml = r#"
node_pools:
- name: big
  instance_types: [m5.4xlarge]
  max_size: 10
- name: small
  instance_types: [m5.large]
  max_size: 10
"#;
    let mut w = World::with_pools(yaml, pool_groups(&["big", "small"], 10));
    add_pending(&w, vec![spec("p", 1000, 1)], at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups.len(), 1);
    assert_eq!(out.scale_ups[0].group.pool, "small");
}

#[test]
fn equal_options_spread_over_zones() {
    let groups = default_groups(&[ZONE_A, ZONE_B], 10);
    let mut w = World::with_pools(&default_pool("m5.xlarge", 30), groups);
    // Zone a already has a node: the tie-break prefers the smaller group.
    {
        let mut groups = w.cloud.groups.lock().unwrap();
        groups[0].desired = 1;
        groups[0]
            .instances
            .push(crate::testing::instance("i-a1", at(0)));
    }
    w.cluster
        .update(|s| s.nodes.push(node("a1", "i-a1", ZONE_A, 100, 1)));
    add_pending(&w, vec![spec("p", 1000, 1)], at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups[0].group, NodeGroupId::new("default", ZONE_B));
}

const SPOT_AND_DEFAULT: &str = r#"
node_pools:
- name: default
  instance_types: [m5.xlarge]
  max_size: 30
  priority: 0
- name: spot
  instance_types: [c5.2xlarge]
  spot: true
  max_size: 30
  priority: 10
  labels: {aws.amazon.com/spot: "true"}
  taints: ["aws.amazon.com/spot=true:NoSchedule"]
"#;

/// The `default` and `spot` pools, each with one empty group in zone a.
fn spot_world() -> World {
    World::with_pools(SPOT_AND_DEFAULT, pool_groups(&["default", "spot"], 30))
}

/// A pod (1 CPU, 1 GiB) tolerating the spot pool's taint.
fn spot_tolerant(name: &str) -> PodSpec {
    let toleration =
        Toleration::equal("aws.amazon.com/spot", "true", Some(TaintEffect::NoSchedule));
    spec(name, 1000, 1).with_toleration(toleration)
}

#[test]
fn spot_pool_only_takes_pods_that_tolerate_it() {
    let mut w = spot_world();
    add_pending(
        &w,
        vec![spot_tolerant("tolerant"), spec("plain", 1000, 1)],
        at(0),
    );
    let out = w.run(at(0));
    let mut got: Vec<(String, usize)> = out
        .scale_ups
        .iter()
        .map(|s| (s.group.pool.clone(), s.pods))
        .collect();
    got.sort();
    assert_eq!(got, [("default".to_owned(), 1), ("spot".to_owned(), 1)]);
    // The tolerant pod went to the higher-priority spot pool, the plain one could not.
    assert_eq!(scale_up_of(&out, "spot").to, 1);
    assert!(out.no_scale_up.is_empty());
}

#[test]
fn gpu_pods_only_go_to_the_gpu_pool() {
    let mut w = default_and_gpu_world("p3.2xlarge", NodeTemplate::default());
    let gpu_pod = |n: &str| {
        let mut p = spec(n, 1000, 4);
        p.requests = p.requests.with_extended("nvidia.com/gpu", 1);
        p
    };
    add_pending(
        &w,
        vec![gpu_pod("g1"), gpu_pod("g2"), spec("cpu", 1000, 1)],
        at(0),
    );
    let out = w.run(at(0));
    let gpu = scale_up_of(&out, "gpu");
    assert_eq!((gpu.to, gpu.pods), (2, 2), "one GPU per node");
    assert_eq!(scale_up_of(&out, "default").pods, 1);
}

#[test]
fn zone_bound_volume_pods_go_to_that_zone_only() {
    let groups = default_groups(&[ZONE_A, ZONE_B, ZONE_C], 10);
    let mut w = World::with_pools(&default_pool("m5.xlarge", 30), groups);
    add_pending(
        &w,
        vec![spec("db-0", 1000, 1).with_volume_zone(ZONE_C)],
        at(0),
    );
    let out = w.run(at(0));
    assert_eq!(out.scale_ups.len(), 1);
    assert_eq!(out.scale_ups[0].group, NodeGroupId::new("default", ZONE_C));
}

#[test]
fn anti_affinity_pods_get_one_node_each() {
    let groups = default_groups(&[ZONE_A], 30);
    let mut w = World::with_pools(&default_pool("m5.4xlarge", 30), groups);
    let pods = (0..4)
        .map(|i| {
            spec(&format!("web-{i}"), 100, 1)
                .with_label("app", "web")
                .with_anti_affinity(LabelSelector::labels([("app", "web")]))
        })
        .collect();
    add_pending(&w, pods, at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups[0].to, 4);
}

#[test]
fn pool_max_is_respected_and_the_rest_get_a_reason() {
    let groups = default_groups(&[ZONE_A], 10);
    let mut w = World::with_pools(&default_pool("m5.large", 3), groups);
    // Each pod needs a node of its own (1.5 of 1.93 allocatable CPUs).
    add_pending(&w, numbered_pods(6, 1500, 1), at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups.len(), 1);
    assert_eq!(out.scale_ups[0].to, 3, "pool max 3 (ASG max 10)");
    let unhelped: usize = out.no_scale_up.iter().map(|n| n.pods.len()).sum();
    assert_eq!(unhelped, 3);
    let reason = &out.no_scale_up[0].reason;
    assert!(reason.contains("maximum size 3"), "{reason}");
    assert_eq!(w.events_of(EventReason::NotTriggerScaleUp).len(), 3);
}

#[test]
fn cluster_node_limit_is_respected() {
    let config = AutoscalerConfig {
        cluster_node_limit: Some(5),
        ..AutoscalerConfig::default()
    };
    let pools = default_pool("m5.large", 30);
    let mut w = World::new(&pools, default_groups(&[ZONE_A], 30), config);
    w.cluster.update(|s| {
        for i in 0..3 {
            // Unmanaged full nodes still count against the limit.
            s.nodes.push(node(
                &format!("other-{i}"),
                &format!("i-other{i}"),
                ZONE_A,
                100,
                1,
            ));
        }
    });
    add_pending(&w, numbered_pods(6, 1500, 1), at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups[0].to, 2);
    let reason = &out.no_scale_up[0].reason;
    assert!(reason.contains("cluster node limit"), "{reason}");
}

#[test]
fn booting_nodes_are_not_provisioned_twice() {
    let groups = default_groups(&[ZONE_A], 30);
    let mut w = World::with_pools(&default_pool("m5.large", 30), groups);
    add_pending(&w, numbered_pods(4, 1500, 1), at(0));
    let first = w.run(at(0));
    assert_eq!(first.scale_ups[0].to, 4);
    w.cloud.launch(at(0));
    // Two of four nodes registered; the pods are still pending.
    w.register_all(1930, 5);
    w.cluster.update(|s| s.nodes.truncate(2));
    let second = w.run(at(1));
    assert!(second.scale_ups.is_empty(), "{:?}", second.scale_ups);
    assert_eq!(second.pods_awaiting_capacity, 4);
    assert_eq!(w.desired("default", ZONE_A), 4);
    // More pods than the booting nodes can take: only the difference is added.
    add_pending(&w, vec![spec("extra", 1500, 1)], at(1));
    let third = w.run(at(2));
    assert_eq!((third.scale_ups[0].from, third.scale_ups[0].to), (4, 5));
}

#[test]
fn reported_failure_backs_off_and_falls_back_in_the_same_loop() {
    let mut w = spot_world();
    add_pending(&w, vec![spot_tolerant("p")], at(0));
    let first = w.run(at(0));
    assert_eq!(first.scale_ups[0].group.pool, "spot");
    let spot = NodeGroupId::new("spot", ZONE_A);
    w.cloud
        .report_failure(&spot, "InsufficientInstanceCapacity", at(1));
    let second = w.run(at(1));
    assert_eq!(second.failures.len(), 1);
    let f = &second.failures[0];
    assert_eq!(f.group, spot);
    assert_eq!(
        f.kind,
        FailureKind::Reported("InsufficientInstanceCapacity".into())
    );
    assert_eq!(f.cancelled_to, Some(0));
    assert_eq!(f.backoff_until, at(1) + Duration::from_secs(300));
    assert_eq!(w.desired("spot", ZONE_A), 0);
    assert_eq!(second.scale_ups.len(), 1);
    assert_eq!(second.scale_ups[0].group.pool, "default");
    assert_eq!(w.desired("default", ZONE_A), 1);
    assert_eq!(second.fallbacks.len(), 1);
    assert_eq!(
        (
            second.fallbacks[0].from.pool.as_str(),
            second.fallbacks[0].to.pool.as_str()
        ),
        ("spot", "default")
    );
    assert_eq!(second.backoffs.len(), 1);
    // The same failure is not counted twice.
    let third = w.run(at(2));
    assert!(third.failures.is_empty());
}

#[test]
fn nodes_that_never_register_time_out_into_backoff() {
    let mut w = spot_world();
    add_pending(&w, vec![spot_tolerant("p")], at(0));
    w.run(at(0));
    let launched = w.cloud.launch(at(0));
    assert_eq!(launched.len(), 1);
    let quiet = w.run(at(6));
    assert!(quiet.failures.is_empty(), "not yet 7 minutes");
    let out = w.run(at(7));
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].kind, FailureKind::ProvisionTimeout);
    // The instance that never became a node is terminated; the pod goes to the default pool.
    assert!(w.cloud.calls().contains(&CloudCall::Terminate(
        launched[0].0.clone(),
        launched[0].1.clone()
    )));
    assert_eq!(w.desired("spot", ZONE_A), 0);
    assert_eq!(out.scale_ups[0].group.pool, "default");
}

#[test]
fn a_failing_group_is_backed_off_and_the_others_keep_working() {
    let mut w = spot_world();
    add_pending(&w, vec![spot_tolerant("p")], at(0));
    w.cloud.fail("set_desired_capacity");
    let first = w.run(at(0));
    assert!(!first.scale_ups[0].applied);
    assert_eq!(first.port_errors[0].operation, "set_desired_capacity");
    w.cloud.heal("set_desired_capacity");
    let second = w.run(at(1));
    assert_eq!(
        second.scale_ups[0].group.pool, "default",
        "spot is backed off"
    );
}

#[test]
fn groups_below_their_minimum_are_raised() {
    let yaml = "node_pools:\n- name: default\n  instance_types: [m5.large]\n  min_size: 4\n  max_size: 30\n";
    let mut w = World::with_pools(yaml, default_groups(&[ZONE_A, ZONE_B], 30));
    let out = w.run(at(0));
    let mut raised: Vec<(String, u32, ScaleUpReason)> = out
        .scale_ups
        .iter()
        .map(|s| (s.group.zone.clone(), s.to, s.reason))
        .collect();
    raised.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        raised,
        [
            (ZONE_A.to_owned(), 2, ScaleUpReason::BelowMinimum),
            (ZONE_B.to_owned(), 2, ScaleUpReason::BelowMinimum)
        ]
    );
    assert_eq!(out.scale_down_skipped, Some(ScaleDownSkip::RecentScaleUp));
}

#[test]
fn unhelpable_pods_get_a_rate_limited_event_with_the_reason() {
    let mut w = spot_world();
    add_pending(&w, vec![spec("huge", 64_000, 1)], at(0));
    let out = w.run(at(0));
    assert!(out.scale_ups.is_empty());
    assert_eq!(out.no_scale_up.len(), 1);
    let reason = &out.no_scale_up[0].reason;
    assert!(reason.contains("insufficient cpu"), "{reason}");
    assert!(
        reason.contains("untolerated taint aws.amazon.com/spot=true:NoSchedule"),
        "{reason}"
    );
    w.run(at(1));
    assert_eq!(w.events_of(EventReason::NotTriggerScaleUp).len(), 1);
    w.run(at(6));
    assert_eq!(w.events_of(EventReason::NotTriggerScaleUp).len(), 2);
}

#[test]
fn dry_run_decides_but_does_not_act() {
    let config = AutoscalerConfig {
        dry_run: true,
        ..AutoscalerConfig::default()
    };
    let mut w = World::new(TWO_POOLS, default_groups(&[ZONE_A], 30), config);
    add_pending(&w, vec![spec("p", 1000, 1)], at(0));
    let out = w.run(at(0));
    assert!(out.dry_run);
    assert_eq!(out.scale_ups.len(), 1);
    assert!(!out.scale_ups[0].applied);
    assert!(w.cloud.calls().is_empty());
    assert!(w.cluster.events().is_empty());
    assert_eq!(w.desired("default", ZONE_A), 0);
}

#[test]
fn a_pool_with_unknown_instance_types_is_reported_and_skipped() {
    let yaml = r#"
node_pools:
- name: default
  instance_types: [m5.xlarge]
  max_size: 30
- name: typo
  instance_types: [m5.hyuge]
  max_size: 30
  priority: 50
"#;
    let mut w = World::with_pools(yaml, pool_groups(&["default", "typo"], 30));
    add_pending(&w, vec![spec("p", 1000, 1)], at(0));
    let out = w.run(at(0));
    assert_eq!(out.template_problems.len(), 1);
    assert!(
        out.template_problems[0].contains("m5.hyuge"),
        "{:?}",
        out.template_problems
    );
    assert_eq!(out.scale_ups[0].group.pool, "default");
    assert!(
        out.port_errors.is_empty(),
        "a config problem is not a failed call"
    );
}

#[test]
fn failing_instance_type_lookup_is_retried_next_loop() {
    let mut w = World::with_pools(TWO_POOLS, default_groups(&[ZONE_A], 30));
    add_pending(&w, vec![spec("p", 1000, 1)], at(0));
    w.cloud.fail("instance_types");
    let out = w.run(at(0));
    assert!(out.scale_ups.is_empty());
    assert_eq!(out.port_errors[0].operation, "instance_types");
    assert_eq!(out.scale_down_skipped, Some(ScaleDownSkip::PortError));
    w.cloud.heal("instance_types");
    assert_eq!(w.run(at(1)).scale_ups.len(), 1);
}

#[test]
fn status_is_written_every_loop() {
    let mut w = World::with_pools(TWO_POOLS, default_groups(&[ZONE_A], 30));
    add_pending(&w, vec![spec("p", 1000, 1)], at(0));
    w.run(at(0));
    w.run(at(1));
    let statuses = w.cluster.statuses.lock().unwrap().clone();
    assert_eq!(statuses.len(), 2);
    let g = &statuses[1].node_groups[0];
    assert_eq!(
        (g.desired, g.registered, g.last_scale_up),
        (1, 0, Some(at(0)))
    );
    assert!(statuses[1].to_text().contains("default/eu-central-1a"));
}

#[test]
fn same_history_same_decisions() {
    // Two autoscalers (their hash maps seeded differently) see the same loops, with nodes
    // coming and going in between: every outcome must be the same.
    let pools = default_pool("m5.large", 40);
    let run = || {
        let mut w = World::with_pools(&pools, default_groups(&[ZONE_A, ZONE_B], 40));
        let mut outcomes = Vec::new();
        for round in 0..4u64 {
            let pods = (0..12)
                .map(|i| spec(&format!("r{round}-p{i}"), 400 + 100 * (i % 5), 1))
                .collect();
            add_pending(&w, pods, at(round));
            outcomes.push(w.run(at(round)));
            w.cloud.launch(at(round));
            w.register_all(1930, 5);
            // Pending pods of this round got bound somewhere; drop one node to churn slots.
            w.cluster.update(|s| {
                Arc::make_mut(&mut s.pods).retain(|p| p.node_name.is_some());
                if s.nodes.len() > 2 {
                    s.nodes.remove(1);
                }
            });
        }
        outcomes
    };
    assert_eq!(run(), run());
}
