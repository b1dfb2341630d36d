//! Scale-up: which groups get how many new nodes for the pending pods (planning, pure, here;
//! the choice among groups in `choose.rs`, why pods get no group in `reasons.rs`), and the
//! action on the plan (`act.rs`: raise desired capacities, tell the pods).
//!
//! 1. Groups below their minimum are raised to it.
//! 2. Every group's upcoming nodes (requested, not registered) join the cluster as template
//!    nodes, and pending pods that fit existing or upcoming capacity are set aside: they are
//!    waiting for capacity that is already there or on its way (no double provisioning).
//! 3. For each eligible group (template known, not backed off, below max, cluster node limit
//!    not reached) the rest are packed onto the group's template nodes; the expander chain
//!    picks one option. Its pods are taken out and the round repeats with the other groups,
//!    so pods that one group cannot run (GPU, other zone, untolerated taint) still get a
//!    group in the same loop.
//! 4. The chosen option's new nodes are spread over the similar groups — the same pool in other
//!    zones whose packing places every one of its pods — evening out their sizes
//!    (`tidal_core::balance`, upstream's `--balance-similar-node-groups`). Pods bound to a zone
//!    (a zonal volume, a zone selector) are placed by no other zone's packing, so a scale-up
//!    for them stays where they must go.
//! 5. Pods no group can run get a reason naming what each group lacked.

mod act;
mod choose;
mod reasons;

use std::collections::BTreeSet;
use std::sync::Arc;

use tidal_core::balance::{GroupRoom, spread_new_nodes};
use tidal_core::scheduling::{ClusterState, NodeId, PackResult, PodId, PodSpec, ScaleUpSimulation};

use crate::config::ExpanderKind;
use crate::groups::GroupView;
use crate::outcome::ScaleUpReason;
use crate::ports::NodeGroupId;

pub(crate) use act::act_scale_up;
pub use choose::choose_option;

/// Settings of one scale-up planning run.
#[derive(Clone, Debug)]
pub struct ScaleUpSettings<'a> {
    /// Expander chain.
    pub expanders: &'a [ExpanderKind],
    /// Seed of the random expander.
    pub seed: u64,
    /// Nodes the cluster may still add over the nodes it has and the upcoming ones; `None` = no limit.
    pub node_headroom: Option<u32>,
}

/// A planned raise of one group's desired capacity.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedScaleUp {
    /// The group.
    pub group: NodeGroupId,
    /// Desired capacity now.
    pub from: u32,
    /// Desired capacity to set.
    pub to: u32,
    /// Pending pods (indexes into the pending slice) the new nodes are for.
    pub pods: Vec<usize>,
    /// Least-waste score of the option.
    pub waste: f64,
    /// Why.
    pub reason: ScaleUpReason,
}

/// Pending pods (one equivalence class) that no group can help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unhelped {
    /// Indexes into the pending slice.
    pub pods: Vec<usize>,
    /// What the groups lacked, e.g. `2 groups: untolerated taint …; 1 group: backed off`.
    pub reason: String,
}

/// The scale-up decision of one loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleUpPlan {
    /// Pending pods that fit existing free capacity or upcoming nodes.
    pub awaiting: Vec<usize>,
    /// Of those, the ones that fit free room on registered nodes, with the node: scale-down
    /// binds them there while it judges, so it does not count that room as free.
    pub placed_on_existing: Vec<(usize, NodeId)>,
    /// Raises, at most one per group.
    pub scale_ups: Vec<PlannedScaleUp>,
    /// Pods no group can help.
    pub unhelped: Vec<Unhelped>,
}

impl ScaleUpPlan {
    /// Nodes this plan adds over all groups.
    pub fn new_nodes(&self) -> u32 {
        self.scale_ups
            .iter()
            .map(|s| s.to.saturating_sub(s.from))
            .sum()
    }
}

/// Plans the scale-ups for `pending` (the Unschedulable pods) given the cluster's schedulable
/// nodes with their bound pods (`cluster`) and the groups.
///
/// `cluster` is scratch space: upcoming template nodes and the pods set aside are added
/// while planning and removed again, so it is returned as it was given.
pub fn plan_scale_up(
    cluster: &mut ClusterState,
    groups: &[GroupView],
    pending: &[PodSpec],
    settings: &ScaleUpSettings<'_>,
) -> ScaleUpPlan {
    let mut plan = ScaleUpPlan::default();
    let mut rounds = Rounds {
        desired: groups.iter().map(|g| g.desired).collect(),
        headroom: settings.node_headroom,
        chosen: BTreeSet::new(),
        remaining: Vec::new(),
        packed: vec![None; groups.len()],
        taken: BTreeSet::new(),
    };
    raise_to_minimum(groups, &mut rounds.desired, &mut rounds.headroom, &mut plan);
    let upcoming = add_upcoming(cluster, groups, &rounds.desired);
    let aside = set_aside_awaiting(cluster, pending, &upcoming, &mut plan);
    rounds.remaining = aside.remaining;
    while !rounds.remaining.is_empty() && rounds.chosen.len() < groups.len() {
        rounds.repack(cluster, groups, pending);
        let options = rounds.options();
        let Some(best) = choose_option(groups, &rounds.desired, &options, settings) else {
            break;
        };
        let gi = options[best].0;
        plan.scale_ups.extend(rounds.take(groups, gi));
    }
    if !rounds.remaining.is_empty() {
        plan.unhelped = reasons::explain(
            cluster,
            groups,
            &rounds.desired,
            rounds.headroom,
            pending,
            &rounds.remaining,
        );
    }
    merge_min_raises(&mut plan);
    for id in aside.bound {
        // Only ids bound above: removal cannot fail.
        let _ = cluster.remove_pod(id);
    }
    for id in upcoming {
        // Removing an upcoming node also unbinds the pods placed on it.
        let _ = cluster.remove_node(id);
    }
    plan
}

/// Pods set aside (they fit existing or upcoming room) and the rest.
struct SetAside {
    /// Bindings of set-aside pods to registered nodes (undone after planning).
    bound: Vec<PodId>,
    /// Pending pods (indexes) that need new nodes.
    remaining: Vec<usize>,
}

/// Places the pending pods that fit existing or upcoming room and binds those on registered
/// nodes, so later rounds do not count that room as free (pods on upcoming nodes go with them).
fn set_aside_awaiting(
    cluster: &mut ClusterState,
    pending: &[PodSpec],
    upcoming: &[NodeId],
    plan: &mut ScaleUpPlan,
) -> SetAside {
    let (placed, remaining) = {
        let sim = ScaleUpSimulation::new(pending, cluster);
        let on: Vec<(usize, NodeId)> = sim.on_existing().to_vec();
        (on, sim.remaining().to_vec())
    };
    let upcoming: BTreeSet<NodeId> = upcoming.iter().copied().collect();
    let mut bound = Vec::new();
    for (i, node) in &placed {
        let Some(pod) = pending.get(*i) else { continue };
        if let Ok(id) = cluster.place(Arc::new(pod.clone()), *node)
            && !upcoming.contains(node)
        {
            bound.push(id);
            plan.placed_on_existing.push((*i, *node));
        }
    }
    plan.awaiting = placed.iter().map(|(i, _)| *i).collect();
    plan.awaiting.sort_unstable();
    SetAside { bound, remaining }
}

/// One group's packing of the pods that were remaining when it was computed.
#[derive(Clone, Debug)]
struct Packed {
    /// The node limit it was packed with.
    max_new: u32,
    /// The packing; its pod indexes point into `index`.
    result: PackResult,
    /// Pending index of each packed pod.
    index: Arc<Vec<usize>>,
}

impl Packed {
    /// Pending indexes of the pods placed on new nodes.
    fn placed(&self) -> impl Iterator<Item = usize> + '_ {
        self.result
            .on_new
            .iter()
            .filter_map(|(k, _)| self.index.get(*k).copied())
    }
}

/// State of the planning rounds: one group is chosen per round.
struct Rounds {
    /// Desired capacity per group, as planned so far.
    desired: Vec<u32>,
    /// Nodes the cluster may still add.
    headroom: Option<u32>,
    /// Groups already chosen.
    chosen: BTreeSet<usize>,
    /// Pending pods (indexes) not placed yet.
    remaining: Vec<usize>,
    /// Each group's last packing. A packing stays valid while none of the pods it placed is
    /// taken by another group and its node limit is unchanged: taking pods it did not place
    /// cannot change what it places (they were unplaceable for it or came after its limit).
    packed: Vec<Option<Packed>>,
    /// Pods taken in the last round.
    taken: BTreeSet<usize>,
}

impl Rounds {
    /// Packs the remaining pods for every eligible group whose last packing is stale.
    fn repack(&mut self, cluster: &ClusterState, groups: &[GroupView], pending: &[PodSpec]) {
        let mut stale: Vec<(usize, u32)> = Vec::new();
        for (gi, group) in groups.iter().enumerate() {
            let max_new = group_limit(group, self.desired[gi], self.headroom);
            let eligible = group.template.is_some()
                && !self.chosen.contains(&gi)
                && max_new > 0
                && group.backed_off_until.is_none();
            let valid = !force_repack()
                && self.packed[gi].as_ref().is_some_and(|p| {
                    p.max_new == max_new && p.placed().all(|i| !self.taken.contains(&i))
                });
            if !eligible {
                self.packed[gi] = None;
            } else if !valid {
                stale.push((gi, max_new));
            }
        }
        if stale.is_empty() {
            return;
        }
        let index = Arc::new(self.remaining.clone());
        let specs: Vec<PodSpec> = index
            .iter()
            .filter_map(|i| pending.get(*i).cloned())
            .collect();
        let sim = ScaleUpSimulation::new(&specs, cluster);
        for (gi, max_new) in stale {
            if let Some(template) = &groups[gi].template {
                let result = sim.pack_group(template, max_new);
                let index = Arc::clone(&index);
                self.packed[gi] = Some(Packed {
                    max_new,
                    result,
                    index,
                });
            }
        }
    }

    /// The groups whose packing places at least one pod, with that packing.
    fn options(&self) -> Vec<(usize, &PackResult)> {
        self.packed
            .iter()
            .enumerate()
            .filter_map(|(gi, p)| Some((gi, &p.as_ref()?.result)))
            .filter(|(_, r)| !r.on_new.is_empty())
            .collect()
    }

    /// Takes group `gi`'s packing: its pods are placed, its new nodes spread over it and the
    /// similar groups ([`Rounds::similar`]), each of those raised.
    fn take(&mut self, groups: &[GroupView], gi: usize) -> Vec<PlannedScaleUp> {
        let Some(packed) = self.packed[gi].take() else {
            // `gi` came from `options`, which only lists packed groups.
            return Vec::new();
        };
        let pods: Vec<usize> = packed.placed().collect();
        let new_nodes = packed.result.new_nodes;
        let waste = packed.result.waste();
        self.taken = pods.iter().copied().collect();
        self.remaining.retain(|i| !self.taken.contains(i));
        self.chosen.insert(gi);
        let mut members = vec![gi];
        members.extend(self.similar(groups, gi));
        let rooms: Vec<GroupRoom> = members
            .iter()
            .map(|&m| GroupRoom {
                size: self.desired[m],
                room: group_limit(&groups[m], self.desired[m], self.headroom),
            })
            .collect();
        let split = spread_new_nodes(&rooms, new_nodes);
        let mut pods_left = pods.as_slice();
        let mut raises = Vec::new();
        for (&m, &add) in members.iter().zip(&split).filter(|(_, add)| **add > 0) {
            // Pods are interchangeable among the similar groups: each raise names its share.
            let share = pods.len() * add as usize / new_nodes.max(1) as usize;
            let (mine, rest) = pods_left.split_at(share.min(pods_left.len()));
            pods_left = rest;
            let from = self.desired[m];
            self.desired[m] = from.saturating_add(add);
            self.headroom = self.headroom.map(|h| h.saturating_sub(add));
            self.packed[m] = None;
            raises.push(PlannedScaleUp {
                group: groups[m].id.clone(),
                from,
                to: self.desired[m],
                pods: mine.to_vec(),
                waste,
                reason: ScaleUpReason::PendingPods,
            });
        }
        if let Some(first) = raises.first_mut() {
            first.pods.extend_from_slice(pods_left);
        }
        raises
    }

    /// The groups similar to `gi` for this scale-up: the same pool, not chosen yet, eligible,
    /// and whose packing places every pod that `gi`'s placed (the pods can run there).
    fn similar(&self, groups: &[GroupView], gi: usize) -> Vec<usize> {
        groups
            .iter()
            .enumerate()
            .filter(|(hi, h)| *hi != gi && h.id.pool == groups[gi].id.pool)
            .filter(|(hi, _)| {
                self.packed[*hi].as_ref().is_some_and(|p| {
                    let placed: BTreeSet<usize> = p.placed().collect();
                    self.taken.iter().all(|i| placed.contains(i))
                })
            })
            .map(|(hi, _)| hi)
            .collect()
    }
}

/// Tests compare kept packings with repacking every round.
#[cfg(test)]
fn force_repack() -> bool {
    tests::force_repack()
}

#[cfg(not(test))]
const fn force_repack() -> bool {
    false
}

/// How many nodes `group` may add now.
fn group_limit(group: &GroupView, desired: u32, headroom: Option<u32>) -> u32 {
    let own = group.max_size.saturating_sub(desired);
    headroom.map_or(own, |h| own.min(h))
}

/// Raises groups below their effective minimum (not backed off) to it.
fn raise_to_minimum(
    groups: &[GroupView],
    desired: &mut [u32],
    headroom: &mut Option<u32>,
    plan: &mut ScaleUpPlan,
) {
    for (gi, g) in groups.iter().enumerate() {
        if g.desired >= g.min_size || g.backed_off_until.is_some() {
            continue;
        }
        let add = group_limit(g, g.desired, *headroom).min(g.min_size - g.desired);
        if add == 0 {
            continue;
        }
        desired[gi] = g.desired + add;
        *headroom = headroom.map(|h| h.saturating_sub(add));
        plan.scale_ups.push(PlannedScaleUp {
            group: g.id.clone(),
            from: g.desired,
            to: desired[gi],
            pods: Vec::new(),
            waste: 0.0,
            reason: ScaleUpReason::BelowMinimum,
        });
    }
}

/// A group raised to its minimum and then chosen for pods gets one raise: the pods' reason, from the original size.
fn merge_min_raises(plan: &mut ScaleUpPlan) {
    let mut merged: Vec<PlannedScaleUp> = Vec::with_capacity(plan.scale_ups.len());
    for s in plan.scale_ups.drain(..) {
        match merged.iter_mut().find(|m| m.group == s.group) {
            Some(m) => {
                m.from = m.from.min(s.from);
                m.to = m.to.max(s.to);
                m.pods.extend(s.pods);
                m.waste = s.waste;
                m.reason = ScaleUpReason::PendingPods;
            }
            None => merged.push(s),
        }
    }
    plan.scale_ups = merged;
}

/// Adds each group's upcoming nodes as template copies; returns their ids.
fn add_upcoming(cluster: &mut ClusterState, groups: &[GroupView], desired: &[u32]) -> Vec<NodeId> {
    let mut ids = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let Some(template) = &g.template else {
            continue;
        };
        let upcoming = desired[gi].saturating_sub(g.registered);
        for n in 0..upcoming {
            let node = template.renamed(format!("upcoming-{}-{}-{n}", g.id.pool, g.id.zone));
            if let Ok(id) = cluster.add_node(node) {
                ids.push(id);
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests;
