//! The collection side in one piece: HPA watch → collector configs → poller → store, with
//! the pod watch, Warning Events and `/debug/collectors`. `app.rs` builds a [`Collection`],
//! mounts [`Collection::debug`] and runs it.

use std::sync::Arc;

use serde_json::Value;
use tidal_core::Timestamp;
use tidal_runtime::Clock;

use crate::adapters::kube_cluster::KubeClusterView;
use crate::collector::{Backends, CollectError};
use crate::config::CollectionSettings;
use crate::debug_collectors::debug_collectors_json;
use crate::events::{EventSink, QueuedEvents, Warning, run_event_publisher};
use crate::hpa_watch::run_hpa_watch;
use crate::metrics::Metrics;
use crate::pod_watch::{PodIndex, run_pod_watch};
use crate::poller::{Poller, PollerDeps};
use crate::store::MetricStore;
use crate::supervisor::{Shutdown, Supervisor};

/// Warnings waiting for the API; more are dropped (and logged) rather than blocking.
const EVENT_QUEUE: usize = 1024;

/// Why collection could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    /// A shared client could not be built.
    #[error("cannot set up collectors: {0}")]
    Setup(#[source] CollectError),
}

/// Read access to the collectors' state for `/debug/collectors`.
#[derive(Clone, Debug)]
pub struct DebugCollectors {
    poller: Poller,
}

impl DebugCollectors {
    /// The `/debug/collectors` JSON body at `now`.
    pub fn json(&self, now: Timestamp) -> Value {
        debug_collectors_json(&self.poller, now)
    }
}

/// Everything the collection side runs.
pub struct Collection {
    client: kube::Client,
    store: MetricStore,
    settings: CollectionSettings,
    poller: Poller,
    pods: PodIndex,
    events: QueuedEvents,
    event_rx: tokio::sync::mpsc::Receiver<Warning>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("poller", &self.poller)
            .finish_non_exhaustive()
    }
}

impl Collection {
    /// Sets up clients and the poller; nothing runs until [`Collection::run`].
    pub fn new(
        client: kube::Client,
        store: MetricStore,
        settings: CollectionSettings,
        metrics: Metrics,
        clock: Clock,
    ) -> Result<Self, CollectionError> {
        let pods = PodIndex::new();
        let cluster = Arc::new(KubeClusterView::new(client.clone(), pods.clone()));
        let backends = Backends::new(cluster, &settings).map_err(CollectionError::Setup)?;
        let (events, event_rx) = QueuedEvents::new(EVENT_QUEUE);
        let poller = Poller::new(PollerDeps {
            store: store.clone(),
            metrics,
            factory: Arc::new(backends),
            events: Arc::new(events.clone()),
            clock,
            max_concurrent: settings.max_concurrent_collections,
            max_concurrent_per_namespace: settings.max_concurrent_per_namespace,
        });
        Ok(Self {
            client,
            store,
            settings,
            poller,
            pods,
            events,
            event_rx,
        })
    }

    /// Handle for `/debug/collectors`.
    pub fn debug(&self) -> DebugCollectors {
        DebugCollectors {
            poller: self.poller.clone(),
        }
    }

    /// Watches HPAs and pods, collects, and publishes Events until `shutdown` resolves. Each
    /// task runs under `supervisor`: one that stops early makes the adapter not ready.
    pub async fn run(self, shutdown: Shutdown, supervisor: Supervisor) {
        let events: Arc<dyn EventSink> = Arc::new(self.events);
        let pod_watch = run_pod_watch(self.client.clone(), self.pods, self.store, shutdown.clone());
        let hpa_watch = run_hpa_watch(
            self.client.clone(),
            self.poller.clone(),
            events,
            self.settings,
            shutdown.clone(),
        );
        let publisher = run_event_publisher(self.client, self.event_rx, shutdown.clone());
        let tasks = [
            supervisor.spawn("pod watch", &shutdown, pod_watch),
            supervisor.spawn("HPA watch", &shutdown, hpa_watch),
            supervisor.spawn("Event publisher", &shutdown, publisher),
            supervisor.spawn("poller", &shutdown, self.poller.run(shutdown.clone())),
        ];
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "collection supervisor task failed");
            }
        }
    }
}
