//! What the controller remembers about one HPA between loops. The caller owns it
//! (one per HPA) and passes it to every [`super::reconcile`] call.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A metric-based recommendation, before stabilization and limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampedRecommendation {
    /// Recommended replicas.
    pub replicas: i32,
    /// When it was made.
    pub timestamp: Timestamp,
}

/// One change of the replica count made by the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleEvent {
    /// How many replicas were added or removed (non-negative).
    pub replica_change: i32,
    /// When.
    pub timestamp: Timestamp,
    /// Older than every policy period: its slot may be reused.
    pub outdated: bool,
}

/// Per-HPA memory: recent recommendations and scale events.
///
/// Storage follows upstream: a new entry reuses the slot of an entry that no longer
/// counts, so the lists stay as long as the number of entries inside a window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpaState {
    /// Recent recommendations, for stabilization.
    pub recommendations: Vec<TimestampedRecommendation>,
    /// Recent scale-ups, for the scale-up policies (kept only with `behavior`).
    pub scale_up_events: Vec<ScaleEvent>,
    /// Recent scale-downs, for the scale-down policies (kept only with `behavior`).
    pub scale_down_events: Vec<ScaleEvent>,
    /// The `ScaledToZero` condition (only with the `HPAScaleToZero` gate).
    pub scaled_to_zero: bool,
}

impl HpaState {
    /// A fresh state, as after a controller restart.
    pub fn new() -> Self {
        Self::default()
    }

    /// On the first loop the current replica count counts as a recommendation made now,
    /// so a restarted controller does not scale down before a full window has passed.
    pub fn record_initial_recommendation(&mut self, current: i32, now: Timestamp) {
        if self.recommendations.is_empty() {
            self.recommendations.push(TimestampedRecommendation {
                replicas: current,
                timestamp: now,
            });
        }
    }

    /// Stores `replicas` at `now` in the slot `reuse` (an entry that no longer counts)
    /// or appends it.
    pub(super) fn store_recommendation(
        &mut self,
        reuse: Option<usize>,
        replicas: i32,
        now: Timestamp,
    ) {
        let entry = TimestampedRecommendation {
            replicas,
            timestamp: now,
        };
        match reuse.and_then(|i| self.recommendations.get_mut(i)) {
            Some(slot) => *slot = entry,
            None => self.recommendations.push(entry),
        }
    }

    /// Records a change from `previous` to `new` replicas at `now`; events older than
    /// `longest_period_seconds` of that direction's policies are marked outdated and the
    /// last of them is overwritten.
    pub fn store_scale_event(
        &mut self,
        previous: i32,
        new: i32,
        longest_period_seconds: i32,
        now: Timestamp,
    ) {
        let (events, change) = if new > previous {
            (&mut self.scale_up_events, new.saturating_sub(previous))
        } else {
            (&mut self.scale_down_events, previous.saturating_sub(new))
        };
        let cutoff = now - seconds(longest_period_seconds);
        for event in events.iter_mut() {
            if event.timestamp < cutoff {
                event.outdated = true;
            }
        }
        let event = ScaleEvent {
            replica_change: change,
            timestamp: now,
            outdated: false,
        };
        match events.iter().rposition(|e| e.outdated) {
            Some(i) => events[i] = event,
            None => events.push(event),
        }
    }
}

/// `s` seconds as a duration; negative counts as zero.
pub(super) fn seconds(s: i32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(s).unwrap_or(0))
}
