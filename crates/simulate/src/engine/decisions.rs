//! Turns the autoscaler's [`LoopOutcome`] and the cluster's notes into decision-log entries
//! and counters. Repetitive things are condensed: per-pod events are counted per loop, and a
//! "no scale-up" verdict is logged only when it changes.

use std::collections::BTreeMap;

use tidal_cluster_autoscaler::outcome::{FailureKind, LoopOutcome, ScaleDownStep};
use tidal_core::Timestamp;

use crate::cluster::ClusterNote;
use crate::record::{DecisionKind, Recording, Window, WindowKind, offset_secs};

/// Records one loop's outcome; `counting` is false during warm-up.
pub fn record_outcome(
    rec: &mut Recording,
    o: &LoopOutcome,
    counting: bool,
    last_no_scale_up: &mut String,
) {
    record_failures(rec, o, counting);
    record_scale_ups(rec, o, counting);
    record_scale_downs(rec, o, counting);
    record_no_scale_up(rec, o, last_no_scale_up);
    for e in &o.port_errors {
        let message = format!(
            "{} {} failed ({}): {}",
            e.operation, e.target, e.label, e.message
        );
        rec.decide(o.at, DecisionKind::Error, message);
    }
}

fn record_failures(rec: &mut Recording, o: &LoopOutcome, counting: bool) {
    let at = o.at;
    for f in &o.failures {
        let how = match &f.kind {
            FailureKind::Reported(reason) => format!("cloud reported: {reason}"),
            FailureKind::ProvisionTimeout => {
                "nodes did not register within the max provision time".to_owned()
            }
        };
        let cancelled = f
            .cancelled_to
            .map_or(String::new(), |n| format!("; desired set back to {n}"));
        let until = offset_secs(f.backoff_until) - offset_secs(at);
        let message = format!(
            "scale-up of {} failed ({how}); backed off for {until:.0} s{cancelled}",
            f.group
        );
        rec.decide(at, DecisionKind::Failure, message);
        rec.windows.push(Window {
            from: offset_secs(at),
            until: offset_secs(f.backoff_until),
            kind: WindowKind::Backoff,
            label: format!("{} backed off after a failed scale-up", f.group),
        });
        if counting {
            rec.counters.failed_scale_ups += 1;
        }
    }
    for f in &o.fallbacks {
        let message = format!("{} pods fall back from {} to {}", f.pods, f.from, f.to);
        rec.decide(at, DecisionKind::Fallback, message);
        if counting {
            rec.counters.fallbacks += 1;
        }
    }
}

fn record_scale_ups(rec: &mut Recording, o: &LoopOutcome, counting: bool) {
    for s in &o.scale_ups {
        let applied = if s.applied { "" } else { " (not applied)" };
        let message = format!(
            "{}: desired {} → {} for {} pending pods ({}, waste {:.2}){applied}",
            s.group,
            s.from,
            s.to,
            s.pods,
            s.reason.label(),
            s.waste
        );
        rec.decide(o.at, DecisionKind::ScaleUp, message);
        if counting && s.applied {
            rec.counters.scale_ups += 1;
            rec.counters.nodes_requested += u64::from(s.to.saturating_sub(s.from));
        }
    }
}

fn record_scale_downs(rec: &mut Recording, o: &LoopOutcome, counting: bool) {
    for d in &o.scale_downs {
        let what = match &d.step {
            ScaleDownStep::Draining { evicted } => format!(
                "draining (utilization {:.2}, {evicted} evictions requested)",
                d.utilization
            ),
            ScaleDownStep::Terminated => {
                if counting {
                    rec.counters.scale_downs += 1;
                }
                let kind = if d.empty {
                    "empty node"
                } else {
                    "drained node"
                };
                format!("{kind} terminated (instance {})", d.instance_id)
            }
            ScaleDownStep::Aborted(why) => format!("removal aborted: {why}"),
        };
        rec.decide(
            o.at,
            DecisionKind::ScaleDown,
            format!("{} ({}): {what}", d.node, d.group),
        );
    }
}

/// The verdict changes its pod counts every loop; it is logged when its reasons change.
fn record_no_scale_up(rec: &mut Recording, o: &LoopOutcome, last: &mut String) {
    let reasons: Vec<&str> = o.no_scale_up.iter().map(|n| n.reason.as_str()).collect();
    let key = reasons.join("\n");
    if key == *last {
        return;
    }
    if !key.is_empty() {
        let verdict: Vec<String> = o
            .no_scale_up
            .iter()
            .map(|n| format!("{} pods: {}", n.pods.len(), n.reason))
            .collect();
        rec.decide(o.at, DecisionKind::NoScaleUp, verdict.join("; "));
    }
    *last = key;
}

/// Records what happened on the cluster side during a loop (events condensed per reason).
pub fn record_notes(rec: &mut Recording, at: Timestamp, notes: Vec<ClusterNote>, counting: bool) {
    let mut events: BTreeMap<(String, bool), (usize, String)> = BTreeMap::new();
    let mut evicted = 0u64;
    for note in notes {
        match note {
            ClusterNote::Event(e) => {
                let entry = events
                    .entry((e.reason.as_str().to_owned(), e.warning))
                    .or_insert((0, String::new()));
                entry.0 += 1;
                if entry.1.is_empty() {
                    entry.1 = format!("{}: {}", e.object, e.message);
                }
            }
            ClusterNote::Marked { node, marked } => {
                let what = if marked {
                    "tainted ToBeDeletedByClusterAutoscaler and cordoned"
                } else {
                    "untainted and uncordoned"
                };
                rec.decide(at, DecisionKind::Cluster, format!("node {node} {what}"));
            }
            ClusterNote::Evicted { .. } => evicted += 1,
        }
    }
    if evicted > 0 {
        rec.decide(at, DecisionKind::Cluster, format!("{evicted} pods evicted"));
        if counting {
            rec.counters.evictions += evicted;
        }
    }
    for ((reason, warning), (count, first)) in events {
        let kind = if warning { "Warning" } else { "Normal" };
        let example = if count > 1 { "first: " } else { "" };
        rec.decide(
            at,
            DecisionKind::Cluster,
            format!("{count} × event {kind} {reason}; {example}{first}"),
        );
    }
}
