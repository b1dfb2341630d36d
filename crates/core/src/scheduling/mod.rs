//! Scheduling simulation: does a pod fit a node, and how do pending pods pack onto existing
//! capacity and new template nodes.
//!
//! - [`model`]: pods, nodes, taints, tolerations, selectors, affinity.
//! - [`predicates`]: the fit rules ([`fits`], [`fits_with_pods`]) and why a pod does not fit ([`Unfit`]).
//! - [`ClusterState`]: nodes with their pods and topology indexes; `find_fit`, `reschedule`.
//! - [`pack`] / [`ScaleUpSimulation`]: first-fit decreasing for scale-up.
//!
//! Scope: required anti-affinity is on `kubernetes.io/hostname` and spread on
//! `topology.kubernetes.io/zone`, the two topologies the autoscaler simulates.

pub mod cluster_state;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod model;
pub mod packing;
mod placement;
pub mod predicates;
mod topology;

pub use cluster_state::{ClusterError, ClusterState, NodeId, PodId};
pub use model::{
    HostPort, LABEL_ARCH, LABEL_HOSTNAME, LABEL_INSTANCE_TYPE, LABEL_OS, LABEL_REGION, LABEL_ZONE,
    LabelSelector, LabelSelectorOperator, LabelSelectorRequirement, Labels, NodeSelectorOperator,
    NodeSelectorRequirement, NodeSelectorTerm, NodeSpec, PodSpec, Protocol, Taint, TaintEffect,
    Toleration, TolerationOperator, TopologySpreadConstraint, WhenUnsatisfiable,
};
pub use packing::{PackResult, ScaleUpSimulation, pack};
pub use predicates::{Unfit, fits, fits_with_pods};
