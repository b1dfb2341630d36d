//! The disruption budgets of the simulated workloads, with their Ready pods counted as pods
//! bind and go, so a snapshot does not pass over every pod to count them.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tidal_core::Timestamp;

/// One workload's budget and its Ready pods.
#[derive(Debug)]
struct Budget {
    min_available: u32,
    startup: Duration,
    /// Bound pods, Ready or not.
    bound: u32,
    /// Bound pods still within their start-up time (uid, bound at), in binding order: binding
    /// happens at the current time, so the oldest comes first and turns Ready first.
    starting: VecDeque<(u64, Timestamp)>,
}

/// The budgets by workload index.
#[derive(Debug, Default)]
pub(super) struct Budgets(BTreeMap<usize, Budget>);

impl Budgets {
    /// Budgets for the workloads in `min_available`; `startups` is every workload's start-up
    /// time (a pod is Ready that long after it is bound).
    pub(super) fn new(min_available: BTreeMap<usize, u32>, startups: &[Duration]) -> Self {
        let budgets = min_available.into_iter().map(|(w, min_available)| {
            let budget = Budget {
                min_available,
                startup: startups.get(w).copied().unwrap_or_default(),
                bound: 0,
                starting: VecDeque::new(),
            };
            (w, budget)
        });
        Self(budgets.collect())
    }

    /// A pod of workload `w` was bound at `now`.
    pub(super) fn bound(&mut self, w: usize, uid: u64, now: Timestamp) {
        if let Some(b) = self.0.get_mut(&w) {
            b.bound += 1;
            b.starting.push_back((uid, now));
        }
    }

    /// A bound pod of workload `w` went away.
    pub(super) fn unbound(&mut self, w: usize, uid: u64) {
        if let Some(b) = self.0.get_mut(&w) {
            b.bound = b.bound.saturating_sub(1);
            if let Some(i) = b.starting.iter().position(|(u, _)| *u == uid) {
                b.starting.remove(i);
            }
        }
    }

    /// Each budgeted workload with its minimum available and its Ready pods at `now`.
    pub(super) fn ready(&mut self, now: Timestamp) -> impl Iterator<Item = (usize, u32, u32)> {
        (self.0.iter_mut()).map(move |(&w, b)| (w, b.min_available, b.ready(now)))
    }

    /// Whether the budget of workload `w` refuses to evict its pod `uid` at `now`: a Ready pod
    /// while no more than the minimum are Ready. Evicting a pod that is not Ready never reduces
    /// availability, as the API server decides.
    pub(super) fn refuses_eviction(
        &mut self,
        w: usize,
        uid: u64,
        bound: bool,
        now: Timestamp,
    ) -> bool {
        let Some(b) = self.0.get_mut(&w) else {
            return false;
        };
        let ready = b.ready(now);
        let pod_ready = bound && !b.starting.iter().any(|(u, _)| *u == uid);
        pod_ready && ready <= b.min_available
    }
}

impl Budget {
    /// Ready pods at `now` (pods past their start-up time leave `starting`).
    fn ready(&mut self, now: Timestamp) -> u32 {
        while (self.starting.front()).is_some_and(|(_, at)| *at + self.startup <= now) {
            self.starting.pop_front();
        }
        let starting = u32::try_from(self.starting.len()).unwrap_or(u32::MAX);
        self.bound.saturating_sub(starting)
    }
}
