//! `/debug/collectors`: every HPA metric with its collector type, last value, age and last
//! error, as JSON. The API server mounts the route; this module builds the body.

use serde_json::{Value, json};
use tidal_core::Timestamp;

use crate::collector::Collected;
use crate::poller::{CollectorReport, Poller};

fn time(t: Option<Timestamp>) -> Value {
    t.and_then(|t| chrono::DateTime::from_timestamp_millis(t.as_millis()))
        .map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

fn age(now: Timestamp, t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| json!(now.since(t).as_secs_f64()))
}

fn value(collected: Option<&Collected>) -> Value {
    match collected {
        None => Value::Null,
        Some(Collected::Value(v)) => json!(v),
        Some(Collected::PerPod(pods)) => {
            let map: serde_json::Map<String, Value> = pods
                .iter()
                .map(|p| (p.name.clone(), json!(p.value)))
                .collect();
            json!({ "pods": map })
        }
    }
}

/// One JSON object per report.
pub fn report_json(report: &CollectorReport, now: Timestamp) -> Value {
    let status = report.status.as_ref();
    json!({
        "id": report.id.as_ref().map(|i| i.0.clone()),
        "namespace": report.hpa.namespace,
        "hpa": report.hpa.name,
        "metric_type": report.metric.as_ref().map(|m| m.metric_type.as_str()),
        "metric": report.metric.as_ref().map(|m| m.name.clone()),
        "collector": report.collector_type.map(|c| c.as_str()),
        "source": report.source,
        "interval_seconds": report.interval.map(|i| i.as_secs_f64()),
        "shared_with": report.shared_with,
        "last_value": value(status.and_then(|s| s.last_value.as_ref())),
        "last_success": time(status.and_then(|s| s.last_success)),
        "age_seconds": age(now, status.and_then(|s| s.last_success)),
        "last_error": status.and_then(|s| s.last_error.clone()),
        "last_error_reason": status.and_then(|s| s.last_error_reason),
        "last_error_at": time(status.and_then(|s| s.last_error_at)),
        "consecutive_failures": status.map_or(0, |s| s.consecutive_failures),
        "config_error": report.config_error,
    })
}

/// The `/debug/collectors` body at `now`.
pub fn debug_collectors_json(poller: &Poller, now: Timestamp) -> Value {
    let collectors: Vec<Value> = poller
        .reports()
        .iter()
        .map(|r| report_json(r, now))
        .collect();
    json!({ "collectors": collectors })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use super::*;
    use crate::annotations::{MetricKey, MetricType};
    use crate::config::{CollectorType, HpaKey};
    use crate::poller::CollectorStatus;
    use crate::store::CollectorId;

    #[test]
    fn reports_value_age_and_errors() {
        let now = Timestamp::from_secs(1_800_000_100);
        let report = CollectorReport {
            id: Some(CollectorId("shop/web/external/q".into())),
            hpa: HpaKey {
                namespace: "shop".into(),
                name: "web".into(),
            },
            metric: Some(MetricKey {
                metric_type: MetricType::External,
                name: "q".into(),
            }),
            collector_type: Some(CollectorType::SqsQueueLength),
            source: Some("sqs eu-central-1 jobs".into()),
            interval: Some(Duration::from_secs(30)),
            shared_with: 1,
            status: Some(CollectorStatus {
                last_success: Some(Timestamp::from_secs(1_800_000_000)),
                last_value: Some(Collected::Value(7.0)),
                last_error: Some("SQS eu-central-1 queue \"jobs\": throttled".into()),
                last_error_reason: Some("aws"),
                last_error_at: Some(Timestamp::from_secs(1_800_000_090)),
                consecutive_failures: 1,
                ..CollectorStatus::default()
            }),
            config_error: None,
        };
        let json = report_json(&report, now);
        assert_eq!(json["collector"], "sqs-queue-length");
        assert_eq!(json["metric_type"], "external");
        assert_eq!(json["last_value"], 7.0);
        assert_eq!(json["age_seconds"], 100.0);
        assert_eq!(json["last_success"], "2027-01-15T08:00:00+00:00");
        assert_eq!(json["last_error_reason"], "aws");
        assert_eq!(json["interval_seconds"], 30.0);
        assert!(json["config_error"].is_null());
    }
}
