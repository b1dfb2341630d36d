//! `tidal quota-requester`: asks AWS for EC2 vCPU quota before node pools hit it (SPEC §6).
//!
//! A CronJob. Each run reads the cluster autoscaler's node-pool files (several clusters'
//! summed), computes what the pools may use at their max sizes per EC2 vCPU quota
//! ([`tidal_core::quota`], pure), compares it with the quota's value and request history
//! (Service Quotas), and files an increase request where the need exceeds the quota, at most
//! one open at a time and never again right after a refusal. It prints what it found and did,
//! and may push a summary to a Prometheus Pushgateway.
//!
//! [`requester`] is the run (observe → decide → act → report) over [`ports`]; [`aws`] holds the
//! adapters; [`cli`] wires them.

pub mod access;
pub mod aws;
pub mod cli;
pub mod pools;
pub mod ports;
pub mod pushgateway;
pub mod report;
pub mod requester;

pub use report::{Action, QuotaRow, Report};
pub use requester::{Requester, RunError, Settings};
