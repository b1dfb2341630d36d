//! [`VpaSource`] over a reflector of VerticalPodAutoscaler objects.

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use tokio::task::JoinHandle;
use tracing::warn;

use crate::crd::VerticalPodAutoscaler;
use crate::ports::VpaSource;

/// The VPAs of every namespace, as a reflector store.
pub struct KubeVpas {
    store: Store<VerticalPodAutoscaler>,
    task: Option<JoinHandle<()>>,
}

impl KubeVpas {
    /// Starts the reflector on the current runtime.
    pub fn start(client: Client) -> Self {
        let (store, writer) = reflector::store();
        let stream = watcher(
            Api::<VerticalPodAutoscaler>::all(client),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(|o: &mut VerticalPodAutoscaler| o.meta_mut().managed_fields = None)
        .reflect(writer);
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                if let Err(e) = event {
                    warn!(error = %e, "VerticalPodAutoscaler watch failed; retrying with backoff");
                }
            }
        });
        Self {
            store,
            task: Some(task),
        }
    }

    /// A source over a store fed by hand (tests).
    pub fn from_store(store: Store<VerticalPodAutoscaler>) -> Self {
        Self { store, task: None }
    }

    /// Whether the VPAs have been listed once.
    pub fn is_ready(&self) -> bool {
        self.store
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok())
    }

    /// Waits until the VPAs have been listed once.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.store.wait_until_ready().await
    }
}

impl Drop for KubeVpas {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl VpaSource for KubeVpas {
    fn vpas(&self) -> Option<Vec<Arc<VerticalPodAutoscaler>>> {
        self.is_ready().then(|| self.store.state())
    }
}
