//! Test support: starts `moto_server` and Prometheus on loopback ephemeral ports for one test and
//! stops them when the handle drops, a tiny exporter that Prometheus can scrape, and an in-memory
//! stand-in for the Kubernetes API ([`KubeApi`]) to run whole binaries against, and (feature
//! `aws-fixtures`) tagged Auto Scaling Groups on moto ([`asg`]), a stand-in for AWS Service
//! Quotas ([`ServiceQuotas`], which moto lacks for EC2) and a recording stand-in for a Prometheus
//! Pushgateway ([`Pushgateway`]), and a stand-in for the EKS control-plane tier calls moto lacks
//! ([`EksStandIn`]).
//!
//! Every server binds 127.0.0.1 only: test traffic never leaves the machine.

#[cfg(feature = "aws-fixtures")]
pub mod asg;
mod eks;
mod error;
mod exporter;
mod kube_api;
mod locate;
mod moto;
mod port;
mod process;
mod prometheus;
mod pushgateway;
mod serve;
mod service_quotas;
mod tools;

pub use eks::EksStandIn;
pub use error::HarnessError;
pub use exporter::TestExporter;
pub use kube_api::{AccessRule, KubeApi, KubeApiError, request_access};
pub use moto::MotoServer;
pub use port::free_port;
pub use prometheus::{PromSample, Prometheus};
pub use pushgateway::{Push, Pushgateway};
pub use service_quotas::{Injected, RequestedQuota, ServiceQuotas};
pub use tools::{kubectl, promtool};
