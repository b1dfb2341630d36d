//! The Kubernetes side: [`KubeCluster`] reads nodes, pods, PodDisruptionBudgets, claims and
//! volumes from kube-rs reflector stores ([`ClusterSource`]) and acts through the API
//! ([`ClusterActions`], in `actions.rs`): evictions, node taint and cordon, Events, and the
//! `cluster-autoscaler-status` ConfigMap.

mod actions;
mod cache;
pub mod convert;
#[cfg(test)]
mod fixtures;
mod health;
mod reflectors;
mod snapshot;

pub use actions::{CORDONED_BY_ANNOTATION, STATUS_CONFIGMAP, StatusLocation};
pub use health::{WatchHealth, WatchedKind};
pub use reflectors::{Stores, Writers};

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tidal_core::Timestamp;
use tokio::task::JoinHandle;

use crate::ports::Event;
use snapshot::Caches;

/// Name the autoscaler reports Events and applies server-side fields under.
pub const CONTROLLER_NAME: &str = "tidal-cluster-autoscaler";

/// Reads the wall clock; the only place the Kubernetes adapter does.
pub fn system_now() -> Timestamp {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
}

/// Objects skipped by the last snapshot because they could not be converted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkippedObjects {
    /// Pods (each also gets a Warning Event, once per resourceVersion).
    pub pods: usize,
    /// Nodes.
    pub nodes: usize,
    /// PodDisruptionBudgets.
    pub pdbs: usize,
}

/// [`ClusterSource`](crate::ports::ClusterSource) and [`ClusterActions`](crate::ports::ClusterActions)
/// on a Kubernetes cluster.
pub struct KubeCluster {
    client: Client,
    stores: Stores,
    health: Arc<WatchHealth>,
    caches: Mutex<Caches>,
    invalid_pod_events: Mutex<Vec<Event>>,
    skipped: Mutex<SkippedObjects>,
    recorder: Recorder,
    status: StatusLocation,
    clock: fn() -> Timestamp,
    tasks: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every holder leaves the data consistent between statements, so a poisoned lock is usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KubeCluster {
    /// Starts watching the cluster (one reflector task per kind, on the current tokio runtime).
    /// Snapshots fail with `NotReady` until every kind has been listed once.
    pub fn start(client: Client, status: StatusLocation, instance: Option<String>) -> Self {
        let health = Arc::new(WatchHealth::default());
        let (stores, tasks) = reflectors::start(client.clone(), health.clone(), system_now);
        let mut cluster = Self::from_stores(client, stores, health, status, instance);
        cluster.tasks = tasks;
        cluster
    }

    /// A cluster reading the given stores (fed by the caller) and acting through `client`.
    pub fn from_stores(
        client: Client,
        stores: Stores,
        health: Arc<WatchHealth>,
        status: StatusLocation,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.to_owned(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            stores,
            health,
            caches: Mutex::default(),
            invalid_pod_events: Mutex::default(),
            skipped: Mutex::default(),
            status,
            clock: system_now,
            tasks: Vec::new(),
        }
    }

    /// Uses `clock` for the snapshot time instead of the wall clock (tests).
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    /// Waits until every store has been listed once.
    pub async fn wait_until_ready(&self) -> Result<(), crate::ports::ClusterError> {
        self.stores.wait_until_ready().await
    }

    /// Warning Events for pods the snapshots skipped since the last call (one per pod version).
    pub fn take_invalid_pod_events(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.invalid_pod_events))
    }

    /// Objects the last snapshot skipped.
    pub fn skipped_objects(&self) -> SkippedObjects {
        *lock(&self.skipped)
    }

    /// Pod conversions performed so far (a cache hit performs none).
    pub fn pod_conversions(&self) -> u64 {
        lock(&self.caches).pods.conversions()
    }
}

impl Drop for KubeCluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
