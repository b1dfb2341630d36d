//! Bin-packing of pending pods: first-fit decreasing onto existing free capacity, then onto
//! new template nodes of one group up to a maximum, as the cluster-autoscaler estimator does.

use foldhash::{HashMap, HashMapExt};

use serde::{Deserialize, Serialize};

use super::cluster_state::{ClusterState, NodeId};
use super::model::{HostPort, NodeSpec, PodSpec};
use super::placement::{Class, Counts, ExistingOutcome, PlacementEngine, spread_unfit};
use super::predicates::{Unfit, port_conflict, static_fit};
use crate::resources::Resources;

/// The outcome of packing pending pods for one node group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PackResult {
    /// New template nodes needed.
    pub new_nodes: u32,
    /// Indexes (into the pending pods) of every placed pod, ascending.
    pub placed: Vec<usize>,
    /// Pods placed on existing nodes: `(pending index, node)`, in placement order.
    pub on_existing: Vec<(usize, NodeId)>,
    /// Pods placed on new nodes: `(pending index, new node number from 0)`, in placement order.
    pub on_new: Vec<(usize, u32)>,
    /// Pods not placed, ascending by index, with why.
    pub unplaced: Vec<(usize, Unfit)>,
    /// Free resources left on each new node (for least-waste).
    pub new_node_free: Vec<Resources>,
    /// Allocatable resources of one new node (the template's).
    pub new_node_allocatable: Resources,
}

impl PackResult {
    /// Least-waste score over the new nodes: free CPU share plus free memory share
    /// (`(freeCPU/CPU)+(freeMem/Mem)`), 0.0 when no node is added.
    pub fn waste(&self) -> f64 {
        let n = self.new_node_free.len() as f64;
        if n == 0.0 {
            return 0.0;
        }
        let alloc = &self.new_node_allocatable;
        let free_cpu: i64 = self.new_node_free.iter().map(|r| r.cpu_millis).sum();
        let free_mem: i64 = self.new_node_free.iter().map(|r| r.memory_bytes).sum();
        let ratio = |free: i64, per_node: i64| {
            if per_node > 0 {
                free as f64 / (per_node as f64 * n)
            } else {
                0.0
            }
        };
        ratio(free_cpu, alloc.cpu_millis) + ratio(free_mem, alloc.memory_bytes)
    }

    /// How many pods the new nodes take.
    pub fn pods_on_new_nodes(&self) -> usize {
        self.on_new.len()
    }
}

/// Packs `pending` onto the free capacity of `cluster`, then onto at most `max_new_nodes`
/// copies of `template`. Does not change the cluster. For many groups over the same pending
/// pods, build one [`ScaleUpSimulation`] and call [`ScaleUpSimulation::pack_group`] per group.
pub fn pack(
    pending: &[PodSpec],
    cluster: &ClusterState,
    template: &NodeSpec,
    max_new_nodes: u32,
) -> PackResult {
    ScaleUpSimulation::new(pending, cluster).pack_group(template, max_new_nodes)
}

/// Pending pods placed once on the existing nodes, ready to be packed onto each group's
/// template nodes (the existing-node part does not depend on the group).
pub struct ScaleUpSimulation<'a> {
    sim: PlacementEngine<'a>,
    existing: ExistingOutcome,
    class_of: Vec<usize>,
}

/// One new node during the template phase.
struct NewNode {
    used: Resources,
    ports: Vec<HostPort>,
}

impl<'a> ScaleUpSimulation<'a> {
    /// Groups `pending` into equivalence classes and places what fits on existing nodes.
    pub fn new(pending: &'a [PodSpec], cluster: &'a ClusterState) -> Self {
        let sim = PlacementEngine::new(cluster, pending, None);
        let existing = sim.place_on_existing();
        let mut class_of = vec![0; pending.len()];
        for (ci, class) in sim.classes.iter().enumerate() {
            for m in &class.members {
                if let Some(c) = class_of.get_mut(*m) {
                    *c = ci;
                }
            }
        }
        Self {
            sim,
            existing,
            class_of,
        }
    }

    /// Pods placed on existing nodes: `(pending index, node)` in placement order.
    pub fn on_existing(&self) -> &[(usize, NodeId)] {
        &self.existing.placements
    }

    /// Pending indexes that fit no existing node, ascending: these need new nodes.
    pub fn remaining(&self) -> &[usize] {
        &self.existing.remaining
    }

    /// Number of equivalence classes among the pending pods.
    pub fn class_count(&self) -> usize {
        self.sim.classes.len()
    }

    /// Packs the remaining pods onto at most `max_new_nodes` copies of `template`.
    pub fn pack_group(&self, template: &NodeSpec, max_new_nodes: u32) -> PackResult {
        let zones = &self.sim.cluster.zones;
        let template_zone = template
            .zone()
            .map(|z| zones.id(z).map_or(zones.len(), |id| id as usize));
        let mut counts = Counts {
            matches: vec![HashMap::new(); self.sim.tracked.len()],
            holders: vec![HashMap::new(); self.sim.tracked.len()],
            zones: self.existing.zone_counts.clone(),
        };
        if template_zone == Some(zones.len()) {
            counts.zones.iter_mut().for_each(|z| z.push(0));
        }
        // Remaining pods per class, in index order.
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for &i in &self.existing.remaining {
            members
                .entry(self.class_of.get(i).copied().unwrap_or(0))
                .or_default()
                .push(i);
        }
        let mut phase = TemplatePhase {
            template,
            template_zone,
            max_new_nodes,
            nodes: Vec::new(),
            counts,
            on_new: Vec::new(),
            unplaced: Vec::new(),
        };
        for ci in self.sim.class_order(&template.allocatable) {
            if let (Some(class), Some(pods)) = (self.sim.classes.get(ci), members.get(&ci)) {
                phase.place_class(&self.sim, class, pods);
            }
        }
        self.result(phase)
    }

    fn result(&self, phase: TemplatePhase<'_>) -> PackResult {
        let mut placed: Vec<usize> = self.existing.placements.iter().map(|(i, _)| *i).collect();
        placed.extend(phase.on_new.iter().map(|(i, _)| *i));
        placed.sort_unstable();
        let mut unplaced = phase.unplaced;
        unplaced.sort_by_key(|(i, _)| *i);
        let alloc = &phase.template.allocatable;
        PackResult {
            new_nodes: u32::try_from(phase.nodes.len()).unwrap_or(u32::MAX),
            placed,
            on_existing: self.existing.placements.clone(),
            on_new: phase.on_new,
            unplaced,
            new_node_free: phase
                .nodes
                .iter()
                .map(|n| alloc.saturating_sub(&n.used))
                .collect(),
            new_node_allocatable: alloc.clone(),
        }
    }
}

/// State of packing onto one group's template nodes.
struct TemplatePhase<'t> {
    template: &'t NodeSpec,
    /// Zone id of the template (a fresh id past the cluster's zones if the zone is new).
    template_zone: Option<usize>,
    max_new_nodes: u32,
    nodes: Vec<NewNode>,
    counts: Counts,
    on_new: Vec<(usize, u32)>,
    unplaced: Vec<(usize, Unfit)>,
}

impl TemplatePhase<'_> {
    fn place_class(&mut self, sim: &PlacementEngine<'_>, class: &Class, pods: &[usize]) {
        let pod = sim.rep(class);
        let fail_all = |this: &mut Self, from: usize, why: Unfit| {
            this.unplaced
                .extend(pods.iter().skip(from).map(|i| (*i, why.clone())));
        };
        if let Err(why) = static_fit(pod, self.template) {
            return fail_all(self, 0, why);
        }
        if let Some(name) =
            Resources::zero().first_shortage_with(&pod.requests, &self.template.allocatable)
        {
            return fail_all(self, 0, Unfit::Resource(name));
        }
        let mut eligible = class.eligible_zones.clone();
        if let Some(z) = self.template_zone {
            eligible.resize(eligible.len().max(z + 1), false);
            eligible[z] = true;
        }
        let mut cursor = 0usize;
        for (k, &pod_index) in pods.iter().enumerate() {
            if !class.spread.is_empty() && !self.spread_allows(class, &eligible) {
                // All new nodes share one zone and its counts only grow: no later pod fits either.
                return fail_all(self, k, spread_unfit(self.template, class));
            }
            let mut found = None;
            while cursor < self.nodes.len() {
                if self.fits_new(sim, class, cursor) {
                    found = Some(cursor);
                    break;
                }
                cursor += 1;
            }
            let node = match found {
                Some(n) => n,
                None if (self.nodes.len() as u64) < u64::from(self.max_new_nodes) => {
                    self.nodes.push(NewNode {
                        used: Resources::zero(),
                        ports: Vec::new(),
                    });
                    self.nodes.len() - 1
                }
                None => return fail_all(self, k, Unfit::NodeLimit),
            };
            self.apply(pod, class, node);
            self.on_new
                .push((pod_index, u32::try_from(node).unwrap_or(u32::MAX)));
        }
    }

    fn spread_allows(&self, class: &Class, eligible: &[bool]) -> bool {
        let allowed = PlacementEngine::allowed_zones(class, &self.counts.zones, eligible);
        self.template_zone
            .is_some_and(|z| allowed.get(z).copied().unwrap_or(false))
    }

    /// Resources, ports and anti-affinity on new node `n` (static predicates hold for the class).
    fn fits_new(&self, sim: &PlacementEngine<'_>, class: &Class, n: usize) -> bool {
        let pod = sim.rep(class);
        let Some(node) = self.nodes.get(n) else {
            return false;
        };
        let key = new_node_key(n);
        let none_on_node = |maps: &[HashMap<u32, u32>], terms: &[usize]| {
            terms.iter().all(|t| {
                maps.get(*t)
                    .and_then(|m| m.get(&key))
                    .is_none_or(|c| *c == 0)
            })
        };
        node.used
            .fits_with(&pod.requests, &self.template.allocatable)
            && port_conflict(&pod.host_ports, &node.ports).is_none()
            && none_on_node(&self.counts.matches, &class.own_terms)
            && none_on_node(&self.counts.holders, &class.blocked_by)
    }

    fn apply(&mut self, pod: &PodSpec, class: &Class, n: usize) {
        if let Some(node) = self.nodes.get_mut(n) {
            node.used.add_assign_saturating(&pod.requests);
            node.ports.extend_from_slice(&pod.host_ports);
        }
        let zone = self.template_zone.and_then(|z| u32::try_from(z).ok());
        self.counts.record(class, new_node_key(n), zone);
    }
}

/// Count-map key of new node `n` (new nodes only ever meet new-node counts).
fn new_node_key(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
