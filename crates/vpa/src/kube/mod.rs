//! The Kubernetes adapters: a reflector of VPAs, a pod watcher that keeps only selected pods,
//! target resolution, and the writer of statuses and checkpoints.

pub mod convert;
mod pods;
pub mod selector;
mod targets;
mod vpas;
mod writer;

pub use pods::{KubePods, PodTracker};
pub use targets::KubeTargets;
pub use vpas::KubeVpas;
pub use writer::{FIELD_MANAGER, KubeWriter};

#[cfg(test)]
mod tests;
