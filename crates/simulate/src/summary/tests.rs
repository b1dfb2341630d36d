#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn quantiles_use_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(quantile(&v, 0.5), 50.0);
    assert_eq!(quantile(&v, 0.95), 95.0);
    assert_eq!(quantile(&v, 1.0), 100.0);
    assert_eq!(quantile(&[], 0.5), 0.0);
    assert_eq!(quantile(&[7.0], 0.95), 7.0);
}

#[test]
fn per_pool_and_per_workload_figures_add_up() {
    use crate::record::{PoolTick, TimelineRow};
    let tick = |req: f64, alloc: f64| PoolTick {
        usd_per_hour: 1.0,
        requested_cpu: req,
        allocatable_cpu: alloc,
        requested_memory_gib: req * 2.0,
        allocatable_memory_gib: alloc * 4.0,
    };
    let rec = Recording {
        pools: vec!["a".into(), "b".into()],
        workloads: vec!["web".into(), "batch".into()],
        timeline: vec![
            TimelineRow {
                pools: vec![tick(1.0, 4.0), PoolTick::default()],
                ..TimelineRow::default()
            },
            TimelineRow {
                pools: vec![tick(3.0, 4.0), PoolTick::default()],
                ..TimelineRow::default()
            },
        ],
        ..Recording::default()
    };
    let billing = |secs: f64, usd: f64| Billing {
        instance_seconds: secs,
        cost_usd: usd,
        ..Billing::default()
    };
    let facts = RunFacts {
        scenario: "s".into(),
        scenario_path: "s.yaml".into(),
        scenario_sha256: sha256_hex(b"abc"),
        seed: 1,
        duration_hours: 1.0,
        tick_seconds: 10.0,
        instance_seconds: 7200.0,
        cost: 3.0,
        pools: vec![billing(3600.0, 1.0), billing(3600.0, 2.0)],
        waits: vec![(0, 10.0), (0, 30.0), (1, 5.0)],
        still_pending: vec![(1, 100.0)],
        unmet: crate::unmet::UnmetDemand::default(),
        wall_time_seconds: 0.0,
    };
    let s = Summary::compute(&rec, facts);
    assert_eq!(
        s.scenario_sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!((s.pods_counted, s.pods_pending_at_end), (4, 1));
    assert_eq!(s.pending_pod_seconds_max, 100.0);
    let a = &s.pools[0];
    assert_eq!((a.name.as_str(), a.node_hours, a.cost), ("a", 1.0, 1.0));
    assert_eq!((a.cpu_utilization, a.memory_utilization), (0.5, 0.25));
    assert_eq!(s.pools[1].cpu_utilization, 0.0, "no nodes: 0, not NaN");
    let web = &s.workloads[0];
    assert_eq!((web.pods_counted, web.pods_pending_at_end), (2, 0));
    assert_eq!(web.pending_pod_seconds_max, 30.0);
    let batch = &s.workloads[1];
    assert_eq!((batch.pods_counted, batch.pods_pending_at_end), (2, 1));
    assert_eq!(batch.pending_pod_seconds_p50, 5.0);
    let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    assert_eq!(json["pools"][1]["name"], "b");
    assert_eq!(json["workloads"][1]["pods_pending_at_end"], 1);
    assert_eq!(json["scenario_path"], "s.yaml");
    assert!(
        s.hpa_hours_above_max.is_sign_positive(),
        "no HPA at its maximum sums to 0, shown as 0, not -0"
    );
    assert!(!s.to_json().contains("-0.0"), "{}", s.to_json());
}
