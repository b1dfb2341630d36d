//! Collectors: one type per backend behind the [`Collector`] trait.
//!
//! A collector is built once per distinct [`Source`] (so HPAs asking the same question share it)
//! and asked to [`Collector::collect`] on every interval. It returns raw values; the poller
//! turns them into each HPA's samples.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidal_core::sync;

use futures::future::BoxFuture;
use tidal_core::Timestamp;

use crate::config::{CollectionSettings, HttpTimeouts, Source};
use crate::outbound::{OutboundPolicy, http_client};
use crate::ports::ClusterView;

mod error;
pub mod fetch;
pub mod json_path;
pub mod prometheus;
pub mod requests_per_second;
pub mod sqs;

pub use error::CollectError;

/// A value read from one pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodValue {
    /// Pod name.
    pub name: String,
    /// Pod labels (matched against the HPA's `labelSelector`).
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// What one collection produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Collected {
    /// One value (object and external metrics).
    Value(f64),
    /// One value per pod that answered (pods metrics).
    PerPod(Vec<PodValue>),
}

/// One backend query, repeated every interval.
pub trait Collector: Send + Sync {
    /// Queries the backend once. `now` is the wall-clock time of the collection.
    fn collect(&self, now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>>;
}

/// Builds collectors for sources ([`Backends`] in production, fakes in tests).
pub trait CollectorFactory: Send + Sync {
    /// The collector serving `source`.
    fn collector_for(&self, source: &Source) -> Result<Arc<dyn Collector>, CollectError>;
}

/// Shared clients collectors are built from.
pub struct Backends {
    /// The cluster: pods, scale targets, Ingresses and RouteGroups.
    pub cluster: Arc<dyn ClusterView>,
    /// SQS clients per region and cached queue URLs.
    pub sqs: Arc<sqs::SqsClients>,
    /// Fetches from Prometheus servers (through the outbound policy, bodies within limits).
    pub prometheus: fetch::Fetcher,
    /// The outbound policy for tenant-chosen URLs.
    pub policy: Arc<OutboundPolicy>,
    /// Limits on response bodies, shared by every collector.
    pub limits: fetch::BodyLimits,
    /// PromQL template of the requests-per-second collector.
    pub rps_query_template: String,
    /// JSON fetchers by (outbound policy applies, timeouts): an HTTP client holds a connection
    /// pool and TLS roots, too much to build one per HPA.
    json_fetchers: Mutex<HashMap<(bool, HttpTimeouts), fetch::Fetcher>>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("rps_query_template", &self.rps_query_template)
            .finish_non_exhaustive()
    }
}

impl CollectorFactory for Backends {
    fn collector_for(&self, source: &Source) -> Result<Arc<dyn Collector>, CollectError> {
        Backends::collector_for(self, source)
    }
}

impl Backends {
    /// Clients for `settings`, reading the cluster through `cluster`.
    pub fn new(
        cluster: Arc<dyn ClusterView>,
        settings: &CollectionSettings,
    ) -> Result<Self, CollectError> {
        let policy = Arc::new(settings.outbound.clone());
        let limits = fetch::BodyLimits {
            max_body_bytes: settings.max_body_bytes,
            budget: fetch::ByteBudget::new(settings.body_budget_bytes),
        };
        let prometheus_http = http_client(
            Some(policy.clone()),
            settings.default_connect_timeout,
            settings.default_request_timeout.max(Duration::from_secs(1)),
        )
        .map_err(|source| CollectError::ClientSetup {
            what: "Prometheus HTTP client",
            source,
        })?;
        Ok(Self {
            cluster,
            sqs: Arc::new(sqs::SqsClients::new(settings.aws_endpoint_url.clone())),
            prometheus: fetch::Fetcher::new(prometheus_http, Some(policy.clone()), limits.clone()),
            policy,
            limits,
            rps_query_template: settings.rps_query_template.clone(),
            json_fetchers: Mutex::new(HashMap::new()),
        })
    }

    /// The shared JSON fetcher for `timeouts`, through the outbound policy when `tenant_chosen`.
    fn json_fetcher(
        &self,
        tenant_chosen: bool,
        timeouts: HttpTimeouts,
    ) -> Result<fetch::Fetcher, CollectError> {
        let mut fetchers = sync::lock(&self.json_fetchers);
        if let Some(fetcher) = fetchers.get(&(tenant_chosen, timeouts)) {
            return Ok(fetcher.clone());
        }
        let policy = tenant_chosen.then(|| self.policy.clone());
        let http =
            http_client(policy.clone(), timeouts.connect, timeouts.request).map_err(|source| {
                CollectError::ClientSetup {
                    what: "JSON HTTP client",
                    source,
                }
            })?;
        let fetcher = fetch::Fetcher::new(http, policy, self.limits.clone());
        fetchers.insert((tenant_chosen, timeouts), fetcher.clone());
        Ok(fetcher)
    }

    /// Builds the collector for `source`.
    pub fn collector_for(&self, source: &Source) -> Result<Arc<dyn Collector>, CollectError> {
        Ok(match source {
            Source::PodsJsonPath(s) => Arc::new(json_path::PodsJsonPathCollector::with_fetcher(
                s.clone(),
                self.cluster.clone(),
                self.json_fetcher(false, s.timeouts)?,
            )?),
            Source::UrlJsonPath(s) => Arc::new(json_path::UrlJsonPathCollector::with_fetcher(
                s.clone(),
                self.json_fetcher(true, s.timeouts)?,
            )?),
            Source::Prometheus(s) => Arc::new(prometheus::PrometheusCollector::new(
                self.prometheus.clone(),
                s.clone(),
            )),
            Source::RequestsPerSecond(s) => {
                Arc::new(requests_per_second::RequestsPerSecondCollector::new(
                    self.prometheus.clone(),
                    s.clone(),
                    self.rps_query_template.clone(),
                    self.cluster.clone(),
                ))
            }
            Source::SqsQueueLength(s) => {
                Arc::new(sqs::SqsCollector::new(self.sqs.clone(), s.clone()))
            }
        })
    }
}

/// Rejects NaN and infinities: a made-up number must never reach the HPA.
pub(crate) fn finite(what: &str, value: f64) -> Result<f64, CollectError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(CollectError::NotFinite {
            what: what.to_string(),
            value: value.to_string(),
        })
    }
}
