//! Replica proposals for one metric: Kubernetes' `ReplicaCalculator`.
//!
//! The arithmetic mirrors upstream step by step, including where it uses floats (ratios,
//! `ceil`) and integer division (utilization percent, average usage), so the proposals
//! are the numbers a real HPA would compute. Float-to-int conversions saturate.

use std::time::Duration;

use super::HpaError;
use super::config::{HpaControllerConfig, Tolerances};
use super::observation::PodInfo;
use super::pods::{PodGroup, PodMetrics, PodRequests, group_pod, match_samples, ready_pods_count};
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

/// The samples a proposal measures, as running sums: every sample counts for averages;
/// only samples of listed pods (they have a request) count for utilization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleSums {
    /// Σ value over all samples.
    pub value: i128,
    /// Number of samples.
    pub count: i128,
    /// Σ value over samples of pods with a request.
    pub requested_value: i128,
    /// Σ request over those pods.
    pub requested: i128,
    /// Number of those pods.
    pub with_request: i128,
}

impl SampleSums {
    /// Adds one sample of `value`, of a pod requesting `request` (`None`: a sample of a pod
    /// outside the pod list, or a metric that does not read requests).
    pub fn add(&mut self, value: i64, request: Option<i64>) {
        self.value += i128::from(value);
        self.count += 1;
        if let Some(request) = request {
            self.requested_value += i128::from(value);
            self.requested += i128::from(request);
            self.with_request += 1;
        }
    }

    /// Utilization of the samples of pods with a known request against `target_utilization`
    /// (`GetResourceUtilizationRatio`; samples of pods outside the pod list are skipped).
    pub fn utilization(&self, target_utilization: i32) -> Result<Utilization, HpaError> {
        if self.requested == 0 {
            return Err(HpaError::NoMetricsMatchedPods);
        }
        let percent = self.requested_value * 100 / self.requested;
        let percent =
            i32::try_from(percent).map_err(|_| HpaError::UtilizationOutOfRange { percent })?;
        // An average of i64 values always fits an i64.
        let raw_average =
            i64::try_from(self.requested_value / self.with_request).unwrap_or(i64::MAX);
        Ok(Utilization {
            ratio: f64::from(percent) / f64::from(target_utilization),
            percent,
            raw_average,
        })
    }

    /// `(average / target, average)` over all samples, the average truncated to an integer
    /// first (`GetMetricUsageRatio`).
    pub fn usage_ratio(&self, target: i64) -> (f64, i64) {
        let average = i64::try_from(self.value / self.count.max(1)).unwrap_or(i64::MAX);
        (average as f64 / target as f64, average)
    }
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
    pub fn resource_replicas(
        &self,
        current: i32,
        target_utilization: i32,
        resource: &str,
        container: Option<&str>,
        metrics: PodMetrics<'_>,
        tolerances: Tolerances,
    ) -> Result<ResourceProposal, HpaError> {
        let joined = self.join(&metrics, Some(resource), Some((container, resource)))?;
        // Scaling down, a pod without a sample is assumed at 100 % of its request, or at
        // the target when the target is above 100 %.
        let fallback = i128::from(target_utilization.max(100));
        let down_fill = |request: Option<i64>| {
            let request = i128::from(request.unwrap_or(0));
            i64::try_from(request * fallback / 100).unwrap_or(i64::MAX)
        };
        let measure =
            |sums: &SampleSums| sums.utilization(target_utilization).map(|u| (u.ratio, u));
        let (replicas, first) = finish(current, &joined, tolerances, measure, down_fill)?;
        Ok(ResourceProposal {
            replicas,
            utilization: first.percent,
            raw_average: first.raw_average,
        })
    }

    /// Replicas for an average-value target over pod samples: `Pods` metrics, and
    /// `Resource`/`ContainerResource` `AverageValue` targets with `resource` set
    /// (`calcPlainMetricReplicas`).
    pub fn plain_metric_replicas(
        &self,
        current: i32,
        target: i64,
        resource: Option<&str>,
        metrics: PodMetrics<'_>,
        tolerances: Tolerances,
    ) -> Result<ValueProposal, HpaError> {
        let joined = self.join(&metrics, resource, None)?;
        // Scaling down, a pod without a sample is assumed exactly at the target.
        let down_fill = |_: Option<i64>| target;
        let measure = |sums: &SampleSums| Ok(sums.usage_ratio(target));
        let (replicas, usage) = finish(current, &joined, tolerances, measure, down_fill)?;
        Ok(ValueProposal { replicas, usage })
    }

    /// Groups the pods, joins each with its sample ([`match_samples`]) and reads the requests
    /// of `requests` (container, resource) when given. Samples of ignored and unready pods are
    /// dropped; samples of pods outside the list are kept for averages.
    fn join(
        &self,
        metrics: &PodMetrics<'_>,
        resource: Option<&str>,
        requests: Option<(Option<&str>, &str)>,
    ) -> Result<Joined, HpaError> {
        if self.pods.is_empty() {
            return Err(HpaError::NoPods);
        }
        let (matched, outside) = match_samples(self.pods, metrics);
        let mut joined = Joined::default();
        let mut request_error = None;
        let mut reader =
            requests.map(|(container, resource)| PodRequests::new(container, resource));
        for (pod, metric) in self.pods.iter().zip(matched) {
            let group = group_pod(
                pod,
                metric.as_ref(),
                resource,
                self.cpu_initialization_period,
                self.initial_readiness_delay,
                self.now,
            );
            let request = (reader.as_mut())
                .map(|r| r.of(pod))
                .transpose()
                .unwrap_or_else(|e| {
                    request_error.get_or_insert(e);
                    None
                });
            match (group, metric) {
                (PodGroup::Ready, Some(metric)) => {
                    joined.ready_count += 1;
                    joined.trusted.add(metric.value, request);
                }
                (PodGroup::Unready, _) => joined.unready.push(request),
                (PodGroup::Missing, _) => joined.missing.push(request),
                _ => {}
            }
        }
        for metric in outside {
            joined.trusted.add(metric.value, None);
        }
        if joined.trusted.count == 0 {
            return Err(HpaError::NoMetricsForTargetedPods);
        }
        // Upstream reads requests after grouping: a missing request is reported only
        // when there are samples to measure.
        match request_error {
            Some(e) => Err(e),
            None => Ok(joined),
        }
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

/// The target's pods joined with their samples.
#[derive(Debug, Default)]
struct Joined {
    /// The samples used as is: Ready pods' and those of pods outside the list.
    trusted: SampleSums,
    /// Pods whose sample is used as is.
    ready_count: usize,
    /// Requests of the unready pods (`None` when the metric reads no requests).
    unready: Vec<Option<i64>>,
    /// Requests of the pods without a sample.
    missing: Vec<Option<i64>>,
}

/// The rest of the calculation once samples are grouped: with no gaps, the usage ratio
/// times the ready pods; otherwise fill the gaps conservatively (missing pods at
/// `down_fill` when scaling down, at 0 when scaling up; unready pods at 0 when scaling
/// up) and measure again. Returns the replicas and the first measurement.
fn finish<T>(
    current: i32,
    joined: &Joined,
    tolerances: Tolerances,
    measure: impl Fn(&SampleSums) -> Result<(f64, T), HpaError>,
    down_fill: impl Fn(Option<i64>) -> i64,
) -> Result<(i32, T), HpaError> {
    let (ratio, first) = measure(&joined.trusted)?;
    let scale_up_with_unready = !joined.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && joined.missing.is_empty() {
        if tolerances.is_within(ratio) {
            return Ok((current, first));
        }
        return Ok((ceil_replicas(ratio * joined.ready_count as f64), first));
    }
    let mut sums = joined.trusted;
    if ratio < 1.0 {
        for &request in &joined.missing {
            sums.add(down_fill(request), request);
        }
    } else if ratio > 1.0 {
        for &request in &joined.missing {
            sums.add(0, request);
        }
    }
    if scale_up_with_unready {
        for &request in &joined.unready {
            sums.add(0, request);
        }
    }
    let (new_ratio, _) = measure(&sums)?;
    let samples = usize::try_from(sums.count).unwrap_or(usize::MAX);
    let replicas = rebalanced_replicas(current, ratio, new_ratio, samples, tolerances);
    Ok((replicas, first))
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
