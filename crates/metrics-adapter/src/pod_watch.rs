//! Watches pods in all namespaces into a small index (name, IP, labels, readiness) that the
//! json-path collector selects from, and drops a deleted pod's values from the store at once.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use tidal_core::sync;

use futures::{StreamExt, pin_mut};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tidal_core::Timestamp;

use crate::ports::PodSummary;
use crate::selector::{Selector, SelectorExt};
use crate::store::MetricStore;

type Namespaces = HashMap<String, BTreeMap<String, PodSummary>>;

/// Pods by namespace and name, shared between the watch and the collectors.
#[derive(Clone, Debug, Default)]
pub struct PodIndex {
    inner: Arc<RwLock<Namespaces>>,
}

impl PodIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Namespaces> {
        // Each update is one insert or remove, so a poisoned lock holds consistent data.
        sync::write(&self.inner)
    }

    /// Adds or replaces a pod.
    pub fn upsert(&self, pod: PodSummary) {
        self.write()
            .entry(pod.namespace.clone())
            .or_default()
            .insert(pod.name.clone(), pod);
    }

    /// Removes a pod; true if it was known.
    pub fn remove(&self, namespace: &str, name: &str) -> bool {
        let mut inner = self.write();
        let Some(pods) = inner.get_mut(namespace) else {
            return false;
        };
        let removed = pods.remove(name).is_some();
        if pods.is_empty() {
            inner.remove(namespace);
        }
        removed
    }

    /// Replaces the whole index (after a re-list); returns the pods that disappeared.
    pub fn replace_all(&self, pods: Vec<PodSummary>) -> Vec<(String, String)> {
        let mut fresh: Namespaces = HashMap::new();
        for pod in pods {
            fresh
                .entry(pod.namespace.clone())
                .or_default()
                .insert(pod.name.clone(), pod);
        }
        let mut inner = self.write();
        let gone = inner
            .iter()
            .flat_map(|(ns, pods)| pods.keys().map(move |name| (ns, name)))
            .filter(|(ns, name)| !fresh.get(*ns).is_some_and(|p| p.contains_key(*name)))
            .map(|(ns, name)| (ns.clone(), name.clone()))
            .collect();
        *inner = fresh;
        gone
    }

    /// Pods of `namespace` matching `selector`, ordered by name.
    pub fn select(&self, namespace: &str, selector: &Selector) -> Vec<PodSummary> {
        let inner = sync::read(&self.inner);
        inner
            .get(namespace)
            .map(|pods| {
                pods.values()
                    .filter(|p| selector.matches(&p.labels))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of pods indexed.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let inner = sync::read(&self.inner);
        inner.values().map(BTreeMap::len).sum()
    }
}

/// The parts of a pod collectors use; `None` for a pod without namespace or name.
pub(crate) fn pod_info(pod: &Pod) -> Option<PodSummary> {
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    Some(PodSummary {
        namespace: pod.metadata.namespace.clone()?,
        name: pod.metadata.name.clone()?,
        ip: status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        running: status.and_then(|s| s.phase.as_deref()) == Some("Running"),
        ready: ready.is_some_and(|c| c.status == "True"),
        ready_since: ready
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| Timestamp::from_millis(t.0.as_millisecond())),
        deleting: pod.metadata.deletion_timestamp.is_some(),
    })
}

/// Applies pod watch events to the index and the store.
#[derive(Debug)]
pub struct PodWatchHandler {
    index: PodIndex,
    store: MetricStore,
    relist: Option<Vec<PodSummary>>,
}

impl PodWatchHandler {
    /// A handler updating `index` and removing deleted pods' values from `store`.
    pub fn new(index: PodIndex, store: MetricStore) -> Self {
        Self {
            index,
            store,
            relist: None,
        }
    }

    /// Applies one watch event.
    pub fn handle(&mut self, event: Event<Pod>) {
        match event {
            Event::Apply(pod) => {
                if let Some(info) = pod_info(&pod) {
                    self.index.upsert(info);
                }
            }
            Event::Delete(pod) => {
                if let Some(info) = pod_info(&pod) {
                    self.index.remove(&info.namespace, &info.name);
                    self.store.remove_pod(&info.namespace, &info.name);
                }
            }
            Event::Init => self.relist = Some(Vec::new()),
            Event::InitApply(pod) => {
                if let (Some(list), Some(info)) = (self.relist.as_mut(), pod_info(&pod)) {
                    list.push(info);
                }
            }
            Event::InitDone => {
                // Pods deleted while the watch was down never got a Delete event.
                let listed = self.relist.take().unwrap_or_default();
                for (namespace, name) in self.index.replace_all(listed) {
                    self.store.remove_pod(&namespace, &name);
                }
            }
        }
    }
}

/// Watches pods in all namespaces until `shutdown` resolves.
pub async fn run_pod_watch(
    client: kube::Client,
    index: PodIndex,
    store: MetricStore,
    shutdown: impl Future<Output = ()>,
) {
    let api: Api<Pod> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    pin_mut!(stream);
    pin_mut!(shutdown);
    let mut handler = PodWatchHandler::new(index, store);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            next = stream.next() => match next {
                Some(Ok(event)) => handler.handle(event),
                Some(Err(e)) => tracing::warn!(error = %e, "pod watch error; retrying with backoff"),
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready: bool, labels: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "shop", "labels": labels},
            "status": {"phase": "Running", "podIP": "10.0.0.7", "conditions": [
                {"type": "Ready", "status": if ready {"True"} else {"False"},
                 "lastTransitionTime": "2026-11-21T10:00:00Z"}
            ]}
        }))
        .unwrap()
    }

    fn selector(key: &str, value: &str) -> Selector {
        [(key.to_string(), value.to_string())].into_iter().collect()
    }

    #[test]
    fn pod_info_reads_readiness_ip_and_ready_time() {
        let info = pod_info(&pod("a", true, json!({"app": "web"}))).unwrap();
        assert!(info.ready && info.running && !info.deleting);
        assert_eq!(info.ip, Some("10.0.0.7".parse().unwrap()));
        assert_eq!(info.ready_since, Some(Timestamp::from_secs(1_795_255_200)));
        assert!(!pod_info(&pod("b", false, json!({}))).unwrap().ready);
    }

    #[test]
    fn select_filters_by_namespace_and_labels() {
        let index = PodIndex::new();
        let mut handler = PodWatchHandler::new(index.clone(), MetricStore::new());
        handler.handle(Event::Apply(pod("a", true, json!({"app": "web"}))));
        handler.handle(Event::Apply(pod("b", true, json!({"app": "api"}))));
        let names: Vec<String> = index
            .select("shop", &selector("app", "web"))
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["a"]);
        assert!(index.select("other", &selector("app", "web")).is_empty());
    }

    #[test]
    fn delete_and_relist_forget_pods() {
        let index = PodIndex::new();
        let mut handler = PodWatchHandler::new(index.clone(), MetricStore::new());
        handler.handle(Event::Apply(pod("a", true, json!({}))));
        handler.handle(Event::Apply(pod("b", true, json!({}))));
        handler.handle(Event::Delete(pod("a", true, json!({}))));
        assert_eq!(index.len(), 1);
        handler.handle(Event::Init);
        handler.handle(Event::InitApply(pod("c", true, json!({}))));
        // Until the re-list is complete the old view stays in place.
        assert_eq!(index.len(), 1);
        handler.handle(Event::InitDone);
        let all = index.select("shop", &Selector::default());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "c");
    }

    fn pod_sample(name: &str) -> crate::store::Sample {
        crate::store::Sample {
            target: crate::store::MetricValue::Custom {
                object: crate::store::DescribedObject {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    resource: "pods".into(),
                    namespace: Some("shop".into()),
                    name: name.into(),
                    labels: BTreeMap::new(),
                },
                metric: "rps".into(),
                metric_labels: BTreeMap::new(),
            },
            value: tidal_core::quantity::Quantity::from_milli(1000),
            timestamp: Timestamp::from_secs(1),
            window: None,
        }
    }

    #[test]
    fn deleted_pods_values_vanish_from_the_store() {
        let store = MetricStore::new();
        let id = crate::store::CollectorId("shop/web/pods/rps".into());
        store.put(
            &id,
            vec![pod_sample("a"), pod_sample("b"), pod_sample("c")],
            std::time::Duration::from_secs(60),
        );
        let mut handler = PodWatchHandler::new(PodIndex::new(), store.clone());
        for name in ["a", "b", "c"] {
            handler.handle(Event::Apply(pod(name, true, json!({}))));
        }
        handler.handle(Event::Delete(pod("a", true, json!({}))));
        assert_eq!(store.snapshot()[0].samples, 2);
        // "b" disappears while the watch is down: the re-list notices.
        handler.handle(Event::Init);
        handler.handle(Event::InitApply(pod("c", true, json!({}))));
        handler.handle(Event::InitDone);
        assert_eq!(store.snapshot()[0].samples, 1);
    }
}
