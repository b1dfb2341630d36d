//! The VPA recommender in the loop: workloads whose memory follows the cluster's size,
//! OOM-killed when their usage passes their limit, sized by `tidal_core::vpa` with Tidal's
//! OOM rule, and the same day again with upstream's OOM rule.
//!
//! The cluster's size comes from the run's own timeline (nodes, and pods: the workloads'
//! plus one pod per node of every DaemonSet), so the cluster the autoscaler built drives the
//! memory of the components that grow with it (a Prometheus, an ingress controller). Each
//! VPA'd workload is one replica (its VPA has `updatePolicy.minReplicas: 1`), stepped once a
//! minute of the recorded day:
//! - usage = base + per node × nodes + per pod × pods, with a ±3 % wave over the day;
//! - a running container whose usage passes its limit is OOM-killed and restarts after the
//!   kubelet's back-off (10 s doubling to 5 min); a minute with a kill or spent in back-off
//!   counts as crash-looping;
//! - the recommender takes one CPU and one memory sample a minute from a running container,
//!   records each kill as `crates/vpa` does (Tidal's rule) or as upstream does, and
//!   recommends every minute with the real `tidal_core::vpa::recommend`;
//! - the upstream updater recreates the pod with the target as its request (the admission
//!   controller keeps the limit ÷ request ratio) after a quick OOM (the container ran at
//!   most 10 minutes) when the target is higher, when the request is outside [lower bound,
//!   upper bound], or when the pod is older than 12 h and 10 % or more from the target.
//!
//! Before 00:00 each workload has `history` (default 8 days) of samples at the size of the
//! cluster at 00:00: the day starts from a settled recommendation, and growth beyond that
//! size is what the OOM rules are judged on.
//!
//! The VPA'd workloads are modelled beside the cluster: their requests do not take node
//! capacity in the scheduler, and they do not change the cluster's day.

mod model;
mod settings;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::Serialize;
use tidal_core::Timestamp;
use tidal_core::vpa::{Amounts, ContainerPolicy, ResourcePolicy};

use crate::record::Recording;
use crate::scenario::SIM_EPOCH;
pub use model::run;
pub use settings::{RawVpa, RawVpaMemory, RawVpaWorkload, SettingsError, VpaSettings};

/// A workload whose memory follows the cluster's size.
#[derive(Clone, Debug, PartialEq)]
pub struct VpaWorkload {
    /// Name in the report.
    pub name: String,
    /// Memory with an empty cluster, bytes.
    pub base_bytes: f64,
    /// Memory per node, bytes.
    pub bytes_per_node: f64,
    /// Memory per pod, bytes.
    pub bytes_per_pod: f64,
    /// CPU use, cores.
    pub cpu_cores: f64,
    /// Limit ÷ request (1 = Guaranteed QoS); kept by the admission controller.
    pub limit_ratio: f64,
    /// The VPA's `maxAllowed.memory`, bytes.
    pub max_allowed_bytes: Option<i64>,
}

impl VpaWorkload {
    /// Memory used at a cluster size, with a ±3 % wave over the day.
    pub fn usage_bytes(&self, size: ClusterSize, t: Timestamp) -> f64 {
        let day = (t.as_millis() - SIM_EPOCH.as_millis()) as f64 / 86_400_000.0;
        let wave = 1.0 + 0.03 * (day * std::f64::consts::TAU).sin();
        (self.base_bytes
            + self.bytes_per_node * f64::from(size.nodes)
            + self.bytes_per_pod * f64::from(size.pods))
            * wave
    }

    /// The VPA's resource policy: every container, memory capped at `maxAllowed`.
    pub fn policy(&self) -> ResourcePolicy {
        let mut policy = ContainerPolicy::new("*");
        policy.max_allowed = Amounts {
            cpu_millis: None,
            memory_bytes: self.max_allowed_bytes,
        };
        // One entry with non-negative amounts is always valid.
        ResourcePolicy::new(vec![policy]).unwrap_or_default()
    }
}

/// The cluster's size at an instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterSize {
    /// Registered nodes.
    pub nodes: u32,
    /// Pods.
    pub pods: u32,
}

/// The cluster's size over the day: (seconds since 00:00, size), in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SizeSeries(pub Vec<(f64, ClusterSize)>);

impl SizeSeries {
    /// Nodes and pods per tick of a run: the workloads' pods plus `daemonsets` pods per node.
    pub fn from_recording(recording: &Recording, daemonsets: u32) -> Self {
        Self(
            recording
                .timeline
                .iter()
                .filter(|row| row.t >= 0.0)
                .map(|row| {
                    let nodes: u32 = row.nodes_by_pool.iter().sum();
                    let workload_pods: u32 = row.replicas.iter().sum();
                    let pods = workload_pods.saturating_add(nodes.saturating_mul(daemonsets));
                    (row.t, ClusterSize { nodes, pods })
                })
                .collect(),
        )
    }

    /// The size at `secs` since 00:00: the last tick at or before it (the first tick's
    /// before it; empty without ticks).
    pub fn at(&self, secs: f64) -> ClusterSize {
        let i = self.0.partition_point(|(t, _)| *t <= secs);
        self.0
            .get(i.saturating_sub(1))
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    /// Seconds since 00:00 of the last tick.
    pub fn end(&self) -> f64 {
        self.0.last().map_or(0.0, |(t, _)| *t)
    }
}

/// Which OOM rule the recommender uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OomRuleKind {
    /// Tidal's escalating, remembered floor.
    Tidal,
    /// Upstream's ×1.2 of the request as an artificial peak.
    Upstream,
}

impl OomRuleKind {
    /// Name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            OomRuleKind::Tidal => "tidal",
            OomRuleKind::Upstream => "upstream",
        }
    }
}

/// One workload's day under one OOM rule (a row of `summary.json`'s `vpa`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VpaRow {
    /// The workload.
    pub workload: String,
    /// The OOM rule.
    pub oom_rule: OomRuleKind,
    /// OOM kills.
    pub oom_kills: u32,
    /// Minutes with a kill or in back-off.
    pub crash_loop_minutes: u32,
    /// Pods recreated by the updater.
    pub evictions: u32,
    /// Highest usage of the day, bytes.
    pub peak_usage_bytes: f64,
    /// Memory request at the end of the day, bytes.
    pub final_request_bytes: f64,
    /// Mean of request ÷ usage over the minutes the container ran.
    pub mean_request_over_usage: f64,
}

impl VpaRow {
    fn new(workload: &str, oom_rule: OomRuleKind) -> Self {
        Self {
            workload: workload.to_owned(),
            oom_rule,
            oom_kills: 0,
            crash_loop_minutes: 0,
            evictions: 0,
            peak_usage_bytes: 0.0,
            final_request_bytes: 0.0,
            mean_request_over_usage: 0.0,
        }
    }
}

/// One minute of a workload's day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpaPoint {
    /// Minutes since 00:00.
    pub minute: u32,
    /// Memory the workload needs, bytes.
    pub usage_bytes: f64,
    /// The pod's memory request, bytes.
    pub request_bytes: f64,
    /// The pod's memory limit, bytes.
    pub limit_bytes: f64,
    /// The recommender's memory target, bytes (0 without a recommendation).
    pub target_bytes: f64,
    /// The container was OOM-killed this minute.
    pub killed: bool,
}

/// One workload's day under one rule: the figures and the minutes.
#[derive(Clone, Debug, PartialEq)]
pub struct VpaRun {
    /// The figures.
    pub row: VpaRow,
    /// One point per minute.
    pub points: Vec<VpaPoint>,
}

/// Every workload under both rules, Tidal's run first.
pub fn compare(workloads: &[VpaWorkload], sizes: &SizeSeries, history: Duration) -> Vec<VpaRun> {
    workloads
        .iter()
        .flat_map(|w| {
            [OomRuleKind::Tidal, OomRuleKind::Upstream].map(|r| run(w, sizes, r, history))
        })
        .collect()
}

/// The VPA'd workloads of a scenario through the day a run recorded (nothing without any).
pub fn simulate(
    settings: Option<&VpaSettings>,
    recording: &Recording,
    daemonsets: usize,
) -> Vec<VpaRun> {
    let Some(settings) = settings else {
        return Vec::new();
    };
    let daemonsets = u32::try_from(daemonsets).unwrap_or(u32::MAX);
    let sizes = SizeSeries::from_recording(recording, daemonsets);
    compare(&settings.workloads, &sizes, settings.history)
}

/// The figures of every run, for the summary.
pub fn rows(runs: &[VpaRun]) -> Vec<VpaRow> {
    runs.iter().map(|r| r.row.clone()).collect()
}
