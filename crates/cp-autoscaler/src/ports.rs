//! The ports: the only way the control loop talks to the world.
//!
//! Real adapters: Prometheus ([`SignalSource`]), the Kubernetes API ([`NodeCounter`],
//! [`EventSink`], [`NodeHealth`]), EKS or EC2 Auto Scaling ([`Actuator`]). Tests and the simulator implement the same traits in memory.
//!
//! Each port has its own error type with a bounded [`label`](SignalError::label) for metrics.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::control_plane::Signals;

/// A boxed error cause from an adapter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The load samples could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The metrics backend could not be reached or answered with an error.
    #[error("query {signal} failed: {source}")]
    Query {
        /// The signal being read.
        signal: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The answer was not what the query should return (e.g. a scalar for a range query).
    #[error("query {signal}: unexpected answer: {detail}")]
    Unexpected {
        /// The signal being read.
        signal: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl SignalError {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            SignalError::Query { .. } => "query",
            SignalError::Unexpected { .. } => "unexpected",
        }
    }
}

/// The source of load samples.
#[allow(async_fn_in_trait)]
pub trait SignalSource {
    /// Every configured signal's samples over `(now − span, now]`, in absolute units (see
    /// [`Signals`]); a signal that is not configured is an empty series.
    async fn signals(&self, now: Timestamp, span: Duration) -> Result<Signals, SignalError>;
}

/// The node count could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NodeCountError {
    /// The Kubernetes API call failed.
    #[error("listing nodes failed: {0}")]
    Api(#[source] BoxError),
}

impl NodeCountError {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            NodeCountError::Api(_) => "api",
        }
    }
}

/// The cluster's node count (the floor of the control-plane size).
#[allow(async_fn_in_trait)]
pub trait NodeCounter {
    /// How many nodes the cluster has.
    async fn node_count(&self) -> Result<u32, NodeCountError>;
}

/// What a control-plane change is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No change in progress.
    Idle,
    /// EKS: an UpdateClusterConfig is in progress.
    Updating,
    /// Self-managed: a replacement instance is starting.
    Launching,
    /// Self-managed: waiting for the replacement's node to be Ready and its API server healthy.
    WaitingHealthy,
    /// Self-managed: an old instance is being removed.
    Removing,
}

impl Phase {
    /// Every phase, for metrics.
    pub const ALL: [Phase; 5] = [
        Phase::Idle,
        Phase::Updating,
        Phase::Launching,
        Phase::WaitingHealthy,
        Phase::Removing,
    ];

    /// A bounded label.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Updating => "updating",
            Phase::Launching => "launching",
            Phase::WaitingHealthy => "waiting_healthy",
            Phase::Removing => "removing",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where the control plane stands, as the actuator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActuatorState {
    /// The size it runs at (during a change: the size it is leaving).
    pub size: String,
    /// The size a change in progress moves to.
    pub target: Option<String>,
    /// What the change is doing.
    pub phase: Phase,
    /// Set once when a change ends: how it ended.
    pub finished: Option<Finished>,
    /// Control-plane instances (self-managed) counted healthy at this observation.
    pub healthy: Option<u32>,
}

impl ActuatorState {
    /// A control plane at `size` with nothing in progress.
    pub fn idle(size: impl Into<String>) -> Self {
        Self {
            size: size.into(),
            target: None,
            phase: Phase::Idle,
            finished: None,
            healthy: None,
        }
    }
}

/// How a change ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// The control plane now runs at the target size.
    Succeeded {
        /// The size left.
        from: String,
        /// The size reached.
        to: String,
    },
    /// The change failed and was undone as far as it could be; the reason is for people.
    Failed {
        /// The size kept.
        from: String,
        /// The size that was not reached.
        to: String,
        /// What went wrong.
        reason: String,
    },
}

/// A change could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ActuatorError {
    /// The cloud refused the change (an instance type or tier it rejects, a tier that cannot be
    /// left now): the size stays, the target is backed off.
    #[error("refused: {reason}")]
    Refused {
        /// The cloud's reason.
        reason: String,
    },
    /// A change is already in progress (started by someone else).
    #[error("another change is in progress: {0}")]
    Busy(String),
    /// The cloud API failed (network, throttling, permissions).
    #[error("{operation} failed: {source}")]
    Api {
        /// The call.
        operation: &'static str,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The cloud's state is not what this controller can work with (e.g. no launch template).
    #[error("{0}")]
    Invalid(String),
}

impl ActuatorError {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ActuatorError::Refused { .. } => "refused",
            ActuatorError::Busy(_) => "busy",
            ActuatorError::Api { .. } => "api",
            ActuatorError::Invalid(_) => "invalid",
        }
    }
}

/// Changes the control plane's size.
///
/// The controller calls [`Actuator::reconcile`] every loop: it reads where the control plane
/// stands and moves a change in progress one step on (the state lives in the cloud, so a restart
/// resumes it). [`Actuator::start`] is only called while nothing is in progress.
/// [`Actuator::observe`] only reads: `plan` and `--dry-run` use it.
#[allow(async_fn_in_trait)]
pub trait Actuator {
    /// Reads the control plane's size and what a change in progress would do next; changes
    /// nothing.
    async fn observe(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError>;
    /// Reads the control plane's size and moves a change in progress one step on.
    async fn reconcile(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError>;
    /// Starts moving from size `from` to size `to`.
    async fn start(&self, from: &str, to: &str, now: Timestamp) -> Result<(), ActuatorError>;
}

/// An Event for people: what was done or refused, on the controller's own object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Warning (refused, failed) or Normal.
    pub warning: bool,
    /// A short CamelCase reason from a fixed set.
    pub reason: EventReason,
    /// What happened.
    pub message: String,
}

/// Reasons of the Events this controller raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventReason {
    /// A resize started.
    ResizeStarted,
    /// A resize finished.
    ResizeSucceeded,
    /// A resize failed and was rolled back.
    ResizeFailed,
    /// The cloud refused a resize.
    ResizeRefused,
}

impl EventReason {
    /// The Kubernetes Event reason.
    pub fn as_str(self) -> &'static str {
        match self {
            EventReason::ResizeStarted => "ControlPlaneResizeStarted",
            EventReason::ResizeSucceeded => "ControlPlaneResizeSucceeded",
            EventReason::ResizeFailed => "ControlPlaneResizeFailed",
            EventReason::ResizeRefused => "ControlPlaneResizeRefused",
        }
    }
}

/// An Event could not be written.
#[derive(Debug, thiserror::Error)]
#[error("recording an event failed: {0}")]
pub struct EventError(#[source] pub BoxError);

impl EventError {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        "api"
    }
}

/// Where Events go.
#[allow(async_fn_in_trait)]
pub trait EventSink {
    /// Records `event`.
    async fn record(&self, event: &Event) -> Result<(), EventError>;
}

/// Health of control-plane instances could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The Kubernetes API call failed.
    #[error("reading control-plane node health failed: {0}")]
    Api(#[source] BoxError),
}

impl HealthError {
    /// A bounded label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            HealthError::Api(_) => "api",
        }
    }
}

/// Whether control-plane instances serve: their node is Ready and their API server answers
/// `/readyz`. The self-managed roll waits on it before it removes an old instance.
#[allow(async_fn_in_trait)]
pub trait NodeHealth {
    /// The ids among `instance_ids` that are healthy now.
    async fn healthy(&self, instance_ids: &[String]) -> Result<BTreeSet<String>, HealthError>;
}

impl<T: NodeHealth> NodeHealth for std::sync::Arc<T> {
    async fn healthy(&self, instance_ids: &[String]) -> Result<BTreeSet<String>, HealthError> {
        self.as_ref().healthy(instance_ids).await
    }
}
