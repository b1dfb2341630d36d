//! `tidal simulate compare` and `--runs` as the command line runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use tidal_simulate::{Args, run};

fn quick() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/quick.yaml")
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap()
        .block_on(f)
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn parse(argv: &[&str]) -> Args {
    Cli::try_parse_from(std::iter::once("simulate").chain(argv.iter().copied()))
        .unwrap()
        .args
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn compare_runs_scenarios_and_reads_run_directories() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let args = Args {
        scenario: Some(quick()),
        out: Some(first.clone()),
        seed: Some(5),
        duration: Some(Duration::from_secs(1200)),
        ..Args::default()
    };
    block(run(args)).unwrap();
    let summary = json(&first.join("summary.json"));
    assert!(
        summary["scenario_path"]
            .as_str()
            .unwrap()
            .ends_with("quick.yaml")
    );
    assert_eq!(summary["scenario_sha256"].as_str().unwrap().len(), 64);
    assert!(
        summary["pools"][0]["cpu_utilization"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    assert!(
        summary["workloads"][0]["pods_counted"].is_u64(),
        "{summary}"
    );

    let out = dir.path().join("cmp");
    let quick = quick();
    let args = parse(&[
        "compare",
        first.to_str().unwrap(),
        quick.to_str().unwrap(),
        "--seed",
        "6",
        "--duration",
        "20m",
        "--out",
        out.to_str().unwrap(),
    ]);
    block(run(args)).unwrap();
    let cmp = json(&out.join("compare.json"));
    assert_eq!(cmp["inputs"][0]["seed"], 5);
    assert_eq!(
        cmp["inputs"][1]["seed"], 6,
        "the scenario file ran with --seed"
    );
    let cost = cmp["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "cost")
        .unwrap();
    assert_eq!(cost["values"].as_array().unwrap().len(), 2);
    assert!(out.join("compare.html").is_file());
    assert!(
        out.join("B-quick/report.html").is_file(),
        "the run's own outputs are kept"
    );
}

#[test]
fn compare_names_an_input_that_is_neither_a_scenario_nor_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let args = parse(&[
        "compare",
        empty.to_str().unwrap(),
        quick().to_str().unwrap(),
    ]);
    let err = block(run(args)).unwrap_err();
    assert!(
        format!("{err:#}").contains("without a readable summary.json"),
        "{err:#}"
    );
    assert!(
        Cli::try_parse_from(["simulate", "compare", "one"]).is_err(),
        "two inputs at least"
    );
}

#[test]
fn runs_report_the_spread_over_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spread");
    let quick = quick();
    let args = parse(&[
        quick.to_str().unwrap(),
        "--runs",
        "3",
        "--seed",
        "10",
        "--duration",
        "20m",
        "--out",
        out.to_str().unwrap(),
    ]);
    block(run(args)).unwrap();
    let spread = json(&out.join("spread.json"));
    assert_eq!(spread["seeds"], serde_json::json!([10, 11, 12]));
    let cost = spread["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "cost")
        .unwrap();
    assert!(cost["median"].as_f64().unwrap() > 0.0);
    assert!(cost["p95"].as_f64().unwrap() >= cost["median"].as_f64().unwrap());
    for seed in 10..=12 {
        assert!(out.join(format!("seed-{seed}/summary.json")).is_file());
    }
}
