//! Small scenarios shared by the integration tests (kept small so debug builds stay fast).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use tidal_simulate::Scenario;

/// Two zones, an on-demand pool and a lower-priority fallback pool, one HPA'd workload whose
/// load steps up at 00:30 and down at 01:15, and a fixed-size one.
pub const SMALL: &str = r#"
name: small
duration: 2h
tick: 10s
warmup: 10m
seed: 7
zones: [eu-central-1a, eu-central-1b]
node_pools:
- name: default
  instance_types: [m6i.xlarge]
  min_size: 2
  max_size: 20
  priority: 0
- name: fallback
  instance_types: [m5.xlarge]
  max_size: 20
  priority: -10
autoscaler:
  scale_down_unneeded_time: 5m
  scale_down_delay_after_add: 5m
daemonsets:
- name: node-agent
  requests: {cpu: 100m, memory: 128Mi}
workloads:
- name: web
  replicas: 4
  min_replicas: 2
  max_replicas: 60
  requests: {cpu: 500m, memory: 1Gi}
  hpa: {target_cpu_utilization: 70}
  load:
    steps:
    - {at: 0s, value: 100}
    - {at: 30m, value: 1000}
    - {at: 75m, value: 200}
  cpu_per_unit: 10m
  pdb: {min_available: 2}
- name: worker
  replicas: 3
  requests: {cpu: "1", memory: 2Gi}
  load: {constant: 1}
  cpu_per_unit: 500m
"#;

/// SMALL with `from` replaced by `to` (exactly once).
pub fn small_with(from: &str, to: &str) -> String {
    assert_eq!(SMALL.matches(from).count(), 1, "{from:?} must occur once");
    SMALL.replacen(from, to, 1)
}

/// The error loading scenario text as `bad.yaml` (panics if it loads).
pub fn error(text: &str) -> String {
    Scenario::from_yaml(text, "bad.yaml", Path::new("."))
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

/// Parses scenario text (panics with the error: test input is fixed).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_yaml(text, "test scenario", Path::new(".")).unwrap()
}

/// Runs a scenario to the end on a fresh current-thread runtime.
pub fn run(scenario: Scenario) -> tidal_simulate::SimResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(tidal_simulate::simulate(scenario)).unwrap()
}
