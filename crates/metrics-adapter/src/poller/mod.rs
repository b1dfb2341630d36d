//! The poller: runs every collector at its interval and fans the results out to the store.
//!
//! - Each HPA metric subscribes to the query of its [`Source`]; equal sources (same backend and
//!   same query/URL/queue) from different HPAs are one query, run once per interval, and the
//!   result is written under every subscriber's [`CollectorId`].
//! - A query runs at the shortest interval of its subscribers; its first run is delayed by a
//!   deterministic hash of the source ([`start_offset`]) so collectors do not fire together.
//! - Results go to the store with TTL = 3 × the subscriber's interval. A failure writes nothing
//!   (the old value expires), records the error for `/debug/collectors` and the metrics, and
//!   warns on the HPA once per new kind of failure.
//! - At most `max_concurrent` collections run at once, and at most `max_concurrent_per_namespace`
//!   of one namespace; freed slots go to the waiting namespace running fewest ([`FairSlots`]),
//!   so one namespace's slow endpoints cannot starve another's. A collection waits for a slot
//!   at most [`slot_wait`] and then runs at most [`collection_timeout`]; a query still running
//!   at its next tick skips that tick rather than piling up.
//! - Values live [`TTL_INTERVALS`] intervals, never longer than [`MAX_TTL`].

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tidal_core::sync;

use tidal_core::Timestamp;
use tidal_runtime::Clock;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::collector::{CollectError, Collected, Collector, CollectorFactory};
use crate::config::limits::MAX_TIMEOUT;
use crate::config::{CollectorConfig, HpaCollectors, HpaKey, Source};
use crate::events::{EventSink, REASON_COLLECTION, Warning, event_note};
use crate::metrics::Metrics;
use crate::redact::shown;
use crate::store::{CollectorId, MetricStore};

mod fair;
mod output;
mod report;
mod state;

use fair::FairSlots;
use output::samples_for;
pub use report::CollectorReport;
pub use state::CollectorStatus;
#[cfg(test)]
use state::start_offset;
use state::{QueryId, State, Subscription};

/// Values live for this many intervals: one or two failed collections do not drop a metric.
pub const TTL_INTERVALS: u32 = 3;
/// Longest a value lives, whatever its interval.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 60);
/// Longest a collection waits for a slot.
const MAX_SLOT_WAIT: Duration = Duration::from_secs(10);

/// How long a collection at `interval` may run: its interval, at most [`MAX_TIMEOUT`].
pub fn collection_timeout(interval: Duration) -> Duration {
    interval.min(MAX_TIMEOUT)
}

/// How long a collection at `interval` waits for a slot: half its interval, at most 10 s. A
/// collection that cannot start by then fails for this interval (and says the adapter is busy)
/// instead of queueing behind slow collections.
pub fn slot_wait(interval: Duration) -> Duration {
    (interval / 2).min(MAX_SLOT_WAIT)
}

/// How long the values of a collection at `interval` stay fresh.
pub fn ttl(interval: Duration) -> Duration {
    (interval * TTL_INTERVALS).min(MAX_TTL)
}

/// What the poller writes to and reads from.
#[derive(Clone)]
pub struct PollerDeps {
    /// Where values go.
    pub store: MetricStore,
    /// Collection counters.
    pub metrics: Metrics,
    /// Builds collectors.
    pub factory: Arc<dyn CollectorFactory>,
    /// Warning Events.
    pub events: Arc<dyn EventSink>,
    /// Wall clock for sample timestamps.
    pub clock: Clock,
    /// Collections running at once.
    pub max_concurrent: usize,
    /// Collections of one namespace running at once.
    pub max_concurrent_per_namespace: usize,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
    slots: FairSlots,
    deps: PollerDeps,
}

/// Handle to the poller; clones share it.
#[derive(Clone)]
pub struct Poller {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Poller")
            .field("subscriptions", &state.subs.len())
            .field("queries", &state.queries.len())
            .finish()
    }
}

impl Poller {
    /// A poller with nothing to collect yet; call [`Poller::run`] to start it.
    pub fn new(deps: PollerDeps) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Notify::new(),
                slots: FairSlots::new(deps.max_concurrent, deps.max_concurrent_per_namespace),
                deps,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent before anything can panic.
        sync::lock(&self.shared.state)
    }

    fn build_collector(&self, source: &Source) -> Option<Arc<dyn Collector>> {
        match self.shared.deps.factory.collector_for(source) {
            Ok(collector) => Some(collector),
            Err(e) => {
                // Retried at every tick; the error is recorded there.
                tracing::warn!(source = %source, error = %shown(&e), "cannot build collector");
                None
            }
        }
    }

    /// Replaces the collectors of one HPA with `built`. Unchanged metrics keep running (and
    /// keep their values); changed or removed ones lose their values.
    pub fn sync_hpa(&self, built: HpaCollectors, uid: Option<String>, replicas: Option<u32>) {
        let now = Instant::now();
        let mut state = self.lock();
        let key = built.hpa.clone();
        let old_ids = state
            .hpas
            .get(&key)
            .map(|e| e.ids.clone())
            .unwrap_or_default();
        let new_ids: BTreeSet<CollectorId> = built.configs.iter().map(|c| c.id.clone()).collect();
        for id in old_ids.difference(&new_ids) {
            self.drop_subscription(&mut state, id, now);
        }
        for config in built.configs {
            match state.subs.get(&config.id) {
                Some(sub) if sub.config == config => continue,
                Some(_) => self.drop_subscription(&mut state, &config.id.clone(), now),
                None => {}
            }
            state.subscribe(config, |s| self.build_collector(s), now);
        }
        let entry = state.hpas.entry(key).or_default();
        entry.uid = uid;
        entry.ids = new_ids;
        entry.replicas = replicas;
        entry.config_errors = built.errors;
        drop(state);
        self.shared.wake.notify_one();
    }

    /// Updates the replica count `per-replica` metrics divide by.
    pub fn set_replicas(&self, hpa: &HpaKey, replicas: Option<u32>) {
        if let Some(entry) = self.lock().hpas.get_mut(hpa) {
            entry.replicas = replicas;
        }
    }

    /// Stops collecting for a deleted HPA and removes its values.
    pub fn remove_hpa(&self, hpa: &HpaKey) {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(entry) = state.hpas.remove(hpa) else {
            return;
        };
        for id in &entry.ids {
            self.drop_subscription(&mut state, id, now);
        }
    }

    fn drop_subscription(&self, state: &mut State, id: &CollectorId, now: Instant) {
        let Some(config) = state.unsubscribe(id, now) else {
            return;
        };
        self.shared.deps.store.remove_collector(id);
        let collector_type = config.collector_type();
        let still_used = state.hpas.get(&config.hpa).is_some_and(|entry| {
            entry.ids.iter().any(|other| {
                other != id
                    && state
                        .subs
                        .get(other)
                        .is_some_and(|s| s.config.collector_type() == collector_type)
            })
        });
        if !still_used {
            self.shared.deps.metrics.forget_hpa(
                collector_type.as_str(),
                &config.hpa.namespace,
                &config.hpa.name,
            );
        }
    }

    /// Number of distinct queries (after de-duplication).
    #[cfg(test)]
    pub fn query_count(&self) -> usize {
        self.lock().queries.len()
    }

    /// Status of one HPA metric's collections.
    #[cfg(test)]
    pub fn status(&self, id: &CollectorId) -> Option<CollectorStatus> {
        self.lock().subs.get(id).map(|s| s.status.clone())
    }

    /// Runs the poller until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let next = self.start_due(Instant::now());
            let wake_at = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                () = &mut shutdown => return,
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Starts every query due at `now`; returns when the next one is due.
    fn start_due(&self, now: Instant) -> Option<Instant> {
        let mut launches: Vec<(QueryId, Arc<dyn Collector>, Duration, String)> = Vec::new();
        let mut setup_failures: Vec<(QueryId, CollectError)> = Vec::new();
        let next = {
            let mut state = self.lock();
            while let Some(&std::cmp::Reverse((at, query_id, generation))) = state.timers.peek() {
                if at > now {
                    break;
                }
                state.timers.pop();
                let Some(query) = state.queries.get_mut(&query_id) else {
                    continue;
                };
                if query.generation != generation {
                    continue;
                }
                // After a stall, continue from now instead of firing every missed tick.
                let next_at = (at + query.interval).max(now + query.interval / 2);
                let interval = query.interval;
                if !query.running {
                    if query.collector.is_none() {
                        match self.shared.deps.factory.collector_for(&query.source) {
                            Ok(c) => query.collector = Some(c),
                            Err(e) => setup_failures.push((query_id, e)),
                        }
                    }
                    if let Some(collector) = &query.collector {
                        query.running = true;
                        let collector = collector.clone();
                        let namespace = state.namespace_of(query_id);
                        launches.push((query_id, collector, interval, namespace));
                    }
                } else {
                    tracing::debug!(source = %query.source, "previous collection still running; tick skipped");
                }
                state
                    .timers
                    .push(std::cmp::Reverse((next_at, query_id, generation)));
            }
            state.timers.peek().map(|t| t.0.0)
        };
        let wall = self.shared.deps.clock.now();
        for (query_id, error) in setup_failures {
            self.complete(query_id, wall, Err(error));
        }
        for (query_id, collector, interval, namespace) in launches {
            self.launch(query_id, collector, interval, namespace);
        }
        next
    }

    fn launch(
        &self,
        query_id: QueryId,
        collector: Arc<dyn Collector>,
        interval: Duration,
        namespace: String,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            let wait = slot_wait(interval);
            let acquire = this.shared.slots.acquire(&namespace);
            let Ok(slot) = tokio::time::timeout(wait, acquire).await else {
                let error = CollectError::Overloaded {
                    what: "collection slot",
                    waited: wait,
                };
                this.complete(query_id, this.shared.deps.clock.now(), Err(error));
                return;
            };
            let started = this.shared.deps.clock.now();
            let timeout = collection_timeout(interval);
            let result = match tokio::time::timeout(timeout, collector.collect(started)).await {
                Ok(result) => result,
                Err(_) => Err(CollectError::Timeout { after: timeout }),
            };
            drop(slot);
            this.complete(query_id, started, result);
        });
    }

    /// Fans one collection result out to every subscriber of the query.
    fn complete(
        &self,
        query_id: QueryId,
        started: Timestamp,
        result: Result<Collected, CollectError>,
    ) {
        let deps = &self.shared.deps;
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(query) = state.queries.get_mut(&query_id) else {
            return;
        };
        query.running = false;
        for id in &query.subscribers {
            let Some(sub) = state.subs.get_mut(id) else {
                continue;
            };
            let hpa = state.hpas.get(&sub.config.hpa);
            let replicas = hpa.and_then(|h| h.replicas);
            let uid = hpa.and_then(|h| h.uid.clone());
            match &result {
                Ok(collected) => {
                    match samples_for(&sub.config.output, collected, started, replicas) {
                        Ok(samples) => {
                            deps.store.put(id, samples, ttl(sub.config.interval));
                            record_success(deps, sub, started, collected);
                        }
                        Err(e) => record_failure(deps, sub, started, &e, uid),
                    }
                }
                Err(e) => record_failure(deps, sub, started, e, uid),
            }
        }
    }
}

fn record_success(deps: &PollerDeps, sub: &mut Subscription, at: Timestamp, value: &Collected) {
    let config = &sub.config;
    deps.metrics.collection_succeeded(
        config.collector_type().as_str(),
        &config.hpa.namespace,
        &config.hpa.name,
    );
    if sub.status.consecutive_failures > 0 {
        tracing::info!(collector = %config.id, failures = sub.status.consecutive_failures, "collection works again");
    } else {
        tracing::debug!(collector = %config.id, "collected");
    }
    let status = &mut sub.status;
    status.last_attempt = Some(at);
    status.last_success = Some(at);
    status.last_value = Some(value.clone());
    status.last_error = None;
    status.consecutive_failures = 0;
    status.warn.on_success();
}

fn record_failure(
    deps: &PollerDeps,
    sub: &mut Subscription,
    at: Timestamp,
    error: &CollectError,
    uid: Option<String>,
) {
    let config: &CollectorConfig = &sub.config;
    let reason = error.reason();
    deps.metrics.collection_failed(
        config.collector_type().as_str(),
        &config.hpa.namespace,
        &config.hpa.name,
        reason,
    );
    let error = shown(error);
    let status = &mut sub.status;
    status.last_attempt = Some(at);
    status.last_error = Some(error.clone());
    status.last_error_reason = Some(reason);
    status.last_error_at = Some(at);
    status.consecutive_failures = status.consecutive_failures.saturating_add(1);
    if status.warn.on_failure(reason, at) {
        tracing::warn!(collector = %config.id, error = %error, "collection failing");
        deps.events.warn(Warning {
            hpa: config.hpa.clone(),
            uid,
            reason: REASON_COLLECTION,
            note: event_note(format!(
                "{} ({}): no value is served until this works: {error}",
                config.metric,
                config.collector_type()
            )),
        });
    } else {
        tracing::debug!(collector = %config.id, error = %error, "collection failed again");
    }
}

#[cfg(test)]
mod tests;
