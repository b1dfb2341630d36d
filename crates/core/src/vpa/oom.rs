//! OOM kills: Tidal's recovery rule, and upstream's rule kept as a reference.
//!
//! Tidal's rule ([`OomMemory`]): a kill sets a memory *floor* above what the container
//! used when it was killed, `max(used, request, current floor) × factor`, at least
//! `+ min_bump`. The factor escalates with kills that follow each other within
//! `escalation_window` (×1.2, ×1.5, ×2 by default) and the floor is remembered, so the
//! next kill starts from it. A kill at a request *below* the floor (the floor was never
//! applied: `maxAllowed` capped it, or no updater acted) does not escalate: the floor
//! would only run away from a value nobody applies. After `stable_period` without a kill
//! the floor halves every `decay_half_life`, so the recommendation returns to the
//! histogram's value gradually. The floor lives beside the histograms, not in them, so
//! it neither needs samples (a container killed before its first sample still gets a
//! recommendation) nor inflates the percentiles for a week (kubernetes/autoscaler#9521).
//!
//! Upstream's rule ([`UpstreamOomRule`]): a kill adds an artificial memory peak of
//! `max(used + 100 MiB, used × 1.2)` with `used = max(request, current usage peak)`,
//! ignoring earlier OOM peaks; kills older than one interval before the current one are
//! refused. Kept to compare against (tests and the simulator), not used by [`super::recommend`].

use std::time::Duration;

use super::aggregate::{ContainerAggregate, SampleOutcome};
use crate::Timestamp;

/// 100 MiB: the smallest bump, upstream's `OOMMinBumpUp`.
pub const MIN_BUMP_BYTES: f64 = 100.0 * 1024.0 * 1024.0;

/// Settings of Tidal's OOM rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OomPolicy {
    /// Factor for the 1st, 2nd, 3rd-and-later kill within the escalation window.
    pub factors: [f64; 3],
    /// The smallest increase over the base, in bytes.
    pub min_bump_bytes: f64,
    /// Kills closer together than this escalate the factor.
    pub escalation_window: Duration,
    /// The floor holds at full height for this long after the last kill.
    pub stable_period: Duration,
    /// Then it halves every this long.
    pub decay_half_life: Duration,
}

impl Default for OomPolicy {
    fn default() -> Self {
        Self {
            factors: [1.2, 1.5, 2.0],
            min_bump_bytes: MIN_BUMP_BYTES,
            escalation_window: Duration::from_secs(3600),
            stable_period: Duration::from_secs(24 * 3600),
            decay_half_life: Duration::from_secs(12 * 3600),
        }
    }
}

/// What a recorded OOM kill did to the floor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OomOutcome {
    /// The floor after this kill, in bytes.
    pub floor_bytes: f64,
    /// The factor applied (1 when the kill did not escalate).
    pub factor: f64,
    /// False when the kill came at a request below the floor already asked for: the
    /// floor was not applied, so it is kept, not raised.
    pub escalated: bool,
}

/// Tidal's OOM memory of one container (see the module doc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OomMemory {
    floor_bytes: f64,
    last_kill: Option<Timestamp>,
    /// Index into the factors of the last escalating kill.
    streak: u8,
    kills: u32,
    /// Kills at a request below the floor, since the last escalating kill.
    kills_below_floor: u32,
}

impl OomMemory {
    /// The floor at `now`: full height for `stable_period` after the last kill, then
    /// halving every `decay_half_life`. 0 without a kill.
    pub fn floor_at(&self, policy: &OomPolicy, now: Timestamp) -> f64 {
        let Some(last) = self.last_kill else {
            return 0.0;
        };
        let quiet = now.since(last);
        if quiet <= policy.stable_period {
            return self.floor_bytes;
        }
        let decaying = (quiet - policy.stable_period).as_secs_f64();
        let half_life = policy.decay_half_life.as_secs_f64().max(1.0);
        self.floor_bytes * (-decaying / half_life).exp2()
    }

    /// Time of the last kill.
    pub fn last_kill(&self) -> Option<Timestamp> {
        self.last_kill
    }

    /// Kills recorded.
    pub fn kills(&self) -> u32 {
        self.kills
    }

    /// Kills at a request below the floor since the floor last rose (the floor is not
    /// being applied, typically because `maxAllowed` caps it).
    pub fn kills_below_floor(&self) -> u32 {
        self.kills_below_floor
    }

    /// Applies one kill (see the module doc).
    pub(crate) fn record(
        &mut self,
        policy: &OomPolicy,
        now: Timestamp,
        used: f64,
        request: f64,
    ) -> OomOutcome {
        let current = self.floor_at(policy, now);
        let within_window = self
            .last_kill
            .is_some_and(|last| now.since(last) <= policy.escalation_window);
        self.kills = self.kills.saturating_add(1);
        if current > 0.0 && request < current {
            // The floor was never applied; keep it (and keep it from decaying).
            self.floor_bytes = current.max(used);
            self.last_kill = Some(now.max(self.last_kill.unwrap_or(now)));
            self.kills_below_floor = self.kills_below_floor.saturating_add(1);
            return OomOutcome {
                floor_bytes: self.floor_bytes,
                factor: 1.0,
                escalated: false,
            };
        }
        self.streak = if within_window {
            (self.streak + 1).min(policy.factors.len() as u8 - 1)
        } else {
            0
        };
        let factor = policy.factors[self.streak as usize];
        let base = used.max(request).max(current);
        self.floor_bytes = (base * factor).max(base + policy.min_bump_bytes);
        self.last_kill = Some(now.max(self.last_kill.unwrap_or(now)));
        self.kills_below_floor = 0;
        OomOutcome {
            floor_bytes: self.floor_bytes,
            factor,
            escalated: true,
        }
    }
}

/// Upstream's OOM rule, as a reference implementation (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpstreamOomRule {
    /// `--oom-bump-up-ratio` (1.2).
    pub bump_ratio: f64,
    /// `--oom-min-bump-up-bytes` (100 MiB).
    pub min_bump_bytes: f64,
}

impl Default for UpstreamOomRule {
    fn default() -> Self {
        Self {
            bump_ratio: 1.2,
            min_bump_bytes: MIN_BUMP_BYTES,
        }
    }
}

/// Why upstream's rule refused a kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OomRejected {
    /// Older than one interval before the current memory interval.
    #[error("OOM kill too old for the current memory interval")]
    TooOld,
    /// Not larger than the current interval's peak: changes nothing.
    #[error("OOM kill below the current interval's peak")]
    BelowPeak,
}

impl UpstreamOomRule {
    /// The memory upstream records for a kill: `max(used + min_bump, used × ratio)` with
    /// `used = max(request, usage peak of the current interval)`.
    pub fn needed_bytes(&self, request_bytes: f64, interval_usage_peak: f64) -> f64 {
        let used = request_bytes.max(interval_usage_peak);
        (used + self.min_bump_bytes).max(used * self.bump_ratio)
    }

    /// Records a kill at `now` the way upstream does: an artificial peak in the memory
    /// histogram. Upstream's observer passes the memory *request* of the killed container.
    pub fn record(
        &self,
        state: &mut ContainerAggregate,
        now: Timestamp,
        request_bytes: f64,
    ) -> Result<f64, OomRejected> {
        let interval = state.config.memory_interval;
        if let Some(end) = state.window_end
            && now < end - interval
        {
            return Err(OomRejected::TooOld);
        }
        let needed = self.needed_bytes(request_bytes.max(0.0), state.interval_usage_peak);
        match state.add_memory_peak(now, needed, true) {
            SampleOutcome::Added => Ok(needed),
            _ => Err(OomRejected::BelowPeak),
        }
    }
}
