//! The autoscaler's cluster ports on the simulated cluster.

use std::sync::Arc;

use tidal_cluster_autoscaler::ports::{
    ClusterActions, ClusterError, ClusterPod, ClusterSnapshot, ClusterSource, DisruptionBudget,
    Event, StatusReport, WatchedCluster,
};
use tidal_core::scheduling::LabelSelector;

use super::{ClusterNote, ClusterWorld, Owner, SimCluster, SimClusterError};

fn internal(operation: &str, err: SimClusterError) -> ClusterError {
    ClusterError::Api {
        operation: operation.to_owned(),
        source: Box::new(err),
    }
}

/// The disruption budgets of workloads that have one, with what they allow right now.
fn budgets(world: &mut ClusterWorld) -> Vec<Arc<DisruptionBudget>> {
    let (pods, by_owner) = (&world.pods, &world.by_owner);
    (world.budgets.ready(world.now))
        .filter_map(|(w, min, ready)| {
            let template = by_owner
                .get(&Owner::Workload(w))?
                .first()
                .and_then(|u| pods.get(u))?;
            Some(Arc::new(DisruptionBudget {
                namespace: template.spec.namespace.clone(),
                name: template.spec.name.clone(),
                selector: LabelSelector::labels([("app", template.spec.name.as_str())]),
                disruptions_allowed: ready.saturating_sub(min),
            }))
        })
        .collect()
}

impl ClusterSource for SimCluster {
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        let mut world = self.world();
        Ok(ClusterSnapshot {
            taken_at: world.now,
            nodes: world.nodes.values().map(|n| Arc::clone(&n.node)).collect(),
            pods: world.listed.share(),
            pdbs: budgets(&mut world),
            unreadable: Default::default(),
        })
    }
}

impl ClusterActions for SimCluster {
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        let mut world = self.world();
        let Some(uid) = world.pod_uid(namespace, name) else {
            return Err(ClusterError::NotFound {
                kind: "Pod".to_owned(),
                name: format!("{namespace}/{name}"),
            });
        };
        let now = world.now;
        let refused = match world
            .pods
            .get(&uid)
            .map(|p| (p.owner, p.bound_at.is_some()))
        {
            Some((Owner::Workload(w), bound)) => world.budgets.refuses_eviction(w, uid, bound, now),
            _ => false,
        };
        if refused {
            return Err(ClusterError::EvictionBlocked {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        }
        world.delete_pod(uid);
        world.notes.push(ClusterNote::Evicted {
            pod: format!("{namespace}/{name}"),
        });
        Ok(())
    }

    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError> {
        let world = self.world();
        Ok(world
            .pods
            .values()
            .filter(|p| p.pod.node_name.as_deref() == Some(node))
            .map(|p| p.pod.as_ref().clone())
            .collect())
    }

    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        set_marked(self, node, true)
    }

    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        set_marked(self, node, false)
    }

    async fn record_event(&self, event: &Event) -> Result<(), ClusterError> {
        self.world().notes.push(ClusterNote::Event(event.clone()));
        Ok(())
    }

    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError> {
        self.world().status = Some(status.clone());
        Ok(())
    }
}

fn set_marked(cluster: &SimCluster, node: &str, marked: bool) -> Result<(), ClusterError> {
    let found = cluster
        .world()
        .set_marked(node, marked)
        .map_err(|e| internal("mark node", e))?;
    if found {
        Ok(())
    } else {
        Err(ClusterError::NotFound {
            kind: "Node".to_owned(),
            name: node.to_owned(),
        })
    }
}

/// The simulated cluster is complete from the start and has no objects it cannot read.
impl WatchedCluster for SimCluster {
    async fn wait_until_ready(&self) -> Result<(), ClusterError> {
        Ok(())
    }
}
