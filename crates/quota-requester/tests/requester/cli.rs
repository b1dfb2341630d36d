//! The command: pool files (several summed, a bad one stopping everything), flags, the
//! Pushgateway push.

use std::io::Write as _;

use clap::Parser;
use tidal_cluster_autoscaler::NodePools;
use tidal_quota_requester::cli::{self, Args};
use tidal_quota_requester::{Action, pools, pushgateway};
use tidal_test_support::Pushgateway;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

const CLUSTER_A: &str = "node_pools:\n- name: default\n  instance_types: [m6i.2xlarge]\n  max_size: 60\n  zones: [eu-west-1a, eu-west-1b]\n";
const CLUSTER_B: &str = "node_pools:\n- name: default\n  instance_types: [m5.4xlarge]\n  max_size: 10\n- name: spot\n  instance_types: [c5.2xlarge]\n  spot: true\n  max_size: 4\n";

#[tokio::test]
async fn several_clusters_files_are_summed() {
    let (a, b) = (file(CLUSTER_A), file(CLUSTER_B));
    let demands = pools::load(&[a.path(), b.path()]).unwrap();
    assert_eq!(demands.len(), 3);
    assert_eq!(demands[0].regions, BTreeSet::from(["eu-west-1".to_owned()]));
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 5.0);
    world.quotas.set_quota("ec2", SPOT, 5.0);
    let report = world.run(&demands).await;
    let od = row(&report, ON_DEMAND);
    assert_eq!(od.pools_vcpus, 480 + 160);
    assert_eq!((od.need, od.requested), (768, Some(768)));
    assert_eq!(row(&report, SPOT).pools_vcpus, 32);
}

#[tokio::test]
async fn a_bad_pool_file_gives_the_cluster_autoscalers_error_and_files_nothing() {
    let good = file(CLUSTER_A);
    let bad = file(
        "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n  colour: blue\n",
    );
    let quotas = ServiceQuotas::start(REGION).await.unwrap();
    let endpoint = quotas.endpoint_url();
    let argv: [&std::ffi::OsStr; 9] = [
        "quota-requester".as_ref(),
        "--node-pools".as_ref(),
        good.path().as_os_str(),
        "--node-pools".as_ref(),
        bad.path().as_os_str(),
        "--aws-region".as_ref(),
        REGION.as_ref(),
        "--aws-endpoint-url".as_ref(),
        endpoint.as_ref(),
    ];
    let cli = Cli::try_parse_from(argv).unwrap();
    let err = cli::run(cli.args).await.unwrap_err();
    let origin = bad.path().display().to_string();
    let text = std::fs::read_to_string(bad.path()).unwrap();
    let expected = NodePools::from_yaml(&text, &origin)
        .unwrap_err()
        .to_string();
    assert_eq!(err.to_string(), expected);
    assert!(expected.starts_with(&format!("{origin}:5:")), "{expected}");
    assert!(
        expected.contains("node_pools[0].colour: unknown field `colour`"),
        "{expected}"
    );
    for op in ["GetServiceQuota", "RequestServiceQuotaIncrease"] {
        assert_eq!(quotas.calls(op), 0, "{op}");
    }
}

#[test]
fn flags_have_documented_defaults_and_bad_values_are_refused() {
    let cli = Cli::try_parse_from(["q", "--node-pools", "a.yaml,b.yaml"]).unwrap();
    let a = cli.args;
    assert_eq!(a.node_pools.len(), 2);
    assert_eq!((a.headroom_percent, a.request_step), (20, 32));
    assert_eq!(a.quiet_period, 7 * DAY);
    assert!(!a.dry_run && a.support_case_allowed && !a.support_case_fallback);
    assert_eq!(a.output, cli::OutputFormat::Table);
    assert!(
        Cli::try_parse_from(["q"]).is_err(),
        "--node-pools is required"
    );
    assert!(Cli::try_parse_from(["q", "--node-pools", "a", "--quiet-period", "soon"]).is_err());
}

#[tokio::test]
async fn a_zero_step_and_a_bad_pushgateway_url_stop_before_any_call() {
    let pools = file(CLUSTER_A);
    for extra in [
        ["--request-step", "0"],
        ["--pushgateway-url", "pushgateway:9091"],
    ] {
        let mut argv: Vec<std::ffi::OsString> =
            vec!["q".into(), "--node-pools".into(), pools.path().into()];
        argv.extend(extra.iter().map(Into::into));
        let cli = Cli::try_parse_from(argv).unwrap();
        let err = cli::run(cli.args).await.unwrap_err();
        assert!(format!("{err:#}").contains(extra[0]), "{err:#}");
    }
}

#[tokio::test]
async fn the_summary_is_pushed_to_the_pushgateway() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 5.0);
    world.quotas.set_quota("ec2", SPOT, 5.0);
    let report = world.run(&shop_pools()).await;
    let gateway = Pushgateway::start().await.unwrap();
    pushgateway::push(
        &gateway.url(),
        "tidal-quota-requester",
        &report,
        world.clock.now(),
    )
    .await
    .unwrap();
    let pushes = gateway.pushes();
    assert_eq!(pushes.len(), 1);
    let push = &pushes[0];
    assert_eq!(push.method, "PUT");
    assert_eq!(
        push.path,
        "/metrics/job/tidal-quota-requester/region/eu-west-1"
    );
    assert!(push.content_type.starts_with("text/plain"));
    for line in [
        "tidal_quota_requester_need_vcpus{region=\"eu-west-1\",quota=\"L-1216C47A\"} 576.0",
        "tidal_quota_requester_quota_vcpus{region=\"eu-west-1\",quota=\"L-34B43A08\"} 5.0",
        "tidal_quota_requester_action{region=\"eu-west-1\",quota=\"L-1216C47A\",action=\"requested\"} 1",
        "tidal_quota_requester_action{region=\"eu-west-1\",quota=\"L-1216C47A\",action=\"wait\"} 0",
        "tidal_quota_requester_errors 0",
    ] {
        assert!(
            push.body.contains(line),
            "missing {line:?} in\n{}",
            push.body
        );
    }
    assert_eq!(row(&report, ON_DEMAND).action, Action::Requested);
    // A Pushgateway that is down is an error naming the URL.
    drop(gateway);
    let err = pushgateway::push("http://127.0.0.1:9", "job", &report, world.clock.now())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("pushing to http://127.0.0.1:9/metrics/job/job/region/eu-west-1"),
        "{err}"
    );
}

#[test]
fn the_cronjobs_args_parse_and_it_mounts_the_cluster_autoscalers_pool_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let read = |p: &str| -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(root.join(p)).unwrap()).unwrap()
    };
    let cronjob = read("quota-requester/cronjob.yaml");
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "quota-requester");
    // `--log-format` is the binary's global flag, not the subcommand's.
    let own: Vec<&str> = args[1..]
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--log-format"))
        .collect();
    let cli = Cli::try_parse_from(std::iter::once("q").chain(own)).unwrap();
    assert_eq!(
        cli.args.node_pools,
        [std::path::PathBuf::from("/etc/tidal/node-pools.yaml")]
    );
    let configmap = read("cluster-autoscaler/node-pools.yaml");
    assert_eq!(
        pod["volumes"][0]["configMap"]["name"],
        configmap["metadata"]["name"]
    );
    assert!(configmap["data"]["node-pools.yaml"].is_string());
}
