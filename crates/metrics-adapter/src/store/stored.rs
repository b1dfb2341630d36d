//! How the store holds values: compact and shared.
//!
//! 10,000 HPAs with a Pods metric over ten pods are 100,000 values. Held as [`Sample`]s each would
//! own six strings and a label map (a B-tree node of over 500 bytes even for one label), about
//! 1 KiB per value. Stored here, the low-cardinality strings (apiVersion, kind, resource,
//! namespace, metric) are interned once for the whole store, equal label maps written by one
//! collection are one shared map, and a value costs roughly 200 bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::quantity::Quantity;

use super::{DescribedObject, MetricValue, Sample};

/// Labels shared between values (and with readers).
pub type SharedLabels = Arc<BTreeMap<String, String>>;

/// The object a stored custom value describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    /// `apiVersion` of the object.
    pub api_version: Arc<str>,
    /// `kind` of the object.
    pub kind: Arc<str>,
    /// Plural resource with group, lowercase (e.g. `ingresses.networking.k8s.io`).
    pub resource: Arc<str>,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<Arc<str>>,
    /// Name of the object.
    pub name: Arc<str>,
    /// The object's labels.
    pub labels: SharedLabels,
}

/// What a stored value is of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredTarget {
    /// A custom.metrics.k8s.io value describing an object.
    Custom(StoredObject),
    /// An external.metrics.k8s.io value in a namespace.
    External {
        /// Namespace of the HPA asking.
        namespace: Arc<str>,
    },
}

/// A value as the store holds it and hands it to readers; clones share all strings.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredValue {
    /// What the value is of.
    pub target: StoredTarget,
    /// Metric name.
    pub metric: Arc<str>,
    /// Labels of the metric series.
    pub metric_labels: SharedLabels,
    /// The value.
    pub value: Quantity,
    /// When it was observed.
    pub timestamp: Timestamp,
    /// Window it was computed over.
    pub window: Option<Duration>,
}

impl StoredValue {
    /// The described object of a custom value.
    pub fn object(&self) -> Option<&StoredObject> {
        match &self.target {
            StoredTarget::Custom(object) => Some(object),
            StoredTarget::External { .. } => None,
        }
    }

    /// Whether this value describes pod `namespace/name`.
    pub(super) fn is_pod(&self, namespace: &str, name: &str) -> bool {
        self.object().is_some_and(|o| {
            &*o.resource == "pods" && o.namespace.as_deref() == Some(namespace) && &*o.name == name
        })
    }
}

/// Interned strings of the whole store. Entries nobody else holds any more are dropped by
/// [`Interner::shrink`], so namespaces and metrics that disappear do not accumulate.
#[derive(Default)]
pub(super) struct Interner {
    strings: HashSet<Arc<str>>,
    empty_labels: SharedLabels,
}

impl Interner {
    pub(super) fn string(&mut self, s: &str) -> Arc<str> {
        if let Some(existing) = self.strings.get(s) {
            return existing.clone();
        }
        let new: Arc<str> = Arc::from(s);
        self.strings.insert(new.clone());
        new
    }

    pub(super) fn shrink(&mut self) {
        self.strings.retain(|s| Arc::strong_count(s) > 1);
    }

    /// Converts one collection's samples, sharing equal label maps between them.
    pub(super) fn store(&mut self, samples: Vec<Sample>) -> Vec<StoredValue> {
        let mut labels: HashMap<BTreeMap<String, String>, SharedLabels> = HashMap::new();
        let mut share = |map: BTreeMap<String, String>, empty: &SharedLabels| -> SharedLabels {
            if map.is_empty() {
                return empty.clone();
            }
            if let Some(shared) = labels.get(&map) {
                return shared.clone();
            }
            let shared = Arc::new(map.clone());
            labels.insert(map, shared.clone());
            shared
        };
        let empty = self.empty_labels.clone();
        samples
            .into_iter()
            .map(|s| {
                let (target, metric, metric_labels) = match s.target {
                    MetricValue::Custom {
                        object,
                        metric,
                        metric_labels,
                    } => {
                        let object = self.object(object, &mut share, &empty);
                        (StoredTarget::Custom(object), metric, metric_labels)
                    }
                    MetricValue::External {
                        namespace,
                        metric,
                        metric_labels,
                    } => {
                        let namespace = self.string(&namespace);
                        (StoredTarget::External { namespace }, metric, metric_labels)
                    }
                };
                StoredValue {
                    target,
                    metric: self.string(&metric),
                    metric_labels: share(metric_labels, &empty),
                    value: s.value,
                    timestamp: s.timestamp,
                    window: s.window,
                }
            })
            .collect()
    }

    fn object(
        &mut self,
        o: DescribedObject,
        share: &mut impl FnMut(BTreeMap<String, String>, &SharedLabels) -> SharedLabels,
        empty: &SharedLabels,
    ) -> StoredObject {
        StoredObject {
            api_version: self.string(&o.api_version),
            kind: self.string(&o.kind),
            resource: self.string(&o.resource.to_ascii_lowercase()),
            namespace: o.namespace.as_deref().map(|ns| self.string(ns)),
            name: Arc::from(o.name),
            labels: share(o.labels, empty),
        }
    }
}
