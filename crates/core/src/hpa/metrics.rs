//! One proposal per metric, and their combination (`computeReplicasForMetric(s)`).

use super::HpaError;
use super::config::Tolerances;
use super::decision::{MetricCurrent, MetricOutcome, MetricProposal};
use super::observation::{MetricObservation, PodMetricSample, PodResourceSample};
use super::pods::{PodMetric, PodMetrics};
use super::replicas::{ReplicaCalculator, external_total, per_pod_replicas};
use super::spec::{MetricSpec, MetricTarget};

/// What every metric of one HPA is computed against.
#[derive(Clone, Copy, Debug)]
pub struct MetricContext<'a> {
    /// `scale.spec.replicas`.
    pub spec_replicas: i32,
    /// `scale.status.replicas`.
    pub status_replicas: i32,
    /// The pods and the controller's timing settings.
    pub calculator: ReplicaCalculator<'a>,
    /// This HPA's tolerances.
    pub tolerances: Tolerances,
}

/// The combination of all metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSummary {
    /// The largest proposal; `None` when every metric failed, or some failed and the
    /// others would scale down (Kubernetes then leaves the count alone).
    pub replicas: Option<i32>,
    /// Description of the metric behind `replicas`.
    pub metric: Option<String>,
    /// Every metric's result, in spec order.
    pub outcomes: Vec<MetricOutcome>,
}

/// Computes every metric and combines them: the largest proposal wins; a failed metric
/// may let the others scale up but never down.
pub fn compute_replicas_for_metrics(
    metrics: &[MetricSpec],
    observations: &[MetricObservation],
    ctx: &MetricContext<'_>,
) -> MetricsSummary {
    let mut replicas = 0;
    let mut metric = None;
    let mut invalid = 0;
    let mut outcomes = Vec::with_capacity(metrics.len());
    for (index, spec) in metrics.iter().enumerate() {
        let outcome = compute_metric(index, spec, observations.get(index), ctx);
        match &outcome.result {
            Ok(proposal) => {
                if replicas == 0 || proposal.replicas > replicas {
                    replicas = proposal.replicas;
                    metric = Some(outcome.description.clone());
                }
            }
            Err(_) => invalid += 1,
        }
        outcomes.push(outcome);
    }
    let blocked = invalid >= metrics.len() || (invalid > 0 && replicas < ctx.spec_replicas);
    MetricsSummary {
        replicas: (!blocked).then_some(replicas),
        metric: if blocked { None } else { metric },
        outcomes,
    }
}

/// One metric's proposal from its observation.
pub fn compute_metric(
    index: usize,
    spec: &MetricSpec,
    observation: Option<&MetricObservation>,
    ctx: &MetricContext<'_>,
) -> MetricOutcome {
    let description = spec.describe();
    let result = match observation {
        None => Err(HpaError::MissingObservation {
            index,
            metric: description.clone(),
        }),
        Some(MetricObservation::Unavailable(reason)) => Err(HpaError::MetricUnavailable {
            metric: description.clone(),
            reason: reason.clone(),
        }),
        Some(observation) => propose(spec, observation, ctx).map_err(|e| match e {
            Mismatch::Expected(expected) => HpaError::ObservationMismatch {
                index,
                metric: description.clone(),
                expected,
                got: observation.kind(),
            },
            Mismatch::Failed(error) => error,
        }),
    };
    MetricOutcome {
        index,
        metric_type: spec.type_name(),
        description,
        result,
    }
}

/// A metric failure, or an observation of the wrong kind (named once the index is known).
enum Mismatch {
    Expected(&'static str),
    Failed(HpaError),
}

impl From<HpaError> for Mismatch {
    fn from(error: HpaError) -> Self {
        Mismatch::Failed(error)
    }
}

fn propose(
    spec: &MetricSpec,
    observation: &MetricObservation,
    ctx: &MetricContext<'_>,
) -> Result<MetricProposal, Mismatch> {
    match (spec, observation) {
        (MetricSpec::Resource { resource }, MetricObservation::Resource(samples)) => {
            resource_proposal(&resource.name, None, &resource.target, samples, ctx)
        }
        (
            MetricSpec::ContainerResource {
                container_resource: c,
            },
            MetricObservation::Resource(samples),
        ) => resource_proposal(&c.name, Some(&c.container), &c.target, samples, ctx),
        (MetricSpec::Pods { pods }, MetricObservation::Pods(samples)) => {
            pods_proposal(&pods.target, samples, ctx)
        }
        (MetricSpec::Object { object }, MetricObservation::Object(value)) => {
            Ok(total_proposal(&object.target, *value, ctx)?)
        }
        (MetricSpec::External { external }, MetricObservation::External(samples)) => {
            if samples.is_empty() {
                return Err(HpaError::NoMetricsReturned { api: "external" }.into());
            }
            Ok(total_proposal(
                &external.target,
                external_total(samples),
                ctx,
            )?)
        }
        (MetricSpec::Resource { .. } | MetricSpec::ContainerResource { .. }, _) => {
            Err(Mismatch::Expected("Resource"))
        }
        (MetricSpec::Pods { .. }, _) => Err(Mismatch::Expected("Pods")),
        (MetricSpec::Object { .. }, _) => Err(Mismatch::Expected("Object")),
        (MetricSpec::External { .. }, _) => Err(Mismatch::Expected("External")),
    }
}

/// Samples by pod: the named container's usage, or the sum over the pod's containers
/// (a pod reporting no containers has no sample, as upstream).
fn resource_metrics<'a>(
    samples: &'a [PodResourceSample],
    container: Option<&str>,
) -> PodMetrics<'a> {
    let mut metrics = PodMetrics::with_capacity(samples.len());
    for sample in samples {
        let value = match container {
            Some(name) => sample
                .containers
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.usage),
            None if sample.containers.is_empty() => None,
            None => Some(
                sample
                    .containers
                    .iter()
                    .fold(0i64, |acc, c| acc.saturating_add(c.usage)),
            ),
        };
        if let Some(value) = value {
            metrics.push((
                sample.pod.as_str(),
                PodMetric {
                    value,
                    timestamp: sample.timestamp,
                    window: sample.window,
                },
            ));
        }
    }
    metrics
}

fn resource_proposal(
    resource: &str,
    container: Option<&str>,
    target: &MetricTarget,
    samples: &[PodResourceSample],
    ctx: &MetricContext<'_>,
) -> Result<MetricProposal, Mismatch> {
    if samples.is_empty() {
        return Err(HpaError::NoMetricsReturned { api: "resource" }.into());
    }
    let metrics = resource_metrics(samples, container);
    let calc = &ctx.calculator;
    match target {
        MetricTarget::Utilization {
            average_utilization,
        } => {
            let p = calc.resource_replicas(
                ctx.spec_replicas,
                *average_utilization,
                resource,
                container,
                metrics,
                ctx.tolerances,
            )?;
            Ok(MetricProposal {
                replicas: p.replicas,
                current: MetricCurrent {
                    average_utilization: Some(p.utilization),
                    average_value: Some(p.raw_average),
                    value: None,
                },
            })
        }
        MetricTarget::AverageValue { average_value } => {
            let p = calc.plain_metric_replicas(
                ctx.spec_replicas,
                average_value.milli_value(),
                Some(resource),
                metrics,
                ctx.tolerances,
            )?;
            Ok(average_proposal(p.replicas, p.usage))
        }
        MetricTarget::Value { .. } => Err(invalid_target("Resource", target).into()),
    }
}

fn pods_proposal(
    target: &MetricTarget,
    samples: &[PodMetricSample],
    ctx: &MetricContext<'_>,
) -> Result<MetricProposal, Mismatch> {
    if samples.is_empty() {
        return Err(HpaError::NoMetricsReturned { api: "custom" }.into());
    }
    let MetricTarget::AverageValue { average_value } = target else {
        return Err(invalid_target("Pods", target).into());
    };
    let mut metrics = PodMetrics::with_capacity(samples.len());
    for sample in samples {
        metrics.push((
            sample.pod.as_str(),
            PodMetric {
                value: sample.value,
                timestamp: crate::Timestamp::default(),
                window: std::time::Duration::ZERO,
            },
        ));
    }
    let p = ctx.calculator.plain_metric_replicas(
        ctx.spec_replicas,
        average_value.milli_value(),
        None,
        metrics,
        ctx.tolerances,
    )?;
    Ok(average_proposal(p.replicas, p.usage))
}

/// Object and External metrics: one total value against a `Value` or `AverageValue`.
fn total_proposal(
    target: &MetricTarget,
    usage: i64,
    ctx: &MetricContext<'_>,
) -> Result<MetricProposal, HpaError> {
    match target {
        MetricTarget::Value { value } => {
            let ratio = usage as f64 / value.milli_value() as f64;
            let replicas =
                ctx.calculator
                    .usage_ratio_replicas(ctx.spec_replicas, ratio, ctx.tolerances)?;
            Ok(MetricProposal {
                replicas,
                current: MetricCurrent {
                    value: Some(usage),
                    ..MetricCurrent::default()
                },
            })
        }
        MetricTarget::AverageValue { average_value } => {
            let p = per_pod_replicas(
                ctx.status_replicas,
                usage,
                average_value.milli_value(),
                ctx.tolerances,
            );
            Ok(average_proposal(p.replicas, p.usage))
        }
        MetricTarget::Utilization { .. } => Err(invalid_target("Object/External", target)),
    }
}

fn average_proposal(replicas: i32, average: i64) -> MetricProposal {
    MetricProposal {
        replicas,
        current: MetricCurrent {
            average_value: Some(average),
            ..MetricCurrent::default()
        },
    }
}

/// Unreachable for validated specs; kept as an error rather than a panic.
fn invalid_target(metric_type: &str, target: &MetricTarget) -> HpaError {
    HpaError::InvalidSpec {
        field: "target.type".to_owned(),
        reason: format!(
            "{} is not allowed for a {metric_type} metric",
            target.kind()
        ),
    }
}
