//! Write: statuses, orphan checkpoints and checkpoints, each through a pool of `workers`
//! requests in flight.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use tidal_core::Timestamp;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Recommender;
use super::observe::key_of;
use crate::checkpoints::{checkpoint_name, to_object};
use crate::crd::{VerticalPodAutoscaler, VerticalPodAutoscalerStatus};
use crate::metrics::Metrics;
use crate::ports::{
    ObjectKey, PodSource, TargetResolver, UsageSource, VpaSource, VpaWriter, WriteError,
};
use crate::state::ContainerKey;

/// One status write and its outcome.
pub type StatusWrite = (
    ObjectKey,
    VerticalPodAutoscalerStatus,
    Result<(), WriteError>,
);

/// Writes `statuses` through `writer`, `workers` requests in flight at once, recording each
/// write's latency. The loop's status writes go through here (and the write benchmark).
pub async fn write_statuses<W: VpaWriter>(
    writer: &W,
    statuses: Vec<(ObjectKey, VerticalPodAutoscalerStatus)>,
    workers: usize,
    metrics: &Metrics,
) -> Vec<StatusWrite> {
    futures::stream::iter(statuses)
        .map(|(key, status)| async move {
            let started = Instant::now();
            let result = writer.write_status(&key, &status).await;
            metrics.write("status", started.elapsed());
            (key, status, result)
        })
        .buffer_unordered(workers.max(1))
        .collect()
        .await
}

impl<V, T, P, U, W> Recommender<V, T, P, U, W>
where
    V: VpaSource,
    T: TargetResolver,
    P: PodSource,
    U: UsageSource,
    W: VpaWriter,
{
    /// Writes `statuses`; returns (written, failed).
    pub(super) async fn write_statuses(
        &mut self,
        statuses: Vec<(ObjectKey, VerticalPodAutoscalerStatus)>,
    ) -> (usize, usize) {
        let writer = &self.ports.writer;
        let metrics = &self.metrics;
        let results: Vec<(
            ObjectKey,
            VerticalPodAutoscalerStatus,
            Result<(), WriteError>,
        )> = futures::stream::iter(statuses)
            .map(|(key, status)| async move {
                let started = Instant::now();
                let result = writer.write_status(&key, &status).await;
                metrics.write("status", started.elapsed());
                (key, status, result)
            })
            .buffer_unordered(self.config.workers.max(1))
            .collect()
            .await;
        let (mut written, mut failed) = (0, 0);
        for (key, status, result) in results {
            match result {
                Ok(()) => {
                    debug!(vpa = %key, "status written");
                    self.written.insert(key, status);
                    written += 1;
                }
                Err(e) => {
                    self.metrics.error("write_status", e.label());
                    warn!(vpa = %key, error = %e, "writing the status failed; retrying next loop");
                    failed += 1;
                }
            }
        }
        if written > 0 || failed > 0 {
            info!(written, failed, "statuses written");
        }
        (written, failed)
    }

    /// Every `gc_interval`, lists checkpoints and queues the orphans: those of VPAs that no
    /// longer exist, and those of containers of this recommender's VPAs that it no longer
    /// remembers. Every loop, deletes up to `gc_batch` of the queue. Returns the deletions.
    pub(super) async fn collect_garbage(
        &mut self,
        all_vpas: &[Arc<VerticalPodAutoscaler>],
        now: Timestamp,
    ) -> usize {
        if now >= self.next_gc {
            self.next_gc = now + self.config.gc_interval;
            match self.ports.writer.checkpoints().await {
                Ok(objects) => {
                    let existing: HashSet<ObjectKey> = all_vpas.iter().map(|v| key_of(v)).collect();
                    let ours: HashSet<ObjectKey> =
                        self.handled(all_vpas).iter().map(|v| key_of(v)).collect();
                    let remembered: HashSet<ContainerKey> =
                        self.state.aggregates().keys().cloned().collect();
                    self.orphans = objects
                        .iter()
                        .filter_map(|o| {
                            let namespace = o.metadata.namespace.clone()?;
                            let name = o.metadata.name.clone()?;
                            let key = ContainerKey {
                                vpa: ObjectKey::new(
                                    namespace.clone(),
                                    o.spec.vpa_object_name.clone(),
                                ),
                                container: o.spec.container_name.clone(),
                            };
                            let orphan = !existing.contains(&key.vpa)
                                || (ours.contains(&key.vpa) && !remembered.contains(&key));
                            orphan.then(|| ObjectKey::new(namespace, name))
                        })
                        .collect();
                    if !self.orphans.is_empty() {
                        info!(orphans = self.orphans.len(), "orphan checkpoints found");
                    }
                }
                Err(e) => {
                    self.metrics.error("list_checkpoints", e.label());
                    warn!(error = %e, "listing checkpoints for garbage collection failed");
                }
            }
        }
        let batch: Vec<ObjectKey> = {
            let take = self.orphans.len().min(self.config.gc_batch);
            self.orphans.drain(..take).collect()
        };
        let writer = &self.ports.writer;
        let metrics = &self.metrics;
        let results: Vec<Result<(), WriteError>> = futures::stream::iter(batch)
            .map(|key| async move {
                let started = Instant::now();
                let result = writer.delete_checkpoint(&key).await;
                metrics.write("checkpoint_delete", started.elapsed());
                result
            })
            .buffer_unordered(self.config.workers.max(1))
            .collect()
            .await;
        let mut deleted = 0;
        for result in results {
            match result {
                Ok(()) => deleted += 1,
                Err(e) => self.metrics.error("delete_checkpoint", e.label()),
            }
        }
        deleted
    }

    /// Writes the checkpoints that are due (never written, older than `checkpoint_interval`,
    /// or with an OOM kill since the last write), oldest first, until the budget is spent.
    /// Returns the writes.
    pub(super) async fn write_checkpoints(&mut self, now: Timestamp) -> usize {
        let mut due: Vec<(Option<Timestamp>, ContainerKey)> = self
            .state
            .aggregates()
            .iter()
            .filter(|(_, t)| t.aggregate.total_samples() > 0 || t.aggregate.oom().kills() > 0)
            .filter(|(_, t)| {
                t.aggregate.oom().kills() != t.checkpointed_kills
                    || t.checkpointed
                        .is_none_or(|at| now.since(at) >= self.config.checkpoint_interval)
            })
            .map(|(k, t)| (t.checkpointed, k.clone()))
            .collect();
        due.sort();
        let objects: Vec<((ContainerKey, u32), _)> = due
            .into_iter()
            .filter_map(|(_, key)| {
                let tracked = self.state.aggregates().get(&key)?;
                let object = to_object(&key, &tracked.aggregate, now);
                let kills = tracked.aggregate.oom().kills();
                Some(((key, kills), object))
            })
            .collect();
        let writer = &self.ports.writer;
        let metrics = &self.metrics;
        let deadline = Instant::now() + self.config.checkpoint_budget;
        let mut stream = std::pin::pin!(
            futures::stream::iter(objects)
                .map(|(key, object)| async move {
                    let started = Instant::now();
                    let result = writer.write_checkpoint(&object).await;
                    metrics.write("checkpoint", started.elapsed());
                    (key, result)
                })
                .buffer_unordered(self.config.workers.max(1))
        );
        let mut written = 0;
        let mut failed = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(((key, kills), Ok(())))) => {
                    if let Some(t) = self.state.aggregates_mut().get_mut(&key) {
                        t.checkpointed = Some(now);
                        t.checkpointed_kills = kills;
                    }
                    written += 1;
                }
                Ok(Some(((key, _), Err(e)))) => {
                    self.metrics.error("write_checkpoint", e.label());
                    failed.push((checkpoint_name(&key), e.to_string()));
                }
                Ok(None) => break,
                Err(_) => {
                    debug!(
                        written,
                        "checkpoint budget spent; the rest wait for the next loop"
                    );
                    break;
                }
            }
        }
        if let Some((name, error)) = failed.first() {
            warn!(failed = failed.len(), example = %name, %error, "writing checkpoints failed");
        }
        written
    }
}
