//! Adapters: implementations of [`crate::ports`] over real systems.

pub mod kube_cluster;
