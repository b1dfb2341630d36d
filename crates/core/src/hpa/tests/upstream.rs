//! Cases mirrored from upstream `replica_calculator_test.go` (`TestReplicaCalcResourceScale`),
//! with upstream's expected numbers.

use std::time::Duration;

use super::*;

/// A pod shaped like upstream's test fixture: two containers requesting 1 CPU each.
/// Not Ready means "never became Ready" (last transition at start).
fn fixture_pod(i: usize, ready: bool, phase: PodPhase) -> PodInfo {
    let status = if ready {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    PodInfo::running(format!("pod-{i}"), ago(3600))
        .with_ready(status, ago(3600))
        .with_phase(phase)
        .with_request("container1", "cpu", 1000)
        .with_request("container2", "cpu", 1000)
}

/// Both containers of pod `i` use `level` millicores.
fn fixture_levels(levels: &[i64]) -> MetricObservation {
    MetricObservation::Resource(
        levels
            .iter()
            .enumerate()
            .map(|(i, level)| PodResourceSample {
                pod: format!("pod-{i}"),
                timestamp: ago(10),
                window: Duration::from_secs(60),
                containers: vec![
                    ContainerUsage {
                        name: "container1".into(),
                        usage: *level,
                    },
                    ContainerUsage {
                        name: "container2".into(),
                        usage: *level,
                    },
                ],
            })
            .collect(),
    )
}

/// (name, pods, usage per container, target %, (replicas, utilization, raw average)).
type UpstreamCase = (
    &'static str,
    Vec<PodInfo>,
    &'static [i64],
    i32,
    (i32, i32, i64),
);

/// Cases named after upstream `TestReplicaCalcResourceScale`, with its expected
/// (replicas, utilization, raw average) and the derivation.
#[test]
fn mirrors_upstream_resource_cases() {
    use PodPhase::{Failed, Pending, Running};
    let cases: Vec<UpstreamCase> = vec![
        // Pod 0 never became Ready. Ready pods: 2400m/4000m = 60 % → 2.0. Scaling up with an
        // unready pod: it counts at 0 → 2400m/6000m = 40 % → 1.333; ceil(1.333 × 3) = 4.
        (
            "scale up: unready pod scales less",
            vec![
                fixture_pod(0, false, Running),
                fixture_pod(1, true, Running),
                fixture_pod(2, true, Running),
            ],
            &[300, 500, 700],
            30,
            (4, 60, 1200),
        ),
        // Only pod 0 is ready: 800m/2000m = 40 % → 1.333; with the two unready at 0:
        // 800m/6000m = 13 % → 0.43 < 1, the direction flips → keep 3.
        (
            "no scale: unready pods ignored",
            vec![
                fixture_pod(0, true, Running),
                fixture_pod(1, false, Running),
                fixture_pod(2, false, Running),
            ],
            &[400, 500, 700],
            30,
            (3, 40, 800),
        ),
        // Failed pods take no part: 2400m/4000m = 60 % → 2.0; ceil(2.0 × 2) = 4.
        (
            "scale up: failed pods ignored",
            vec![
                fixture_pod(0, true, Running),
                fixture_pod(1, true, Running),
                fixture_pod(2, false, Failed),
                fixture_pod(3, false, Failed),
            ],
            &[500, 700],
            30,
            (4, 60, 1200),
        ),
        // Ready pods 0-2: 3600m/6000m = 30 % → 0.6; scaling down, unready pods are simply
        // left out: ceil(0.6 × 3) = ceil(1.8) = 2.
        (
            "scale down: exclude unready pods",
            (0..5).map(|i| fixture_pod(i, i < 3, Running)).collect(),
            &[100, 300, 500, 250, 250],
            50,
            (2, 30, 600),
        ),
        // Pending pods are unready: 200m/2000m = 10 % → 0.2; ceil(0.2 × 1) = 1.
        (
            "scale down: exclude unscheduled pods",
            (0..5)
                .map(|i| fixture_pod(i, i == 0, if i == 0 { Running } else { Pending }))
                .collect(),
            &[100],
            50,
            (1, 10, 200),
        ),
    ];
    for (name, pods, levels, target, (want_replicas, want_utilization, want_raw)) in cases {
        let current = pods.iter().filter(|p| p.phase != Failed).count() as i32;
        let p = propose(
            &cpu_utilization(target),
            current,
            &pods,
            fixture_levels(levels),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (
                p.replicas,
                p.current.average_utilization,
                p.current.average_value
            ),
            (want_replicas, Some(want_utilization), Some(want_raw)),
            "{name}"
        );
    }
}
