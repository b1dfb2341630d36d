//! The control plane through the day, minute by minute: the load model's samples, the
//! cp-autoscaler's decision (`tidal_core::control_plane::decide`) once a minute while no
//! resize is in progress, and a resize that takes `resize_time` to be in service.

use std::collections::VecDeque;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::control_plane::{Change, Direction, Series, Signal, Signals, decide};

use super::load::ClusterLoad;
use super::settings::{ControlPlaneKind, ControlPlaneSettings};
use super::{CpChange, CpMinute, CpRun};
use crate::scenario::SIM_EPOCH;

const MINUTE: Duration = Duration::from_secs(60);

/// The samples the decision reads: one per minute per signal, the last down window's worth.
struct Samples {
    keep: Duration,
    points: VecDeque<(Timestamp, [f64; 3])>,
}

impl Samples {
    fn push(&mut self, at: Timestamp, values: [f64; 3]) {
        self.points.push_back((at, values));
        while self
            .points
            .front()
            .is_some_and(|(t, _)| at.since(*t) > self.keep)
        {
            self.points.pop_front();
        }
    }

    fn signals(&self, kind: ControlPlaneKind) -> Signals {
        let series = |i: usize| Series::new(self.points.iter().map(|(t, v)| (*t, v[i])));
        match kind {
            ControlPlaneKind::SelfManaged => Signals {
                cpu: series(0),
                memory: series(1),
                ..Signals::default()
            },
            ControlPlaneKind::Eks => Signals {
                seats: series(2),
                ..Signals::default()
            },
        }
    }
}

/// The three signals for one minute: CPU cores per control-plane node, MiB per node, seats.
fn sample(settings: &ControlPlaneSettings, load: ClusterLoad) -> [f64; 3] {
    let m = &settings.load;
    [
        m.cpu.at(load) / f64::from(settings.nodes),
        m.memory_mib.at(load),
        m.seats.at(load),
    ]
}

/// The highest utilisation of `rung` by `values` over the signals the rung states a
/// capacity for.
pub fn utilisation(settings: &ControlPlaneSettings, rung: usize, values: [f64; 3]) -> f64 {
    let Some(capacity) = settings.ladder.get(rung).map(|r| r.capacity) else {
        return 0.0;
    };
    [Signal::Cpu, Signal::Memory, Signal::Seats]
        .iter()
        .zip(values)
        .filter_map(|(s, v)| s.capacity(&capacity).filter(|c| *c > 0.0).map(|c| v / c))
        .fold(0.0, f64::max)
}

/// The size in service and the autoscaler's memory of its last change.
struct Sizing {
    current: usize,
    /// A resize in progress: its target and when it is in service.
    resizing: Option<(usize, Timestamp)>,
    last_change: Option<Change>,
}

impl Sizing {
    /// Puts a finished resize in service.
    fn settle(&mut self, now: Timestamp) {
        if let Some((target, done)) = self.resizing
            && now >= done
        {
            self.current = target;
            self.resizing = None;
        }
    }

    /// Decides, as the cp-autoscaler does each loop while no resize is in progress, and
    /// starts the resize the decision asks for.
    fn decide(
        &mut self,
        settings: &ControlPlaneSettings,
        samples: &Samples,
        load: ClusterLoad,
        minute: u32,
        now: Timestamp,
    ) -> Option<CpChange> {
        if self.resizing.is_some() {
            return None;
        }
        let d = decide(
            &settings.ladder,
            settings.bounds,
            &settings.decision,
            &samples.signals(settings.kind),
            Some(load.nodes),
            self.current,
            now,
            self.last_change,
        );
        if d.target == self.current {
            return None;
        }
        let direction = if d.target > self.current {
            Direction::Up
        } else {
            Direction::Down
        };
        self.last_change = Some(Change { at: now, direction });
        self.resizing = Some((d.target, now + settings.resize_time));
        let change = CpChange {
            minute,
            from: self.current,
            to: d.target,
            nodes: load.nodes,
            reason: d.reason.label(),
            message: d.reason.to_string(),
        };
        self.settle(now);
        Some(change)
    }
}

/// Runs the day: autoscaled when `autoscale`, else at the starting size throughout.
pub fn run(settings: &ControlPlaneSettings, minutes: &[ClusterLoad], autoscale: bool) -> CpRun {
    let mut samples = Samples {
        keep: settings.decision.down_window + MINUTE,
        points: VecDeque::new(),
    };
    // The controller has been running before 00:00 at the size of 00:00.
    let first = minutes.first().copied().unwrap_or_default();
    let warm = u32::try_from(settings.decision.down_window.as_secs() / 60).unwrap_or(u32::MAX);
    for m in (1..=warm).rev() {
        samples.push(SIM_EPOCH - MINUTE * m, sample(settings, first));
    }
    let mut sizing = Sizing {
        current: settings.start,
        resizing: None,
        last_change: None,
    };
    let mut out = CpRun::default();
    for (m, load) in (0u32..).zip(minutes) {
        let now = SIM_EPOCH + MINUTE * m;
        sizing.settle(now);
        let values = sample(settings, *load);
        samples.push(now, values);
        let u = utilisation(settings, sizing.current, values);
        out.minutes.push(CpMinute {
            rung: sizing.current,
            utilisation: u,
            nodes: load.nodes,
        });
        if u > settings.decision.high_threshold {
            out.minutes_above_high += 1;
        }
        if autoscale && let Some(change) = sizing.decide(settings, &samples, *load, m, now) {
            out.changes.push(change);
        }
    }
    out
}
