#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::Path;

use super::*;
use crate::scenario::Scenario;

const TWO: &str = r#"
node_pools:
- {name: default, instance_types: [m6i.xlarge], max_size: 10}
workloads:
- name: web
  replicas: 2
  max_replicas: 4
  requests: {cpu: 500m, memory: 512Mi}
  hpa: {target_cpu_utilization: 50}
  load: {constant: 1}
  cpu_per_unit: 1m
- name: fixed
  replicas: 4
  requests: {cpu: 500m, memory: 512Mi}
  load: {constant: 1}
  cpu_per_unit: 1m
"#;

fn row(desired: u32, unclamped: u32) -> TimelineRow {
    TimelineRow {
        t: 0.0,
        nodes_by_pool: vec![1],
        instances: 1,
        pending_pods: 0,
        replicas: vec![desired, 4],
        desired: vec![desired, 4],
        desired_unclamped: vec![unclamped, 4],
        load: vec![1.0, 1.0],
        ..TimelineRow::default()
    }
}

#[test]
fn hours_at_and_above_the_maximum_come_from_the_timeline() {
    let scenario = Scenario::from_yaml(TWO, "t", Path::new(".")).unwrap();
    // Ticks of 0.5 h: below max, at max wanting exactly max, twice at max wanting more.
    let timeline = [row(2, 2), row(4, 4), row(4, 9), row(4, 7)];
    let got = hpas_at_max(&scenario.workloads, &timeline, 0.5);
    assert_eq!(
        got,
        vec![HpaAtMax {
            workload: "web".into(),
            max_replicas: 4,
            hours_at_max: 1.5,
            hours_above_max: 1.0,
            peak_desired_unclamped: 9,
        }],
        "the fixed-size workload has no HPA and is never reported"
    );
    let unmet = UnmetDemand {
        unscheduled: Vec::new(),
        hpas_at_max: got,
    };
    assert!(!unmet.is_empty());
    assert!(
        unmet
            .describe()
            .contains("HPA web at max_replicas 4 for 1.5 h")
    );
    let just_at_max = hpas_at_max(&scenario.workloads, &timeline[..2], 0.5);
    let unmet = UnmetDemand {
        unscheduled: Vec::new(),
        hpas_at_max: just_at_max,
    };
    assert!(
        unmet.is_empty(),
        "at the maximum without wanting more is met demand"
    );
    assert!(unmet.describe().contains("at max"));
}
