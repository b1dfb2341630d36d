//! `--dry-run`: the ports wrapped so that reads pass through and every write is logged and
//! skipped. The autoscaler is also told it is a dry run (its outcome says so); this wrapper is the
//! guarantee that nothing in the cloud or the cluster changes even if a write slipped through.

use tidal_core::Timestamp;
use tidal_core::instance::InstanceType;
use tracing::info;

use crate::ports::{
    CloudError, CloudProvider, ClusterActions, ClusterError, ClusterPod, ClusterSnapshot,
    ClusterSource, Event, NodeGroup, NodeGroupId, ScaleUpFailure, SkippedObjects, StaleWatch,
    StatusReport, WatchedCluster,
};

/// A port whose writes are logged and skipped.
#[derive(Debug)]
pub struct DryRun<P> {
    inner: P,
}

impl<P> DryRun<P> {
    /// Wraps `inner`.
    pub fn new(inner: P) -> Self {
        Self { inner }
    }

    /// The wrapped port (for reads beyond the port traits).
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: CloudProvider> CloudProvider for DryRun<P> {
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
        info!(dry_run = true, %group, desired, "would set desired capacity");
        Ok(())
    }

    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        info!(dry_run = true, %group, instance_id, "would terminate instance");
        Ok(())
    }

    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError> {
        self.inner.scale_up_failures(since).await
    }
}

impl<C: ClusterSource> ClusterSource for DryRun<C> {
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        self.inner.snapshot()
    }
}

impl<C: ClusterActions> ClusterActions for DryRun<C> {
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        info!(dry_run = true, namespace, name, "would evict pod");
        Ok(())
    }

    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError> {
        self.inner.pods_on_node(node).await
    }

    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        info!(dry_run = true, node, "would taint and cordon node");
        Ok(())
    }

    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        info!(dry_run = true, node, "would remove taint and uncordon node");
        Ok(())
    }

    async fn record_event(&self, event: &Event) -> Result<(), ClusterError> {
        info!(dry_run = true, object = %event.object, reason = %event.reason, message = %event.message, "would record event");
        Ok(())
    }

    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError> {
        info!(
            dry_run = true,
            groups = status.node_groups.len(),
            "would write the status ConfigMap"
        );
        Ok(())
    }
}

impl<C: WatchedCluster> WatchedCluster for DryRun<C> {
    async fn wait_until_ready(&self) -> Result<(), ClusterError> {
        self.inner().wait_until_ready().await
    }

    fn take_invalid_pod_events(&self) -> Vec<Event> {
        self.inner().take_invalid_pod_events()
    }

    fn skipped_objects(&self) -> SkippedObjects {
        self.inner().skipped_objects()
    }

    fn stale_watches(&self) -> Vec<StaleWatch> {
        self.inner().stale_watches()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::ports::{EventReason, ObjectRef};
    use crate::testing::{FakeCloud, FakeCluster, group};

    #[tokio::test]
    async fn writes_are_skipped_and_reads_pass_through() {
        let cloud = DryRun::new(FakeCloud::new(
            vec![group("default", "eu-central-1a", 10)],
            Vec::new(),
        ));
        let cluster = DryRun::new(FakeCluster::default());
        let id = NodeGroupId::new("default", "eu-central-1a");

        assert_eq!(
            cloud.node_groups().await.unwrap().len(),
            1,
            "reads reach the real port"
        );
        cloud.set_desired_capacity(&id, 5).await.unwrap();
        cloud.terminate_instance(&id, "i-1").await.unwrap();
        cluster.evict_pod("ns", "p").await.unwrap();
        cluster.mark_for_deletion("n1").await.unwrap();
        cluster.unmark_for_deletion("n1").await.unwrap();
        let event = Event {
            object: ObjectRef::Node { name: "n1".into() },
            warning: false,
            reason: EventReason::ScaleDown,
            message: "removing".into(),
        };
        cluster.record_event(&event).await.unwrap();
        cluster
            .write_status(&StatusReport::default())
            .await
            .unwrap();

        assert!(
            cloud.inner().calls().is_empty(),
            "{:?}",
            cloud.inner().calls()
        );
        assert_eq!(cloud.inner().desired(&id), Some(0));
        assert!(cluster.inner().calls().is_empty());
        assert!(cluster.inner().events().is_empty());
        assert!(cluster.inner().statuses.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn read_errors_are_not_hidden() {
        let cloud = DryRun::new(FakeCloud::default());
        cloud.inner().fail("node_groups");
        assert!(cloud.node_groups().await.is_err());
        let cluster = DryRun::new(FakeCluster::default());
        cluster.inner().fail("snapshot");
        assert!(cluster.snapshot().is_err());
    }
}
