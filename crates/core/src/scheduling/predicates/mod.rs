//! Scheduling predicates: does a pod fit a node?
//!
//! These are the reference definitions. [`fits`] checks everything a single node decides
//! (resources, selectors, affinity, taints, volume zone); [`fits_with_pods`] adds what the
//! node's other pods decide (host ports, anti-affinity). Zone spread needs the whole cluster
//! and lives in [`super::ClusterState::check_fit`]. Packing uses indexed versions of the same
//! rules; the property tests hold them to these.

use std::borrow::Borrow;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::{HostPort, NodeSpec, PodSpec, Taint, TaintEffect};
use crate::resources::{ResourceName, Resources};

/// Why a pod does not fit a node (the first failing predicate).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Error, Serialize, Deserialize)]
pub enum Unfit {
    /// Not enough of this resource left on the node.
    #[error("insufficient {0}")]
    Resource(ResourceName),
    /// A `nodeSelector` pair is not a node label.
    #[error("node selector {key} does not match")]
    NodeSelector {
        /// The selector key that failed.
        key: String,
    },
    /// No required node affinity term matches the node.
    #[error("required node affinity does not match")]
    NodeAffinity,
    /// The node has a taint the pod does not tolerate.
    #[error("untolerated taint {0}")]
    Taint(Taint),
    /// The pod's bound volume is in another zone.
    #[error("volume in zone {volume_zone} but node in zone {node_zone}")]
    VolumeZone {
        /// Zone of the volume.
        volume_zone: String,
        /// Zone of the node.
        node_zone: String,
    },
    /// A host port is already taken on the node.
    #[error("host port {}/{:?} in use", .0.port, .0.protocol)]
    HostPort(HostPort),
    /// A pod on the node matches this pod's required anti-affinity.
    #[error("pod anti-affinity: a matching pod runs on the node")]
    AntiAffinity,
    /// A pod on the node has required anti-affinity matching this pod.
    #[error("anti-affinity of a pod on the node forbids this pod")]
    ExistingAntiAffinity,
    /// Placing the pod would exceed a zone spread constraint's `maxSkew`
    /// (or the node has no zone label).
    #[error("topology spread over zones: maxSkew {max_skew} exceeded in zone {zone}")]
    TopologySpread {
        /// Zone of the node ("" when the node has none).
        zone: String,
        /// The constraint's maxSkew.
        max_skew: u32,
    },
    /// Packing: the pod fits a template node but the group may not add more nodes.
    #[error("node group at its maximum size")]
    NodeLimit,
    /// No node in the cluster (other than an excluded one) fits.
    #[error("no node fits")]
    NoNode,
}

impl Unfit {
    /// A short, bounded label for metrics (`resource`, `taint`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            Unfit::Resource(_) => "resource",
            Unfit::NodeSelector { .. } => "node_selector",
            Unfit::NodeAffinity => "node_affinity",
            Unfit::Taint(_) => "taint",
            Unfit::VolumeZone { .. } => "volume_zone",
            Unfit::HostPort(_) => "host_port",
            Unfit::AntiAffinity | Unfit::ExistingAntiAffinity => "anti_affinity",
            Unfit::TopologySpread { .. } => "topology_spread",
            Unfit::NodeLimit => "node_limit",
            Unfit::NoNode => "no_node",
        }
    }
}

/// Node-local predicates: node selector, required node affinity, taints, volume zone and
/// resources (`used` is what the node's pods already request). No inter-pod rules.
pub fn fits(pod: &PodSpec, node: &NodeSpec, used: &Resources) -> Result<(), Unfit> {
    static_fit(pod, node)?;
    match used.first_shortage_with(&pod.requests, &node.allocatable) {
        Some(name) => Err(Unfit::Resource(name)),
        None => Ok(()),
    }
}

/// [`fits`] plus host ports and hostname anti-affinity (both directions) against the pods
/// already on the node. `node_pods` are the node's pods (`used` is their summed requests).
pub fn fits_with_pods<P: Borrow<PodSpec>>(
    pod: &PodSpec,
    node: &NodeSpec,
    used: &Resources,
    node_pods: &[P],
) -> Result<(), Unfit> {
    fits(pod, node, used)?;
    for other in node_pods {
        let other = other.borrow();
        if let Some(port) = port_conflict(&pod.host_ports, &other.host_ports) {
            return Err(Unfit::HostPort(port));
        }
        if other.namespace == pod.namespace {
            if pod.anti_affinity.iter().any(|s| s.matches(&other.labels)) {
                return Err(Unfit::AntiAffinity);
            }
            if other.anti_affinity.iter().any(|s| s.matches(&pod.labels)) {
                return Err(Unfit::ExistingAntiAffinity);
            }
        }
    }
    Ok(())
}

/// The predicates that depend only on the pod and the node, never on what runs there.
pub fn static_fit(pod: &PodSpec, node: &NodeSpec) -> Result<(), Unfit> {
    for (key, value) in &pod.node_selector {
        if node.labels.get(key) != Some(value) {
            return Err(Unfit::NodeSelector { key: key.clone() });
        }
    }
    if !node_affinity_matches(pod, node) {
        return Err(Unfit::NodeAffinity);
    }
    if let Some(taint) = untolerated_taint(pod, &node.taints) {
        return Err(Unfit::Taint(taint.clone()));
    }
    volume_zone_fit(pod, node)
}

/// [`static_fit`] as a yes/no, without building a reason (the packing hot path).
pub fn static_fit_ok(pod: &PodSpec, node: &NodeSpec) -> bool {
    node_affinity_matches(pod, node)
        && untolerated_taint(pod, &node.taints).is_none()
        && match (&pod.volume_zone, node.zone()) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        }
}

/// Does the node satisfy the pod's nodeSelector and required node affinity (terms ORed)?
pub fn node_affinity_matches(pod: &PodSpec, node: &NodeSpec) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
        && (pod.required_node_affinity.is_empty()
            || pod
                .required_node_affinity
                .iter()
                .any(|t| t.matches(&node.labels)))
}

/// The first `NoSchedule`/`NoExecute` taint none of the pod's tolerations tolerate.
/// `PreferNoSchedule` never blocks a fit.
pub fn untolerated_taint<'a>(pod: &PodSpec, taints: &'a [Taint]) -> Option<&'a Taint> {
    taints.iter().find(|taint| {
        taint.effect != TaintEffect::PreferNoSchedule
            && !pod.tolerations.iter().any(|t| t.tolerates(taint))
    })
}

/// A pod with a zonal volume fits only nodes in that zone; a node without a zone label is not
/// constrained (as the Kubernetes VolumeZone filter does).
pub fn volume_zone_fit(pod: &PodSpec, node: &NodeSpec) -> Result<(), Unfit> {
    match (&pod.volume_zone, node.zone()) {
        (Some(want), Some(have)) if want != have => Err(Unfit::VolumeZone {
            volume_zone: want.clone(),
            node_zone: have.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// The first of `wanted` that conflicts with one of `taken`.
pub fn port_conflict(wanted: &[HostPort], taken: &[HostPort]) -> Option<HostPort> {
    wanted
        .iter()
        .find(|w| taken.iter().any(|t| w.conflicts_with(t)))
        .copied()
}

#[cfg(test)]
mod tests;
