//! Flags follow one scheme across components (issue 16, point 8):
//!
//! - every flag of every subcommand has an environment variable `TIDAL_<FLAG>`, or
//!   `TIDAL_<COMPONENT>_<FLAG>` for the components that prefix theirs (the flag's long name in
//!   upper case, `-` as `_`);
//! - every knob of the simulator's `autoscaler:` section is a flag of `tidal cluster-autoscaler`,
//!   and the same values give the same autoscaler settings, so a configuration tuned in
//!   simulation deploys one to one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use clap::{Args as _, Command, Parser as _};
use tidal_cluster_autoscaler::config::AutoscalerConfig;
use tidal_simulate::Scenario;

/// Every subcommand of `tidal` with the component prefixes its variables may carry.
fn components() -> Vec<(Command, &'static [&'static str])> {
    vec![
        (
            tidal_cluster_autoscaler::cli::Args::augment_args(Command::new("cluster-autoscaler")),
            &[],
        ),
        (
            tidal_metrics_adapter::app::Args::augment_args(Command::new("metrics-adapter")),
            &[],
        ),
        (
            tidal_vpa::cli::Args::augment_args(Command::new("vpa")),
            &["VPA_"],
        ),
        (
            tidal_cp_autoscaler::cli::Args::augment_args(Command::new("cp-autoscaler")),
            &["CP_"],
        ),
        (
            tidal_quota_requester::cli::Args::augment_args(Command::new("quota-requester")),
            &["QUOTA_"],
        ),
        (
            tidal_simulate::Args::augment_args(Command::new("simulate")),
            &["SIMULATE_"],
        ),
    ]
}

/// `problems` gets one line per flag of `command` (and its subcommands) breaking the scheme.
fn check(command: &Command, prefixes: &[&str], path: &str, problems: &mut Vec<String>) {
    let path = format!("{path} {}", command.get_name());
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_positional() || matches!(id, "help" | "version") {
            continue;
        }
        let Some(long) = arg.get_long() else {
            problems.push(format!("{path}: {id} has no long name"));
            continue;
        };
        let flag = long.to_uppercase().replace('-', "_");
        let allowed: Vec<String> = std::iter::once("")
            .chain(prefixes.iter().copied())
            .map(|p| format!("TIDAL_{p}{flag}"))
            .collect();
        match arg.get_env().and_then(|e| e.to_str()) {
            Some(env) if allowed.iter().any(|a| a == env) => {}
            Some(env) => problems.push(format!("{path} --{long}: {env}, expected {allowed:?}")),
            None => problems.push(format!("{path} --{long}: no env var, expected {allowed:?}")),
        }
    }
    for sub in command.get_subcommands() {
        check(sub, prefixes, &path, problems);
    }
}

#[test]
fn every_flag_of_every_component_has_a_tidal_env_var() {
    let mut problems = Vec::new();
    for (command, prefixes) in components() {
        check(&command, prefixes, "tidal", &mut problems);
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_scheme_check_catches_a_flag_without_env_or_with_another_name() {
    let command = Command::new("x")
        .arg(clap::Arg::new("a").long("plain"))
        .arg(clap::Arg::new("b").long("aws-region").env("AWS_REGION"))
        .arg(clap::Arg::new("c").long("good-one").env("TIDAL_X_GOOD_ONE"));
    let mut problems = Vec::new();
    check(&command, &["X_"], "tidal", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("--plain: no env var"), "{problems:?}");
    assert!(problems[1].contains("AWS_REGION"), "{problems:?}");
}

/// Each knob of the scenario's `autoscaler:` section: its key, a value other than the
/// default, and the `tidal cluster-autoscaler` flag that sets the same.
const KNOBS: &[(&str, &str, &str)] = &[
    ("scan_interval", "20s", "--scan-interval=20s"),
    (
        "scale_down_utilization_threshold",
        "0.4",
        "--scale-down-utilization-threshold=0.4",
    ),
    (
        "scale_down_unneeded_time",
        "15m",
        "--scale-down-unneeded-time=15m",
    ),
    (
        "scale_down_delay_after_add",
        "5m",
        "--scale-down-delay-after-add=5m",
    ),
    (
        "max_node_provision_time",
        "12m",
        "--max-node-provision-time=12m",
    ),
    (
        "max_scale_down_parallelism",
        "3",
        "--max-scale-down-parallelism=3",
    ),
    ("max_drain_time", "20m", "--max-drain-time=20m"),
    ("scale_down_enabled", "false", "--scale-down-enabled=false"),
    (
        "expanders",
        "[least_waste, random]",
        "--expander=least-waste,random",
    ),
    ("cluster_node_limit", "500", "--max-nodes-total=500"),
    ("max_pods", "58", "--max-pods=58"),
    (
        "backoff_initial",
        "1m",
        "--initial-node-group-backoff-duration=1m",
    ),
    (
        "backoff_max",
        "10m",
        "--max-node-group-backoff-duration=10m",
    ),
    (
        "backoff_reset_after",
        "1h",
        "--node-group-backoff-reset-timeout=1h",
    ),
];

const SCENARIO: &str = r#"
node_pools:
- {name: default, instance_types: [m6i.xlarge], max_size: 10}
workloads:
- name: web
  replicas: 2
  requests: {cpu: 500m, memory: 1Gi}
  load: {constant: 5}
  cpu_per_unit: 100m
"#;

fn scenario(knobs: &[&(&str, &str, &str)]) -> Result<Scenario, String> {
    let mut text = format!("{SCENARIO}autoscaler:\n");
    for (key, value, _) in knobs {
        text.push_str(&format!("  {key}: {value}\n"));
    }
    Scenario::from_yaml(&text, "knobs.yaml", Path::new(".")).map_err(|e| e.to_string())
}

/// The settings `tidal cluster-autoscaler` gets from `flags` (no CIDR limit, as a scenario).
fn from_flags(knobs: &[&(&str, &str, &str)]) -> AutoscalerConfig {
    let mut argv = vec![
        "cluster-autoscaler",
        "--node-pools=pools.yaml",
        "--cluster-name=sim",
        "--cluster-cidr=none",
    ];
    argv.extend(knobs.iter().map(|(_, _, flag)| *flag));
    let args = tidal_cluster_autoscaler::cli::Args::try_parse_from(&argv).unwrap();
    args.autoscaler_config().unwrap()
}

#[test]
fn every_simulator_knob_is_listed_here() {
    // The loader names every field the section accepts when it meets an unknown one, upstream
    // spellings included (`scan-interval` for `scan_interval`, `expander` for `expanders`):
    // those aliases are the same knobs.
    let err = scenario(&[&("no_such_knob", "1", "")]).unwrap_err();
    let (_, allowed) = err
        .split_once("allowed here: ")
        .unwrap_or_else(|| panic!("the loader lists the fields: {err}"));
    let mut fields: Vec<&str> = allowed
        .lines()
        .next()
        .unwrap_or_default()
        .split(", ")
        .map(str::trim)
        .filter(|f| !f.contains('-') && *f != "expander")
        .collect();
    let mut listed: Vec<&str> = KNOBS.iter().map(|(key, _, _)| *key).collect();
    fields.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        fields, listed,
        "a knob of the scenario's autoscaler section needs a cluster-autoscaler flag and a row here"
    );
}

#[test]
fn each_simulator_knob_and_its_flag_give_the_same_settings() {
    let all: Vec<_> = KNOBS.iter().collect();
    for knobs in KNOBS.iter().map(|k| vec![k]).chain([all]) {
        let mut simulated = scenario(&knobs).unwrap().autoscaler;
        let deployed = from_flags(&knobs);
        assert_ne!(
            deployed,
            AutoscalerConfig::default(),
            "{knobs:?} changes something"
        );
        // The random expander's seed is the scenario's seed, not an autoscaler setting.
        simulated.seed = deployed.seed;
        assert_eq!(simulated, deployed, "{knobs:?}");
    }
}

/// Rows `| `--flag` | `ENV` |` of `page` that `command` needs: one line per flag the page
/// does not list with its env var.
fn missing_rows(command: &Command, page: &str) -> Vec<String> {
    command
        .get_arguments()
        .filter(|a| !a.is_positional() && !matches!(a.get_id().as_str(), "help" | "version"))
        .filter_map(|a| {
            let long = a.get_long()?;
            let env = a.get_env().and_then(|e| e.to_str()).unwrap_or("(none)");
            let row = format!("| `--{long}` | `{env}` |");
            (!page.contains(&row)).then_some(row)
        })
        .collect()
}

#[test]
fn the_component_pages_list_every_flag_with_its_env_var() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (page, command) in [
        (
            "docs/metrics-adapter.md",
            tidal_metrics_adapter::app::Args::augment_args(Command::new("metrics-adapter")),
        ),
        (
            "docs/cluster-autoscaler.md",
            tidal_cluster_autoscaler::cli::Args::augment_args(Command::new("cluster-autoscaler")),
        ),
    ] {
        let text = std::fs::read_to_string(root.join(page)).unwrap();
        let missing = missing_rows(&command, &text);
        assert!(missing.is_empty(), "{page} lacks:\n{}", missing.join("\n"));
        // The check is not vacuous: a page without the table misses every flag.
        assert!(!missing_rows(&command, "").is_empty());
    }
}

// The binary's global flags (src/main.rs) are not reachable as a type: read its long help.
#[test]
fn the_binarys_global_flags_have_tidal_env_vars() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidal"))
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let options = help.split("Options:").nth(1).unwrap();
    let mut flags = 0;
    for entry in options.split("\n      --").skip(1) {
        let flag = entry.split_whitespace().next().unwrap();
        let expected = format!("[env: TIDAL_{}=", flag.to_uppercase().replace('-', "_"));
        assert!(entry.contains(&expected), "--{flag}: {entry}");
        flags += 1;
    }
    assert!(flags >= 2, "{help}");
}
