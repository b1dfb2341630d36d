#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use clap::Parser;
use std::io::Write;

/// Parses `extra`, adding `--node-pools` and `--cluster-name` when it does not give them.
fn args(extra: &[&str]) -> Args {
    let mut argv = vec!["cluster-autoscaler"];
    for (flag, default) in [
        ("--node-pools", "/nonexistent.yaml"),
        ("--cluster-name", "prod"),
    ] {
        if !extra.contains(&flag) {
            argv.extend([flag, default]);
        }
    }
    argv.extend_from_slice(extra);
    Args::try_parse_from(argv).unwrap()
}

#[test]
fn defaults_follow_upstream_and_the_spec() {
    let a = args(&[]);
    assert_eq!(a.scan_interval, Duration::from_secs(10));
    assert_eq!(a.admin_port, 8085);
    assert_eq!(a.scale_down_unneeded_time, Duration::from_secs(600));
    assert_eq!(a.max_node_provision_time, Duration::from_secs(420));
    let c = a.autoscaler_config().unwrap();
    assert_eq!(c.scale_down_utilization_threshold, 0.5);
    assert_eq!(c.max_scale_down_parallelism, 10);
    assert_eq!(
        c.cluster_node_limit,
        Some(256),
        "10.0.0.0/16 split into /24 blocks"
    );
    assert_eq!(c.template.max_pods, 110);
    assert!(!c.dry_run);
    assert_eq!(c.scale_down_unready_time, Duration::from_secs(1200));
    assert_eq!(
        (c.max_total_unready_percentage, c.ok_total_unready_count),
        (45.0, 3)
    );
}

#[test]
fn cidr_flags_set_the_node_limit_and_max_pods() {
    let c = args(&[
        "--cluster-cidr",
        "100.64.0.0/14",
        "--node-cidr-mask-size",
        "26",
    ])
    .autoscaler_config()
    .unwrap();
    assert_eq!(c.cluster_node_limit, Some(4096));
    assert_eq!(c.template.max_pods, 32);
    let c = args(&["--cluster-cidr", "none"])
        .autoscaler_config()
        .unwrap();
    assert_eq!(c.cluster_node_limit, None);
    for bad in ["10.0.0.0", "10.0.0/16", "10.0.0.0/40", "ten/8"] {
        let err = args(&["--cluster-cidr", bad])
            .autoscaler_config()
            .unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn durations_are_humantime() {
    let a = args(&[
        "--scan-interval",
        "30s",
        "--scale-down-unneeded-time",
        "1h 5m",
        "--dry-run",
    ]);
    assert_eq!(a.scan_interval, Duration::from_secs(30));
    assert_eq!(a.scale_down_unneeded_time, Duration::from_secs(3900));
    assert!(a.autoscaler_config().unwrap().dry_run);
    assert!(
        Args::try_parse_from([
            "x",
            "--node-pools",
            "f",
            "--cluster-name",
            "c",
            "--scan-interval",
            "10"
        ])
        .is_err()
    );
}

// `run` must fail on the pool file before it builds any client: with no kubeconfig and no
// AWS here, reaching the network would give a different error (or hang), not this one.
#[tokio::test]
async fn a_broken_pool_file_stops_run_before_any_network_call() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n  colour: blue\n").unwrap();
    let path = file.path().display().to_string();
    let a = args(&["--node-pools", &path]);
    let err = run(a).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains(&path), "names the file: {text}");
    assert!(text.contains(":5:"), "names the line: {text}");
    assert!(text.contains("colour"), "names the field: {text}");
}

#[tokio::test]
async fn a_missing_pool_file_is_named() {
    let err = run(args(&["--node-pools", "/nonexistent/pools.yaml"]))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/pools.yaml"),
        "{err:#}"
    );
}

/// A node-pool file with one valid pool (deleted when dropped).
fn valid_pool_file() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n"
    )
    .unwrap();
    file
}

#[test]
fn invalid_settings_fail_load() {
    let file = valid_pool_file();
    let path = file.path().display().to_string();
    assert!(load(&args(&["--node-pools", &path])).is_ok());
    let err = load(&args(&[
        "--node-pools",
        &path,
        "--scale-down-utilization-threshold",
        "1.5",
    ]))
    .unwrap_err();
    assert!(format!("{err:#}").contains("1.5"), "{err:#}");
    let err = load(&args(&["--node-pools", &path, "--cluster-name", " "])).unwrap_err();
    assert!(format!("{err:#}").contains("--cluster-name"), "{err:#}");
    // A duration that parses but would overflow the loop's arithmetic.
    let err = load(&args(&[
        "--node-pools",
        &path,
        "--scan-interval",
        "500000000000y",
    ]))
    .unwrap_err();
    assert!(format!("{err:#}").contains("scan_interval"), "{err:#}");
}

#[test]
fn election_needs_the_pod_name_and_a_dry_run_takes_its_own_lease() {
    let err = args(&[]).election().unwrap_err();
    assert!(err.to_string().contains("TIDAL_POD_NAME"), "{err}");
    let err = args(&["--pod-name", " "]).election().unwrap_err();
    assert!(err.to_string().contains("stable identity"), "{err}");
    assert_eq!(
        args(&["--pod-name", "ca-0"]).election().unwrap(),
        Some(Election {
            lease_name: "tidal-cluster-autoscaler".into(),
            identity: "ca-0".into()
        })
    );
    assert_eq!(
        args(&["--pod-name", "ca-0", "--dry-run"])
            .election()
            .unwrap(),
        Some(Election {
            lease_name: "tidal-cluster-autoscaler-dry-run".into(),
            identity: "ca-0".into()
        })
    );
    assert_eq!(args(&["--no-leader-election"]).election().unwrap(), None);
}

// Without a pod name `run` stops before any network call (no kubeconfig or AWS here).
#[tokio::test]
async fn run_refuses_to_start_without_a_stable_identity() {
    let file = valid_pool_file();
    let path = file.path().display().to_string();
    let err = run(args(&["--node-pools", &path])).await.unwrap_err();
    assert!(format!("{err:#}").contains("stable identity"), "{err:#}");
}

fn deploy_file(name: &str) -> String {
    let path = format!(
        "{}/../../deploy/cluster-autoscaler/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_deployed_example_pools_and_flags_are_valid() {
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_yaml_ng::from_str(&deploy_file("node-pools.yaml")).unwrap();
    let pools = cm.data.unwrap()["node-pools.yaml"].clone();
    let pools = NodePools::from_yaml(&pools, "deploy/cluster-autoscaler/node-pools.yaml").unwrap();
    assert_eq!(pools.pools().len(), 4);

    let deployment: k8s_openapi::api::apps::v1::Deployment =
        serde_yaml_ng::from_str(&deploy_file("deployment.yaml")).unwrap();
    let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
    let mut argv = container.args.clone().unwrap();
    assert_eq!(argv[0], "cluster-autoscaler", "the subcommand");
    // The cluster name comes from the tidal-settings ConfigMap (TIDAL_CLUSTER_NAME).
    argv.push("--cluster-name=example".to_owned());
    let parsed = Args::try_parse_from(&argv).unwrap();
    assert_eq!(
        parsed.node_pools,
        PathBuf::from("/etc/tidal/node-pools.yaml")
    );
    assert!(parsed.autoscaler_config().is_ok());
    let env = container.env.clone().unwrap_or_default();
    let cluster_name = env.iter().find(|e| e.name == "TIDAL_CLUSTER_NAME");
    let key = cluster_name
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.config_map_key_ref.as_ref())
        .map(|k| (k.name.as_str(), k.key.as_str()));
    assert_eq!(key, Some(("tidal-settings", "cluster-name")));
    // The identity comes from the downward API.
    let pod_name = env.iter().find(|e| e.name == "TIDAL_POD_NAME");
    let field = pod_name
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.as_str());
    assert_eq!(
        field,
        Some("metadata.name"),
        "TIDAL_POD_NAME from metadata.name"
    );
}

#[test]
fn the_iam_policy_allows_writes_only_to_this_clusters_pool_groups() {
    use crate::node_pool::{TAG_ENABLED, TAG_NODE_POOL, cluster_tag};
    // The policy names the cluster as CLUSTER_NAME, which the installer replaces with the
    // tidal-settings cluster-name (docs/deploy.md).
    let cluster = "CLUSTER_NAME";
    let policy: serde_json::Value = serde_json::from_str(&deploy_file("iam-policy.json")).unwrap();
    let mut writes = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        let actions: Vec<&str> = statement["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        if actions.iter().all(|a| a.contains(":Describe")) {
            continue;
        }
        // The discovery tags (`pool_from_tags`): enabled, this cluster's, and a pool.
        for tag in [
            TAG_ENABLED.to_owned(),
            cluster_tag(cluster),
            TAG_NODE_POOL.to_owned(),
        ] {
            assert_eq!(
                statement["Condition"]["Null"][format!("aws:ResourceTag/{tag}")],
                "false",
                "{actions:?} must require the tag {tag}"
            );
        }
        writes.extend(actions);
    }
    writes.sort_unstable();
    assert_eq!(
        writes,
        [
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup"
        ]
    );
}
