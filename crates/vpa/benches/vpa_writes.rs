//! 5,000 changed VPA statuses written to the Kubernetes API stand-in with 5 ms added latency
//! per request, through the recommender's status write pool (issue 12, point 8; goal: under
//! 10 s). Each iteration writes every status with a value different from the last one.
//!
//! Run: `cargo bench -p tidal-vpa --bench vpa_writes`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use kube::config::{KubeConfigOptions, Kubeconfig};
use prometheus_client::registry::Registry;
use serde_json::json;
use tidal_test_support::KubeApi;
use tidal_vpa::crd::VerticalPodAutoscalerStatus;
use tidal_vpa::kube::KubeWriter;
use tidal_vpa::metrics::Metrics;
use tidal_vpa::ports::ObjectKey;
use tidal_vpa::recommender::write_statuses;

const VPAS: usize = 5_000;
const LATENCY: Duration = Duration::from_millis(5);
const WORKERS: usize = 10;

fn status(i: usize, round: u64) -> VerticalPodAutoscalerStatus {
    serde_json::from_value(json!({
        "recommendation": {"containerRecommendations": [{
            "containerName": "app",
            "target": {"cpu": format!("{}m", 100 + round), "memory": (i as u64 + 1) * 1_048_576 + round},
        }]},
        "conditions": [{"type": "RecommendationProvided", "status": "True"}]
    }))
    .unwrap()
}

fn writes(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (api, writer) = runtime.block_on(async {
        let api = KubeApi::start().await.unwrap();
        for i in 0..VPAS {
            api.put(json!({
                "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                "metadata": {"name": format!("vpa-{i}"), "namespace": format!("ns-{}", i % 50)},
                "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("app-{i}")}}
            }))
            .unwrap();
        }
        let kubeconfig = Kubeconfig::read_from(api.kubeconfig(dir.path()).unwrap()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
        let writer = KubeWriter::new(tidal_runtime::kube_client_from(config).unwrap());
        (api, writer)
    });
    api.set_latency(LATENCY);
    let metrics = Metrics::register(&mut Registry::default());
    let mut round = 0u64;
    let mut group = c.benchmark_group("vpa_writes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("5000_statuses_5ms_latency_10_workers", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                round += 1;
                let statuses: Vec<_> = (0..VPAS)
                    .map(|i| {
                        (
                            ObjectKey::new(format!("ns-{}", i % 50), format!("vpa-{i}")),
                            status(i, round),
                        )
                    })
                    .collect();
                let started = Instant::now();
                let results =
                    runtime.block_on(write_statuses(&writer, statuses, WORKERS, &metrics));
                total += started.elapsed();
                assert!(
                    results.iter().all(|(_, _, r)| r.is_ok()),
                    "every write succeeds"
                );
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, writes);
criterion_main!(benches);
