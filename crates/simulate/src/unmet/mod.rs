//! Unmet demand: what the simulated cluster did not give the workloads, so a run that left
//! pods unscheduled or HPAs pinned at their maximum never looks clean.
//!
//! - **Unscheduled pods**: workload pods still pending at the end that were never bound and
//!   that either the cluster autoscaler said it cannot help (its NotTriggerScaleUp verdict in
//!   the last loop, quoted as the reason) or that waited longer than the autoscaler's
//!   `max_node_provision_time` (by then a scale-up for them would have brought a node).
//!   Grouped per workload and reason. Pods created just before the end, with a scale-up under
//!   way, are not unmet demand.
//! - **HPAs at their maximum**: per workload with an HPA, the recorded hours its desired count
//!   was at `max_replicas`, and of those the hours its own recommendation (after stabilization,
//!   before rate limits and bounds: the unclamped desired count) was above it, with the
//!   highest unclamped count. Hours above the maximum are demand the HPA was not allowed to
//!   meet.
//!
//! `tidal simulate --strict` fails a run with any unscheduled pod or any hour above a maximum.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use tidal_cluster_autoscaler::outcome::NoScaleUp;
use tidal_core::Timestamp;

use crate::cluster::{ClusterWorld, Owner};
use crate::record::TimelineRow;
use crate::scenario::Workload;

/// How many pods of a workload share one reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReasonCount {
    /// The autoscaler's NotTriggerScaleUp reason, or why the pods count without one.
    pub reason: String,
    /// Pods.
    pub pods: usize,
}

/// Pods of one workload that never scheduled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnscheduledPods {
    /// Workload name.
    pub workload: String,
    /// Its namespace.
    pub namespace: String,
    /// Pods pending at the end that never ran.
    pub pods: usize,
    /// The longest any of them waited, seconds.
    pub longest_wait_seconds: f64,
    /// Why, most pods first.
    pub reasons: Vec<ReasonCount>,
}

/// Time one HPA spent at its `max_replicas`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HpaAtMax {
    /// Workload name.
    pub workload: String,
    /// The HPA's `max_replicas`.
    pub max_replicas: u32,
    /// Recorded hours with the desired count at `max_replicas`.
    pub hours_at_max: f64,
    /// Of those, hours the unclamped desired count was above `max_replicas`.
    pub hours_above_max: f64,
    /// Highest unclamped desired count recorded.
    pub peak_desired_unclamped: u32,
}

/// The demand a run did not meet.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnmetDemand {
    /// Workloads with pods that never scheduled.
    pub unscheduled: Vec<UnscheduledPods>,
    /// HPAs that reached their maximum.
    pub hpas_at_max: Vec<HpaAtMax>,
}

impl UnmetDemand {
    /// No pod left unscheduled and no HPA held below what it wanted.
    pub fn is_empty(&self) -> bool {
        self.unscheduled.is_empty() && self.hpas_at_max.iter().all(|h| h.hours_above_max == 0.0)
    }

    /// Pods that never scheduled, over all workloads.
    pub fn unscheduled_pods(&self) -> usize {
        self.unscheduled.iter().map(|u| u.pods).sum()
    }

    /// Lines for the text summary (empty when nothing is worth saying).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for u in &self.unscheduled {
            let _ = writeln!(
                out,
                "  UNMET         {} pods of {} never scheduled (longest wait {:.0} s):",
                u.pods, u.workload, u.longest_wait_seconds
            );
            for r in &u.reasons {
                let _ = writeln!(out, "                  {} pods: {}", r.pods, r.reason);
            }
        }
        for h in &self.hpas_at_max {
            let label = if h.hours_above_max > 0.0 {
                "UNMET        "
            } else {
                "at max       "
            };
            let _ = writeln!(
                out,
                "  {label} HPA {} at max_replicas {} for {:.1} h, wanting more for {:.1} h \
                 (up to {} replicas)",
                h.workload,
                h.max_replicas,
                h.hours_at_max,
                h.hours_above_max,
                h.peak_desired_unclamped
            );
        }
        out
    }
}

/// The autoscaler's latest NotTriggerScaleUp verdicts, kept from loop to loop.
#[derive(Debug, Default)]
pub struct Verdicts {
    last: Vec<NoScaleUp>,
}

impl Verdicts {
    /// Keeps the verdicts of the latest autoscaler loop.
    pub fn update(&mut self, latest: Vec<NoScaleUp>) {
        self.last = latest;
    }

    /// The workload pods pending at `end` that never ran, grouped per workload and reason;
    /// `patience` is how long a pod without a verdict may wait before it counts.
    pub fn unscheduled(
        &self,
        world: &ClusterWorld,
        workloads: &[Workload],
        end: Timestamp,
        patience: Duration,
    ) -> Vec<UnscheduledPods> {
        let reason_of: HashMap<(&str, &str), &str> = self
            .last
            .iter()
            .flat_map(|v| {
                v.pods
                    .iter()
                    .map(|p| ((p.namespace.as_str(), p.name.as_str()), v.reason.as_str()))
            })
            .collect();
        let waiting = format!(
            "no scale-up verdict, but pending longer than max_node_provision_time ({})",
            humantime::format_duration(patience)
        );
        let mut by_workload: BTreeMap<usize, (usize, f64, BTreeMap<&str, usize>)> = BTreeMap::new();
        for record in world.pending.iter().filter_map(|uid| world.pods.get(uid)) {
            let Owner::Workload(i) = record.owner else {
                continue;
            };
            if record.bound_at.is_some() {
                continue;
            }
            let wait = end.since(record.pod.created_at);
            let key = (record.pod.namespace.as_str(), record.pod.name.as_str());
            let reason = match reason_of.get(&key) {
                Some(r) => *r,
                None if wait > patience => waiting.as_str(),
                None => continue,
            };
            let entry = by_workload.entry(i).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(wait.as_secs_f64());
            *entry.2.entry(reason).or_default() += 1;
        }
        by_workload
            .into_iter()
            .filter_map(|(i, (pods, longest, reasons))| {
                let w = workloads.get(i)?;
                let mut reasons: Vec<ReasonCount> = reasons
                    .into_iter()
                    .map(|(reason, pods)| ReasonCount {
                        reason: reason.to_owned(),
                        pods,
                    })
                    .collect();
                reasons.sort_by_key(|r| std::cmp::Reverse(r.pods));
                Some(UnscheduledPods {
                    workload: w.name.clone(),
                    namespace: w.pod.namespace.clone(),
                    pods,
                    longest_wait_seconds: longest,
                    reasons,
                })
            })
            .collect()
    }
}

/// Time each HPA spent at its maximum, from the timeline (`tick_hours` per row).
pub fn hpas_at_max(
    workloads: &[Workload],
    timeline: &[TimelineRow],
    tick_hours: f64,
) -> Vec<HpaAtMax> {
    let mut out = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        if w.hpa.is_none() {
            continue;
        }
        let (mut at_max, mut above, mut peak) = (0usize, 0usize, 0u32);
        for row in timeline {
            let desired = row.desired.get(i).copied().unwrap_or(0);
            let unclamped = row.desired_unclamped.get(i).copied().unwrap_or(desired);
            peak = peak.max(unclamped);
            if desired >= w.max_replicas {
                at_max += 1;
                if unclamped > w.max_replicas {
                    above += 1;
                }
            }
        }
        if at_max > 0 {
            out.push(HpaAtMax {
                workload: w.name.clone(),
                max_replicas: w.max_replicas,
                hours_at_max: round3(at_max as f64 * tick_hours),
                hours_above_max: round3(above as f64 * tick_hours),
                peak_desired_unclamped: peak,
            });
        }
    }
    out
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
