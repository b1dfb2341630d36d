//! `tidal cp-autoscaler`: resizes the control plane vertically (SPEC §4).
//!
//! One API server instance must read every object from etcd, so a bigger instance helps where
//! more small ones do not. This crate observes the control plane's load (Prometheus) and the
//! node count (Kubernetes), asks `tidal_core::control_plane::decide` for the size, and acts:
//! on EKS by moving between provisioned tiers ([`eks`]), on self-managed clusters by rolling
//! the control-plane Auto Scaling Group to the next instance type ([`self_managed`]).

pub mod access;
pub mod autoscaler;
pub mod aws_error;
pub mod cli;
pub mod controller;
pub mod eks;
pub mod kube;
pub mod metrics;
pub mod ports;
pub mod prometheus;
pub mod self_managed;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
