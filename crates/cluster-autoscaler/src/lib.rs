//! Node-pool-aware cluster autoscaler on AWS Auto Scaling Groups.
//!
//! The decision side talks to the world only through [`ports`]; the AWS and Kubernetes
//! adapters implement them and are cargo features (`aws`, `kube`, and `cli` for the
//! subcommand; all on by default), so the simulator and benchmarks build this crate without
//! kube-rs or the AWS SDK.
//!
//! | module | what it holds |
//! |---|---|
//! | [`ports`] | the traits the loop acts through, their value types and error enums |
//! | [`node_pool`] | the node-pool file: [`NodePools`], [`NodePool`], validation |
//! | [`config`] | the autoscaler's settings ([`AutoscalerConfig`]) |
//! | [`groups`] | the cloud's groups joined with their pools ([`groups::GroupView`]) |
//! | [`templates`] | template nodes per group (instance types, node-template tags) |
//! | [`state`] | what the autoscaler remembers across loops |
//! | [`scale_up`] | scale-up: plan, expander choice, reasons, action |
//! | [`scale_down`] | scale-down: unneeded nodes, removals, blockers, action |
//! | [`autoscaler`] | the loop: observe → decide → act → report ([`Autoscaler::run_once`]) |
//! | [`outcome`] | what a loop did, as values ([`LoopOutcome`]); typed operations for errors |
//! | [`status`] | the status report (`cluster-autoscaler-status` ConfigMap) |
//! | [`controller`] | the control loop around it: leadership, readiness, metrics; [`controller::DryRun`] |
//! | [`metrics`] | `tidal_cluster_autoscaler_*` metrics |
//! | `aws` | adapter: [`ports::CloudProvider`] on Auto Scaling and EC2 (feature `aws`) |
//! | `kube` | adapter: [`ports::ClusterSource`], [`ports::ClusterActions`] on kube-rs (feature `kube`) |
//! | `cli` | `tidal cluster-autoscaler`: flags, wiring, run (feature `cli`) |
//! | `testing` | in-memory fake ports for tests and benches (feature `testing`) |

pub mod access;
mod act;
pub mod autoscaler;
pub mod config;
pub mod groups;
pub mod node_pool;
pub mod outcome;
pub mod ports;
pub mod scale_down;
pub mod scale_up;
pub mod state;
pub mod status;
pub mod templates;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use autoscaler::{Autoscaler, LoopError, LoopPlan};
pub use config::{AutoscalerConfig, ExpanderKind};
pub use node_pool::{NodePool, NodePoolError, NodePools};
pub use outcome::LoopOutcome;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod controller;
#[cfg(feature = "kube")]
pub mod kube;
pub mod metrics;
