//! Whether the reflector stores can be trusted: not currently failing. (Whether each store has
//! been listed once is the store's own readiness.)
//!
//! A watch that fails keeps the last state in its store; the autoscaler must know how old that
//! state may be, so the snapshot's `taken_at` is the moment the first currently failing watch
//! started failing (or now when all are healthy).

use std::sync::Mutex;

use tidal_core::sync::lock;

use std::time::Duration;

use tidal_core::Timestamp;

use super::liveness::SILENCE_LIMIT;

/// The object kinds the cluster source watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchedKind {
    /// Nodes.
    Nodes,
    /// Pods.
    Pods,
    /// PodDisruptionBudgets.
    PodDisruptionBudgets,
    /// PersistentVolumeClaims.
    PersistentVolumeClaims,
    /// PersistentVolumes.
    PersistentVolumes,
}

impl WatchedKind {
    /// Every kind, in a fixed order.
    pub const ALL: [WatchedKind; 5] = [
        WatchedKind::Nodes,
        WatchedKind::Pods,
        WatchedKind::PodDisruptionBudgets,
        WatchedKind::PersistentVolumeClaims,
        WatchedKind::PersistentVolumes,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Lower-case plural name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            WatchedKind::Nodes => "nodes",
            WatchedKind::Pods => "pods",
            WatchedKind::PodDisruptionBudgets => "poddisruptionbudgets",
            WatchedKind::PersistentVolumeClaims => "persistentvolumeclaims",
            WatchedKind::PersistentVolumes => "persistentvolumes",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct KindState {
    failing_since: Option<Timestamp>,
    /// When the watch last delivered anything (an event, a bookmark, a list).
    heard_at: Option<Timestamp>,
}

/// A watch silent for longer than it may be: its store is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SilentWatch {
    /// The kind watched.
    pub kind: WatchedKind,
    /// When it was last heard.
    pub heard_at: Timestamp,
}

/// Health of every watch, shared between the reflector tasks, the client and the snapshot.
#[derive(Debug)]
pub struct WatchHealth {
    kinds: Mutex<[KindState; 5]>,
    silence_limit: Duration,
}

impl Default for WatchHealth {
    fn default() -> Self {
        Self::new(SILENCE_LIMIT)
    }
}

impl WatchHealth {
    /// Health where a watch silent for longer than `silence_limit` is stale.
    pub fn new(silence_limit: Duration) -> Self {
        Self {
            kinds: Mutex::default(),
            silence_limit,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut [KindState; 5]) -> R) -> R {
        // Plain flags: a panicking holder cannot leave them half-written.
        let mut guard = lock(&self.kinds);
        f(&mut guard)
    }

    /// The watch of `kind` delivered a change or completed a list: it works.
    pub fn working(&self, kind: WatchedKind) {
        self.with(|k| k[kind.index()].failing_since = None);
    }

    /// The watch of `kind` delivered something at `now` (a frame, a bookmark, a listed object).
    pub fn heard(&self, kind: WatchedKind, now: Timestamp) {
        self.with(|k| {
            let heard = &mut k[kind.index()].heard_at;
            *heard = Some(heard.map_or(now, |t| t.max(now)));
        });
    }

    /// Watches heard once and silent for longer than the limit at `now`.
    pub fn silent(&self, now: Timestamp) -> Vec<SilentWatch> {
        let limit = self.silence_limit;
        self.with(|k| {
            WatchedKind::ALL
                .into_iter()
                .filter_map(|kind| {
                    let heard_at = k[kind.index()].heard_at?;
                    (now.since(heard_at) > limit).then_some(SilentWatch { kind, heard_at })
                })
                .collect()
        })
    }

    /// The watch of `kind` failed at `now` (it retries with backoff).
    pub fn failed(&self, kind: WatchedKind, now: Timestamp) {
        self.with(|k| {
            let state = &mut k[kind.index()];
            state.failing_since.get_or_insert(now);
        });
    }

    /// Until when the stores are known to be current: `now` if no watch is failing or silent,
    /// else when the earliest current failure began or the most silent watch was last heard.
    pub fn current_as_of(&self, now: Timestamp) -> Timestamp {
        let silent = self.silent(now).into_iter().map(|s| s.heard_at).min();
        self.with(|k| {
            k.iter()
                .filter_map(|s| s.failing_since)
                .chain(silent)
                .min()
                .unwrap_or(now)
                .min(now)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ongoing_failures_age_the_snapshot_until_the_watch_works_again() {
        let h = WatchHealth::default();
        let now = Timestamp::from_secs(100);
        assert_eq!(h.current_as_of(now), now);
        h.failed(WatchedKind::Pods, Timestamp::from_secs(40));
        h.failed(WatchedKind::Pods, Timestamp::from_secs(60));
        h.failed(WatchedKind::Nodes, Timestamp::from_secs(50));
        assert_eq!(
            h.current_as_of(now),
            Timestamp::from_secs(40),
            "earliest ongoing failure"
        );
        h.working(WatchedKind::Pods);
        assert_eq!(h.current_as_of(now), Timestamp::from_secs(50));
        h.working(WatchedKind::Nodes);
        assert_eq!(h.current_as_of(now), now);
    }

    #[test]
    fn a_watch_silent_past_the_limit_ages_the_snapshot_until_it_is_heard_again() {
        let h = WatchHealth::new(Duration::from_secs(90));
        let at = Timestamp::from_secs;
        h.heard(WatchedKind::Pods, at(100));
        h.heard(WatchedKind::Nodes, at(100));
        assert!(h.silent(at(190)).is_empty(), "90 s is allowed");
        h.heard(WatchedKind::Nodes, at(180));
        let silent = h.silent(at(191));
        assert_eq!(
            silent,
            [SilentWatch {
                kind: WatchedKind::Pods,
                heard_at: at(100)
            }]
        );
        assert_eq!(h.current_as_of(at(191)), at(100));
        h.heard(WatchedKind::Pods, at(191));
        assert_eq!(h.current_as_of(at(191)), at(191));
    }
}
