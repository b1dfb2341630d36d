//! `tidal quota-requester` end to end: the binary against moto (EC2 instance types), the
//! Service Quotas stand-in and a Pushgateway stand-in, all on 127.0.0.1. Two runs: the first
//! files the requests, the second files nothing; then a run without permission fails naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::Tidal;
use serde_json::Value;
use tidal_test_support::{Injected, MotoServer, Pushgateway, ServiceQuotas};

const REGION: &str = "eu-west-1";
const POOLS: &str = "node_pools:
- name: default
  instance_types: [m6i.2xlarge]
  max_size: 60
- name: spot-c
  instance_types: [c6i.2xlarge, c5.2xlarge]
  spot: true
  max_size: 40
";

async fn run(
    dir: &Path,
    name: &'static str,
    moto: &MotoServer,
    quotas: &ServiceQuotas,
    gateway: &Pushgateway,
) -> (std::process::ExitStatus, String) {
    let pools = dir.join("pools.yaml");
    let endpoint = moto.endpoint_url();
    let gateway_url = gateway.url();
    let flags: [&OsStr; 10] = [
        "quota-requester".as_ref(),
        "--node-pools".as_ref(),
        pools.as_os_str(),
        "--aws-region".as_ref(),
        REGION.as_ref(),
        "--output".as_ref(),
        "json".as_ref(),
        "--pushgateway-url".as_ref(),
        gateway_url.as_ref(),
        "--aws-initial-backoff=1ms".as_ref(),
    ];
    let sq_endpoint = quotas.endpoint_url();
    // The SDK's per-service endpoints: Service Quotas goes to the stand-in, EC2 and Support to
    // moto. (--aws-endpoint-url, or TIDAL_AWS_ENDPOINT_URL, would be an explicit endpoint for
    // every service, which the per-service variables cannot override.)
    let env: [(&str, &OsStr); 6] = [
        ("AWS_ENDPOINT_URL_EC2", endpoint.as_ref()),
        ("AWS_ENDPOINT_URL_SUPPORT", endpoint.as_ref()),
        ("AWS_ENDPOINT_URL_SERVICE_QUOTAS", sq_endpoint.as_ref()),
        ("AWS_ACCESS_KEY_ID", "testing".as_ref()),
        ("AWS_SECRET_ACCESS_KEY", "testing".as_ref()),
        ("AWS_EC2_METADATA_DISABLED", "true".as_ref()),
    ];
    let mut process = Tidal::spawn(name, dir, "error", &flags, &env);
    let status = process.exit_status().await;
    (status, process.log())
}

fn actions(output: &str) -> Vec<(String, String)> {
    let report: Value = serde_json::from_str(output)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}):\n{output}"));
    report["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let code = q["quota_code"].as_str().unwrap().to_owned();
            (code, q["action"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn files_once_pushes_a_summary_and_fails_naming_a_missing_permission() {
    let moto = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("this test needs moto_server: {e}"));
    let quotas = ServiceQuotas::start(REGION).await.unwrap();
    quotas.set_quota("ec2", "L-1216C47A", 5.0);
    quotas.set_default("ec2", "L-34B43A08", 5.0);
    let gateway = Pushgateway::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pools.yaml"), POOLS).unwrap();

    let (status, out) = run(dir.path(), "first-run", &moto, &quotas, &gateway).await;
    assert!(status.success(), "{status}: {out}");
    let first = actions(&out);
    assert_eq!(first.len(), 2, "{out}");
    assert!(first.iter().all(|(_, a)| a == "requested"), "{out}");
    let asked: Vec<f64> = quotas.requests().iter().map(|r| r.desired_value).collect();
    assert_eq!(asked, [576.0, 384.0]);

    let (status, out) = run(dir.path(), "second-run", &moto, &quotas, &gateway).await;
    assert!(status.success(), "{status}: {out}");
    assert!(actions(&out).iter().all(|(_, a)| a == "wait"), "{out}");
    assert_eq!(quotas.requests().len(), 2, "the second run filed nothing");

    let pushes = gateway.pushes();
    assert_eq!(pushes.len(), 2);
    assert!(pushes[1].body.contains(
        "tidal_quota_requester_action{region=\"eu-west-1\",quota=\"L-1216C47A\",action=\"wait\"} 1"
    ));

    quotas.inject(
        "ListRequestedServiceQuotaChangeHistoryByQuota",
        Injected::AccessDenied,
        usize::MAX,
    );
    let (status, out) = run(dir.path(), "denied-run", &moto, &quotas, &gateway).await;
    assert!(!status.success(), "{out}");
    assert!(
        out.contains(
            "missing permission servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota"
        ),
        "{out}"
    );
    assert!(out.contains("2 quota(s) failed"), "{out}");
}
