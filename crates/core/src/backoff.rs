//! Per-key exponential backoff, as the cluster autoscaler backs off node groups whose
//! scale-up failed: initial 5 min, doubling to 30 min, forgotten after 3 h without failure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::time::Timestamp;

/// Invalid backoff configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackoffError {
    /// The initial backoff must be longer than zero.
    #[error("backoff initial duration must be > 0")]
    ZeroInitial,
    /// The maximum backoff must be at least the initial one.
    #[error("backoff max duration {max:?} is shorter than the initial duration {initial:?}")]
    MaxBelowInitial {
        /// The configured initial duration.
        initial: Duration,
        /// The configured maximum.
        max: Duration,
    },
    /// The reset period must be longer than zero.
    #[error("backoff reset_after duration must be > 0")]
    ZeroReset,
}

/// Validated backoff settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffConfig {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
}

impl Default for BackoffConfig {
    /// The upstream cluster-autoscaler defaults: 5 min, 30 min, 3 h.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(5 * 60),
            max: Duration::from_secs(30 * 60),
            reset_after: Duration::from_secs(3 * 60 * 60),
        }
    }
}

impl BackoffConfig {
    /// Validates: `initial > 0`, `max ≥ initial`, `reset_after > 0`.
    pub fn try_new(
        initial: Duration,
        max: Duration,
        reset_after: Duration,
    ) -> Result<Self, BackoffError> {
        if initial.is_zero() {
            return Err(BackoffError::ZeroInitial);
        }
        if max < initial {
            return Err(BackoffError::MaxBelowInitial { initial, max });
        }
        if reset_after.is_zero() {
            return Err(BackoffError::ZeroReset);
        }
        Ok(Self {
            initial,
            max,
            reset_after,
        })
    }

    /// Backoff after the first failure.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// Longest backoff.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// A key with no failure for this long starts again from `initial`.
    pub fn reset_after(&self) -> Duration {
        self.reset_after
    }
}

/// The backoff state of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffEntry {
    /// Failures since the last reset.
    pub failures: u32,
    /// When the last failure was recorded.
    pub last_failure: Timestamp,
    /// The current backoff length.
    pub duration: Duration,
    /// Backed off until this instant.
    pub until: Timestamp,
}

/// Exponential backoff per key (e.g. per node group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff<K: Ord + Clone> {
    config: BackoffConfig,
    entries: BTreeMap<K, BackoffEntry>,
}

impl<K: Ord + Clone> Backoff<K> {
    /// No key backed off yet.
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            entries: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Records a failure of `key` at `now`: the backoff doubles (up to max), or restarts from
    /// the initial length if the last failure is `reset_after` or more ago. Returns the end.
    pub fn record_failure(&mut self, key: &K, now: Timestamp) -> Timestamp {
        let cfg = self.config;
        let next = match self.entries.get(key) {
            Some(e) if now.since(e.last_failure) < cfg.reset_after => BackoffEntry {
                failures: e.failures.saturating_add(1),
                last_failure: now,
                duration: e.duration.saturating_mul(2).min(cfg.max),
                until: now,
            },
            _ => BackoffEntry {
                failures: 1,
                last_failure: now,
                duration: cfg.initial,
                until: now,
            },
        };
        let entry = BackoffEntry {
            until: now + next.duration,
            ..next
        };
        self.entries.insert(key.clone(), entry);
        entry.until
    }

    /// A success clears the key's backoff (the next failure starts from the initial length).
    pub fn record_success(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// When `key` is backed off at `now`, the instant the backoff ends.
    pub fn backed_off_until(&self, key: &K, now: Timestamp) -> Option<Timestamp> {
        self.entries
            .get(key)
            .map(|e| e.until)
            .filter(|until| *until > now)
    }

    /// Is `key` backed off at `now`?
    pub fn is_backed_off(&self, key: &K, now: Timestamp) -> bool {
        self.backed_off_until(key, now).is_some()
    }

    /// Every key with state, in key order (for metrics), including expired backoffs still
    /// remembered for doubling.
    pub fn entries(&self) -> impl Iterator<Item = (&K, &BackoffEntry)> {
        self.entries.iter()
    }

    /// Forgets keys whose last failure is `reset_after` or more before `now` (bounded memory).
    pub fn prune(&mut self, now: Timestamp) {
        let reset = self.config.reset_after;
        self.entries
            .retain(|_, e| now.since(e.last_failure) < reset);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn at_min(m: i64) -> Timestamp {
        Timestamp::from_secs(m * 60)
    }

    #[test]
    fn defaults_are_upstream() {
        let c = BackoffConfig::default();
        assert_eq!(c.initial(), 5 * MIN);
        assert_eq!(c.max(), 30 * MIN);
        assert_eq!(c.reset_after(), 180 * MIN);
    }

    #[test]
    fn config_validation_names_the_problem() {
        assert_eq!(
            BackoffConfig::try_new(Duration::ZERO, MIN, MIN),
            Err(BackoffError::ZeroInitial)
        );
        assert_eq!(
            BackoffConfig::try_new(2 * MIN, MIN, MIN),
            Err(BackoffError::MaxBelowInitial {
                initial: 2 * MIN,
                max: MIN
            })
        );
        assert_eq!(
            BackoffConfig::try_new(MIN, MIN, Duration::ZERO),
            Err(BackoffError::ZeroReset)
        );
        let ok = BackoffConfig::try_new(MIN, MIN, MIN).unwrap();
        assert_eq!(ok.max(), MIN);
        assert!(BackoffError::ZeroInitial.to_string().contains("initial"));
    }

    #[test]
    fn sequence_doubles_to_the_cap_5_10_20_30_30() {
        let mut b = Backoff::new(BackoffConfig::default());
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..5 {
            let until = b.record_failure(&"pool-a", at_min(now));
            lengths.push((until.as_millis() - at_min(now).as_millis()) / 60_000);
            now = until.as_millis() / 60_000; // fail again right when the backoff ends
        }
        assert_eq!(lengths, vec![5, 10, 20, 30, 30]);
        assert_eq!(b.entries().next().unwrap().1.failures, 5);
    }

    #[test]
    fn backed_off_until_holds_until_the_end_only() {
        let mut b = Backoff::new(BackoffConfig::default());
        assert_eq!(b.backed_off_until(&1, at_min(0)), None);
        let until = b.record_failure(&1, at_min(0));
        assert_eq!(until, at_min(5));
        assert_eq!(b.backed_off_until(&1, at_min(4)), Some(at_min(5)));
        assert!(b.is_backed_off(&1, at_min(4)));
        assert_eq!(b.backed_off_until(&1, at_min(5)), None);
        assert_eq!(
            b.backed_off_until(&2, at_min(1)),
            None,
            "keys are independent"
        );
    }

    #[test]
    fn resets_after_three_hours_without_failure() {
        let mut b = Backoff::new(BackoffConfig::default());
        b.record_failure(&"g", at_min(0));
        b.record_failure(&"g", at_min(10)); // 10 min
        assert_eq!(b.record_failure(&"g", at_min(30)), at_min(50)); // 20 min
        // Just under 3 h after the last failure: still doubling (capped at 30).
        assert_eq!(b.record_failure(&"g", at_min(209)), at_min(239));
        // 3 h after the last failure: back to 5 min.
        assert_eq!(b.record_failure(&"g", at_min(389)), at_min(394));
        assert_eq!(b.entries().next().unwrap().1.failures, 1);
    }

    #[test]
    fn success_clears_and_prune_forgets_old_keys() {
        let mut b = Backoff::new(BackoffConfig::default());
        b.record_failure(&"a", at_min(0));
        b.record_failure(&"a", at_min(5));
        b.record_success(&"a");
        assert_eq!(b.backed_off_until(&"a", at_min(6)), None);
        assert_eq!(
            b.record_failure(&"a", at_min(7)),
            at_min(12),
            "starts again at 5 min"
        );
        b.record_failure(&"b", at_min(100));
        b.prune(at_min(187));
        let keys: Vec<_> = b.entries().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["b"]);
    }

    #[test]
    fn custom_config_is_honoured() {
        let cfg =
            BackoffConfig::try_new(Duration::from_secs(10), Duration::from_secs(25), MIN).unwrap();
        let mut b = Backoff::new(cfg);
        let t0 = Timestamp::from_secs(0);
        assert_eq!(b.record_failure(&0u8, t0), Timestamp::from_secs(10));
        assert_eq!(b.record_failure(&0u8, t0), Timestamp::from_secs(20));
        assert_eq!(b.record_failure(&0u8, t0), Timestamp::from_secs(25));
        assert_eq!(
            b.record_failure(&0u8, Timestamp::from_secs(60)),
            Timestamp::from_secs(70)
        );
    }
}
