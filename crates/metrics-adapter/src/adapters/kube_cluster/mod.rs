//! [`KubeClusterViewView`]: the [`ClusterView`] port over the Kubernetes API. Pods come from the
//! watched [`PodIndex`] (no API call per collection); workload selectors, Ingresses and
//! RouteGroups from API reads (selectors cached).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tidal_core::sync;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use crate::config::{RoutingKind, ScaleTarget};
use crate::pod_watch::PodIndex;
use crate::ports::{ClusterError, ClusterView, PodSummary, RoutingInfo};
use crate::selector::Selector;

/// Selectors of workloads are immutable, so a long cache only matters when a workload is
/// deleted and recreated with another selector.
const SELECTOR_CACHE_TTL: Duration = Duration::from_secs(300);

/// Annotation with skipper's backend weights on an Ingress: `{"backend": weight, …}`.
pub const BACKEND_WEIGHTS_ANNOTATION: &str = "zalando.org/backend-weights";

/// [`ClusterView`] over the Kubernetes API.
pub struct KubeClusterView {
    client: kube::Client,
    pods: PodIndex,
    selectors: Mutex<HashMap<(String, ScaleTarget), (Selector, tokio::time::Instant)>>,
}

impl std::fmt::Debug for KubeClusterView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClusterView").finish_non_exhaustive()
    }
}

impl KubeClusterView {
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
    ) -> Result<Selector, ClusterError> {
        let what = format!("{} {namespace}/{}", target.kind, target.name);
        let kube_err = |source: kube::Error| ClusterError::Api {
            what: format!("reading {what}"),
            source: Box::new(source),
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
                return Err(ClusterError::Routing {
                    object: what.clone(),
                    problem: format!("kind {other:?} has no pod selector Tidal can read"),
                });
            }
        };
        workload_selector(&what, selector)
    }
}

/// Converts a workload's selector, refusing one that would select every pod.
pub(crate) fn workload_selector(
    what: &str,
    selector: Option<LabelSelector>,
) -> Result<Selector, ClusterError> {
    let selector = selector.unwrap_or_default();
    let converted = Selector::try_from(selector).map_err(|e| ClusterError::Routing {
        object: what.to_string(),
        problem: format!("invalid selector: {e}"),
    })?;
    if converted.selects_all() {
        return Err(ClusterError::EmptySelector {
            what: what.to_string(),
        });
    }
    Ok(converted)
}

impl ClusterView for KubeClusterView {
    fn pods(&self, namespace: &str, selector: &Selector) -> Vec<PodSummary> {
        self.pods.select(namespace, selector)
    }

    fn scale_target_selector<'a>(
        &'a self,
        namespace: &'a str,
        target: &'a ScaleTarget,
    ) -> BoxFuture<'a, Result<Selector, ClusterError>> {
        Box::pin(async move {
            let key = (namespace.to_string(), target.clone());
            let cached = sync::lock(&self.selectors)
                .get(&key)
                .filter(|(_, at)| at.elapsed() < SELECTOR_CACHE_TTL)
                .map(|(s, _)| s.clone());
            if let Some(selector) = cached {
                return Ok(selector);
            }
            let selector = self.fetch_selector(namespace, target).await?;
            sync::lock(&self.selectors)
                .insert(key, (selector.clone(), tokio::time::Instant::now()));
            Ok(selector)
        })
    }

    fn routing<'a>(
        &'a self,
        namespace: &'a str,
        kind: RoutingKind,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RoutingInfo, ClusterError>> {
        Box::pin(async move {
            let what = format!("{kind:?} {namespace}/{name}");
            let kube_err = |source: kube::Error| ClusterError::Api {
                what: format!("reading {what}"),
                source: Box::new(source),
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
pub(crate) fn ingress_routing(what: &str, ingress: &Ingress) -> Result<RoutingInfo, ClusterError> {
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
        Some(raw) => serde_json::from_str(raw).map_err(|e| ClusterError::Routing {
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
pub(crate) fn route_group_routing(
    what: &str,
    data: &serde_json::Value,
) -> Result<RoutingInfo, ClusterError> {
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
            return Err(ClusterError::Routing {
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
mod tests;
