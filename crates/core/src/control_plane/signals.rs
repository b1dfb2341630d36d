//! The load the decision judges: one time series per signal, in absolute units.

use std::fmt;
use std::time::Duration;

use super::ladder::Capacity;
use crate::time::Timestamp;

/// A load signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// CPU cores in use, averaged over the control-plane nodes.
    Cpu,
    /// Memory in use (MiB), averaged over the control-plane nodes.
    Memory,
    /// API concurrency seats executing in the whole control plane
    /// (`apiserver_flowcontrol_current_executing_seats_total`).
    Seats,
    /// API request latency p99, seconds.
    LatencyP99,
}

impl Signal {
    /// Every signal, in a fixed order (metrics, reports).
    pub const ALL: [Signal; 4] = [
        Signal::Cpu,
        Signal::Memory,
        Signal::Seats,
        Signal::LatencyP99,
    ];

    /// A short, bounded name for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Signal::Cpu => "cpu",
            Signal::Memory => "memory",
            Signal::Seats => "seats",
            Signal::LatencyP99 => "latency_p99",
        }
    }

    /// What a size offers of this signal, if it states it (latency has no capacity).
    pub fn capacity(self, capacity: &Capacity) -> Option<f64> {
        match self {
            Signal::Cpu => capacity.vcpus.map(f64::from),
            Signal::Memory => capacity.memory_mib.map(|m| m as f64),
            Signal::Seats => capacity.seats.map(|s| s as f64),
            Signal::LatencyP99 => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Samples of one signal, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    points: Vec<(Timestamp, f64)>,
}

impl Series {
    /// A series from points in any order; non-finite and negative values are dropped (a broken
    /// exporter must not look like zero load or infinite load).
    pub fn new(points: impl IntoIterator<Item = (Timestamp, f64)>) -> Self {
        let mut points: Vec<(Timestamp, f64)> = points
            .into_iter()
            .filter(|(_, v)| v.is_finite() && *v >= 0.0)
            .collect();
        points.sort_by_key(|(at, _)| *at);
        Self { points }
    }

    /// A steady value sampled every `step` over `span` up to `now` (tests, simulator).
    pub fn steady(value: f64, now: Timestamp, span: Duration, step: Duration) -> Self {
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
        let start = (now - span).as_millis();
        Self::new(
            (0..)
                .map(|i: i64| start.saturating_add(i.saturating_mul(step_ms)))
                .take_while(|ms| *ms <= now.as_millis())
                .map(|ms| (Timestamp::from_millis(ms), value)),
        )
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[(Timestamp, f64)] {
        &self.points
    }

    /// The newest point.
    pub fn latest(&self) -> Option<(Timestamp, f64)> {
        self.points.last().copied()
    }

    /// The values within `(now − window, now]`, if they cover the window: the oldest at most
    /// `window × (1 − coverage)` after its start and the newest at most `max_age` old.
    pub fn window(
        &self,
        now: Timestamp,
        window: Duration,
        coverage: f64,
        max_age: Duration,
    ) -> Option<Window> {
        let start = now - window;
        let inside: Vec<f64> = self
            .points
            .iter()
            .filter(|(at, _)| *at > start && *at <= now)
            .map(|(_, v)| *v)
            .collect();
        let first = self.points.iter().find(|(at, _)| *at > start)?.0;
        let last = self.points.iter().rev().find(|(at, _)| *at <= now)?.0;
        let allowed_gap = window.mul_f64((1.0 - coverage).clamp(0.0, 1.0));
        if inside.is_empty() || first.since(start) > allowed_gap || now.since(last) > max_age {
            return None;
        }
        let mean = inside.iter().sum::<f64>() / inside.len() as f64;
        let max = inside.iter().copied().fold(0.0, f64::max);
        Some(Window { mean, max })
    }
}

/// A signal's summary over a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Mean of the samples.
    pub mean: f64,
    /// Largest sample.
    pub max: f64,
}

/// Every signal's series; a signal not configured is an empty series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signals {
    /// CPU cores in use per control-plane node.
    pub cpu: Series,
    /// Memory in use per control-plane node, MiB.
    pub memory: Series,
    /// API concurrency seats executing.
    pub seats: Series,
    /// API request latency p99, seconds.
    pub latency_p99: Series,
}

impl Signals {
    /// The series of `signal`.
    pub fn get(&self, signal: Signal) -> &Series {
        match signal {
            Signal::Cpu => &self.cpu,
            Signal::Memory => &self.memory,
            Signal::Seats => &self.seats,
            Signal::LatencyP99 => &self.latency_p99,
        }
    }

    /// The series of `signal`, to fill.
    pub fn get_mut(&mut self, signal: Signal) -> &mut Series {
        match signal {
            Signal::Cpu => &mut self.cpu,
            Signal::Memory => &mut self.memory,
            Signal::Seats => &mut self.seats,
            Signal::LatencyP99 => &mut self.latency_p99,
        }
    }
}
