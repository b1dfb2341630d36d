//! Supervision of the background tasks the adapter cannot serve correctly without (the HPA and
//! pod watches, the poller, the Event publisher, the purge loop).
//!
//! A task that stops before shutdown (returns or panics) would leave the API answering with
//! values that are no longer collected or never expire. So `/readyz` turns not-ready at once
//! (Kubernetes stops routing to the pod), and after a grace period, long enough for that to
//! take effect and for the logs to be read, [`Supervisor::failed`] resolves: the binary shuts
//! down and exits non-zero, and Kubernetes restarts it.

use std::future::Future;
use std::time::Duration;

use futures::future::{BoxFuture, Shared};
use tidal_runtime::Readiness;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The shutdown signal tasks run until.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Watches the adapter's background tasks.
#[derive(Clone, Debug)]
pub struct Supervisor {
    readiness: Readiness,
    failure: watch::Sender<Option<&'static str>>,
}

impl Supervisor {
    /// A supervisor that reports failures through `readiness`.
    pub fn new(readiness: Readiness) -> Self {
        Self {
            readiness,
            failure: watch::Sender::new(None),
        }
    }

    /// Runs `task` named `name`; if it ends before `shutdown` has resolved, the adapter fails.
    pub fn spawn(
        &self,
        name: &'static str,
        shutdown: &Shutdown,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let this = self.clone();
        let shutdown = shutdown.clone();
        let running = tokio::spawn(task);
        tokio::spawn(async move {
            let outcome = running.await;
            if shutdown.peek().is_some() {
                return;
            }
            match outcome {
                Ok(()) => tracing::error!(task = name, "background task stopped before shutdown"),
                Err(e) => tracing::error!(task = name, error = %e, "background task failed"),
            }
            this.report(name);
        })
    }

    /// Records that `task` stopped: not ready from now on.
    pub fn report(&self, task: &'static str) {
        self.readiness.set_ready(false);
        self.failure.send_if_modified(|failed| {
            if failed.is_some() {
                return false;
            }
            *failed = Some(task);
            true
        });
    }

    /// The first task that stopped, if any.
    pub fn failure(&self) -> Option<&'static str> {
        *self.failure.borrow()
    }

    /// Resolves `grace` after the first failure, with the name of the task that stopped;
    /// never resolves while every task runs.
    pub fn failed(&self, grace: Duration) -> impl Future<Output = &'static str> + Send + 'static {
        let mut rx = self.failure.subscribe();
        async move {
            let task = loop {
                if let Some(task) = *rx.borrow_and_update() {
                    break task;
                }
                if rx.changed().await.is_err() {
                    // Every sender is gone: nothing can fail any more.
                    std::future::pending::<()>().await;
                }
            };
            tracing::error!(task, grace = ?grace, "exiting after the grace period so Kubernetes restarts the adapter");
            tokio::time::sleep(grace).await;
            task
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use futures::FutureExt;

    use super::*;

    fn never() -> Shutdown {
        std::future::pending::<()>().boxed().shared()
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_dies_flips_readiness_and_fails_after_the_grace_period() {
        let readiness = Readiness::new();
        readiness.set_ready(true);
        let supervisor = Supervisor::new(readiness.clone());
        let failed = tokio::spawn(supervisor.failed(Duration::from_secs(30)));
        let watcher = supervisor.spawn("pod watch", &never(), async { panic!("watch died") });
        watcher.await.unwrap();
        assert!(!readiness.is_ready(), "/readyz fails at once");
        assert_eq!(supervisor.failure(), Some("pod watch"));
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(!failed.is_finished(), "still within the grace period");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(failed.await.unwrap(), "pod watch");
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_ending_at_shutdown_are_not_failures() {
        let readiness = Readiness::new();
        readiness.set_ready(true);
        let supervisor = Supervisor::new(readiness.clone());
        let shutdown: Shutdown = async {}.boxed().shared();
        shutdown.clone().await;
        supervisor
            .spawn("poller", &shutdown, async {})
            .await
            .unwrap();
        assert!(readiness.is_ready());
        assert_eq!(supervisor.failure(), None);
        let running = supervisor.spawn("hpa watch", &never(), std::future::pending());
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!running.is_finished());
        assert!(readiness.is_ready());
    }
}
