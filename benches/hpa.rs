//! HPA decision benchmark: one `reconcile` of one HPA, as the controller runs it per HPA
//! per loop (every 15 s). Cases: 100 pods with two metrics (CPU utilization and a Pods
//! metric), and 1,000 pods with the same two metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tidal_core::Timestamp;
use tidal_core::hpa::{
    ContainerUsage, HpaBehavior, HpaControllerConfig, HpaObservation, HpaSpec, HpaState,
    MetricObservation, MetricSpec, PodInfo, PodMetricSample, PodResourceSample, reconcile,
};
use tidal_core::quantity::Quantity;

const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

/// `n` pods with an app container and a sidecar; a few Pending, a few without samples,
/// a few recently started, so every branch of the pod grouping is exercised.
fn observation(n: usize) -> HpaObservation {
    let started = |i: usize| {
        if i.is_multiple_of(17) {
            NOW - Duration::from_secs(60) // still initializing
        } else {
            NOW - Duration::from_secs(3600)
        }
    };
    let pods: Vec<PodInfo> = (0..n)
        .map(|i| {
            let pod = PodInfo::running(format!("web-{i:05}"), started(i))
                .with_request("app", "cpu", 500)
                .with_request("sidecar", "cpu", 100);
            if i % 50 == 49 {
                pod.with_phase(tidal_core::hpa::PodPhase::Pending)
            } else {
                pod
            }
        })
        .collect();
    let cpu = pods
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 50 != 49 && !i.is_multiple_of(23))
        .map(|(i, p)| PodResourceSample {
            pod: p.name.clone(),
            timestamp: NOW - Duration::from_secs(10),
            window: Duration::from_secs(30),
            containers: vec![
                ContainerUsage {
                    name: "app".into(),
                    usage: 300 + (i as i64 * 37) % 400,
                },
                ContainerUsage {
                    name: "sidecar".into(),
                    usage: 20,
                },
            ],
        })
        .collect();
    let qps = pods
        .iter()
        .enumerate()
        .map(|(i, p)| PodMetricSample {
            pod: p.name.clone(),
            value: 80_000 + (i as i64 * 131) % 60_000,
        })
        .collect();
    HpaObservation::new(
        n as i32,
        pods,
        vec![
            MetricObservation::Resource(cpu),
            MetricObservation::Pods(qps),
        ],
    )
}

fn spec(max: i32) -> HpaSpec {
    HpaSpec::new(
        2,
        max,
        vec![
            MetricSpec::resource_utilization("cpu", 60),
            MetricSpec::pods(
                "http_requests_per_second",
                "100".parse::<Quantity>().unwrap(),
            ),
        ],
    )
    .with_behavior(HpaBehavior::default())
}

/// A state with a few minutes of history, as a running controller has.
fn warm_state(spec: &HpaSpec, observed: &HpaObservation, config: &HpaControllerConfig) -> HpaState {
    let mut state = HpaState::new();
    for loop_index in 1..=20 {
        let t = NOW - Duration::from_secs(15 * loop_index);
        reconcile(spec, observed, &mut state, config, t).unwrap();
    }
    state
}

fn bench(c: &mut Criterion) {
    let config = HpaControllerConfig::default();
    for pods in [100, 1_000] {
        let spec = spec(5_000);
        let observed = observation(pods);
        let state = warm_state(&spec, &observed, &config);
        let decision = reconcile(&spec, &observed, &mut state.clone(), &config, NOW).unwrap();
        eprintln!(
            "hpa {pods} pods: current {} → desired {} ({:?}); proposals {:?}",
            decision.current_replicas,
            decision.desired_replicas,
            decision.scaling_limited.map(|c| c.reason),
            decision
                .metrics
                .iter()
                .map(|m| m.result.as_ref().map(|p| p.replicas).ok())
                .collect::<Vec<_>>()
        );
        c.bench_function(&format!("hpa_reconcile_{pods}_pods_2_metrics"), |b| {
            b.iter_batched(
                || state.clone(),
                |mut state| {
                    reconcile(
                        black_box(&spec),
                        black_box(&observed),
                        &mut state,
                        &config,
                        NOW,
                    )
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
