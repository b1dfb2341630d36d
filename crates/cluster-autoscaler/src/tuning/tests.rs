#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    tuning: TuningArgs,
}

fn parse(argv: &[&str]) -> Result<TuningArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("x").chain(argv.iter().copied())).map(|c| c.tuning)
}

fn applied(argv: &[&str], cidr_limit: Option<u32>) -> Result<AutoscalerConfig, TuningError> {
    let mut config = AutoscalerConfig {
        cluster_node_limit: cidr_limit,
        ..AutoscalerConfig::default()
    };
    parse(argv).unwrap().apply(&mut config)?;
    Ok(config)
}

#[test]
fn the_defaults_are_the_autoscalers_defaults() {
    let config = applied(&[], None).unwrap();
    assert_eq!(config, AutoscalerConfig::default());
}

#[test]
fn upstream_names_set_the_autoscaler() {
    let config = applied(
        &[
            "--expander=least-waste,random",
            "--scale-down-enabled=false",
            "--scale-down-delay-after-add=3m",
            "--max-drain-time=20m",
            "--max-pods=58",
            "--initial-node-group-backoff-duration=1m",
            "--max-node-group-backoff-duration=10m",
            "--node-group-backoff-reset-timeout=1h",
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        config.expanders,
        [ExpanderKind::LeastWaste, ExpanderKind::Random]
    );
    assert!(!config.scale_down_enabled);
    assert_eq!(config.scale_down_delay_after_add, Duration::from_secs(180));
    assert_eq!(config.max_drain_time, Duration::from_secs(1200));
    assert_eq!(config.template.max_pods, 58);
    assert_eq!(
        config.backoff,
        BackoffConfig::try_new(
            Duration::from_secs(60),
            Duration::from_secs(600),
            Duration::from_secs(3600)
        )
        .unwrap()
    );
    // The bare form means true, as upstream.
    assert!(
        applied(&["--scale-down-enabled"], None)
            .unwrap()
            .scale_down_enabled
    );
}

#[test]
fn max_nodes_total_only_lowers_the_cidr_limit() {
    let limit = |argv: &[&str], cidr| applied(argv, cidr).unwrap().cluster_node_limit;
    assert_eq!(limit(&["--max-nodes-total=100"], Some(256)), Some(100));
    assert_eq!(limit(&["--max-nodes-total=1000"], Some(256)), Some(256));
    assert_eq!(limit(&["--max-nodes-total=100"], None), Some(100));
    assert_eq!(limit(&["--max-nodes-total=0"], Some(256)), Some(256));
    assert_eq!(limit(&[], None), None);
}

#[test]
fn unsupported_upstream_values_are_refused_by_name() {
    for (argv, named) in [
        (
            &["--balance-similar-node-groups=false"][..],
            "--balance-similar-node-groups",
        ),
        (
            &["--skip-nodes-with-local-storage=false"],
            "--skip-nodes-with-local-storage",
        ),
        (
            &["--initial-node-group-backoff-duration=1h"],
            "--max-node-group-backoff-duration",
        ),
        (&["--expander="], "--expander"),
    ] {
        let err = match parse(argv) {
            Ok(tuning) => tuning
                .apply(&mut AutoscalerConfig::default())
                .unwrap_err()
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(named), "{argv:?}: {err}");
    }
    // Upstream's values that match what Tidal does are accepted.
    assert!(
        applied(
            &[
                "--balance-similar-node-groups=true",
                "--skip-nodes-with-local-storage=true"
            ],
            None
        )
        .is_ok()
    );
    // Expanders Tidal does not have are refused by clap, which lists the ones it has.
    let err = parse(&["--expander=most-pods"]).err().unwrap().to_string();
    assert!(
        err.contains("most-pods") && err.contains("least-waste"),
        "{err}"
    );
}
