//! Sorting a target's pods into ready, unready, missing and ignored, and reading their
//! requests: `groupPods` and `calculateRequests` of Kubernetes' replica calculator.

use foldhash::{HashMap, HashMapExt, HashSet};
use std::time::Duration;

use super::HpaError;
use super::observation::{ConditionStatus, PodInfo, PodPhase};
use crate::Timestamp;

/// One pod's sample as the calculator uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodMetric {
    /// The value, a milli-value.
    pub value: i64,
    /// When the sample window ended.
    pub timestamp: Timestamp,
    /// The sample window.
    pub window: Duration,
}

/// Samples by pod name. Samples for pods not in the pod list stay in (Kubernetes keeps
/// them too): they count for `Pods` averages but not for utilization.
pub type PodMetrics<'a> = HashMap<&'a str, PodMetric>;

/// The pods of a target, sorted the way the controller sorts them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodGroups<'a> {
    /// Pods whose sample is used as is.
    pub ready_count: usize,
    /// Pending pods, and for CPU pods whose sample cannot be trusted yet; their samples
    /// are dropped and they count as 0 % only when scaling up.
    pub unready: HashSet<&'a str>,
    /// Running pods without a sample; filled in conservatively.
    pub missing: HashSet<&'a str>,
    /// Pods being deleted, and Failed pods: no part at all. (A Succeeded pod is grouped
    /// like any other, as upstream: usually missing, since it reports no sample.)
    pub ignored: HashSet<&'a str>,
}

/// Sorts `pods` given their `metrics`. The CPU readiness rules apply when `resource` is
/// `cpu` (Resource and ContainerResource metrics on CPU), as upstream.
pub fn group_pods<'a>(
    pods: &'a [PodInfo],
    metrics: &PodMetrics<'_>,
    resource: Option<&str>,
    cpu_initialization_period: Duration,
    initial_readiness_delay: Duration,
    now: Timestamp,
) -> PodGroups<'a> {
    let mut groups = PodGroups::default();
    for pod in pods {
        let name = pod.name.as_str();
        if pod.deleting || pod.phase == PodPhase::Failed {
            groups.ignored.insert(name);
            continue;
        }
        if pod.phase == PodPhase::Pending {
            groups.unready.insert(name);
            continue;
        }
        let Some(metric) = metrics.get(name) else {
            groups.missing.insert(name);
            continue;
        };
        if resource == Some("cpu")
            && cpu_sample_untrusted(
                pod,
                metric,
                cpu_initialization_period,
                initial_readiness_delay,
                now,
            )
        {
            groups.unready.insert(name);
            continue;
        }
        groups.ready_count += 1;
    }
    groups
}

/// Whether a CPU sample reflects start-up rather than steady load.
fn cpu_sample_untrusted(
    pod: &PodInfo,
    metric: &PodMetric,
    cpu_initialization_period: Duration,
    initial_readiness_delay: Duration,
    now: Timestamp,
) -> bool {
    let (Some(condition), Some(start)) = (pod.ready, pod.start_time) else {
        return true;
    };
    let not_ready = condition.status == ConditionStatus::False;
    if start + cpu_initialization_period > now {
        // Still initializing: trust only a Ready pod sampled for a full window since it
        // became Ready.
        not_ready || metric.timestamp < condition.last_transition + metric.window
    } else {
        // Initialized long ago: distrust a pod that is not Ready and never was (its last
        // transition came within the initial readiness delay of its start).
        not_ready && start + initial_readiness_delay > condition.last_transition
    }
}

/// Each pod's request of `resource` (milli-value): the named `container`'s, or the pod's
/// (pod-level requests when set, else the sum over its containers).
///
/// Pod-level requests that leave `resource` out fall back to the container sum; Kubernetes
/// would add init-container and overhead terms there, which this model does not carry.
pub fn calculate_requests<'a>(
    pods: &'a [PodInfo],
    container: Option<&str>,
    resource: &str,
) -> Result<HashMap<&'a str, i64>, HpaError> {
    let mut requests = HashMap::with_capacity(pods.len());
    for pod in pods {
        let pod_level = match container {
            None => pod.pod_requests.get(resource).copied(),
            Some(_) => None,
        };
        let request = match pod_level {
            Some(request) => request,
            None => container_requests(pod, container, resource)?,
        };
        requests.insert(pod.name.as_str(), request);
    }
    Ok(requests)
}

fn container_requests(
    pod: &PodInfo,
    container: Option<&str>,
    resource: &str,
) -> Result<i64, HpaError> {
    let mut total: i64 = 0;
    for c in &pod.containers {
        if container.is_none_or(|name| name == c.name) {
            let request =
                c.requests
                    .get(resource)
                    .copied()
                    .ok_or_else(|| HpaError::MissingRequest {
                        resource: resource.to_owned(),
                        container: c.name.clone(),
                        pod: pod.name.clone(),
                    })?;
            total = total.saturating_add(request);
        }
        if container == Some(c.name.as_str()) {
            return Ok(total);
        }
    }
    match container {
        Some(name) => Err(HpaError::ContainerNotFound {
            container: name.to_owned(),
            pod: pod.name.clone(),
        }),
        None => Ok(total),
    }
}

/// Pods that are Running and Ready, the divisor for Object and External `Value` targets.
pub fn ready_pods_count(pods: &[PodInfo]) -> Result<i64, HpaError> {
    if pods.is_empty() {
        return Err(HpaError::NoPods);
    }
    Ok(pods.iter().filter(|p| p.is_running_and_ready()).count() as i64)
}
