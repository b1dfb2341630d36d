//! docs/simulate.md documents every field and value the scenario loader accepts: each mapping
//! of a scenario that uses every section gets an unknown field, and the loader's own list of
//! allowed names must appear in the reference (and the same for enumerated values).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;
use tidal_simulate::Scenario;

/// A scenario that uses every section and nested mapping of the format.
const FULL: &str = r#"
name: full
duration: 2h
tick: 10s
warmup: 10m
seed: 3
region: eu-central-1
zones: [eu-central-1a, eu-central-1b]
cloud: {boot_time: 90s, failure_detection_delay: 30s, launch_retry_interval: 60s}
node_pools:
- name: default
  instance_types: [m6i.xlarge]
  spot: false
  min_size: 1
  max_size: 10
  priority: 0
  labels: {tier: general}
  taints: ["dedicated=web:NoSchedule"]
  zones: [eu-central-1a, eu-central-1b]
  scale_down_utilization_threshold: 0.5
  scale_down_unneeded_time: 10m
- {name: spot, instance_types: [c6i.xlarge], spot: true, max_size: 5}
autoscaler:
  scan_interval: 10s
  scale_down_utilization_threshold: 0.5
  scale_down_unneeded_time: 10m
  scale_down_delay_after_add: 10m
  max_node_provision_time: 7m
  max_scale_down_parallelism: 10
  max_drain_time: 10m
  scale_down_enabled: true
  expanders: [priority, least_waste]
  cluster_node_limit: 100
  max_pods: 110
  backoff_initial: 5m
  backoff_max: 30m
  backoff_reset_after: 3h
prices:
  on_demand: {m6i.xlarge: 0.2}
  spot_discount: 0.6
daemonsets:
- name: agent
  namespace: kube-system
  requests: {cpu: 100m, memory: 128Mi}
  tolerations: [{key: dedicated, operator: Exists}]
  node_selector: {tier: general}
workloads:
- name: web
  namespace: shop
  replicas: 4
  min_replicas: 2
  max_replicas: 20
  requests: {cpu: 500m, memory: 1Gi}
  node_selector: {tier: general}
  tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]
  hpa:
    target_cpu_utilization: 70
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 0
        selectPolicy: Max
        policies: [{type: Pods, value: 4, periodSeconds: 15}]
        tolerance: "0.1"
      scaleDown: {stabilizationWindowSeconds: 300}
  load:
    daily_sine: {trough: 10, peak: 100, peak_at: "19:00", trough_at: "04:00"}
  cpu_per_unit: 10m
  idle_cpu: 1m
  startup: 30s
  pdb: {min_available: 2}
  zone_spread: {max_skew: 1}
- name: steps
  replicas: 1
  requests: {cpu: 100m, memory: 128Mi}
  tolerations: [{key: dedicated, operator: Exists}]
  load:
    steps: [{at: 0s, value: 1}]
  cpu_per_unit: 1m
failures:
- {kind: capacity, instance_type: m6i.xlarge, zone: eu-central-1a, from: 1h, until: 2h}
- {kind: spot_interruption, pool: spot, at: 1h, count: 1}
"#;

const UNKNOWN: &str = "zz_not_a_field";

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/simulate.md");
    std::fs::read_to_string(path).unwrap()
}

fn load_error(doc: &Value) -> Option<String> {
    let text = serde_yaml_ng::to_string(doc).unwrap();
    Scenario::from_yaml(&text, "doc.yaml", Path::new("."))
        .err()
        .map(|e| e.to_string())
}

/// The names after "allowed here: " in a loader message.
fn allowed(message: &str) -> Vec<String> {
    let list = message.split("allowed here: ").nth(1).unwrap_or("");
    list.split(", ").map(|s| s.trim().to_owned()).collect()
}

/// Every mapping of `value`, as a path of keys and indexes.
fn mappings(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Mapping(m) => {
            out.push(path.clone());
            for (k, v) in m {
                path.push(k.clone());
                mappings(v, path, out);
                path.pop();
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                path.push(Value::from(i as u64));
                mappings(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(doc: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(doc, |v, step| match step {
        Value::Number(n) => &mut v[n.as_u64().unwrap() as usize],
        key => v.get_mut(key).unwrap(),
    })
}

#[test]
fn the_full_scenario_loads() {
    Scenario::from_yaml(FULL, "full.yaml", Path::new(".")).unwrap();
}

#[test]
fn every_field_the_loader_accepts_is_documented() {
    let doc: Value = serde_yaml_ng::from_str(FULL).unwrap();
    let mut paths = Vec::new();
    mappings(&doc, &mut Vec::new(), &mut paths);
    let mut names = BTreeSet::new();
    let mut structs = 0;
    for path in paths {
        let mut bad = doc.clone();
        let Value::Mapping(m) = at(&mut bad, &path) else {
            unreachable!()
        };
        m.insert(Value::from(UNKNOWN), Value::from(1));
        let Some(err) = load_error(&bad) else {
            continue; // a free-form map (labels, node_selector)
        };
        if !err.contains(&format!("`{UNKNOWN}`")) {
            continue;
        }
        structs += 1;
        names.extend(allowed(&err));
    }
    assert!(
        structs >= 20,
        "only {structs} mappings reported their fields"
    );
    let docs = docs();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !docs.contains(&format!("`{n}`")))
        .collect();
    assert!(missing.is_empty(), "not in docs/simulate.md: {missing:?}");
}

#[test]
fn every_enumerated_value_is_documented() {
    let replacements = [
        ("expanders: [priority, least_waste]", "expanders: [zz]"),
        ("kind: spot_interruption", "kind: zz"),
        ("    daily_sine:", "    zz:"),
        ("operator: Equal", "operator: zz"),
        ("effect: NoSchedule", "effect: zz"),
        ("selectPolicy: Max", "selectPolicy: zz"),
        ("type: Pods", "type: zz"),
    ];
    let docs = docs();
    for (from, to) in replacements {
        assert_eq!(FULL.matches(from).count(), 1, "{from}");
        let err = Scenario::from_yaml(&FULL.replacen(from, to, 1), "e.yaml", Path::new("."))
            .unwrap_err()
            .to_string();
        let names = allowed(&err);
        assert!(names.len() >= 2, "{from}: {err}");
        for n in names {
            assert!(docs.contains(&format!("`{n}`")), "{n} ({from}) not in docs");
        }
    }
}
