//! `--dry-run` (and `plan`): the actuator and the Event sink wrapped so that reads pass through
//! and every write is logged and skipped. A roll in progress is observed, never moved on.

use tidal_core::Timestamp;
use tracing::info;

use crate::ports::{Actuator, ActuatorError, ActuatorState, Event, EventError, EventSink};

/// An actuator whose writes are logged and skipped.
#[derive(Debug)]
pub struct DryRun<A> {
    inner: A,
}

impl<A> DryRun<A> {
    /// Wraps `inner`.
    pub fn new(inner: A) -> Self {
        Self { inner }
    }

    /// The wrapped actuator.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<A: Actuator> Actuator for DryRun<A> {
    async fn observe(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        self.inner.observe(now).await
    }

    async fn reconcile(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        self.inner.observe(now).await
    }

    async fn start(&self, from: &str, to: &str, _now: Timestamp) -> Result<(), ActuatorError> {
        info!(dry_run = true, %from, %to, "would resize the control plane");
        Ok(())
    }
}

impl<E: EventSink> EventSink for DryRun<E> {
    async fn record(&self, event: &Event) -> Result<(), EventError> {
        info!(dry_run = true, reason = event.reason.as_str(), message = %event.message, "would record event");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::ports::EventReason;
    use crate::ports::Phase;
    use crate::testing::{FakeActuator, FakeEvents};

    #[tokio::test]
    async fn writes_are_skipped_and_a_change_in_progress_is_only_observed() {
        let now = Timestamp::from_secs(1);
        let inner = FakeActuator::new("tier-xl", 2);
        inner.start("tier-xl", "tier-2xl", now).await.unwrap();
        let dry = DryRun::new(inner);
        dry.start("tier-xl", "tier-4xl", now).await.unwrap();
        assert_eq!(
            dry.inner().starts().len(),
            1,
            "the dry-run start did not reach the actuator"
        );
        for _ in 0..5 {
            let state = dry.reconcile(now).await.unwrap();
            assert_eq!(
                (state.phase, state.size.as_str()),
                (Phase::Updating, "tier-xl")
            );
        }
        assert_eq!(dry.inner().size(), "tier-xl", "never moved on");
        let events = DryRun::new(FakeEvents::default());
        let event = Event {
            warning: false,
            reason: EventReason::ResizeStarted,
            message: "x".into(),
        };
        events.record(&event).await.unwrap();
        assert!(events.inner().events().is_empty());
    }
}
