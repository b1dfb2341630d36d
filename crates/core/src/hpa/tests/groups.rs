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
    match group_pod(
        &pod,
        sampled.map(sample).as_ref(),
        resource,
        INIT,
        DELAY,
        NOW,
    ) {
        PodGroup::Ready => "ready",
        PodGroup::Unready => "unready",
        PodGroup::Missing => "missing",
        PodGroup::Ignored => "ignored",
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
    let pod = cpu_pod("a", 250).with_request("sidecar", "cpu", 100);
    assert_eq!(pod_request(&pod, None, "cpu"), Ok(350));
    assert_eq!(pod_request(&pod, Some("app"), "cpu"), Ok(250));
    assert_eq!(
        pod_request(&pod, Some("web"), "cpu"),
        Err(HpaError::ContainerNotFound {
            container: "web".into(),
            pod: "a".into()
        })
    );
    // Pod-level requests replace the container sum, unless they leave the resource out.
    let mut pod_level = pod.clone();
    pod_level.pod_requests.insert("cpu".into(), 1000);
    assert_eq!(pod_request(&pod_level, None, "cpu"), Ok(1000));
    assert_eq!(pod_request(&pod_level, Some("app"), "cpu"), Ok(250));
    // The sidecar has no memory request: the pod's request is undefined.
    let pod = cpu_pod("a", 250)
        .with_request("app", "memory", 1)
        .with_request("sidecar", "cpu", 1);
    assert_eq!(
        pod_request(&pod, None, "memory"),
        Err(HpaError::MissingRequest {
            resource: "memory".into(),
            container: "sidecar".into(),
            pod: "a".into()
        })
    );
    // Only the named container needs the request.
    assert_eq!(pod_request(&pod, Some("app"), "memory"), Ok(1));
}

#[test]
fn pods_sharing_a_container_list_give_the_same_request_as_read_one_by_one() {
    let web = cpu_pod("web-0", 250).with_request("sidecar", "cpu", 100);
    let same_list = |name: &str| PodInfo {
        name: name.into(),
        ..web.clone()
    };
    let mut pod_level = same_list("web-2");
    pod_level.pod_requests.insert("cpu".into(), 1000);
    let other = cpu_pod("db-0", 500);
    let no_memory = cpu_pod("x-0", 1).with_request("app", "memory", 1);
    let no_memory_too = PodInfo {
        name: "x-1".into(),
        ..no_memory.clone()
    };
    let pods = [
        web.clone(),
        same_list("web-1"),
        pod_level,
        same_list("web-3"),
        other,
        same_list("web-4"),
        no_memory,
        no_memory_too,
    ];
    for (container, resource) in [(None, "cpu"), (Some("app"), "cpu"), (None, "memory")] {
        let mut reader = PodRequests::new(container, resource);
        for pod in &pods {
            assert_eq!(
                reader.of(pod),
                pod_request(pod, container, resource),
                "{} {container:?} {resource}",
                pod.name
            );
        }
    }
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

#[test]
fn samples_are_matched_to_pods_by_name_in_any_order() {
    let pods = vec![cpu_pod("a", 1), cpu_pod("b", 1), cpu_pod("c", 1)];
    let at = |value: i64| PodMetric {
        value,
        ..sample(NOW)
    };
    let values = |(matched, outside): (Vec<Option<PodMetric>>, Vec<PodMetric>)| {
        let matched: Vec<Option<i64>> = matched.iter().map(|m| m.map(|m| m.value)).collect();
        (matched, outside.iter().map(|m| m.value).collect::<Vec<_>>())
    };
    // In pod order, one per pod.
    let aligned = vec![("a", at(1)), ("b", at(2)), ("c", at(3))];
    assert_eq!(
        values(match_samples(&pods, &aligned)),
        (vec![Some(1), Some(2), Some(3)], vec![])
    );
    // Shuffled: the same answer.
    let shuffled = vec![("c", at(3)), ("a", at(1)), ("b", at(2))];
    assert_eq!(
        values(match_samples(&pods, &shuffled)),
        (vec![Some(1), Some(2), Some(3)], vec![])
    );
    // A pod without a sample, a sample of a pod outside the list, two samples for one pod
    // (the last counts).
    let mixed = vec![("a", at(1)), ("x", at(9)), ("c", at(3)), ("a", at(4))];
    assert_eq!(
        values(match_samples(&pods, &mixed)),
        (vec![Some(4), None, Some(3)], vec![9])
    );
}
