//! `tidal vpa`: an OOM-aware vertical pod autoscaler recommender, a drop-in for upstream's.
//!
//! It reads the same `autoscaling.k8s.io/v1` VerticalPodAutoscalers and writes the same status
//! fields and checkpoints, so upstream's updater and admission controller apply its
//! recommendations unchanged. The math is pure, in `tidal_core::vpa`; this crate observes
//! ([`ports`]: VPAs, targets, pods, usage), runs the loop ([`recommender`]) and writes.
//!
//! Adapters: [`kube`] (reflector, pod watcher, target resolution, writer) and [`usage`]
//! (Prometheus, metrics.k8s.io); `--dry-run` is [`dry_run::DryRun`] around the writer.

pub mod access;
pub mod checkpoints;
pub mod cli;
pub mod crd;
pub mod dry_run;
pub mod kube;
pub mod metrics;
pub mod policy;
pub mod ports;
pub mod recommender;
pub mod state;
pub mod status;
pub mod usage;

pub use recommender::{LoopConfig, LoopReport, Ports, Recommender};
