//! Replica proposals per metric type, mirroring the kinds of cases in upstream
//! `replica_calculator_test.go`. Each expected number is derived in the comment.

use std::time::Duration;

use super::*;

/// The expected result of a case.
enum Expect {
    Replicas(i32),
    Error(HpaError),
}

struct Case {
    name: &'static str,
    metric: MetricSpec,
    current: i32,
    pods: Vec<PodInfo>,
    observation: MetricObservation,
    expect: Expect,
}

/// Two pods whose `app` and `sidecar` containers request 1000m CPU each.
pub(super) fn sidecar_pods() -> Vec<PodInfo> {
    (0..2)
        .map(|i| cpu_pod(&format!("pod-{i}"), 1000).with_request("sidecar", "cpu", 1000))
        .collect()
}

/// `app` uses 900m and `sidecar` 100m in both [`sidecar_pods`].
pub(super) fn sidecar_usage() -> MetricObservation {
    MetricObservation::Resource(
        (0..2)
            .map(|i| PodResourceSample {
                pod: format!("pod-{i}"),
                timestamp: ago(10),
                window: Duration::from_secs(30),
                containers: vec![
                    ContainerUsage {
                        name: "app".into(),
                        usage: 900,
                    },
                    ContainerUsage {
                        name: "sidecar".into(),
                        usage: 100,
                    },
                ],
            })
            .collect(),
    )
}

fn mixed_pods(ready: usize, pending: usize) -> Vec<PodInfo> {
    let mut pods = cpu_pods(ready, 1000);
    for i in 0..pending {
        pods.push(cpu_pod(&format!("pending-{i}"), 1000).with_phase(PodPhase::Pending));
    }
    pods
}

fn cases() -> Vec<Case> {
    use Expect::{Error, Replicas};
    let mib = 1024 * 1024 * 1000; // one MiB as a milli-value
    let starting = PodInfo::running("pod-2", ago(60))
        .with_ready(ConditionStatus::True, ago(5))
        .with_request("app", "cpu", 1000);
    let mut starting_pods = cpu_pods(2, 1000);
    starting_pods.push(starting);
    let mut one_not_ready = cpu_pods(3, 1000);
    one_not_ready[2] = one_not_ready[2]
        .clone()
        .with_ready(ConditionStatus::False, ago(600));
    vec![
        // 1500m of 3000m requested = 50 %; 50/30 = 1.667; ceil(1.667 × 3) = 5.
        Case {
            name: "cpu scale up",
            metric: cpu_utilization(30),
            current: 3,
            pods: cpu_pods(3, 1000),
            observation: cpu_usage_of(&[300, 500, 700]),
            expect: Replicas(5),
        },
        // 1400m of 5000m = 28 %; 28/50 = 0.56; ceil(0.56 × 5) = ceil(2.8) = 3.
        Case {
            name: "cpu scale down",
            metric: cpu_utilization(50),
            current: 5,
            pods: cpu_pods(5, 1000),
            observation: cpu_usage_of(&[100, 300, 500, 250, 250]),
            expect: Replicas(3),
        },
        // 110 % of a 100 % target: ratio 1.1 sits on the tolerance bound, which is inclusive.
        Case {
            name: "upper tolerance bound",
            metric: cpu_utilization(100),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[1100; 4]),
            expect: Replicas(4),
        },
        // 111 %: ratio 1.11 > 1.1; ceil(1.11 × 4) = ceil(4.44) = 5.
        Case {
            name: "just above tolerance",
            metric: cpu_utilization(100),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[1110; 4]),
            expect: Replicas(5),
        },
        // 90 %: ratio 0.9 is on the lower bound, inclusive too.
        Case {
            name: "lower tolerance bound",
            metric: cpu_utilization(100),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[900; 4]),
            expect: Replicas(4),
        },
        // Ready pods alone: 100 %/60 = 1.667 → would ask ceil(1.667 × 3) = 5 < 6. The 3 Pending
        // pods count at 0 when scaling up: 3000m/6000m = 50 % → 0.833 < 1, the direction
        // flipped, so the count stays 6.
        Case {
            name: "pending pods hold a scale-up back",
            metric: cpu_utilization(60),
            current: 6,
            pods: mixed_pods(3, 3),
            observation: cpu_usage_of(&[1000, 1000, 1000]),
            expect: Replicas(6),
        },
        // pod-2 started 60 s ago and became Ready 5 s ago; its sample (10 s old, 30 s window)
        // predates readiness + window, so its 1000m start-up burst is not trusted. Ready pods:
        // 1000m/2000m = 50 % = target → 3. (Counting it: 66 % → 1.32 → ceil(3.96) = 4.)
        Case {
            name: "cpu start-up burst ignored",
            metric: cpu_utilization(50),
            current: 3,
            pods: starting_pods,
            observation: cpu_usage_of(&[500, 500, 1000]),
            expect: Replicas(3),
        },
        // 300m/3000m = 10 % → 0.2: scale down, so the pod without a sample is assumed at 100 %
        // of its request: 1300m/4000m = 32 % → 0.64; ceil(0.64 × 4) = ceil(2.56) = 3.
        Case {
            name: "missing pod at 100 % on scale down",
            metric: cpu_utilization(50),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[100, 100, 100]),
            expect: Replicas(3),
        },
        // 100 % of a 200 % target → 0.5; the missing pod is assumed at the 200 % target:
        // 5000m/4000m = 125 % → 0.625; ceil(0.625 × 4) = ceil(2.5) = 3.
        Case {
            name: "missing pod at target above 100 %",
            metric: cpu_utilization(200),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[1000, 1000, 1000]),
            expect: Replicas(3),
        },
        // 200 % of a 50 % target... 100 %/50 = 2.0: scale up, missing pod at 0:
        // 3000m/4000m = 75 % → 1.5; ceil(1.5 × 4) = 6.
        Case {
            name: "missing pod at 0 on scale up",
            metric: cpu_utilization(50),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[1000, 1000, 1000]),
            expect: Replicas(6),
        },
        // 60 %/50 = 1.2: scale up, two missing pods at 0: 1200m/4000m = 30 % → 0.6 < 1, the
        // direction would reverse, so the count stays 4.
        Case {
            name: "gap filling never reverses direction",
            metric: cpu_utilization(50),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: cpu_usage_of(&[600, 600]),
            expect: Replicas(4),
        },
        // Container app: 1800m/2000m = 90 % → 1.8; ceil(1.8 × 2) = 4. (The pod sum would be
        // 2000m/4000m = 50 %: the sidecar would hide the load.)
        Case {
            name: "container resource ignores the sidecar",
            metric: MetricSpec::container_resource("cpu", "app", MetricTarget::utilization(50)),
            current: 2,
            pods: sidecar_pods(),
            observation: sidecar_usage(),
            expect: Replicas(4),
        },
        // Same pods as a pod-level Resource metric: 50 % = target → keep 2.
        Case {
            name: "resource metric sums containers",
            metric: cpu_utilization(50),
            current: 2,
            pods: sidecar_pods(),
            observation: sidecar_usage(),
            expect: Replicas(2),
        },
        // Average 700Mi of a 500Mi target = 1.4; ceil(1.4 × 2) = ceil(2.8) = 3.
        Case {
            name: "memory average value",
            metric: MetricSpec::resource("memory", MetricTarget::average_value(q("500Mi"))),
            current: 2,
            pods: cpu_pods(2, 1000),
            observation: MetricObservation::Resource(vec![
                PodResourceSample::single(
                    "pod-0",
                    "app",
                    600 * mib,
                    ago(10),
                    Duration::from_secs(30),
                ),
                PodResourceSample::single(
                    "pod-1",
                    "app",
                    800 * mib,
                    ago(10),
                    Duration::from_secs(30),
                ),
            ]),
            expect: Replicas(3),
        },
        // Average 12 of a target of 10 = 1.2; ceil(1.2 × 3) = ceil(3.6) = 4.
        Case {
            name: "pods metric",
            metric: MetricSpec::pods("qps", q("10")),
            current: 3,
            pods: cpu_pods(3, 1000),
            observation: pod_values(&[("pod-0", 10_000), ("pod-1", 12_000), ("pod-2", 14_000)]),
            expect: Replicas(4),
        },
        // Average of 1m, 1m, 2m is truncated to 1m before the ratio: 1m/1m = 1.0 → keep 3
        // (the exact 1.33m would have asked for 4).
        Case {
            name: "pods metric average is truncated",
            metric: MetricSpec::pods("qps", q("1m")),
            current: 3,
            pods: cpu_pods(3, 1000),
            observation: pod_values(&[("pod-0", 1), ("pod-1", 1), ("pod-2", 2)]),
            expect: Replicas(3),
        },
        // Average 2 of 10 → 0.2: scale down, missing pod assumed exactly at target 10:
        // (6 + 10)/4 = 4 → 0.4; ceil(0.4 × 4) = ceil(1.6) = 2.
        Case {
            name: "pods metric missing pod at target",
            metric: MetricSpec::pods("qps", q("10")),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: pod_values(&[("pod-0", 2000), ("pod-1", 2000), ("pod-2", 2000)]),
            expect: Replicas(2),
        },
        // 300/100 = 3.0 times Running-and-Ready pods (pod-2 is not Ready): ceil(3 × 2) = 6.
        Case {
            name: "object value",
            metric: MetricSpec::object("Ingress", "web", "rps", MetricTarget::value(q("100"))),
            current: 3,
            pods: one_not_ready,
            observation: MetricObservation::Object(300_000),
            expect: Replicas(6),
        },
        // 105/100 = 1.05 is within tolerance → keep 3.
        Case {
            name: "object value within tolerance",
            metric: MetricSpec::object("Ingress", "web", "rps", MetricTarget::value(q("100"))),
            current: 3,
            pods: cpu_pods(3, 1000),
            observation: MetricObservation::Object(105_000),
            expect: Replicas(3),
        },
        // 300/(50 × 4) = 1.5 → ceil(300/50) = 6.
        Case {
            name: "object average value",
            metric: MetricSpec::object(
                "Ingress",
                "web",
                "rps",
                MetricTarget::average_value(q("50")),
            ),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: MetricObservation::Object(300_000),
            expect: Replicas(6),
        },
        // 210/(50 × 4) = 1.05 → keep 4.
        Case {
            name: "object average value within tolerance",
            metric: MetricSpec::object(
                "Ingress",
                "web",
                "rps",
                MetricTarget::average_value(q("50")),
            ),
            current: 4,
            pods: cpu_pods(4, 1000),
            observation: MetricObservation::Object(210_000),
            expect: Replicas(4),
        },
        // Series summed: 50 + 70 = 120; 120/40 = 3.0 × 2 ready pods = 6.
        Case {
            name: "external value sums series",
            metric: MetricSpec::external("queue_length", MetricTarget::value(q("40"))),
            current: 2,
            pods: cpu_pods(2, 1000),
            observation: MetricObservation::External(vec![50_000, 70_000]),
            expect: Replicas(6),
        },
        // 100/(10 × 2) = 5 → ceil(100/10) = 10.
        Case {
            name: "external average value",
            metric: MetricSpec::external("queue_length", MetricTarget::average_value(q("10"))),
            current: 2,
            pods: cpu_pods(2, 1000),
            observation: MetricObservation::External(vec![20_000, 30_000, 50_000]),
            expect: Replicas(10),
        },
        Case {
            name: "no resource samples",
            metric: cpu_utilization(50),
            current: 2,
            pods: cpu_pods(2, 1000),
            observation: MetricObservation::Resource(vec![]),
            expect: Error(HpaError::NoMetricsReturned { api: "resource" }),
        },
        Case {
            name: "no external series",
            metric: MetricSpec::external("q", MetricTarget::value(q("1"))),
            current: 2,
            pods: cpu_pods(2, 1000),
            observation: MetricObservation::External(vec![]),
            expect: Error(HpaError::NoMetricsReturned { api: "external" }),
        },
        Case {
            name: "no pods",
            metric: cpu_utilization(50),
            current: 2,
            pods: vec![],
            observation: cpu_usage_of(&[100]),
            expect: Error(HpaError::NoPods),
        },
        // Only sample belongs to a Pending pod.
        Case {
            name: "only unready samples",
            metric: cpu_utilization(50),
            current: 1,
            pods: vec![cpu_pod("pod-0", 1000).with_phase(PodPhase::Pending)],
            observation: cpu_usage_of(&[100]),
            expect: Error(HpaError::NoMetricsForTargetedPods),
        },
        Case {
            name: "missing request",
            metric: MetricSpec::resource_utilization("memory", 50),
            current: 1,
            pods: cpu_pods(1, 1000),
            observation: cpu_usage_of(&[100]),
            expect: Error(HpaError::MissingRequest {
                resource: "memory".into(),
                container: "app".into(),
                pod: "pod-0".into(),
            }),
        },
        Case {
            name: "container not in pod",
            metric: MetricSpec::container_resource("cpu", "web", MetricTarget::utilization(50)),
            current: 2,
            pods: sidecar_pods(),
            observation: sidecar_usage(),
            expect: Error(HpaError::NoMetricsForTargetedPods),
        },
        Case {
            name: "observation of the wrong kind",
            metric: cpu_utilization(50),
            current: 1,
            pods: cpu_pods(1, 1000),
            observation: MetricObservation::Object(1),
            expect: Error(HpaError::ObservationMismatch {
                index: 0,
                metric: "cpu resource utilization (percentage of request)".into(),
                expected: "Resource",
                got: "Object",
            }),
        },
        Case {
            name: "metrics source down",
            metric: cpu_utilization(50),
            current: 1,
            pods: cpu_pods(1, 1000),
            observation: MetricObservation::Unavailable("timeout".into()),
            expect: Error(HpaError::MetricUnavailable {
                metric: "cpu resource utilization (percentage of request)".into(),
                reason: "timeout".into(),
            }),
        },
    ]
}

#[test]
fn replica_proposals_match_kubernetes() {
    for case in cases() {
        let got = propose(&case.metric, case.current, &case.pods, case.observation);
        match case.expect {
            Expect::Replicas(n) => match got {
                Ok(p) => assert_eq!(p.replicas, n, "{}", case.name),
                Err(e) => panic!("{}: expected {n} replicas, got error {e}", case.name),
            },
            Expect::Error(expected) => assert_eq!(got, Err(expected), "{}", case.name),
        }
    }
}

#[test]
fn proposals_report_current_values() {
    // 1500m/3000m = 50 %, average 500m per sample.
    let p = propose(
        &cpu_utilization(30),
        3,
        &cpu_pods(3, 1000),
        cpu_usage_of(&[300, 500, 700]),
    )
    .unwrap();
    assert_eq!(p.current.average_utilization, Some(50));
    assert_eq!(p.current.average_value, Some(500));
    // Object AverageValue reports ceil(300/4) = 75 per pod.
    let metric = MetricSpec::object(
        "Ingress",
        "web",
        "rps",
        MetricTarget::average_value(q("50")),
    );
    let p = propose(
        &metric,
        4,
        &cpu_pods(4, 1000),
        MetricObservation::Object(300_000),
    )
    .unwrap();
    assert_eq!(p.current.average_value, Some(75_000));
    let metric = MetricSpec::external("q", MetricTarget::value(q("40")));
    let p = propose(
        &metric,
        2,
        &cpu_pods(2, 1000),
        MetricObservation::External(vec![50_000, 70_000]),
    )
    .unwrap();
    assert_eq!(p.current.value, Some(120_000));
}

#[test]
fn container_missing_from_some_samples_counts_as_missing() {
    // pod-1 reports no `app` container: it is a missing pod. Scale up (90 % of 50 % → 1.8)
    // fills it at 0: 900m/2000m = 45 % → 0.9, inside tolerance → keep 2.
    let metric = MetricSpec::container_resource("cpu", "app", MetricTarget::utilization(50));
    let mut obs = sidecar_usage();
    if let MetricObservation::Resource(samples) = &mut obs {
        samples[1].containers.retain(|c| c.name != "app");
    }
    assert_eq!(replicas(propose(&metric, 2, &sidecar_pods(), obs)), 2);
}

#[test]
fn pod_level_requests_replace_the_container_sum() {
    // Pod-level request 4000m: 2000m/8000m = 25 % of a 50 % target → 0.5 → ceil(1.0) = 1.
    let pods: Vec<PodInfo> = sidecar_pods()
        .into_iter()
        .map(|mut p| {
            p.pod_requests.insert("cpu".into(), 4000);
            p
        })
        .collect();
    assert_eq!(
        replicas(propose(&cpu_utilization(50), 2, &pods, sidecar_usage())),
        1
    );
}
