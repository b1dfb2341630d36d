//! Prometheus metrics of the metrics adapter (prefix `tidal_metrics_adapter_`).
//!
//! - API serving: latency histogram by API group/version, requests by group/version/code.
//! - Collection (recorded by the poller): collections and errors by collector type and HPA.
//! - Value age: computed at scrape time from the store, one series per collector, so it never
//!   outlives the collector and never needs updating by the writers.
//!
//! Labels are bounded: API group/version come from a fixed list, HPA namespace/name and collector
//! types from the cluster's HPAs; never pod names or error messages.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidal_core::sync;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tidal_runtime::Clock;

use crate::store::MetricStore;

/// Labels of API request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// API group (`custom.metrics.k8s.io`, `external.metrics.k8s.io`, or empty for `/apis`).
    pub group: &'static str,
    /// API version (`v1beta1`, `v1beta2`, or empty).
    pub version: &'static str,
}

/// Labels of API request counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiCodeLabels {
    /// API group, as in [`ApiLabels`].
    pub group: &'static str,
    /// API version, as in [`ApiLabels`].
    pub version: &'static str,
    /// HTTP status code.
    pub code: u16,
}

/// Labels of collection metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectionLabels {
    /// Collector type, e.g. `json-path-pods`, `json-path-url`, `prometheus`, `sqs-queue-length`.
    pub collector: String,
    /// Namespace of the HPA.
    pub namespace: String,
    /// Name of the HPA.
    pub hpa: String,
}

/// Labels of collection errors: the collection labels plus a fixed reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectionErrorLabels {
    /// Collector type.
    pub collector: String,
    /// Namespace of the HPA.
    pub namespace: String,
    /// Name of the HPA.
    pub hpa: String,
    /// One of a small fixed set chosen by the collector (e.g. `timeout`, `backend`, `config`).
    pub reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs … ~1.6 s: serving from memory should sit in the lowest buckets.
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    ])
}

/// All metrics the adapter records. Cheap to clone; clones share the series.
#[derive(Clone, Debug)]
pub struct Metrics {
    request_duration: HistogramFamily<ApiLabels>,
    requests: Family<ApiCodeLabels, Counter>,
    collections: Family<CollectionLabels, Counter>,
    collection_errors: Family<CollectionErrorLabels, Counter>,
    // Family has no iteration, so remember which error label sets exist to forget an HPA.
    error_label_sets: Arc<Mutex<HashSet<CollectionErrorLabels>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            request_duration: Family::new_with_constructor(latency_histogram),
            requests: Family::default(),
            collections: Family::default(),
            collection_errors: Family::default(),
            error_label_sets: Arc::default(),
        }
    }
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` (prefix them by registering into
    /// `registry.sub_registry_with_prefix("tidal_metrics_adapter")` or pass a prefixed registry).
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "api_request_duration_seconds",
            "Time to answer a metrics API request, by API group and version",
            metrics.request_duration.clone(),
        );
        registry.register(
            "api_requests",
            "Metrics API requests answered, by API group, version and HTTP code",
            metrics.requests.clone(),
        );
        registry.register(
            "collections",
            "Successful collections, by collector type and HPA",
            metrics.collections.clone(),
        );
        registry.register(
            "collection_errors",
            "Failed collections, by collector type, HPA and reason",
            metrics.collection_errors.clone(),
        );
        metrics
    }

    /// Records one answered API request.
    pub fn observe_request(&self, labels: ApiLabels, code: u16, elapsed: Duration) {
        self.request_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&ApiCodeLabels {
                group: labels.group,
                version: labels.version,
                code,
            })
            .inc();
    }

    /// Records a successful collection of `collector` (type) for HPA `namespace/hpa`.
    pub fn collection_succeeded(&self, collector: &str, namespace: &str, hpa: &str) {
        self.collections
            .get_or_create(&CollectionLabels {
                collector: collector.to_string(),
                namespace: namespace.to_string(),
                hpa: hpa.to_string(),
            })
            .inc();
    }

    /// Records a failed collection; `reason` must come from a small fixed set.
    pub fn collection_failed(
        &self,
        collector: &str,
        namespace: &str,
        hpa: &str,
        reason: &'static str,
    ) {
        let labels = CollectionErrorLabels {
            collector: collector.to_string(),
            namespace: namespace.to_string(),
            hpa: hpa.to_string(),
            reason,
        };
        self.collection_errors.get_or_create(&labels).inc();
        sync::lock(&self.error_label_sets).insert(labels);
    }

    /// Drops every collection series of HPA `namespace/hpa` of collector type `collector` (the HPA
    /// or that metric was deleted), so deleted HPAs do not linger in `/metrics`.
    pub fn forget_hpa(&self, collector: &str, namespace: &str, hpa: &str) {
        self.collections.remove(&CollectionLabels {
            collector: collector.to_string(),
            namespace: namespace.to_string(),
            hpa: hpa.to_string(),
        });
        let mut sets = sync::lock(&self.error_label_sets);
        sets.retain(|l| {
            let matches = l.collector == collector && l.namespace == namespace && l.hpa == hpa;
            if matches {
                self.collection_errors.remove(l);
            }
            !matches
        });
    }

    /// API requests answered so far with `code` for one group/version (for tests).
    pub fn requests_count(&self, group: &'static str, version: &'static str, code: u16) -> u64 {
        self.requests
            .get(&ApiCodeLabels {
                group,
                version,
                code,
            })
            .map(|c| c.get())
            .unwrap_or(0)
    }

    /// Successful collections recorded so far for one label set (for tests and `/debug`).
    pub fn collections_count(&self, collector: &str, namespace: &str, hpa: &str) -> u64 {
        self.collections
            .get(&CollectionLabels {
                collector: collector.to_string(),
                namespace: namespace.to_string(),
                hpa: hpa.to_string(),
            })
            .map(|c| c.get())
            .unwrap_or(0)
    }

    /// Failed collections recorded so far for one label set (for tests and `/debug`).
    pub fn collection_errors_count(
        &self,
        collector: &str,
        namespace: &str,
        hpa: &str,
        reason: &'static str,
    ) -> u64 {
        self.collection_errors
            .get(&CollectionErrorLabels {
                collector: collector.to_string(),
                namespace: namespace.to_string(),
                hpa: hpa.to_string(),
                reason,
            })
            .map(|c| c.get())
            .unwrap_or(0)
    }
}

/// Scrape-time gauge `value_age_seconds{namespace,hpa,metric_type,metric}`: age of the newest
/// value each collector holds in the store.
pub struct ValueAgeCollector {
    store: MetricStore,
    clock: Clock,
}

impl std::fmt::Debug for ValueAgeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueAgeCollector").finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgeLabels {
    namespace: String,
    hpa: String,
    metric_type: String,
    metric: String,
}

impl ValueAgeCollector {
    /// Registers the value-age gauge over `store` in `registry`.
    pub fn register(registry: &mut Registry, store: MetricStore, clock: Clock) {
        registry.register_collector(Box::new(Self { store, clock }));
    }
}

impl Collector for ValueAgeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = self.clock.now();
        let snapshot = self.store.snapshot();
        let gauge_type = ConstGauge::new(0.0f64).metric_type();
        let mut metric = encoder.encode_descriptor(
            "value_age_seconds",
            "Age of the newest value each collector holds in the store",
            None,
            gauge_type,
        )?;
        for collector in &snapshot {
            let Some(newest) = collector.newest else {
                continue;
            };
            let mut parts = collector.id.0.splitn(4, '/');
            let mut next = || parts.next().unwrap_or_default().to_string();
            let labels = AgeLabels {
                namespace: next(),
                hpa: next(),
                metric_type: next(),
                metric: next(),
            };
            let age = ConstGauge::new(now.since(newest).as_secs_f64());
            age.encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
