//! Prometheus metrics of the autoscaler's decisions, under `tidal_cluster_autoscaler_`.
//!
//! Every label is bounded: pool and zone names come from the node-pool file, reasons and error
//! kinds from small fixed sets (never pod names or error text), so a Grafana dashboard can draw
//! each decision without a cardinality explosion.

mod groups;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use tidal_core::sync::lock;

use crate::autoscaler::LoopError;
use crate::outcome::{LoopOutcome, Operation, ScaleDownStep};
use crate::ports::{NodeGroupId, SkippedObjects};
use groups::{GroupFamilies, GroupGaugeSet};

/// Metric name prefix.
pub const PREFIX: &str = "tidal_cluster_autoscaler";

/// A node group.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    /// Node pool.
    pub pool: String,
    /// Availability zone.
    pub zone: String,
}

impl From<&NodeGroupId> for GroupLabels {
    fn from(id: &NodeGroupId) -> Self {
        Self {
            pool: id.pool.clone(),
            zone: id.zone.clone(),
        }
    }
}

/// A node group and why something happened to it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupReasonLabels {
    /// Node pool.
    pub pool: String,
    /// Availability zone.
    pub zone: String,
    /// Fixed reason label.
    pub reason: String,
}

/// A node group and a node state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeStateLabels {
    /// Node pool.
    pub pool: String,
    /// Availability zone.
    pub zone: String,
    /// `desired`, `instances`, `registered` or `ready`.
    pub state: String,
}

/// Pods of a failed pool sent to another pool.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FallbackLabels {
    /// The pool that failed.
    pub from_pool: String,
    /// The pool scaled up instead.
    pub to_pool: String,
}

/// A failed call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The port operation (`set_desired_capacity`, `evict_pod`, …) or `loop`.
    pub operation: String,
    /// Fixed error kind (`api`, `not_ready`, `eviction_blocked`, …).
    pub kind: String,
}

/// A single fixed-set label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Fixed reason label.
    pub reason: String,
}

/// A kind of Kubernetes object.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `pod`, `node` or `poddisruptionbudget`.
    pub kind: String,
}

/// The autoscaler's metrics.
#[derive(Clone)]
pub struct Metrics {
    scale_ups: Family<GroupReasonLabels, Counter>,
    scale_up_nodes: Family<GroupReasonLabels, Counter>,
    scale_downs: Family<GroupReasonLabels, Counter>,
    scale_down_aborts: Family<GroupLabels, Counter>,
    failed_scale_ups: Family<GroupReasonLabels, Counter>,
    fallbacks: Family<FallbackLabels, Counter>,
    groups: GroupFamilies,
    group_gauges: Arc<Mutex<GroupGaugeSet>>,
    unschedulable_pods: Gauge,
    pods_awaiting_capacity: Gauge,
    pods_without_scale_up: Gauge,
    unneeded_nodes: Gauge,
    pools_without_template: Gauge,
    scale_down_skipped: Family<ReasonLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    skipped_objects: Family<KindLabels, Gauge>,
    unreadable_holds: Family<ReasonLabels, Gauge>,
    stale_watches: Gauge,
    loop_overruns: Counter,
    loop_duration: Histogram,
    last_loop: Gauge<f64, AtomicU64>,
    leader: Gauge,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` under [`PREFIX`].
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            scale_ups: Family::default(),
            scale_up_nodes: Family::default(),
            scale_downs: Family::default(),
            scale_down_aborts: Family::default(),
            failed_scale_ups: Family::default(),
            fallbacks: Family::default(),
            groups: GroupFamilies::default(),
            group_gauges: Arc::default(),
            unschedulable_pods: Gauge::default(),
            pods_awaiting_capacity: Gauge::default(),
            pods_without_scale_up: Gauge::default(),
            unneeded_nodes: Gauge::default(),
            pools_without_template: Gauge::default(),
            scale_down_skipped: Family::default(),
            errors: Family::default(),
            skipped_objects: Family::default(),
            unreadable_holds: Family::default(),
            stale_watches: Gauge::default(),
            loop_overruns: Counter::default(),
            // 5 ms to ~41 s: a loop is expected well under a second, the upstream bound is 30 s.
            loop_duration: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            last_loop: Gauge::default(),
            leader: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix(PREFIX);
        r.register(
            "scale_ups",
            "Scale-up decisions by node group and reason",
            m.scale_ups.clone(),
        );
        r.register(
            "scale_up_nodes",
            "Nodes requested by scale-ups",
            m.scale_up_nodes.clone(),
        );
        r.register(
            "scale_downs",
            "Nodes removed (terminated), by reason empty or underutilized",
            m.scale_downs.clone(),
        );
        r.register(
            "scale_down_aborts",
            "Node removals abandoned (node unmarked)",
            m.scale_down_aborts.clone(),
        );
        r.register(
            "failed_scale_ups",
            "Failed scale-ups by reason cloud_reported or provision_timeout",
            m.failed_scale_ups.clone(),
        );
        r.register(
            "fallbacks",
            "Pods of a failed pool sent to another pool in the same loop",
            m.fallbacks.clone(),
        );
        r.register(
            "backoff",
            "1 while the node group is in scale-up backoff",
            m.groups.backoff.clone(),
        );
        r.register(
            "backoff_remaining_seconds",
            "Seconds of scale-up backoff left",
            m.groups.backoff_remaining.clone(),
        );
        r.register(
            "nodes",
            "Nodes per group by state desired, instances, registered, ready",
            m.groups.nodes.clone(),
        );
        r.register(
            "unschedulable_pods",
            "Pods the scheduler marked Unschedulable",
            m.unschedulable_pods.clone(),
        );
        r.register(
            "pods_awaiting_capacity",
            "Unschedulable pods that fit on free capacity or booting nodes",
            m.pods_awaiting_capacity.clone(),
        );
        r.register(
            "pods_without_scale_up",
            "Unschedulable pods no node group can help",
            m.pods_without_scale_up.clone(),
        );
        r.register(
            "unneeded_nodes",
            "Nodes below the utilization threshold whose pods can move",
            m.unneeded_nodes.clone(),
        );
        r.register(
            "pools_without_template",
            "Pools that cannot be scaled up: no template node (unknown instance types, unusable data)",
            m.pools_without_template.clone(),
        );
        r.register(
            "scale_down_skipped",
            "Loops in which scale-down did not run, by reason",
            m.scale_down_skipped.clone(),
        );
        r.register(
            "errors",
            "Failed calls by operation and error kind",
            m.errors.clone(),
        );
        r.register(
            "skipped_objects",
            "Objects the last snapshot could not read",
            m.skipped_objects.clone(),
        );
        r.register(
            "unreadable_holds",
            "Nodes kept because an object could not be read, by reason pod_unreadable (a pod bound \
             to it: not removed) or node_unreadable (its instance counts as registered)",
            m.unreadable_holds.clone(),
        );
        r.register(
            "stale_watches",
            "Watches of the cluster silent for longer than their server timeout allows (their stores are stale)",
            m.stale_watches.clone(),
        );
        r.register(
            "loop_overruns",
            "Loops stopped at their deadline (two scan intervals) before acting on what they observed",
            m.loop_overruns.clone(),
        );
        r.register(
            "loop_duration_seconds",
            "Duration of one autoscaler loop",
            m.loop_duration.clone(),
        );
        r.register(
            "last_loop_timestamp_seconds",
            "When the last loop ran (Unix seconds)",
            m.last_loop.clone(),
        );
        r.register(
            "leader",
            "1 while this replica holds the leader lease",
            m.leader.clone(),
        );
        m
    }

    /// Records what one loop decided and did.
    pub fn record_outcome(&self, outcome: &LoopOutcome, duration: Duration) {
        self.loop_duration.observe(duration.as_secs_f64());
        self.last_loop.set(outcome.at.as_millis() as f64 / 1000.0);
        self.unschedulable_pods
            .set(count(outcome.unschedulable_pods));
        self.pods_awaiting_capacity
            .set(count(outcome.pods_awaiting_capacity));
        self.pods_without_scale_up.set(count(
            outcome.no_scale_up.iter().map(|n| n.pods.len()).sum(),
        ));
        self.unneeded_nodes.set(count(outcome.unneeded_nodes));
        self.pools_without_template
            .set(count(outcome.template_problems.len()));
        for (reason, n) in [
            ("pod_unreadable", outcome.unreadable.nodes_with_pods.len()),
            ("node_unreadable", outcome.unreadable.node_instances.len()),
        ] {
            let labels = ReasonLabels {
                reason: reason.to_owned(),
            };
            self.unreadable_holds.get_or_create(&labels).set(count(n));
        }
        self.record_scale_ups(outcome);
        self.record_scale_downs(outcome);
        for f in &outcome.failures {
            self.failed_scale_ups
                .get_or_create(&reason_labels(&f.group, f.kind.label()))
                .inc();
        }
        for f in &outcome.fallbacks {
            let labels = FallbackLabels {
                from_pool: f.from.pool.clone(),
                to_pool: f.to.pool.clone(),
            };
            self.fallbacks.get_or_create(&labels).inc();
        }
        if let Some(skip) = &outcome.scale_down_skipped {
            let labels = ReasonLabels {
                reason: skip.label().to_owned(),
            };
            self.scale_down_skipped.get_or_create(&labels).inc();
        }
        for e in &outcome.port_errors {
            self.count_error(e.operation, e.label);
        }
        lock(&self.group_gauges).record(&self.groups, outcome);
    }

    fn record_scale_ups(&self, outcome: &LoopOutcome) {
        // Dry runs apply nothing; their decisions are what the operator wants to see.
        for up in outcome
            .scale_ups
            .iter()
            .filter(|u| u.applied || outcome.dry_run)
        {
            let labels = reason_labels(&up.group, up.reason.label());
            self.scale_ups.get_or_create(&labels).inc();
            self.scale_up_nodes
                .get_or_create(&labels)
                .inc_by(u64::from(up.to.saturating_sub(up.from)));
        }
    }

    fn record_scale_downs(&self, outcome: &LoopOutcome) {
        for down in &outcome.scale_downs {
            match down.step {
                ScaleDownStep::Terminated => {
                    let reason = if down.empty { "empty" } else { "underutilized" };
                    self.scale_downs
                        .get_or_create(&reason_labels(&down.group, reason))
                        .inc();
                }
                ScaleDownStep::Aborted(_) => {
                    self.scale_down_aborts
                        .get_or_create(&GroupLabels::from(&down.group))
                        .inc();
                }
                ScaleDownStep::Draining { .. } => {}
            }
        }
    }

    /// Per-group gauges, rebuilt from the status so groups that disappeared drop out.
    /// Records a loop that failed before deciding anything.
    pub fn record_loop_error(&self, error: &LoopError, duration: Duration) {
        self.loop_duration.observe(duration.as_secs_f64());
        let (operation, kind) = match error {
            LoopError::Cloud(e) => (Operation::NodeGroups, e.label()),
            LoopError::Cluster(e) => (Operation::Snapshot, e.label()),
        };
        self.count_error(operation, kind);
    }

    /// Counts one failed call.
    pub fn count_error(&self, operation: Operation, kind: &str) {
        let labels = ErrorLabels {
            operation: operation.as_str().to_owned(),
            kind: kind.to_owned(),
        };
        self.errors.get_or_create(&labels).inc();
    }

    /// Records the objects the last snapshot skipped.
    pub fn record_skipped(&self, skipped: SkippedObjects) {
        for (kind, n) in [
            ("pod", skipped.pods),
            ("node", skipped.nodes),
            ("poddisruptionbudget", skipped.pdbs),
        ] {
            let labels = KindLabels {
                kind: kind.to_owned(),
            };
            self.skipped_objects.get_or_create(&labels).set(count(n));
        }
    }

    /// Records how many watches are stale now.
    pub fn record_stale_watches(&self, stale: usize) {
        self.stale_watches.set(count(stale));
    }

    /// Counts a loop stopped at its deadline.
    pub fn count_loop_overrun(&self) {
        self.loop_overruns.inc();
    }

    /// Records whether this replica is the leader.
    pub fn record_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn reason_labels(group: &NodeGroupId, reason: &str) -> GroupReasonLabels {
    GroupReasonLabels {
        pool: group.pool.clone(),
        zone: group.zone.clone(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
