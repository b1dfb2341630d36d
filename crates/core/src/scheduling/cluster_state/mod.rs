//! The cluster as the simulations see it: nodes, their bound pods, what is used, and the
//! topology indexes that keep anti-affinity and spread checks off the all-pods path.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::{HostPort, NodeSpec, PodSpec, WhenUnsatisfiable};
use super::predicates::{Unfit, fits_with_pods, node_affinity_matches};
use super::topology::{AntiAffinityTerms, LabelIndex, Zones};
use crate::resources::Resources;

/// A node's handle in a [`ClusterState`]; valid until the node is removed (slots are reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The slot index (stable while the node exists).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A bound pod's handle in a [`ClusterState`]; valid until the pod is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodId(pub(crate) u32);

impl PodId {
    /// The slot index (stable while the pod is bound; slots are reused).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Errors changing a [`ClusterState`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClusterError {
    /// A node with this name is already in the cluster.
    #[error("node {0:?} already exists in the cluster state")]
    DuplicateNode(String),
    /// The node id does not name a node (removed or never added).
    #[error("unknown node id {0:?}")]
    UnknownNode(NodeId),
    /// The pod id does not name a bound pod.
    #[error("unknown pod id {0:?}")]
    UnknownPod(PodId),
    /// More than `u32::MAX` nodes or pods.
    #[error("cluster state is full")]
    Full,
}

#[derive(Clone, Debug)]
pub(crate) struct NodeEntry {
    pub(crate) spec: Arc<NodeSpec>,
    pub(crate) zone: Option<u32>,
    pub(crate) used: Resources,
    pub(crate) pods: Vec<u32>,
    pub(crate) ports: Vec<HostPort>,
}

#[derive(Clone, Debug)]
pub(crate) struct BoundPod {
    pub(crate) spec: Arc<PodSpec>,
    pub(crate) node: u32,
}

/// Nodes, their bound pods and free capacity, with indexes by zone, label and anti-affinity term.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    pub(crate) nodes: Vec<Option<NodeEntry>>,
    free_node_slots: Vec<u32>,
    by_name: HashMap<String, u32>,
    pub(crate) pods: Vec<Option<BoundPod>>,
    free_pod_slots: Vec<u32>,
    pub(crate) zones: Zones,
    pub(crate) labels: LabelIndex,
    pub(crate) terms: AntiAffinityTerms,
    live_nodes: usize,
    live_pods: usize,
}

fn take_slot<T>(
    slots: &mut Vec<Option<T>>,
    free: &mut Vec<u32>,
    value: T,
) -> Result<u32, ClusterError> {
    if let Some(i) = free.pop() {
        slots[i as usize] = Some(value);
        return Ok(i);
    }
    let i = u32::try_from(slots.len()).map_err(|_| ClusterError::Full)?;
    slots.push(Some(value));
    Ok(i)
}

impl ClusterState {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node (no pods yet). Node names must be unique.
    pub fn add_node(&mut self, node: NodeSpec) -> Result<NodeId, ClusterError> {
        if self.by_name.contains_key(&node.name) {
            return Err(ClusterError::DuplicateNode(node.name));
        }
        let zone = node.zone().map(|z| self.zones.intern(z));
        let name = node.name.clone();
        let entry = NodeEntry {
            spec: Arc::new(node),
            zone,
            used: Resources::zero(),
            pods: Vec::new(),
            ports: Vec::new(),
        };
        let slot = take_slot(&mut self.nodes, &mut self.free_node_slots, entry)?;
        if let Some(z) = zone {
            self.zones.add_node(z, slot);
        }
        self.by_name.insert(name, slot);
        self.live_nodes += 1;
        Ok(NodeId(slot))
    }

    /// Removes a node and its pods; returns the node and the pods that were bound to it.
    pub fn remove_node(
        &mut self,
        id: NodeId,
    ) -> Result<(NodeSpec, Vec<Arc<PodSpec>>), ClusterError> {
        let pod_slots = self.entry(id)?.pods.clone();
        let mut pods = Vec::with_capacity(pod_slots.len());
        for slot in pod_slots {
            pods.push(self.remove_pod(PodId(slot))?);
        }
        let entry = self
            .nodes
            .get_mut(id.index())
            .and_then(Option::take)
            .ok_or(ClusterError::UnknownNode(id))?;
        if let Some(z) = entry.zone {
            self.zones.remove_node(z, id.0);
        }
        self.by_name.remove(&entry.spec.name);
        self.free_node_slots.push(id.0);
        self.live_nodes -= 1;
        let spec = Arc::try_unwrap(entry.spec).unwrap_or_else(|shared| (*shared).clone());
        Ok((spec, pods))
    }

    /// Binds a pod to a node as it is (no fit check: bound pods are facts, even over-committed).
    pub fn place(
        &mut self,
        pod: impl Into<Arc<PodSpec>>,
        node: NodeId,
    ) -> Result<PodId, ClusterError> {
        let pod: Arc<PodSpec> = pod.into();
        self.entry(node)?;
        let slot = take_slot(
            &mut self.pods,
            &mut self.free_pod_slots,
            BoundPod {
                spec: Arc::clone(&pod),
                node: node.0,
            },
        )?;
        let entry = self.entry_mut(node)?;
        entry.used.add_assign_saturating(&pod.requests);
        entry.pods.push(slot);
        entry.ports.extend_from_slice(&pod.host_ports);
        self.labels.insert(slot, &pod);
        self.terms.add(&pod, node.0);
        self.live_pods += 1;
        Ok(PodId(slot))
    }

    /// Unbinds a pod; returns it.
    pub fn remove_pod(&mut self, id: PodId) -> Result<Arc<PodSpec>, ClusterError> {
        let bound = self
            .pods
            .get_mut(id.0 as usize)
            .and_then(Option::take)
            .ok_or(ClusterError::UnknownPod(id))?;
        self.free_pod_slots.push(id.0);
        self.live_pods -= 1;
        self.labels.remove(id.0, &bound.spec);
        self.terms.remove(&bound.spec, bound.node);
        if let Some(Some(entry)) = self.nodes.get_mut(bound.node as usize) {
            entry.used.sub_assign_saturating(&bound.spec.requests);
            entry.pods.retain(|p| *p != id.0);
            for port in &bound.spec.host_ports {
                if let Some(i) = entry.ports.iter().position(|p| p == port) {
                    entry.ports.swap_remove(i);
                }
            }
        }
        Ok(bound.spec)
    }

    fn entry(&self, id: NodeId) -> Result<&NodeEntry, ClusterError> {
        self.nodes
            .get(id.index())
            .and_then(Option::as_ref)
            .ok_or(ClusterError::UnknownNode(id))
    }

    fn entry_mut(&mut self, id: NodeId) -> Result<&mut NodeEntry, ClusterError> {
        self.nodes
            .get_mut(id.index())
            .and_then(Option::as_mut)
            .ok_or(ClusterError::UnknownNode(id))
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> Option<&NodeSpec> {
        self.entry(id).ok().map(|e| e.spec.as_ref())
    }

    /// The id of the node named `name`.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).map(|slot| NodeId(*slot))
    }

    /// Summed requests of the node's pods.
    pub fn used(&self, id: NodeId) -> Option<&Resources> {
        self.entry(id).ok().map(|e| &e.used)
    }

    /// Allocatable minus used (negative where over-committed).
    pub fn free(&self, id: NodeId) -> Option<Resources> {
        self.entry(id)
            .ok()
            .map(|e| e.spec.allocatable.saturating_sub(&e.used))
    }

    /// The pods bound to a node, with their ids.
    pub fn pods_on(&self, id: NodeId) -> impl Iterator<Item = (PodId, &Arc<PodSpec>)> {
        let slots = self.entry(id).map(|e| e.pods.as_slice()).unwrap_or(&[]);
        slots.iter().filter_map(|slot| {
            let bound = self.pods.get(*slot as usize)?.as_ref()?;
            Some((PodId(*slot), &bound.spec))
        })
    }

    /// A bound pod and the node it is on.
    pub fn pod(&self, id: PodId) -> Option<(&Arc<PodSpec>, NodeId)> {
        let bound = self.pods.get(id.0 as usize)?.as_ref()?;
        Some((&bound.spec, NodeId(bound.node)))
    }

    /// All nodes in slot order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &NodeSpec)> {
        self.nodes.iter().enumerate().filter_map(|(i, e)| {
            let e = e.as_ref()?;
            Some((NodeId(u32::try_from(i).ok()?), e.spec.as_ref()))
        })
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.live_nodes
    }

    /// Number of bound pods.
    pub fn pod_count(&self) -> usize {
        self.live_pods
    }

    /// Zones that currently have nodes.
    pub fn zones(&self) -> Vec<String> {
        self.zones.populated().map(str::to_owned).collect()
    }

    /// The reference check of every predicate for `pod` on `node`, spread included.
    /// Scans the node's pods and the pods of the selectors' namespaces: for tests, tools and
    /// one-off questions; packing and [`Self::find_fit`] use the indexed path.
    pub fn check_fit(&self, pod: &PodSpec, node: NodeId) -> Result<(), Unfit> {
        self.check_fit_local(pod, node)?;
        let entry = self.entry(node).map_err(|_| Unfit::NoNode)?;
        self.check_spread(pod, entry)
    }

    /// Every predicate except zone spread, against the node and its pods
    /// (O(pods on the node)): [`fits_with_pods`] for a node of this cluster.
    pub fn check_fit_local(&self, pod: &PodSpec, node: NodeId) -> Result<(), Unfit> {
        let entry = self.entry(node).map_err(|_| Unfit::NoNode)?;
        let node_pods: Vec<&PodSpec> = self.pods_on(node).map(|(_, p)| p.as_ref()).collect();
        fits_with_pods(pod, &entry.spec, &entry.used, &node_pods)
    }

    fn check_spread(&self, pod: &PodSpec, entry: &NodeEntry) -> Result<(), Unfit> {
        for c in &pod.topology_spread {
            if c.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule {
                continue;
            }
            let unfit = || Unfit::TopologySpread {
                zone: entry.spec.zone().unwrap_or_default().to_owned(),
                max_skew: c.max_skew,
            };
            let zone = entry.zone.ok_or_else(unfit)?;
            // Domains are the zones with a node the pod's node selector/affinity accepts.
            let mut counts: HashMap<u32, i64> = HashMap::new();
            for (_, n) in self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, e)| Some((i, e.as_ref()?)))
            {
                if let Some(z) = n.zone
                    && node_affinity_matches(pod, &n.spec)
                {
                    counts.entry(z).or_insert(0);
                }
            }
            for bound in self.pods.iter().flatten() {
                let zone_of = self
                    .nodes
                    .get(bound.node as usize)
                    .and_then(|e| e.as_ref()?.zone);
                if let Some(z) = zone_of
                    && bound.spec.namespace == pod.namespace
                    && c.selector.matches(&bound.spec.labels)
                    && let Some(n) = counts.get_mut(&z)
                {
                    *n += 1;
                }
            }
            let min = counts.values().copied().min().unwrap_or(0);
            let here = counts.get(&zone).copied().unwrap_or(0);
            let self_match = i64::from(c.selector.matches(&pod.labels));
            if here + self_match - min > i64::from(c.max_skew) {
                return Err(unfit());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
