//! What a run records: one timeline row per tick and the decision log, plus the counters the
//! summary needs. Written out as `timeline.csv`; the report draws from the same data.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::Serialize;
use tidal_core::Timestamp;

use crate::scenario::SIM_EPOCH;

/// One timeline row: the state at the end of a tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TimelineRow {
    /// Seconds since 00:00.
    pub t: f64,
    /// Registered nodes per pool (in the scenario's pool order).
    pub nodes_by_pool: Vec<u32>,
    /// Instances billed (booting ones included).
    pub instances: u32,
    /// Pods not bound to a node.
    pub pending_pods: u32,
    /// Pods per workload (in the scenario's workload order).
    pub replicas: Vec<u32>,
    /// Desired replicas per workload (what the HPA asked for).
    pub desired: Vec<u32>,
    /// The HPA's own recommendation per workload before rate limits and its min/max bounds
    /// (equal to `desired` without an HPA).
    pub desired_unclamped: Vec<u32>,
    /// Load per workload.
    pub load: Vec<f64>,
    /// CPU requested by workload pods (bound and pending), cores.
    pub requested_cpu: f64,
    /// CPU allocatable on registered nodes, cores.
    pub allocatable_cpu: f64,
    /// Memory requested by workload pods, GiB.
    pub requested_memory_gib: f64,
    /// Memory allocatable on registered nodes, GiB.
    pub allocatable_memory_gib: f64,
    /// Cost so far, USD.
    pub cost: f64,
    /// Fractional nodes the requests need at least at this instant.
    pub nodes_lower_bound: f64,
    /// Per pool (in the scenario's pool order): spend rate and requests vs allocatable.
    pub pools: Vec<PoolTick>,
}

/// One pool at one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PoolTick {
    /// Spend rate of the pool's instances (booting ones included), USD per hour.
    pub usd_per_hour: f64,
    /// CPU requested by every pod bound to the pool's nodes (daemonsets included), cores.
    pub requested_cpu: f64,
    /// CPU allocatable on the pool's registered nodes, cores.
    pub allocatable_cpu: f64,
    /// Memory requested by every pod bound to the pool's nodes, GiB.
    pub requested_memory_gib: f64,
    /// Memory allocatable on the pool's registered nodes, GiB.
    pub allocatable_memory_gib: f64,
}

/// Kinds of time windows drawn over the report's charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowKind {
    /// A capacity outage injected by the scenario.
    Outage,
    /// A node group backed off after a failed scale-up.
    Backoff,
    /// Spot instances were reclaimed (an instant).
    SpotInterruption,
}

/// A span of simulated time worth marking on the charts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    /// Start, seconds since 00:00.
    pub from: f64,
    /// End, seconds since 00:00 (equal to `from` for an instant).
    pub until: f64,
    /// Kind.
    pub kind: WindowKind,
    /// What it was.
    pub label: String,
}

/// Kinds of decision-log entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionKind {
    /// The autoscaler raised a group's desired capacity.
    ScaleUp,
    /// The autoscaler is removing or removed a node.
    ScaleDown,
    /// A scale-up failure was detected and the group backed off.
    Failure,
    /// Pods went to another group because theirs failed.
    Fallback,
    /// Pending pods no group can help.
    NoScaleUp,
    /// Something the cloud did (launch failure, spot interruption).
    Cloud,
    /// Events and node marks on the cluster side.
    Cluster,
    /// An HPA could not decide (or recovered).
    Hpa,
    /// A port call of the autoscaler failed.
    Error,
}

impl DecisionKind {
    /// Short text for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::ScaleUp => "scale-up",
            DecisionKind::ScaleDown => "scale-down",
            DecisionKind::Failure => "failure",
            DecisionKind::Fallback => "fallback",
            DecisionKind::NoScaleUp => "no-scale-up",
            DecisionKind::Cloud => "cloud",
            DecisionKind::Cluster => "cluster",
            DecisionKind::Hpa => "hpa",
            DecisionKind::Error => "error",
        }
    }
}

/// One decision-log entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// Seconds since 00:00 (negative during warm-up).
    pub t: f64,
    /// Kind.
    pub kind: DecisionKind,
    /// What happened.
    pub message: String,
}

/// Counters of autoscaler and cloud activity (recorded period only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Applied desired-capacity raises.
    pub scale_ups: u64,
    /// Nodes those raises asked for.
    pub nodes_requested: u64,
    /// Nodes terminated by scale-down.
    pub scale_downs: u64,
    /// Scale-up failures the autoscaler detected.
    pub failed_scale_ups: u64,
    /// Fallbacks to another group.
    pub fallbacks: u64,
    /// Launch attempts the cloud failed.
    pub failed_launches: u64,
    /// Spot instances reclaimed.
    pub spot_interruptions: u64,
    /// Pod evictions by scale-down.
    pub evictions: u64,
}

/// Everything recorded during a run.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Pool names (column order of `nodes_by_pool`).
    pub pools: Vec<String>,
    /// Workload names (column order of `replicas`, `desired`, `load`).
    pub workloads: Vec<String>,
    /// One row per tick.
    pub timeline: Vec<TimelineRow>,
    /// The decision log, in time order.
    pub decisions: Vec<Decision>,
    /// Outages, back-offs and interruptions, for the charts.
    pub windows: Vec<Window>,
    /// Counters.
    pub counters: Counters,
    /// The VPA'd workloads' day under each OOM rule (see [`crate::vpa`]).
    pub vpa: Vec<crate::vpa::VpaRun>,
    /// The control plane's day, autoscaled and fixed (see [`crate::control_plane`]).
    pub control_plane: Option<crate::control_plane::ControlPlaneDay>,
}

/// Seconds since 00:00 of a virtual instant.
pub fn offset_secs(at: Timestamp) -> f64 {
    (at.as_millis() - SIM_EPOCH.as_millis()) as f64 / 1000.0
}

/// `HH:MM:SS` of an offset in seconds (days beyond the first as `+Nd`; warm-up as `-HH:MM:SS`).
pub fn clock(t: f64) -> String {
    let sign = if t < 0.0 { "-" } else { "" };
    let total = t.abs().round() as u64;
    let (days, rest) = (total / 86_400, total % 86_400);
    let hms = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{sign}{hms}+{days}d")
    } else {
        format!("{sign}{hms}")
    }
}

impl Recording {
    /// Appends a decision at `at`.
    pub fn decide(&mut self, at: Timestamp, kind: DecisionKind, message: String) {
        self.decisions.push(Decision {
            t: offset_secs(at),
            kind,
            message,
        });
    }

    /// The timeline as CSV: a header, then one line per tick.
    pub fn timeline_csv(&self) -> String {
        let mut out = String::from("t_seconds,time");
        for p in &self.pools {
            let _ = write!(out, ",nodes_{}", csv_name(p));
        }
        out.push_str(",nodes_total,instances,pending_pods");
        for w in &self.workloads {
            let w = csv_name(w);
            let _ = write!(
                out,
                ",replicas_{w},desired_{w},load_{w},desired_unclamped_{w}"
            );
        }
        out.push_str(
            ",requested_cpu_cores,allocatable_cpu_cores,requested_memory_gib,allocatable_memory_gib,\
             cost_usd,nodes_lower_bound\n",
        );
        for r in &self.timeline {
            // Writing to a String cannot fail.
            let _ = write!(out, "{},{}", r.t, clock(r.t));
            for n in &r.nodes_by_pool {
                let _ = write!(out, ",{n}");
            }
            let total: u32 = r.nodes_by_pool.iter().sum();
            let _ = write!(out, ",{total},{},{}", r.instances, r.pending_pods);
            for i in 0..self.workloads.len() {
                let get = |v: &Vec<u32>| v.get(i).copied().unwrap_or(0);
                let load = r.load.get(i).copied().unwrap_or(0.0);
                let _ = write!(out, ",{},{},{load:.3}", get(&r.replicas), get(&r.desired));
                let _ = write!(out, ",{}", get(&r.desired_unclamped));
            }
            let _ = writeln!(
                out,
                ",{:.3},{:.3},{:.3},{:.3},{:.4},{:.3}",
                r.requested_cpu,
                r.allocatable_cpu,
                r.requested_memory_gib,
                r.allocatable_memory_gib,
                r.cost,
                r.nodes_lower_bound
            );
        }
        out
    }

    /// Writes `timeline.csv` into `dir`.
    pub fn write_timeline(&self, dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("timeline.csv"), self.timeline_csv())
    }
}

/// Column-name-safe version of a pool or workload name.
fn csv_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats_offsets() {
        assert_eq!(clock(0.0), "00:00:00");
        assert_eq!(clock(19.5 * 3600.0), "19:30:00");
        assert_eq!(clock(-90.0), "-00:01:30");
        assert_eq!(clock(86_400.0 + 61.0), "00:01:01+1d");
    }

    #[test]
    fn timeline_csv_has_one_column_per_pool_and_workload() {
        let rec = Recording {
            pools: vec!["default".into(), "spot".into()],
            workloads: vec!["web".into()],
            timeline: vec![TimelineRow {
                t: 10.0,
                nodes_by_pool: vec![3, 2],
                instances: 6,
                pending_pods: 1,
                replicas: vec![7],
                desired: vec![8],
                desired_unclamped: vec![9],
                load: vec![100.0],
                requested_cpu: 1.0,
                allocatable_cpu: 2.0,
                requested_memory_gib: 3.0,
                allocatable_memory_gib: 4.0,
                cost: 0.5,
                nodes_lower_bound: 0.25,
                pools: Vec::new(),
            }],
            ..Recording::default()
        };
        let csv = rec.timeline_csv();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let row: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        assert_eq!(header.len(), row.len());
        assert_eq!(header[2], "nodes_default");
        assert_eq!(row[4], "5", "nodes_total");
        assert_eq!(row[7], "7", "replicas_web");
        assert_eq!(header[10], "desired_unclamped_web");
        assert_eq!(row[10], "9", "desired_unclamped_web");
    }
}
