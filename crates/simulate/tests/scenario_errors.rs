//! Scenario errors name the file, the line and the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use tidal_simulate::Scenario;
use tidal_simulate::scenario::ScenarioError;

use common::{error, small_with};

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn unknown_field_names_line_and_field() {
    let text = small_with(
        "  cpu_per_unit: 10m\n",
        "  cpu_per_unit: 10m\n  cpu_per_unti: 3\n",
    );
    let err = error(&text);
    let line = line_of(&text, "cpu_per_unti");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("workloads[0]"), "{err}");
    assert!(err.contains("cpu_per_unti"), "{err}");
}

#[test]
fn bad_quantity_names_line_and_field() {
    let text = small_with("{cpu: 500m, memory: 1Gi}", "{cpu: 500x, memory: 1Gi}");
    let err = error(&text);
    let line = line_of(&text, "500x");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("workloads[0].requests.cpu"), "{err}");
    assert!(err.contains("500x"), "{err}");
}

#[test]
fn bad_duration_and_time_of_day_are_reported_where_they_are() {
    let text = small_with("duration: 2h", "duration: two hours");
    let err = error(&text);
    assert!(err.starts_with("bad.yaml:3:"), "{err}");
    assert!(err.contains("duration"), "{err}");
    let text = small_with(
        "    steps:\n    - {at: 0s, value: 100}\n    - {at: 30m, value: 1000}\n    - {at: 75m, value: 200}\n",
        "    daily_sine: {trough: 1, peak: 2, peak_at: \"25:00\"}\n",
    );
    let err = error(&text);
    let line = line_of(&text, "25:00");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("workloads[0].load"), "{err}");
}

#[test]
fn node_pool_errors_use_the_autoscaler_rules() {
    let text = small_with(
        "  min_size: 2\n  max_size: 20\n",
        "  min_size: 30\n  max_size: 20\n",
    );
    let err = error(&text);
    assert!(err.contains("node_pools[0]"), "{err}");
    assert!(err.contains("min_size"), "{err}");
    assert!(err.starts_with("bad.yaml:"), "{err}");
}

#[test]
fn inconsistent_values_name_the_field_and_line() {
    let text = small_with("  max_replicas: 60\n", "  max_replicas: 1\n");
    let err = error(&text);
    assert!(err.contains("workloads[0].replicas"), "{err}");
    let line = line_of(&text, "  replicas: 4");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");

    let text = format!(
        "{}failures:\n- kind: capacity\n  instance_type: m6i.xlarge\n  zone: eu-central-1z\n  from: 1h\n  until: 2h\n",
        common::SMALL
    );
    let err = error(&text);
    assert!(err.contains("failures[0].zone"), "{err}");
    assert!(
        err.starts_with(&format!("bad.yaml:{}:", line_of(&text, "eu-central-1z"))),
        "{err}"
    );
}

#[test]
fn unknown_instance_types_and_failure_kinds_are_rejected() {
    let text = small_with("[m5.xlarge]", "[x9.huge]");
    let err = error(&text);
    assert!(
        err.contains("node_pools[1].instance_types[0]") && err.contains("x9.huge"),
        "{err}"
    );
    let text = format!("{}failures:\n- kind: meteor\n  at: 1h\n", common::SMALL);
    let err = error(&text);
    assert!(
        err.contains("failures[0]") && err.contains("meteor"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = Scenario::load(Path::new("/nonexistent/scenario.yaml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/scenario.yaml"));
}

#[test]
fn durations_are_bounded_and_named() {
    // Used to panic adding duration and warmup.
    let text = small_with("duration: 2h", "duration: 500000000000y");
    let err = error(&text);
    assert!(err.starts_with("bad.yaml:3:"), "{err}");
    assert!(
        err.contains("duration") && err.contains("longer than"),
        "{err}"
    );
    let text = small_with("warmup: 10m", "warmup: 500000000000y");
    let err = error(&text);
    assert!(
        err.starts_with("bad.yaml:5:") && err.contains("warmup"),
        "{err}"
    );
    // Within the scenario bound but beyond the autoscaler's: named in the autoscaler block.
    let text = small_with(
        "  scale_down_delay_after_add: 5m\n",
        "  scale_down_delay_after_add: 5m\n  scan_interval: 30d\n",
    );
    let err = error(&text);
    let line = line_of(&text, "scan_interval");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("autoscaler.scan_interval"), "{err}");
    assert!(err.contains("longer than the maximum of 7days"), "{err}");
}

#[test]
fn an_empty_node_pool_list_is_rejected() {
    let text = small_with(
        "node_pools:\n- name: default\n  instance_types: [m6i.xlarge]\n  min_size: 2\n  max_size: 20\n  priority: 0\n- name: fallback\n  instance_types: [m5.xlarge]\n  max_size: 20\n  priority: -10\n",
        "node_pools: []\n",
    );
    let err = error(&text);
    let line = line_of(&text, "node_pools");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("at least one node pool"), "{err}");
}

#[test]
fn a_cpu_hpa_cannot_have_min_replicas_zero() {
    // Kubernetes admits minReplicas 0 only with an Object or External metric; the simulated
    // HPAs scale on CPU.
    let text = small_with("  min_replicas: 2\n", "  min_replicas: 0\n");
    let err = error(&text);
    assert!(err.contains("workloads[0].hpa"), "{err}");
    assert!(err.contains("Object or External"), "{err}");
}

#[test]
fn a_workload_too_big_for_every_pool_names_the_resource_and_the_biggest_pool() {
    let text = small_with("{cpu: \"1\", memory: 2Gi}", "{cpu: \"1\", memory: 96Gi}");
    let err = error(&text);
    let line = line_of(&text, "96Gi");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("workloads[1].requests.memory"), "{err}");
    assert!(err.contains("memory") && err.contains("96.0 GiB"), "{err}");
    // m6i.xlarge and m5.xlarge both have 16 GiB; the first of equals is named.
    assert!(err.contains("pool \"default\" (m6i.xlarge)"), "{err}");
    let text = small_with("{cpu: \"1\", memory: 2Gi}", "{cpu: \"6\", memory: 2Gi}");
    let err = error(&text);
    assert!(err.contains("workloads[1].requests.cpu"), "{err}");
    assert!(err.contains("6 CPU"), "{err}");
}

#[test]
fn a_node_selector_no_pool_matches_is_rejected_with_each_pools_reason() {
    let text = small_with(
        "- name: worker\n  replicas: 3\n",
        "- name: worker\n  replicas: 3\n  node_selector: {node-role: batch}\n",
    );
    let err = error(&text);
    let line = line_of(&text, "node-role: batch");
    assert!(err.starts_with(&format!("bad.yaml:{line}:")), "{err}");
    assert!(err.contains("workloads[1].node_selector"), "{err}");
    assert!(
        err.contains("pool \"default\": node selector node-role"),
        "{err}"
    );
    assert!(err.contains("pool \"fallback\""), "{err}");
    // A zone every pool has in the scenario is fine.
    let text = small_with(
        "- name: worker\n  replicas: 3\n",
        "- name: worker\n  replicas: 3\n  node_selector: {topology.kubernetes.io/zone: eu-central-1b}\n",
    );
    Scenario::from_yaml(&text, "ok.yaml", Path::new(".")).unwrap();
}

#[test]
fn failures_must_name_a_type_and_zone_some_pool_uses() {
    let failure = |t: &str, z: &str| {
        format!(
            "{}failures:\n- {{kind: capacity, instance_type: {t}, zone: {z}, from: 1h, until: 2h}}\n",
            common::SMALL
        )
    };
    let err = error(&failure("c6i.xlarge", "eu-central-1a"));
    assert!(err.contains("failures[0].instance_type"), "{err}");
    assert!(
        err.contains("no node pool uses instance type \"c6i.xlarge\""),
        "{err}"
    );
    assert!(err.contains("m5.xlarge, m6i.xlarge"), "{err}");
    let pinned = failure("m5.xlarge", "eu-central-1b").replace(
        "  max_size: 20\n  priority: -10",
        "  max_size: 20\n  priority: -10\n  zones: [eu-central-1a]",
    );
    let err = error(&pinned);
    assert!(err.contains("failures[0].zone"), "{err}");
    assert!(
        err.contains("no node pool runs m5.xlarge in zone \"eu-central-1b\""),
        "{err}"
    );
    Scenario::from_yaml(&failure("m5.xlarge", "eu-central-1b"), "ok", Path::new(".")).unwrap();
}

#[test]
fn zones_must_be_in_the_region() {
    let text = small_with(
        "zones: [eu-central-1a, eu-central-1b]",
        "zones: [eu-central-1a, eu-west-1b]",
    );
    let err = error(&text);
    assert!(err.starts_with("bad.yaml:7:"), "{err}");
    assert!(err.contains("zones[1]"), "{err}");
    assert!(
        err.contains("\"eu-west-1b\" is not in the scenario's region \"eu-central-1\""),
        "{err}"
    );
    let text = small_with(
        "zones: [eu-central-1a, eu-central-1b]",
        "region: us-west-2\nzones: [us-west-2a, us-west-2-lax-1a]",
    );
    Scenario::from_yaml(&text, "ok", Path::new(".")).unwrap();
}
