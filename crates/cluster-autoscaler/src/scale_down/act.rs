//! Act on scale-down: continue drains (terminate drained nodes, give up on stuck ones), then
//! start the planned removals (mark, evict; empty nodes are terminated at once).

use crate::act::ActContext;
use crate::groups::GroupView;
use crate::outcome::{Operation, PodRef, ScaleDown, ScaleDownStep};
use crate::ports::{
    CloudProvider, ClusterActions, ClusterError, ClusterPod, ClusterSnapshot, Event, EventReason,
    ObjectRef,
};
use crate::state::Drain;

use super::{NodeRemoval, PodsByNode, pods_by_node};

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

/// Runs the scale-down side of the loop: releases orphaned marks, continues the drains in
/// progress (only if `may_terminate`: data is fresh and no call failed), then starts the
/// planned `removals`. `groups`: the groups as planned.
pub(crate) async fn act_scale_down<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    snapshot: &ClusterSnapshot,
    groups: &[GroupView],
    removals: &[NodeRemoval],
    may_terminate: bool,
) -> Vec<ScaleDown> {
    let mut out = release_orphaned_marks(ctx, snapshot, groups).await;
    if may_terminate {
        out.extend(continue_drains(ctx, snapshot, groups).await);
    }
    for removal in removals {
        if let Some(step) = start_removal(ctx, removal, may_terminate).await {
            out.push(planned(removal, step));
        }
    }
    out
}

/// Continues every drain in progress; returns what each did.
async fn continue_drains<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    snapshot: &ClusterSnapshot,
    groups: &[GroupView],
) -> Vec<ScaleDown> {
    // Only the nodes being drained need their pods listed.
    let pods = pods_by_node(snapshot, |node| ctx.state.drains.contains_key(node));
    let drains: Vec<(String, Drain)> = ctx
        .state
        .drains
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = Vec::new();
    for (node, drain) in drains {
        let ready = snapshot
            .nodes
            .iter()
            .find(|n| n.name == node)
            .is_none_or(|n| n.ready);
        let left = remaining(&pods, &node, ready);
        if let Some(step) = continue_drain(ctx, &node, &drain, &left, groups).await {
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
    out
}

/// One drain in progress: terminate when drained, give up when too slow, else evict again.
async fn continue_drain<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    node: &str,
    drain: &Drain,
    left: &[&ClusterPod],
    groups: &[GroupView],
) -> Option<ScaleDownStep> {
    let alive = groups
        .iter()
        .find(|g| g.id == drain.group)
        .is_some_and(|g| g.live_instances.iter().any(|i| i.id == drain.instance_id));
    if !alive {
        ctx.state.drains.remove(node);
        return None;
    }
    if left.is_empty() {
        return terminate(ctx, node, drain).await;
    }
    let max_drain_time = ctx.config.max_drain_time;
    if ctx.now.since(drain.started_at) >= max_drain_time {
        let why = format!(
            "{} pods still on the node after {max_drain_time:?}",
            left.len()
        );
        return Some(abort(ctx, node, why).await);
    }
    let refs: Vec<PodRef> = left
        .iter()
        .map(|p| PodRef {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        })
        .collect();
    match evict(ctx, &refs).await {
        Evicted::Requested(n) => Some(ScaleDownStep::Draining { evicted: n }),
        // A budget may allow it later; the drain timeout bounds the wait.
        Evicted::Blocked(_) => Some(ScaleDownStep::Draining { evicted: 0 }),
    }
}

async fn terminate<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    node: &str,
    drain: &Drain,
) -> Option<ScaleDownStep> {
    match ctx
        .cloud
        .terminate_instance(&drain.group, &drain.instance_id)
        .await
    {
        Ok(()) => {
            ctx.state.drains.remove(node);
            ctx.state.unneeded_since.remove(node);
            ctx.state.record_scale_down(&drain.group, ctx.now);
            let message = format!(
                "node removed by cluster autoscaler (instance {})",
                drain.instance_id
            );
            let event = node_event(node, false, EventReason::ScaleDown, message);
            ctx.record_event(&event, node).await;
            Some(ScaleDownStep::Terminated)
        }
        Err(e) => {
            ctx.cloud_failed(Operation::TerminateInstance, &drain.instance_id, &e);
            None
        }
    }
}

async fn abort<P, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    node: &str,
    why: String,
) -> ScaleDownStep {
    ctx.state.drains.remove(node);
    ctx.state.unneeded_since.remove(node);
    if let Err(e) = ctx.cluster.unmark_for_deletion(node).await {
        ctx.cluster_failed(Operation::UnmarkForDeletion, node, &e);
    }
    let event = node_event(
        node,
        true,
        EventReason::ScaleDownFailed,
        format!("scale-down abandoned: {why}"),
    );
    ctx.record_event(&event, node).await;
    ScaleDownStep::Aborted(why)
}

/// Marks the node, evicts its pods, and terminates it at once if it was empty.
async fn start_removal<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    removal: &NodeRemoval,
    may_terminate: bool,
) -> Option<ScaleDownStep> {
    let node = removal.node.as_str();
    if let Err(e) = ctx.cluster.mark_for_deletion(node).await {
        ctx.cluster_failed(Operation::MarkForDeletion, node, &e);
        return None;
    }
    let drain = Drain {
        group: removal.group.clone(),
        instance_id: removal.instance_id.clone(),
        started_at: ctx.now,
        utilization: removal.utilization,
    };
    ctx.state.drains.insert(node.to_owned(), drain.clone());
    let message = format!(
        "marked the node for removal (utilization {:.0} %); evicting {} pods",
        removal.utilization * 100.0,
        removal.pods.len()
    );
    let event = node_event(node, false, EventReason::ScaleDown, message);
    ctx.record_event(&event, node).await;
    if removal.pods.is_empty() {
        if may_terminate {
            return terminate(ctx, node, &drain).await;
        }
        return Some(ScaleDownStep::Draining { evicted: 0 });
    }
    match evict(ctx, &removal.pods).await {
        Evicted::Requested(n) => Some(ScaleDownStep::Draining { evicted: n }),
        Evicted::Blocked(pod) => {
            let why = format!("eviction of pod {pod} refused by a disruption budget");
            Some(abort(ctx, node, why).await)
        }
    }
}

/// Unmarks nodes that carry our deletion mark but no drain of ours covers: marks left by a
/// restart or by a lost leadership term (upstream clears them at start-up). Otherwise they
/// would stay unschedulable for good. A node whose instance is no longer live in one of our
/// groups is left alone: it is on its way out and must not take new pods.
async fn release_orphaned_marks<P, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    snapshot: &ClusterSnapshot,
    groups: &[GroupView],
) -> Vec<ScaleDown> {
    let mut released = Vec::new();
    for n in snapshot.nodes.iter().filter(|n| n.is_marked_for_deletion()) {
        if ctx.state.drains.contains_key(&n.name) {
            continue;
        }
        let Some(instance_id) = n.instance_id.as_deref() else {
            continue;
        };
        let Some(group) = groups
            .iter()
            .find(|g| g.live_instances.iter().any(|i| i.id == instance_id))
        else {
            continue;
        };
        if let Err(e) = ctx.cluster.unmark_for_deletion(&n.name).await {
            ctx.cluster_failed(Operation::UnmarkForDeletion, &n.name, &e);
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

async fn evict<P, C: ClusterActions>(ctx: &mut ActContext<'_, P, C>, pods: &[PodRef]) -> Evicted {
    let mut requested = 0;
    for pod in pods {
        match ctx.cluster.evict_pod(&pod.namespace, &pod.name).await {
            Ok(()) | Err(ClusterError::NotFound { .. }) => requested += 1,
            Err(ClusterError::EvictionBlocked { .. }) => return Evicted::Blocked(pod.clone()),
            Err(e) => ctx.cluster_failed(Operation::EvictPod, &pod.to_string(), &e),
        }
    }
    Evicted::Requested(requested)
}
