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
//! - `scale_ups`: applied desired-capacity raises; `scale_downs`: nodes terminated by
//!   scale-down; `failed_scale_ups`: failures the autoscaler detected; `fallbacks`: pods sent
//!   to another group in the loop that found their group failed.

use std::io;
use std::path::Path;

use serde::Serialize;

use crate::record::{Counters, Recording};
use crate::unmet::UnmetDemand;

/// The summary of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Scenario title.
    pub scenario: String,
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
    /// Wall-clock time of the run, seconds (the only field that differs between identical runs).
    pub wall_time_seconds: f64,
    /// VPA'd workloads under Tidal's and upstream's OOM rule (see [`crate::vpa`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpa: Vec<crate::vpa::VpaRow>,
    /// The control plane autoscaled and at a fixed size (see [`crate::control_plane`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<crate::control_plane::ControlPlaneFigures>,
}

/// Inputs the recording does not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFacts {
    /// Scenario title.
    pub scenario: String,
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
    /// Pod waits, seconds (bound pods).
    pub waits: Vec<f64>,
    /// Waits so far of pods still pending at the end, seconds.
    pub still_pending: Vec<f64>,
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
        let mut waits = facts.waits;
        waits.extend_from_slice(&facts.still_pending);
        waits.sort_by(f64::total_cmp);
        let tick_hours = facts.tick_seconds / 3600.0;
        let lower: f64 = rec
            .timeline
            .iter()
            .map(|r| r.nodes_lower_bound * tick_hours)
            .sum();
        let nodes = |r: &crate::record::TimelineRow| r.nodes_by_pool.iter().sum::<u32>();
        let total_load = |r: &crate::record::TimelineRow| r.load.iter().sum::<f64>();
        let lowest = rec
            .timeline
            .iter()
            .min_by(|a, b| total_load(a).total_cmp(&total_load(b)));
        let highest = rec
            .timeline
            .iter()
            .max_by(|a, b| total_load(a).total_cmp(&total_load(b)));
        Summary {
            scenario: facts.scenario,
            seed: facts.seed,
            duration_hours: facts.duration_hours,
            tick_seconds: facts.tick_seconds,
            node_hours: round(facts.instance_seconds / 3600.0, 3),
            node_hours_lower_bound: round(lower, 3),
            cost: round(facts.cost, 2),
            pending_pod_seconds_p50: quantile(&waits, 0.50),
            pending_pod_seconds_p95: quantile(&waits, 0.95),
            pending_pod_seconds_max: waits.last().copied().unwrap_or(0.0),
            pods_counted: waits.len(),
            pods_pending_at_end: facts.still_pending.len(),
            nodes_min: rec.timeline.iter().map(nodes).min().unwrap_or(0),
            nodes_max: rec.timeline.iter().map(nodes).max().unwrap_or(0),
            nodes_at_lowest_load: lowest.map_or(0, nodes),
            nodes_at_highest_load: highest.map_or(0, nodes),
            unmet_demand: facts.unmet,
            counters: rec.counters.clone(),
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

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[7.0], 0.95), 7.0);
    }
}
