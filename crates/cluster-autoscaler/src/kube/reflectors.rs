//! One reflector per watched kind, each feeding a store and reporting its health.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tidal_runtime::Clock;
use tokio::task::JoinHandle;
use tracing::warn;

use super::convert::volume::VolumeLookup;
use super::health::{WatchHealth, WatchedKind};
use super::liveness::WATCH_TIMEOUT_SECS;
use crate::ports::ClusterError;

/// The reflector stores the cluster source reads.
#[derive(Clone)]
pub struct Stores {
    /// Nodes.
    pub nodes: Store<Node>,
    /// Pods that are not finished (terminal pods hold no resources and are not watched).
    pub pods: Store<Pod>,
    /// PodDisruptionBudgets.
    pub pdbs: Store<PodDisruptionBudget>,
    /// PersistentVolumeClaims (for the zone of bound volumes).
    pub claims: Store<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub volumes: Store<PersistentVolume>,
}

/// The writers that feed [`Stores`]; tests apply watcher events to them by hand.
pub struct Writers {
    /// Nodes.
    pub nodes: Writer<Node>,
    /// Pods.
    pub pods: Writer<Pod>,
    /// PodDisruptionBudgets.
    pub pdbs: Writer<PodDisruptionBudget>,
    /// PersistentVolumeClaims.
    pub claims: Writer<PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub volumes: Writer<PersistentVolume>,
}

impl Stores {
    /// Empty stores and their writers.
    pub fn new() -> (Stores, Writers) {
        let (nodes, nodes_w) = reflector::store();
        let (pods, pods_w) = reflector::store();
        let (pdbs, pdbs_w) = reflector::store();
        let (claims, claims_w) = reflector::store();
        let (volumes, volumes_w) = reflector::store();
        let stores = Stores {
            nodes,
            pods,
            pdbs,
            claims,
            volumes,
        };
        let writers = Writers {
            nodes: nodes_w,
            pods: pods_w,
            pdbs: pdbs_w,
            claims: claims_w,
            volumes: volumes_w,
        };
        (stores, writers)
    }

    /// Kinds whose store has not been listed once yet.
    pub fn not_ready(&self) -> Vec<WatchedKind> {
        let ready = [
            is_ready(&self.nodes),
            is_ready(&self.pods),
            is_ready(&self.pdbs),
            is_ready(&self.claims),
            is_ready(&self.volumes),
        ];
        WatchedKind::ALL
            .into_iter()
            .zip(ready)
            .filter(|(_, r)| !r)
            .map(|(k, _)| k)
            .collect()
    }

    /// Waits until every store has been listed once.
    pub async fn wait_until_ready(&self) -> Result<(), ClusterError> {
        let dropped = |e: reflector::store::WriterDropped| {
            ClusterError::NotReady(format!("a watch stopped: {e}"))
        };
        self.nodes.wait_until_ready().await.map_err(dropped)?;
        self.pods.wait_until_ready().await.map_err(dropped)?;
        self.pdbs.wait_until_ready().await.map_err(dropped)?;
        self.claims.wait_until_ready().await.map_err(dropped)?;
        self.volumes.wait_until_ready().await.map_err(dropped)
    }
}

fn is_ready<K>(store: &Store<K>) -> bool
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    // Readiness is a one-shot future that is complete once listed: polling it once is a check.
    store
        .wait_until_ready()
        .now_or_never()
        .is_some_and(|r| r.is_ok())
}

impl VolumeLookup for Stores {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(namespace))
    }

    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(&ObjectRef::new(name))
    }
}

/// Runs one reflector until the task is aborted, recording its health.
async fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: Writer<K>,
    kind: WatchedKind,
    health: Arc<WatchHealth>,
    clock: Clock,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let stream = watcher(api, config)
        .default_backoff()
        // Managed fields are large and never read: dropping them halves the memory of big stores.
        .modify(|o: &mut K| o.managed_fields_mut().clear())
        .reflect(writer);
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {
                health.heard(kind, clock.now())
            }
            Ok(_) => {
                health.heard(kind, clock.now());
                health.working(kind);
            }
            Err(e) => {
                warn!(kind = kind.name(), error = %e, "watch failed; retrying with backoff");
                health.failed(kind, clock.now());
            }
        }
    }
}

/// Starts the reflectors on the current runtime.
pub(crate) fn start(
    client: Client,
    health: Arc<WatchHealth>,
    clock: &Clock,
) -> (Stores, Vec<JoinHandle<()>>) {
    let (stores, w) = Stores::new();
    // Every watch is ended by the server at least this often: silence beyond it is a stall.
    let default = || watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    // Finished pods hold no resources; not watching them keeps the store small.
    let live_pods = default().fields("status.phase!=Succeeded,status.phase!=Failed");
    let tasks = vec![
        tokio::spawn(reflect(
            Api::<Node>::all(client.clone()),
            default(),
            w.nodes,
            WatchedKind::Nodes,
            health.clone(),
            clock.clone(),
        )),
        tokio::spawn(reflect(
            Api::<Pod>::all(client.clone()),
            live_pods,
            w.pods,
            WatchedKind::Pods,
            health.clone(),
            clock.clone(),
        )),
        tokio::spawn(reflect(
            Api::<PodDisruptionBudget>::all(client.clone()),
            default(),
            w.pdbs,
            WatchedKind::PodDisruptionBudgets,
            health.clone(),
            clock.clone(),
        )),
        tokio::spawn(reflect(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            default(),
            w.claims,
            WatchedKind::PersistentVolumeClaims,
            health.clone(),
            clock.clone(),
        )),
        tokio::spawn(reflect(
            Api::<PersistentVolume>::all(client),
            default(),
            w.volumes,
            WatchedKind::PersistentVolumes,
            health,
            clock.clone(),
        )),
    ];
    (stores, tasks)
}
