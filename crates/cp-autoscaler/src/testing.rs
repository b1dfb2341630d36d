//! In-memory implementations of the ports, for tests and the simulator.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tidal_core::sync;

use tidal_core::Timestamp;
use tidal_core::control_plane::Signals;

use crate::ports::{
    Actuator, ActuatorError, ActuatorState, Event, EventError, EventSink, Finished, HealthError,
    NodeCountError, NodeCounter, NodeHealth, Phase, SignalError, SignalSource,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    sync::lock(m)
}

/// Node health: every instance is healthy until [`FakeHealth::freeze`]; after that only the
/// instances seen before are (a replacement that never becomes healthy).
#[derive(Debug, Default)]
pub struct FakeHealth {
    known: Mutex<BTreeSet<String>>,
    frozen: AtomicBool,
}

impl FakeHealth {
    /// From now on, instances not seen yet are unhealthy.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

impl NodeHealth for FakeHealth {
    async fn healthy(&self, ids: &[String]) -> Result<BTreeSet<String>, HealthError> {
        let mut known = lock(&self.known);
        if !self.frozen.load(Ordering::SeqCst) {
            known.extend(ids.iter().cloned());
        }
        Ok(ids
            .iter()
            .filter(|id| known.contains(*id))
            .cloned()
            .collect())
    }
}

/// Signals set by the test; `None` = Prometheus down.
#[derive(Debug, Default)]
pub struct FakeSignals {
    /// What [`SignalSource::signals`] returns.
    pub signals: Mutex<Option<Signals>>,
}

impl FakeSignals {
    /// Returns `signals` from now on.
    pub fn set(&self, signals: Option<Signals>) {
        *lock(&self.signals) = signals;
    }
}

impl SignalSource for FakeSignals {
    async fn signals(&self, _now: Timestamp, _span: Duration) -> Result<Signals, SignalError> {
        lock(&self.signals).clone().ok_or(SignalError::Query {
            signal: "cpu",
            source: "connection refused".into(),
        })
    }
}

/// A node count set by the test; `None` = the API is down.
#[derive(Debug, Default)]
pub struct FakeNodes(pub Mutex<Option<u32>>);

impl NodeCounter for FakeNodes {
    async fn node_count(&self) -> Result<u32, NodeCountError> {
        lock(&self.0).ok_or_else(|| NodeCountError::Api("connection refused".into()))
    }
}

/// Events kept in memory.
#[derive(Debug, Default)]
pub struct FakeEvents(pub Mutex<Vec<Event>>);

impl FakeEvents {
    /// The events recorded so far.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0).clone()
    }
}

impl EventSink for FakeEvents {
    async fn record(&self, event: &Event) -> Result<(), EventError> {
        lock(&self.0).push(event.clone());
        Ok(())
    }
}

/// An actuator that changes size after a number of reconciles, refuses sizes it is told to,
/// and records every start.
#[derive(Debug)]
pub struct FakeActuator {
    state: Mutex<FakeState>,
}

#[derive(Debug)]
struct FakeState {
    size: String,
    target: Option<String>,
    steps_left: u32,
    steps_per_change: u32,
    refuse: BTreeSet<String>,
    fail: BTreeSet<String>,
    starts: Vec<(String, String)>,
    finished: VecDeque<Finished>,
}

impl FakeActuator {
    /// At `size`; a change takes `steps` reconciles.
    pub fn new(size: &str, steps: u32) -> Self {
        Self {
            state: Mutex::new(FakeState {
                size: size.to_owned(),
                target: None,
                steps_left: 0,
                steps_per_change: steps,
                refuse: BTreeSet::new(),
                fail: BTreeSet::new(),
                starts: Vec::new(),
                finished: VecDeque::new(),
            }),
        }
    }

    /// Starting a change to `size` is refused.
    pub fn refuse(&self, size: &str) {
        lock(&self.state).refuse.insert(size.to_owned());
    }

    /// A change to `size` starts but fails.
    pub fn fail(&self, size: &str) {
        lock(&self.state).fail.insert(size.to_owned());
    }

    /// Every `(from, to)` started.
    pub fn starts(&self) -> Vec<(String, String)> {
        lock(&self.state).starts.clone()
    }

    /// The size now.
    pub fn size(&self) -> String {
        lock(&self.state).size.clone()
    }
}

impl Actuator for FakeActuator {
    async fn observe(&self, _now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        let s = lock(&self.state);
        Ok(ActuatorState {
            target: s.target.clone(),
            phase: if s.target.is_some() {
                Phase::Updating
            } else {
                Phase::Idle
            },
            ..ActuatorState::idle(s.size.clone())
        })
    }

    async fn reconcile(&self, _now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        let mut s = lock(&self.state);
        if let Some(target) = s.target.clone() {
            if s.steps_left > 1 {
                s.steps_left -= 1;
                return Ok(ActuatorState {
                    target: Some(target),
                    phase: Phase::Updating,
                    ..ActuatorState::idle(s.size.clone())
                });
            }
            s.target = None;
            let from = s.size.clone();
            let finished = if s.fail.contains(&target) {
                Finished::Failed {
                    from,
                    to: target,
                    reason: "the replacement did not become healthy".into(),
                }
            } else {
                s.size = target.clone();
                Finished::Succeeded { from, to: target }
            };
            s.finished.push_back(finished);
        }
        let finished = s.finished.pop_front();
        Ok(ActuatorState {
            finished,
            ..ActuatorState::idle(s.size.clone())
        })
    }

    async fn start(&self, from: &str, to: &str, _now: Timestamp) -> Result<(), ActuatorError> {
        let mut s = lock(&self.state);
        s.starts.push((from.to_owned(), to.to_owned()));
        if s.refuse.contains(to) {
            return Err(ActuatorError::Refused {
                reason: format!("InvalidInstanceType: {to} is not supported"),
            });
        }
        if s.target.is_some() {
            return Err(ActuatorError::Busy("a change is in progress".into()));
        }
        s.target = Some(to.to_owned());
        s.steps_left = s.steps_per_change.max(1);
        Ok(())
    }
}
