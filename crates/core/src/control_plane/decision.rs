//! The decision: which size the control plane should run at now, and why.
//!
//! In order, the first rule that applies wins:
//! 1. below the configured minimum size or below the node-count floor: up to it at once (the
//!    floor is known, not guessed from noisy load, so no cooldown holds it back);
//! 2. a signal the decision needs has no recent samples covering the window: no change
//!    (Prometheus down is never a reason to resize);
//! 3. within the cooldown after the last change: no change;
//! 4. the mean utilisation over the up window above the high threshold: one step up, or a jump
//!    to the smallest size that fits when it is at least the jump threshold;
//! 5. the peak over the long down window, projected onto the next smaller size, below
//!    `high × (1 − margin)`: one step down. Because a step up needs the load above `high` on
//!    the smaller size and a step down needs it below `high × (1 − margin)` there, a steady
//!    load never moves the size back and forth.

use std::cmp::Ordering;
use std::fmt;

use super::config::DecisionConfig;
use super::ladder::{Bounds, Ladder};
use super::signals::{Signal, Signals};
use crate::time::Timestamp;

/// Which way a change went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// To a bigger size.
    Up,
    /// To a smaller size.
    Down,
}

impl Direction {
    /// `up` or `down`.
    pub fn label(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// The last change made (or started), for cooldowns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// When it was decided.
    pub at: Timestamp,
    /// Which way.
    pub direction: Direction,
}

/// What the decision does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Keep the current size.
    Hold,
    /// Move to a bigger size.
    Up,
    /// Move to a smaller size.
    Down,
}

impl Action {
    /// `hold`, `up` or `down`.
    pub fn label(self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::Up => "up",
            Action::Down => "down",
        }
    }
}

/// Why the decision is what it is.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The current size is below the configured minimum.
    BelowMinimum,
    /// The node count needs a bigger size (kube-up's table).
    BelowNodeFloor {
        /// Nodes in the cluster.
        nodes: u32,
    },
    /// The node count is unknown and a node-count floor is configured.
    MissingNodeCount,
    /// A needed signal has no samples covering the window.
    MissingMetrics {
        /// The signal.
        signal: Signal,
        /// Whether the long (down) window was being judged.
        long_window: bool,
    },
    /// Too soon after the last change.
    Cooldown {
        /// The last change's direction.
        after: Direction,
        /// When changes are allowed again.
        until: Timestamp,
    },
    /// Sustained load above the high threshold: one step up.
    AboveHigh {
        /// The signal furthest above.
        signal: Signal,
        /// Its mean utilisation of the current size.
        utilisation: f64,
    },
    /// Load far above the high threshold: straight to the size that fits.
    FarAboveHigh {
        /// The signal furthest above.
        signal: Signal,
        /// Its mean utilisation of the current size.
        utilisation: f64,
    },
    /// Request latency p99 stayed above its limit: one step up.
    LatencyHigh {
        /// Mean p99 over the up window, seconds.
        p99: f64,
    },
    /// Above the high threshold, but already at the largest allowed size.
    AtMaximum {
        /// The signal furthest above.
        signal: Signal,
        /// Its mean utilisation.
        utilisation: f64,
    },
    /// Above the high threshold, but stepping up is disabled.
    ScaleUpDisabled {
        /// The signal furthest above.
        signal: Signal,
        /// Its mean utilisation.
        utilisation: f64,
    },
    /// Low for the whole down window, and the smaller size keeps the margin: one step down.
    LowOnSmaller {
        /// The signal closest to the limit on the smaller size.
        signal: Signal,
        /// Its peak utilisation projected onto the smaller size.
        projected: f64,
    },
    /// The load fits: nothing to do (a step down would not keep the margin, or no smaller size
    /// is allowed, or stepping down is disabled).
    Fits {
        /// The signal with the highest utilisation.
        signal: Signal,
        /// Its mean utilisation of the current size.
        utilisation: f64,
    },
}

impl Reason {
    /// A short, bounded name for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Reason::BelowMinimum => "below_minimum",
            Reason::BelowNodeFloor { .. } => "below_node_floor",
            Reason::MissingNodeCount => "missing_node_count",
            Reason::MissingMetrics { .. } => "missing_metrics",
            Reason::Cooldown { .. } => "cooldown",
            Reason::AboveHigh { .. } => "above_high",
            Reason::FarAboveHigh { .. } => "far_above_high",
            Reason::LatencyHigh { .. } => "latency_high",
            Reason::AtMaximum { .. } => "at_maximum",
            Reason::ScaleUpDisabled { .. } => "scale_up_disabled",
            Reason::LowOnSmaller { .. } => "low_on_smaller",
            Reason::Fits { .. } => "fits",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |u: &f64| u * 100.0;
        match self {
            Reason::BelowMinimum => write!(f, "the current size is below the configured minimum"),
            Reason::BelowNodeFloor { nodes } => {
                write!(f, "{nodes} nodes need a bigger control plane")
            }
            Reason::MissingNodeCount => write!(f, "the node count is unknown; no change"),
            Reason::MissingMetrics {
                signal,
                long_window,
            } => write!(
                f,
                "{signal} samples do not cover the {} window; no change",
                if *long_window { "down" } else { "up" }
            ),
            Reason::Cooldown { after, until } => write!(
                f,
                "cooldown after the last step {} until {} ms",
                after.label(),
                until.as_millis()
            ),
            Reason::AboveHigh {
                signal,
                utilisation,
            } => write!(
                f,
                "{signal} at {:.0}% is above the high threshold",
                pct(utilisation)
            ),
            Reason::FarAboveHigh {
                signal,
                utilisation,
            } => write!(
                f,
                "{signal} at {:.0}% is far above the high threshold",
                pct(utilisation)
            ),
            Reason::LatencyHigh { p99 } => {
                write!(f, "request latency p99 {p99:.2}s is above its limit")
            }
            Reason::AtMaximum {
                signal,
                utilisation,
            } => write!(
                f,
                "{signal} at {:.0}% is above the high threshold but the size is at its maximum",
                pct(utilisation)
            ),
            Reason::ScaleUpDisabled {
                signal,
                utilisation,
            } => write!(
                f,
                "{signal} at {:.0}% is above the high threshold but scale-up is disabled",
                pct(utilisation)
            ),
            Reason::LowOnSmaller { signal, projected } => write!(
                f,
                "the peak {signal} would be {:.0}% of the smaller size, within the margin",
                pct(projected)
            ),
            Reason::Fits {
                signal,
                utilisation,
            } => write!(f, "{signal} at {:.0}%: the size fits", pct(utilisation)),
        }
    }
}

/// A decision: from which rung to which, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The current rung.
    pub current: usize,
    /// The rung to run at (equal to `current` when holding).
    pub target: usize,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    /// Hold, up or down.
    pub fn action(&self) -> Action {
        match self.target.cmp(&self.current) {
            Ordering::Equal => Action::Hold,
            Ordering::Greater => Action::Up,
            Ordering::Less => Action::Down,
        }
    }

    fn hold(current: usize, reason: Reason) -> Self {
        Self {
            current,
            target: current,
            reason,
        }
    }
}

/// The world the decision sees.
struct Inputs<'a> {
    ladder: &'a Ladder,
    bounds: Bounds,
    config: &'a DecisionConfig,
    signals: &'a Signals,
    now: Timestamp,
    current: usize,
}

/// Decides the size for the control plane now at rung `current` of `ladder`.
///
/// `nodes` is the cluster's node count (`None` when unknown), `last_change` the last step made.
/// The target is always within `bounds`, never below the node-count floor (unless the floor is
/// above the maximum), and only changes as the rules in the module doc say.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    ladder: &Ladder,
    bounds: Bounds,
    config: &DecisionConfig,
    signals: &Signals,
    nodes: Option<u32>,
    current: usize,
    now: Timestamp,
    last_change: Option<Change>,
) -> Decision {
    let current = current.min(ladder.len() - 1);
    if current < bounds.min() {
        return Decision {
            current,
            target: bounds.min(),
            reason: Reason::BelowMinimum,
        };
    }
    let floor = match nodes {
        Some(n) => config.node_floor.rung(ladder, n).map(|f| bounds.clamp(f)),
        None if config.node_floor.required(u32::MAX).is_some() => {
            return Decision::hold(current, Reason::MissingNodeCount);
        }
        None => None,
    };
    if let (Some(floor), Some(nodes)) = (floor, nodes)
        && current < floor
    {
        return Decision {
            current,
            target: floor,
            reason: Reason::BelowNodeFloor { nodes },
        };
    }
    let inputs = Inputs {
        ladder,
        bounds,
        config,
        signals,
        now,
        current,
    };
    let load = match inputs.up_window_load() {
        Ok(load) => load,
        Err(reason) => return Decision::hold(current, reason),
    };
    if let Some(cooldown) = cooldown(config, last_change, now) {
        return Decision::hold(current, cooldown);
    }
    if let Some(decision) = inputs.step_up(&load) {
        return decision;
    }
    inputs.step_down(&load, floor.unwrap_or(0))
}

/// `Reason::Cooldown` while the cooldown after `last_change` (up or down) still runs at `now`.
fn cooldown(
    config: &DecisionConfig,
    last_change: Option<Change>,
    now: Timestamp,
) -> Option<Reason> {
    let change = last_change?;
    let cooldown = match change.direction {
        Direction::Up => config.up_cooldown,
        Direction::Down => config.down_cooldown,
    };
    let until = change.at + cooldown;
    (now < until).then_some(Reason::Cooldown {
        after: change.direction,
        until,
    })
}

/// The mean load over the up window, per signal, and its utilisation of the current size.
struct UpLoad {
    /// (signal, mean, utilisation of the current size), for signals with a capacity.
    sized: Vec<(Signal, f64, f64)>,
    /// Mean latency p99, when a limit is configured.
    latency: Option<f64>,
}

impl UpLoad {
    /// The signal with the highest utilisation.
    fn dominant(&self) -> (Signal, f64) {
        self.sized
            .iter()
            .map(|&(s, _, u)| (s, u))
            .fold((Signal::Cpu, 0.0), |a, b| if b.1 > a.1 { b } else { a })
    }
}

impl Inputs<'_> {
    fn capacity(&self, rung: usize, signal: Signal) -> Option<f64> {
        let rung = self.ladder.get(rung)?;
        signal.capacity(&rung.capacity).filter(|c| *c > 0.0)
    }

    /// The signals judged against the current size: those it states a capacity for.
    fn sized_signals(&self) -> impl Iterator<Item = Signal> + '_ {
        [Signal::Cpu, Signal::Memory, Signal::Seats]
            .into_iter()
            .filter(|s| self.capacity(self.current, *s).is_some())
    }

    fn window(&self, signal: Signal, long: bool) -> Result<super::signals::Window, Reason> {
        let c = self.config;
        let span = if long { c.down_window } else { c.up_window };
        self.signals
            .get(signal)
            .window(self.now, span, c.coverage, c.max_sample_age)
            .ok_or(Reason::MissingMetrics {
                signal,
                long_window: long,
            })
    }

    fn up_window_load(&self) -> Result<UpLoad, Reason> {
        let mut sized = Vec::new();
        for signal in self.sized_signals() {
            let mean = self.window(signal, false)?.mean;
            let capacity = self.capacity(self.current, signal).unwrap_or(f64::INFINITY);
            sized.push((signal, mean, mean / capacity));
        }
        let latency = match self.config.latency_p99_high {
            Some(_) => Some(self.window(Signal::LatencyP99, false)?.mean),
            None => None,
        };
        Ok(UpLoad { sized, latency })
    }

    /// Whether `means` fit on `rung` at or below `limit` utilisation in every signal.
    fn fits(&self, rung: usize, means: &[(Signal, f64)], limit: f64) -> bool {
        means.iter().all(|&(s, v)| {
            self.capacity(rung, s)
                .is_none_or(|capacity| v / capacity <= limit)
        })
    }

    fn step_up(&self, load: &UpLoad) -> Option<Decision> {
        let c = self.config;
        let (signal, utilisation) = load.dominant();
        let latency_high = match (load.latency, c.latency_p99_high) {
            (Some(p99), Some(limit)) => (p99 > limit).then_some(p99),
            _ => None,
        };
        if utilisation <= c.high_threshold && latency_high.is_none() {
            return None;
        }
        let hold = |reason| Some(Decision::hold(self.current, reason));
        if !c.scale_up {
            return hold(Reason::ScaleUpDisabled {
                signal,
                utilisation,
            });
        }
        let next = self
            .ladder
            .next_up(self.current)
            .filter(|&n| n <= self.bounds.max());
        let Some(next) = next else {
            return hold(Reason::AtMaximum {
                signal,
                utilisation,
            });
        };
        let (target, reason) = if utilisation >= c.jump_threshold {
            let means: Vec<(Signal, f64)> = load.sized.iter().map(|&(s, m, _)| (s, m)).collect();
            let mut target = next;
            while !self.fits(target, &means, c.high_threshold) {
                match self.ladder.next_up(target) {
                    Some(n) if n <= self.bounds.max() => target = n,
                    _ => break,
                }
            }
            (
                target,
                Reason::FarAboveHigh {
                    signal,
                    utilisation,
                },
            )
        } else if utilisation > c.high_threshold {
            (
                next,
                Reason::AboveHigh {
                    signal,
                    utilisation,
                },
            )
        } else {
            (
                next,
                Reason::LatencyHigh {
                    p99: latency_high.unwrap_or_default(),
                },
            )
        };
        Some(Decision {
            current: self.current,
            target,
            reason,
        })
    }

    fn step_down(&self, load: &UpLoad, floor: usize) -> Decision {
        let (signal, utilisation) = load.dominant();
        let fits = Decision::hold(
            self.current,
            Reason::Fits {
                signal,
                utilisation,
            },
        );
        let c = self.config;
        let lowest = self.bounds.min().max(floor);
        let candidate = if self.current > self.bounds.max() {
            Some(self.bounds.max())
        } else {
            self.ladder.next_down(self.current)
        };
        let Some(candidate) = candidate.filter(|&d| d >= lowest && c.scale_down) else {
            return fits;
        };
        let limit = c.high_threshold * (1.0 - c.down_margin);
        let mut peaks = Vec::new();
        for signal in self.sized_signals() {
            match self.window(signal, true) {
                Ok(w) => peaks.push((signal, w.max)),
                Err(reason) => return Decision::hold(self.current, reason),
            }
        }
        if let Some(limit) = c.latency_p99_high {
            match self.window(Signal::LatencyP99, true) {
                Ok(w) if w.max > limit => return fits,
                Ok(_) => {}
                Err(reason) => return Decision::hold(self.current, reason),
            }
        }
        if !self.fits(candidate, &peaks, limit) {
            return fits;
        }
        let (signal, projected) = peaks
            .iter()
            .filter_map(|&(s, v)| self.capacity(candidate, s).map(|cap| (s, v / cap)))
            .fold((signal, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        Decision {
            current: self.current,
            target: candidate,
            reason: Reason::LowOnSmaller { signal, projected },
        }
    }
}
