//! One pass of the control loop: observe → decide → act → record.
//!
//! - **Observe**: the actuator first (a change in progress is moved one step on, and nothing is
//!   decided until it ends), then the signals and the node count. A signal or node-count error
//!   is not fatal: the decision sees missing data and holds.
//! - **Decide**: `tidal_core::control_plane::decide`, pure.
//! - **Act**: start the change unless its target is backed off. What the cloud refuses, and a
//!   change that ends failed, back the target off (30 min doubling to 4 h by default) and raise
//!   a Warning Event; the size stays.
//! - **Record**: metrics, Events, and the [`Outcome`] (logged by the controller, printed by
//!   `plan`).
//!
//! A new process, or a new leader, does not know when the last change was: it waits one up
//! cooldown before its first change (the node-count floor still applies at once).

use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::backoff::{Backoff, BackoffConfig};
use tidal_core::control_plane::{
    Action, Bounds, Change, Decision, DecisionConfig, Direction, Ladder, Signal, Signals, decide,
};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::ports::{
    Actuator, ActuatorError, ActuatorState, Event, EventReason, EventSink, Finished, NodeCounter,
    Phase, SignalSource,
};

/// What the decision needs besides the observations; valid by construction (see `cli`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The sizes.
    pub ladder: Ladder,
    /// The allowed part of the ladder.
    pub bounds: Bounds,
    /// Thresholds, windows, cooldowns, floor.
    pub decision: DecisionConfig,
    /// Backoff of a refused or failed target.
    pub backoff: BackoffConfig,
}

impl Settings {
    /// How far back the signals are read: the longest window, plus a little for coverage.
    pub fn history(&self) -> Duration {
        self.decision
            .up_window
            .max(self.decision.down_window)
            .saturating_add(Duration::from_secs(5 * 60))
    }
}

/// The loop could not run: nothing was decided or changed.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The actuator could not read where the control plane stands.
    #[error("reading the control plane failed: {0}")]
    Actuator(#[from] ActuatorError),
    /// The control plane runs at a size that is not on the ladder.
    #[error("the control plane runs at {0:?}, which is not on the ladder; nothing is changed")]
    NotOnLadder(String),
}

impl LoopError {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            LoopError::Actuator(e) => e.label(),
            LoopError::NotOnLadder(_) => "not_on_ladder",
        }
    }
}

/// What the start of a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// Started.
    Started,
    /// The target is backed off until then.
    BackedOff(Timestamp),
    /// The cloud refused; backed off until then.
    Refused {
        /// The cloud's reason.
        reason: String,
        /// Backed off until.
        until: Timestamp,
    },
    /// Another change is in progress.
    Busy(String),
    /// The call failed; retried next loop.
    Failed(String),
}

/// What one pass saw and did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Where the control plane stood.
    pub state: ActuatorState,
    /// The decision, unless a change was in progress.
    pub decision: Option<Decision>,
    /// The decision's target size name.
    pub target: Option<String>,
    /// What starting the change did, if a change was decided.
    pub act: Option<Act>,
    /// Nodes in the cluster, if known.
    pub nodes: Option<u32>,
    /// The signals read (empty when the source failed).
    pub signals: Signals,
    /// Errors of the signal and node-count ports (they do not stop the loop).
    pub read_errors: Vec<String>,
}

/// The control-plane autoscaler's state across loops.
pub struct Autoscaler {
    settings: Settings,
    sizes: Vec<String>,
    backoff: Backoff<String>,
    last_change: Option<Change>,
    /// When the last pass ran, for the time above the high threshold.
    last_pass: Option<Timestamp>,
    /// Whether a new term starts with an up cooldown (off for `plan`, which only reports).
    term_cooldown: bool,
}

impl Autoscaler {
    /// An autoscaler with `settings`.
    pub fn new(settings: Settings) -> Self {
        let sizes = settings
            .ladder
            .rungs()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        let backoff = Backoff::new(settings.backoff);
        Self {
            settings,
            sizes,
            backoff,
            last_change: None,
            last_pass: None,
            term_cooldown: true,
        }
    }

    /// No cooldown at the start of a term: for `plan`, which reports what the load asks for.
    pub fn without_term_cooldown(mut self) -> Self {
        self.term_cooldown = false;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Forgets what a lost leadership term knew (a new term starts with a cooldown).
    pub fn forget(&mut self) {
        self.last_change = None;
        self.last_pass = None;
    }

    /// One pass at `now`.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_once(
        &mut self,
        signals: &impl SignalSource,
        nodes: &impl NodeCounter,
        actuator: &impl Actuator,
        events: &impl EventSink,
        metrics: &Metrics,
        now: Timestamp,
    ) -> Result<Outcome, LoopError> {
        let (last_change, elapsed) = self.start_pass(now);

        let state = actuator.reconcile(now).await.inspect_err(|e| {
            metrics.count_error("actuator", e.label());
        })?;
        metrics.record_phase(state.phase);
        if let Some(finished) = &state.finished {
            self.finished(finished, events, metrics, now).await;
        }
        let mut outcome = Outcome {
            state: state.clone(),
            decision: None,
            target: None,
            act: None,
            nodes: None,
            signals: Signals::default(),
            read_errors: Vec::new(),
        };
        self.record_backoffs(metrics, now);
        if state.phase != Phase::Idle {
            metrics.record_cluster(None, state.healthy);
            return Ok(outcome);
        }
        let current = self.settings.ladder.position(&state.size);
        metrics.record_size(&self.sizes, &state.size, current);
        let current = current.ok_or_else(|| LoopError::NotOnLadder(state.size.clone()))?;

        self.read_inputs(signals, nodes, metrics, now, &mut outcome)
            .await;
        metrics.record_cluster(outcome.nodes, state.healthy);

        let (decision, target) =
            self.decide_now(&outcome, current, last_change, elapsed, metrics, now);
        if decision.action() != Action::Hold {
            outcome.act = Some(
                self.act(
                    &decision,
                    &state.size,
                    &target,
                    actuator,
                    events,
                    metrics,
                    now,
                )
                .await,
            );
        }
        outcome.decision = Some(decision);
        outcome.target = Some(target);
        Ok(outcome)
    }

    /// Starts a pass at `now`: the last change to count from (a new term counts as one just
    /// made, see the module doc) and the time since the last pass.
    fn start_pass(&mut self, now: Timestamp) -> (Option<Change>, Duration) {
        if self.term_cooldown && self.last_change.is_none() {
            self.last_change = Some(Change {
                at: now,
                direction: Direction::Up,
            });
        }
        let elapsed = self.last_pass.map_or(Duration::ZERO, |t| now.since(t));
        self.last_pass = Some(now);
        (self.last_change, elapsed)
    }

    /// The decision at `now` from what `outcome` read, the name of its target size, and the
    /// load and decision metrics.
    fn decide_now(
        &self,
        outcome: &Outcome,
        current: usize,
        last_change: Option<Change>,
        elapsed: Duration,
        metrics: &Metrics,
        now: Timestamp,
    ) -> (Decision, String) {
        let s = &self.settings;
        let decision = decide(
            &s.ladder,
            s.bounds,
            &s.decision,
            &outcome.signals,
            outcome.nodes,
            current,
            now,
            last_change,
        );
        let target = s.ladder.get(decision.target).map(|r| r.name.clone());
        let target = target.unwrap_or_else(|| outcome.state.size.clone());
        self.record_load(&outcome.signals, current, now, elapsed, metrics);
        metrics.record_decision(
            &self.sizes,
            &target,
            decision.action().label(),
            decision.reason.label(),
        );
        (decision, target)
    }

    /// Reads the load signals and the node count into `outcome`; a source that fails is
    /// counted and its error kept in `outcome.read_errors` (the decision then holds what it
    /// cannot see).
    async fn read_inputs(
        &self,
        signals: &impl SignalSource,
        nodes: &impl NodeCounter,
        metrics: &Metrics,
        now: Timestamp,
        outcome: &mut Outcome,
    ) {
        match signals.signals(now, self.settings.history()).await {
            Ok(s) => outcome.signals = s,
            Err(e) => {
                metrics.count_error("signals", e.label());
                outcome.read_errors.push(e.to_string());
            }
        }
        match nodes.node_count().await {
            Ok(n) => outcome.nodes = Some(n),
            Err(e) => {
                metrics.count_error("nodes", e.label());
                outcome.read_errors.push(e.to_string());
            }
        }
    }

    /// Starts the change `decision` asks for, unless its target is backed off.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &mut self,
        decision: &Decision,
        from: &str,
        to: &str,
        actuator: &impl Actuator,
        events: &impl EventSink,
        metrics: &Metrics,
        now: Timestamp,
    ) -> Act {
        let direction = match decision.action() {
            Action::Down => Direction::Down,
            _ => Direction::Up,
        };
        let key = to.to_owned();
        if let Some(until) = self.backoff.backed_off_until(&key, now) {
            return Act::BackedOff(until);
        }
        match actuator.start(from, to, now).await {
            Ok(()) => {
                self.last_change = Some(Change { at: now, direction });
                metrics.count_resize(direction.label(), "started");
                info!(%from, %to, reason = %decision.reason, "resizing the control plane");
                let message = format!(
                    "resizing the control plane from {from} to {to}: {}",
                    decision.reason
                );
                self.event(events, metrics, false, EventReason::ResizeStarted, message)
                    .await;
                Act::Started
            }
            Err(ActuatorError::Refused { reason }) => {
                let until = self.backoff.record_failure(&key, now);
                metrics.count_resize(direction.label(), "refused");
                warn!(%from, %to, %reason, backoff_until = until.as_millis(), "resize refused; size kept");
                let message =
                    format!("resize from {from} to {to} refused: {reason}; keeping {from}");
                self.event(events, metrics, true, EventReason::ResizeRefused, message)
                    .await;
                Act::Refused { reason, until }
            }
            Err(ActuatorError::Busy(why)) => {
                info!(%from, %to, %why, "resize waits for another change");
                Act::Busy(why)
            }
            Err(e) => {
                metrics.count_error("actuator", e.label());
                warn!(%from, %to, error = %e, "starting the resize failed; retried next loop");
                Act::Failed(e.to_string())
            }
        }
    }

    async fn finished(
        &mut self,
        finished: &Finished,
        events: &impl EventSink,
        metrics: &Metrics,
        now: Timestamp,
    ) {
        let direction = |from: &str, to: &str| {
            let l = &self.settings.ladder;
            if l.position(to) < l.position(from) {
                "down"
            } else {
                "up"
            }
        };
        match finished {
            Finished::Succeeded { from, to } => {
                metrics.count_resize(direction(from, to), "succeeded");
                self.backoff.record_success(to);
                info!(%from, %to, "control plane resized");
                let message = format!("the control plane now runs at {to} (was {from})");
                self.event(
                    events,
                    metrics,
                    false,
                    EventReason::ResizeSucceeded,
                    message,
                )
                .await;
            }
            Finished::Failed { from, to, reason } => {
                metrics.count_resize(direction(from, to), "failed");
                let until = self.backoff.record_failure(to, now);
                warn!(%from, %to, %reason, backoff_until = until.as_millis(), "resize failed and was rolled back");
                let message = format!(
                    "resize from {from} to {to} failed: {reason}; kept {from}, {to} backed off"
                );
                self.event(events, metrics, true, EventReason::ResizeFailed, message)
                    .await;
            }
        }
    }

    async fn event(
        &self,
        events: &impl EventSink,
        metrics: &Metrics,
        warning: bool,
        reason: EventReason,
        message: String,
    ) {
        let event = Event {
            warning,
            reason,
            message,
        };
        if let Err(e) = events.record(&event).await {
            metrics.count_error("events", e.label());
            warn!(error = %e, reason = reason.as_str(), "could not record an event");
        }
    }

    fn record_backoffs(&mut self, metrics: &Metrics, now: Timestamp) {
        self.backoff.prune(now);
        let backoff = &self.backoff;
        metrics.record_backoffs(&self.sizes, |s| backoff.is_backed_off(&s.to_owned(), now));
    }

    /// Each signal's latest value and utilisation, and the time above the high threshold.
    fn record_load(
        &self,
        signals: &Signals,
        current: usize,
        now: Timestamp,
        elapsed: Duration,
        metrics: &Metrics,
    ) {
        let c = &self.settings.decision;
        let capacity = self.settings.ladder.get(current).map(|r| r.capacity);
        let mut above = false;
        for signal in Signal::ALL {
            let series = signals.get(signal);
            let latest = series.latest().map(|(_, v)| v);
            let mean = series
                .window(now, c.up_window, c.coverage, c.max_sample_age)
                .map(|w| w.mean);
            let utilisation = capacity
                .as_ref()
                .and_then(|cap| signal.capacity(cap))
                .zip(mean)
                .map(|(cap, mean)| mean / cap);
            above |= utilisation.is_some_and(|u| u > c.high_threshold);
            metrics.record_signal(signal, latest, utilisation);
        }
        metrics.record_pressure(c.high_threshold, above, elapsed);
    }
}

#[cfg(test)]
pub(crate) mod tests;
