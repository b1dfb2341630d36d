//! What the act phase of a loop works with: the ports, the loop's `now`, the failed calls so
//! far, and the autoscaler's memory and settings ([`ActContext`]). The scale-up and scale-down
//! actions (`scale_up::act`, `scale_down::act`) take it instead of a long argument list.
//!
//! Failed calls are collected as [`PortError`]s with a typed [`Operation`]; the loop's safety
//! gate ([`ActContext::only_records_failed`]) matches on what the operation does to the world.

use futures::StreamExt;
use tidal_core::Timestamp;

use crate::config::AutoscalerConfig;
use crate::outcome::{Effect, Operation, PortError};
use crate::ports::{CloudError, ClusterActions, ClusterError, Event, ObjectRef};
use crate::state::AutoscalerState;

/// Events sent at once (the Kubernetes adapter makes one API call per event).
const EVENT_CONCURRENCY: usize = 16;

/// The act phase's view of one loop.
pub(crate) struct ActContext<'a, P, C> {
    /// The cloud port.
    pub cloud: &'a P,
    /// The cluster port.
    pub cluster: &'a C,
    /// The loop's instant.
    pub now: Timestamp,
    /// Calls that failed this loop (observe phase included).
    pub errors: &'a mut Vec<PortError>,
    /// What the autoscaler remembers across loops.
    pub state: &'a mut AutoscalerState,
    /// The settings.
    pub config: &'a AutoscalerConfig,
}

impl<P, C> ActContext<'_, P, C> {
    /// Records a failed cloud call.
    pub fn cloud_failed(&mut self, operation: Operation, target: &str, e: &CloudError) {
        self.errors.push(cloud_error(operation, target, e));
    }

    /// Records a failed cluster call.
    pub fn cluster_failed(&mut self, operation: Operation, target: &str, e: &ClusterError) {
        self.errors.push(cluster_error(operation, target, e));
    }

    /// Whether every failed call of the loop so far only recorded (Events): then nothing the
    /// loop read or wrote is in doubt, and drained nodes may be terminated.
    pub fn only_records_failed(&self) -> bool {
        self.errors.iter().all(|e| match e.operation.effect() {
            Effect::RecordsOnly => true,
            Effect::Reads | Effect::WritesCloud | Effect::WritesCluster => false,
        })
    }
}

impl<P, C: ClusterActions> ActContext<'_, P, C> {
    /// Records one event; a failure is reported (about `target`), never fatal.
    pub async fn record_event(&mut self, event: &Event, target: &str) {
        if let Err(e) = self.cluster.record_event(event).await {
            self.cluster_failed(Operation::RecordEvent, target, &e);
        }
    }

    /// Records events a few at a time; failures are reported, never fatal.
    pub async fn send_events(&mut self, events: Vec<Event>) {
        let cluster = self.cluster;
        let results: Vec<(ObjectRef, Result<(), ClusterError>)> = futures::stream::iter(events)
            .map(|e| async move {
                let r = cluster.record_event(&e).await;
                (e.object, r)
            })
            .buffered(EVENT_CONCURRENCY)
            .collect()
            .await;
        for (object, r) in results {
            if let Err(e) = r {
                self.cluster_failed(Operation::RecordEvent, &object.to_string(), &e);
            }
        }
    }
}

/// A failed cloud call as a [`PortError`].
pub(crate) fn cloud_error(operation: Operation, target: &str, e: &CloudError) -> PortError {
    PortError {
        operation,
        target: target.to_owned(),
        label: e.label(),
        message: e.to_string(),
    }
}

/// A failed cluster call as a [`PortError`].
pub(crate) fn cluster_error(operation: Operation, target: &str, e: &ClusterError) -> PortError {
    PortError {
        operation,
        target: target.to_owned(),
        label: e.label(),
        message: e.to_string(),
    }
}
