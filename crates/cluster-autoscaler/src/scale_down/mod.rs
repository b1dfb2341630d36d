//! Scale-down: which nodes nobody needs, and which of them to remove now (planning, pure,
//! here; what blocks a pod from moving in `blockers.rs`), and the action (`act.rs`: mark,
//! evict, terminate drained nodes, give up on stuck drains).
//!
//! A node is *unneeded* when max(cpu requests, memory requests) / allocatable is below the
//! threshold (its pool's, else the global one), none of its pods is blocked (see [`Blocker`])
//! and all its movable pods fit on the other nodes (`ClusterState::reschedule`). DaemonSet and
//! mirror pods are not moved (they go with the node). [`find_unneeded`] finds those nodes;
//! [`plan_scale_down`] picks, among nodes unneeded for long enough, the ones to remove now:
//! empty nodes first, then the least utilized, never taking a group below its minimum, never
//! over a budget's allowed disruptions, at most `max_removals`, each removal committed to the
//! simulated cluster before the next is checked so two nodes never count on the same room.

mod act;
mod blockers;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::scheduling::{ClusterState, NodeId, PodSpec};

pub(crate) use act::act_scale_down;
pub use blockers::Blocker;
use blockers::{Budgets, budget_needs, movable, pod_blocker, reference};

use crate::groups::GroupView;
use crate::outcome::PodRef;
use crate::ports::{ClusterPod, ClusterSnapshot, DisruptionBudget, NodeGroupId};

/// A node that may be considered for removal (managed, registered, ready, schedulable).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCandidate {
    /// Node name.
    pub node: String,
    /// Its group.
    pub group: NodeGroupId,
    /// Its instance.
    pub instance_id: String,
    /// Utilization threshold of its pool.
    pub threshold: f64,
    /// Unneeded time of its pool (the unready time for an unready node).
    pub unneeded_time: Duration,
    /// The node is not Ready: it serves nothing, so the utilization threshold does not apply;
    /// its pods must still fit elsewhere.
    pub unready: bool,
}

/// A node found unneeded this loop.
#[derive(Clone, Debug, PartialEq)]
pub struct UnneededNode {
    /// The candidate.
    pub candidate: NodeCandidate,
    /// max(cpu, memory) requests / allocatable.
    pub utilization: f64,
    /// The pods that would have to move.
    pub pods: Vec<Arc<ClusterPod>>,
}

impl UnneededNode {
    /// No pod has to move.
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

/// What [`find_unneeded`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Unneeded {
    /// Nodes below their threshold whose pods can all move.
    pub nodes: Vec<UnneededNode>,
    /// Nodes below their threshold that something keeps.
    pub blocked: Vec<(String, Blocker)>,
}

/// A node to remove now.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRemoval {
    /// Node name.
    pub node: String,
    /// Its group.
    pub group: NodeGroupId,
    /// Its instance.
    pub instance_id: String,
    /// Utilization when chosen.
    pub utilization: f64,
    /// Pods to evict.
    pub pods: Vec<PodRef>,
    /// The node is not Ready (pods being deleted there do not hold it: no kubelet confirms them).
    pub unready: bool,
}

/// Where scale-down reads the pods bound to a node: [`PodsByNode`] built from a snapshot, or
/// the autoscaler's cluster cache, which keeps them per node across loops.
pub trait NodePods {
    /// The pods bound to `node` (`id` in `cluster`), as the snapshot has them.
    fn on_node(&self, cluster: &ClusterState, id: NodeId, node: &str) -> Vec<Arc<ClusterPod>>;
}

/// The pods of the cluster by node name (bound, as the snapshot has them).
pub type PodsByNode<'a> = foldhash::HashMap<&'a str, Vec<&'a Arc<ClusterPod>>>;

impl NodePods for PodsByNode<'_> {
    fn on_node(&self, _: &ClusterState, _: NodeId, node: &str) -> Vec<Arc<ClusterPod>> {
        self.get(node)
            .map(|pods| pods.iter().map(|p| Arc::clone(p)).collect())
            .unwrap_or_default()
    }
}

/// The snapshot's bound pods by node name, for the nodes `wanted` says.
pub fn pods_by_node<'a>(
    snapshot: &'a ClusterSnapshot,
    wanted: impl Fn(&str) -> bool,
) -> PodsByNode<'a> {
    let mut by_node = PodsByNode::default();
    for p in snapshot.pods.iter() {
        if let Some(node) = p.node_name.as_deref()
            && wanted(node)
        {
            by_node.entry(node).or_default().push(p);
        }
    }
    by_node
}

/// max(cpu, memory) requests / allocatable of a node in `cluster`; `None` if unknown.
pub fn utilization(cluster: &ClusterState, id: NodeId) -> Option<f64> {
    let node = cluster.node(id)?;
    let used = cluster.used(id)?;
    let share = |used: i64, alloc: i64| {
        if alloc > 0 {
            used as f64 / alloc as f64
        } else {
            0.0
        }
    };
    Some(
        share(used.cpu_millis, node.allocatable.cpu_millis)
            .max(share(used.memory_bytes, node.allocatable.memory_bytes)),
    )
}

/// Finds the unneeded nodes among `candidates`. `cluster` holds the schedulable nodes with
/// their bound pods; `pods` the pods on each node.
pub fn find_unneeded(
    cluster: &ClusterState,
    candidates: &[NodeCandidate],
    pods: &impl NodePods,
    pdbs: &[Arc<DisruptionBudget>],
) -> Unneeded {
    let budgets = Budgets::new(pdbs.iter().map(Arc::as_ref));
    let mut found = Unneeded::default();
    for c in candidates {
        let Some(id) = cluster.node_id(&c.node) else {
            continue;
        };
        let Some(util) = utilization(cluster, id) else {
            continue;
        };
        if util >= c.threshold && !c.unready {
            continue;
        }
        let mut to_move = pods.on_node(cluster, id, &c.node);
        to_move.retain(|p| movable(p));
        let refs: Vec<&ClusterPod> = to_move.iter().map(Arc::as_ref).collect();
        if let Err(blocker) = check_movable(cluster, id, &refs, &budgets, None) {
            found.blocked.push((c.node.clone(), blocker));
            continue;
        }
        found.nodes.push(UnneededNode {
            candidate: c.clone(),
            utilization: util,
            pods: to_move,
        });
    }
    found
}

/// Blockers, budgets (against `left` when planning a batch, else each budget's allowance),
/// then the simulation. Returns where the pods would go.
fn check_movable(
    cluster: &ClusterState,
    id: NodeId,
    pods: &[&ClusterPod],
    budgets: &Budgets<'_>,
    left: Option<&BTreeMap<String, u32>>,
) -> Result<Vec<(usize, NodeId)>, Blocker> {
    if let Some(b) = pods.iter().find_map(|p| pod_blocker(p, budgets)) {
        return Err(b);
    }
    for (pdb, allowed, needed) in budget_needs(pods, budgets) {
        let allowed = left.and_then(|l| l.get(&pdb).copied()).unwrap_or(allowed);
        if needed > allowed {
            return Err(Blocker::DisruptionBudget {
                pdb,
                needed,
                allowed,
            });
        }
    }
    if pods.is_empty() {
        return Ok(Vec::new());
    }
    let specs: Vec<PodSpec> = pods.iter().map(|p| p.spec.clone()).collect();
    cluster
        .reschedule(&specs, id)
        .map_err(|i| Blocker::NoPlaceFor(pods.get(i).map(|p| reference(p)).unwrap_or_default()))
}

/// Limits for one [`plan_scale_down`] run.
#[derive(Clone, Debug)]
pub struct ScaleDownLimits<'a> {
    /// The groups (for their desired size and minimum).
    pub groups: &'a [GroupView],
    /// Nodes already being removed, per group (they still count in desired).
    pub in_progress: &'a BTreeMap<NodeGroupId, u32>,
    /// Most nodes to start removing now.
    pub max_removals: u32,
}

impl ScaleDownLimits<'_> {
    /// Nodes each group may lose: desired − minimum − nodes already being removed.
    fn room(&self) -> BTreeMap<&NodeGroupId, u32> {
        self.groups
            .iter()
            .map(|g| {
                let busy = self.in_progress.get(&g.id).copied().unwrap_or(0);
                (
                    &g.id,
                    g.desired.saturating_sub(g.min_size).saturating_sub(busy),
                )
            })
            .collect()
    }
}

/// Picks the nodes to remove now among `unneeded` (each unneeded since `since[node]`),
/// committing each removal to a copy of `cluster` (its pods moved) before checking the next.
pub fn plan_scale_down(
    cluster: &ClusterState,
    unneeded: &[UnneededNode],
    since: &HashMap<String, Timestamp>,
    now: Timestamp,
    pdbs: &[Arc<DisruptionBudget>],
    limits: &ScaleDownLimits<'_>,
) -> Vec<NodeRemoval> {
    let mut room = limits.room();
    let ready = ready_to_remove(unneeded, since, now, &room);
    if ready.is_empty() || limits.max_removals == 0 {
        return Vec::new();
    }
    // Removals are committed one by one to a copy (made only when there is something to do).
    let mut cluster = cluster.clone();
    let budgets = Budgets::new(pdbs.iter().map(Arc::as_ref));
    let mut left: BTreeMap<String, u32> = pdbs
        .iter()
        .map(|b| (blockers::budget_key(b), b.disruptions_allowed))
        .collect();
    let mut removals = Vec::new();
    for u in ready {
        if removals.len() as u64 >= u64::from(limits.max_removals) {
            break;
        }
        let Some(r) = room.get_mut(&u.candidate.group).filter(|r| **r > 0) else {
            continue;
        };
        let Some(id) = cluster.node_id(&u.candidate.node) else {
            continue;
        };
        let pods: Vec<&ClusterPod> = u.pods.iter().map(Arc::as_ref).collect();
        let Ok(placements) = check_movable(&cluster, id, &pods, &budgets, Some(&left)) else {
            continue;
        };
        *r -= 1;
        for (pdb, _, needed) in budget_needs(&pods, &budgets) {
            if let Some(l) = left.get_mut(&pdb) {
                *l = l.saturating_sub(needed);
            }
        }
        commit(&mut cluster, id, &pods, &placements);
        removals.push(NodeRemoval {
            node: u.candidate.node.clone(),
            group: u.candidate.group.clone(),
            instance_id: u.candidate.instance_id.clone(),
            utilization: u.utilization,
            pods: pods.iter().map(|p| reference(p)).collect(),
            unready: u.candidate.unready,
        });
    }
    removals
}

/// The unneeded nodes whose time is up, in a group with room: empty nodes first, then the
/// least utilized, then by name.
fn ready_to_remove<'a>(
    unneeded: &'a [UnneededNode],
    since: &HashMap<String, Timestamp>,
    now: Timestamp,
    room: &BTreeMap<&NodeGroupId, u32>,
) -> Vec<&'a UnneededNode> {
    let mut ready: Vec<&UnneededNode> = unneeded
        .iter()
        .filter(|u| room.get(&u.candidate.group).is_some_and(|r| *r > 0))
        .filter(|u| {
            since
                .get(&u.candidate.node)
                .is_some_and(|t| now.since(*t) >= u.candidate.unneeded_time)
        })
        .collect();
    ready.sort_by(|a, b| {
        b.is_empty()
            .cmp(&a.is_empty())
            .then(a.utilization.total_cmp(&b.utilization))
            .then_with(|| a.candidate.node.cmp(&b.candidate.node))
    });
    ready
}

/// Removes the node from the simulated cluster and binds its pods where the plan put them.
fn commit(
    cluster: &mut ClusterState,
    id: NodeId,
    pods: &[&ClusterPod],
    placements: &[(usize, NodeId)],
) {
    // The ids came from this cluster a moment ago; failures would mean they vanished, in
    // which case there is nothing to undo.
    let _ = cluster.remove_node(id);
    for (i, node) in placements {
        if let Some(p) = pods.get(*i) {
            let _ = cluster.place(Arc::new(p.spec.clone()), *node);
        }
    }
}

#[cfg(test)]
mod tests;
