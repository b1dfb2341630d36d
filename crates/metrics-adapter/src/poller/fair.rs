//! Collection slots shared fairly between namespaces.
//!
//! At most `total` collections run at once, and at most `per_namespace` of them for one
//! namespace, so one namespace's slow endpoints leave slots for everybody else. When a slot
//! frees up and several namespaces wait, it goes to the waiting namespace with the fewest
//! collections running (ties: the one that has waited longest), so namespaces share what is
//! left evenly however many collectors each has. Within a namespace, first come first served.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tidal_core::sync;

use tokio::sync::oneshot;

#[derive(Debug, Default)]
struct State {
    running: usize,
    by_namespace: HashMap<Arc<str>, usize>,
    /// Waiters per namespace, each with the sequence number of its arrival.
    waiting: HashMap<Arc<str>, VecDeque<(u64, oneshot::Sender<Slot>)>>,
    next_arrival: u64,
}

#[derive(Debug)]
struct Inner {
    total: usize,
    per_namespace: usize,
    state: Mutex<State>,
}

/// Collection slots: `total` at once, `per_namespace` for one namespace.
#[derive(Clone, Debug)]
pub struct FairSlots {
    inner: Arc<Inner>,
}

/// One running collection's slot; freed (and handed on) when dropped.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Inner>,
    namespace: Arc<str>,
    armed: bool,
}

impl FairSlots {
    /// `total` slots, at most `per_namespace` of them (at least 1) for one namespace.
    pub fn new(total: usize, per_namespace: usize) -> Self {
        let total = total.max(1);
        Self {
            inner: Arc::new(Inner {
                total,
                per_namespace: per_namespace.clamp(1, total),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Waits for a slot for a collection of `namespace`. Dropping the future gives up the place
    /// in the queue.
    pub async fn acquire(&self, namespace: &str) -> Slot {
        let rx = {
            let mut state = self.inner.lock();
            let namespace: Arc<str> = Arc::from(namespace);
            let queued = state.waiting.get(&namespace).is_some_and(|q| !q.is_empty());
            if !queued && self.inner.has_room(&state, &namespace) {
                return self.inner.grant(&mut state, namespace);
            }
            let (tx, rx) = oneshot::channel();
            let arrival = state.next_arrival;
            state.next_arrival += 1;
            state
                .waiting
                .entry(namespace)
                .or_default()
                .push_back((arrival, tx));
            rx
        };
        match rx.await {
            Ok(slot) => slot,
            // The sender is only dropped with the slots themselves, which `self` keeps alive.
            Err(_) => std::future::pending().await,
        }
    }

    /// Collections running now: in total, and for `namespace`.
    #[cfg(test)]
    pub fn running(&self, namespace: &str) -> (usize, usize) {
        let state = self.inner.lock();
        let mine = state.by_namespace.get(namespace).copied().unwrap_or(0);
        (state.running, mine)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below completes before anything can panic.
        sync::lock(&self.state)
    }

    fn has_room(&self, state: &State, namespace: &str) -> bool {
        state.running < self.total
            && state.by_namespace.get(namespace).copied().unwrap_or(0) < self.per_namespace
    }

    fn grant(self: &Arc<Self>, state: &mut State, namespace: Arc<str>) -> Slot {
        state.running += 1;
        *state.by_namespace.entry(namespace.clone()).or_default() += 1;
        Slot {
            inner: self.clone(),
            namespace,
            armed: true,
        }
    }

    fn release(&self, state: &mut State, namespace: &str) {
        state.running = state.running.saturating_sub(1);
        if let Some(n) = state.by_namespace.get_mut(namespace) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.by_namespace.remove(namespace);
            }
        }
    }

    /// The waiting namespace that should get the next slot: fewest running, then earliest.
    fn next_namespace(&self, state: &State) -> Option<Arc<str>> {
        state
            .waiting
            .iter()
            .filter_map(|(ns, queue)| queue.front().map(|(arrival, _)| (ns, *arrival)))
            .filter(|(ns, _)| self.has_room(state, ns))
            .min_by_key(|(ns, arrival)| {
                (
                    state.by_namespace.get(&***ns).copied().unwrap_or(0),
                    *arrival,
                )
            })
            .map(|(ns, _)| ns.clone())
    }

    /// Hands free slots to waiters.
    fn dispatch(self: &Arc<Self>, state: &mut State) {
        while let Some(namespace) = self.next_namespace(state) {
            let Some(queue) = state.waiting.get_mut(&namespace) else {
                break;
            };
            let Some((_, tx)) = queue.pop_front() else {
                break;
            };
            if queue.is_empty() {
                state.waiting.remove(&namespace);
            }
            if tx.is_closed() {
                continue;
            }
            let slot = self.grant(state, namespace.clone());
            if let Err(mut unsent) = tx.send(slot) {
                // The waiter gave up between the check and the send: take the slot back here
                // (its drop must not lock the state again).
                unsent.armed = false;
                self.release(state, &namespace);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.inner.lock();
        self.inner.release(&mut state, &self.namespace);
        self.inner.dispatch(&mut state);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use super::*;

    async fn try_acquire(slots: &FairSlots, namespace: &str) -> Option<Slot> {
        tokio::time::timeout(Duration::from_millis(10), slots.acquire(namespace))
            .await
            .ok()
    }

    #[tokio::test(start_paused = true)]
    async fn one_namespace_cannot_take_every_slot() {
        let slots = FairSlots::new(4, 2);
        let a1 = try_acquire(&slots, "a").await.unwrap();
        let _a2 = try_acquire(&slots, "a").await.unwrap();
        assert!(
            try_acquire(&slots, "a").await.is_none(),
            "a is at its share"
        );
        let _b1 = try_acquire(&slots, "b")
            .await
            .expect("b still finds a slot");
        assert_eq!(slots.running("a"), (3, 2));
        drop(a1);
        assert_eq!(slots.running("a"), (2, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_freed_slot_goes_to_the_namespace_with_fewest_running() {
        let slots = FairSlots::new(2, 2);
        let a1 = slots.acquire("a").await;
        let a2 = slots.acquire("a").await;
        // "a" queues first, then "b": "b" runs nothing, so it is served first.
        let waiting_a = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire("a").await }
        });
        tokio::task::yield_now().await;
        let waiting_b = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire("b").await }
        });
        tokio::task::yield_now().await;
        drop(a1);
        let b = waiting_b.await.unwrap();
        assert_eq!(slots.running("b"), (2, 1));
        assert!(!waiting_a.is_finished());
        drop(a2);
        let _a3 = waiting_a.await.unwrap();
        assert_eq!(slots.running("a"), (2, 1));
        drop(b);
        assert_eq!(slots.running("b"), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_does_not_leak_a_slot() {
        let slots = FairSlots::new(1, 1);
        let held = slots.acquire("a").await;
        assert!(try_acquire(&slots, "b").await.is_none());
        drop(held);
        assert_eq!(slots.running("b"), (0, 0));
        let _again = try_acquire(&slots, "b").await.expect("the slot is free");
    }
}
