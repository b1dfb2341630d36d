#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::{CommandFactory, Parser};

use super::*;

fn parse(extra: &[&str]) -> Args {
    let mut argv = vec!["vpa"];
    argv.extend_from_slice(extra);
    Args::try_parse_from(argv).unwrap()
}

#[test]
fn defaults_are_upstreams_where_it_has_one() {
    let a = parse(&[]);
    assert!(a.command.is_none());
    let c = a.run.loop_config().unwrap();
    assert_eq!(c.recommender_name, "tidal");
    assert!(!c.handle_unnamed);
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.workers, 10);
    assert_eq!(c.checkpoint_budget, Duration::from_secs(60));
    assert_eq!(c.gc_interval, Duration::from_secs(600));
    assert_eq!(c.history_length, Duration::from_secs(8 * 24 * 3600));
    assert_eq!(c.recommendation.pod_min_cpu_millis, 25.0);
    assert_eq!(
        c.recommendation.pod_min_memory_bytes,
        250.0 * 1024.0 * 1024.0
    );
    assert_eq!(a.run.usage_source, UsageSourceKind::Prometheus);
    assert_eq!(a.run.admin_port, 8942);
    let q = a.run.prometheus_queries().unwrap();
    assert_eq!(q.history_step, Duration::from_secs(3600));
    assert!(q.cpu.contains("container_cpu_usage_seconds_total"));
}

#[test]
fn every_flag_has_a_tidal_env_var() {
    let command = Args::command();
    for arg in command.get_arguments() {
        if arg.get_id() == "help" || arg.get_id() == "version" {
            continue;
        }
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        let env = env.unwrap_or_else(|| panic!("--{} has no env var", arg.get_id()));
        assert!(
            env.starts_with("TIDAL_VPA_") || env == "TIDAL_POD_NAME",
            "--{}: {env}",
            arg.get_id()
        );
    }
}

#[test]
fn the_crds_subcommand_parses() {
    assert!(matches!(parse(&["crds"]).command, Some(VpaCommand::Crds)));
}

#[test]
fn bad_flags_are_named() {
    for (argv, flag) in [
        (vec!["--workers", "0"], "--workers"),
        (vec!["--recommender-name", " "], "--recommender-name"),
        (
            vec!["--status-change-threshold", "1.5"],
            "--status-change-threshold",
        ),
        (vec!["--history-step", "10s"], "--history-step"),
        (vec!["--memory-rounding-mib=-1"], "--memory-rounding-mib"),
    ] {
        let err = parse(&argv).run.loop_config().unwrap_err();
        assert!(err.to_string().contains(flag), "{err}");
    }
    let err = parse(&["--prometheus-cpu-query", "up"])
        .run
        .prometheus_queries()
        .unwrap_err();
    assert!(err.to_string().contains("$window"), "{err}");
}

// `run` must stop on a missing Prometheus URL before it builds any client.
#[tokio::test]
async fn a_missing_prometheus_url_stops_run_before_any_network_call() {
    let err = run(parse(&[])).await.unwrap_err();
    assert!(format!("{err:#}").contains("--prometheus-url"), "{err:#}");
}

#[test]
fn the_deployed_flags_are_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/vpa/deployment.yaml"
    );
    let deployment: k8s_openapi::api::apps::v1::Deployment =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let argv = spec.template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(argv[0], "vpa", "the subcommand");
    let args = Args::try_parse_from(&argv).unwrap();
    assert!(args.run.loop_config().is_ok());
    assert!(args.run.prometheus_queries().is_ok());
    assert_eq!(args.run.lease_name, "tidal-vpa");
}
