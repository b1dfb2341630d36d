//! Node-pool-aware cluster autoscaler on AWS Auto Scaling Groups.
//!
//! The decision code ("brain": `autoscaler`, `scale_up`, `scale_down`, `state`, `templates`)
//! talks to the world only through [`ports`]; the AWS and Kubernetes adapters implement them.

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

pub mod aws;
pub mod cli;
pub mod controller;
pub mod kube;
pub mod metrics;
