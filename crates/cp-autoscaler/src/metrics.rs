//! Prometheus metrics under `tidal_cp_`.
//!
//! Labels are bounded: sizes come from the ladder (a few dozen at most), signals, phases,
//! actions and reasons from fixed sets, error kinds from the ports' `label()`s.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tidal_core::control_plane::Signal;

use crate::ports::Phase;

/// Metric name prefix.
pub const PREFIX: &str = "tidal_cp";

/// A size of the ladder.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SizeLabels {
    /// Instance type or tier.
    pub size: String,
}

/// A signal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignalLabels {
    /// `cpu`, `memory`, `seats`, `latency_p99`.
    pub signal: String,
}

/// A roll phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// Phase label.
    pub phase: String,
}

/// A decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `hold`, `up`, `down`.
    pub action: String,
    /// Reason label.
    pub reason: String,
}

/// A resize and how it went.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResizeLabels {
    /// `up` or `down`.
    pub direction: String,
    /// `started`, `succeeded`, `failed`, `refused`.
    pub result: String,
}

/// An error of a port.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `signals`, `nodes`, `actuator`, `events`.
    pub port: String,
    /// The error's label.
    pub kind: String,
}

/// The controller's metrics.
#[derive(Clone)]
pub struct Metrics {
    current_size: Family<SizeLabels, Gauge>,
    target_size: Family<SizeLabels, Gauge>,
    current_rung: Gauge,
    signal: Family<SignalLabels, Gauge<f64, AtomicU64>>,
    utilisation: Family<SignalLabels, Gauge<f64, AtomicU64>>,
    high_threshold: Gauge<f64, AtomicU64>,
    above_high: Gauge,
    seconds_above_high: Counter<f64, AtomicU64>,
    phase: Family<PhaseLabels, Gauge>,
    decision: Family<DecisionLabels, Gauge>,
    decisions: Family<DecisionLabels, Counter>,
    resizes: Family<ResizeLabels, Counter>,
    backed_off: Family<SizeLabels, Gauge>,
    errors: Family<ErrorLabels, Counter>,
    nodes: Gauge,
    healthy_instances: Gauge,
    leader: Gauge,
    loop_duration: Histogram,
}

impl Metrics {
    /// Registers every metric in `registry` under [`PREFIX`].
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            current_size: Family::default(),
            target_size: Family::default(),
            current_rung: Gauge::default(),
            signal: Family::default(),
            utilisation: Family::default(),
            high_threshold: Gauge::default(),
            above_high: Gauge::default(),
            seconds_above_high: Counter::default(),
            phase: Family::default(),
            decision: Family::default(),
            decisions: Family::default(),
            resizes: Family::default(),
            backed_off: Family::default(),
            errors: Family::default(),
            nodes: Gauge::default(),
            healthy_instances: Gauge::default(),
            leader: Gauge::default(),
            loop_duration: Histogram::new(exponential_buckets(0.01, 2.0, 12)),
        };
        let r = registry.sub_registry_with_prefix(PREFIX);
        r.register(
            "current_size",
            "The size the control plane runs at (1 for that size)",
            m.current_size.clone(),
        );
        r.register(
            "target_size",
            "The size the last decision chose (1 for that size)",
            m.target_size.clone(),
        );
        r.register(
            "current_rung",
            "Position of the current size on the ladder (0 = smallest)",
            m.current_rung.clone(),
        );
        r.register(
            "signal",
            "Latest value of each signal (cores, MiB, seats, seconds)",
            m.signal.clone(),
        );
        r.register(
            "utilisation",
            "Mean utilisation of the current size over the up window",
            m.utilisation.clone(),
        );
        r.register(
            "high_threshold",
            "The high threshold (fraction of capacity)",
            m.high_threshold.clone(),
        );
        r.register(
            "above_high_threshold",
            "Whether the load is above the high threshold now",
            m.above_high.clone(),
        );
        r.register(
            "above_high_threshold_seconds",
            "Time the load spent above the high threshold",
            m.seconds_above_high.clone(),
        );
        r.register(
            "roll_phase",
            "What a change in progress is doing (1 for that phase)",
            m.phase.clone(),
        );
        r.register(
            "decision",
            "The last decision and its reason (1 for that pair)",
            m.decision.clone(),
        );
        r.register(
            "decisions",
            "Decisions by action and reason",
            m.decisions.clone(),
        );
        r.register(
            "resizes",
            "Resizes by direction and result",
            m.resizes.clone(),
        );
        r.register(
            "backed_off",
            "Sizes backed off after a refused or failed resize",
            m.backed_off.clone(),
        );
        r.register("errors", "Errors of the ports by kind", m.errors.clone());
        r.register("nodes", "Nodes in the cluster", m.nodes.clone());
        r.register(
            "healthy_instances",
            "Healthy control-plane instances (self-managed)",
            m.healthy_instances.clone(),
        );
        r.register(
            "leader",
            "Whether this replica is the leader",
            m.leader.clone(),
        );
        r.register(
            "loop_duration_seconds",
            "Duration of a control loop",
            m.loop_duration.clone(),
        );
        m
    }

    /// The current size (and its rung), clearing the previous one.
    pub fn record_size(&self, sizes: &[String], current: &str, rung: Option<usize>) {
        for s in sizes {
            let labels = SizeLabels { size: s.clone() };
            self.current_size
                .get_or_create(&labels)
                .set(i64::from(s == current));
        }
        self.current_rung
            .set(rung.and_then(|r| i64::try_from(r).ok()).unwrap_or(-1));
    }

    /// The last decision's target, action and reason.
    pub fn record_decision(
        &self,
        sizes: &[String],
        target: &str,
        action: &str,
        reason: &'static str,
    ) {
        for s in sizes {
            let labels = SizeLabels { size: s.clone() };
            self.target_size
                .get_or_create(&labels)
                .set(i64::from(s == target));
        }
        let labels = DecisionLabels {
            action: action.to_owned(),
            reason: reason.to_owned(),
        };
        self.decision.clear();
        self.decision.get_or_create(&labels).set(1);
        self.decisions.get_or_create(&labels).inc();
    }

    /// A signal's latest value and its utilisation of the current size.
    pub fn record_signal(&self, signal: Signal, latest: Option<f64>, utilisation: Option<f64>) {
        let labels = SignalLabels {
            signal: signal.label().to_owned(),
        };
        self.signal
            .get_or_create(&labels)
            .set(latest.unwrap_or(f64::NAN));
        self.utilisation
            .get_or_create(&labels)
            .set(utilisation.unwrap_or(f64::NAN));
    }

    /// Whether the load is above the threshold, counting `elapsed` towards the time above it.
    pub fn record_pressure(&self, threshold: f64, above: bool, elapsed: Duration) {
        self.high_threshold.set(threshold);
        self.above_high.set(i64::from(above));
        if above {
            self.seconds_above_high.inc_by(elapsed.as_secs_f64());
        }
    }

    /// The phase of a change in progress.
    pub fn record_phase(&self, phase: Phase) {
        for p in Phase::ALL {
            let labels = PhaseLabels {
                phase: p.label().to_owned(),
            };
            self.phase.get_or_create(&labels).set(i64::from(p == phase));
        }
    }

    /// A resize started, ended or was refused.
    pub fn count_resize(&self, direction: &str, result: &str) {
        self.resizes
            .get_or_create(&ResizeLabels {
                direction: direction.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// Which sizes are backed off now.
    pub fn record_backoffs(&self, sizes: &[String], backed_off: impl Fn(&str) -> bool) {
        for s in sizes {
            let labels = SizeLabels { size: s.clone() };
            self.backed_off
                .get_or_create(&labels)
                .set(i64::from(backed_off(s)));
        }
    }

    /// An error of `port`.
    pub fn count_error(&self, port: &str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                port: port.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The node count and healthy control-plane instances.
    pub fn record_cluster(&self, nodes: Option<u32>, healthy: Option<u32>) {
        self.nodes.set(nodes.map_or(-1, i64::from));
        self.healthy_instances.set(healthy.map_or(-1, i64::from));
    }

    /// Leadership.
    pub fn record_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// A loop's duration.
    pub fn observe_loop(&self, elapsed: Duration) {
        self.loop_duration.observe(elapsed.as_secs_f64());
    }
}
