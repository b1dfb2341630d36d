//! The simulated cluster kept across loops and updated from each snapshot by what changed.
//!
//! Building a `ClusterState` of 30,000 pods costs more than the whole scale-up decision, and
//! from one loop to the next few pods change. The adapters hand out the same `Arc` for an
//! object that did not change (the Kubernetes adapter caches conversions per resourceVersion,
//! the simulator keeps its records), so a pointer comparison finds what to redo; equal
//! contents behind a new pointer are kept as well.

use std::collections::BTreeSet;
use std::sync::Arc;

use foldhash::HashMap;
use tidal_core::scheduling::{ClusterState, NodeId, PodId};

use crate::ports::{ClusterNode, ClusterPod, ClusterSnapshot};
use crate::scale_down::NodePods;

#[derive(Debug)]
struct CachedNode {
    node: Arc<ClusterNode>,
    id: NodeId,
}

#[derive(Debug)]
struct CachedPod {
    pod: Arc<ClusterPod>,
    id: PodId,
    seen: u64,
}

/// Identity of a pod object: the address of its `Arc`. The cache holds a clone of every
/// `Arc` it keys, so an address cannot be reused for another pod while it is a key.
type PodAddr = usize;

fn addr(p: &Arc<ClusterPod>) -> PodAddr {
    Arc::as_ptr(p) as PodAddr
}

/// Schedulable nodes (not cordoned, not excluded) and their bound, unfinished pods, as in
/// [`super::cluster_state`], maintained incrementally.
///
/// Pods are found by object identity first (one integer hash per unchanged pod, the common
/// case); only a pod behind a new pointer is looked up by namespace and name.
#[derive(Debug, Default)]
pub(crate) struct ClusterCache {
    state: ClusterState,
    nodes: HashMap<String, CachedNode>,
    pods: HashMap<PodAddr, CachedPod>,
    /// Pod addresses by namespace, then name.
    names: HashMap<String, HashMap<String, PodAddr>>,
    /// The cached pod in each of the state's pod slots, so the pods of a node are found without
    /// a pass over the snapshot.
    by_slot: Vec<Option<Arc<ClusterPod>>>,
    /// The node objects and exclusions of the last sync: when both are the same, the nodes
    /// need no work. Holding the `Arc`s keeps their addresses from being reused.
    last_nodes: (Vec<Arc<ClusterNode>>, Vec<String>),
    /// The state's id of each node of the last snapshot, in snapshot order.
    node_ids: Vec<Option<NodeId>>,
    generation: u64,
}

/// The pods the cache bound to each node of its state (see [`ClusterCache::sync`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BoundPods<'a>(&'a [Option<Arc<ClusterPod>>]);

impl NodePods for BoundPods<'_> {
    /// Pods bound to `id` that the cache did not bind (a scale-up's planned pods) are left out,
    /// as a snapshot has them nowhere yet.
    fn on_node(&self, cluster: &ClusterState, id: NodeId, _: &str) -> Vec<Arc<ClusterPod>> {
        cluster
            .pods_on(id)
            .filter_map(|(pod, _)| self.0.get(pod.index())?.clone())
            .collect()
    }
}

/// The cache brought up to a snapshot (see [`ClusterCache::sync`]).
#[derive(Debug)]
pub(crate) struct Synced<'a> {
    /// Schedulable nodes and their bound, unfinished pods.
    pub cluster: &'a mut ClusterState,
    /// The snapshot's pods on each node of `cluster`.
    pub bound: BoundPods<'a>,
    /// The snapshot's pods waiting for a node ([`is_pending`]), in snapshot order.
    pub pending: Vec<Arc<ClusterPod>>,
    /// The id in `cluster` of each of the snapshot's nodes, in snapshot order (`None`:
    /// cordoned, excluded, or a second node of the same name).
    pub node_ids: &'a [Option<NodeId>],
}

/// A pod the scheduler found no node for, that still wants one: Unschedulable, unbound,
/// unfinished and not being deleted.
pub(crate) fn is_pending(p: &ClusterPod) -> bool {
    p.unschedulable_since.is_some()
        && p.node_name.is_none()
        && !p.phase.is_terminal()
        && !p.deleting
}

impl ClusterCache {
    /// Brings the state up to `snapshot` (minus `exclude`d nodes) and returns it, with the
    /// snapshot's pods on each of its nodes and its pending pods.
    pub(crate) fn sync(
        &mut self,
        snapshot: &ClusterSnapshot,
        exclude: &BTreeSet<&str>,
    ) -> Synced<'_> {
        self.generation += 1;
        if !self.same_nodes(snapshot, exclude) {
            self.sync_nodes(snapshot, exclude);
            self.node_ids = (snapshot.nodes.iter())
                .map(|n| {
                    let cached = self.nodes.get(&n.name)?;
                    Arc::ptr_eq(&cached.node, n).then_some(cached.id)
                })
                .collect();
            self.last_nodes = (
                snapshot.nodes.clone(),
                exclude.iter().map(|n| (*n).to_owned()).collect(),
            );
        }
        let pending = self.sync_pods(snapshot);
        Synced {
            cluster: &mut self.state,
            bound: BoundPods(&self.by_slot),
            pending,
            node_ids: &self.node_ids,
        }
    }

    /// The same node objects, in the same order, with the same exclusions as the last sync.
    fn same_nodes(&self, snapshot: &ClusterSnapshot, exclude: &BTreeSet<&str>) -> bool {
        let (nodes, excluded) = &self.last_nodes;
        nodes.len() == snapshot.nodes.len()
            && nodes
                .iter()
                .zip(&snapshot.nodes)
                .all(|(a, b)| Arc::ptr_eq(a, b))
            && excluded
                .iter()
                .map(String::as_str)
                .eq(exclude.iter().copied())
    }

    fn sync_nodes(&mut self, snapshot: &ClusterSnapshot, exclude: &BTreeSet<&str>) {
        let mut wanted: HashMap<&str, &Arc<ClusterNode>> = HashMap::default();
        for n in &snapshot.nodes {
            if !n.unschedulable && !exclude.contains(n.name.as_str()) {
                wanted.entry(n.name.as_str()).or_insert(n);
            }
        }
        // Removal and insertion orders decide which slots nodes get, and slot order is the
        // first-fit order: both follow the snapshot (or names), never hash order.
        let mut gone: BTreeSet<String> = BTreeSet::new();
        for (name, cached) in &mut self.nodes {
            match wanted.get(name.as_str()) {
                Some(n) if Arc::ptr_eq(n, &cached.node) => {}
                Some(n) if n.spec == cached.node.spec => cached.node = Arc::clone(n),
                _ => {
                    gone.insert(name.clone());
                }
            }
        }
        for name in &gone {
            if let Some(cached) = self.nodes.remove(name) {
                // Removing the node unbinds its pods; forget them below.
                let _ = self.state.remove_node(cached.id);
            }
        }
        if !gone.is_empty() {
            let on_gone =
                |c: &CachedPod| c.pod.node_name.as_ref().is_some_and(|n| gone.contains(n));
            let unbound: Vec<PodAddr> = self
                .pods
                .iter()
                .filter(|(_, c)| on_gone(c))
                .map(|(a, _)| *a)
                .collect();
            for a in unbound {
                self.forget(a);
            }
        }
        for n in &snapshot.nodes {
            let name = n.name.as_str();
            if wanted.get(name).is_some_and(|w| Arc::ptr_eq(w, n))
                && !self.nodes.contains_key(name)
                && let Ok(id) = self.state.add_node(n.spec.clone())
            {
                self.nodes.insert(
                    name.to_owned(),
                    CachedNode {
                        node: Arc::clone(n),
                        id,
                    },
                );
            }
        }
    }

    /// Follows the snapshot's pods; returns the pending ones.
    fn sync_pods(&mut self, snapshot: &ClusterSnapshot) -> Vec<Arc<ClusterPod>> {
        let generation = self.generation;
        let mut pending = Vec::new();
        for p in snapshot.pods.iter() {
            // The same object as last loop: same node (a removed node took its pods out of
            // the cache above), same requirements, still unfinished. Most pods, most loops:
            // the pod itself is not read.
            if let Some(c) = self.pods.get_mut(&addr(p)) {
                c.seen = generation;
                continue;
            }
            if p.phase.is_terminal() {
                continue;
            }
            let Some(name) = p.node_name.as_deref() else {
                if is_pending(p) {
                    pending.push(Arc::clone(p));
                }
                continue;
            };
            if let Some(node) = self.nodes.get(name).map(|c| c.id) {
                self.update_pod(p, node, generation);
            }
        }
        // Pods gone from the snapshot, unbound in name order (slot reuse stays deterministic).
        let mut stale: Vec<(&str, &str, PodAddr)> = self
            .pods
            .iter()
            .filter(|(_, c)| c.seen != generation)
            .map(|(a, c)| (c.pod.namespace.as_str(), c.pod.name.as_str(), *a))
            .collect();
        stale.sort_unstable();
        let stale: Vec<PodAddr> = stale.into_iter().map(|(_, _, a)| a).collect();
        for a in stale {
            self.forget(a);
        }
        pending
    }

    /// Keeps (under its new address), rebinds or adds a pod seen behind a new pointer.
    fn update_pod(&mut self, p: &Arc<ClusterPod>, node: NodeId, generation: u64) {
        let previous = self
            .names
            .get(&p.namespace)
            .and_then(|names| names.get(&p.name))
            .copied();
        if let Some(old) = previous {
            match self.pods.remove(&old) {
                Some(c) if c.seen != generation && same_binding(&c.pod, p) => {
                    self.remember(p, c.id, generation);
                    return;
                }
                Some(c) => self.unbind(c.id),
                None => {}
            }
        }
        match self.state.place(Arc::new(p.spec.clone()), node) {
            Ok(id) => self.remember(p, id, generation),
            Err(_) => self.forget_name(&p.namespace, &p.name),
        }
    }

    fn remember(&mut self, p: &Arc<ClusterPod>, id: PodId, generation: u64) {
        let a = addr(p);
        if self.by_slot.len() <= id.index() {
            self.by_slot.resize(id.index() + 1, None);
        }
        if let Some(slot) = self.by_slot.get_mut(id.index()) {
            *slot = Some(Arc::clone(p));
        }
        self.pods.insert(
            a,
            CachedPod {
                pod: Arc::clone(p),
                id,
                seen: generation,
            },
        );
        match self.names.get_mut(&p.namespace) {
            Some(names) => {
                names.insert(p.name.clone(), a);
            }
            None => {
                let names = [(p.name.clone(), a)].into_iter().collect();
                self.names.insert(p.namespace.clone(), names);
            }
        }
    }

    /// Unbinds and drops the pod at `a`.
    fn forget(&mut self, a: PodAddr) {
        if let Some(c) = self.pods.remove(&a) {
            self.unbind(c.id);
            // Only if the name still points here (a newer object may have taken it over).
            let current = self
                .names
                .get(&c.pod.namespace)
                .and_then(|names| names.get(&c.pod.name));
            if current == Some(&a) {
                self.forget_name(&c.pod.namespace, &c.pod.name);
            }
        }
    }

    /// Takes the pod out of the state (if its node has not taken it already) and its slot.
    fn unbind(&mut self, id: PodId) {
        let _ = self.state.remove_pod(id);
        if let Some(slot) = self.by_slot.get_mut(id.index()) {
            *slot = None;
        }
    }

    fn forget_name(&mut self, namespace: &str, name: &str) {
        if let Some(names) = self.names.get_mut(namespace) {
            names.remove(name);
            if names.is_empty() {
                self.names.remove(namespace);
            }
        }
    }
}

/// Same pod on the same node with the same requirements.
fn same_binding(cached: &ClusterPod, now: &ClusterPod) -> bool {
    cached.node_name == now.node_name && cached.spec == now.spec
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::autoscaler::cluster_state;
    use crate::scale_down::pods_by_node;
    use crate::testing::{bound_pod, node, pending_pod, pod_with};
    use tidal_core::Timestamp;
    use tidal_core::resources::Resources;
    use tidal_core::scheduling::PodSpec;

    /// The same nodes with the same pods' summed requests as a state built from scratch.
    fn assert_same(cache: &mut ClusterCache, snapshot: &ClusterSnapshot, exclude: &BTreeSet<&str>) {
        let fresh = cluster_state(snapshot, exclude);
        let Synced {
            cluster: state,
            bound,
            pending,
            node_ids,
        } = cache.sync(snapshot, exclude);
        let ids: Vec<Option<NodeId>> = (snapshot.nodes.iter())
            .map(|n| {
                fresh
                    .node_id(&n.name)
                    .and_then(|id| state.node_id(&fresh.node(id)?.name))
            })
            .collect();
        assert_eq!(node_ids, ids, "node ids in snapshot order");
        let wanted: Vec<&Arc<ClusterPod>> =
            snapshot.pods.iter().filter(|p| is_pending(p)).collect();
        assert_eq!(pending.iter().collect::<Vec<_>>(), wanted, "pending pods");
        assert_eq!(state.node_count(), fresh.node_count());
        assert_eq!(state.pod_count(), fresh.pod_count());
        for (id, n) in fresh.nodes() {
            let other = state.node_id(&n.name).expect("node kept");
            assert_eq!(state.used(other), fresh.used(id), "{}", n.name);
            assert_eq!(state.node(other), Some(n));
        }
        // The cache's pods per node are the snapshot's unfinished pods on that node.
        let by_node = pods_by_node(snapshot, |_| true);
        let names = |pods: Vec<Arc<ClusterPod>>| {
            let mut names: Vec<String> = pods
                .iter()
                .filter(|p| !p.phase.is_terminal())
                .map(|p| p.name.clone())
                .collect();
            names.sort_unstable();
            names
        };
        for (id, n) in state.nodes() {
            let cached = names(bound.on_node(state, id, &n.name));
            let expected = names(by_node.on_node(state, id, &n.name));
            assert_eq!(cached, expected, "pods on {}", n.name);
        }
    }

    #[test]
    fn follows_added_changed_moved_and_removed_objects() {
        let mut snap = ClusterSnapshot {
            nodes: vec![
                node("a", "i-a", "z", 4000, 8),
                node("b", "i-b", "z", 4000, 8),
            ],
            pods: Arc::new(vec![
                bound_pod("p1", "a", 500, 1),
                bound_pod("p2", "b", 700, 1),
            ]),
            ..ClusterSnapshot::default()
        };
        // Waiting pods: one Unschedulable, one not yet judged by the scheduler, one deleted.
        let waiting = |name: &str| PodSpec::new(name, Resources::pod(100, 1 << 30));
        let since = Timestamp::from_secs(5);
        let mut deleted = pod_with(waiting("w3"), None, Some(since));
        deleted.deleting = true;
        Arc::make_mut(&mut snap.pods).extend([
            pending_pod(waiting("w1"), since),
            Arc::new(pod_with(waiting("w2"), None, None)),
            Arc::new(deleted),
        ]);
        let mut cache = ClusterCache::default();
        let none = BTreeSet::new();
        assert_same(&mut cache, &snap, &none);
        let pending = cache.sync(&snap, &none).pending;
        assert_eq!(
            pending.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["w1"]
        );
        // The waiting pods bound; a new pod, a moved pod, a changed request, a new node.
        Arc::make_mut(&mut snap.pods).truncate(2);
        Arc::make_mut(&mut snap.pods).push(bound_pod("w1", "b", 100, 1));
        Arc::make_mut(&mut snap.pods).push(bound_pod("p3", "a", 300, 1));
        Arc::make_mut(&mut snap.pods)[1] = bound_pod("p2", "a", 700, 1);
        Arc::make_mut(&mut snap.pods)[0] = bound_pod("p1", "a", 900, 1);
        snap.nodes.push(node("c", "i-c", "z", 2000, 4));
        assert_same(&mut cache, &snap, &none);
        // A node goes away with its pods; another is cordoned; one excluded.
        snap.nodes.retain(|n| n.name != "a");
        Arc::make_mut(&mut snap.nodes[0]).unschedulable = true;
        Arc::make_mut(&mut snap.pods).push(bound_pod("p4", "c", 100, 1));
        assert_same(&mut cache, &snap, &none);
        let exclude: BTreeSet<&str> = ["c"].into_iter().collect();
        assert_same(&mut cache, &snap, &exclude);
        // Finished pods leave.
        Arc::make_mut(&mut snap.nodes[0]).unschedulable = false;
        Arc::make_mut(&mut Arc::make_mut(&mut snap.pods)[4]).phase =
            crate::ports::PodPhase::Succeeded;
        assert_same(&mut cache, &snap, &none);
    }

    #[test]
    fn nodes_get_slots_in_snapshot_order() {
        // Slot order is the first-fit order of every simulation: it must not depend on hashing.
        let names: Vec<String> = (0..12).map(|i| format!("node-{i:02}")).collect();
        let snap = ClusterSnapshot {
            nodes: names
                .iter()
                .map(|n| node(n, &format!("i-{n}"), "z", 1000, 1))
                .collect(),
            ..ClusterSnapshot::default()
        };
        let mut cache = ClusterCache::default();
        let state = cache.sync(&snap, &BTreeSet::new()).cluster;
        let ids: Vec<_> = names.iter().map(|n| state.node_id(n).unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
