#![allow(clippy::unwrap_used, clippy::expect_used)]
use tidal_cluster_autoscaler::config::ExpanderKind;
use tidal_core::scheduling::TolerationOperator;

use super::*;

const BASE: &str = r#"
node_pools:
- {name: default, instance_types: [m6i.xlarge], max_size: 10}
workloads:
- name: web
  replicas: 2
  max_replicas: 10
  requests: {cpu: 500m, memory: 1Gi}
  hpa: {target_cpu_utilization: 60}
  load: {constant: 5}
  cpu_per_unit: 100m
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_yaml(text, "t.yaml", Path::new("."))
}

#[test]
fn the_default_day_has_three_pools_an_outage_and_a_spot_interruption() {
    let s = Scenario::default_day().unwrap();
    let pools: Vec<(&str, i32, bool)> = s
        .node_pools
        .pools()
        .iter()
        .map(|p| (p.name.as_str(), p.priority, p.spot))
        .collect();
    assert_eq!(
        pools,
        vec![
            ("default", 0, false),
            ("spot-c", 10, true),
            ("default-fallback", -10, false)
        ]
    );
    assert_eq!(s.duration, Duration::from_secs(86_400));
    assert!(s.failures.iter().any(|f| matches!(f,
        Failure::Capacity { instance_type, .. } if instance_type == "m6i.2xlarge")));
    assert!(
        s.failures
            .iter()
            .any(|f| matches!(f, Failure::SpotInterruption { .. }))
    );
    assert_eq!(s.autoscaler.seed, s.seed);
}

#[test]
fn defaults_apply_when_fields_are_left_out() {
    let s = parse(BASE).unwrap();
    assert_eq!(
        (s.tick, s.warmup),
        (Duration::from_secs(10), Duration::from_secs(1800))
    );
    assert_eq!(s.zones.len(), 3);
    assert_eq!(s.cloud, CloudTiming::default());
    let w = &s.workloads[0];
    assert_eq!((w.min_replicas, w.max_replicas), (1, 10));
    assert_eq!(w.pod.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(w.pod.requests.cpu_millis, 500);
    let spec = w.hpa_spec().unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (1, 10));
    assert!(spec.behavior.is_none());
}

#[test]
fn autoscaler_overrides_and_seed() {
    let text = format!(
        "{BASE}autoscaler:\n  scan_interval: 20s\n  expanders: [least_waste, random]\n  \
         scale_down_enabled: false\n  backoff_initial: 1m\n  max_pods: 58\n"
    );
    let s = parse(&text).unwrap().with_seed(9);
    assert_eq!(s.autoscaler.scan_interval, Duration::from_secs(20));
    assert_eq!(
        s.autoscaler.expanders,
        vec![ExpanderKind::LeastWaste, ExpanderKind::Random]
    );
    assert!(!s.autoscaler.scale_down_enabled);
    assert_eq!(s.autoscaler.backoff.initial(), Duration::from_secs(60));
    assert_eq!(s.autoscaler.template.max_pods, 58);
    assert_eq!((s.seed, s.autoscaler.seed), (9, 9));
    let bad = format!("{BASE}autoscaler:\n  scale_down_utilization_threshold: 1.5\n");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(err.contains("autoscaler") && err.contains("1.5"), "{err}");
}

#[test]
fn hpa_behavior_uses_the_kubernetes_shape_and_is_validated() {
    let text = BASE.replace(
        "hpa: {target_cpu_utilization: 60}",
        "hpa:\n    target_cpu_utilization: 60\n    behavior:\n      scaleDown:\n        \
         stabilizationWindowSeconds: 60\n        policies: [{type: Pods, value: 2, periodSeconds: 30}]",
    );
    let s = parse(&text).unwrap();
    let behavior = s.workloads[0].hpa_spec().unwrap().behavior.unwrap();
    let down = behavior.scale_down.unwrap();
    assert_eq!(down.stabilization_window_seconds, Some(60));
    let bad = text.replace("periodSeconds: 30", "periodSeconds: 0");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(err.contains("workloads[0].hpa"), "{err}");
}

#[test]
fn daemonsets_tolerate_everything_unless_told_otherwise() {
    let text = format!(
        "{BASE}daemonsets:\n- name: agent\n  requests: {{cpu: 100m, memory: 64Mi}}\n\
         - name: picky\n  requests: {{cpu: 100m, memory: 64Mi}}\n  tolerations: []\n"
    );
    let s = parse(&text).unwrap();
    assert_eq!(s.daemonsets[0].tolerations.len(), 1);
    assert_eq!(
        s.daemonsets[0].tolerations[0].operator,
        TolerationOperator::Exists
    );
    assert!(s.daemonsets[1].tolerations.is_empty());
    assert_eq!(s.daemonsets[0].namespace, "kube-system");
}

#[test]
fn zone_spread_becomes_a_topology_spread_constraint() {
    let text = BASE.replace(
        "  cpu_per_unit: 100m\n",
        "  cpu_per_unit: 100m\n  zone_spread: {max_skew: 2}\n",
    );
    let s = parse(&text).unwrap();
    let spread = &s.workloads[0].pod.topology_spread;
    assert_eq!(spread.len(), 1);
    assert_eq!(spread[0].max_skew, 2);
    assert!(parse(&text.replace("max_skew: 2", "max_skew: 0")).is_err());
}

#[test]
fn csv_load_paths_are_relative_to_the_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("load.csv"),
        "seconds,value\n0,10\n3600,30\n",
    )
    .unwrap();
    let text = BASE.replace("load: {constant: 5}", "load: {csv: {path: load.csv}}");
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, text).unwrap();
    let s = Scenario::load(&path).unwrap();
    assert_eq!(s.workloads[0].load.at(Duration::from_secs(1800)), 20.0);
    std::fs::remove_file(dir.path().join("load.csv")).unwrap();
    let err = Scenario::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("workloads[0].load") && err.contains("load.csv"),
        "{err}"
    );
}
