//! What the poller knows about every HPA metric, for `/debug/collectors`.

use std::time::Duration;

use super::{CollectorStatus, Poller};
use crate::annotations::MetricKey;
use crate::config::{CollectorType, HpaKey};
use crate::store::CollectorId;

/// One HPA metric as the poller sees it: collecting (with status) or failed config.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorReport {
    /// Store key; `None` for config errors not tied to one metric.
    pub id: Option<CollectorId>,
    /// The HPA.
    pub hpa: HpaKey,
    /// The metric, when known.
    pub metric: Option<MetricKey>,
    /// Collector type, for collecting metrics.
    pub collector_type: Option<CollectorType>,
    /// What is queried (backend and query), for collecting metrics.
    pub source: Option<String>,
    /// Collection interval of this metric.
    pub interval: Option<Duration>,
    /// How many other HPA metrics share the same query.
    pub shared_with: usize,
    /// Latest collection outcome.
    pub status: Option<CollectorStatus>,
    /// Why the metric is not collected, for config errors.
    pub config_error: Option<String>,
}

impl Poller {
    /// Every collecting metric and every config error, ordered by HPA and id.
    pub fn reports(&self) -> Vec<CollectorReport> {
        let state = self.lock();
        let mut out: Vec<CollectorReport> = state
            .subs
            .iter()
            .map(|(id, sub)| {
                let query = state.queries.get(&sub.query);
                CollectorReport {
                    id: Some(id.clone()),
                    hpa: sub.config.hpa.clone(),
                    metric: Some(sub.config.metric.clone()),
                    collector_type: Some(sub.config.collector_type()),
                    source: Some(sub.config.source.to_string()),
                    interval: Some(sub.config.interval),
                    shared_with: query.map_or(0, |q| q.subscribers.len().saturating_sub(1)),
                    status: Some(sub.status.clone()),
                    config_error: None,
                }
            })
            .collect();
        for (hpa, entry) in &state.hpas {
            out.extend(entry.config_errors.iter().map(|e| CollectorReport {
                id: e.id.clone(),
                hpa: hpa.clone(),
                metric: e.metric.clone(),
                collector_type: None,
                source: None,
                interval: None,
                shared_with: 0,
                status: None,
                config_error: Some(e.error.to_string()),
            }));
        }
        out.sort_by(|a, b| (&a.hpa, &a.id).cmp(&(&b.hpa, &b.id)));
        out
    }
}
