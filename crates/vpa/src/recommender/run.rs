//! The loop over time: a tick every interval while this replica leads, history loaded
//! beside it (retried with backoff until it succeeds), leadership watched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_runtime::{Clock, LeaderHandle, Readiness};
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};

use super::{LoopError, Recommender};
use crate::ports::{PodSource, TargetResolver, UsageHistory, UsageSource, VpaSource, VpaWriter};

/// Loads history until it succeeds: the FetchingHistory condition stays until then.
pub struct History;

impl History {
    /// Loads `length` of history ending now, retrying with exponential backoff from
    /// `retry.0` up to `retry.1` between attempts.
    pub async fn load<U: UsageSource>(
        usage: Arc<U>,
        clock: Clock,
        length: Duration,
        retry: (Duration, Duration),
    ) -> UsageHistory {
        let mut wait = retry.0;
        let mut attempt = 1u32;
        loop {
            let end = clock.now();
            let start =
                Timestamp::from_millis(end.as_millis().saturating_sub(length.as_millis() as i64));
            match usage.history(start, end).await {
                Ok(history) => return history,
                Err(e) => {
                    warn!(attempt, error = %e, retry_in = ?wait, "loading usage history failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(retry.1);
                    attempt += 1;
                }
            }
        }
    }
}

type HistoryFuture = Pin<Box<dyn Future<Output = UsageHistory>>>;

impl<V, T, P, U, W> Recommender<V, T, P, U, W>
where
    V: VpaSource,
    T: TargetResolver,
    P: PodSource,
    U: UsageSource + 'static,
    W: VpaWriter,
{
    fn start_history(&self) -> Option<HistoryFuture> {
        self.history_pending.then(|| {
            let usage = self.ports.usage.clone();
            let fut = History::load(
                usage,
                self.clock.clone(),
                self.config.history_length,
                self.config.history_retry,
            );
            Box::pin(fut) as HistoryFuture
        })
    }

    /// Runs until `shutdown` resolves: one loop per interval while `leader` says so.
    /// `/readyz` turns true after the first loop that could observe the cluster.
    pub async fn run(
        mut self,
        mut leader: LeaderHandle,
        readiness: Readiness,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut ticker = tokio::time::interval(self.config.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut history: Option<HistoryFuture> = None;
        let mut loaded: Option<UsageHistory> = None;
        let mut leading = false;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                h = async {
                    match history.as_mut() {
                        Some(load) => load.await,
                        None => std::future::pending().await,
                    }
                }, if history.is_some() => {
                    history = None;
                    loaded = Some(h);
                }
                _ = ticker.tick() => {
                    let is_leader = leader.is_leader();
                    self.metrics.set_leader(is_leader);
                    if !is_leader {
                        if leading {
                            info!("lost leadership; forgetting state until leading again");
                            self.reset();
                            history = None;
                            loaded = None;
                            leading = false;
                        }
                        continue;
                    }
                    if !leading {
                        info!("leading: restoring from checkpoints, then loading history");
                        leading = true;
                        history = self.start_history();
                    }
                    let outcome = tokio::select! {
                        r = self.run_once() => Some(r),
                        () = leader.lost() => None,
                    };
                    match outcome {
                        Some(Ok(report)) => {
                            readiness.set_ready(true);
                            info!(
                                vpas = report.vpas, pods = report.pods, samples = report.samples,
                                oom_kills = report.oom_kills, statuses = report.statuses_written,
                                status_errors = report.status_errors, checkpoints = report.checkpoints_written,
                                orphans_deleted = report.checkpoints_deleted, metrics = report.metrics_available,
                                "loop done"
                            );
                            if let Some(h) = loaded.take() {
                                self.ingest_history(h);
                            }
                        }
                        Some(Err(e @ LoopError::NotReady(_))) => info!(reason = %e, "loop skipped"),
                        Some(Err(e)) => warn!(error = %e, "loop failed"),
                        None => warn!("leadership lost during the loop; it was stopped"),
                    }
                }
            }
        }
    }
}
