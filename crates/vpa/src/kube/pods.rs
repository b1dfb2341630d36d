//! [`PodSource`] over a pod watcher that keeps only the pods some VPA selects, reduced to
//! [`ObservedPod`] (labels, requests, the last OOM kill): the recommender's memory follows the
//! pods it recommends for, not the cluster's size.
//!
//! The loop tells the source the current selectors ([`PodSource::track`]). Watch events of pods
//! no selector matches are dropped. The namespaces of new selectors are backfilled with one list
//! each (the watch dropped their pods before), or with one list of the whole cluster when many
//! are new at once (the first loop, or a burst of new VPAs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use tidal_core::sync;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tidal_core::scheduling::LabelSelector;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::convert::observed_pod;
use crate::ports::{ObjectKey, ObservedPod, PodError, PodSource};

/// The tracked pods and the selectors that decide which.
#[derive(Default)]
pub struct PodTracker {
    inner: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    selectors: BTreeMap<String, Vec<LabelSelector>>,
    pods: HashMap<ObjectKey, ObservedPod>,
    /// Pods of the relist in progress (swapped in when it completes).
    relist: Option<HashMap<ObjectKey, ObservedPod>>,
    listed: bool,
}

impl Tracked {
    fn selects(&self, pod: &ObservedPod) -> bool {
        self.selectors
            .get(&pod.key.namespace)
            .is_some_and(|all| all.iter().any(|s| s.matches(&pod.labels)))
    }
}

impl PodTracker {
    fn lock(&self) -> MutexGuard<'_, Tracked> {
        sync::lock(&self.inner)
    }

    /// Applies one watcher event (tests feed events by hand).
    pub fn apply(&self, event: watcher::Event<Pod>) {
        let mut t = self.lock();
        match event {
            watcher::Event::Init => t.relist = Some(HashMap::new()),
            watcher::Event::InitApply(pod) => {
                if let Some(pod) = observed_pod(&pod).filter(|p| t.selects(p))
                    && let Some(relist) = t.relist.as_mut()
                {
                    relist.insert(pod.key.clone(), pod);
                }
            }
            watcher::Event::InitDone => {
                if let Some(relist) = t.relist.take() {
                    t.pods = relist;
                }
                t.listed = true;
            }
            watcher::Event::Apply(pod) => match observed_pod(&pod) {
                Some(p) if t.selects(&p) => {
                    t.pods.insert(p.key.clone(), p);
                }
                _ => {
                    t.pods.remove(&key_of(&pod));
                }
            },
            watcher::Event::Delete(pod) => {
                t.pods.remove(&key_of(&pod));
            }
        }
    }

    /// Adds pods a backfill listed, unless the watch already knows them (its copy is newer).
    pub fn backfill(&self, pods: &[Pod]) {
        let mut t = self.lock();
        for pod in pods {
            if let Some(p) = observed_pod(pod).filter(|p| t.selects(p)) {
                t.pods.entry(p.key.clone()).or_insert(p);
            }
        }
    }

    /// Sets the selectors; returns the namespaces with a new selector.
    fn set_selectors(&self, selectors: &BTreeMap<String, Vec<LabelSelector>>) -> BTreeSet<String> {
        let mut t = self.lock();
        let mut new = BTreeSet::new();
        for (ns, list) in selectors {
            let old: BTreeSet<&LabelSelector> = t.selectors.get(ns).into_iter().flatten().collect();
            if list.iter().any(|s| !old.contains(s)) {
                new.insert(ns.clone());
            }
        }
        t.selectors = selectors.clone();
        // Pods no selector matches any more are forgotten at once.
        let Tracked {
            selectors, pods, ..
        } = &mut *t;
        pods.retain(|_, p| {
            selectors
                .get(&p.key.namespace)
                .is_some_and(|all| all.iter().any(|s| s.matches(&p.labels)))
        });
        new
    }
}

fn key_of(pod: &Pod) -> ObjectKey {
    ObjectKey::new(pod.namespace().unwrap_or_default(), pod.name_any())
}

/// The pod source: a tracker fed by a watcher, with backfills for new selectors.
pub struct KubePods {
    tracker: Arc<PodTracker>,
    backfill: mpsc::UnboundedSender<BTreeSet<String>>,
    tasks: Vec<JoinHandle<()>>,
}

impl KubePods {
    /// Starts the watcher and the backfill task on the current runtime.
    pub fn start(client: Client) -> Self {
        let tracker = Arc::new(PodTracker::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(watch(client.clone(), tracker.clone())),
            tokio::spawn(backfill(client, tracker.clone(), rx)),
        ];
        Self {
            tracker,
            backfill: tx,
            tasks,
        }
    }

    /// A source over a tracker fed by hand (tests); backfills are dropped.
    pub fn from_tracker(tracker: Arc<PodTracker>) -> Self {
        let (tx, _) = mpsc::unbounded_channel();
        Self {
            tracker,
            backfill: tx,
            tasks: Vec::new(),
        }
    }
}

impl Drop for KubePods {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PodSource for KubePods {
    fn track(&self, selectors: &BTreeMap<String, Vec<LabelSelector>>) {
        let new = self.tracker.set_selectors(selectors);
        if !new.is_empty() {
            // The receiver lives as long as the source; a closed channel means shutdown.
            let _ = self.backfill.send(new);
        }
    }

    fn pods(&self) -> Result<Vec<ObservedPod>, PodError> {
        let t = self.tracker.lock();
        if !t.listed {
            return Err(PodError::NotReady);
        }
        Ok(t.pods.values().cloned().collect())
    }
}

/// Finished pods use nothing and will not be OOM-killed again.
const LIVE_PODS: &str = "status.phase!=Succeeded,status.phase!=Failed";

async fn watch(client: Client, tracker: Arc<PodTracker>) {
    let config = watcher::Config::default().fields(LIVE_PODS);
    let stream = watcher(Api::<Pod>::all(client), config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => tracker.apply(event),
            Err(e) => warn!(error = %e, "pod watch failed; retrying with backoff"),
        }
    }
}

/// More new namespaces than this at once are backfilled with one list of the whole cluster.
const MAX_NAMESPACE_LISTS: usize = 20;

async fn backfill(
    client: Client,
    tracker: Arc<PodTracker>,
    mut requests: mpsc::UnboundedReceiver<BTreeSet<String>>,
) {
    while let Some(mut namespaces) = requests.recv().await {
        while let Ok(more) = requests.try_recv() {
            namespaces.extend(more);
        }
        let params = ListParams::default().fields(LIVE_PODS);
        let lists: Vec<(String, Api<Pod>)> = if namespaces.len() > MAX_NAMESPACE_LISTS {
            vec![("*".to_owned(), Api::all(client.clone()))]
        } else {
            namespaces
                .into_iter()
                .map(|ns| (ns.clone(), Api::namespaced(client.clone(), &ns)))
                .collect()
        };
        for (namespace, api) in lists {
            match api.list(&params).await {
                Ok(list) => {
                    debug!(%namespace, pods = list.items.len(), "backfilled the pods of new selectors");
                    tracker.backfill(&list.items);
                }
                // The pods' next change (or the watch's next relist) brings them in later.
                Err(e) => warn!(%namespace, error = %e, "listing pods for new selectors failed"),
            }
        }
    }
}
