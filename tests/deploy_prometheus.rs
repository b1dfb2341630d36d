//! The alerting rules in `deploy/prometheus/`: promtool accepts them, their promtool unit tests
//! pass, every alert has a unit test that fires it and one that keeps it quiet, and the
//! PrometheusRule carries exactly the groups of the plain rules file, and every expression reads
//! only metrics a component registers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registered_metrics;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

fn prometheus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unit_test_files() -> Vec<PathBuf> {
    let dir = prometheus_dir().join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no promtool unit tests in {}",
        dir.display()
    );
    files
}

fn run_promtool(args: &[&std::ffi::OsStr]) {
    let promtool = tidal_test_support::promtool().unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new(&promtool)
        .args(args)
        .current_dir(prometheus_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    assert!(
        output.status.success(),
        "promtool {:?} failed:\n{}\n{}",
        args,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    run_promtool(&["check".as_ref(), "rules".as_ref(), "rules.yaml".as_ref()]);
    let mut args: Vec<&std::ffi::OsStr> = vec!["test".as_ref(), "rules".as_ref()];
    let files = unit_test_files();
    args.extend(files.iter().map(|f| f.as_os_str()));
    run_promtool(&args);
}

/// (alert, whether the case expects it to fire) for every `alert_rule_test` case.
fn tested_cases() -> BTreeSet<(String, bool)> {
    let mut cases = BTreeSet::new();
    for file in unit_test_files() {
        let doc = read_yaml(&file);
        let tests = doc["tests"].as_sequence().cloned().unwrap_or_default();
        for case in tests.iter().flat_map(|t| {
            t["alert_rule_test"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        }) {
            let name = case["alertname"].as_str().unwrap_or_else(|| {
                panic!("{}: an alert_rule_test without alertname", file.display())
            });
            let fires = case["exp_alerts"]
                .as_sequence()
                .is_some_and(|alerts| !alerts.is_empty());
            cases.insert((name.to_owned(), fires));
        }
    }
    cases
}

#[test]
fn every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not() {
    let rules = read_yaml(&prometheus_dir().join("rules.yaml"));
    let cases = tested_cases();
    let mut missing = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let Some(alert) = rule["alert"].as_str() else {
                continue;
            };
            for (fires, what) in [(true, "fires it"), (false, "keeps it quiet")] {
                if !cases.contains(&(alert.to_owned(), fires)) {
                    missing.push(format!("{alert}: no unit test that {what}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "deploy/prometheus/rules.yaml:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_prometheus_rule_carries_the_groups_of_the_rules_file() {
    let plain = read_yaml(&prometheus_dir().join("rules.yaml"));
    let operator = read_yaml(&prometheus_dir().join("prometheusrule.yaml"));
    assert_eq!(operator["kind"].as_str(), Some("PrometheusRule"));
    assert!(
        plain["groups"] == operator["spec"]["groups"],
        "deploy/prometheus/prometheusrule.yaml (PrometheusRule tidal): spec.groups differs from \
         the groups of deploy/prometheus/rules.yaml; copy them over"
    );
}

#[test]
fn every_alert_reads_only_metrics_a_component_registers() {
    let path = prometheus_dir().join("rules.yaml");
    let rules = read_yaml(&path);
    let registered = registered_metrics::registered_names();
    let mut problems = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let alert = rule["alert"].as_str().unwrap_or("(recording rule)");
            let expr = rule["expr"].as_str().unwrap();
            let parsed = match promql_parser::parser::parse(expr) {
                Ok(parsed) => parsed,
                Err(e) => {
                    problems.push(format!("{alert}: {expr:?} does not parse: {e}"));
                    continue;
                }
            };
            let mut names = BTreeSet::new();
            registered_metrics::metric_names(&parsed, &mut names);
            assert!(!names.is_empty(), "{alert}: reads no metric");
            for name in names {
                let external = registered_metrics::EXTERNAL_EXPORTERS
                    .iter()
                    .any(|(p, _)| name.starts_with(p));
                if !registered.contains(&name) && !external {
                    problems.push(format!("{alert}: {name} is registered by no component"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        path.display(),
        problems.join("\n")
    );
}
