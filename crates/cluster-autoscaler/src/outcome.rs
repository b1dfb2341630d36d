//! What one loop decided and did, as values: for metrics, logs, events and the simulator's decision log.

use std::time::Duration;

use serde::Serialize;
use tidal_core::Timestamp;

use crate::ports::{NodeGroupId, Unreadable};
use crate::status::StatusReport;

/// A pod named by namespace and name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Why a group's desired capacity was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ScaleUpReason {
    /// Pending pods need room.
    PendingPods,
    /// The group was below its minimum size.
    BelowMinimum,
}

impl ScaleUpReason {
    /// Stable label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            ScaleUpReason::PendingPods => "pending_pods",
            ScaleUpReason::BelowMinimum => "below_minimum",
        }
    }
}

/// One raise of a group's desired capacity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleUp {
    /// The group.
    pub group: NodeGroupId,
    /// Desired capacity before.
    pub from: u32,
    /// Desired capacity requested.
    pub to: u32,
    /// Pending pods the new nodes are for (0 for [`ScaleUpReason::BelowMinimum`]).
    pub pods: usize,
    /// Why.
    pub reason: ScaleUpReason,
    /// Least-waste score of the chosen option (lower is better).
    pub waste: f64,
    /// The cloud accepted the new desired capacity (false: the call failed or this is a dry run).
    pub applied: bool,
}

/// Pending pods (one equivalence class) that no group can help, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoScaleUp {
    /// The pods.
    pub pods: Vec<PodRef>,
    /// Human-readable reason naming what each kind of group lacked.
    pub reason: String,
}

/// How a scale-up failure was detected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum FailureKind {
    /// The cloud reported a failed scaling activity (e.g. InsufficientInstanceCapacity).
    Reported(String),
    /// Requested nodes did not register within the max node provision time.
    ProvisionTimeout,
}

impl FailureKind {
    /// Stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            FailureKind::Reported(_) => "cloud_reported",
            FailureKind::ProvisionTimeout => "provision_timeout",
        }
    }
}

/// A failed scale-up found this loop; the group was backed off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureDetected {
    /// The group.
    pub group: NodeGroupId,
    /// How it was detected.
    pub kind: FailureKind,
    /// The group is backed off until then.
    pub backoff_until: Timestamp,
    /// Desired capacity the in-flight scale-up was cancelled down to, if it was.
    pub cancelled_to: Option<u32>,
}

/// Pods that a failed group was meant to serve went to another group in the same loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fallback {
    /// The failed (now backed-off) group.
    pub from: NodeGroupId,
    /// The group scaled up instead.
    pub to: NodeGroupId,
    /// Pods planned onto `to`.
    pub pods: usize,
}

/// A group in backoff at the end of the loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupBackoff {
    /// The group.
    pub group: NodeGroupId,
    /// Backed off until.
    pub until: Timestamp,
}

/// Where a node's removal stands after this loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ScaleDownStep {
    /// Marked for deletion and its pods' evictions requested; terminated once drained.
    Draining {
        /// Evictions requested this loop.
        evicted: usize,
    },
    /// The instance was terminated (desired capacity decremented).
    Terminated,
    /// The removal was abandoned and the node unmarked.
    Aborted(String),
}

/// A node being removed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleDown {
    /// Node name.
    pub node: String,
    /// Its group.
    pub group: NodeGroupId,
    /// Its instance.
    pub instance_id: String,
    /// It ran no pods that had to move.
    pub empty: bool,
    /// max(cpu, memory) requests / allocatable when chosen.
    pub utilization: f64,
    /// What happened this loop.
    pub step: ScaleDownStep,
}

/// Why scale-down did not run this loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ScaleDownSkip {
    /// Disabled by configuration.
    Disabled,
    /// The cluster snapshot is older than two scan intervals.
    StaleSnapshot {
        /// Age of the snapshot.
        age: Duration,
    },
    /// A port call failed earlier in this loop, so the view of the world is uncertain.
    PortError,
    /// A scale-up happened this loop or recently (scale-down delay after add).
    RecentScaleUp,
    /// So many nodes are not Ready that the cluster itself looks broken (a control-plane or
    /// network incident), not the nodes: removing them would make it worse.
    TooManyUnready {
        /// Registered nodes that are not Ready.
        unready: usize,
        /// Registered nodes.
        total: usize,
    },
}

impl ScaleDownSkip {
    /// Stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            ScaleDownSkip::Disabled => "disabled",
            ScaleDownSkip::StaleSnapshot { .. } => "stale_snapshot",
            ScaleDownSkip::PortError => "port_error",
            ScaleDownSkip::RecentScaleUp => "recent_scale_up",
            ScaleDownSkip::TooManyUnready { .. } => "too_many_unready",
        }
    }
}

/// What a port call does to the world. The loop's safety gates match on this, never on names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Reads only (the cloud's groups, instance types or failures; the cluster snapshot).
    Reads,
    /// Changes the cloud (desired capacity, instances).
    WritesCloud,
    /// Changes the cluster (taints, evictions, the status ConfigMap).
    WritesCluster,
    /// Only records what happened (Events): changes nothing anyone acts on.
    RecordsOnly,
}

/// A port method, as a value: what failed in a [`PortError`] and the `operation` metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// [`crate::ports::CloudProvider::node_groups`].
    NodeGroups,
    /// [`crate::ports::CloudProvider::instance_types`].
    InstanceTypes,
    /// [`crate::ports::CloudProvider::scale_up_failures`].
    ScaleUpFailures,
    /// [`crate::ports::CloudProvider::set_desired_capacity`].
    SetDesiredCapacity,
    /// [`crate::ports::CloudProvider::terminate_instance`].
    TerminateInstance,
    /// [`crate::ports::ClusterSource::snapshot`].
    Snapshot,
    /// [`crate::ports::ClusterActions::evict_pod`].
    EvictPod,
    /// [`crate::ports::ClusterActions::pods_on_node`].
    PodsOnNode,
    /// [`crate::ports::ClusterActions::mark_for_deletion`].
    MarkForDeletion,
    /// [`crate::ports::ClusterActions::unmark_for_deletion`].
    UnmarkForDeletion,
    /// [`crate::ports::ClusterActions::write_status`].
    WriteStatus,
    /// [`crate::ports::ClusterActions::record_event`].
    RecordEvent,
}

impl Operation {
    /// What the call does to the world.
    pub fn effect(self) -> Effect {
        match self {
            Operation::NodeGroups
            | Operation::InstanceTypes
            | Operation::ScaleUpFailures
            | Operation::Snapshot
            | Operation::PodsOnNode => Effect::Reads,
            Operation::SetDesiredCapacity | Operation::TerminateInstance => Effect::WritesCloud,
            Operation::EvictPod
            | Operation::MarkForDeletion
            | Operation::UnmarkForDeletion
            | Operation::WriteStatus => Effect::WritesCluster,
            Operation::RecordEvent => Effect::RecordsOnly,
        }
    }

    /// The port method's name: the `operation` metric label and what logs say.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::NodeGroups => "node_groups",
            Operation::InstanceTypes => "instance_types",
            Operation::ScaleUpFailures => "scale_up_failures",
            Operation::SetDesiredCapacity => "set_desired_capacity",
            Operation::TerminateInstance => "terminate_instance",
            Operation::Snapshot => "snapshot",
            Operation::EvictPod => "evict_pod",
            Operation::PodsOnNode => "pods_on_node",
            Operation::MarkForDeletion => "mark_for_deletion",
            Operation::UnmarkForDeletion => "unmark_for_deletion",
            Operation::WriteStatus => "write_status",
            Operation::RecordEvent => "record_event",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and logs compare with the method name.
impl PartialEq<&str> for Operation {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A port call that failed this loop (the loop went on where it safely could).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortError {
    /// The port method that failed.
    pub operation: Operation,
    /// What it was about (group, node, pod), empty if nothing in particular.
    pub target: String,
    /// Fixed error label ([`crate::ports::CloudError::label`] / [`crate::ports::ClusterError::label`]).
    pub label: &'static str,
    /// The error text.
    pub message: String,
}

/// Everything one [`crate::autoscaler::Autoscaler::run_once`] decided and did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoopOutcome {
    /// The loop's `now`.
    pub at: Timestamp,
    /// Decided only: nothing was changed in the cloud or cluster.
    pub dry_run: bool,
    /// Pods marked Unschedulable by the scheduler.
    pub unschedulable_pods: usize,
    /// Of those, pods that fit on existing free capacity or on nodes still booting.
    pub pods_awaiting_capacity: usize,
    /// Desired-capacity raises.
    pub scale_ups: Vec<ScaleUp>,
    /// Pending pods no group could help.
    pub no_scale_up: Vec<NoScaleUp>,
    /// Scale-up failures detected (each backed its group off).
    pub failures: Vec<FailureDetected>,
    /// Pods sent to another group because their group failed this loop.
    pub fallbacks: Vec<Fallback>,
    /// Groups in backoff after this loop.
    pub backoffs: Vec<GroupBackoff>,
    /// Nodes currently unneeded (below the utilization threshold, pods movable), timer running.
    pub unneeded_nodes: usize,
    /// Node removals started, continued or finished.
    pub scale_downs: Vec<ScaleDown>,
    /// Why scale-down was skipped, if it was.
    pub scale_down_skipped: Option<ScaleDownSkip>,
    /// Port calls that failed.
    pub port_errors: Vec<PortError>,
    /// Pools without a template node (unknown instance types, unusable instance data).
    pub template_problems: Vec<String>,
    /// What the cluster source could not read, as far as it touches nodes: those nodes were
    /// not removed and those instances counted as registered.
    pub unreadable: Unreadable,
    /// The status report written this loop.
    pub status: StatusReport,
}
