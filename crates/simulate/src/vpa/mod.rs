//! The VPA recommender in the loop: workloads whose memory follows the cluster's size,
//! OOM-killed when their usage passes their limit, sized by `tidal_core::vpa` with
//! Tidal's OOM rule, and the same day again with upstream's OOM rule.
//!
//! The cluster's size over the day comes from a finished simulation's timeline (nodes
//! and pods per tick), so the cluster the autoscaler built drives the memory of the
//! components that grow with it (Prometheus, an ingress controller, external-dns).
//! Each workload is one replica, stepped once a minute:
//! - usage = base + per node × nodes + per pod × pods, plus a small daily wave;
//! - a running container whose usage passes its limit is OOM-killed and restarts after
//!   the kubelet's back-off (10 s doubling to 5 min); a minute with a kill or spent in
//!   back-off counts as crash-looping;
//! - the recommender takes one CPU and one memory sample a minute from a running
//!   container, and recommends every minute;
//! - the updater recreates the pod with the target as request (limit keeps its ratio)
//!   when it was OOM-killed within 10 minutes of its start, or when its request is
//!   outside [lower bound, upper bound] and 10 % or more away from the target, as the
//!   upstream updater does.
//!
//! Before 00:00 each workload has 8 days of history at the day's starting size, so the
//! day starts from a settled (scaled-down) recommendation.

#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::vpa::{
    ContainerAggregate, ControlledValues, RecommenderConfig, ResourcePolicy, UpstreamOomRule,
    limit_for, recommend,
};

use crate::record::Recording;
use crate::scenario::SIM_EPOCH;

const MIB: f64 = 1024.0 * 1024.0;
const MINUTE: Duration = Duration::from_secs(60);
/// Upstream updater: a pod OOM-killed this soon after its start is evicted at once.
const QUICK_OOM: Duration = Duration::from_secs(600);
/// Upstream updater: requests closer than this to the target are left alone.
const UPDATE_THRESHOLD: f64 = 0.10;
const MAX_BACKOFF_SECS: u64 = 300;

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
}

/// The three components of the issue: a Prometheus (Guaranteed), an ingress
/// controller and external-dns (limit above request).
pub fn default_workloads() -> Vec<VpaWorkload> {
    vec![
        VpaWorkload {
            name: "prometheus".into(),
            base_bytes: 600.0 * MIB,
            bytes_per_node: 60.0 * MIB,
            bytes_per_pod: 3.0 * MIB,
            cpu_cores: 0.5,
            limit_ratio: 1.0,
        },
        VpaWorkload {
            name: "ingress-nginx".into(),
            base_bytes: 150.0 * MIB,
            bytes_per_node: 8.0 * MIB,
            bytes_per_pod: 1.5 * MIB,
            cpu_cores: 0.2,
            limit_ratio: 1.5,
        },
        VpaWorkload {
            name: "external-dns".into(),
            base_bytes: 40.0 * MIB,
            bytes_per_node: 0.5 * MIB,
            bytes_per_pod: 0.8 * MIB,
            cpu_cores: 0.02,
            limit_ratio: 2.0,
        },
    ]
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
    /// Nodes and pods per tick of a finished simulation.
    pub fn from_recording(recording: &Recording) -> Self {
        Self(
            recording
                .timeline
                .iter()
                .filter(|row| row.t >= 0.0)
                .map(|row| {
                    let size = ClusterSize {
                        nodes: row.nodes_by_pool.iter().sum(),
                        pods: row.replicas.iter().sum(),
                    };
                    (row.t, size)
                })
                .collect(),
        )
    }

    /// The size at `secs` since 00:00: the last tick at or before it (empty before the
    /// first tick).
    pub fn at(&self, secs: f64) -> ClusterSize {
        let i = self.0.partition_point(|(t, _)| *t <= secs);
        i.checked_sub(1)
            .and_then(|i| self.0.get(i))
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    /// Seconds since 00:00 of the last tick.
    pub fn end(&self) -> f64 {
        self.0.last().map_or(0.0, |(t, _)| *t)
    }
}

/// Which OOM rule the recommender uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// One workload's day under one OOM rule.
#[derive(Clone, Debug, PartialEq)]
pub struct VpaRow {
    /// The workload.
    pub workload: String,
    /// The OOM rule.
    pub rule: OomRuleKind,
    /// OOM kills.
    pub kills: u32,
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

/// The container of one run.
struct Pod {
    request: f64,
    limit: f64,
    started: Timestamp,
    restarts: u32,
    backoff_until: Option<Timestamp>,
    last_kill: Option<Timestamp>,
}

impl Pod {
    fn new(request: f64, w: &VpaWorkload, now: Timestamp) -> Self {
        let limit = limit_for(
            ControlledValues::RequestsAndLimits,
            Some(1000),
            Some((1000.0 * w.limit_ratio) as i64),
            request as i64,
        )
        .map_or(request, |l| l as f64);
        Self {
            request,
            limit,
            started: now,
            restarts: 0,
            backoff_until: None,
            last_kill: None,
        }
    }

    /// The upstream updater's choice: evict (to recreate with `target`) after a quick OOM
    /// or when the request is outside the bounds, and only 10 % or more from the target.
    fn updater_evicts(&self, target: f64, lower: f64, upper: f64) -> bool {
        let quick_oom = self
            .last_kill
            .is_some_and(|k| k.since(self.started) <= QUICK_OOM);
        let out_of_bounds = self.request < lower || self.request > upper;
        let far = (self.request - target).abs() >= UPDATE_THRESHOLD * target;
        target > 0.0 && far && (quick_oom || out_of_bounds)
    }
}

/// The kubelet kills the container: the rule records it, the restart backs off.
fn oom_kill(pod: &mut Pod, state: &mut ContainerAggregate, rule: OomRuleKind, now: Timestamp) {
    match rule {
        // Tidal is told what the container used: its limit.
        OomRuleKind::Tidal => {
            state.record_oom(now, pod.limit, pod.request);
        }
        // Upstream's observer passes the request.
        OomRuleKind::Upstream => {
            let _ = UpstreamOomRule::default().record(state, now, pod.request);
        }
    }
    let backoff = (10u64 << pod.restarts.min(5)).min(MAX_BACKOFF_SECS);
    pod.backoff_until = Some(now + Duration::from_secs(backoff));
    pod.restarts += 1;
    pod.last_kill = Some(now);
}

/// Runs one workload through the day under one rule.
pub fn run(w: &VpaWorkload, sizes: &SizeSeries, rule: OomRuleKind) -> VpaRow {
    let policy = ResourcePolicy::default();
    let config = RecommenderConfig::default();
    let mut state = warmed_up(w, sizes);
    let target = |s: &ContainerAggregate, now| {
        let r = recommend([("main", s)], &policy, &config, now);
        let c = r.containers.first().map(|c| {
            (
                c.target.memory_bytes.unwrap_or(0) as f64,
                c.lower_bound.memory_bytes.unwrap_or(0) as f64,
                c.upper_bound.memory_bytes.unwrap_or(i64::MAX) as f64,
            )
        });
        c.unwrap_or((0.0, 0.0, f64::MAX))
    };
    let mut pod = Pod::new(target(&state, SIM_EPOCH).0, w, SIM_EPOCH);
    let mut row = VpaRow {
        workload: w.name.clone(),
        rule,
        kills: 0,
        crash_loop_minutes: 0,
        evictions: 0,
        peak_usage_bytes: 0.0,
        final_request_bytes: 0.0,
        mean_request_over_usage: 0.0,
    };
    let (mut ratio_sum, mut running_minutes) = (0.0, 0u32);
    let minutes = (sizes.end() / 60.0).floor() as u64;
    for m in 0..=minutes {
        let now = SIM_EPOCH + MINUTE * m as u32;
        let usage = w.usage_bytes(sizes.at(m as f64 * 60.0), now);
        row.peak_usage_bytes = row.peak_usage_bytes.max(usage);
        if pod.backoff_until.is_some_and(|until| until > now) {
            row.crash_loop_minutes += 1;
        } else if usage > pod.limit {
            row.kills += 1;
            row.crash_loop_minutes += 1;
            oom_kill(&mut pod, &mut state, rule, now);
        } else {
            state.add_cpu_sample(now, w.cpu_cores);
            state.add_memory_sample(now, usage);
            ratio_sum += pod.request / usage.max(1.0);
            running_minutes += 1;
        }
        let (t, lower, upper) = target(&state, now);
        if pod.updater_evicts(t, lower, upper) {
            pod = Pod::new(t, w, now);
            row.evictions += 1;
        }
    }
    row.final_request_bytes = pod.request;
    row.mean_request_over_usage = ratio_sum / f64::from(running_minutes.max(1));
    row
}

/// 8 days of one-minute samples at the day's starting size.
fn warmed_up(w: &VpaWorkload, sizes: &SizeSeries) -> ContainerAggregate {
    let start = SIM_EPOCH - Duration::from_secs(8 * 86_400);
    let mut state = ContainerAggregate::new(start);
    let size = sizes.at(0.0);
    for m in 0..(8 * 1440u32) {
        let t = start + MINUTE * m;
        state.add_cpu_sample(t, w.cpu_cores);
        state.add_memory_sample(t, w.usage_bytes(size, t));
    }
    state
}

/// Every workload under both rules, Tidal's row first.
pub fn compare(workloads: &[VpaWorkload], sizes: &SizeSeries) -> Vec<VpaRow> {
    workloads
        .iter()
        .flat_map(|w| [OomRuleKind::Tidal, OomRuleKind::Upstream].map(|r| run(w, sizes, r)))
        .collect()
}

/// The rows as CSV (`vpa.csv`).
pub fn to_csv(rows: &[VpaRow]) -> String {
    let mut out = String::from(
        "workload,oom_rule,oom_kills,crash_loop_minutes,evictions,peak_usage_mib,final_request_mib,mean_request_over_usage\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{:.0},{:.0},{:.3}",
            r.workload,
            r.rule.as_str(),
            r.kills,
            r.crash_loop_minutes,
            r.evictions,
            r.peak_usage_bytes / MIB,
            r.final_request_bytes / MIB,
            r.mean_request_over_usage
        );
    }
    out
}
