//! Act on scale-down: continue drains (terminate drained nodes, give up on stuck ones), then
//! start the planned removals (mark, evict; empty nodes are terminated at once).

use std::collections::BTreeMap;

use tidal_core::Timestamp;

use super::decide::LoopPlan;
use super::report::{cloud_error, cluster_error};
use super::{Autoscaler, pods_by_node};
use crate::outcome::{PodRef, PortError, ScaleDown, ScaleDownStep};
use crate::ports::{
    CloudProvider, ClusterActions, ClusterError, ClusterPod, ClusterSnapshot, Event, EventReason,
    ObjectRef,
};
use crate::scale_down::{NodeRemoval, PodsByNode};
use crate::state::Drain;

fn node_event(node: &str, warning: bool, reason: EventReason, message: String) -> Event {
    Event {
        object: ObjectRef::Node {
            name: node.to_owned(),
        },
        warning,
        reason,
        message,
    }
}

/// Pods of a node still to be moved. A pod being deleted holds a Ready node until its kubelet
/// confirms; on a node that is not Ready nobody will, so there it does not hold the node.
fn remaining<'a>(pods: &PodsByNode<'a>, node: &str, ready: bool) -> Vec<&'a ClusterPod> {
    pods.get(node)
        .map(|ps| {
            ps.iter()
                .copied()
                .filter(|p| !p.is_daemon() && !p.phase.is_terminal() && (ready || !p.deleting))
                .collect()
        })
        .unwrap_or_default()
}

/// How a round of evictions went.
enum Evicted {
    /// Requested (count); errors other than a budget refusal are retried next loop.
    Requested(usize),
    /// A disruption budget refused an eviction.
    Blocked(PodRef),
}

impl Autoscaler {
    /// Runs the scale-down side of the loop. `may_terminate`: data is fresh and no call failed.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn act_scale_down<P: CloudProvider, C: ClusterActions>(
        &mut self,
        cloud: &P,
        cluster: &C,
        snapshot: &ClusterSnapshot,
        plan: &LoopPlan,
        may_terminate: bool,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Vec<ScaleDown> {
        // Only the nodes being drained need their pods listed.
        let pods = pods_by_node(snapshot, |node| self.state.drains.contains_key(node));
        // A dry run marks nothing, so every mark would look orphaned: it leaves them alone.
        let mut out = if self.config.dry_run {
            Vec::new()
        } else {
            release_orphaned_marks(cluster, snapshot, plan, &self.state.drains, errors).await
        };
        if may_terminate {
            let drains: Vec<(String, Drain)> = self
                .state
                .drains
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (node, drain) in drains {
                let ready = snapshot
                    .nodes
                    .iter()
                    .find(|n| n.name == node)
                    .is_none_or(|n| n.ready);
                if let Some(step) = self
                    .continue_drain(
                        cloud,
                        cluster,
                        &node,
                        &drain,
                        &remaining(&pods, &node, ready),
                        plan,
                        now,
                        errors,
                    )
                    .await
                {
                    out.push(ScaleDown {
                        node: node.clone(),
                        group: drain.group.clone(),
                        instance_id: drain.instance_id.clone(),
                        empty: false,
                        utilization: drain.utilization,
                        step,
                    });
                }
            }
        }
        if self.config.dry_run {
            return plan
                .removals
                .iter()
                .map(|r| planned(r, ScaleDownStep::Draining { evicted: 0 }))
                .collect();
        }
        for removal in &plan.removals {
            if let Some(step) = self
                .start_removal(cloud, cluster, removal, may_terminate, now, errors)
                .await
            {
                out.push(planned(removal, step));
            }
        }
        out
    }

    /// One drain in progress: terminate when drained, give up when too slow, else evict again.
    #[allow(clippy::too_many_arguments)]
    async fn continue_drain<P: CloudProvider, C: ClusterActions>(
        &mut self,
        cloud: &P,
        cluster: &C,
        node: &str,
        drain: &Drain,
        left: &[&ClusterPod],
        plan: &LoopPlan,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Option<ScaleDownStep> {
        let alive = plan
            .group(&drain.group)
            .is_some_and(|g| g.live_instances.iter().any(|i| i.id == drain.instance_id));
        if !alive {
            self.state.drains.remove(node);
            return None;
        }
        if left.is_empty() {
            return self
                .terminate(cloud, cluster, node, drain, now, errors)
                .await;
        }
        if now.since(drain.started_at) >= self.config.max_drain_time {
            let why = format!(
                "{} pods still on the node after {:?}",
                left.len(),
                self.config.max_drain_time
            );
            return Some(self.abort(cluster, node, why, errors).await);
        }
        match evict(cluster, left, errors).await {
            Evicted::Requested(n) => Some(ScaleDownStep::Draining { evicted: n }),
            // A budget may allow it later; the drain timeout bounds the wait.
            Evicted::Blocked(_) => Some(ScaleDownStep::Draining { evicted: 0 }),
        }
    }

    async fn terminate<P: CloudProvider, C: ClusterActions>(
        &mut self,
        cloud: &P,
        cluster: &C,
        node: &str,
        drain: &Drain,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Option<ScaleDownStep> {
        match cloud
            .terminate_instance(&drain.group, &drain.instance_id)
            .await
        {
            Ok(()) => {
                self.state.drains.remove(node);
                self.state.unneeded_since.remove(node);
                self.state.record_scale_down(&drain.group, now);
                let message = format!(
                    "node removed by cluster autoscaler (instance {})",
                    drain.instance_id
                );
                if let Err(e) = cluster
                    .record_event(&node_event(node, false, EventReason::ScaleDown, message))
                    .await
                {
                    errors.push(cluster_error("record_event", node, &e));
                }
                Some(ScaleDownStep::Terminated)
            }
            Err(e) => {
                errors.push(cloud_error("terminate_instance", &drain.instance_id, &e));
                None
            }
        }
    }

    async fn abort<C: ClusterActions>(
        &mut self,
        cluster: &C,
        node: &str,
        why: String,
        errors: &mut Vec<PortError>,
    ) -> ScaleDownStep {
        self.state.drains.remove(node);
        self.state.unneeded_since.remove(node);
        if let Err(e) = cluster.unmark_for_deletion(node).await {
            errors.push(cluster_error("unmark_for_deletion", node, &e));
        }
        let event = node_event(
            node,
            true,
            EventReason::ScaleDownFailed,
            format!("scale-down abandoned: {why}"),
        );
        if let Err(e) = cluster.record_event(&event).await {
            errors.push(cluster_error("record_event", node, &e));
        }
        ScaleDownStep::Aborted(why)
    }

    /// Marks the node, evicts its pods, and terminates it at once if it was empty.
    async fn start_removal<P: CloudProvider, C: ClusterActions>(
        &mut self,
        cloud: &P,
        cluster: &C,
        removal: &NodeRemoval,
        may_terminate: bool,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Option<ScaleDownStep> {
        let node = removal.node.as_str();
        if let Err(e) = cluster.mark_for_deletion(node).await {
            errors.push(cluster_error("mark_for_deletion", node, &e));
            return None;
        }
        let drain = Drain {
            group: removal.group.clone(),
            instance_id: removal.instance_id.clone(),
            started_at: now,
            utilization: removal.utilization,
        };
        self.state.drains.insert(node.to_owned(), drain.clone());
        let message = format!(
            "marked the node for removal (utilization {:.0} %); evicting {} pods",
            removal.utilization * 100.0,
            removal.pods.len()
        );
        if let Err(e) = cluster
            .record_event(&node_event(node, false, EventReason::ScaleDown, message))
            .await
        {
            errors.push(cluster_error("record_event", node, &e));
        }
        if removal.pods.is_empty() {
            if may_terminate {
                return self
                    .terminate(cloud, cluster, node, &drain, now, errors)
                    .await;
            }
            return Some(ScaleDownStep::Draining { evicted: 0 });
        }
        match evict_refs(cluster, &removal.pods, errors).await {
            Evicted::Requested(n) => Some(ScaleDownStep::Draining { evicted: n }),
            Evicted::Blocked(pod) => {
                let why = format!("eviction of pod {pod} refused by a disruption budget");
                Some(self.abort(cluster, node, why, errors).await)
            }
        }
    }
}

/// Unmarks nodes that carry our deletion mark but no drain of ours covers: marks left by a
/// restart or by a lost leadership term (upstream clears them at start-up). Otherwise they
/// would stay unschedulable for good. A node whose instance is no longer live in one of our
/// groups is left alone: it is on its way out and must not take new pods.
async fn release_orphaned_marks<C: ClusterActions>(
    cluster: &C,
    snapshot: &ClusterSnapshot,
    plan: &LoopPlan,
    drains: &BTreeMap<String, Drain>,
    errors: &mut Vec<PortError>,
) -> Vec<ScaleDown> {
    let mut released = Vec::new();
    for n in snapshot.nodes.iter().filter(|n| n.is_marked_for_deletion()) {
        if drains.contains_key(&n.name) {
            continue;
        }
        let Some(instance_id) = n.instance_id.as_deref() else {
            continue;
        };
        let Some(group) = plan
            .groups
            .iter()
            .find(|g| g.live_instances.iter().any(|i| i.id == instance_id))
        else {
            continue;
        };
        if let Err(e) = cluster.unmark_for_deletion(&n.name).await {
            errors.push(cluster_error("unmark_for_deletion", &n.name, &e));
            continue;
        }
        released.push(ScaleDown {
            node: n.name.clone(),
            group: group.id.clone(),
            instance_id: instance_id.to_owned(),
            empty: false,
            utilization: 0.0,
            step: ScaleDownStep::Aborted(
                "deletion mark left by an earlier run released (no drain in progress)".to_owned(),
            ),
        });
    }
    released
}

fn planned(r: &NodeRemoval, step: ScaleDownStep) -> ScaleDown {
    ScaleDown {
        node: r.node.clone(),
        group: r.group.clone(),
        instance_id: r.instance_id.clone(),
        empty: r.pods.is_empty(),
        utilization: r.utilization,
        step,
    }
}

async fn evict<C: ClusterActions>(
    cluster: &C,
    pods: &[&ClusterPod],
    errors: &mut Vec<PortError>,
) -> Evicted {
    let refs: Vec<PodRef> = pods
        .iter()
        .map(|p| PodRef {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        })
        .collect();
    evict_refs(cluster, &refs, errors).await
}

async fn evict_refs<C: ClusterActions>(
    cluster: &C,
    pods: &[PodRef],
    errors: &mut Vec<PortError>,
) -> Evicted {
    let mut requested = 0;
    for pod in pods {
        match cluster.evict_pod(&pod.namespace, &pod.name).await {
            Ok(()) | Err(ClusterError::NotFound { .. }) => requested += 1,
            Err(ClusterError::EvictionBlocked { .. }) => return Evicted::Blocked(pod.clone()),
            Err(e) => errors.push(cluster_error("evict_pod", &pod.to_string(), &e)),
        }
    }
    Evicted::Requested(requested)
}
