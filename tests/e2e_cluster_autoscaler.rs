//! `tidal cluster-autoscaler` end to end: the real binary, with AWS served by moto_server and
//! Kubernetes by the in-memory API stand-in of tidal-test-support, both on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{Tidal, metrics};
use serde_json::{Value, json};
use tidal_test_support::asg::{self, AsgSpec, create_launch_template, discovery_tags};
use tidal_test_support::{KubeApi, MotoServer, free_port};

const REGION: &str = "us-east-1";
const ZONE: &str = "us-east-1a";
const CLUSTER: &str = "e2e";
const ASG: &str = "e2e-default-a";

/// One ASG of pool `default` in one zone, empty, tagged for cluster `e2e`.
fn asg_spec() -> AsgSpec<'static> {
    AsgSpec {
        name: ASG,
        zones: &[ZONE],
        min_size: 0,
        max_size: 10,
        desired: 0,
        tags: discovery_tags(CLUSTER, "default"),
    }
}

async fn desired_capacity(autoscaling: &aws_sdk_autoscaling::Client) -> i32 {
    let out = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(ASG)
        .send()
        .await
        .unwrap();
    out.auto_scaling_groups()[0].desired_capacity().unwrap()
}

/// A pod of a ReplicaSet that the scheduler could not place: 500m CPU and 1 GiB memory.
fn pending_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "web-1", "namespace": "default", "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                "uid": "00000000-0000-4000-8000-00000000beef", "controller": true}],
        },
        "spec": {"containers": [{"name": "web", "image": "nginx",
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/0 nodes are available",
            "lastTransitionTime": "2026-11-21T00:00:00Z"}]},
    })
}

fn write_pools(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("node-pools.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `tidal cluster-autoscaler` with the kubeconfig, static AWS test credentials and `extra`
/// flags; loops every second, no leader election.
struct Autoscaler {
    process: Tidal,
    admin_port: u16,
}

impl Autoscaler {
    fn spawn(dir: &Path, kubeconfig: &Path, extra: &[&str]) -> Self {
        let admin_port = free_port().unwrap();
        let admin = admin_port.to_string();
        let flags = [
            "cluster-autoscaler",
            "--cluster-name",
            CLUSTER,
            "--aws-region",
            REGION,
            "--scan-interval",
            "1s",
            "--no-leader-election",
            "--admin-port",
            &admin,
        ];
        let args: Vec<&OsStr> = flags.iter().chain(extra).map(OsStr::new).collect();
        let env: [(&str, &OsStr); 5] = [
            ("KUBECONFIG", kubeconfig.as_os_str()),
            ("TIDAL_POD_NAME", OsStr::new("tidal-cluster-autoscaler-e2e")),
            ("AWS_ACCESS_KEY_ID", OsStr::new("testing")),
            ("AWS_SECRET_ACCESS_KEY", OsStr::new("testing")),
            ("AWS_EC2_METADATA_DISABLED", OsStr::new("true")),
        ];
        let level = "info,tidal_cluster_autoscaler=debug";
        Self {
            process: Tidal::spawn("autoscaler", dir, level, &args, &env),
            admin_port,
        }
    }
}

const SCALE_UPS: &str = "tidal_cluster_autoscaler_scale_ups_total";
const LOOPS: &str = "tidal_cluster_autoscaler_loop_duration_seconds_count";

/// The sum of a metric's samples (every label set), `None` if it has none.
fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[tokio::test]
async fn a_pending_pod_scales_up_its_pools_group_with_status_event_and_metrics() {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("this test needs moto_server: {e}"));
    let sdk = moto.sdk_config(REGION).await;
    let aws = aws_sdk_autoscaling::Client::new(&sdk);
    create_launch_template(&sdk, "e2e-default").await.unwrap();
    asg::create_asg(&sdk, "e2e-default", asg_spec())
        .await
        .unwrap();
    let api = KubeApi::start().await.unwrap();
    api.put(pending_pod()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path()).unwrap();
    let pools = write_pools(
        dir.path(),
        "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n",
    );
    let pools = pools.to_str().unwrap();
    let endpoint = moto.endpoint_url();
    let mut ca = Autoscaler::spawn(
        dir.path(),
        &kubeconfig,
        &["--node-pools", pools, "--aws-endpoint-url", &endpoint],
    );

    let aws_ref = &aws;
    ca.process
        .eventually("the ASG's desired capacity becomes 1", move || async move {
            (desired_capacity(aws_ref).await == 1).then_some(())
        })
        .await;

    let api_ref = &api;
    let status = ca
        .process
        .eventually(
            "the status ConfigMap shows the group's new size",
            move || async move {
                let cm = api_ref.get(
                    "v1",
                    "ConfigMap",
                    Some("kube-system"),
                    "cluster-autoscaler-status",
                )?;
                let text = cm["data"]["status"].as_str()?.to_owned();
                text.contains("desired=1").then_some(text)
            },
        )
        .await;
    assert!(
        status.contains(&format!("default/{ZONE} (ASG {ASG})")),
        "names the group and its ASG: {status}"
    );

    let event = ca
        .process
        .eventually("a TriggeredScaleUp event on the pod", move || async move {
            api_ref
                .list("events.k8s.io/v1", "Event", Some("default"))
                .into_iter()
                .find(|e| e["reason"] == "TriggeredScaleUp")
        })
        .await;
    assert_eq!(event["regarding"]["kind"], "Pod");
    assert_eq!(event["regarding"]["name"], "web-1");
    assert_eq!(event["type"], "Normal");
    assert!(
        event["note"]
            .as_str()
            .is_some_and(|n| n.contains(&format!("default/{ZONE} 0->1"))),
        "the note names the group and the step: {event}"
    );

    let port = ca.admin_port;
    let text = metrics(port).await.expect("/metrics answers");
    assert_eq!(
        metric_sum(&text, SCALE_UPS),
        Some(1.0),
        "one scale-up: {text}"
    );
    let labelled = format!("{SCALE_UPS}{{pool=\"default\",zone=\"{ZONE}\",");
    assert!(text.contains(&labelled), "labelled with the group: {text}");
    let loops_then = metric_sum(&text, LOOPS).expect("loops are counted");

    // Three more loops later the pod is still pending, but the requested node is upcoming: no
    // second scale-up.
    let text = ca
        .process
        .eventually("three more loops", move || async move {
            let text = metrics(port).await?;
            (metric_sum(&text, LOOPS)? >= loops_then + 3.0).then_some(text)
        })
        .await;
    assert_eq!(metric_sum(&text, SCALE_UPS), Some(1.0), "{text}");
    assert_eq!(desired_capacity(&aws).await, 1);
    ca.process.assert_running();
    common::assert_requests_granted(&api, tidal_cluster_autoscaler::access::API_ACCESS);
}

#[tokio::test]
async fn a_bad_node_pool_file_stops_the_binary_before_any_kubernetes_request() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path()).unwrap();
    let pools = write_pools(
        dir.path(),
        "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: ten\n",
    );
    // Nothing listens there: should the binary reach AWS anyway, it stays on loopback.
    let nowhere = format!("http://127.0.0.1:{}", free_port().unwrap());
    let mut ca = Autoscaler::spawn(
        dir.path(),
        &kubeconfig,
        &[
            "--node-pools",
            pools.to_str().unwrap(),
            "--aws-endpoint-url",
            &nowhere,
        ],
    );
    let status = ca.process.exit_status().await;
    let log = ca.process.log();
    assert!(!status.success(), "{status}: {log}");
    assert!(
        log.contains(pools.to_str().unwrap()),
        "names the file: {log}"
    );
    assert!(log.contains(":4:"), "names the line: {log}");
    assert!(log.contains("max_size"), "names the field: {log}");
    assert_eq!(
        api.requests(),
        Vec::<String>::new(),
        "no request reached the API"
    );
}
