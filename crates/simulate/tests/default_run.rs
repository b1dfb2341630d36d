//! The default scenario parses, matches the example file, and a shortened run of it writes
//! all three outputs with sane numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use tidal_simulate::Scenario;
use tidal_simulate::scenario::DEFAULT_SCENARIO;

#[test]
fn the_default_scenario_is_shipped_as_an_example_too() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/online-shop-day.yaml");
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        file,
        DEFAULT_SCENARIO,
        "{} drifted from the built-in default",
        path.display()
    );
    Scenario::load(&path).unwrap();
}

#[test]
fn every_example_scenario_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(
        n >= 3,
        "expected the example scenarios in {}",
        dir.display()
    );
}

#[test]
fn a_short_default_run_writes_all_outputs() {
    let mut scenario = Scenario::default_day()
        .unwrap()
        .with_duration(Duration::from_secs(1800));
    scenario.warmup = Duration::from_secs(900);
    let result = common::run(scenario);
    let dir = tempfile::tempdir().unwrap();
    tidal_simulate::cli::write_outputs(dir.path(), &result).unwrap();

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    for key in [
        "node_hours",
        "node_hours_lower_bound",
        "cost",
        "pending_pod_seconds_p50",
        "pending_pod_seconds_p95",
        "pending_pod_seconds_max",
        "scale_ups",
        "scale_downs",
        "failed_scale_ups",
        "fallbacks",
        "seed",
        "wall_time_seconds",
    ] {
        assert!(
            summary.get(key).is_some(),
            "summary.json lacks {key}: {summary}"
        );
    }
    let s = &result.summary;
    // Half an hour around midnight of the shop: some tens of nodes, a few dollars.
    assert!(s.nodes_min >= 20 && s.nodes_max <= 150, "{}", s.to_json());
    assert!(
        s.node_hours > 10.0 && s.node_hours_lower_bound > 0.0,
        "{}",
        s.to_json()
    );
    assert!(s.node_hours_lower_bound <= s.node_hours, "{}", s.to_json());
    assert!(s.cost > 1.0 && s.cost < 200.0, "{}", s.to_json());
    assert_eq!(s.seed, 42);

    let csv = std::fs::read_to_string(dir.path().join("timeline.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("t_seconds,time,nodes_default,nodes_spot-c,nodes_default-fallback"),
        "{header}"
    );
    assert_eq!(lines.count(), 180, "one row per 10 s tick of 30 min");

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<svg") && html.contains("Decision log"));
    assert!(html.contains("Cluster autoscaler status at the end"));
    for fetch in ["<link", "src=", "https://", "url("] {
        assert!(
            !html.contains(fetch),
            "the report must be self-contained, found {fetch:?}"
        );
    }
}
