//! Turning one collection's raw values into one HPA's samples.

use std::collections::BTreeMap;

use tidal_core::Timestamp;
use tidal_core::quantity::Quantity;

use crate::collector::{CollectError, Collected, PodValue};
use crate::config::{Output, OutputTarget};
use crate::store::{DescribedObject, MetricValue, Sample};

/// A value as a Kubernetes quantity with milli precision (what the HPA compares against).
pub fn quantity(what: &str, value: f64) -> Result<Quantity, CollectError> {
    let milli = (value * 1000.0).round();
    // i64::MAX as f64 rounds up to 2^63, so `<` keeps the cast below in range.
    if !milli.is_finite() || milli < i64::MIN as f64 || milli >= i64::MAX as f64 {
        return Err(CollectError::NotFinite {
            what: what.to_string(),
            value: value.to_string(),
        });
    }
    Ok(Quantity::from_milli(milli as i64))
}

/// The samples `collected` means for one HPA metric: labelled by `output.target`, scaled by
/// `weight` and divided by `replicas` for `per-replica`.
pub fn samples_for(
    output: &Output,
    collected: &Collected,
    now: Timestamp,
    replicas: Option<u32>,
) -> Result<Vec<Sample>, CollectError> {
    let factor = factor(output, replicas)?;
    let sample = |target: MetricValue, value: f64, what: &str| -> Result<Sample, CollectError> {
        Ok(Sample {
            target,
            value: quantity(what, value * factor)?,
            timestamp: now,
            window: None,
        })
    };
    match (&output.target, collected) {
        (OutputTarget::Pods { namespace, metric }, Collected::PerPod(values)) => values
            .iter()
            .map(|v| sample(pod_metric(namespace, metric, v), v.value, &v.name))
            .collect(),
        (OutputTarget::Object { object, metric }, Collected::Value(value)) => {
            let target = MetricValue::Custom {
                object: object.clone(),
                metric: metric.clone(),
                metric_labels: BTreeMap::new(),
            };
            Ok(vec![sample(target, *value, metric)?])
        }
        (
            OutputTarget::External {
                namespace,
                metric,
                labels,
            },
            Collected::Value(value),
        ) => {
            let target = MetricValue::External {
                namespace: namespace.clone(),
                metric: metric.clone(),
                metric_labels: labels.clone(),
            };
            Ok(vec![sample(target, *value, metric)?])
        }
        (OutputTarget::Pods { .. }, Collected::Value(_)) => Err(CollectError::Shape {
            expected: "pods",
            found: "one value",
        }),
        (_, Collected::PerPod(_)) => Err(CollectError::Shape {
            expected: "object or external",
            found: "per-pod values",
        }),
    }
}

/// What a raw value is multiplied by: the weight, divided by the replicas for `per-replica`
/// (which needs a known, non-zero count).
fn factor(output: &Output, replicas: Option<u32>) -> Result<f64, CollectError> {
    let weight = output.weight_percent.map_or(1.0, |w| w / 100.0);
    if !output.per_replica {
        return Ok(weight);
    }
    match replicas {
        Some(n) if n > 0 => Ok(weight / f64::from(n)),
        _ => Err(CollectError::NoReplicas),
    }
}

/// The custom metric `metric` described on one pod of `namespace`.
fn pod_metric(namespace: &str, metric: &str, pod: &PodValue) -> MetricValue {
    MetricValue::Custom {
        object: DescribedObject {
            api_version: "v1".to_string(),
            kind: "Pod".to_string(),
            resource: "pods".to_string(),
            namespace: Some(namespace.to_owned()),
            name: pod.name.clone(),
            labels: pod.labels.clone(),
        },
        metric: metric.to_owned(),
        metric_labels: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn external(per_replica: bool, weight_percent: Option<f64>) -> Output {
        Output {
            target: OutputTarget::External {
                namespace: "shop".into(),
                metric: "queue".into(),
                labels: BTreeMap::from([("type".to_string(), "sqs-queue-length".to_string())]),
            },
            per_replica,
            weight_percent,
        }
    }

    #[test]
    fn external_value_with_weight_and_per_replica() {
        let now = Timestamp::from_secs(10);
        let samples =
            samples_for(&external(false, None), &Collected::Value(12.5), now, None).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].value.milli_value(), 12_500);
        assert_eq!(samples[0].timestamp, now);
        let MetricValue::External { metric_labels, .. } = &samples[0].target else {
            panic!()
        };
        assert_eq!(metric_labels["type"], "sqs-queue-length");

        let weighted = samples_for(
            &external(false, Some(42.0)),
            &Collected::Value(100.0),
            now,
            None,
        )
        .unwrap();
        assert_eq!(weighted[0].value.milli_value(), 42_000);
        let per_replica =
            samples_for(&external(true, None), &Collected::Value(9.0), now, Some(4)).unwrap();
        assert_eq!(per_replica[0].value.milli_value(), 2_250);
        let err =
            samples_for(&external(true, None), &Collected::Value(9.0), now, Some(0)).unwrap_err();
        assert!(matches!(err, CollectError::NoReplicas));
    }

    #[test]
    fn pods_values_become_one_custom_sample_per_pod() {
        let output = Output {
            target: OutputTarget::Pods {
                namespace: "shop".into(),
                metric: "rps".into(),
            },
            per_replica: false,
            weight_percent: None,
        };
        let values = Collected::PerPod(vec![
            PodValue {
                name: "a".into(),
                labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
                value: 1.0006,
            },
            PodValue {
                name: "b".into(),
                labels: BTreeMap::new(),
                value: 2.0,
            },
        ]);
        let samples = samples_for(&output, &values, Timestamp::from_secs(1), None).unwrap();
        assert_eq!(samples.len(), 2);
        let MetricValue::Custom { object, metric, .. } = &samples[0].target else {
            panic!()
        };
        assert_eq!(
            (
                object.resource.as_str(),
                object.name.as_str(),
                metric.as_str()
            ),
            ("pods", "a", "rps")
        );
        assert_eq!(object.labels["app"], "web");
        assert_eq!(samples[0].value.milli_value(), 1001);
        assert!(
            samples_for(
                &output,
                &Collected::Value(1.0),
                Timestamp::from_secs(1),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        assert!(quantity("x", 1e300).is_err());
        assert!(quantity("x", f64::NAN).is_err());
        assert_eq!(quantity("x", -0.5).unwrap().milli_value(), -500);
    }
}
