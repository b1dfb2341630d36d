//! `tidal simulate` as the command line runs it: arguments in, files and a summary out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tidal_simulate::{Args, run};

fn quick() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/quick.yaml")
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn run_writes_the_outputs_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/run");
    let args = Args {
        scenario: Some(quick()),
        out: Some(out.clone()),
        seed: Some(3),
        duration: Some(Duration::from_secs(1800)),
        ..Args::default()
    };
    block(run(args)).unwrap();
    for f in ["summary.json", "timeline.csv", "report.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["duration_hours"], 0.5);
}

#[test]
fn bad_input_is_an_error_naming_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = Args {
        scenario: Some(dir.path().join("missing.yaml")),
        out: Some(out.clone()),
        ..Args::default()
    };
    let err = block(run(args)).unwrap_err();
    assert!(format!("{err:#}").contains("missing.yaml"), "{err:#}");
    assert!(!out.exists());
    let args = Args {
        scenario: Some(quick()),
        out: Some(out.clone()),
        duration: Some(Duration::ZERO),
        ..Args::default()
    };
    assert!(block(run(args)).is_err());
    assert!(!out.exists());
}

#[test]
fn the_summary_text_says_where_the_report_is() {
    let mut scenario = tidal_simulate::Scenario::load(&quick())
        .unwrap()
        .with_duration(Duration::from_secs(600));
    scenario.warmup = Duration::from_secs(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let result = rt.block_on(tidal_simulate::simulate(scenario)).unwrap();
    let text = tidal_simulate::cli::describe(&result.summary, Path::new("simulations/x"));
    assert!(text.contains("Report: simulations/x/report.html"), "{text}");
    assert!(text.contains("quick look"), "{text}");
}
