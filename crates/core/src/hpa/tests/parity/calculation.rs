//! Rows for the calculation (`replica_calculator.go`, `computeReplicasForMetrics`): pod
//! groups, utilization, tolerance, gap filling, Object/External targets, several metrics,
//! zero replicas and pod phases. Pods request 1000m CPU in container `app` unless said;
//! samples are 10 s old over a 30 s window; the legacy scale-up limit `max(2 × current, 4)`
//! does not bind unless a row says so.

use super::*;

fn cpu_spec(target: i32) -> HpaSpec {
    HpaSpec::new(1, 100, vec![cpu_utilization(target)])
}

/// `pod-0` and `pod-1` Running and Ready for an hour, and `third` as `pod-2`.
fn two_and(third: PodInfo) -> Vec<PodInfo> {
    vec![cpu_pod("pod-0", 1000), cpu_pod("pod-1", 1000), third]
}

/// A pod named `pod-2` started `s` seconds ago, Ready since then, requesting 1000m CPU.
fn pod_2(s: i64) -> PodInfo {
    PodInfo::running("pod-2", ago(s)).with_request("app", "cpu", 1000)
}

fn object_value(value: &str) -> MetricSpec {
    MetricSpec::object("Ingress", "web", "rps", MetricTarget::value(q(value)))
}

/// Three Running and Ready pods, one Running but not Ready, one Pending: 5 pods,
/// 3 of them count for Object/External `Value` targets.
fn mixed_pods() -> Vec<PodInfo> {
    let mut pods = cpu_pods(3, 1000);
    pods.push(cpu_pod("pod-3", 1000).with_ready(ConditionStatus::False, ago(100)));
    pods.push(cpu_pod("pod-4", 1000).with_phase(PodPhase::Pending));
    pods
}

#[test]
fn pod_groups_follow_kubernetes() {
    use ConditionStatus::False;
    let all_at_900 = || cpu_usage_of(&[900, 900, 900]);
    check(vec![
        // groupPods: DeletionTimestamp → ignored, its sample dropped. Ready pod-0/1:
        // 1800m/2000m = 90 % → 1.8; no gaps → ceil(1.8 × 2) = 4 (with pod-2: ceil(5.4) = 6).
        row(
            "Pod groups: being deleted is ignored",
            cpu_spec(50),
            obs(3, two_and(pod_2(3600).deleting()), vec![all_at_900()]),
            (Some(4), 4),
        ),
        // groupPods: Phase == Failed → ignored. Same numbers: 4.
        row(
            "Pod groups: Failed is ignored",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(3600).with_phase(PodPhase::Failed)),
                vec![all_at_900()],
            ),
            (Some(4), 4),
        ),
        // Pending → unready. 1.8 > 1 with an unready pod: it counts at 0 →
        // 1800m/3000m = 60 % → 1.2; ceil(1.2 × 3) = ceil(3.6) = 4.
        row(
            "Pod groups: Pending is unready (scale-up: counted at 0)",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(3600).with_phase(PodPhase::Pending)),
                vec![cpu_usage_of(&[900, 900])],
            ),
            (Some(4), 4),
        ),
        // Scaling down, unready pods are left out: 400m/2000m = 20 % → 0.4;
        // ceil(0.4 × 2) = 1.
        row(
            "Pod groups: Pending is unready (scale-down: left out)",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(3600).with_phase(PodPhase::Pending)),
                vec![cpu_usage_of(&[200, 200])],
            ),
            (Some(1), 1),
        ),
        // CPU, no Ready condition → unready even with a sample: as the Pending row, 4.
        row(
            "Pod groups: CPU without a Ready condition is unready",
            cpu_spec(50),
            obs(
                3,
                two_and(PodInfo {
                    ready: None,
                    ..pod_2(3600)
                }),
                vec![all_at_900()],
            ),
            (Some(4), 4),
        ),
        // CPU, started 60 s ago (< 300 s) and not Ready → unready → 4.
        row(
            "Pod groups: CPU, initializing and not Ready is unready",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(60).with_ready(False, ago(60))),
                vec![all_at_900()],
            ),
            (Some(4), 4),
        ),
        // CPU, initializing, Ready since 25 s ago: the sample (10 s ago) ends before
        // transition + window (25 s ago + 30 s) → unready → 4.
        row(
            "Pod groups: CPU, initializing, sampled before a full window of Ready",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(60).with_ready(ConditionStatus::True, ago(25))),
                vec![all_at_900()],
            ),
            (Some(4), 4),
        ),
        // CPU, initializing, Ready since 100 s ago: 100 s ago + 30 s is before the sample →
        // trusted. 2700m/3000m = 90 % → 1.8; ceil(5.4) = 6 (legacy limit max(6, 4) = 6).
        row(
            "Pod groups: CPU, initializing, Ready for a full window is ready",
            cpu_spec(50),
            obs(3, two_and(pod_2(100)), vec![all_at_900()]),
            (Some(6), 6),
        ),
        // CPU, started an hour ago, not Ready since 10 s after start: start + 30 s delay is
        // after the transition → never became Ready → unready → 4.
        row(
            "Pod groups: CPU, initialized, never Ready is unready",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(3600).with_ready(False, ago(3590))),
                vec![all_at_900()],
            ),
            (Some(4), 4),
        ),
        // CPU, started an hour ago, not Ready since 100 s ago: it was Ready before, so its
        // sample is trusted (upstream keeps it) → 6.
        row(
            "Pod groups: CPU, initialized, Ready once is ready",
            cpu_spec(50),
            obs(
                3,
                two_and(pod_2(3600).with_ready(False, ago(100))),
                vec![all_at_900()],
            ),
            (Some(6), 6),
        ),
        // The readiness rules are for CPU only: a memory sample of an initializing,
        // not-Ready pod is used. 2700/3000 = 90 % → 1.8; ceil(5.4) = 6.
        row(
            "Pod groups: other resources ignore readiness",
            HpaSpec::new(1, 100, vec![MetricSpec::resource_utilization("memory", 50)]),
            obs(
                3,
                (0..3)
                    .map(|i| {
                        let started = if i == 2 { 60 } else { 3600 };
                        PodInfo::running(format!("pod-{i}"), ago(started))
                            .with_ready(False, ago(started))
                            .with_request("app", "memory", 1000)
                    })
                    .collect(),
                vec![all_at_900()],
            ),
            (Some(6), 6),
        ),
        // No sample → missing. Scaling down it counts at 100 % of its request:
        // 400m/2000m = 20 % → 0.4; with pod-2 at 1000m: 1400m/3000m = 46 % → 0.92, within
        // tolerance → keep 3.
        row(
            "Pod groups: missing (no sample), scale-down at 100 % of request",
            cpu_spec(50),
            obs(3, two_and(pod_2(3600)), vec![cpu_usage_of(&[200, 200])]),
            (Some(3), 3),
        ),
    ]);
}

#[test]
fn succeeded_pods_are_grouped_like_any_other() {
    // groupPods ignores only DeletionTimestamp and Failed. A Succeeded pod reports no
    // sample, so it is missing: as the row above, 1400m/3000m = 46 % → 0.92 → keep 3.
    // Ignoring it (as Tidal did) gives ceil(0.4 × 2) = 1: a scale-down Kubernetes does not
    // make.
    let done = pod_2(3600)
        .with_phase(PodPhase::Succeeded)
        .with_ready(ConditionStatus::False, ago(60));
    // Scaling up it counts at 0: 1520m/2000m = 76 % → 1.52; with pod-2 at 0:
    // 1520m/3000m = 50 % → 1.0, within → keep 3 (ignored: ceil(1.52 × 2) = 4).
    // With a sample (Ready False since it finished, long after its start) it is ready:
    // 2700m/3000m = 90 % → ceil(1.8 × 3) = 6 (ignored: ceil(1.8 × 2) = 4).
    check(vec![
        row(
            "Pod phases: Succeeded without a sample is missing (scale-down)",
            cpu_spec(50),
            obs(3, two_and(done.clone()), vec![cpu_usage_of(&[200, 200])]),
            (Some(3), 3),
        ),
        row(
            "Pod phases: Succeeded without a sample is missing (scale-up)",
            cpu_spec(50),
            obs(3, two_and(done.clone()), vec![cpu_usage_of(&[760, 760])]),
            (Some(3), 3),
        ),
        row(
            "Pod phases: Succeeded with a sample is ready",
            cpu_spec(50),
            obs(3, two_and(done), vec![cpu_usage_of(&[900, 900, 900])]),
            (Some(6), 6),
        ),
    ]);
}

#[test]
fn utilization_tolerance_and_gaps_follow_kubernetes() {
    check(vec![
        // Utilization = floor(100 × 1000m / 3000m) = floor(33.3) = 33; 33/30 = 1.1 is within
        // the tolerance band (bounds inclusive) → keep 3. Unfloored, 1.111 would give 4.
        row(
            "Utilization: floor(100 × Σusage / Σrequest); tolerance bound inclusive",
            cpu_spec(30),
            obs(3, cpu_pods(3, 1000), vec![cpu_usage_of(&[333, 333, 334])]),
            (Some(3), 3),
        ),
        // Pods metric: average of milli-values, truncated: (100 + 151) / 2 = 125 → 1.25;
        // ceil(1.25 × 2) = 3.
        row(
            "Utilization: Pods metric averages milli-values",
            HpaSpec::new(1, 100, vec![MetricSpec::pods("rps", q("100m"))]),
            obs(
                2,
                cpu_pods(2, 1000),
                vec![pod_values(&[("pod-0", 100), ("pod-1", 151)])],
            ),
            (Some(3), 3),
        ),
        // 54 % / 50 % = 1.08 → within → keep 4.
        row(
            "No gaps: inside the tolerance band keep current",
            cpu_spec(50),
            obs(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[540; 4])]),
            (Some(4), 4),
        ),
        // 56 % / 50 % = 1.12 → ceil(1.12 × 4) = ceil(4.48) = 5.
        row(
            "No gaps: ceil(ratio × ready pods) up",
            cpu_spec(50),
            obs(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[560; 4])]),
            (Some(5), 5),
        ),
        // 20 % / 50 % = 0.4 → ceil(1.6) = 2.
        row(
            "No gaps: ceil(ratio × ready pods) down",
            cpu_spec(50),
            obs(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[200; 4])]),
            (Some(2), 2),
        ),
        // Target 150 %: 600m/2000m = 30 % → 0.2. Missing pods count at the target, 1500m
        // each: 3600m/4000m = 90 % → 0.6; ceil(0.6 × 4) = ceil(2.4) = 3 (at 100 % of the
        // request: 65 % → 0.43 → 2).
        row(
            "Gaps, down: missing at the target when it exceeds 100 %",
            cpu_spec(150),
            obs(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[300, 300])]),
            (Some(3), 3),
        ),
        // Pods metric: average 20 → 0.2; missing at exactly the target (100):
        // (20 + 20 + 100 + 100) / 4 = 60 → 0.6; ceil(2.4) = 3.
        row(
            "Gaps, down: Pods metric missing at exactly the target",
            HpaSpec::new(1, 100, vec![MetricSpec::pods("rps", q("100m"))]),
            obs(
                4,
                cpu_pods(4, 1000),
                vec![pod_values(&[("pod-0", 20), ("pod-1", 20)])],
            ),
            (Some(3), 3),
        ),
        // 1400m/2000m = 70 % → 1.4; missing at 0: 1400m/4000m = 35 % → 0.7, the other side
        // of 1 → keep 4.
        row(
            "Gaps: crossing to the other side of 1 keeps current",
            cpu_spec(50),
            obs(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[700, 700])]),
            (Some(4), 4),
        ),
        // 3000m/2000m = 150 % → 3.0; missing at 0: 3000m/4000m = 75 % → 1.5;
        // ceil(1.5 × 4 samples) = 6.
        row(
            "Gaps, up: missing at 0, ceil(new ratio × samples)",
            cpu_spec(50),
            obs(4, cpu_pods(4, 1000), vec![cpu_usage_of(&[1500, 1500])]),
            (Some(6), 6),
        ),
        // Samples of pods outside the pod list stay in (upstream keeps them). Average
        // (50 × 3) / 3 = 50 → 0.5; pod-1 missing at the target: 250 / 4 = 62 → 0.62;
        // ceil(0.62 × 4) = 3 > 2 would move up on a scale-down → keep 2.
        row(
            "Gaps: never move against the original direction",
            HpaSpec::new(1, 100, vec![MetricSpec::pods("rps", q("100m"))]),
            obs(
                2,
                cpu_pods(2, 1000),
                vec![pod_values(&[("pod-0", 50), ("gone-a", 50), ("gone-b", 50)])],
            ),
            (Some(2), 2),
        ),
        // The sidecar must not dilute: container app 900m of 1000m = 90 % → 1.8;
        // ceil(3.6) = 4 (the pod sum, 1000m/2000m = 50 %, would keep 2).
        row(
            "ContainerResource: one container's utilization",
            HpaSpec::new(
                1,
                100,
                vec![MetricSpec::container_resource(
                    "cpu",
                    "app",
                    MetricTarget::utilization(50),
                )],
            ),
            obs(
                2,
                super::super::metrics::sidecar_pods(),
                vec![super::super::metrics::sidecar_usage()],
            ),
            (Some(4), 4),
        ),
    ]);
}

#[test]
fn object_external_and_several_metrics_follow_kubernetes() {
    let external_value =
        |target: &str| MetricSpec::external("queue", MetricTarget::value(q(target)));
    let external_average =
        |target: &str| MetricSpec::external("queue", MetricTarget::average_value(q(target)));
    let object_average = MetricSpec::object(
        "Ingress",
        "web",
        "rps",
        MetricTarget::average_value(q("10")),
    );
    let cpu_and_demand = HpaSpec::new(1, 100, vec![cpu_utilization(50), demand()]);
    check(vec![
        // 25 / 10 = 2.5 → ceil(2.5 × 3 Running-and-Ready pods) = 8 (not × 4 current,
        // not × 5 pods); legacy limit max(8, 4) = 8.
        row(
            "Object Value: ceil(ratio × Running-and-Ready pods)",
            HpaSpec::new(1, 100, vec![object_value("10")]),
            obs(4, mixed_pods(), vec![MetricObservation::Object(25_000)]),
            (Some(8), 8),
        ),
        // 10.5 / 10 = 1.05 → within → keep 4.
        row(
            "Object Value: inside the tolerance band keep current",
            HpaSpec::new(1, 100, vec![object_value("10")]),
            obs(4, mixed_pods(), vec![MetricObservation::Object(10_500)]),
            (Some(4), 4),
        ),
        // External: the sum of the series, 4 + 6 = 10; 10 / 5 = 2.0 → ceil(2 × 3) = 6.
        row(
            "External Value: ratio of the summed series",
            HpaSpec::new(1, 100, vec![external_value("5")]),
            obs(
                4,
                mixed_pods(),
                vec![MetricObservation::External(vec![4_000, 6_000])],
            ),
            (Some(6), 6),
        ),
        // AverageValue divides by status.replicas (5, the workload caught up late):
        // 25 / (10 × 5) = 0.5 → ceil(25 / 10) = 3.
        row(
            "External AverageValue: ceil(value / target) outside tolerance",
            HpaSpec::new(1, 100, vec![external_average("10")]),
            HpaObservation {
                status_replicas: 5,
                ..obs(
                    4,
                    Vec::new(),
                    vec![MetricObservation::External(vec![25_000])],
                )
            },
            (Some(3), 3),
        ),
        // 41 / (10 × 4 status replicas) = 1.025 → within → the proposal is status.replicas,
        // 4, so spec.replicas 5 goes down to 4.
        row(
            "Object AverageValue: within tolerance proposes status.replicas",
            HpaSpec::new(1, 100, vec![object_average]),
            HpaObservation {
                status_replicas: 4,
                ..obs(5, Vec::new(), vec![MetricObservation::Object(41_000)])
            },
            (Some(4), 4),
        ),
        // CPU 20 % / 50 % → ceil(0.4 × 4) = 2; demand 6 / (1 × 4) = 1.5 → ceil(6 / 1) = 6.
        row(
            "Several metrics: the largest proposal wins",
            cpu_and_demand.clone(),
            obs(
                4,
                cpu_pods(4, 1000),
                vec![
                    cpu_usage_of(&[200; 4]),
                    MetricObservation::External(vec![6_000]),
                ],
            ),
            (Some(6), 6),
        ),
        // CPU asks for 2 < 4 and demand failed: never down → keep 4, no proposal.
        row(
            "Several metrics: a failed metric blocks scale-down",
            cpu_and_demand.clone(),
            obs(
                4,
                cpu_pods(4, 1000),
                vec![
                    cpu_usage_of(&[200; 4]),
                    MetricObservation::Unavailable("timeout".into()),
                ],
            ),
            (None, 4),
        ),
        // CPU 100 % / 50 % → ceil(2 × 4) = 8 ≥ 4: scale up despite the failure.
        row(
            "Several metrics: a failed metric lets the others scale up",
            cpu_and_demand,
            obs(
                4,
                cpu_pods(4, 1000),
                vec![
                    cpu_usage_of(&[1000; 4]),
                    MetricObservation::Unavailable("timeout".into()),
                ],
            ),
            (Some(8), 8),
        ),
        // i64::MAX milli / 1 milli × 3 ready pods saturates at i32::MAX; the legacy limit
        // max(2 × 4, 4) = 8 then applies.
        row(
            "Several metrics: results saturate at int32 max",
            HpaSpec::new(1, i32::MAX, vec![external_value("1m")]),
            obs(
                4,
                mixed_pods(),
                vec![MetricObservation::External(vec![i64::MAX])],
            ),
            (Some(i32::MAX), 8),
        ),
    ]);
}

#[test]
fn zero_replicas_follow_kubernetes() {
    let demand_value = || MetricSpec::external("queue", MetricTarget::value(q("1")));
    let from_zero = |metrics: Vec<MetricSpec>| HpaSpec::new(0, 10, metrics);
    check(vec![
        // horizontal.go: currentReplicas == 0 && minReplicas != 0 → ScalingDisabled, no
        // metrics read.
        row(
            "Zero replicas: disabled when minReplicas is not 0",
            demand_spec(1, 10),
            demand_at(0, 5),
            (None, 0),
        ),
        // minReplicas 0: metrics are read. getUsageRatioReplicaCount from 0 is ceil(ratio)
        // without tolerance or pods: ceil(3 / 1) = 3; legacy limit max(0, 4) = 4.
        row(
            "Zero replicas: minReplicas 0 scales from an External Value metric",
            from_zero(vec![demand_value()]),
            obs(
                0,
                Vec::new(),
                vec![MetricObservation::External(vec![3_000])],
            ),
            (Some(3), 3),
        ),
        // Object Value 10 / 1 → ceil(10) = 10; the legacy limit allows 4 from 0.
        row(
            "Zero replicas: minReplicas 0 scales from an Object Value metric",
            from_zero(vec![object_value("1")]),
            obs(0, Vec::new(), vec![MetricObservation::Object(10_000)]),
            (Some(10), 4),
        ),
        // AverageValue against 0 status replicas: ratio 5 / (1 × 0) is infinite, outside
        // tolerance → ceil(5 / 1) = 5; default scale-up policies allow
        // max(0 + 4, ceil(0 × 2)) = 4.
        row(
            "Zero replicas: AverageValue from zero, behavior limits",
            from_zero(vec![demand()]).with_behavior(HpaBehavior::default()),
            demand_at(0, 5),
            (Some(5), 4),
        ),
        // Demand 0 → ceil(0) = 0: stays at zero, ScalingActive True.
        row(
            "Zero replicas: no demand stays at zero",
            from_zero(vec![demand_value()]),
            obs(0, Vec::new(), vec![MetricObservation::External(vec![0])]),
            (Some(0), 0),
        ),
        // The CPU metric fails (no pods) but the External one asks for 2 ≥ 0: go ahead.
        row(
            "Zero replicas: a failed CPU metric does not block scaling from zero",
            from_zero(vec![cpu_utilization(50), demand_value()]),
            obs(
                0,
                Vec::new(),
                vec![cpu_usage_of(&[]), MetricObservation::External(vec![2_000])],
            ),
            (Some(2), 2),
        ),
        // Every metric failed: ScalingActive False, stay at zero.
        row(
            "Zero replicas: failed metrics stay at zero",
            from_zero(vec![demand_value()]),
            obs(
                0,
                Vec::new(),
                vec![MetricObservation::Unavailable("timeout".into())],
            ),
            (None, 0),
        ),
        // And down to zero: demand 0 from 2 → ceil(0 / 1) = 0 ≥ minReplicas 0.
        row(
            "Zero replicas: minReplicas 0 scales to zero",
            from_zero(vec![demand()]),
            demand_at(2, 0),
            (Some(0), 0),
        ),
    ]);
}
