//! The ports: the only way the autoscaler's decision code talks to the world.
//!
//! Real adapters: AWS Auto Scaling/EC2 ([`CloudProvider`]) and Kubernetes reflectors and API
//! ([`ClusterSource`], [`ClusterActions`]). The simulator implements the same traits in memory
//! with virtual time, so a simulated day runs exactly the controller code that runs in production.
//!
//! Refinements over the written contract (documented here, as it allows):
//! - [`Event::reason`] is an [`EventReason`] (a small fixed set, as Kubernetes reasons are), not free text.
//! - [`ObjectRef`] is an enum of the two kinds the autoscaler reports on: pods and nodes.
//! - The error enums carry a stable [`CloudError::label`]/[`ClusterError::label`] for metrics.
//! - [`StatusReport`] lives in `status.rs` and is re-exported here.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tidal_core::Timestamp;
use tidal_core::instance::InstanceType;
use tidal_core::resources::ResourceName;
use tidal_core::scheduling::{LabelSelector, Labels, NodeSpec, PodSpec, Taint};

pub use crate::partial_view::{SkippedObjects, StaleWatch, Unreadable};
pub use crate::status::StatusReport;

/// A boxed error cause from an adapter (AWS SDK, kube-rs, the simulator…).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One node group (one ASG): a node pool in one availability zone.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct NodeGroupId {
    /// Name of the node pool (from the node-pool YAML).
    pub pool: String,
    /// Availability zone of the group, e.g. `eu-central-1a`.
    pub zone: String,
}

impl NodeGroupId {
    /// The group of `pool` in `zone`.
    pub fn new(pool: impl Into<String>, zone: impl Into<String>) -> Self {
        Self {
            pool: pool.into(),
            zone: zone.into(),
        }
    }
}

impl fmt::Display for NodeGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pool, self.zone)
    }
}

/// A node group as the cloud reports it right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeGroup {
    /// Which pool and zone this group is.
    pub id: NodeGroupId,
    /// Name of the Auto Scaling Group.
    pub asg_name: String,
    /// The ASG's own minimum size (a hard cloud limit; the pool's split minimum applies too).
    pub min_size: u32,
    /// The ASG's own maximum size (a hard cloud limit; the pool's split maximum applies too).
    pub max_size: u32,
    /// The ASG's desired capacity.
    pub desired: u32,
    /// Instances the ASG currently has (including pending and terminating ones).
    pub instances: Vec<CloudInstance>,
    /// What the cloud says about the group's nodes beyond the pool and its instance types
    /// (on AWS: the ASG's node-template tags); merged into the group's template node.
    pub template: NodeTemplate,
}

/// What a node group's nodes will carry besides what the pool file and the instance types say,
/// so a group scaled from zero is planned with the labels, taints and resources its nodes get.
/// Cloud-neutral: the AWS adapter fills it from `k8s.io/cluster-autoscaler/node-template/…`
/// tags; a provider without such data leaves it empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTemplate {
    /// Extra node labels (they override pool labels of the same key).
    pub labels: Labels,
    /// Extra node taints.
    pub taints: Vec<Taint>,
    /// Resource capacities that override (or add to) what the instance types say, in core units
    /// (milli-CPU, bytes, counts); `pods` is the node's max pods.
    pub resources: BTreeMap<ResourceName, i64>,
    /// Template data the provider could not read and left out, each naming the ASG and the tag.
    /// Reported as template problems of the group; they never block it.
    pub problems: Vec<String>,
}

impl NodeTemplate {
    /// True when the provider had nothing to say about the group's nodes (no tags, no problems).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
            && self.taints.is_empty()
            && self.resources.is_empty()
            && self.problems.is_empty()
    }
}

/// One instance of a node group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudInstance {
    /// EC2 instance id, e.g. `i-0abc…`; matched against [`ClusterNode::instance_id`]. Shared,
    /// as it is listed every loop.
    pub id: Arc<str>,
    /// EC2 instance type, e.g. `m6i.2xlarge`; shared, as a group runs few types.
    pub instance_type: Arc<str>,
    /// Lifecycle state as the ASG reports it.
    pub state: InstanceState,
    /// Launch time, if known.
    pub launched_at: Option<Timestamp>,
}

/// Lifecycle state of a [`CloudInstance`], collapsed to what the autoscaler needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// Launching (ASG `Pending*`); not yet in service.
    Pending,
    /// In service (ASG `InService`).
    Running,
    /// On its way out (ASG `Terminating*`, `Terminated`, detaching, standby).
    Terminating,
}

/// A scale-up the cloud reported as failed (e.g. InsufficientInstanceCapacity, spot capacity
/// not available), read from the scaling activities rather than waiting for the provision timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleUpFailure {
    /// The group whose scale-up failed.
    pub group: NodeGroupId,
    /// The cloud's reason text (status message of the failed activity).
    pub reason: String,
    /// When the failure happened (activity start or end time).
    pub at: Timestamp,
}

/// Errors from a [`CloudProvider`].
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// A cloud API call failed (network, throttling, permission, server error…).
    #[error("cloud call {operation} failed: {source}")]
    Api {
        /// The operation, e.g. `SetDesiredCapacity`.
        operation: String,
        /// What went wrong underneath.
        #[source]
        source: BoxError,
    },
    /// The node group is not known to the provider.
    #[error("unknown node group {0}")]
    UnknownGroup(NodeGroupId),
    /// An instance type name the cloud does not know.
    #[error("unknown instance type {0}")]
    UnknownInstanceType(String),
    /// A write refused because this replica no longer holds the leader lease.
    #[error("not the leader: the write was not made")]
    NotLeader,
    /// The cloud answered with data that cannot be used (missing fields, inconsistent tags…).
    #[error("invalid cloud data: {0}")]
    Invalid(String),
}

impl CloudError {
    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            CloudError::Api { .. } => "api",
            CloudError::UnknownGroup(_) => "unknown_group",
            CloudError::UnknownInstanceType(_) => "unknown_instance_type",
            CloudError::Invalid(_) => "invalid",
            CloudError::NotLeader => "not_leader",
        }
    }
}

/// The cloud side: Auto Scaling Groups and instance types.
#[allow(async_fn_in_trait)]
pub trait CloudProvider {
    /// All node groups of this cluster (one per pool and zone), with their instances.
    async fn node_groups(&self) -> Result<Vec<NodeGroup>, CloudError>;
    /// Capacity data for the named instance types (adapters cache this; it rarely changes).
    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, CloudError>;
    /// Sets the desired capacity of a group.
    async fn set_desired_capacity(
        &self,
        group: &NodeGroupId,
        desired: u32,
    ) -> Result<(), CloudError>;
    /// Terminates one instance and decrements the group's desired capacity.
    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError>;
    /// Scale-ups that failed at or after `since`.
    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError>;
}

/// What the autoscaler sees of the cluster at one instant, already converted to core types.
#[derive(Clone, Debug, Default)]
pub struct ClusterSnapshot {
    /// When the underlying state was last known to be current (reflector sync or sim time).
    pub taken_at: Timestamp,
    /// All nodes.
    pub nodes: Vec<Arc<ClusterNode>>,
    /// All pods (bound and pending). The list is shared, so a source that keeps it can hand
    /// out the same list again (the simulator changes its own copy in place between loops);
    /// change a snapshot's list with `Arc::make_mut`.
    pub pods: Arc<Vec<Arc<ClusterPod>>>,
    /// All PodDisruptionBudgets.
    pub pdbs: Vec<Arc<DisruptionBudget>>,
    /// What the source could not read and left out, as far as it touches nodes.
    pub unreadable: Unreadable,
}

/// A node as the autoscaler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterNode {
    /// Node name.
    pub name: String,
    /// EC2 instance id parsed from `spec.providerID` (`aws:///zone/i-…`), if any.
    pub instance_id: Option<String>,
    /// Scheduling view of the node (labels, taints, allocatable).
    pub spec: NodeSpec,
    /// Ready condition is True.
    pub ready: bool,
    /// `spec.unschedulable` (cordoned) or tainted `ToBeDeletedByClusterAutoscaler`.
    pub unschedulable: bool,
    /// Creation time of the Node object.
    pub created_at: Timestamp,
}

impl ClusterNode {
    /// Whether the node carries the autoscaler's deletion mark ([`TO_BE_DELETED_TAINT`]).
    pub fn is_marked_for_deletion(&self) -> bool {
        self.spec
            .taints
            .iter()
            .any(|t| t.key == TO_BE_DELETED_TAINT)
    }
}

/// The taint that marks a node the autoscaler is removing (upstream's name, so tools that
/// know it keep working); its value is the Unix time of marking.
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";

/// Pod lifecycle phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PodPhase {
    /// Not yet running (pending scheduling or starting).
    Pending,
    /// Running.
    Running,
    /// Finished successfully; holds no resources.
    Succeeded,
    /// Finished with failure; holds no resources.
    Failed,
    /// Phase not reported.
    Unknown,
}

impl PodPhase {
    /// Whether the pod has finished (and no longer holds resources on its node).
    pub fn is_terminal(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

/// A pod as the autoscaler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterPod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Scheduling view of the pod (requests, selectors, tolerations, …).
    pub spec: PodSpec,
    /// Node the pod is bound to, if any.
    pub node_name: Option<String>,
    /// Lifecycle phase.
    pub phase: PodPhase,
    /// Set when the scheduler reported PodScheduled=False with reason Unschedulable (the transition time).
    pub unschedulable_since: Option<Timestamp>,
    /// Kind of the controlling owner: `ReplicaSet`, `DaemonSet`, `StatefulSet`, `Job`, `Node` (mirror pod)…
    pub controller_kind: Option<String>,
    /// The `cluster-autoscaler.kubernetes.io/safe-to-evict` annotation, if set.
    pub safe_to_evict: Option<bool>,
    /// Uses an `emptyDir` (not in memory) or `hostPath` volume.
    pub has_local_storage: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Being deleted (`metadata.deletionTimestamp` set): its controller has replaced it already,
    /// so it neither needs a new node nor has to be moved.
    pub deleting: bool,
}

impl ClusterPod {
    /// Whether this pod belongs to a DaemonSet or is a mirror (static) pod: it is not moved on scale-down.
    pub fn is_daemon(&self) -> bool {
        matches!(
            self.controller_kind.as_deref(),
            Some("DaemonSet") | Some("Node")
        )
    }
}

/// A PodDisruptionBudget, reduced to what scale-down needs.
#[derive(Clone, Debug, PartialEq)]
pub struct DisruptionBudget {
    /// Namespace (a PDB only covers pods of its namespace).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Which pods it covers.
    pub selector: LabelSelector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: u32,
}

/// Errors from a [`ClusterSource`] or [`ClusterActions`].
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A Kubernetes API call failed.
    #[error("kubernetes call {operation} failed: {source}")]
    Api {
        /// The operation, e.g. `evict pod`.
        operation: String,
        /// What went wrong underneath.
        #[source]
        source: BoxError,
    },
    /// The cluster state is not available yet (reflectors not synced).
    #[error("cluster state not ready: {0}")]
    NotReady(String),
    /// The object does not exist (any more).
    #[error("{kind} {name} not found")]
    NotFound {
        /// Object kind, e.g. `Pod`.
        kind: String,
        /// `namespace/name` or `name`.
        name: String,
    },
    /// An object the API returned could not be read (a malformed pod in a live read).
    #[error("{object} cannot be read: {reason}")]
    Unreadable {
        /// The object, e.g. `pod default/web-1`.
        object: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A write refused because this replica no longer holds the leader lease.
    #[error("not the leader: the write was not made")]
    NotLeader,
    /// The Eviction API refused because a PodDisruptionBudget does not allow it right now (HTTP 429).
    #[error("eviction of {namespace}/{name} blocked by a disruption budget")]
    EvictionBlocked {
        /// Pod namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
}

impl ClusterError {
    /// A short fixed label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ClusterError::Api { .. } => "api",
            ClusterError::NotReady(_) => "not_ready",
            ClusterError::NotFound { .. } => "not_found",
            ClusterError::Unreadable { .. } => "unreadable",
            ClusterError::NotLeader => "not_leader",
            ClusterError::EvictionBlocked { .. } => "eviction_blocked",
        }
    }
}

/// Source of cluster state. Synchronous: reflector stores or simulator state are read in memory.
pub trait ClusterSource {
    /// The current state of nodes, pods and PDBs.
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError>;
}

/// What the controller needs from the cluster side beyond the loop's ports: readiness and the
/// objects the source could not read.
#[allow(async_fn_in_trait)]
pub trait WatchedCluster: ClusterSource + ClusterActions {
    /// Resolves once the cluster state is complete (every watch listed once).
    async fn wait_until_ready(&self) -> Result<(), ClusterError>;
    /// Warning Events about objects the source skipped, not yet published.
    fn take_invalid_pod_events(&self) -> Vec<Event> {
        Vec::new()
    }
    /// Objects the last snapshot skipped.
    fn skipped_objects(&self) -> SkippedObjects {
        SkippedObjects::default()
    }
    /// Watches silent for longer than they may be (a source without watches has none).
    fn stale_watches(&self) -> Vec<StaleWatch> {
        Vec::new()
    }
}

/// The object an [`Event`] is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectRef {
    /// A pod.
    Pod {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A node.
    Node {
        /// Name.
        name: String,
    },
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Pod { namespace, name } => write!(f, "pod {namespace}/{name}"),
            ObjectRef::Node { name } => write!(f, "node {name}"),
        }
    }
}

/// Reason of an [`Event`]: the names upstream users already know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventReason {
    /// On a pod: a scale-up was started that will make room for it.
    TriggeredScaleUp,
    /// On a pod: no node group can run it (the message says why).
    NotTriggerScaleUp,
    /// On a node: the autoscaler is removing it.
    ScaleDown,
    /// On a node: a started scale-down was abandoned (eviction refused, drain too slow, …).
    ScaleDownFailed,
    /// On a pod: the adapter could not convert it (malformed), so it was skipped.
    InvalidPod,
}

impl EventReason {
    /// The Kubernetes `reason` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventReason::TriggeredScaleUp => "TriggeredScaleUp",
            EventReason::NotTriggerScaleUp => "NotTriggerScaleUp",
            EventReason::ScaleDown => "ScaleDown",
            EventReason::ScaleDownFailed => "ScaleDownFailed",
            EventReason::InvalidPod => "InvalidPod",
        }
    }
}

impl fmt::Display for EventReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes Event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What the event is about.
    pub object: ObjectRef,
    /// `type: Warning` instead of `Normal`.
    pub warning: bool,
    /// Short machine-readable reason.
    pub reason: EventReason,
    /// Human-readable message.
    pub message: String,
}

/// Actions on the cluster.
#[allow(async_fn_in_trait)]
pub trait ClusterActions {
    /// Evicts a pod through the Eviction API (the API server enforces PDBs).
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError>;
    /// The pods bound to `node`, read live from the API (not from a cache or a snapshot): the
    /// recheck right before a node is terminated. A pod that cannot be read is an error (an
    /// unknown pod may be one that must be evicted), never left out.
    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError>;
    /// Taints the node `ToBeDeletedByClusterAutoscaler:NoSchedule` and cordons it.
    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError>;
    /// Removes the taint and uncordons the node.
    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError>;
    /// Records an Event.
    async fn record_event(&self, event: &Event) -> Result<(), ClusterError>;
    /// Writes the status report (the `cluster-autoscaler-status` ConfigMap).
    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError>;
}

// A borrowed port is a port: wrappers such as `DryRun` can wrap a port someone else owns.
impl<T: CloudProvider + ?Sized> CloudProvider for &T {
    async fn node_groups(&self) -> Result<Vec<NodeGroup>, CloudError> {
        (**self).node_groups().await
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, CloudError> {
        (**self).instance_types(names).await
    }

    async fn set_desired_capacity(
        &self,
        group: &NodeGroupId,
        desired: u32,
    ) -> Result<(), CloudError> {
        (**self).set_desired_capacity(group, desired).await
    }

    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        (**self).terminate_instance(group, instance_id).await
    }

    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError> {
        (**self).scale_up_failures(since).await
    }
}

impl<T: ClusterSource + ?Sized> ClusterSource for &T {
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        (**self).snapshot()
    }
}

impl<T: ClusterActions + ?Sized> ClusterActions for &T {
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        (**self).evict_pod(namespace, name).await
    }

    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError> {
        (**self).pods_on_node(node).await
    }

    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        (**self).mark_for_deletion(node).await
    }

    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        (**self).unmark_for_deletion(node).await
    }

    async fn record_event(&self, event: &Event) -> Result<(), ClusterError> {
        (**self).record_event(event).await
    }

    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError> {
        (**self).write_status(status).await
    }
}
