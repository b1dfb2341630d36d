//! Flags: defaults, env names, validation that names the flag before any network call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::{CommandFactory, Parser};
use tidal_core::Timestamp;
use tidal_core::control_plane::{Decision, Reason, Series, Signals};
use tidal_test_support::MotoServer;

use super::*;
use crate::autoscaler::Outcome;
use crate::ports::ActuatorState;

fn parse(extra: &[&str]) -> Args {
    let mut argv = vec!["cp-autoscaler", "--prometheus-url", "http://127.0.0.1:9"];
    argv.extend_from_slice(extra);
    Args::try_parse_from(argv).unwrap()
}

fn eks(extra: &[&str]) -> Flags {
    let mut all = vec!["--mode", "eks", "--cluster-name", "prod"];
    all.extend_from_slice(extra);
    parse(&all).flags
}

fn self_managed(extra: &[&str]) -> Flags {
    let mut all = vec!["--mode", "self-managed", "--asg-name", "cp"];
    all.extend_from_slice(extra);
    parse(&all).flags
}

#[test]
fn every_flag_has_an_env_var() {
    let cmd = Args::command();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") {
            continue;
        }
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        assert!(env.is_some(), "--{id} has no env var");
    }
}

#[test]
fn defaults_follow_the_issue() {
    let (d, backoff) = self_managed(&[]).validate().unwrap();
    assert!(
        (d.high_threshold - 2.0 / 3.0).abs() < 1e-9,
        "(n−1)/n with 3 nodes"
    );
    assert_eq!(
        (d.up_window, d.down_window),
        (Duration::from_secs(900), Duration::from_secs(7200))
    );
    assert_eq!(
        (d.up_cooldown, d.down_cooldown),
        (Duration::from_secs(1800), Duration::from_secs(7200))
    );
    assert_eq!(d.node_floor, NodeFloor::kube_up());
    assert_eq!(backoff.initial(), Duration::from_secs(1800));
    let f = self_managed(&[]);
    assert_eq!(
        (f.min_healthy, f.replacement_timeout),
        (2, Duration::from_secs(900))
    );
    let q = f.queries();
    assert!(q.cpu.unwrap().contains(r#"role="control-plane""#));
    assert!(q.seats.is_none() && q.latency_p99.is_none());

    let (d, _) = eks(&[]).validate().unwrap();
    assert_eq!(d.high_threshold, 0.8);
    assert_eq!(d.node_floor, NodeFloor::none());
    let q = eks(&["--latency-p99-high", "1.5"]).queries();
    assert_eq!(q.seats.as_deref(), Some(Queries::DEFAULT_SEATS));
    assert!(q.latency_p99.is_some() && q.cpu.is_none());
    assert_eq!(
        self_managed(&["--control-plane-nodes", "5"])
            .decision()
            .unwrap()
            .high_threshold,
        0.8
    );
}

#[test]
fn bad_flags_are_named() {
    let cases: [(Flags, &str); 7] = [
        (parse(&["--mode", "eks"]).flags, "--cluster-name"),
        (
            parse(&["--mode", "self-managed", "--asg-name", " "]).flags,
            "--asg-name",
        ),
        (eks(&["--high-threshold", "1.5"]), "--high-threshold"),
        (eks(&["--down-margin", "2"]), "--down-margin"),
        (
            eks(&["--backoff-initial", "2h", "--backoff-max", "1h"]),
            "--backoff-max",
        ),
        (eks(&["--interval", "0s"]), "--interval"),
        (self_managed(&["--min-healthy", "0"]), "--min-healthy"),
    ];
    for (flags, name) in cases {
        let err = flags.validate().unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn plan_takes_the_same_flags() {
    let args = Args::try_parse_from([
        "cp-autoscaler",
        "plan",
        "--mode",
        "eks",
        "--cluster-name",
        "prod",
        "--prometheus-url",
        "http://127.0.0.1:9",
    ])
    .unwrap();
    let Some(Command::Plan(flags)) = args.command else {
        panic!("{args:?}")
    };
    assert_eq!(flags.cluster_name.as_deref(), Some("prod"));
}

/// Offline AWS config: the endpoint is a closed loopback port, so any call would fail loudly.
async fn offline_sdk() -> aws_config::SdkConfig {
    tidal_runtime::aws::sdk_config(Some("us-east-1".into()), Some("http://127.0.0.1:9".into()))
        .await
}

#[tokio::test]
async fn a_size_off_the_tier_list_is_named_before_any_call() {
    let err = settings(&eks(&["--max-size", "tier-16xl"]), &offline_sdk().await)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--max-size"), "{err:#}");
    let err = settings(
        &eks(&["--min-size", "tier-4xl", "--max-size", "tier-xl"]),
        &offline_sdk().await,
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("--min-size"), "{err:#}");
    let ok = settings(&eks(&["--min-size", "tier-xl"]), &offline_sdk().await)
        .await
        .unwrap();
    assert_eq!(ok.bounds.min(), 1);
}

#[tokio::test]
async fn run_stops_on_bad_flags_before_any_network_call() {
    let args = parse(&[
        "--mode",
        "eks",
        "--cluster-name",
        "prod",
        "--high-threshold",
        "0",
    ]);
    let err = run(args).await.unwrap_err();
    assert!(format!("{err:#}").contains("--high-threshold"), "{err:#}");
}

#[tokio::test]
async fn families_that_leave_an_empty_ladder_and_sizes_off_it_are_named() {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
    let sdk = moto.sdk_config("us-east-1").await;
    let err = settings(&self_managed(&["--families", "t3"]), &sdk)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--families"), "{err:#}");
    let err = settings(
        &self_managed(&["--families", "m7i", "--min-size", "m6a.large"]),
        &sdk,
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("--min-size"), "{err:#}");
    let ok = settings(
        &self_managed(&["--families", "m7i", "--max-size", "m7i.8xlarge"]),
        &sdk,
    )
    .await
    .unwrap();
    assert_eq!(ok.ladder.rungs()[ok.bounds.max()].name, "m7i.8xlarge");
}

#[tokio::test]
async fn the_plan_says_what_and_why() {
    let settings = settings(&eks(&[]), &offline_sdk().await).await.unwrap();
    let now = Timestamp::from_secs(1_000_000);
    let outcome = Outcome {
        state: ActuatorState::idle("tier-xl"),
        decision: Some(Decision {
            current: 1,
            target: 2,
            reason: Reason::AboveHigh {
                signal: tidal_core::control_plane::Signal::Seats,
                utilisation: 0.88,
            },
        }),
        target: Some("tier-2xl".into()),
        act: None,
        nodes: Some(420),
        signals: Signals {
            seats: Series::new([(now, 1500.0)]),
            ..Signals::default()
        },
        read_errors: vec![],
    };
    let text = plan::render(&outcome, &settings);
    assert!(text.contains("current:  tier-xl"), "{text}");
    assert!(
        text.contains("seats:    1500.00 (88% of the current size)"),
        "{text}"
    );
    assert!(text.contains("decision: up tier-xl -> tier-2xl"), "{text}");
    assert!(
        text.contains("why:      seats at 88% is above the high threshold"),
        "{text}"
    );
    assert!(text.contains("nodes:    420"), "{text}");
}

#[test]
fn the_deployed_flags_are_valid() {
    let path = format!(
        "{}/../../deploy/cp-autoscaler/deployment.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let deployment: k8s_openapi::api::apps::v1::Deployment =
        serde_yaml_ng::from_str(&text).unwrap();
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let container = &spec.template.spec.unwrap().containers[0];
    let mut argv = container.args.clone().unwrap();
    assert_eq!(argv[0], "cp-autoscaler", "the subcommand");
    // Cluster name, region and Prometheus come from the tidal-settings ConfigMap.
    let env = container.env.clone().unwrap_or_default();
    for (var, key) in [
        ("TIDAL_CLUSTER_NAME", "cluster-name"),
        ("TIDAL_AWS_REGION", "aws-region"),
        ("TIDAL_PROMETHEUS_URL", "prometheus-url"),
    ] {
        let from = env
            .iter()
            .find(|e| e.name == var)
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.config_map_key_ref.as_ref())
            .map(|k| (k.name.as_str(), k.key.as_str()));
        assert_eq!(from, Some(("tidal-settings", key)), "{var}");
    }
    argv.push("--cluster-name=example".to_owned());
    argv.push("--prometheus-url=http://prometheus.monitoring.svc:9090".to_owned());
    let args = Args::try_parse_from(&argv).unwrap();
    args.flags.validate().unwrap();
    assert_eq!(args.flags.admin_port, 8086);
}
