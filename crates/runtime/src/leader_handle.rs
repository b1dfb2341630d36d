//! What a controller asks before acting: [`LeaderHandle`]. Kube-free, so a component built
//! without the Kubernetes adapters (the simulator) still runs its controller's leadership
//! logic; the Lease election that feeds it is in `leader` (feature `kube`).

use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, Clone)]
enum Mode {
    Always,
    /// Leader until the instant inside (None: not leader).
    Elected(watch::Receiver<Option<Instant>>),
}

/// What a controller asks before acting: `is_leader()`.
#[derive(Debug, Clone)]
pub struct LeaderHandle(Mode);

impl LeaderHandle {
    /// A handle that is always leader: for a single replica run without election, or the simulator.
    pub fn always() -> Self {
        Self(Mode::Always)
    }

    /// Whether this process may act now. Becomes false by itself once the renew deadline passes
    /// without a renewal, even if the election task is stuck.
    pub fn is_leader(&self) -> bool {
        match &self.0 {
            Mode::Always => true,
            Mode::Elected(rx) => rx.borrow().is_some_and(|until| Instant::now() < until),
        }
    }

    /// A handle following leadership published elsewhere: leader until the instant in the
    /// channel (`None`: not leader). What `LeaderElector::spawn` hands out, for other electors
    /// and for tests.
    pub fn following(rx: watch::Receiver<Option<Instant>>) -> Self {
        Self(Mode::Elected(rx))
    }

    /// Resolves once this process may no longer act: at once if it may not now, else when the
    /// lease goes to another holder, the election stops, or the renew deadline passes without
    /// a renewal. Never resolves for [`LeaderHandle::always`]. A controller races its work
    /// against this so it stops acting before another replica may start.
    pub async fn lost(&mut self) {
        let Mode::Elected(rx) = &mut self.0 else {
            return std::future::pending().await;
        };
        loop {
            let until = *rx.borrow_and_update();
            let Some(until) = until.filter(|u| Instant::now() < *u) else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                changed = rx.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Waits for the next change of leadership state and returns `is_leader()` after it; returns
    /// false at once if the election has stopped, and never returns for [`LeaderHandle::always`].
    pub async fn changed(&mut self) -> bool {
        match &mut self.0 {
            // Never changes.
            Mode::Always => std::future::pending().await,
            Mode::Elected(rx) => rx.changed().await.is_ok() && self.is_leader(),
        }
    }
}
