//! Invariants checked at every step of a short run: pods only on nodes they fit, node groups
//! within their bounds, per-pool totals equal to a count from scratch, and every pending pod
//! scheduled once capacity allows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use tidal_core::resources::Resources;
use tidal_core::scheduling::fits;
use tidal_simulate::Simulation;
use tidal_simulate::cluster::{ClusterWorld, PoolTotals, TO_BE_DELETED_TAINT};

/// The per-pool totals counted from the nodes and what the scheduler placed on them.
fn pool_totals(world: &ClusterWorld) -> BTreeMap<String, PoolTotals> {
    let mut pools: BTreeMap<String, PoolTotals> = BTreeMap::new();
    for node in world.nodes.values() {
        let pool = pools.entry(node.group.pool.clone()).or_default();
        pool.nodes += 1;
        (pool.allocatable).add_assign_saturating(&node.node.spec.allocatable);
        let used = world.state.used(node.id).unwrap();
        pool.requested.add_assign_saturating(used);
    }
    pools
}

/// Every bound pod fits its node given the other pods there (the autoscaler's deletion taint
/// is ignored: it is added after pods were bound and only keeps new pods away).
fn check_pods_fit(world: &ClusterWorld) {
    for (name, node) in &world.nodes {
        let mut spec = node.node.spec.clone();
        spec.taints.retain(|t| t.key != TO_BE_DELETED_TAINT);
        let pods: Vec<_> = node.pods.iter().map(|uid| &world.pods[uid]).collect();
        let total = pods.iter().fold(Resources::zero(), |acc, p| {
            acc.saturating_add(&p.spec.requests)
        });
        for p in &pods {
            assert_eq!(p.pod.node_name.as_deref(), Some(name.as_str()));
            let others = total.saturating_sub(&p.spec.requests);
            if let Err(why) = fits(&p.spec, &spec, &others) {
                panic!("pod {} does not fit node {name}: {why}", p.pod.name);
            }
        }
    }
}

#[test]
fn invariants_hold_at_every_step() {
    let scenario = common::scenario(common::SMALL);
    let pools: BTreeMap<String, (u32, u32)> = scenario
        .node_pools
        .pools()
        .iter()
        .map(|p| (p.name.clone(), (p.min_size, p.max_size)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut sim = Simulation::new(scenario).unwrap();
    let mut steps = 0;
    let mut saw_pending = false;
    while !sim.is_done() {
        rt.block_on(sim.step()).unwrap();
        steps += 1;
        for (group, desired, min, max) in sim.cloud().sizes() {
            assert!(
                desired >= min && desired <= max,
                "{group}: desired {desired} outside [{min}, {max}]"
            );
        }
        let world = sim.cluster().world();
        check_pods_fit(&world);
        saw_pending |= !world.pending.is_empty();
        let counted = pool_totals(&world);
        for (pool, totals) in &world.totals.pools {
            let (_, max) = pools[pool];
            let n = totals.nodes;
            assert!(
                n <= max,
                "pool {pool} has {n} nodes, more than its max {max}"
            );
            let expected = counted.get(pool).cloned().unwrap_or_default();
            assert_eq!(*totals, expected, "pool {pool} after step {steps}");
        }
    }
    assert!(steps > 700, "the run took {steps} steps");
    assert!(
        saw_pending,
        "the load step should have left pods pending for a while"
    );
    assert_eq!(sim.autoscaler_errors(), 0);
    let result = sim.finish();
    let s = &result.summary;
    // Capacity allows everything (pools far below their max): no pod is left pending and
    // none waits longer than a scale-up takes (a loop, a boot, a scheduling pass).
    assert_eq!(s.pods_pending_at_end, 0, "{}", s.to_json());
    assert!(s.pending_pod_seconds_max < 300.0, "{}", s.to_json());
    assert!(
        s.counters.scale_ups > 0 && s.counters.scale_downs > 0,
        "{}",
        s.to_json()
    );
}
