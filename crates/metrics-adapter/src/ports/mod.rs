//! Ports: what the collection side needs from the outside world, as small traits with their own
//! error types. Adapters implement them in their own modules (the Kubernetes one in
//! [`crate::adapters::kube_cluster`]); collectors and the poller depend only on these.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::future::BoxFuture;
use tidal_core::Timestamp;

use crate::config::{RoutingKind, ScaleTarget};
use crate::selector::Selector;

/// A pod as collectors see it: where it is and whether it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSummary {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `status.podIP`.
    pub ip: Option<IpAddr>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `status.phase == Running`.
    pub running: bool,
    /// Ready condition is `True`.
    pub ready: bool,
    /// When the Ready condition last changed.
    pub ready_since: Option<Timestamp>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
}

impl PodSummary {
    /// Running, Ready, not terminating, with an IP, and Ready for at least `min_ready_age`.
    pub fn serves(&self, now: Timestamp, min_ready_age: Duration) -> bool {
        let old_enough = min_ready_age.is_zero()
            || self
                .ready_since
                .is_some_and(|since| now.since(since) >= min_ready_age);
        self.running && self.ready && !self.deleting && self.ip.is_some() && old_enough
    }
}

/// Hosts and backend weights of an Ingress or RouteGroup.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoutingInfo {
    /// Hostnames the object routes.
    pub hosts: Vec<String>,
    /// Traffic weight per backend name (relative; need not sum to 100).
    pub backend_weights: BTreeMap<String, f64>,
}

/// Why the cluster could not answer a collector's question.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// An object cannot be measured as configured (wrong kind, bad annotation, no hosts).
    #[error("{object}: {problem}")]
    Routing {
        /// `kind namespace/name`.
        object: String,
        /// What is wrong.
        problem: String,
    },
    /// The scale target's selector selects every pod of the namespace.
    #[error("{what} has an empty selector; refusing to read every pod of the namespace")]
    EmptySelector {
        /// The workload.
        what: String,
    },
    /// The cluster's API failed.
    #[error("{what}: {source}")]
    Api {
        /// What was read.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ClusterError {
    /// A bounded label for metrics: the kind of failure, never free text.
    pub fn label(&self) -> &'static str {
        match self {
            ClusterError::Routing { .. } | ClusterError::EmptySelector { .. } => "config",
            ClusterError::Api { .. } => "kubernetes",
        }
    }
}

/// Read access to the cluster for collectors.
pub trait ClusterView: Send + Sync {
    /// Pods of `namespace` whose labels match `selector`, ready or not.
    fn pods(&self, namespace: &str, selector: &Selector) -> Vec<PodSummary>;

    /// The pod selector of a Deployment or StatefulSet.
    fn scale_target_selector<'a>(
        &'a self,
        namespace: &'a str,
        target: &'a ScaleTarget,
    ) -> BoxFuture<'a, Result<Selector, ClusterError>>;

    /// Hosts and backend weights of an Ingress or RouteGroup.
    fn routing<'a>(
        &'a self,
        namespace: &'a str,
        kind: RoutingKind,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RoutingInfo, ClusterError>>;

    /// Where to reach `pod` on `port`. Tests override this to point pods at loopback servers.
    fn pod_address(&self, pod: &PodSummary, port: u16) -> Option<SocketAddr> {
        pod.ip.map(|ip| SocketAddr::new(ip, port))
    }
}

#[cfg(test)]
mod tests;
