//! The decision's settings, validated on construction.

use std::time::Duration;

use thiserror::Error;

use super::floor::NodeFloor;

/// The high threshold that leaves room to lose one of `nodes` control-plane nodes: (n−1)/n, as
/// OpenShift's undersized-master alerts judge it (2/3 with 3 nodes). With one node there is no
/// survivor to protect, and 0.8 (OpenShift's error-budget line) is used.
pub fn ha_threshold(nodes: u32) -> f64 {
    if nodes <= 1 {
        0.8
    } else {
        f64::from(nodes - 1) / f64::from(nodes)
    }
}

/// A setting out of range; the field is the flag name.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DecisionConfigError {
    /// A fraction outside its range.
    #[error("{field}: {value} is outside {range}")]
    OutOfRange {
        /// The flag.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range.
        range: &'static str,
    },
    /// A window or age that must be longer than zero.
    #[error("{field} must be longer than zero")]
    ZeroDuration {
        /// The flag.
        field: &'static str,
    },
}

/// How the decision judges load and paces changes.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionConfig {
    /// Step up when the mean utilisation over the up window is above this fraction.
    pub high_threshold: f64,
    /// Step down only when the peak on the smaller size stays below `high × (1 − margin)`.
    pub down_margin: f64,
    /// Jump past the next size (to the smallest that fits) when the utilisation is at least this.
    pub jump_threshold: f64,
    /// Window of sustained load before a step up.
    pub up_window: Duration,
    /// Window of low load before a step down.
    pub down_window: Duration,
    /// No change for this long after a step up.
    pub up_cooldown: Duration,
    /// No change for this long after a step down.
    pub down_cooldown: Duration,
    /// Share of a window the samples must cover.
    pub coverage: f64,
    /// The newest sample must be at most this old.
    pub max_sample_age: Duration,
    /// Step up when the API request latency p99 (seconds) stays above this; never down then.
    pub latency_p99_high: Option<f64>,
    /// The smallest size by node count.
    pub node_floor: NodeFloor,
    /// Step up when needed (OpenShift's proposal let each direction be disabled).
    pub scale_up: bool,
    /// Step down when possible.
    pub scale_down: bool,
}

impl DecisionConfig {
    /// Defaults for a control plane of `nodes` instances (high threshold (n−1)/n).
    pub fn for_nodes(nodes: u32) -> Self {
        Self {
            high_threshold: ha_threshold(nodes),
            down_margin: 0.2,
            jump_threshold: 0.9,
            up_window: Duration::from_secs(15 * 60),
            down_window: Duration::from_secs(2 * 3600),
            up_cooldown: Duration::from_secs(30 * 60),
            down_cooldown: Duration::from_secs(2 * 3600),
            coverage: 0.8,
            max_sample_age: Duration::from_secs(5 * 60),
            latency_p99_high: None,
            node_floor: NodeFloor::kube_up(),
            scale_up: true,
            scale_down: true,
        }
    }

    /// Checks every setting; `Self` is only used after this passed.
    pub fn validate(&self) -> Result<(), DecisionConfigError> {
        let fraction = |field, value: f64, lo: f64, hi: f64, range| {
            if value.is_finite() && value > lo && value <= hi {
                Ok(())
            } else {
                Err(DecisionConfigError::OutOfRange {
                    field,
                    value,
                    range,
                })
            }
        };
        fraction("--high-threshold", self.high_threshold, 0.0, 1.0, "(0, 1]")?;
        if !(0.0..=0.9).contains(&self.down_margin) {
            return Err(DecisionConfigError::OutOfRange {
                field: "--down-margin",
                value: self.down_margin,
                range: "[0, 0.9]",
            });
        }
        fraction("--coverage", self.coverage, 0.0, 1.0, "(0, 1]")?;
        if !(self.jump_threshold.is_finite() && self.jump_threshold > self.high_threshold) {
            return Err(DecisionConfigError::OutOfRange {
                field: "--jump-threshold",
                value: self.jump_threshold,
                range: "above --high-threshold",
            });
        }
        if let Some(l) = self.latency_p99_high {
            fraction("--latency-p99-high", l, 0.0, f64::MAX, "(0, ∞) seconds")?;
        }
        for (field, d) in [
            ("--up-window", self.up_window),
            ("--down-window", self.down_window),
            ("--max-sample-age", self.max_sample_age),
        ] {
            if d.is_zero() {
                return Err(DecisionConfigError::ZeroDuration { field });
            }
        }
        Ok(())
    }
}
