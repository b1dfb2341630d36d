//! The recommender loop: every interval, observe → recommend (core) → write → record.
//!
//! 1. Observe: the VPAs this recommender handles, their targets' selectors, the pods they
//!    select (the pod source is told the selectors, so it keeps only those pods), live usage
//!    and OOM kills.
//! 2. Take in: samples and kills go into one aggregate per (VPA, container name). Until history
//!    is loaded, live samples are held back (then taken in after the history, in time order);
//!    OOM kills are taken in at once, since they are what protects a crash-looping container.
//! 3. Recommend: per VPA, the core's recommendation, merged with the last one so that missing
//!    data (metrics down, history loading, no pods) never lowers it, and the conditions.
//! 4. Write, through a pool of `workers`: statuses that changed meaningfully; orphan
//!    checkpoints (collected every `gc_interval`, deleted a batch per loop, so a backlog drains
//!    without waiting behind the checkpoint writes); then checkpoints, oldest first, within
//!    the loop's checkpoint budget.
//!
//! A replica starts (and, as a new leader, restarts) from the checkpoints, then history.

mod config;
mod decide;
mod observe;
mod run;
mod write;

pub use config::LoopConfig;
pub use run::History;
pub use write::{StatusWrite, write_statuses};

use std::collections::HashMap;
use std::sync::Arc;

use tidal_core::Timestamp;
use tidal_runtime::Clock;
use tracing::{debug, info, warn};

use crate::crd::VerticalPodAutoscalerStatus;
use crate::metrics::Metrics;
use crate::ports::{
    ObjectKey, PodSource, TargetResolver, UsageHistory, UsageSample, UsageSource, VpaSource,
    VpaWriter,
};
use crate::state::State;

/// The ports the loop works through.
pub struct Ports<V, T, P, U, W> {
    /// The VPA objects.
    pub vpas: V,
    /// Target selectors.
    pub targets: T,
    /// Tracked pods.
    pub pods: P,
    /// Usage (shared with the history loader).
    pub usage: Arc<U>,
    /// Statuses and checkpoints.
    pub writer: W,
}

/// What one loop did (logged, asserted in tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopReport {
    /// VPAs handled.
    pub vpas: usize,
    /// Pods tracked.
    pub pods: usize,
    /// Samples taken in (live, or held back while history loads).
    pub samples: usize,
    /// New OOM kills.
    pub oom_kills: usize,
    /// Statuses written.
    pub statuses_written: usize,
    /// Status writes that failed.
    pub status_errors: usize,
    /// Checkpoints written.
    pub checkpoints_written: usize,
    /// Orphan checkpoints deleted.
    pub checkpoints_deleted: usize,
    /// Whether live usage could be read.
    pub metrics_available: bool,
}

/// Why a loop did not run.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The VPAs or pods have not been listed yet.
    #[error("waiting for the first list of {0}")]
    NotReady(&'static str),
    /// Checkpoints could not be read at start: nothing is recommended before they are, so a
    /// restart never forgets history it could have had.
    #[error("restoring from checkpoints failed: {0}")]
    Restore(String),
}

/// The recommender.
pub struct Recommender<V, T, P, U, W> {
    ports: Ports<V, T, P, U, W>,
    config: LoopConfig,
    metrics: Metrics,
    clock: Clock,
    state: State,
    /// The status last written (or read) per VPA: what "changed meaningfully" compares to.
    written: HashMap<ObjectKey, VerticalPodAutoscalerStatus>,
    /// The last selector resolved per VPA (kept when the API cannot answer for a while).
    selectors: HashMap<ObjectKey, tidal_core::scheduling::LabelSelector>,
    restored: bool,
    history_pending: bool,
    held_back: Vec<UsageSample>,
    metrics_down_since: Option<Timestamp>,
    next_gc: Timestamp,
    orphans: Vec<ObjectKey>,
}

impl<V, T, P, U, W> Recommender<V, T, P, U, W>
where
    V: VpaSource,
    T: TargetResolver,
    P: PodSource,
    U: UsageSource,
    W: VpaWriter,
{
    /// A recommender over `ports`; it reads `now` from `clock`.
    pub fn new(
        ports: Ports<V, T, P, U, W>,
        config: LoopConfig,
        metrics: Metrics,
        clock: Clock,
    ) -> Self {
        let history_pending = ports.usage.has_history();
        metrics.set_history_loaded(!history_pending);
        Self {
            state: State::new(config.aggregation),
            ports,
            config,
            metrics,
            clock,
            written: HashMap::new(),
            selectors: HashMap::new(),
            restored: false,
            history_pending,
            held_back: Vec::new(),
            metrics_down_since: None,
            next_gc: Timestamp::default(),
            orphans: Vec::new(),
        }
    }

    /// The loop settings.
    pub fn config(&self) -> &LoopConfig {
        &self.config
    }

    /// What the recommender remembers (tests, benches).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether history is still awaited.
    pub fn history_pending(&self) -> bool {
        self.history_pending
    }

    /// Forgets everything, as after a restart (a lost leadership: another replica acted).
    pub fn reset(&mut self) {
        self.state = State::new(self.config.aggregation);
        self.written.clear();
        self.selectors.clear();
        self.restored = false;
        self.history_pending = self.ports.usage.has_history();
        self.held_back.clear();
        self.metrics_down_since = None;
        self.next_gc = Timestamp::default();
        self.orphans.clear();
        self.metrics.set_history_loaded(!self.history_pending);
    }

    /// Takes in loaded history, then the live samples held back meanwhile.
    pub fn ingest_history(&mut self, history: UsageHistory) {
        let now = self.clock.now();
        let vpas = self.ports.vpas.vpas().unwrap_or_default();
        let handled = self.handled(&vpas);
        let pods = self.ports.pods.pods().unwrap_or_default();
        let owners = observe::history_owners(&handled, &self.selectors, &pods, &history.pod_labels);
        let owner = |pod: &ObjectKey| owners.get(pod).cloned();
        let mut samples = history.samples;
        samples.append(&mut self.held_back);
        let count = samples.len();
        let added = self.state.add_history(samples, &owner, now);
        info!(samples = count, taken = added, "history loaded");
        self.history_pending = false;
        self.metrics.set_history_loaded(true);
    }

    /// Reads every checkpoint into the state (once, before the first loop).
    async fn restore(
        &mut self,
        handled: &[Arc<crate::crd::VerticalPodAutoscaler>],
    ) -> Result<(), LoopError> {
        let now = self.clock.now();
        let objects = self.ports.writer.checkpoints().await.map_err(|e| {
            self.metrics.error("list_checkpoints", e.label());
            LoopError::Restore(e.to_string())
        })?;
        let handled: std::collections::HashSet<ObjectKey> =
            handled.iter().map(|v| observe::key_of(v)).collect();
        let (mut restored, mut bad) = (0, 0);
        for object in &objects {
            match crate::checkpoints::from_object(object, now, self.config.aggregation) {
                Ok((key, aggregate)) if handled.contains(&key.vpa) => {
                    self.state.restore(key, aggregate, now);
                    restored += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    bad += 1;
                    debug!(checkpoint = ?object.metadata.name, error = %e, "skipping a checkpoint that cannot be read");
                }
            }
        }
        info!(
            checkpoints = objects.len(),
            restored,
            unreadable = bad,
            "restored state from checkpoints"
        );
        self.restored = true;
        Ok(())
    }

    /// Runs one loop at the clock's `now`.
    pub async fn run_once(&mut self) -> Result<LoopReport, LoopError> {
        let started = tokio::time::Instant::now();
        let now = self.clock.now();
        let vpas = self
            .ports
            .vpas
            .vpas()
            .ok_or(LoopError::NotReady("VerticalPodAutoscalers"))?;
        let handled = self.handled(&vpas);
        if !self.restored {
            self.restore(&handled).await?;
        }
        let targets = self.resolve_targets(&handled).await;
        self.ports
            .pods
            .track(&observe::selectors_by_namespace(&handled, &targets));
        let pods = self
            .ports
            .pods
            .pods()
            .map_err(|_| LoopError::NotReady("pods"))?;
        let owners = observe::owners(&handled, &targets, &pods);

        let mut report = LoopReport {
            vpas: handled.len(),
            pods: owners.len(),
            ..LoopReport::default()
        };
        self.take_in_usage(&owners, now, &mut report).await;
        let kills = self.take_in_oom_kills(&pods, &owners, now);
        report.oom_kills = kills;
        let all: std::collections::HashSet<ObjectKey> =
            handled.iter().map(|v| observe::key_of(v)).collect();
        self.state.prune(
            &|pod| owners.contains_key(pod),
            &|vpa| all.contains(vpa),
            now,
        );
        self.written.retain(|k, _| all.contains(k));
        self.selectors.retain(|k, _| all.contains(k));

        let statuses = self.decide(&handled, &targets, &pods, &owners, now);
        let (written, failed) = self.write_statuses(statuses).await;
        report.statuses_written = written;
        report.status_errors = failed;
        report.checkpoints_deleted = self.collect_garbage(&vpas, now).await;
        report.checkpoints_written = self.write_checkpoints(now).await;

        self.metrics.loop_done(
            started.elapsed(),
            handled.len(),
            self.state.aggregates().len(),
            self.state.tracked_pod_containers(),
        );
        Ok(report)
    }

    async fn take_in_usage(
        &mut self,
        owners: &HashMap<ObjectKey, ObjectKey>,
        now: Timestamp,
        report: &mut LoopReport,
    ) {
        match self.ports.usage.current().await {
            Ok(samples) => {
                if let Some(since) = self.metrics_down_since.take() {
                    info!(down_for = ?now.since(since), "usage metrics are back");
                }
                report.metrics_available = true;
                let new = self
                    .state
                    .take_new(samples, &|pod| owners.get(pod).cloned());
                report.samples = new.len();
                if self.history_pending {
                    self.held_back.extend(new.into_iter().map(|(_, s)| s));
                    let excess = self
                        .held_back
                        .len()
                        .saturating_sub(self.config.max_buffered_samples);
                    self.held_back.drain(..excess);
                } else {
                    self.state.add_samples(new, now);
                }
            }
            Err(e) => {
                self.metrics.error("usage", e.label());
                if self.metrics_down_since.is_none() {
                    warn!(error = %e, "cannot read usage metrics; keeping the last recommendations");
                    self.metrics_down_since = Some(now);
                }
            }
        }
        self.metrics
            .set_metrics_available(self.metrics_down_since.is_none());
    }

    fn take_in_oom_kills(
        &mut self,
        pods: &[crate::ports::ObservedPod],
        owners: &HashMap<ObjectKey, ObjectKey>,
        now: Timestamp,
    ) -> usize {
        let mut total = 0;
        let mut by_vpa: HashMap<ObjectKey, Vec<(&crate::ports::ObservedPod, ObjectKey)>> =
            HashMap::new();
        for pod in pods {
            if let Some(vpa) = owners.get(&pod.key) {
                by_vpa
                    .entry(vpa.clone())
                    .or_default()
                    .push((pod, vpa.clone()));
            }
        }
        for (vpa, pods) in by_vpa {
            let ingested = self.state.add_oom_kills(&pods, now);
            if ingested.oom_kills > 0 {
                info!(vpa = %vpa, kills = ingested.oom_kills, bumps = ingested.bumps, "OOM kills seen");
                self.metrics.oom(
                    &vpa.namespace,
                    &vpa.name,
                    ingested.oom_kills as u64,
                    ingested.bumps as u64,
                );
            }
            total += ingested.oom_kills;
        }
        total
    }
}

#[cfg(test)]
mod tests;
