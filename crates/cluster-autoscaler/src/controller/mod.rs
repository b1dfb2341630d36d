//! The control loop: every scan interval, while this replica holds the leader lease, run one
//! [`Autoscaler::run_once`] over the ports and record what it decided (metrics, logs).
//!
//! Readiness (`/readyz`) turns true once every reflector has listed its objects; a replica that
//! is not the leader keeps its stores warm and stays ready, so a failover acts at once.
//!
//! Leadership is watched during the loop too: when it is lost (the lease went to another
//! holder or was not renewed in time) the loop is dropped where it is, before the lease can
//! expire for the others, and the autoscaler's memory (drains, timers, backoffs) is forgotten:
//! another replica may act meanwhile, so a later term starts from what it observes, as after
//! a restart. (Upstream's cluster-autoscaler exits the process for the same reason.) Every
//! write of a loop also asks for leadership right before it goes out (`leader_gate.rs`).
//!
//! A loop has a deadline of two scan intervals (after which its snapshot would count as stale):
//! a loop still running then is stopped, counted (`loop_overruns`) and logged, and nothing it
//! observed is acted on. Watches silent for longer than they may be are counted
//! (`stale_watches`) and logged; their stale stores age the snapshot, which stops scale-down.

mod dry_run;
mod leader_gate;

pub use dry_run::DryRun;
use leader_gate::LeaderGate;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use tidal_runtime::{Clock, LeaderHandle, Readiness};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, instrument, warn};

use crate::autoscaler::{Autoscaler, LoopError};
use crate::metrics::Metrics;
use crate::outcome::{LoopOutcome, Operation, ScaleDownStep};
use crate::ports::{CloudProvider, ClusterActions, ClusterError, Unreadable, WatchedCluster};

/// What one tick did.
#[derive(Debug)]
pub enum Tick {
    /// Not the leader: nothing was decided.
    NotLeader,
    /// The loop ran.
    Ran(Box<LoopOutcome>),
    /// The loop could not read the world; nothing was changed.
    Failed(String),
    /// Leadership was lost during the loop: it stopped acting where it was.
    LostLeadership,
    /// The loop was still running at its deadline (two scan intervals) and was stopped: what it
    /// observed is not acted on.
    Overran,
}

/// The cluster autoscaler's control loop.
pub struct Controller<P, C> {
    autoscaler: Autoscaler,
    cloud: P,
    cluster: C,
    metrics: Metrics,
    leader: LeaderHandle,
    /// Whether the last tick ran as leader (a lost term resets the autoscaler's memory).
    was_leader: bool,
    /// Template problems of the last loop: logged when they appear and when they go away,
    /// not every loop (they are in the status ConfigMap and a metric all along).
    template_problems: BTreeSet<String>,
    /// What the last loop kept because objects could not be read: logged when it changes.
    unreadable: Unreadable,
    /// Kinds whose watch was stale at the last loop: logged when the set changes.
    stale_watches: BTreeSet<&'static str>,
    readiness: Readiness,
    scan_interval: Duration,
    /// How long one loop may run (see [`Controller::with_loop_deadline`]); `None`: unbounded.
    loop_deadline: Option<Duration>,
    clock: Clock,
}

impl<P: CloudProvider, C: WatchedCluster> Controller<P, C> {
    /// A controller acting through `cloud` and `cluster` while `leader` says so.
    pub fn new(
        autoscaler: Autoscaler,
        cloud: P,
        cluster: C,
        metrics: Metrics,
        leader: LeaderHandle,
    ) -> Self {
        let scan_interval = autoscaler.config().scan_interval;
        Self {
            autoscaler,
            cloud,
            cluster,
            metrics,
            leader,
            was_leader: false,
            template_problems: BTreeSet::new(),
            unreadable: Unreadable::default(),
            stale_watches: BTreeSet::new(),
            readiness: Readiness::new(),
            scan_interval,
            loop_deadline: None,
            clock: Clock::system(),
        }
    }

    /// Stops a loop still running after two scan intervals (its snapshot would count as stale
    /// by then): it is counted, logged, and nothing it observed is acted on. Needs tokio's
    /// timer; the binary turns it on (the simulator, in virtual time, has no wall-clock deadline).
    pub fn with_loop_deadline(mut self) -> Self {
        self.loop_deadline = Some(self.scan_interval * 2);
        self
    }

    /// Reports readiness through `readiness` (the admin server's `/readyz`).
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// Uses `clock` for the loop's `now` (the binary shares one with the Kubernetes adapter;
    /// tests and the simulator pass a manual one).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs until `shutdown` resolves: waits for the cluster state, then ticks every scan interval.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), ClusterError> {
        let mut shutdown = std::pin::pin!(shutdown);
        info!("waiting for the cluster state (nodes, pods, budgets, volumes)");
        tokio::select! {
            ready = self.cluster.wait_until_ready() => ready?,
            () = &mut shutdown => return Ok(()),
        }
        self.readiness.set_ready(true);
        info!(scan_interval = ?self.scan_interval, "cluster state ready; starting the loop");
        let mut ticker = tokio::time::interval(self.scan_interval);
        // A slow loop delays the next one instead of causing a burst of catch-up loops.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = &mut shutdown => break,
            }
            self.tick().await;
        }
        self.readiness.set_ready(false);
        info!("stopped");
        Ok(())
    }

    /// One iteration: if leader, publish pending Warning Events and run the autoscaler once.
    #[instrument(skip(self), fields(leader))]
    pub async fn tick(&mut self) -> Tick {
        let leader = self.leader.is_leader();
        tracing::Span::current().record("leader", leader);
        self.metrics.record_leader(leader);
        if !leader {
            if std::mem::take(&mut self.was_leader) {
                warn!("lost leadership; forgetting drains, timers and backoffs");
                self.autoscaler.forget();
            }
            debug!("not the leader; not acting");
            return Tick::NotLeader;
        }
        self.was_leader = true;
        self.note_stale_watches();
        let started = Instant::now();
        let result = match self.run_loop(started).await {
            Ended::Done(result) => *result,
            Ended::LostLeadership => {
                warn!(
                    "lost leadership during the loop; stopped acting and forgetting drains, timers and backoffs"
                );
                self.was_leader = false;
                self.autoscaler.forget();
                self.metrics.record_leader(false);
                return Tick::LostLeadership;
            }
            Ended::Overran(deadline) => {
                warn!(
                    deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
                    "loop overran its deadline (two scan intervals): stopped; nothing it observed is acted on"
                );
                self.metrics.count_loop_overrun();
                return Tick::Overran;
            }
        };
        let elapsed = started.elapsed();
        self.metrics.record_skipped(self.cluster.skipped_objects());
        match result {
            Ok(outcome) => {
                self.metrics.record_outcome(&outcome, elapsed);
                log_outcome(&outcome, elapsed);
                self.log_template_problems(&outcome.template_problems);
                self.log_unreadable(&outcome.unreadable);
                Tick::Ran(Box::new(outcome))
            }
            Err(e) => {
                self.metrics.record_loop_error(&e, elapsed);
                warn!(error = %e, kind = e.label(), "loop could not read the world; nothing was changed");
                Tick::Failed(e.to_string())
            }
        }
    }
}

/// How one loop ended.
enum Ended {
    /// It ran to the end (successfully or not).
    Done(Box<Result<LoopOutcome, LoopError>>),
    /// Leadership was lost during it (or by the time it finished).
    LostLeadership,
    /// It was still running at its deadline (the duration inside) and was stopped.
    Overran(Duration),
}

impl<P: CloudProvider, C: WatchedCluster> Controller<P, C> {
    /// Runs the autoscaler once (after publishing pending Warning Events) through ports whose
    /// writes need leadership, until it ends, leadership is lost, or its deadline passes (if
    /// set: two scan intervals, after which its snapshot would count as stale anyway).
    async fn run_loop(&mut self, started: Instant) -> Ended {
        let cloud = LeaderGate::new(&self.cloud, &self.leader);
        let cluster = LeaderGate::new(&self.cluster, &self.leader);
        for event in self.cluster.take_invalid_pod_events() {
            if let Err(e) = cluster.record_event(&event).await {
                self.metrics.count_error(Operation::RecordEvent, e.label());
                warn!(error = %e, object = %event.object, "could not record an event");
            }
        }
        let now = self.clock.now();
        let budget = self.loop_deadline;
        let deadline = async {
            match budget {
                Some(budget) => tokio::time::sleep_until(started + budget).await,
                None => std::future::pending().await,
            }
        };
        let mut leadership = self.leader.clone();
        // Boxed: the loop's future is deep, and the binary's main future holds this one.
        let run = Box::pin(self.autoscaler.run_once(&cloud, &cluster, now));
        // Loss first, then the deadline: a loop is not polled on once either has come.
        let ended = tokio::select! {
            biased;
            () = leadership.lost() => Ended::LostLeadership,
            () = deadline => Ended::Overran(budget.unwrap_or_default()),
            result = run => Ended::Done(Box::new(result)),
        };
        // A loop that finished after the lease was lost had its writes refused: what it
        // believes it did is not to be kept either.
        match ended {
            Ended::Done(_) if !self.leader.is_leader() => Ended::LostLeadership,
            other => other,
        }
    }

    /// Records the watches that are stale now; logs when the set changes.
    fn note_stale_watches(&mut self) {
        let stale = self.cluster.stale_watches();
        self.metrics.record_stale_watches(stale.len());
        let kinds: BTreeSet<&'static str> = stale.iter().map(|s| s.kind).collect();
        if kinds == self.stale_watches {
            return;
        }
        for s in &stale {
            warn!(
                kind = s.kind,
                silent_s = s.silent_for.as_secs(),
                "watch silent longer than its server timeout allows: its store is stale; no scale-down or termination until it is heard again"
            );
        }
        if stale.is_empty() {
            info!("every watch is heard again");
        }
        self.stale_watches = kinds;
    }
}

impl<P, C> Controller<P, C> {
    /// The cloud port it acts through.
    pub fn cloud(&self) -> &P {
        &self.cloud
    }

    /// The cluster port it acts through.
    pub fn cluster(&self) -> &C {
        &self.cluster
    }

    /// The autoscaler it runs.
    pub fn autoscaler(&self) -> &Autoscaler {
        &self.autoscaler
    }

    fn log_unreadable(&mut self, unreadable: &Unreadable) {
        if *unreadable == self.unreadable {
            return;
        }
        for line in unreadable.describe() {
            warn!(kept = %line, "objects that could not be read keep a node");
        }
        if unreadable.is_empty() {
            info!("no node is kept by unreadable objects any more");
        }
        self.unreadable = unreadable.clone();
    }

    fn log_template_problems(&mut self, problems: &[String]) {
        let now: BTreeSet<String> = problems.iter().cloned().collect();
        for p in now.difference(&self.template_problems) {
            warn!(problem = %p, "node group template problem");
        }
        for p in self.template_problems.difference(&now) {
            info!(problem = %p, "node group template problem resolved");
        }
        self.template_problems = now;
    }
}

impl<P, C> std::fmt::Debug for Controller<P, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("autoscaler", &self.autoscaler)
            .field("was_leader", &self.was_leader)
            .field("scan_interval", &self.scan_interval)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Logs each decision of a loop with structured fields.
fn log_outcome(o: &LoopOutcome, elapsed: Duration) {
    for up in &o.scale_ups {
        info!(group = %up.group, from = up.from, to = up.to, pods = up.pods, reason = up.reason.label(),
            waste = up.waste, applied = up.applied, dry_run = o.dry_run, "scale-up");
    }
    for f in &o.failures {
        warn!(group = %f.group, kind = f.kind.label(), detail = ?f.kind, backoff_until = f.backoff_until.as_millis(),
            cancelled_to = ?f.cancelled_to, "scale-up failed; group backed off");
    }
    for f in &o.fallbacks {
        info!(from = %f.from, to = %f.to, pods = f.pods, "fell back to the next pool");
    }
    for n in &o.no_scale_up {
        info!(pods = n.pods.len(), reason = %n.reason, "no node group can help these pods");
    }
    for d in &o.scale_downs {
        match &d.step {
            ScaleDownStep::Draining { evicted } => {
                info!(node = %d.node, group = %d.group, utilization = d.utilization, evicted, "draining node");
            }
            ScaleDownStep::Terminated => {
                info!(node = %d.node, group = %d.group, instance = %d.instance_id, empty = d.empty, "node removed");
            }
            ScaleDownStep::Aborted(why) => {
                warn!(node = %d.node, group = %d.group, reason = %why, "scale-down abandoned")
            }
        }
    }
    if let Some(skip) = &o.scale_down_skipped {
        debug!(reason = skip.label(), "scale-down skipped");
    }
    for e in &o.port_errors {
        warn!(operation = e.operation.as_str(), target = %e.target, kind = e.label, message = %e.message, "call failed");
    }
    info!(
        elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        unschedulable = o.unschedulable_pods,
        awaiting_capacity = o.pods_awaiting_capacity,
        scale_ups = o.scale_ups.len(),
        scale_downs = o.scale_downs.len(),
        unneeded = o.unneeded_nodes,
        backoffs = o.backoffs.len(),
        errors = o.port_errors.len(),
        dry_run = o.dry_run,
        "loop done"
    );
}

#[cfg(test)]
mod tests;
