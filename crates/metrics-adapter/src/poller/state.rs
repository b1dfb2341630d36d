//! The poller's bookkeeping: subscriptions (one per HPA metric), queries (one per distinct
//! source, shared by its subscribers), the timer heap and per-collector status.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tokio::time::Instant;

use crate::collector::{Collected, Collector};
use crate::config::{CollectorConfig, HpaKey, MetricConfigError, Source};
use crate::events::FailureWarnState;
use crate::store::CollectorId;

/// Id of a query; never reused, so stale timer entries of a dropped query are recognised.
pub(super) type QueryId = u64;

/// The outcome of the latest collections of one HPA metric.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollectorStatus {
    /// When the last collection started.
    pub last_attempt: Option<Timestamp>,
    /// When the last successful collection started.
    pub last_success: Option<Timestamp>,
    /// What the last successful collection produced.
    pub last_value: Option<Collected>,
    /// Message of the last failure, cleared by a success.
    pub last_error: Option<String>,
    /// Bounded reason of the last failure.
    pub last_error_reason: Option<&'static str>,
    /// When the last failure happened.
    pub last_error_at: Option<Timestamp>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Event de-duplication state.
    pub warn: FailureWarnState,
}

pub(super) struct Subscription {
    pub config: CollectorConfig,
    pub query: QueryId,
    pub status: CollectorStatus,
}

pub(super) struct Query {
    pub source: Source,
    pub collector: Option<Arc<dyn Collector>>,
    pub interval: Duration,
    pub generation: u64,
    pub subscribers: BTreeSet<CollectorId>,
    pub running: bool,
}

#[derive(Default)]
pub(super) struct HpaEntry {
    pub uid: Option<String>,
    pub ids: BTreeSet<CollectorId>,
    pub replicas: Option<u32>,
    pub config_errors: Vec<MetricConfigError>,
}

#[derive(Default)]
pub(super) struct State {
    pub subs: HashMap<CollectorId, Subscription>,
    pub queries: HashMap<QueryId, Query>,
    pub by_source: HashMap<Source, QueryId>,
    pub hpas: HashMap<HpaKey, HpaEntry>,
    pub timers: BinaryHeap<Reverse<(Instant, QueryId, u64)>>,
    pub next_query: QueryId,
}

/// Deterministic delay before a source's first collection, in `[0, interval)`: a hash of the
/// source spreads thousands of collectors over the interval instead of firing them together,
/// and the same source always gets the same slot.
pub fn start_offset(source: &Source, interval: Duration) -> Duration {
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    let interval_ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(hasher.finish() % interval_ms)
}

impl State {
    /// The namespace whose share of collection slots a query uses: its first subscriber's (a
    /// query shared across namespaces asks the same question for all of them).
    pub fn namespace_of(&self, query: QueryId) -> String {
        self.queries
            .get(&query)
            .and_then(|q| q.subscribers.iter().next())
            .and_then(|id| self.subs.get(id))
            .map(|sub| sub.config.hpa.namespace.clone())
            .unwrap_or_default()
    }

    pub fn schedule(&mut self, query: QueryId, at: Instant) {
        if let Some(q) = self.queries.get(&query) {
            self.timers.push(Reverse((at, query, q.generation)));
        }
    }

    /// Adds a subscription, joining or creating the query of its source.
    pub fn subscribe(
        &mut self,
        config: CollectorConfig,
        collector: impl FnOnce(&Source) -> Option<Arc<dyn Collector>>,
        now: Instant,
    ) {
        let id = config.id.clone();
        let interval = config.interval;
        let query_id = match self.by_source.get(&config.source) {
            Some(q) => *q,
            None => {
                let q = self.next_query;
                self.next_query += 1;
                self.queries.insert(
                    q,
                    Query {
                        source: config.source.clone(),
                        collector: collector(&config.source),
                        interval,
                        generation: 0,
                        subscribers: BTreeSet::new(),
                        running: false,
                    },
                );
                self.by_source.insert(config.source.clone(), q);
                self.schedule(q, now + start_offset(&config.source, interval));
                q
            }
        };
        if let Some(query) = self.queries.get_mut(&query_id) {
            query.subscribers.insert(id.clone());
            if interval < query.interval {
                self.retime(query_id, interval, now);
            }
        }
        self.subs.insert(
            id,
            Subscription {
                config,
                query: query_id,
                status: CollectorStatus::default(),
            },
        );
    }

    /// Changes a query's interval; older timer entries become stale.
    fn retime(&mut self, query_id: QueryId, interval: Duration, now: Instant) {
        let Some(query) = self.queries.get_mut(&query_id) else {
            return;
        };
        query.interval = interval;
        query.generation += 1;
        let at = now + start_offset(&query.source, interval);
        self.schedule(query_id, at);
    }

    /// Removes a subscription; drops its query when nobody else uses it. Returns the removed
    /// config.
    pub fn unsubscribe(&mut self, id: &CollectorId, now: Instant) -> Option<CollectorConfig> {
        let sub = self.subs.remove(id)?;
        let mut emptied = false;
        let mut new_interval = None;
        if let Some(query) = self.queries.get_mut(&sub.query) {
            query.subscribers.remove(id);
            emptied = query.subscribers.is_empty();
            let min = query
                .subscribers
                .iter()
                .filter_map(|s| self.subs.get(s))
                .map(|s| s.config.interval)
                .min();
            if let Some(min) = min
                && min != query.interval
            {
                new_interval = Some(min);
            }
        }
        if emptied {
            if let Some(query) = self.queries.remove(&sub.query) {
                self.by_source.remove(&query.source);
            }
        } else if let Some(interval) = new_interval {
            self.retime(sub.query, interval, now);
        }
        Some(sub.config)
    }
}
