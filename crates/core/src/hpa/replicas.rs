//! Replica proposals for one metric: Kubernetes' `ReplicaCalculator`.
//!
//! The arithmetic mirrors upstream step by step, including where it uses floats (ratios,
//! `ceil`) and integer division (utilization percent, average usage), so the proposals
//! are the numbers a real HPA would compute. Float-to-int conversions saturate.

use foldhash::HashMap;
use std::time::Duration;

use super::HpaError;
use super::config::{HpaControllerConfig, Tolerances};
use super::observation::PodInfo;
use super::pods::{
    PodGroups, PodMetric, PodMetrics, calculate_requests, group_pods, ready_pods_count,
};
use crate::Timestamp;

/// Utilization of a set of samples against their requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Utilization {
    /// `utilization / target`.
    pub ratio: f64,
    /// `floor(100 × Σusage / Σrequest)`, percent.
    pub percent: i32,
    /// Average usage per sample, milli-value.
    pub raw_average: i64,
}

/// Utilization of the samples of pods with a known request (`GetResourceUtilizationRatio`).
pub fn resource_utilization_ratio(
    metrics: &PodMetrics<'_>,
    requests: &HashMap<&str, i64>,
    target_utilization: i32,
) -> Result<Utilization, HpaError> {
    let (mut usage, mut requested, mut entries) = (0i128, 0i128, 0i128);
    for (pod, metric) in metrics {
        // Samples of pods outside the pod list have no request; upstream skips them.
        if let Some(request) = requests.get(pod) {
            usage += i128::from(metric.value);
            requested += i128::from(*request);
            entries += 1;
        }
    }
    if requested == 0 {
        return Err(HpaError::NoMetricsMatchedPods);
    }
    let percent = usage * 100 / requested;
    let percent =
        i32::try_from(percent).map_err(|_| HpaError::UtilizationOutOfRange { percent })?;
    // An average of i64 values always fits an i64.
    let raw_average = i64::try_from(usage / entries).unwrap_or(i64::MAX);
    Ok(Utilization {
        ratio: f64::from(percent) / f64::from(target_utilization),
        percent,
        raw_average,
    })
}

/// `(average / target, average)` with the average truncated to an integer first
/// (`GetMetricUsageRatio`). `metrics` must not be empty.
pub fn metric_usage_ratio(metrics: &PodMetrics<'_>, target: i64) -> (f64, i64) {
    let total: i128 = metrics.values().map(|m| i128::from(m.value)).sum();
    let count = metrics.len().max(1) as i128;
    let average = i64::try_from(total / count).unwrap_or(i64::MAX);
    (average as f64 / target as f64, average)
}

/// `ceil(x)` as an `i32`, saturating at the `i32` range.
pub fn ceil_replicas(x: f64) -> i32 {
    x.ceil() as i32
}

/// A proposal from a utilization target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourceProposal {
    /// Proposed replicas.
    pub replicas: i32,
    /// Current utilization, percent of request.
    pub utilization: i32,
    /// Current average usage, milli-value.
    pub raw_average: i64,
}

/// A proposal from a value target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueProposal {
    /// Proposed replicas.
    pub replicas: i32,
    /// Current usage (average per pod, or total for `Value` targets), milli-value.
    pub usage: i64,
}

/// Computes proposals from pod samples for one HPA in one loop.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaCalculator<'a> {
    /// The target's pods.
    pub pods: &'a [PodInfo],
    /// See [`HpaControllerConfig::cpu_initialization_period`].
    pub cpu_initialization_period: Duration,
    /// See [`HpaControllerConfig::initial_readiness_delay`].
    pub initial_readiness_delay: Duration,
    /// The loop's time.
    pub now: Timestamp,
}

impl<'a> ReplicaCalculator<'a> {
    /// A calculator over `pods` with the controller's settings.
    pub fn new(pods: &'a [PodInfo], config: &HpaControllerConfig, now: Timestamp) -> Self {
        Self {
            pods,
            cpu_initialization_period: config.cpu_initialization_period(),
            initial_readiness_delay: config.initial_readiness_delay(),
            now,
        }
    }

    /// Replicas for a `Utilization` target of `resource` (of `container` when given)
    /// (`GetResourceReplicas`).
    pub fn resource_replicas<'m>(
        &self,
        current: i32,
        target_utilization: i32,
        resource: &str,
        container: Option<&str>,
        mut metrics: PodMetrics<'m>,
        tolerances: Tolerances,
    ) -> Result<ResourceProposal, HpaError>
    where
        'a: 'm,
    {
        let groups = self.prepare(&mut metrics, Some(resource))?;
        let requests = calculate_requests(self.pods, container, resource)?;
        // Scaling down, a pod without a sample is assumed at 100 % of its request, or at
        // the target when the target is above 100 %.
        let fallback = i128::from(target_utilization.max(100));
        let down_fill = |pod: &str| {
            let request = i128::from(requests.get(pod).copied().unwrap_or(0));
            i64::try_from(request * fallback / 100).unwrap_or(i64::MAX)
        };
        let measure = |m: &PodMetrics<'m>| {
            resource_utilization_ratio(m, &requests, target_utilization).map(|u| (u.ratio, u))
        };
        let (replicas, first) = finish(current, &groups, metrics, tolerances, measure, down_fill)?;
        Ok(ResourceProposal {
            replicas,
            utilization: first.percent,
            raw_average: first.raw_average,
        })
    }

    /// Replicas for an average-value target over pod samples: `Pods` metrics, and
    /// `Resource`/`ContainerResource` `AverageValue` targets with `resource` set
    /// (`calcPlainMetricReplicas`).
    pub fn plain_metric_replicas<'m>(
        &self,
        current: i32,
        target: i64,
        resource: Option<&str>,
        mut metrics: PodMetrics<'m>,
        tolerances: Tolerances,
    ) -> Result<ValueProposal, HpaError>
    where
        'a: 'm,
    {
        let groups = self.prepare(&mut metrics, resource)?;
        // Scaling down, a pod without a sample is assumed exactly at the target.
        let down_fill = |_: &str| target;
        let measure = |m: &PodMetrics<'m>| Ok(metric_usage_ratio(m, target));
        let (replicas, usage) = finish(current, &groups, metrics, tolerances, measure, down_fill)?;
        Ok(ValueProposal { replicas, usage })
    }

    /// Groups the pods and drops the samples of ignored and unready ones.
    fn prepare<'m>(
        &self,
        metrics: &mut PodMetrics<'m>,
        resource: Option<&str>,
    ) -> Result<PodGroups<'a>, HpaError> {
        if self.pods.is_empty() {
            return Err(HpaError::NoPods);
        }
        let groups = group_pods(
            self.pods,
            metrics,
            resource,
            self.cpu_initialization_period,
            self.initial_readiness_delay,
            self.now,
        );
        metrics.retain(|pod, _| !groups.ignored.contains(pod) && !groups.unready.contains(pod));
        if metrics.is_empty() {
            return Err(HpaError::NoMetricsForTargetedPods);
        }
        Ok(groups)
    }

    /// Replicas for a usage ratio against Running-and-Ready pods: Object and External
    /// `Value` targets (`getUsageRatioReplicaCount`). From zero replicas (scale-to-zero)
    /// the proposal is `ceil(ratio)`, without tolerance.
    pub fn usage_ratio_replicas(
        &self,
        current: i32,
        ratio: f64,
        tolerances: Tolerances,
    ) -> Result<i32, HpaError> {
        if current == 0 {
            return Ok(ceil_replicas(ratio));
        }
        if tolerances.is_within(ratio) {
            return Ok(current);
        }
        let ready = ready_pods_count(self.pods)?;
        Ok(ceil_replicas(ratio * ready as f64))
    }
}

/// The rest of the calculation once samples are grouped: with no gaps, the usage ratio
/// times the ready pods; otherwise fill the gaps conservatively (missing pods at
/// `down_fill` when scaling down, at 0 when scaling up; unready pods at 0 when scaling
/// up) and measure again. Returns the replicas and the first measurement.
fn finish<'a: 'm, 'm, T>(
    current: i32,
    groups: &PodGroups<'a>,
    mut metrics: PodMetrics<'m>,
    tolerances: Tolerances,
    measure: impl Fn(&PodMetrics<'m>) -> Result<(f64, T), HpaError>,
    down_fill: impl Fn(&str) -> i64,
) -> Result<(i32, T), HpaError> {
    let (ratio, first) = measure(&metrics)?;
    let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && groups.missing.is_empty() {
        if tolerances.is_within(ratio) {
            return Ok((current, first));
        }
        return Ok((ceil_replicas(ratio * groups.ready_count as f64), first));
    }
    if ratio < 1.0 {
        for &pod in &groups.missing {
            metrics.insert(pod, filled(down_fill(pod)));
        }
    } else if ratio > 1.0 {
        for &pod in &groups.missing {
            metrics.insert(pod, filled(0));
        }
    }
    if scale_up_with_unready {
        for &pod in &groups.unready {
            metrics.insert(pod, filled(0));
        }
    }
    let (new_ratio, _) = measure(&metrics)?;
    let replicas = rebalanced_replicas(current, ratio, new_ratio, metrics.len(), tolerances);
    Ok((replicas, first))
}

/// A filled-in sample for a pod without a trusted one; only its value is read.
fn filled(value: i64) -> PodMetric {
    PodMetric {
        value,
        timestamp: Timestamp::default(),
        window: Duration::ZERO,
    }
}

/// The second pass after filling gaps: keep `current` when the new ratio is within
/// tolerance, crossed 1, or the count would move against the first ratio's direction.
fn rebalanced_replicas(
    current: i32,
    ratio: f64,
    new_ratio: f64,
    samples: usize,
    tolerances: Tolerances,
) -> i32 {
    let reversed = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if tolerances.is_within(new_ratio) || reversed {
        return current;
    }
    let replicas = ceil_replicas(new_ratio * samples as f64);
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return current;
    }
    replicas
}

/// Replicas for a total-per-pod target: Object and External `AverageValue` targets,
/// divided by the workload's reported replicas (`Get…PerPodMetricReplicas`).
pub fn per_pod_replicas(
    status_replicas: i32,
    usage: i64,
    target_per_pod: i64,
    tolerances: Tolerances,
) -> ValueProposal {
    let ratio = usage as f64 / (target_per_pod as f64 * f64::from(status_replicas));
    let replicas = if tolerances.is_within(ratio) {
        status_replicas
    } else {
        ceil_replicas(usage as f64 / target_per_pod as f64)
    };
    let per_pod = if status_replicas == 0 {
        0
    } else {
        (usage as f64 / f64::from(status_replicas)).ceil() as i64
    };
    ValueProposal {
        replicas,
        usage: per_pod,
    }
}

/// The sum of an external metric's series, saturating at the `i64` range.
pub fn external_total(samples: &[i64]) -> i64 {
    samples.iter().fold(0i64, |acc, v| acc.saturating_add(*v))
}
