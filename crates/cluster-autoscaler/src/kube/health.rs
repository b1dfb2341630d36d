//! Whether the reflector stores can be trusted: not currently failing. (Whether each store has
//! been listed once is the store's own readiness.)
//!
//! A watch that fails keeps the last state in its store; the autoscaler must know how old that
//! state may be, so the snapshot's `taken_at` is the moment the first currently failing watch
//! started failing (or now when all are healthy).

use std::sync::Mutex;

use tidal_core::sync::lock;

use tidal_core::Timestamp;

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
}

/// Health of every watch, shared between the reflector tasks and the snapshot.
#[derive(Debug, Default)]
pub struct WatchHealth {
    kinds: Mutex<[KindState; 5]>,
}

impl WatchHealth {
    fn with<R>(&self, f: impl FnOnce(&mut [KindState; 5]) -> R) -> R {
        // Plain flags: a panicking holder cannot leave them half-written.
        let mut guard = lock(&self.kinds);
        f(&mut guard)
    }

    /// The watch of `kind` delivered a change or completed a list: it works.
    pub fn working(&self, kind: WatchedKind) {
        self.with(|k| k[kind.index()].failing_since = None);
    }

    /// The watch of `kind` failed at `now` (it retries with backoff).
    pub fn failed(&self, kind: WatchedKind, now: Timestamp) {
        self.with(|k| {
            let state = &mut k[kind.index()];
            state.failing_since.get_or_insert(now);
        });
    }

    /// Until when the stores are known to be current: `now` if no watch is failing, else when the
    /// earliest current failure began.
    pub fn current_as_of(&self, now: Timestamp) -> Timestamp {
        self.with(|k| {
            k.iter()
                .filter_map(|s| s.failing_since)
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
}
