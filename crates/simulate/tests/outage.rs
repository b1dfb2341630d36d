//! A capacity outage: the cloud cannot launch the default pool's type in one zone, reports the
//! failed launch after its detection delay, and the autoscaler falls back to the next pool in
//! the loop that sees the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tidal_simulate::record::DecisionKind;

const OUTAGE: &str = r#"
name: outage
duration: 1h
tick: 10s
warmup: 5m
zones: [eu-central-1a]
cloud: {boot_time: 90s, failure_detection_delay: 30s}
node_pools:
- name: default
  instance_types: [m6i.xlarge]
  min_size: 1
  max_size: 10
  priority: 0
- name: fallback
  instance_types: [m5.xlarge]
  max_size: 10
  priority: -10
workloads:
- name: batch
  replicas: 2
  max_replicas: 30
  requests: {cpu: "1", memory: 1Gi}
  hpa: {target_cpu_utilization: 80}
  load:
    steps:
    - {at: 0s, value: 1}
    - {at: 10m, value: 20}
  cpu_per_unit: 800m
failures:
- kind: capacity
  instance_type: m6i.xlarge
  zone: eu-central-1a
  from: 5m
  until: 2h
"#;

#[test]
fn capacity_outage_falls_back_within_one_loop_of_the_report() {
    let scenario = common::scenario(OUTAGE);
    let scan = scenario.autoscaler.scan_interval.as_secs_f64();
    let delay = scenario.cloud.failure_detection_delay.as_secs_f64();
    let result = common::run(scenario);
    let log = &result.recording.decisions;
    let first = |kind: DecisionKind, needle: &str| {
        log.iter()
            .find(|d| d.kind == kind && d.message.contains(needle))
            .unwrap_or_else(|| panic!("no {kind:?} entry with {needle:?} in {log:#?}"))
    };
    let launch_failed = first(DecisionKind::Cloud, "default/eu-central-1a: launching");
    assert!(
        launch_failed
            .message
            .contains("InsufficientInstanceCapacity")
    );
    let reported_at = launch_failed.t + delay;
    let detected = first(DecisionKind::Failure, "default/eu-central-1a");
    let fallback = first(
        DecisionKind::Fallback,
        "from default/eu-central-1a to fallback/eu-central-1a",
    );
    assert!(
        detected.t >= reported_at,
        "detected before the cloud reported it: {detected:?}"
    );
    assert!(
        detected.t <= reported_at + scan,
        "detected {detected:?}, reported at {reported_at}"
    );
    assert_eq!(
        fallback.t, detected.t,
        "the fallback happens in the loop that detects the failure"
    );
    let s = &result.summary;
    assert!(
        s.counters.failed_scale_ups >= 1 && s.counters.fallbacks >= 1,
        "{}",
        s.to_json()
    );
    // The fallback pool carried the load: everything got scheduled.
    assert_eq!(s.pods_pending_at_end, 0, "{}", s.to_json());
    let last = result.recording.timeline.last().unwrap();
    assert!(
        last.nodes_by_pool[1] > 0,
        "fallback pool has no nodes: {last:?}"
    );
}
