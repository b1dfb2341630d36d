//! Pod grouping (`groupPods`) and requests (`calculateRequests`).

use std::time::Duration;

use super::*;

const INIT: Duration = Duration::from_secs(300);
const DELAY: Duration = Duration::from_secs(30);

fn sample(timestamp: Timestamp) -> PodMetric {
    PodMetric {
        value: 100,
        timestamp,
        window: Duration::from_secs(30),
    }
}

/// Which group one pod lands in, for `resource`, with a sample taken at `sampled`.
fn group_of(pod: PodInfo, sampled: Option<Timestamp>, resource: Option<&str>) -> &'static str {
    let pods = [pod];
    let mut metrics = PodMetrics::default();
    if let Some(t) = sampled {
        metrics.insert(pods[0].name.as_str(), sample(t));
    }
    let groups = group_pods(&pods, &metrics, resource, INIT, DELAY, NOW);
    let name = pods[0].name.as_str();
    match (
        groups.ready_count,
        groups.unready.contains(name),
        groups.missing.contains(name),
        groups.ignored.contains(name),
    ) {
        (1, false, false, false) => "ready",
        (0, true, false, false) => "unready",
        (0, false, true, false) => "missing",
        (0, false, false, true) => "ignored",
        other => panic!("pod in several groups: {other:?}"),
    }
}

/// (description, pod, sample time, resource, expected group).
type GroupCase<'a> = (
    &'a str,
    PodInfo,
    Option<Timestamp>,
    Option<&'a str>,
    &'a str,
);

#[test]
fn pods_are_grouped_as_kubernetes_groups_them() {
    use ConditionStatus::{False, True, Unknown};
    let old = || PodInfo::running("p", ago(3600));
    let young = || PodInfo::running("p", ago(60));
    let cpu = Some("cpu");
    let cases: Vec<GroupCase<'_>> = vec![
        (
            "running, ready, sampled",
            old(),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        ("no sample", old(), None, cpu, "missing"),
        (
            "being deleted",
            old().deleting(),
            Some(ago(10)),
            cpu,
            "ignored",
        ),
        (
            "failed",
            old().with_phase(PodPhase::Failed),
            Some(ago(10)),
            cpu,
            "ignored",
        ),
        // Only deletion and Failed are ignored; a Succeeded pod is grouped by the rules.
        (
            "succeeded, no sample",
            old().with_phase(PodPhase::Succeeded),
            None,
            cpu,
            "missing",
        ),
        (
            "succeeded, sampled, not Ready since it finished",
            old()
                .with_phase(PodPhase::Succeeded)
                .with_ready(False, ago(60)),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        (
            "pending, even without a sample",
            old().with_phase(PodPhase::Pending),
            None,
            None,
            "unready",
        ),
        (
            "no Ready condition",
            PodInfo {
                ready: None,
                ..old()
            },
            Some(ago(10)),
            cpu,
            "unready",
        ),
        (
            "no start time",
            PodInfo {
                start_time: None,
                ..old()
            },
            Some(ago(10)),
            cpu,
            "unready",
        ),
        // Within the 5 min initialization period:
        (
            "young and not ready",
            young().with_ready(False, ago(50)),
            Some(ago(10)),
            cpu,
            "unready",
        ),
        // Ready at -50 s; sample at -10 s is after -50 s + 30 s window.
        (
            "young, sampled a window after ready",
            young().with_ready(True, ago(50)),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        // Ready at -30 s; -10 s is before -30 s + 30 s = 0.
        (
            "young, sample overlaps readiness",
            young().with_ready(True, ago(30)),
            Some(ago(10)),
            cpu,
            "unready",
        ),
        // Exactly one window after readiness is no longer "before": trusted.
        (
            "young, sample exactly a window after",
            young().with_ready(True, ago(40)),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        (
            "young, readiness unknown",
            young().with_ready(Unknown, ago(50)),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        // After the initialization period:
        // Not ready, last change 10 s after start (< 30 s delay): never became ready.
        (
            "old, never ready",
            old().with_ready(False, ago(3590)),
            Some(ago(10)),
            cpu,
            "unready",
        ),
        // Not ready since long after start: it was ready before, its sample counts.
        (
            "old, lost readiness later",
            old().with_ready(False, ago(600)),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        (
            "old, change exactly at the delay",
            old().with_ready(False, ago(3570)),
            Some(ago(10)),
            cpu,
            "ready",
        ),
        // The readiness rules are for CPU only.
        (
            "young and not ready, memory",
            young().with_ready(False, ago(50)),
            Some(ago(10)),
            Some("memory"),
            "ready",
        ),
        (
            "no Ready condition, pods metric",
            PodInfo {
                ready: None,
                ..old()
            },
            Some(ago(10)),
            None,
            "ready",
        ),
    ];
    for (name, pod, sampled, resource, expected) in cases {
        assert_eq!(group_of(pod, sampled, resource), expected, "{name}");
    }
}

#[test]
fn initialization_period_boundary_is_exclusive() {
    // Started exactly 300 s ago: start + period is not after now, so the pod is past
    // initialization and only the never-ready rule applies.
    let pod = PodInfo::running("p", ago(300)).with_ready(ConditionStatus::True, ago(5));
    assert_eq!(group_of(pod.clone(), Some(ago(10)), Some("cpu")), "ready");
    let pod = PodInfo::running("p", ago(299)).with_ready(ConditionStatus::True, ago(5));
    assert_eq!(group_of(pod, Some(ago(10)), Some("cpu")), "unready");
}

#[test]
fn requests_sum_containers_or_take_the_named_one() {
    let pods = vec![
        cpu_pod("a", 250).with_request("sidecar", "cpu", 100),
        cpu_pod("b", 500).with_request("sidecar", "cpu", 100),
    ];
    let all = calculate_requests(&pods, None, "cpu").unwrap();
    assert_eq!(all.get("a"), Some(&350));
    assert_eq!(all.get("b"), Some(&600));
    let app = calculate_requests(&pods, Some("app"), "cpu").unwrap();
    assert_eq!(app.get("a"), Some(&250));
    assert_eq!(
        calculate_requests(&pods, Some("web"), "cpu"),
        Err(HpaError::ContainerNotFound {
            container: "web".into(),
            pod: "a".into()
        })
    );
    // The sidecar has no memory request: the pod's request is undefined.
    let pods = vec![
        cpu_pod("a", 250)
            .with_request("app", "memory", 1)
            .with_request("sidecar", "cpu", 1),
    ];
    assert_eq!(
        calculate_requests(&pods, None, "memory"),
        Err(HpaError::MissingRequest {
            resource: "memory".into(),
            container: "sidecar".into(),
            pod: "a".into()
        })
    );
    // Only the named container needs the request.
    assert_eq!(
        calculate_requests(&pods, Some("app"), "memory")
            .unwrap()
            .get("a"),
        Some(&1)
    );
}

#[test]
fn ready_pod_count_needs_running_and_ready() {
    let pods = vec![
        cpu_pod("a", 1),
        cpu_pod("b", 1).with_ready(ConditionStatus::False, ago(10)),
        cpu_pod("c", 1).with_phase(PodPhase::Pending),
        PodInfo {
            ready: None,
            ..cpu_pod("d", 1)
        },
        cpu_pod("e", 1).deleting(), // counted, as upstream does not check deletion here
    ];
    assert_eq!(ready_pods_count(&pods), Ok(2));
    assert_eq!(ready_pods_count(&[]), Err(HpaError::NoPods));
}
