#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::Path;

use serde_json::json;

use super::*;

const TINY: &str = r#"
name: tiny
duration: 20m
warmup: 5m
zones: [eu-central-1a]
node_pools:
- {name: default, instance_types: [m6i.large], min_size: 1, max_size: 5}
workloads:
- name: web
  replicas: 2
  max_replicas: 8
  requests: {cpu: 500m, memory: 512Mi}
  hpa: {target_cpu_utilization: 70}
  load: {steps: [{at: 0s, value: 10}, {at: 10m, value: 60}]}
  cpu_per_unit: 20m
"#;

fn tiny(seed: u64) -> Scenario {
    Scenario::from_yaml(TINY, "tiny", Path::new("."))
        .unwrap()
        .with_seed(seed)
}

#[test]
fn parallel_runs_come_back_in_order_and_match_single_runs() {
    let scenarios: Vec<Scenario> = (1..=3).map(tiny).collect();
    let results = run_all(&scenarios, 2, |i, r| (i, r));
    assert_eq!(results.len(), 3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (i, (index, r)) in results.into_iter().enumerate() {
        assert_eq!(
            index, i,
            "each result is handed over with its scenario's index"
        );
        let mut parallel = r.unwrap().summary;
        let mut single = rt
            .block_on(crate::simulate(tiny(i as u64 + 1)))
            .unwrap()
            .summary;
        assert_eq!(parallel.seed, i as u64 + 1);
        parallel.wall_time_seconds = 0.0;
        single.wall_time_seconds = 0.0;
        assert_eq!(parallel, single);
    }
    assert!(run_all(&[], 4, |_, r| r.is_ok()).is_empty());
}

#[test]
fn the_spread_has_median_and_p95_of_every_figure() {
    let summaries: Vec<serde_json::Value> = (1..=20)
        .map(|i| {
            json!({"scenario": "s", "seed": i, "cost": f64::from(i) * 10.0,
                   "hpa_hours_above_max": -0.0,
                   "pools": [{"name": "spot", "cost": 1.0}]})
        })
        .collect();
    let s = Spread::new(&summaries);
    assert_eq!(s.seeds, (1..=20).collect::<Vec<u64>>());
    let cost = s.figures.iter().find(|f| f.key == "cost").unwrap();
    assert_eq!(
        (cost.median, cost.p95, cost.min, cost.max),
        (100.0, 190.0, 10.0, 200.0)
    );
    let spot = s
        .figures
        .iter()
        .find(|f| f.key == "pools[spot].cost")
        .unwrap();
    assert_eq!((spot.median, spot.p95), (1.0, 1.0));
    assert!(s.figures.iter().all(|f| f.key != "seed"));
    let text = s.to_text();
    assert!(
        !text.contains("-0"),
        "zero is shown without a sign:\n{text}"
    );
    assert!(text.starts_with("20 runs of \"s\" (seeds 1–20)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("cost total (USD)") && l.contains("190")),
        "{text}"
    );
}
