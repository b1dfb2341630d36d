//! The in-memory metric store: collectors write samples, the API handlers read them.
//!
//! Contract for writers (collectors / poller):
//! - Every collector has a stable [`CollectorId`] (`"namespace/hpa-name/metric-type/metric-name"`).
//! - [`MetricStore::put`] *replaces* everything that collector wrote before, so a pod that is no
//!   longer selected, or an object no longer described, disappears on the next collection.
//! - A failed collection should *not* call `put` (the old values then age out after their TTL,
//!   which makes the HPA see "no metric" and hold). Write an empty `Vec` only when the collection
//!   succeeded and produced nothing.
//! - `ttl` is measured from each sample's own `timestamp`; the default is 3 × interval.
//! - Call [`MetricStore::remove_collector`] when an HPA or one of its metrics is deleted or
//!   changed, and [`MetricStore::remove_pod`] when a pod is deleted.
//! - Resource names are the lowercase plural, with the group for non-core kinds, exactly as the
//!   HPA controller puts them into the URL: `pods`, `namespaces`,
//!   `ingresses.networking.k8s.io`, `routegroups.zalando.org`, `deployments.apps`.
//! - A metric about a namespace itself (`namespaces/{ns}/metrics/{metric}`) is a custom value
//!   whose object has `resource: "namespaces"`, `kind: "Namespace"`, `namespace: None` and
//!   `name: {ns}`.
//!
//! Reads take a shared lock and only touch the index entry of the queried
//! (namespace, resource, metric), so concurrent readers do not contend with each other and a
//! writer holds the lock only for the few samples of one collector. Readers get
//! [`StoredValue`]s, which share their strings with the store (see `stored.rs` for the layout).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tidal_core::sync;

use tidal_core::Timestamp;
use tidal_core::quantity::Quantity;

use crate::selector::{Selector, SelectorExt};

mod index;
mod stored;

use index::{Cid, KeyIndex};
use stored::Interner;
pub use stored::{SharedLabels, StoredObject, StoredTarget, StoredValue};

/// What a stored custom-metric value describes, with kind/apiVersion as the API reports them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DescribedObject {
    /// `apiVersion` of the object, e.g. `v1` or `networking.k8s.io/v1`.
    pub api_version: String,
    /// `kind` of the object, e.g. `Pod` or `Ingress`.
    pub kind: String,
    /// Plural resource with group, e.g. `pods` or `ingresses.networking.k8s.io`.
    pub resource: String,
    /// Namespace of the object; `None` for cluster-scoped objects (including namespaces).
    pub namespace: Option<String>,
    /// Name of the object.
    pub name: String,
    /// The object's labels, matched against `labelSelector` when the name is `*`.
    pub labels: BTreeMap<String, String>,
}

/// What a sample is a value of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricValue {
    /// A custom.metrics.k8s.io value describing one Kubernetes object.
    Custom {
        /// The object the value describes.
        object: DescribedObject,
        /// Metric name as the HPA names it (dots allowed).
        metric: String,
        /// Labels of the metric itself, matched against `metricLabelSelector`.
        metric_labels: BTreeMap<String, String>,
    },
    /// An external.metrics.k8s.io value, scoped to the HPA's namespace.
    External {
        /// Namespace of the HPA asking for it.
        namespace: String,
        /// Metric name as the HPA names it.
        metric: String,
        /// Labels of the metric, matched against `labelSelector` (the HPA's `matchLabels`).
        metric_labels: BTreeMap<String, String>,
    },
}

/// One collected value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// What the value is of.
    pub target: MetricValue,
    /// The value.
    pub value: Quantity,
    /// When the value was observed (not when it was stored): the TTL counts from here.
    pub timestamp: Timestamp,
    /// The window the value was computed over (`windowSeconds` / `window`), if any.
    pub window: Option<Duration>,
}

/// Stable id of one collector: `"namespace/hpa-name/metric-type/metric-name"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollectorId(pub String);

impl std::fmt::Display for CollectorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which objects a custom-metrics request asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectSelector {
    /// One object by name.
    Named(String),
    /// Name `*`: every object whose labels match (`labelSelector`; empty selects all).
    Labels(Selector),
}

/// A custom.metrics.k8s.io request, already parsed from the URL and query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomQuery {
    /// Namespace from the URL; `None` for root-scoped resources and namespace metrics.
    pub namespace: Option<String>,
    /// Resource from the URL, e.g. `pods` or `ingresses.networking.k8s.io`.
    pub resource: String,
    /// Object name or `*` with a label selector.
    pub objects: ObjectSelector,
    /// Metric name.
    pub metric: String,
    /// `metricLabelSelector` (empty selects all).
    pub metric_selector: Selector,
}

/// An external.metrics.k8s.io request, already parsed from the URL and query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalQuery {
    /// Namespace from the URL.
    pub namespace: String,
    /// Metric name.
    pub metric: String,
    /// `labelSelector` over the metric labels (empty selects all).
    pub selector: Selector,
}

/// What the store knows about one collector, for `/debug/collectors` and the value-age gauge.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorSnapshot {
    /// The collector.
    pub id: CollectorId,
    /// How many samples it holds (including expired ones not yet purged).
    pub samples: usize,
    /// Timestamp of its newest sample, if any.
    pub newest: Option<Timestamp>,
    /// Its TTL.
    pub ttl: Duration,
}

type CustomKey = (Option<String>, String, String);
type ExternalKey = (String, String);

struct Entry {
    values: Vec<StoredValue>,
    ttl: Duration,
}

#[derive(Default)]
struct Inner {
    collectors: HashMap<Cid, Entry>,
    custom: HashMap<CustomKey, KeyIndex>,
    external: HashMap<ExternalKey, KeyIndex>,
    /// Collectors holding pod values, by the pods' namespace (pod deletions look here).
    pod_namespaces: HashMap<String, HashSet<Cid>>,
    interner: Interner,
}

/// Shared, cheaply clonable store of collected values.
#[derive(Clone, Default)]
pub struct MetricStore {
    inner: Arc<RwLock<Inner>>,
}

impl std::fmt::Debug for MetricStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricStore")
            .field("collectors", &self.read().collectors.len())
            .finish()
    }
}

/// Where a value is indexed: its key and the labels selectors match.
enum Slot<'a> {
    Custom(CustomKey, &'a SharedLabels),
    External(ExternalKey, &'a SharedLabels),
}

fn slot(value: &StoredValue) -> Slot<'_> {
    match &value.target {
        StoredTarget::Custom(object) => Slot::Custom(
            (
                object.namespace.as_deref().map(str::to_string),
                object.resource.to_string(),
                value.metric.to_string(),
            ),
            &object.labels,
        ),
        StoredTarget::External { namespace } => Slot::External(
            (namespace.to_string(), value.metric.to_string()),
            &value.metric_labels,
        ),
    }
}

/// Whether two values are indexed identically (the values of one collection usually are).
fn same_slot(a: &StoredValue, b: &StoredValue) -> bool {
    let same_labels = |x: &SharedLabels, y: &SharedLabels| Arc::ptr_eq(x, y);
    a.metric == b.metric
        && match (&a.target, &b.target) {
            (StoredTarget::Custom(x), StoredTarget::Custom(y)) => {
                x.namespace == y.namespace
                    && x.resource == y.resource
                    && same_labels(&x.labels, &y.labels)
            }
            (StoredTarget::External { namespace: x }, StoredTarget::External { namespace: y }) => {
                x == y && same_labels(&a.metric_labels, &b.metric_labels)
            }
            _ => false,
        }
}

/// Each distinct slot of `values`, once.
fn slots(values: &[StoredValue]) -> impl Iterator<Item = Slot<'_>> {
    values
        .iter()
        .enumerate()
        .filter(|(i, v)| !values[..*i].last().is_some_and(|prev| same_slot(prev, v)))
        .map(|(_, v)| slot(v))
}

fn pod_namespace(value: &StoredValue) -> Option<&str> {
    value
        .object()
        .filter(|o| &*o.resource == "pods")
        .and_then(|o| o.namespace.as_deref())
}

fn fresh(value: &StoredValue, ttl: Duration, now: Timestamp) -> bool {
    now.since(value.timestamp) <= ttl
}

impl Inner {
    /// Removes `id`'s values and all index entries pointing at it.
    fn unlink(&mut self, id: &str) -> Option<(Cid, Entry)> {
        let (cid, entry) = self.collectors.remove_entry(id)?;
        for slot in slots(&entry.values) {
            match slot {
                Slot::Custom(key, labels) => remove_from(&mut self.custom, &key, id, labels),
                Slot::External(key, labels) => remove_from(&mut self.external, &key, id, labels),
            }
        }
        for ns in entry.values.iter().filter_map(pod_namespace) {
            if let Some(set) = self.pod_namespaces.get_mut(ns) {
                set.remove(id);
                if set.is_empty() {
                    self.pod_namespaces.remove(ns);
                }
            }
        }
        Some((cid, entry))
    }

    fn link(&mut self, id: Cid, entry: Entry) {
        for slot in slots(&entry.values) {
            match slot {
                Slot::Custom(key, labels) => {
                    self.custom.entry(key).or_default().add(&id, labels.iter())
                }
                Slot::External(key, labels) => {
                    self.external
                        .entry(key)
                        .or_default()
                        .add(&id, labels.iter());
                }
            }
        }
        for ns in entry.values.iter().filter_map(pod_namespace) {
            match self.pod_namespaces.get_mut(ns) {
                Some(set) => {
                    if !set.contains(&id) {
                        set.insert(id.clone());
                    }
                }
                None => {
                    self.pod_namespaces
                        .insert(ns.to_string(), HashSet::from([id.clone()]));
                }
            }
        }
        self.collectors.insert(id, entry);
    }
}

fn remove_from<K: std::hash::Hash + Eq>(
    index: &mut HashMap<K, KeyIndex>,
    key: &K,
    id: &str,
    labels: &SharedLabels,
) {
    if let Some(key_index) = index.get_mut(key) {
        key_index.remove(id, labels.iter());
        if key_index.is_empty() {
            index.remove(key);
        }
    }
}

impl MetricStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave `Inner` half-updated in a way that serves
    // wrong values (each update is unlink-then-link), so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        sync::read(&self.inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        sync::write(&self.inner)
    }

    /// Replaces everything `collector` produced with `samples`, each valid for `ttl` after its
    /// own timestamp (so values of pods that are gone vanish).
    pub fn put(&self, collector: &CollectorId, samples: Vec<Sample>, ttl: Duration) {
        let mut inner = self.write();
        let values = inner.interner.store(samples);
        let cid = match inner.unlink(&collector.0) {
            Some((cid, _)) => cid,
            None => Cid::from(collector.0.as_str()),
        };
        inner.link(cid, Entry { values, ttl });
    }

    /// Forgets everything `collector` produced (its HPA was deleted or changed).
    pub fn remove_collector(&self, collector: &CollectorId) {
        self.write().unlink(&collector.0);
    }

    /// Forgets every value describing pod `namespace/name` at once (the pod was deleted).
    pub fn remove_pod(&self, namespace: &str, name: &str) {
        let mut inner = self.write();
        let Some(ids) = inner.pod_namespaces.get(namespace).cloned() else {
            return;
        };
        for id in ids {
            let holds_pod = inner
                .collectors
                .get(&id)
                .is_some_and(|e| e.values.iter().any(|v| v.is_pod(namespace, name)));
            if !holds_pod {
                continue;
            }
            if let Some((cid, mut entry)) = inner.unlink(&id) {
                entry.values.retain(|v| !v.is_pod(namespace, name));
                inner.link(cid, entry);
            }
        }
    }

    /// Drops every value older than its TTL at `now` and collectors left with none; returns how
    /// many values were dropped. Queries never serve stale values anyway: this bounds memory.
    pub fn purge_expired(&self, now: Timestamp) -> usize {
        let mut inner = self.write();
        let stale: Vec<Cid> = inner
            .collectors
            .iter()
            .filter(|(_, e)| e.values.iter().any(|v| !fresh(v, e.ttl, now)))
            .map(|(id, _)| id.clone())
            .collect();
        let mut dropped = 0;
        for id in stale {
            if let Some((cid, mut entry)) = inner.unlink(&id) {
                let before = entry.values.len();
                let ttl = entry.ttl;
                entry.values.retain(|v| fresh(v, ttl, now));
                dropped += before - entry.values.len();
                if !entry.values.is_empty() {
                    inner.link(cid, entry);
                }
            }
        }
        inner.interner.shrink();
        dropped
    }

    /// Custom-metric values matching `q` that are fresh at `now`, sorted by object name. When
    /// several collectors hold a value for the same object and metric labels, the newest wins.
    pub fn custom(&self, q: &CustomQuery, now: Timestamp) -> Vec<StoredValue> {
        let resource = q.resource.to_ascii_lowercase();
        let key = (q.namespace.clone(), resource, q.metric.clone());
        let inner = self.read();
        let Some(index) = inner.custom.get(&key) else {
            return Vec::new();
        };
        let candidates = index.candidates(match &q.objects {
            ObjectSelector::Labels(selector) => Some(selector),
            ObjectSelector::Named(_) => None,
        });
        let mut found: BTreeMap<(&str, &BTreeMap<String, String>), &StoredValue> = BTreeMap::new();
        for entry in candidates.iter().filter_map(|id| inner.collectors.get(id)) {
            for value in &entry.values {
                let Some(object) = value.object() else {
                    continue;
                };
                let selected = match &q.objects {
                    ObjectSelector::Named(name) => *object.name == **name,
                    ObjectSelector::Labels(selector) => selector.matches(&object.labels),
                };
                let same_key = object.namespace.as_deref() == key.0.as_deref()
                    && *object.resource == *key.1
                    && *value.metric == *key.2;
                if !selected
                    || !same_key
                    || !q.metric_selector.matches(&value.metric_labels)
                    || !fresh(value, entry.ttl, now)
                {
                    continue;
                }
                keep_newest(&mut found, (&*object.name, &*value.metric_labels), value);
            }
        }
        found.into_values().cloned().collect()
    }

    /// External-metric values matching `q` that are fresh at `now`, sorted by metric labels.
    /// When several collectors hold a value with the same labels, the newest wins.
    pub fn external(&self, q: &ExternalQuery, now: Timestamp) -> Vec<StoredValue> {
        let key = (q.namespace.clone(), q.metric.clone());
        let inner = self.read();
        let Some(index) = inner.external.get(&key) else {
            return Vec::new();
        };
        let candidates = index.candidates(Some(&q.selector));
        let mut found: BTreeMap<&BTreeMap<String, String>, &StoredValue> = BTreeMap::new();
        for entry in candidates.iter().filter_map(|id| inner.collectors.get(id)) {
            for value in &entry.values {
                let StoredTarget::External { namespace } = &value.target else {
                    continue;
                };
                if **namespace != *key.0
                    || *value.metric != *key.1
                    || !q.selector.matches(&value.metric_labels)
                    || !fresh(value, entry.ttl, now)
                {
                    continue;
                }
                keep_newest(&mut found, &*value.metric_labels, value);
            }
        }
        found.into_values().cloned().collect()
    }

    /// One line per collector: value count, newest timestamp and TTL.
    pub fn snapshot(&self) -> Vec<CollectorSnapshot> {
        let inner = self.read();
        let mut out: Vec<CollectorSnapshot> = inner
            .collectors
            .iter()
            .map(|(id, e)| CollectorSnapshot {
                id: CollectorId(id.to_string()),
                samples: e.values.len(),
                newest: e.values.iter().map(|v| v.timestamp).max(),
                ttl: e.ttl,
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// All distinct (resource, metric, namespaced) triples of custom values, for discovery.
    pub fn custom_metric_names(&self) -> Vec<(String, String, bool)> {
        let inner = self.read();
        let mut names: Vec<(String, String, bool)> = inner
            .custom
            .keys()
            .map(|(ns, resource, metric)| (resource.clone(), metric.clone(), ns.is_some()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// All distinct external metric names, for discovery.
    pub fn external_metric_names(&self) -> Vec<String> {
        let inner = self.read();
        let mut names: Vec<String> = inner.external.keys().map(|(_, m)| m.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

fn keep_newest<'a, K: Ord>(
    found: &mut BTreeMap<K, &'a StoredValue>,
    key: K,
    value: &'a StoredValue,
) {
    match found.get(&key) {
        Some(existing) if existing.timestamp >= value.timestamp => {}
        _ => {
            found.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests;
