//! Act on scale-down: continue drains (terminate drained nodes, give up on stuck ones), then
//! start the planned removals (mark, evict; empty nodes are terminated at once).

use std::sync::Arc;

use crate::act::ActContext;
use crate::groups::GroupView;
use crate::outcome::{Operation, PodRef, ScaleDown, ScaleDownStep};
use crate::ports::{
    CloudProvider, ClusterActions, ClusterError, ClusterPod, ClusterSnapshot, Event, EventReason,
    ObjectRef,
};
use crate::state::Drain;

use super::blockers::reference;
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

/// Whether `pod` still holds its node: not a DaemonSet or mirror pod, not finished. A pod being
/// deleted holds a Ready node until its kubelet confirms; on a node that is not Ready nobody
/// will, so there it does not hold the node.
fn holds_node(pod: &ClusterPod, ready: bool) -> bool {
    !pod.is_daemon() && !pod.phase.is_terminal() && (ready || !pod.deleting)
}

/// Pods of a node still to be moved, as the snapshot has them.
fn remaining<'a>(pods: &PodsByNode<'a>, node: &str, ready: bool) -> Vec<&'a ClusterPod> {
    pods.get(node)
        .map(|ps| {
            ps.iter()
                .map(|p| Arc::as_ref(*p))
                .filter(|p| holds_node(p, ready))
                .collect()
        })
        .unwrap_or_default()
}

/// What the live read of a node's pods, right before terminating it, found.
enum Recheck {
    /// Still empty: the node may go.
    Empty,
    /// Pods that hold the node were bound since the loop observed it.
    Occupied(Vec<PodRef>),
    /// The read failed (recorded): nothing is known, nothing is terminated.
    Unknown,
}

/// Reads the node's pods live (not from the loop's snapshot, which may be out of date).
async fn recheck<P, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    node: &str,
    ready: bool,
) -> Recheck {
    match ctx.cluster.pods_on_node(node).await {
        Ok(pods) => {
            let left: Vec<PodRef> = pods
                .iter()
                .filter(|p| holds_node(p, ready))
                .map(reference)
                .collect();
            if left.is_empty() {
                Recheck::Empty
            } else {
                Recheck::Occupied(left)
            }
        }
        Err(e) => {
            ctx.cluster_failed(Operation::PodsOnNode, node, &e);
            Recheck::Unknown
        }
    }
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
    if ctx.state.drains.is_empty() {
        return Vec::new();
    }
    // Only the nodes being drained need their pods listed.
    let draining: foldhash::HashSet<&str> = ctx.state.drains.keys().map(String::as_str).collect();
    let pods = pods_by_node(snapshot, |node| draining.contains(node));
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
        let seen = NodeSeen {
            left: remaining(&pods, &node, ready),
            ready,
            unreadable_pods: snapshot.unreadable.nodes_with_pods.contains(&node),
        };
        if let Some(step) = continue_drain(ctx, &node, &drain, &seen, groups).await {
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

/// A node being drained as the loop's snapshot shows it.
struct NodeSeen<'a> {
    /// Pods still to be moved.
    left: Vec<&'a ClusterPod>,
    /// The node is Ready.
    ready: bool,
    /// A pod bound to it could not be read: the node is not known to be drained.
    unreadable_pods: bool,
}

/// One drain in progress: terminate when drained (and still empty when read live), give up
/// when too slow, else evict again.
async fn continue_drain<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    node: &str,
    drain: &Drain,
    seen: &NodeSeen<'_>,
    groups: &[GroupView],
) -> Option<ScaleDownStep> {
    let (left, ready) = (&seen.left, seen.ready);
    let alive = groups
        .iter()
        .find(|g| g.id == drain.group)
        .is_some_and(|g| g.live_instances.iter().any(|i| *i.id == *drain.instance_id));
    if !alive {
        ctx.state.drains.remove(node);
        return None;
    }
    if left.is_empty() && !seen.unreadable_pods {
        return match recheck(ctx, node, ready).await {
            Recheck::Empty => terminate(ctx, node, drain).await,
            // Bound since the loop observed the node: drained like the others.
            Recheck::Occupied(pods) => Some(evict_again(ctx, &pods).await),
            Recheck::Unknown => None,
        };
    }
    let max_drain_time = ctx.config.max_drain_time;
    if ctx.now.since(drain.started_at) >= max_drain_time {
        let why = format!(
            "{} pods still on the node after {max_drain_time:?}",
            left.len()
        );
        return Some(abort(ctx, node, why).await);
    }
    let refs: Vec<PodRef> = left.iter().map(|p| reference(p)).collect();
    Some(evict_again(ctx, &refs).await)
}

/// Evicts the pods of a drain in progress; a budget refusal waits (the drain timeout bounds it).
async fn evict_again<P, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    pods: &[PodRef],
) -> ScaleDownStep {
    match evict(ctx, pods).await {
        Evicted::Requested(n) => ScaleDownStep::Draining { evicted: n },
        Evicted::Blocked(_) => ScaleDownStep::Draining { evicted: 0 },
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
        if !may_terminate {
            return Some(ScaleDownStep::Draining { evicted: 0 });
        }
        return match recheck(ctx, node, !removal.unready).await {
            Recheck::Empty => terminate(ctx, node, &drain).await,
            // The plan never checked that these pods fit elsewhere: keep the node.
            Recheck::Occupied(pods) => {
                let names: Vec<String> = pods.iter().map(PodRef::to_string).collect();
                let why = format!(
                    "found empty, but pods were bound to it before it was tainted: {}",
                    names.join(", ")
                );
                Some(abort(ctx, node, why).await)
            }
            // Marked and empty as far as is known: the next loop checks again.
            Recheck::Unknown => Some(ScaleDownStep::Draining { evicted: 0 }),
        };
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
            .find(|g| g.live_instances.iter().any(|i| *i.id == *instance_id))
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
