//! Leadership checked right before every write. The controller checks it when a loop starts and
//! stops a loop when it is lost, but a loop runs for a while: the lease can go to another
//! replica between the start and a write, and a write that is already on its way is not
//! stopped by a select. [`LeaderGate`] wraps the ports for one loop: reads pass through, every
//! write first asks [`LeaderHandle::is_leader`] and is refused (`NotLeader`) when the answer is
//! no, so two replicas never both act.

use tidal_core::Timestamp;
use tidal_core::instance::InstanceType;
use tidal_runtime::LeaderHandle;
use tracing::warn;

use crate::ports::{
    CloudError, CloudProvider, ClusterActions, ClusterError, ClusterPod, ClusterSnapshot,
    ClusterSource, Event, NodeGroup, NodeGroupId, ScaleUpFailure, StatusReport,
};

/// Ports whose writes are made only while `leader` says this replica leads.
pub(crate) struct LeaderGate<'a, P> {
    inner: &'a P,
    leader: &'a LeaderHandle,
}

impl<'a, P> LeaderGate<'a, P> {
    /// Gates the writes of `inner` on `leader`.
    pub(crate) fn new(inner: &'a P, leader: &'a LeaderHandle) -> Self {
        Self { inner, leader }
    }

    /// Whether a write may go out now; logs the refused one.
    fn may_write(&self, write: &str) -> bool {
        let leader = self.leader.is_leader();
        if !leader {
            warn!(write, "not the leader any more: write not made");
        }
        leader
    }

    fn cloud_write(&self, write: &str) -> Result<(), CloudError> {
        if self.may_write(write) {
            Ok(())
        } else {
            Err(CloudError::NotLeader)
        }
    }

    fn cluster_write(&self, write: &str) -> Result<(), ClusterError> {
        if self.may_write(write) {
            Ok(())
        } else {
            Err(ClusterError::NotLeader)
        }
    }
}

impl<P: CloudProvider> CloudProvider for LeaderGate<'_, P> {
    async fn node_groups(&self) -> Result<Vec<NodeGroup>, CloudError> {
        self.inner.node_groups().await
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, CloudError> {
        self.inner.instance_types(names).await
    }

    async fn set_desired_capacity(
        &self,
        group: &NodeGroupId,
        desired: u32,
    ) -> Result<(), CloudError> {
        self.cloud_write("set desired capacity")?;
        self.inner.set_desired_capacity(group, desired).await
    }

    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        self.cloud_write("terminate instance")?;
        self.inner.terminate_instance(group, instance_id).await
    }

    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError> {
        self.inner.scale_up_failures(since).await
    }
}

impl<C: ClusterSource> ClusterSource for LeaderGate<'_, C> {
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        self.inner.snapshot()
    }
}

impl<C: ClusterActions> ClusterActions for LeaderGate<'_, C> {
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        self.cluster_write("evict pod")?;
        self.inner.evict_pod(namespace, name).await
    }

    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError> {
        self.inner.pods_on_node(node).await
    }

    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        self.cluster_write("mark node for deletion")?;
        self.inner.mark_for_deletion(node).await
    }

    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        self.cluster_write("unmark node")?;
        self.inner.unmark_for_deletion(node).await
    }

    async fn record_event(&self, event: &Event) -> Result<(), ClusterError> {
        self.cluster_write("record event")?;
        self.inner.record_event(event).await
    }

    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError> {
        self.cluster_write("write status")?;
        self.inner.write_status(status).await
    }
}
