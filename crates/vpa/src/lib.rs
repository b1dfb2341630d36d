//! `tidal vpa`: an OOM-aware vertical pod autoscaler recommender, a drop-in for upstream's.
//!
//! It reads the same `autoscaling.k8s.io/v1` VerticalPodAutoscalers and writes the same status
//! fields and checkpoints, so upstream's updater and admission controller apply its
//! recommendations unchanged. This crate observes ([`ports`]: VPAs, targets, pods, usage) and
//! writes; the math is pure, in `tidal_core::vpa`.
//!
//! Adapters: [`kube`] (reflector, pod watcher, target resolution, writer) and [`usage`]
//! (Prometheus, metrics.k8s.io); `--dry-run` is [`dry_run::DryRun`] around the writer.

pub mod crd;
pub mod dry_run;
pub mod kube;
pub mod metrics;
pub mod ports;
pub mod usage;
