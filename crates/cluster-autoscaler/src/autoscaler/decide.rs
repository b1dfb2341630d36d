//! Decide: from the observed state to a [`LoopPlan`], without IO. Also what the benchmark times.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tidal_core::Timestamp;
use tidal_core::scheduling::{ClusterState, NodeId, PodId, PodSpec};

use super::Autoscaler;
use super::cluster_cache::{BoundPods, Synced};
use crate::groups::GroupView;
use crate::outcome::ScaleDownSkip;
use crate::ports::{ClusterPod, ClusterSnapshot, NodeGroupId};
use crate::scale_down::{
    NodeCandidate, NodeRemoval, ScaleDownLimits, Unneeded, find_unneeded, plan_scale_down,
    utilization,
};
use crate::scale_up::{ScaleUpPlan, ScaleUpSettings, plan_scale_up};

/// Everything one loop decided, before acting.
#[derive(Clone, Debug, Default)]
pub struct LoopPlan {
    /// The groups as planned with (failures of this loop already applied).
    pub groups: Vec<GroupView>,
    /// The Unschedulable pods considered (indexes of the scale-up plan point here).
    pub pending: Vec<Arc<ClusterPod>>,
    /// Scale-ups.
    pub scale_up: ScaleUpPlan,
    /// Unneeded nodes this loop (timers updated from them).
    pub unneeded: Unneeded,
    /// Nodes to start removing now.
    pub removals: Vec<NodeRemoval>,
    /// Why scale-down did not run, if it did not.
    pub scale_down_skipped: Option<ScaleDownSkip>,
}

impl LoopPlan {
    /// The group with this id.
    pub fn group(&self, id: &NodeGroupId) -> Option<&GroupView> {
        self.groups.iter().find(|g| &g.id == id)
    }
}

/// Builds the simulated cluster: schedulable nodes (not cordoned, not being drained) with
/// their bound, unfinished pods.
pub fn cluster_state(snapshot: &ClusterSnapshot, exclude: &BTreeSet<&str>) -> ClusterState {
    let mut cluster = ClusterState::new();
    for n in &snapshot.nodes {
        if !n.unschedulable && !exclude.contains(n.name.as_str()) {
            // Duplicate names would be a broken snapshot; the first one wins.
            let _ = cluster.add_node(n.spec.clone());
        }
    }
    for p in snapshot.pods.iter() {
        if p.phase.is_terminal() {
            continue;
        }
        if let Some(id) = p.node_name.as_deref().and_then(|n| cluster.node_id(n)) {
            let _ = cluster.place(Arc::new(p.spec.clone()), id);
        }
    }
    cluster
}

/// Binds `placements` (pending index, node) of `specs`; returns the new pod ids.
fn bind(
    cluster: &mut ClusterState,
    placements: &[(usize, NodeId)],
    specs: &[PodSpec],
) -> Vec<PodId> {
    placements
        .iter()
        .filter_map(|(i, node)| {
            let spec = specs.get(*i)?;
            cluster.place(Arc::new(spec.clone()), *node).ok()
        })
        .collect()
}

impl Autoscaler {
    /// Decides scale-up and scale-down from the observed state. Updates the unneeded-since
    /// timers; acts on nothing. `port_failed`: a port call failed earlier in this loop.
    pub fn decide(
        &mut self,
        snapshot: &ClusterSnapshot,
        groups: Vec<GroupView>,
        now: Timestamp,
        port_failed: bool,
    ) -> LoopPlan {
        // The cache is taken out while planning borrows `self`; it goes back at the end.
        let mut cache = std::mem::take(&mut self.cache);
        let draining: BTreeSet<&str> = self.state.drains.keys().map(String::as_str).collect();
        let Synced {
            cluster,
            bound: on_nodes,
            pending,
            node_ids,
        } = cache.sync(snapshot, &draining);
        let specs: Vec<PodSpec> = pending.iter().map(|p| p.spec.clone()).collect();
        let settings = ScaleUpSettings {
            expanders: &self.config.expanders,
            seed: self.config.seed,
            node_headroom: self.node_headroom(snapshot, &groups),
        };
        let scale_up = plan_scale_up(cluster, &groups, &specs, &settings);
        let mut plan = LoopPlan {
            groups,
            pending,
            scale_up,
            ..LoopPlan::default()
        };
        plan.scale_down_skipped = self.scale_down_skip(snapshot, &plan, now, port_failed);
        if matches!(
            plan.scale_down_skipped,
            Some(
                ScaleDownSkip::Disabled
                    | ScaleDownSkip::StaleSnapshot { .. }
                    | ScaleDownSkip::TooManyUnready { .. }
            )
        ) {
            // Without fresh data "continuously unneeded" cannot be known: start over.
            self.state.unneeded_since.clear();
        } else {
            // Pods about to use free room on registered nodes count as bound while scale-down
            // judges, so that room is not taken away from them.
            let bound = bind(cluster, &plan.scale_up.placed_on_existing, &specs);
            self.plan_removals(cluster, (&on_nodes, node_ids), snapshot, &mut plan, now);
            for id in bound {
                let _ = cluster.remove_pod(id);
            }
        }
        self.cache = cache;
        plan
    }

    /// Nodes the cluster may still add: the limit minus the nodes and the upcoming ones.
    fn node_headroom(&self, snapshot: &ClusterSnapshot, groups: &[GroupView]) -> Option<u32> {
        let upcoming: u64 = groups.iter().map(|g| u64::from(g.upcoming())).sum();
        let total = u64::try_from(snapshot.nodes.len())
            .unwrap_or(u64::MAX)
            .saturating_add(upcoming);
        self.config
            .cluster_node_limit
            .map(|l| u32::try_from(u64::from(l).saturating_sub(total)).unwrap_or(u32::MAX))
    }

    fn scale_down_skip(
        &self,
        snapshot: &ClusterSnapshot,
        plan: &LoopPlan,
        now: Timestamp,
        port_failed: bool,
    ) -> Option<ScaleDownSkip> {
        let age = now.since(snapshot.taken_at);
        if !self.config.scale_down_enabled {
            Some(ScaleDownSkip::Disabled)
        } else if age > self.config.scan_interval * 2 {
            Some(ScaleDownSkip::StaleSnapshot { age })
        } else if let Some(skip) = self.too_many_unready(snapshot) {
            Some(skip)
        } else if port_failed {
            Some(ScaleDownSkip::PortError)
        } else if !plan.scale_up.scale_ups.is_empty()
            || self
                .state
                .last_scale_up
                .is_some_and(|t| now.since(t) < self.config.scale_down_delay_after_add)
        {
            Some(ScaleDownSkip::RecentScaleUp)
        } else {
            None
        }
    }

    /// Whether more nodes are not Ready than both the count and the share allowed (upstream's
    /// "cluster not safe to scale" rule), counting registered nodes.
    fn too_many_unready(&self, snapshot: &ClusterSnapshot) -> Option<ScaleDownSkip> {
        let total = snapshot.nodes.len();
        let unready = snapshot.nodes.iter().filter(|n| !n.ready).count();
        let share = unready as f64 * 100.0 / total.max(1) as f64;
        (unready > self.config.ok_total_unready_count
            && share > self.config.max_total_unready_percentage)
            .then_some(ScaleDownSkip::TooManyUnready { unready, total })
    }

    /// Finds unneeded nodes, updates their timers and, unless skipped, picks removals.
    /// `(pods, node_ids)`: from the synced cache.
    fn plan_removals(
        &mut self,
        cluster: &ClusterState,
        (pods, node_ids): (&BoundPods<'_>, &[Option<NodeId>]),
        snapshot: &ClusterSnapshot,
        plan: &mut LoopPlan,
        now: Timestamp,
    ) {
        let candidates = self.candidates(cluster, snapshot, node_ids, &plan.groups);
        plan.unneeded = find_unneeded(cluster, &candidates, pods, &snapshot.pdbs);
        let still: BTreeSet<&str> = plan
            .unneeded
            .nodes
            .iter()
            .map(|u| u.candidate.node.as_str())
            .collect();
        self.state
            .unneeded_since
            .retain(|node, _| still.contains(node.as_str()));
        for node in still {
            self.state
                .unneeded_since
                .entry(node.to_owned())
                .or_insert(now);
        }
        if plan.scale_down_skipped.is_some() {
            return;
        }
        let mut in_progress: BTreeMap<NodeGroupId, u32> = BTreeMap::new();
        for d in self.state.drains.values() {
            *in_progress.entry(d.group.clone()).or_insert(0) += 1;
        }
        let busy = u32::try_from(self.state.drains.len()).unwrap_or(u32::MAX);
        let limits = ScaleDownLimits {
            groups: &plan.groups,
            in_progress: &in_progress,
            max_removals: self.config.max_scale_down_parallelism.saturating_sub(busy),
        };
        plan.removals = plan_scale_down(
            cluster,
            &plan.unneeded.nodes,
            &self.state.unneeded_since,
            now,
            &snapshot.pdbs,
            &limits,
        );
    }

    /// Nodes that may be removed: registered in a managed group, schedulable, not draining, and
    /// without a pod the cluster source could not read (it would be killed, not evicted).
    /// Unready nodes are candidates with the unready time instead of the pool's unneeded time;
    /// Ready ones only below their pool's utilization threshold (most nodes, most loops, are
    /// not, and are passed over before anything is built for them).
    /// `node_ids`: each snapshot node's id in `cluster`, in snapshot order.
    fn candidates(
        &self,
        cluster: &ClusterState,
        snapshot: &ClusterSnapshot,
        node_ids: &[Option<NodeId>],
        groups: &[GroupView],
    ) -> Vec<NodeCandidate> {
        // No pool's threshold is above this: a Ready node at or above it is busy everywhere.
        let busy_everywhere = (self.pools.pools().iter())
            .filter_map(|p| p.scale_down_utilization_threshold)
            .fold(self.config.scale_down_utilization_threshold, f64::max);
        let mut by_instance: Option<foldhash::HashMap<&str, &GroupView>> = None;
        (snapshot.nodes.iter().zip(node_ids))
            .filter(|(n, _)| !n.unschedulable && !self.state.drains.contains_key(&n.name))
            .filter(|(n, _)| !snapshot.unreadable.nodes_with_pods.contains(&n.name))
            .filter_map(|(n, id)| {
                let util = utilization(cluster, (*id)?)?;
                if n.ready && util >= busy_everywhere {
                    return None;
                }
                let instance_id = n.instance_id.as_deref()?;
                let by_instance = by_instance.get_or_insert_with(|| {
                    (groups.iter())
                        .flat_map(|g| g.live_instances.iter().map(move |i| (&*i.id, g)))
                        .collect()
                });
                let group = by_instance.get(instance_id)?;
                let pool = self.pools.get(&group.id.pool)?;
                let threshold = pool
                    .scale_down_utilization_threshold
                    .unwrap_or(self.config.scale_down_utilization_threshold);
                if n.ready && util >= threshold {
                    return None;
                }
                Some(NodeCandidate {
                    node: n.name.clone(),
                    group: group.id.clone(),
                    instance_id: instance_id.to_owned(),
                    threshold,
                    unneeded_time: if n.ready {
                        pool.scale_down_unneeded_time
                            .unwrap_or(self.config.scale_down_unneeded_time)
                    } else {
                        self.config.scale_down_unready_time
                    },
                    unready: !n.ready,
                })
            })
            .collect()
    }
}
