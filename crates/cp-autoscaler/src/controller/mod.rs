//! The loop: every interval, if leader, one [`Autoscaler::run_once`] with `now` from the one
//! [`Clock`]; its outcome logged with structured fields. Losing leadership in the middle of a
//! pass stops it where it is (the roll's state is in the cloud, so the next leader resumes).

mod dry_run;

use std::future::Future;
use std::time::{Duration, Instant};

use tidal_runtime::{Clock, LeaderHandle, Readiness};
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, instrument, warn};

pub use dry_run::DryRun;

use crate::autoscaler::{Act, Autoscaler, Outcome};
use crate::metrics::Metrics;
use crate::ports::{Actuator, EventSink, NodeCounter, SignalSource};

/// The ports the loop acts through.
pub struct Ports<S, N, A, E> {
    /// Load samples.
    pub signals: S,
    /// Node count.
    pub nodes: N,
    /// Resizes.
    pub actuator: A,
    /// Events.
    pub events: E,
}

/// What one tick did.
#[derive(Debug)]
pub enum Tick {
    /// Not the leader: nothing was decided.
    NotLeader,
    /// The pass ran.
    Ran(Box<Outcome>),
    /// The pass could not read the control plane; nothing was changed.
    Failed(String),
    /// Leadership was lost during the pass.
    LostLeadership,
}

/// The control-plane autoscaler's loop.
pub struct Controller<S, N, A, E> {
    autoscaler: Autoscaler,
    ports: Ports<S, N, A, E>,
    metrics: Metrics,
    leader: LeaderHandle,
    clock: Clock,
    readiness: Readiness,
    was_leader: bool,
}

impl<S: SignalSource, N: NodeCounter, A: Actuator, E: EventSink> Controller<S, N, A, E> {
    /// A controller acting through `ports` while `leader` says so.
    pub fn new(
        autoscaler: Autoscaler,
        ports: Ports<S, N, A, E>,
        metrics: Metrics,
        leader: LeaderHandle,
        clock: Clock,
    ) -> Self {
        Self {
            autoscaler,
            ports,
            metrics,
            leader,
            clock,
            readiness: Readiness::new(),
            was_leader: false,
        }
    }

    /// Reports readiness through `readiness` (the admin server's `/readyz`).
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// The ports (tests read the fakes through it).
    pub fn ports(&self) -> &Ports<S, N, A, E> {
        &self.ports
    }

    /// Ticks every `interval` until `shutdown` resolves.
    pub async fn run(mut self, interval: Duration, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        self.readiness.set_ready(true);
        info!(?interval, "starting the loop");
        let mut ticker = tokio::time::interval(interval);
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
    }

    /// One iteration: if leader, one pass.
    #[instrument(skip(self), fields(leader))]
    pub async fn tick(&mut self) -> Tick {
        let leader = self.leader.is_leader();
        tracing::Span::current().record("leader", leader);
        self.metrics.record_leader(leader);
        if !leader {
            if std::mem::take(&mut self.was_leader) {
                warn!("lost leadership; the next term starts with a cooldown");
                self.autoscaler.forget();
            }
            debug!("not the leader; not acting");
            return Tick::NotLeader;
        }
        self.was_leader = true;
        let now = self.clock.now();
        let started = Instant::now();
        let mut leadership = self.leader.clone();
        let p = &self.ports;
        let result = tokio::select! {
            r = self.autoscaler.run_once(&p.signals, &p.nodes, &p.actuator, &p.events, &self.metrics, now) => Some(r),
            () = leadership.lost() => None,
        };
        self.metrics.observe_loop(started.elapsed());
        let Some(result) = result else {
            warn!("lost leadership during the pass; stopped where it was");
            self.was_leader = false;
            self.autoscaler.forget();
            self.metrics.record_leader(false);
            return Tick::LostLeadership;
        };
        match result {
            Ok(outcome) => {
                log_outcome(&outcome);
                Tick::Ran(Box::new(outcome))
            }
            Err(e) => {
                warn!(error = %e, kind = e.label(), "could not read the control plane; nothing was changed");
                Tick::Failed(e.to_string())
            }
        }
    }
}

/// Logs a pass with structured fields.
pub fn log_outcome(o: &Outcome) {
    for e in &o.read_errors {
        warn!(error = %e, "reading load failed; the decision holds");
    }
    let s = &o.state;
    let Some(d) = &o.decision else {
        info!(size = %s.size, target = ?s.target, phase = s.phase.label(), healthy = ?s.healthy, "change in progress");
        return;
    };
    let act = match &o.act {
        None => "none".to_owned(),
        Some(Act::Started) => "started".to_owned(),
        Some(Act::BackedOff(until)) => format!("backed off until {} ms", until.as_millis()),
        Some(Act::Refused { reason, .. }) => format!("refused: {reason}"),
        Some(Act::Busy(why)) => format!("busy: {why}"),
        Some(Act::Failed(why)) => format!("failed: {why}"),
    };
    info!(
        size = %s.size,
        target = o.target.as_deref().unwrap_or(&s.size),
        action = d.action().label(),
        reason = d.reason.label(),
        why = %d.reason,
        nodes = ?o.nodes,
        act,
        "decision"
    );
}

#[cfg(test)]
mod tests;
