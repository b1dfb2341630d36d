//! Placing pods onto the nodes that exist (first-fit decreasing, class by class), and the
//! [`ClusterState`] queries that run it: `find_fit`, `reschedule`.

use foldhash::{HashMap, HashMapExt};

use super::{Class, Counts, PlacementEngine};
use crate::resources::Resources;
use crate::scheduling::cluster_state::{ClusterState, NodeEntry, NodeId};
use crate::scheduling::model::{HostPort, PodSpec};
use crate::scheduling::predicates::{port_conflict, static_fit_ok};

/// Result of placing pods onto existing nodes.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExistingOutcome {
    /// `(pod index, node)` in placement order.
    pub(crate) placements: Vec<(usize, NodeId)>,
    /// Pods that fit no existing node, ascending.
    pub(crate) remaining: Vec<usize>,
    /// Zone counts per tracked selector after the placements.
    pub(crate) zone_counts: Vec<Vec<u32>>,
}

impl<'a> PlacementEngine<'a> {
    /// Places the pods onto existing nodes, first-fit decreasing.
    pub(crate) fn place_on_existing(&self) -> ExistingOutcome {
        let cluster = self.cluster;
        let live: Vec<(u32, &NodeEntry)> = cluster
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((u32::try_from(i).ok()?, e.as_ref()?)))
            .filter(|(i, _)| Some(*i) != self.excluded)
            .collect();
        let mut reference = Resources::zero();
        for (_, e) in &live {
            let a = &e.spec.allocatable;
            reference.cpu_millis = reference.cpu_millis.max(a.cpu_millis);
            reference.memory_bytes = reference.memory_bytes.max(a.memory_bytes);
            reference.ephemeral_storage_bytes = reference
                .ephemeral_storage_bytes
                .max(a.ephemeral_storage_bytes);
        }
        let mut state = ExistingState {
            counts: Counts {
                matches: vec![HashMap::new(); self.tracked.len()],
                holders: vec![HashMap::new(); self.tracked.len()],
                zones: self.base.zones.clone(),
            },
            overlay_of: vec![u32::MAX; cluster.nodes.len()],
            overlays: Vec::new(),
        };
        let mut outcome = ExistingOutcome::default();
        for ci in self.class_order(&reference) {
            let class = &self.classes[ci];
            self.place_class_on_existing(class, &live, &mut state, &mut outcome);
        }
        outcome.remaining.sort_unstable();
        outcome.zone_counts = state.counts.zones;
        outcome
    }

    fn place_class_on_existing(
        &self,
        class: &Class,
        live: &[(u32, &NodeEntry)],
        state: &mut ExistingState,
        outcome: &mut ExistingOutcome,
    ) {
        let mut cursor = 0usize;
        // Nodes past the cursor known to fail for a reason that only gets worse.
        let mut dead = vec![
            false;
            if class.spread.is_empty() {
                0
            } else {
                live.len()
            }
        ];
        for &pod_index in &class.members {
            let allowed = (!class.spread.is_empty())
                .then(|| Self::allowed_zones(class, &state.counts.zones, &class.eligible_zones));
            let mut found = None;
            let mut i = cursor;
            while let Some((slot, entry)) = live.get(i) {
                if dead.get(i).copied().unwrap_or(false) {
                    i += 1;
                    continue;
                }
                match self.check_existing(class, *slot, entry, state, allowed.as_deref()) {
                    Ok(()) => {
                        found = Some(i);
                        break;
                    }
                    Err(Miss::Spread) => {}
                    Err(Miss::Monotone) if i == cursor => cursor += 1,
                    Err(Miss::Monotone) => {
                        if let Some(d) = dead.get_mut(i) {
                            *d = true;
                        }
                    }
                }
                i += 1;
            }
            match found.and_then(|i| live.get(i)) {
                Some((slot, entry)) => {
                    state.apply(self.rep(class), class, *slot, entry);
                    outcome.placements.push((pod_index, NodeId(*slot)));
                }
                None => outcome.remaining.push(pod_index),
            }
        }
    }

    /// Every predicate for the class on an existing node, cheapest and likeliest failures
    /// first, without allocating (no reason is needed here).
    fn check_existing(
        &self,
        class: &Class,
        slot: u32,
        entry: &NodeEntry,
        state: &ExistingState,
        allowed_zones: Option<&[bool]>,
    ) -> Result<(), Miss> {
        let pod = self.rep(class);
        if let Some(allowed) = allowed_zones
            && !entry
                .zone
                .is_some_and(|z| allowed.get(z as usize).copied().unwrap_or(false))
        {
            return Err(Miss::Spread);
        }
        let overlay = state.overlay(slot);
        let used = overlay.map_or(&entry.used, |o| &o.used);
        if !used.fits_with(&pod.requests, &entry.spec.allocatable)
            || !static_fit_ok(pod, &entry.spec)
        {
            return Err(Miss::Monotone);
        }
        if !pod.host_ports.is_empty() {
            let extra = overlay.map_or(&[][..], |o| o.ports.as_slice());
            if port_conflict(&pod.host_ports, &entry.ports).is_some()
                || port_conflict(&pod.host_ports, extra).is_some()
            {
                return Err(Miss::Monotone);
            }
        }
        self.check_terms(class, slot, &state.counts)
            .map_err(|_| Miss::Monotone)
    }
}

/// Why an existing node was skipped: spread may change as pods are placed, the rest only
/// gets worse.
enum Miss {
    Spread,
    Monotone,
}

/// What placements changed on one existing node.
struct Overlay {
    used: Resources,
    ports: Vec<HostPort>,
}

/// Mutable state of the existing-node phase.
struct ExistingState {
    counts: Counts,
    overlay_of: Vec<u32>,
    overlays: Vec<Overlay>,
}

impl ExistingState {
    fn overlay(&self, slot: u32) -> Option<&Overlay> {
        let i = *self.overlay_of.get(slot as usize)?;
        self.overlays.get(i as usize)
    }

    fn apply(&mut self, pod: &PodSpec, class: &Class, slot: u32, entry: &NodeEntry) {
        let idx = match self.overlay_of.get(slot as usize) {
            Some(i) if *i != u32::MAX => *i as usize,
            _ => {
                self.overlays.push(Overlay {
                    used: entry.used.clone(),
                    ports: Vec::new(),
                });
                let i = self.overlays.len() - 1;
                if let Some(o) = self.overlay_of.get_mut(slot as usize) {
                    *o = u32::try_from(i).unwrap_or(u32::MAX);
                }
                i
            }
        };
        if let Some(o) = self.overlays.get_mut(idx) {
            o.used.add_assign_saturating(&pod.requests);
            o.ports.extend_from_slice(&pod.host_ports);
        }
        self.counts.record(class, slot, entry.zone);
    }
}

/// The queries of [`ClusterState`] that run the engine (here, so the cluster state does not
/// depend on its own engine).
impl ClusterState {
    /// The first node (in slot order) where `pod` fits, by the indexed path.
    pub fn find_fit(&self, pod: &PodSpec) -> Option<NodeId> {
        let pods = std::slice::from_ref(pod);
        let sim = PlacementEngine::new(self, pods, None);
        sim.place_on_existing()
            .placements
            .first()
            .map(|(_, node)| *node)
    }

    /// Can every pod in `pods` be placed on the other nodes (all but `excluding`, whose pods
    /// are taken as gone)? Does not change the cluster. See [`Self::reschedule`].
    pub fn can_reschedule(&self, pods: &[PodSpec], excluding: NodeId) -> bool {
        self.reschedule(pods, excluding).is_ok()
    }

    /// Where each of `pods` would go (first-fit decreasing) if `excluding` were removed:
    /// `(index into pods, node)` in placement order, or the index of the first pod that fits
    /// nowhere. Does not change the cluster; apply the plan with [`Self::remove_node`] and
    /// [`Self::place`] to commit it.
    pub fn reschedule(
        &self,
        pods: &[PodSpec],
        excluding: NodeId,
    ) -> Result<Vec<(usize, NodeId)>, usize> {
        let sim = PlacementEngine::new(self, pods, Some(excluding.0));
        let outcome = sim.place_on_existing();
        match outcome.remaining.iter().min() {
            Some(first) => Err(*first),
            None => Ok(outcome.placements),
        }
    }
}
