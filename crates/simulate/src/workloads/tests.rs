#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::Path;

use tidal_cluster_autoscaler::ports::NodeGroupId;
use tidal_core::resources::Resources;
use tidal_core::scheduling::NodeSpec;

use super::*;
use crate::scenario::Scenario;
use crate::scheduler::SimScheduler;

const ONE_WORKLOAD: &str = r#"
node_pools:
- {name: default, instance_types: [m6i.xlarge], max_size: 10}
workloads:
- name: web
  replicas: 4
  min_replicas: 2
  max_replicas: 50
  requests: {cpu: 500m, memory: 512Mi}
  hpa: {target_cpu_utilization: 50}
  load:
    steps: [{at: 0s, value: 100}, {at: 1h, value: 1000}]
  cpu_per_unit: 2m
  startup: 20s
"#;

fn setup() -> (Vec<Workload>, Deployments, ClusterWorld) {
    let scenario = Scenario::from_yaml(ONE_WORKLOAD, "test", Path::new(".")).unwrap();
    let deployments = Deployments::new(&scenario.workloads);
    let mut world = ClusterWorld::default();
    world.now = Timestamp::from_secs(1_000);
    let big = NodeSpec::new("big", Resources::new(64_000, 256 << 30).with_pods(200));
    world
        .add_node(big, NodeGroupId::new("default", "z"), "i-1")
        .unwrap();
    (scenario.workloads, deployments, world)
}

fn advance(world: &mut ClusterWorld, secs: u64) {
    world.now = world.now + Duration::from_secs(secs);
}

#[test]
fn deployment_creates_pods_and_hpa_follows_the_load() {
    let (workloads, mut d, mut world) = setup();
    d.reconcile(&mut world, &workloads);
    assert_eq!(world.by_owner[&Owner::Workload(0)].len(), 4);
    SimScheduler::new().schedule(&mut world).unwrap();
    assert!(world.pending.is_empty());
    // Before the pods are Ready the HPA has no trusted samples and keeps the count.
    let problems = d.sync_hpas(&mut world, &workloads, Duration::ZERO);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(d.desired(0), 4);
    // Ready and sampled for a full window: 100 load × 2m = 200m over 4 pods = 50m each,
    // 10 % of the 500m request against a 50 % target → scale down, but not within the
    // 5 min window of the first recommendation (4, at the first sync).
    advance(&mut world, 60);
    let problems = d.sync_hpas(&mut world, &workloads, Duration::ZERO);
    assert_eq!(
        problems,
        vec![HpaProblem {
            workload: 0,
            message: "metrics available again".into()
        }]
    );
    assert_eq!(
        d.desired(0),
        4,
        "the 5 min downscale window holds the count"
    );
    advance(&mut world, 300);
    d.sync_hpas(&mut world, &workloads, Duration::ZERO);
    assert_eq!(
        d.desired(0),
        2,
        "down to min_replicas once the window has passed"
    );
    d.reconcile(&mut world, &workloads);
    d.sync_hpas(&mut world, &workloads, Duration::ZERO);
    // 1000 load × 2m = 2 cores over 2 pods = 1000m each = 200 % of request, 4× the target
    // → 8 wanted, limited to max(2 × 2, 4) = 4 by the legacy scale-up limit.
    let hour = Duration::from_secs(3600);
    advance(&mut world, 15);
    d.sync_hpas(&mut world, &workloads, hour);
    assert_eq!(d.desired(0), 4);
    d.reconcile(&mut world, &workloads);
    assert_eq!(world.by_owner[&Owner::Workload(0)].len(), 4);
    let hpa = d.items[0].hpa.as_ref().unwrap();
    assert_eq!(hpa.pods.len(), 2, "new pods show up at the next sync");
    d.sync_hpas(&mut world, &workloads, hour);
    let hpa = d.items[0].hpa.as_ref().unwrap();
    assert_eq!(hpa.pods.len(), 4);
    assert_eq!(
        hpa.pods
            .iter()
            .filter(|p| p.phase == PodPhase::Pending)
            .count(),
        2
    );
}

#[test]
fn observation_stays_consistent_when_pods_go() {
    let (workloads, mut d, mut world) = setup();
    d.reconcile(&mut world, &workloads);
    d.sync_hpas(&mut world, &workloads, Duration::ZERO);
    let uids: Vec<u64> = world.by_owner[&Owner::Workload(0)]
        .iter()
        .copied()
        .collect();
    world.delete_pod(uids[0]);
    world.delete_pod(uids[2]);
    d.sync_hpas(&mut world, &workloads, Duration::ZERO);
    let hpa = d.items[0].hpa.as_ref().unwrap();
    assert_eq!(hpa.pods.len(), 2);
    for (i, uid) in hpa.uids.iter().enumerate() {
        assert_eq!(hpa.position[uid], i);
        assert_eq!(hpa.pods[i].name, world.pods[uid].pod.name);
        assert_eq!(hpa.samples[i].pod, hpa.pods[i].name);
    }
    // The Deployment replaces what was deleted.
    d.reconcile(&mut world, &workloads);
    assert_eq!(world.by_owner[&Owner::Workload(0)].len(), 4);
}

#[test]
fn scale_down_deletes_unbound_then_unready_then_newest() {
    let (workloads, d, mut world) = setup();
    d.reconcile(&mut world, &workloads);
    let uids: Vec<u64> = world.by_owner[&Owner::Workload(0)]
        .iter()
        .copied()
        .collect();
    world.bind(uids[0], "big").unwrap();
    world.bind(uids[1], "big").unwrap();
    advance(&mut world, 60);
    world.bind(uids[2], "big").unwrap();
    // uids[3] unbound; uids[2] bound but not Ready; uids[0], uids[1] Ready.
    assert_eq!(
        victims(&world, Owner::Workload(0), Duration::from_secs(20), 3),
        vec![uids[3], uids[2], uids[1]]
    );
}
