//! The cluster as collectors see it (a port): pods by selector, scale-target selectors, and the
//! hosts of Ingresses and RouteGroups. [`KubeCluster`] is the real adapter: pods come from the
//! watched [`PodIndex`] (no API call per collection), the rest from cached API reads.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use tidal_core::Timestamp;

use crate::collector::CollectError;
use crate::config::{RoutingKind, ScaleTarget};
use crate::pod_watch::PodIndex;
use crate::selector::Selector;

/// What collectors need to know about one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
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

impl PodInfo {
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

/// Read access to the cluster for collectors.
pub trait ClusterView: Send + Sync {
    /// Pods of `namespace` whose labels match `selector`, ready or not.
    fn pods(&self, namespace: &str, selector: &Selector) -> Vec<PodInfo>;

    /// The pod selector of a Deployment or StatefulSet.
    fn scale_target_selector<'a>(
        &'a self,
        namespace: &'a str,
        target: &'a ScaleTarget,
    ) -> BoxFuture<'a, Result<Selector, CollectError>>;

    /// Hosts and backend weights of an Ingress or RouteGroup.
    fn routing<'a>(
        &'a self,
        namespace: &'a str,
        kind: RoutingKind,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RoutingInfo, CollectError>>;

    /// Where to reach `pod` on `port`. Tests override this to point pods at loopback servers.
    fn pod_address(&self, pod: &PodInfo, port: u16) -> Option<SocketAddr> {
        pod.ip.map(|ip| SocketAddr::new(ip, port))
    }
}

/// Selectors of workloads are immutable, so a long cache only matters when a workload is
/// deleted and recreated with another selector.
const SELECTOR_CACHE_TTL: Duration = Duration::from_secs(300);

/// Annotation with skipper's backend weights on an Ingress: `{"backend": weight, …}`.
pub const BACKEND_WEIGHTS_ANNOTATION: &str = "zalando.org/backend-weights";

/// [`ClusterView`] over the Kubernetes API.
pub struct KubeCluster {
    client: kube::Client,
    pods: PodIndex,
    selectors: Mutex<HashMap<(String, ScaleTarget), (Selector, tokio::time::Instant)>>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// A view reading pods from `pods` (kept current by the pod watch) and the rest via `client`.
    pub fn new(client: kube::Client, pods: PodIndex) -> Self {
        Self {
            client,
            pods,
            selectors: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch_selector(
        &self,
        namespace: &str,
        target: &ScaleTarget,
    ) -> Result<Selector, CollectError> {
        let what = format!("{} {namespace}/{}", target.kind, target.name);
        let kube_err = |source| CollectError::Kubernetes {
            what: format!("reading {what}"),
            source,
        };
        let selector: Option<LabelSelector> = match target.kind.as_str() {
            "Deployment" => Api::<Deployment>::namespaced(self.client.clone(), namespace)
                .get(&target.name)
                .await
                .map_err(kube_err)?
                .spec
                .map(|s| s.selector),
            "StatefulSet" => Api::<StatefulSet>::namespaced(self.client.clone(), namespace)
                .get(&target.name)
                .await
                .map_err(kube_err)?
                .spec
                .map(|s| s.selector),
            other => {
                return Err(CollectError::Routing {
                    object: what.clone(),
                    problem: format!("kind {other:?} has no pod selector Tidal can read"),
                });
            }
        };
        workload_selector(&what, selector)
    }
}

/// Converts a workload's selector, refusing one that would select every pod.
pub fn workload_selector(
    what: &str,
    selector: Option<LabelSelector>,
) -> Result<Selector, CollectError> {
    let selector = selector.unwrap_or_default();
    let converted = Selector::try_from(selector).map_err(|e| CollectError::Routing {
        object: what.to_string(),
        problem: format!("invalid selector: {e}"),
    })?;
    if converted.selects_all() {
        return Err(CollectError::EmptySelector {
            what: what.to_string(),
        });
    }
    Ok(converted)
}

impl ClusterView for KubeCluster {
    fn pods(&self, namespace: &str, selector: &Selector) -> Vec<PodInfo> {
        self.pods.select(namespace, selector)
    }

    fn scale_target_selector<'a>(
        &'a self,
        namespace: &'a str,
        target: &'a ScaleTarget,
    ) -> BoxFuture<'a, Result<Selector, CollectError>> {
        Box::pin(async move {
            let key = (namespace.to_string(), target.clone());
            let cached = self
                .selectors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .filter(|(_, at)| at.elapsed() < SELECTOR_CACHE_TTL)
                .map(|(s, _)| s.clone());
            if let Some(selector) = cached {
                return Ok(selector);
            }
            let selector = self.fetch_selector(namespace, target).await?;
            self.selectors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (selector.clone(), tokio::time::Instant::now()));
            Ok(selector)
        })
    }

    fn routing<'a>(
        &'a self,
        namespace: &'a str,
        kind: RoutingKind,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RoutingInfo, CollectError>> {
        Box::pin(async move {
            let what = format!("{kind:?} {namespace}/{name}");
            let kube_err = |source| CollectError::Kubernetes {
                what: format!("reading {what}"),
                source,
            };
            match kind {
                RoutingKind::Ingress => {
                    let ingress = Api::<Ingress>::namespaced(self.client.clone(), namespace)
                        .get(name)
                        .await
                        .map_err(kube_err)?;
                    ingress_routing(&what, &ingress)
                }
                RoutingKind::RouteGroup => {
                    let gvk = GroupVersionKind::gvk("zalando.org", "v1", "RouteGroup");
                    let resource = ApiResource::from_gvk_with_plural(&gvk, "routegroups");
                    let api: Api<DynamicObject> =
                        Api::namespaced_with(self.client.clone(), namespace, &resource);
                    let group = api.get(name).await.map_err(kube_err)?;
                    route_group_routing(&what, &group.data)
                }
            }
        })
    }
}

/// Hosts of an Ingress's rules and weights from [`BACKEND_WEIGHTS_ANNOTATION`].
pub fn ingress_routing(what: &str, ingress: &Ingress) -> Result<RoutingInfo, CollectError> {
    let hosts = ingress
        .spec
        .as_ref()
        .and_then(|s| s.rules.as_ref())
        .map(|rules| rules.iter().filter_map(|r| r.host.clone()).collect())
        .unwrap_or_default();
    let backend_weights = match ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BACKEND_WEIGHTS_ANNOTATION))
    {
        None => BTreeMap::new(),
        Some(raw) => serde_json::from_str(raw).map_err(|e| CollectError::Routing {
            object: what.to_string(),
            problem: format!(
                "annotation {BACKEND_WEIGHTS_ANNOTATION} is not a JSON map of numbers: {e}"
            ),
        })?,
    };
    Ok(RoutingInfo {
        hosts,
        backend_weights,
    })
}

/// Hosts of a RouteGroup (`spec.hosts`) and weights of its `spec.defaultBackends`.
pub fn route_group_routing(
    what: &str,
    data: &serde_json::Value,
) -> Result<RoutingInfo, CollectError> {
    let spec = &data["spec"];
    let hosts = spec["hosts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut backend_weights = BTreeMap::new();
    for backend in spec["defaultBackends"].as_array().into_iter().flatten() {
        let Some(name) = backend["backendName"].as_str() else {
            return Err(CollectError::Routing {
                object: what.to_string(),
                problem: "spec.defaultBackends entry without backendName".to_string(),
            });
        };
        let weight = backend["weight"].as_f64().unwrap_or(1.0);
        backend_weights.insert(name.to_string(), weight);
    }
    Ok(RoutingInfo {
        hosts,
        backend_weights,
    })
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
