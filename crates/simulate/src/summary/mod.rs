//! `summary.json`: the figures a platform team compares between scenarios.
//!
//! Definitions (recorded period only, i.e. from 00:00 for `duration`; warm-up excluded):
//! - `node_hours`: instance-hours billed, from launch to termination (booting time included,
//!   as AWS bills it).
//! - `node_hours_lower_bound`: Σ over ticks of tick length × the fractional number of nodes the
//!   workload requests need at that instant: max over CPU and memory of requested ÷ usable
//!   per node, where usable = the largest allocatable of any pool's template node minus the
//!   daemonset requests every node carries. It ignores selectors, taints and packing, so no
//!   real run can go below it; the gap to `node_hours` is the price of boot time, headroom,
//!   scale-down delay and fragmentation.
//! - `cost`: USD, from the scenario's prices (`prices.rs`: approximate list prices of its
//!   region or the scenario's `prices:` overrides, spot at a fixed discount).
//! - `pending_pod_seconds_*`: per workload pod bound in the recorded period or still pending at
//!   its end, whenever it was created (a pod the warm-up left pending counts in full), the time
//!   from creation to binding; pods still pending at the end count with the time they waited so
//!   far; pods deleted while pending (scaled away) are not counted. DaemonSet pods are left out.
//! - `unmet_demand`: see [`crate::unmet`].
//! - `pods_never_scheduled`, `hpa_hours_above_max`: its totals, the figures `compare` shows.
//! - `scale_ups`: applied desired-capacity raises; `scale_downs`: nodes terminated by
//!   scale-down; `failed_scale_ups`: failures the autoscaler detected; `fallbacks`: pods sent
//!   to another group in the loop that found their group failed.
//! - `scenario_path`, `scenario_sha256`: where the scenario came from and the SHA-256 of its
//!   text, so two summaries of one scenario name can be told apart.
//! - `pools[]`: per node pool, `node_hours` and `cost` as above, and `cpu_utilization` /
//!   `memory_utilization`: requests of every pod bound to the pool's nodes (daemonsets
//!   included, as the autoscaler counts them) ÷ the nodes' allocatable, weighted by time
//!   (Σ requested ÷ Σ allocatable over the ticks); 0 when the pool had no node.
//! - `workloads[]`: per workload, the pod wait figures and pending count as above.

use std::io;
use std::path::Path;

use serde::Serialize;

use sha2::{Digest as _, Sha256};

use crate::cloud::Billing;
use crate::record::{Counters, Recording, TimelineRow};
use crate::unmet::UnmetDemand;

/// The summary of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario title.
    pub scenario: String,
    /// Scenario file (or `built-in default scenario`).
    pub scenario_path: String,
    /// SHA-256 of the scenario text, hex.
    pub scenario_sha256: String,
    /// Seed used.
    pub seed: u64,
    /// Recorded span, hours.
    pub duration_hours: f64,
    /// Tick, seconds.
    pub tick_seconds: f64,
    /// Instance-hours billed.
    pub node_hours: f64,
    /// Lower bound of node-hours from the requests alone.
    pub node_hours_lower_bound: f64,
    /// Cost in USD.
    pub cost: f64,
    /// Median pod wait from creation to binding, seconds.
    pub pending_pod_seconds_p50: f64,
    /// 95th percentile pod wait, seconds.
    pub pending_pod_seconds_p95: f64,
    /// Longest pod wait, seconds.
    pub pending_pod_seconds_max: f64,
    /// Pods whose wait was counted.
    pub pods_counted: usize,
    /// Of those, pods still pending at the end.
    pub pods_pending_at_end: usize,
    /// Pods that never scheduled (the total of `unmet_demand.unscheduled`).
    pub pods_never_scheduled: usize,
    /// Hours HPAs wanted more than their max_replicas, summed over HPAs.
    pub hpa_hours_above_max: f64,
    /// Fewest registered nodes at any tick.
    pub nodes_min: u32,
    /// Most registered nodes at any tick.
    pub nodes_max: u32,
    /// Registered nodes at the tick with the least load (first such tick).
    pub nodes_at_lowest_load: u32,
    /// Registered nodes at the tick with the most load.
    pub nodes_at_highest_load: u32,
    /// Pods that never scheduled and HPAs held at their maximum.
    pub unmet_demand: UnmetDemand,
    /// Counters of autoscaler and cloud activity (serialized in place, as top-level fields).
    #[serde(flatten)]
    pub counters: Counters,
    /// Per node pool, in the scenario's order.
    pub pools: Vec<PoolSummary>,
    /// Per workload, in the scenario's order.
    pub workloads: Vec<WorkloadSummary>,
    /// Wall-clock time of the run, seconds (the only field that differs between identical runs).
    pub wall_time_seconds: f64,
    /// VPA'd workloads under Tidal's and upstream's OOM rule (see [`crate::vpa`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpa: Vec<crate::vpa::VpaRow>,
    /// The control plane autoscaled and at a fixed size (see [`crate::control_plane`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<crate::control_plane::ControlPlaneFigures>,
}

/// The figures of one node pool.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolSummary {
    /// Pool name.
    pub name: String,
    /// Instance-hours billed.
    pub node_hours: f64,
    /// Cost in USD.
    pub cost: f64,
    /// Time-weighted CPU requested ÷ allocatable on the pool's nodes (0..1).
    pub cpu_utilization: f64,
    /// Time-weighted memory requested ÷ allocatable on the pool's nodes (0..1).
    pub memory_utilization: f64,
}

/// The pod wait figures of one workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkloadSummary {
    /// Workload name.
    pub name: String,
    /// Median wait from creation to binding, seconds.
    pub pending_pod_seconds_p50: f64,
    /// 95th percentile wait, seconds.
    pub pending_pod_seconds_p95: f64,
    /// Longest wait, seconds.
    pub pending_pod_seconds_max: f64,
    /// Pods whose wait was counted.
    pub pods_counted: usize,
    /// Of those, pods still pending at the end.
    pub pods_pending_at_end: usize,
}

/// Inputs the recording does not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFacts {
    /// Scenario title.
    pub scenario: String,
    /// Scenario file.
    pub scenario_path: String,
    /// SHA-256 of the scenario text, hex.
    pub scenario_sha256: String,
    /// Seed.
    pub seed: u64,
    /// Recorded span, hours.
    pub duration_hours: f64,
    /// Tick, seconds.
    pub tick_seconds: f64,
    /// Instance-seconds billed in the recorded period.
    pub instance_seconds: f64,
    /// USD billed in the recorded period.
    pub cost: f64,
    /// Billing of the recorded period per pool, in the recording's pool order.
    pub pools: Vec<Billing>,
    /// Pod waits, seconds (bound pods), with the workload's index.
    pub waits: Vec<(usize, f64)>,
    /// Waits so far of pods still pending at the end, seconds, with the workload's index.
    pub still_pending: Vec<(usize, f64)>,
    /// Demand the run did not meet.
    pub unmet: UnmetDemand,
    /// Wall-clock seconds.
    pub wall_time_seconds: f64,
}

/// The `q` quantile (0..=1) of sorted values by nearest rank; 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Computes the summary of a recording.
    pub fn compute(rec: &Recording, facts: RunFacts) -> Summary {
        let all = Waits::of(&facts.waits, &facts.still_pending, |_| true);
        let tick_hours = facts.tick_seconds / 3600.0;
        let lower: f64 = rec
            .timeline
            .iter()
            .map(|r| r.nodes_lower_bound * tick_hours)
            .sum();
        let nodes = |r: &TimelineRow| r.nodes_by_pool.iter().sum::<u32>();
        let total_load = |r: &TimelineRow| r.load.iter().sum::<f64>();
        let lowest = rec
            .timeline
            .iter()
            .min_by(|a, b| total_load(a).total_cmp(&total_load(b)));
        let highest = rec
            .timeline
            .iter()
            .max_by(|a, b| total_load(a).total_cmp(&total_load(b)));
        let workloads = (rec.workloads.iter().enumerate())
            .map(|(i, name)| {
                Waits::of(&facts.waits, &facts.still_pending, |w| w == i).summary(name)
            })
            .collect();
        Summary {
            scenario: facts.scenario,
            scenario_path: facts.scenario_path,
            scenario_sha256: facts.scenario_sha256,
            seed: facts.seed,
            duration_hours: facts.duration_hours,
            tick_seconds: facts.tick_seconds,
            node_hours: round(facts.instance_seconds / 3600.0, 3),
            node_hours_lower_bound: round(lower, 3),
            cost: round(facts.cost, 2),
            pending_pod_seconds_p50: quantile(&all.sorted, 0.50),
            pending_pod_seconds_p95: quantile(&all.sorted, 0.95),
            pending_pod_seconds_max: all.sorted.last().copied().unwrap_or(0.0),
            pods_counted: all.sorted.len(),
            pods_pending_at_end: all.pending,
            pods_never_scheduled: facts.unmet.unscheduled_pods(),
            hpa_hours_above_max: round(
                facts
                    .unmet
                    .hpas_at_max
                    .iter()
                    .map(|h| h.hours_above_max)
                    .sum(),
                2,
            ),
            nodes_min: rec.timeline.iter().map(nodes).min().unwrap_or(0),
            nodes_max: rec.timeline.iter().map(nodes).max().unwrap_or(0),
            nodes_at_lowest_load: lowest.map_or(0, nodes),
            nodes_at_highest_load: highest.map_or(0, nodes),
            unmet_demand: facts.unmet,
            counters: rec.counters.clone(),
            pools: pool_summaries(rec, &facts.pools),
            workloads,
            wall_time_seconds: round(facts.wall_time_seconds, 3),
            vpa: crate::vpa::rows(&rec.vpa),
            control_plane: rec.control_plane.as_ref().map(|d| d.figures()),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain numbers and strings cannot fail; fall back to an empty object anyway.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Writes `summary.json` into `dir`.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("summary.json"), self.to_json() + "\n")
    }
}

/// Sorted waits of the pods one filter selects, and how many of them are still pending.
struct Waits {
    sorted: Vec<f64>,
    pending: usize,
}

impl Waits {
    fn of(bound: &[(usize, f64)], pending: &[(usize, f64)], pick: impl Fn(usize) -> bool) -> Self {
        let chosen = |v: &[(usize, f64)]| -> Vec<f64> {
            v.iter()
                .filter(|(w, _)| pick(*w))
                .map(|(_, s)| *s)
                .collect()
        };
        let mut sorted = chosen(bound);
        let still = chosen(pending);
        let pending = still.len();
        sorted.extend(still);
        sorted.sort_by(f64::total_cmp);
        Waits { sorted, pending }
    }

    fn summary(&self, name: &str) -> WorkloadSummary {
        WorkloadSummary {
            name: name.to_owned(),
            pending_pod_seconds_p50: quantile(&self.sorted, 0.50),
            pending_pod_seconds_p95: quantile(&self.sorted, 0.95),
            pending_pod_seconds_max: self.sorted.last().copied().unwrap_or(0.0),
            pods_counted: self.sorted.len(),
            pods_pending_at_end: self.pending,
        }
    }
}

/// Per pool: billing of the recorded period and time-weighted utilization from the timeline.
fn pool_summaries(rec: &Recording, billing: &[Billing]) -> Vec<PoolSummary> {
    rec.pools
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let b = billing.get(i).copied().unwrap_or_default();
            let sum = |f: fn(&crate::record::PoolTick) -> f64| -> f64 {
                rec.timeline
                    .iter()
                    .filter_map(|r| r.pools.get(i))
                    .map(f)
                    .sum()
            };
            let ratio = |used: f64, of: f64| if of > 0.0 { round(used / of, 4) } else { 0.0 };
            PoolSummary {
                name: name.clone(),
                node_hours: round(b.instance_seconds / 3600.0, 3),
                cost: round(b.cost_usd, 2),
                cpu_utilization: ratio(sum(|p| p.requested_cpu), sum(|p| p.allocatable_cpu)),
                memory_utilization: ratio(
                    sum(|p| p.requested_memory_gib),
                    sum(|p| p.allocatable_memory_gib),
                ),
            }
        })
        .collect()
}

/// SHA-256 of `bytes` as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// `v` to `digits` decimals; never `-0.0` (an empty `f64` sum is `-0.0`, which JSON and
/// tables would show as "-0").
fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    let r = (v * f).round() / f;
    if r == 0.0 { 0.0 } else { r }
}

#[cfg(test)]
mod tests;
