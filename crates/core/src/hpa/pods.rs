//! Sorting a target's pods into ready, unready, missing and ignored, and reading their
//! requests: `groupPods` and `calculateRequests` of Kubernetes' replica calculator, one
//! pod at a time.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::time::Duration;

use super::HpaError;
use super::observation::{ConditionStatus, ContainerRequests, PodInfo, PodPhase};
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

/// Samples with the name of their pod, in the order the metrics API returned them.
/// Samples for pods not in the pod list stay in (Kubernetes keeps them too): they count for
/// `Pods` averages but not for utilization.
pub type PodMetrics<'a> = Vec<(&'a str, PodMetric)>;

/// Each pod's sample, in pod order, and the samples of pods outside the list. Samples are
/// matched by name (names are unique within a namespace); of several samples for one pod the
/// last counts, as in Kubernetes' map. Samples listed in pod order, one per pod (what a caller
/// that keeps both lists together hands over), are matched without hashing.
pub fn match_samples(
    pods: &[PodInfo],
    metrics: &PodMetrics<'_>,
) -> (Vec<Option<PodMetric>>, Vec<PodMetric>) {
    let aligned = metrics.len() == pods.len()
        && (metrics.iter().zip(pods)).all(|((name, _), pod)| *name == pod.name);
    if aligned {
        return (metrics.iter().map(|(_, m)| Some(*m)).collect(), Vec::new());
    }
    let mut by_name: HashMap<&str, PodMetric> = HashMap::with_capacity(metrics.len());
    by_name.extend(metrics.iter().copied());
    let matched = pods
        .iter()
        .map(|pod| by_name.remove(pod.name.as_str()))
        .collect();
    (matched, by_name.into_values().collect())
}

/// Where the controller puts one pod of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodGroup {
    /// Its sample is used as is.
    Ready,
    /// Pending, or for CPU a sample that cannot be trusted yet: the sample is dropped and
    /// the pod counts as 0 % only when scaling up.
    Unready,
    /// Running without a sample: filled in conservatively.
    Missing,
    /// Being deleted, or Failed: no part at all. (A Succeeded pod is grouped like any
    /// other, as upstream: usually missing, since it reports no sample.)
    Ignored,
}

/// The group of `pod` given its sample, if any. The CPU readiness rules apply when
/// `resource` is `cpu` (Resource and ContainerResource metrics on CPU), as upstream.
pub fn group_pod(
    pod: &PodInfo,
    metric: Option<&PodMetric>,
    resource: Option<&str>,
    cpu_initialization_period: Duration,
    initial_readiness_delay: Duration,
    now: Timestamp,
) -> PodGroup {
    if pod.deleting || pod.phase == PodPhase::Failed {
        return PodGroup::Ignored;
    }
    if pod.phase == PodPhase::Pending {
        return PodGroup::Unready;
    }
    let Some(metric) = metric else {
        return PodGroup::Missing;
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
        return PodGroup::Unready;
    }
    PodGroup::Ready
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

/// The pod's request of `resource` (milli-value): the named `container`'s, or the pod's
/// (pod-level requests when set, else the sum over its containers).
///
/// Pod-level requests that leave `resource` out fall back to the container sum; Kubernetes
/// would add init-container and overhead terms there, which this model does not carry.
pub fn pod_request(
    pod: &PodInfo,
    container: Option<&str>,
    resource: &str,
) -> Result<i64, HpaError> {
    if container.is_none()
        && let Some(request) = pod.pod_requests.get(resource)
    {
        return Ok(*request);
    }
    let mut total: i64 = 0;
    for c in pod.containers.iter() {
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

/// Reads [`pod_request`] of pod after pod, once for a run of pods that share one container
/// list and set no pod-level requests (the pods of one workload, as a caller that keeps them
/// together hands over): their requests are the same.
#[derive(Debug)]
pub struct PodRequests<'a> {
    container: Option<&'a str>,
    resource: &'a str,
    last: Option<(&'a Arc<[ContainerRequests]>, i64)>,
}

impl<'a> PodRequests<'a> {
    /// Requests of `resource`, of one container or (`None`) of the pod.
    pub fn new(container: Option<&'a str>, resource: &'a str) -> Self {
        Self {
            container,
            resource,
            last: None,
        }
    }

    /// The pod's request ([`pod_request`]).
    pub fn of(&mut self, pod: &'a PodInfo) -> Result<i64, HpaError> {
        let shared = pod.pod_requests.is_empty();
        if shared
            && let Some((containers, request)) = self.last
            && Arc::ptr_eq(containers, &pod.containers)
        {
            return Ok(request);
        }
        let request = pod_request(pod, self.container, self.resource)?;
        if shared {
            self.last = Some((&pod.containers, request));
        }
        Ok(request)
    }
}

/// Pods that are Running and Ready, the divisor for Object and External `Value` targets.
pub fn ready_pods_count(pods: &[PodInfo]) -> Result<i64, HpaError> {
    if pods.is_empty() {
        return Err(HpaError::NoPods);
    }
    Ok(pods.iter().filter(|p| p.is_running_and_ready()).count() as i64)
}
