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
pub mod liveness;
mod reflectors;
mod snapshot;

pub use actions::{CORDONED_BY_ANNOTATION, STATUS_CONFIGMAP, StatusLocation};
pub use health::{SilentWatch, WatchHealth, WatchedKind};
pub use reflectors::{Stores, Writers};

use std::sync::{Arc, Mutex};

use tidal_core::sync::lock;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tidal_runtime::Clock;
use tokio::task::JoinHandle;

use crate::ports::{ClusterError, Event, SkippedObjects, StaleWatch, WatchedCluster};
use snapshot::Caches;

/// Name the autoscaler reports Events and applies server-side fields under.
pub const CONTROLLER_NAME: &str = "tidal-cluster-autoscaler";

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
    clock: Clock,
    tasks: Vec<JoinHandle<()>>,
}

impl KubeCluster {
    /// Starts watching the cluster (one reflector task per kind, on the current tokio runtime).
    /// Snapshots fail with `NotReady` until every kind has been listed once.
    /// `clock` stamps snapshots and watch failures: the controller's clock. `health` is shared
    /// with the client's [`liveness::HearWatches`] layer (see [`liveness::client`]).
    pub fn start(
        client: Client,
        health: Arc<WatchHealth>,
        status: StatusLocation,
        instance: Option<String>,
        clock: Clock,
    ) -> Self {
        let (stores, tasks) = reflectors::start(client.clone(), health.clone(), &clock);
        let mut cluster =
            Self::from_stores(client, stores, health, status, instance).with_clock(clock);
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
            clock: Clock::system(),
            tasks: Vec::new(),
        }
    }

    /// Uses `clock` for the snapshot time instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Waits until every store has been listed once.
    pub async fn wait_until_ready(&self) -> Result<(), ClusterError> {
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

impl WatchedCluster for KubeCluster {
    async fn wait_until_ready(&self) -> Result<(), ClusterError> {
        KubeCluster::wait_until_ready(self).await
    }

    fn take_invalid_pod_events(&self) -> Vec<Event> {
        KubeCluster::take_invalid_pod_events(self)
    }

    fn skipped_objects(&self) -> SkippedObjects {
        KubeCluster::skipped_objects(self)
    }

    fn stale_watches(&self) -> Vec<StaleWatch> {
        let now = self.clock.now();
        self.health
            .silent(now)
            .into_iter()
            .map(|s| StaleWatch {
                kind: s.kind.name(),
                silent_for: now.since(s.heard_at),
            })
            .collect()
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
