//! A noon traffic peak grows one pool spread over three zones: every zone's group ends within
//! one node of the others (upstream's `--balance-similar-node-groups` behaviour), where before
//! the whole scale-up landed in the one zone the expander picked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use tidal_simulate::Simulation;

/// Three zones, one pool; a workload with no zone constraint whose load jumps at 12:00.
const NOON_PEAK: &str = r#"
name: noon peak
duration: 12h20m
tick: 20s
warmup: 10m
seed: 11
zones: [eu-central-1a, eu-central-1b, eu-central-1c]
node_pools:
- name: default
  instance_types: [m6i.xlarge]
  min_size: 3
  max_size: 90
autoscaler:
  scan_interval: 20s
workloads:
- name: web
  replicas: 6
  min_replicas: 3
  max_replicas: 200
  requests: {cpu: "1", memory: 2Gi}
  hpa: {target_cpu_utilization: 70}
  load:
    steps:
    - {at: 0s, value: 100}
    - {at: 12h, value: 2500}
  cpu_per_unit: 20m
"#;

#[test]
fn a_noon_scale_up_spreads_over_the_pools_zones() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut sim = Simulation::new(common::scenario(NOON_PEAK)).unwrap();
    while !sim.is_done() {
        rt.block_on(sim.step()).unwrap();
    }
    let by_zone: BTreeMap<String, u32> = sim
        .cloud()
        .sizes()
        .into_iter()
        .filter(|(group, ..)| group.pool == "default")
        .map(|(group, desired, _, _)| (group.zone, desired))
        .collect();
    assert_eq!(by_zone.len(), 3, "{by_zone:?}");
    let total: u32 = by_zone.values().sum();
    assert!(total >= 15, "the peak needs many nodes: {by_zone:?}");
    let (min, max) = (
        by_zone.values().min().copied().unwrap(),
        by_zone.values().max().copied().unwrap(),
    );
    assert!(max - min <= 1, "zones out of balance: {by_zone:?}");
}
