//! The recommender over its real Kubernetes adapters against the in-memory API stand-in on
//! loopback: status and checkpoint writes, and a restart that keeps history through them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tidal_core::Timestamp;
use tidal_runtime::Clock;
use tidal_test_support::KubeApi;
use tidal_vpa::kube::{KubePods, KubeTargets, KubeVpas, KubeWriter};
use tidal_vpa::metrics::Metrics;
use tidal_vpa::ports::{ObjectKey, UsageError, UsageHistory, UsageSample, UsageSource};
use tidal_vpa::{LoopConfig, LoopReport, Ports, Recommender};

/// Bound on waiting for watches to list; not a performance claim.
const HANG_GUARD: Duration = Duration::from_secs(30);
const VPA: &str = "autoscaling.k8s.io/v1";

/// Usage set by the test.
#[derive(Default)]
struct Usage(Mutex<Vec<UsageSample>>);

impl UsageSource for Usage {
    async fn current(&self) -> Result<Vec<UsageSample>, UsageError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn history(&self, _: Timestamp, _: Timestamp) -> Result<UsageHistory, UsageError> {
        Ok(UsageHistory::default())
    }
    fn has_history(&self) -> bool {
        false
    }
}

async fn client(api: &KubeApi, dir: &tempfile::TempDir) -> Client {
    let kubeconfig = Kubeconfig::read_from(api.kubeconfig(dir.path()).unwrap()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    tidal_runtime::kube_client_from(config).unwrap()
}

fn seed(api: &KubeApi) {
    api.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "web"}]}}}
    }))
    .unwrap();
    api.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "web", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 1, "image": "web", "imageID": "", "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-12-01T10:00:00Z"}}}]}
    }))
    .unwrap();
    for (name, target) in [("web", "web"), ("ghost", "no-such-deployment")] {
        api.put(json!({
            "apiVersion": VPA, "kind": "VerticalPodAutoscaler",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}, "recommenders": [{"name": "tidal"}]}
        }))
        .unwrap();
    }
}

type Subject = Recommender<KubeVpas, KubeTargets, KubePods, Usage, KubeWriter>;

fn recommender(client: &Client, usage: Arc<Usage>, clock: &Clock) -> Subject {
    let ports = Ports {
        vpas: KubeVpas::start(client.clone()),
        targets: KubeTargets::new(client.clone(), clock.clone(), Duration::from_secs(600)),
        pods: KubePods::start(client.clone()),
        usage,
        writer: KubeWriter::new(client.clone()),
    };
    Recommender::new(
        ports,
        LoopConfig::default(),
        Metrics::register(&mut Registry::default()),
        clock.clone(),
    )
}

/// Runs loops until one sees the pod (the watches list, then the backfill lands).
async fn run_until_pods(r: &mut Subject) -> LoopReport {
    tokio::time::timeout(HANG_GUARD, async {
        loop {
            if let Ok(report) = r.run_once().await
                && report.pods > 0
            {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the watches never listed the seeded pod")
}

fn condition<'a>(vpa: &'a Value, kind: &str) -> &'a Value {
    vpa["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn statuses_and_checkpoints_are_written_and_a_restart_keeps_history() {
    let api = KubeApi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = client(&api, &dir).await;
    seed(&api);
    let clock = Clock::manual(Timestamp::from_secs(1_796_119_260));
    let usage = Arc::new(Usage::default());
    *usage.0.lock().unwrap() = (0..24)
        .map(|h| UsageSample {
            pod: ObjectKey::new("shop", "web-1"),
            container: "app".into(),
            at: Timestamp::from_secs(1_796_119_260 - 3600 * (24 - h)),
            cpu_cores: Some(0.25),
            memory_bytes: Some(400.0 * 1024.0 * 1024.0),
        })
        .collect();

    let mut first = recommender(&client, usage.clone(), &clock);
    let report = run_until_pods(&mut first).await;
    assert_eq!(report.oom_kills, 1, "{report:?}");

    let web = api
        .get(VPA, "VerticalPodAutoscaler", Some("shop"), "web")
        .unwrap();
    let rec = &web["status"]["recommendation"]["containerRecommendations"][0];
    assert_eq!(rec["containerName"], "app", "{web}");
    assert_eq!(
        condition(&web, "RecommendationProvided")["status"],
        "True",
        "{web}"
    );
    let memory: i64 = rec["target"]["memory"].as_str().unwrap().parse().unwrap();
    assert!(
        memory > 1 << 30,
        "an OOM kill at a 1 GiB request lifts memory above it: {memory}"
    );
    assert_eq!(
        web["spec"]["recommenders"][0]["name"], "tidal",
        "the spec is untouched"
    );

    let ghost = api
        .get(VPA, "VerticalPodAutoscaler", Some("shop"), "ghost")
        .unwrap();
    assert_eq!(
        condition(&ghost, "NoPodsMatched")["status"],
        "True",
        "{ghost}"
    );

    let checkpoint = api
        .get(
            VPA,
            "VerticalPodAutoscalerCheckpoint",
            Some("shop"),
            "web-app",
        )
        .unwrap();
    assert_eq!(checkpoint["status"]["version"], "v3", "{checkpoint}");
    assert_eq!(checkpoint["spec"]["vpaObjectName"], "web");
    assert_eq!(checkpoint["status"]["totalSamplesCount"], 24);
    let cpu_target = rec["target"]["cpu"].clone();
    drop(first);

    // A new process with no usage yet resumes from the checkpoint.
    let mut second = recommender(&client, Arc::new(Usage::default()), &clock);
    run_until_pods(&mut second).await;
    let restored = second.state().aggregates().values().next().unwrap();
    assert_eq!(restored.aggregate.total_samples(), 24);
    let web = api
        .get(VPA, "VerticalPodAutoscaler", Some("shop"), "web")
        .unwrap();
    assert_eq!(
        web["status"]["recommendation"]["containerRecommendations"][0]["target"]["cpu"],
        cpu_target
    );
}
