//! Prometheus metrics of the recommender, under `tidal_vpa_`.
//!
//! Labels are bounded: VPA namespace/name and container name come from objects that exist (the
//! series of a VPA are removed with it), resources and kinds from fixed sets, errors from the
//! ports' `label()`s. Never pod names or error text.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidal_core::sync;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Metric name prefix.
pub const PREFIX: &str = "tidal_vpa";

/// One value of one recommendation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecommendationLabels {
    /// The VPA's namespace.
    pub namespace: String,
    /// The VPA's name.
    pub vpa: String,
    /// The container.
    pub container: String,
    /// `cpu` (cores) or `memory` (bytes).
    pub resource: String,
    /// `target`, `lower_bound`, `upper_bound` or `uncapped_target`.
    pub kind: String,
}

/// A VPA.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VpaLabels {
    /// The VPA's namespace.
    pub namespace: String,
    /// The VPA's name.
    pub vpa: String,
}

/// A write.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// `status`, `checkpoint` or `checkpoint_delete`.
    pub object: String,
}

/// A failed operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `write_status`, `write_checkpoint`, `delete_checkpoint`, `list_checkpoints`,
    /// `usage`, `history`, `target`, `pods`.
    pub operation: String,
    /// The port error's fixed label.
    pub kind: String,
}

/// A fixed-set condition label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    /// The condition type.
    pub condition: String,
}

/// The recommender's metrics (cheap to clone).
#[derive(Clone)]
pub struct Metrics {
    recommendation: Family<RecommendationLabels, Gauge<f64, AtomicU64>>,
    recommended: Arc<Mutex<HashSet<RecommendationLabels>>>,
    oom_kills: Family<VpaLabels, Counter>,
    oom_bumps: Family<VpaLabels, Counter>,
    loop_duration: Histogram,
    write_duration: Family<WriteLabels, Histogram>,
    writes: Family<WriteLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    conditions: Family<ConditionLabels, Gauge>,
    vpas: Gauge,
    aggregates: Gauge,
    tracked_pod_containers: Gauge,
    metrics_available: Gauge,
    history_loaded: Gauge,
    leader: Gauge,
}

impl Metrics {
    /// Registers every metric in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            recommendation: Family::default(),
            recommended: Arc::default(),
            oom_kills: Family::default(),
            oom_bumps: Family::default(),
            loop_duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            write_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 14))
            }),
            writes: Family::default(),
            errors: Family::default(),
            conditions: Family::default(),
            vpas: Gauge::default(),
            aggregates: Gauge::default(),
            tracked_pod_containers: Gauge::default(),
            metrics_available: Gauge::default(),
            history_loaded: Gauge::default(),
            leader: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix(PREFIX);
        r.register("recommendation", "Recommended amount per VPA, container, resource (cpu in cores, memory in bytes) and kind", m.recommendation.clone());
        r.register(
            "oom_kills",
            "OOM kills seen in pods a VPA selects",
            m.oom_kills.clone(),
        );
        r.register(
            "oom_bumps",
            "OOM kills that raised a container's memory floor",
            m.oom_bumps.clone(),
        );
        r.register(
            "loop_duration_seconds",
            "Duration of one recommender loop",
            m.loop_duration.clone(),
        );
        r.register(
            "write_duration_seconds",
            "Latency of one write to the API server",
            m.write_duration.clone(),
        );
        r.register("writes", "Writes made, by object", m.writes.clone());
        r.register(
            "errors",
            "Failed operations, by operation and error kind",
            m.errors.clone(),
        );
        r.register(
            "conditions",
            "VPAs with each condition true, at the end of the last loop",
            m.conditions.clone(),
        );
        r.register("vpas", "VPAs this recommender handles", m.vpas.clone());
        r.register(
            "aggregates",
            "Container histories kept (one per VPA and container)",
            m.aggregates.clone(),
        );
        r.register(
            "tracked_pod_containers",
            "Pod containers whose samples are being taken in",
            m.tracked_pod_containers.clone(),
        );
        r.register(
            "metrics_available",
            "1 when the last read of live usage succeeded",
            m.metrics_available.clone(),
        );
        r.register(
            "history_loaded",
            "1 once history has been loaded (or the source has none)",
            m.history_loaded.clone(),
        );
        r.register(
            "leader",
            "1 while this replica holds the leader lease",
            m.leader.clone(),
        );
        m
    }

    /// Sets the recommendation gauges to exactly `values`: series of values no longer
    /// recommended (a VPA or container gone) are removed.
    pub fn set_recommendations(&self, values: Vec<(RecommendationLabels, f64)>) {
        let mut recommended = sync::lock(&self.recommended);
        let now: HashSet<RecommendationLabels> = values.iter().map(|(l, _)| l.clone()).collect();
        for gone in recommended.difference(&now) {
            self.recommendation.remove(gone);
        }
        for (labels, value) in values {
            self.recommendation.get_or_create(&labels).set(value);
        }
        *recommended = now;
    }

    /// Counts OOM kills and bumps of one VPA.
    pub fn oom(&self, namespace: &str, vpa: &str, kills: u64, bumps: u64) {
        let labels = VpaLabels {
            namespace: namespace.to_owned(),
            vpa: vpa.to_owned(),
        };
        self.oom_kills.get_or_create(&labels).inc_by(kills);
        self.oom_bumps.get_or_create(&labels).inc_by(bumps);
    }

    /// Records one loop.
    pub fn loop_done(&self, took: Duration, vpas: usize, aggregates: usize, pod_containers: usize) {
        self.loop_duration.observe(took.as_secs_f64());
        self.vpas.set(vpas as i64);
        self.aggregates.set(aggregates as i64);
        self.tracked_pod_containers.set(pod_containers as i64);
    }

    /// Records one write's latency.
    pub fn write(&self, object: &str, took: Duration) {
        let labels = WriteLabels {
            object: object.to_owned(),
        };
        self.write_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.writes.get_or_create(&labels).inc();
    }

    /// Counts a failed operation.
    pub fn error(&self, operation: &str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                operation: operation.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Sets how many VPAs have each condition true.
    pub fn set_conditions(&self, counts: &[(&str, usize)]) {
        for (condition, count) in counts {
            self.conditions
                .get_or_create(&ConditionLabels {
                    condition: (*condition).to_owned(),
                })
                .set(*count as i64);
        }
    }

    /// Whether the last live usage read succeeded.
    pub fn set_metrics_available(&self, available: bool) {
        self.metrics_available.set(i64::from(available));
    }

    /// Whether history is loaded.
    pub fn set_history_loaded(&self, loaded: bool) {
        self.history_loaded.set(i64::from(loaded));
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }
}
