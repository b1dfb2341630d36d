//! The ports: the only way the recommender loop talks to the world.
//!
//! - [`VpaSource`]: the VPA objects (a reflector in production).
//! - [`TargetResolver`]: the label selector of a VPA's target controller.
//! - [`PodSource`]: the pods some VPA selects, with their containers' requests and OOM kills.
//! - [`UsageSource`]: container usage, live (each loop) and history (at start).
//! - [`VpaWriter`]: VPA statuses and checkpoints (the only writes).
//!
//! Each error enum has a bounded [`label`](WriteError::label) for metrics. The adapters are in
//! `kube/`, `usage/`; the `--dry-run` wrapper is [`crate::dry_run::DryRun`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use tidal_core::Timestamp;
use tidal_core::scheduling::{LabelSelector, Labels};

use crate::crd::{
    CrossVersionObjectReference, VerticalPodAutoscaler, VerticalPodAutoscalerCheckpoint,
    VerticalPodAutoscalerStatus,
};

/// A boxed error cause from an adapter (kube-rs, prometheus-http-query…).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `namespace/name` of a namespaced object (a VPA, a pod, a checkpoint).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The VPA objects this replica can see.
pub trait VpaSource: Send + Sync {
    /// Every VPA, whoever its recommender is (the loop filters); `None` until listed once
    /// (an empty list must not be mistaken for "every VPA was deleted").
    fn vpas(&self) -> Option<Vec<Arc<VerticalPodAutoscaler>>>;
}

/// Why a target's selector is not known.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target object does not exist.
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        /// Kind of the target.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// The kind is not a workload this recommender can read a selector from (no such kind, no
    /// scale subresource, or a scale without a selector).
    #[error("{0}")]
    Unsupported(String),
    /// The API call failed; the answer is unknown.
    #[error("reading the target failed")]
    Api(#[source] BoxError),
}

impl TargetError {
    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Unsupported(_) => "unsupported",
            Self::Api(_) => "api",
        }
    }
}

/// Finds the pods of a VPA's target.
#[allow(async_fn_in_trait)]
pub trait TargetResolver: Send + Sync {
    /// The label selector of the controller `target` in `namespace`.
    async fn selector(
        &self,
        namespace: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<LabelSelector, TargetError>;
}

/// A pod some VPA selects, reduced to what the recommender reads.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedPod {
    /// The pod.
    pub key: ObjectKey,
    /// Its labels (to match VPA selectors).
    pub labels: Labels,
    /// When it started, if it has.
    pub start_time: Option<Timestamp>,
    /// Its regular containers (init containers are not recommended for).
    pub containers: Vec<ObservedContainer>,
}

/// One container of an [`ObservedPod`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedContainer {
    /// The container's name.
    pub name: String,
    /// CPU request in cores, if set.
    pub cpu_request: Option<f64>,
    /// Memory request in bytes, if set.
    pub memory_request: Option<f64>,
    /// The last termination, if it was an OOM kill.
    pub last_oom: Option<OomKill>,
}

/// A container's OOM kill as pod status reports it (`lastState.terminated.reason: OOMKilled`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OomKill {
    /// When the killed container finished (identifies the kill: the same kill is seen every
    /// loop until the next restart replaces it).
    pub finished_at: Timestamp,
    /// The container's memory request at the kill, in bytes, if set.
    pub memory_request: Option<f64>,
}

/// Why pods are not known.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    /// The pod watch has not listed once yet.
    #[error("the pod watch has not listed yet")]
    NotReady,
}

impl PodError {
    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotReady => "not_ready",
        }
    }
}

/// The pods the recommender tracks.
pub trait PodSource: Send + Sync {
    /// Tells the source which pods to keep: those matching one of the selectors in their
    /// namespace. Pods nobody selects are not kept.
    fn track(&self, selectors: &BTreeMap<String, Vec<LabelSelector>>);
    /// The tracked pods.
    fn pods(&self) -> Result<Vec<ObservedPod>, PodError>;
}

/// One usage sample of one container.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageSample {
    /// The pod.
    pub pod: ObjectKey,
    /// The container.
    pub container: String,
    /// When the sample was taken.
    pub at: Timestamp,
    /// CPU in cores (a rate over the sampling window), if measured.
    pub cpu_cores: Option<f64>,
    /// Memory working set in bytes, if measured.
    pub memory_bytes: Option<f64>,
}

/// Why usage could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The metrics backend did not answer (down, timeout, connection refused).
    #[error("the metrics backend is unreachable")]
    Unreachable(#[source] BoxError),
    /// It answered with an error or with data of the wrong shape.
    #[error("the metrics backend answered badly: {0}")]
    BadAnswer(String),
}

impl UsageError {
    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::BadAnswer(_) => "bad_answer",
        }
    }
}

/// Usage history: samples, and the labels of pods that may be gone by now (so their samples
/// can be matched to VPA selectors).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageHistory {
    /// Samples, in no particular order.
    pub samples: Vec<UsageSample>,
    /// Labels of the pods the samples came from, where the backend knows them.
    pub pod_labels: HashMap<ObjectKey, Labels>,
}

/// Container usage.
#[allow(async_fn_in_trait)]
pub trait UsageSource: Send + Sync {
    /// The latest sample of every container the backend knows.
    async fn current(&self) -> Result<Vec<UsageSample>, UsageError>;
    /// Samples from `start` to `end` (history at start-up). Sources without history (the
    /// metrics API) return none.
    async fn history(&self, start: Timestamp, end: Timestamp) -> Result<UsageHistory, UsageError>;
    /// Whether [`UsageSource::history`] can return anything.
    fn has_history(&self) -> bool;
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The object is gone (deleted since it was read).
    #[error("{0} not found")]
    NotFound(ObjectKey),
    /// The API server refused (forbidden, invalid, conflict).
    #[error("the API server refused the write to {key}: {message}")]
    Refused {
        /// The object.
        key: ObjectKey,
        /// The server's message.
        message: String,
    },
    /// The request did not get an answer (network, timeout, 5xx).
    #[error("writing {key} failed")]
    Api {
        /// The object.
        key: ObjectKey,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl WriteError {
    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Refused { .. } => "refused",
            Self::Api { .. } => "api",
        }
    }
}

/// The recommender's writes, and the reads of its own checkpoints.
#[allow(async_fn_in_trait)]
pub trait VpaWriter: Send + Sync {
    /// Replaces the status of VPA `key` (recommendation and conditions).
    async fn write_status(
        &self,
        key: &ObjectKey,
        status: &VerticalPodAutoscalerStatus,
    ) -> Result<(), WriteError>;
    /// Creates or replaces a checkpoint (named `<vpa>-<container>`).
    async fn write_checkpoint(
        &self,
        checkpoint: &VerticalPodAutoscalerCheckpoint,
    ) -> Result<(), WriteError>;
    /// Deletes a checkpoint (an orphan); one already gone is not an error.
    async fn delete_checkpoint(&self, key: &ObjectKey) -> Result<(), WriteError>;
    /// Every checkpoint in the cluster (restore at start, orphan collection).
    async fn checkpoints(&self) -> Result<Vec<VerticalPodAutoscalerCheckpoint>, WriteError>;
}
