//! The run's summary for a Prometheus Pushgateway: a CronJob has no admin port to scrape, so
//! it pushes (PUT, replacing its group) what it saw and did.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tidal_core::Timestamp;
use tidal_core::quota::RequestStatus;

use crate::report::{Action, Report};

/// The push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The metrics could not be encoded.
    #[error("encoding the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
    /// The Pushgateway URL is not an http(s) URL.
    #[error("--pushgateway-url {0:?} is not a URL like http://pushgateway:9091")]
    Url(String),
    /// The Pushgateway could not be reached or refused the push.
    #[error("pushing to {url}: {source}")]
    Http {
        /// The push URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuotaLabels {
    region: String,
    quota: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    region: String,
    quota: String,
    action: String,
}

/// The report as Prometheus text (labels: region, quota code, action; all bounded).
pub fn encode_report(report: &Report, now: Timestamp) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("tidal_quota_requester");
    let need = Family::<QuotaLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let value = Family::<QuotaLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let action = Family::<ActionLabels, Gauge>::default();
    let refused = Family::<QuotaLabels, Gauge>::default();
    let errors = Gauge::<i64>::default();
    let last_run = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    registry.register(
        "need_vcpus",
        "vCPUs the node pools may use, with headroom",
        need.clone(),
    );
    registry.register("quota_vcpus", "Current quota value in vCPUs", value.clone());
    registry.register(
        "action",
        "What the last run did per quota (1 = this action)",
        action.clone(),
    );
    registry.register(
        "request_refused",
        "1 when the quota's latest increase request was refused or closed without a grant",
        refused.clone(),
    );
    registry.register("errors", "Quotas the last run failed on", errors.clone());
    registry.register(
        "last_run_timestamp_seconds",
        "When the last run finished",
        last_run.clone(),
    );
    for row in &report.quotas {
        let labels = QuotaLabels {
            region: row.region.clone(),
            quota: row.quota_code.clone(),
        };
        need.get_or_create(&labels).set(row.need as f64);
        if let Some(v) = row.value {
            value.get_or_create(&labels).set(v);
        }
        let was_refused = row
            .open_request
            .as_ref()
            .is_some_and(|r| RequestStatus::parse(&r.status).is_refused());
        refused.get_or_create(&labels).set(i64::from(was_refused));
        for a in Action::ALL {
            let labels = ActionLabels {
                region: row.region.clone(),
                quota: row.quota_code.clone(),
                action: a.as_str().to_owned(),
            };
            action
                .get_or_create(&labels)
                .set(i64::from(a == row.action));
        }
    }
    errors.set(i64::try_from(report.errors()).unwrap_or(i64::MAX));
    last_run.set(now.as_millis() as f64 / 1000.0);
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

/// PUTs `report` to `<base>/metrics/job/<job>/region/<region>`, replacing that group.
pub async fn push(base: &str, job: &str, report: &Report, now: Timestamp) -> Result<(), PushError> {
    let body = encode_report(report, now)?;
    let url = group_url(base, job, &report.region)?;
    let http = |source| PushError::Http {
        url: url.to_string(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(http)?;
    client
        .put(url.clone())
        .header("content-type", "text/plain; version=0.0.4")
        .body(body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http)?;
    Ok(())
}

/// The group's URL, each segment percent-encoded.
fn group_url(base: &str, job: &str, region: &str) -> Result<reqwest::Url, PushError> {
    let invalid = || PushError::Url(base.to_owned());
    let mut url = reqwest::Url::parse(base).map_err(|_| invalid())?;
    url.path_segments_mut()
        .map_err(|()| invalid())?
        .pop_if_empty()
        .extend(["metrics", "job", job, "region", region]);
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ports::ValueSource;
    use crate::report::{QuotaRow, RequestRef};

    fn row(code: &str, open_request: Option<&str>) -> QuotaRow {
        QuotaRow {
            region: "eu-west-1".into(),
            quota_code: code.into(),
            quota_name: "Running On-Demand Standard instances".into(),
            value: Some(640.0),
            value_source: Some(ValueSource::Applied),
            pools_vcpus: 800,
            need: 960,
            open_request: open_request.map(|status| RequestRef {
                id: "r-1".into(),
                status: status.into(),
                desired: 960.0,
            }),
            action: Action::Wait,
            requested: None,
            reason: "a request is open or was answered recently".into(),
        }
    }

    #[test]
    fn a_refused_request_is_a_metric_an_alert_can_use() {
        let report = Report {
            region: "eu-west-1".into(),
            dry_run: false,
            quotas: vec![
                row("L-DENIED", Some("DENIED")),
                row("L-CLOSED", Some("CASE_CLOSED")),
                row("L-PENDING", Some("PENDING")),
                row("L-NONE", None),
            ],
            uncovered: vec![],
            other_regions: vec![],
        };
        let text = encode_report(&report, Timestamp::from_secs(1_800_000_000)).unwrap();
        for (code, want) in [
            ("L-DENIED", 1),
            ("L-CLOSED", 1),
            ("L-PENDING", 0),
            ("L-NONE", 0),
        ] {
            let line = format!(
                "tidal_quota_requester_request_refused{{region=\"eu-west-1\",quota=\"{code}\"}} {want}"
            );
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
        }
    }
}
