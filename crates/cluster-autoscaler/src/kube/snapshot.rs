//! [`ClusterSource`] for [`KubeCluster`]: the stores converted to core types, through the
//! per-resourceVersion caches.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use tracing::warn;

use super::cache::ConversionCache;
use super::convert::volume::{pod_volume_zone, uses_claims};
use super::convert::{instance_id_from_provider_id, node_from_k8s, pdb_from_k8s, pod_from_k8s};
use tidal_core::sync::lock;

use super::KubeCluster;
use crate::ports::SkippedObjects;
use crate::ports::{
    ClusterError, ClusterNode, ClusterPod, ClusterSnapshot, ClusterSource, DisruptionBudget, Event,
    EventReason, ObjectRef, Unreadable,
};

/// The conversion caches of one cluster source.
#[derive(Default)]
pub(crate) struct Caches {
    pub(crate) pods: ConversionCache<ClusterPod>,
    pub(crate) nodes: ConversionCache<ClusterNode>,
}

fn cache_key<K: ResourceExt>(o: &K) -> String {
    o.uid()
        .unwrap_or_else(|| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()))
}

impl KubeCluster {
    fn convert_pods(
        &self,
        caches: &mut Caches,
        skipped: &mut SkippedObjects,
        unreadable: &mut Unreadable,
    ) -> Vec<Arc<ClusterPod>> {
        let objects: Vec<Arc<Pod>> = self.stores.pods.state();
        let mut out = Vec::with_capacity(objects.len());
        let mut new_events = Vec::new();
        caches.pods.begin();
        for pod in &objects {
            let zone = if uses_claims(pod) {
                pod_volume_zone(pod, &self.stores)
            } else {
                None
            };
            let version = pod.resource_version().unwrap_or_default();
            let key = cache_key(pod.as_ref());
            let found = caches
                .pods
                .get_or_convert(&key, &version, zone.as_deref(), || {
                    pod_from_k8s(pod, zone.clone())
                });
            match found.value {
                Ok(p) => out.push(p),
                Err(message) => {
                    skipped.pods += 1;
                    if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
                        unreadable.nodes_with_pods.insert(node);
                    }
                    if found.fresh {
                        warn!(pod = %format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any()), %message, "skipping a pod that cannot be read");
                        new_events.push(Event {
                            object: ObjectRef::Pod {
                                namespace: pod.namespace().unwrap_or_default(),
                                name: pod.name_any(),
                            },
                            warning: true,
                            reason: EventReason::InvalidPod,
                            message: format!("Ignored by the cluster autoscaler: {message}"),
                        });
                    }
                }
            }
        }
        caches.pods.finish();
        if !new_events.is_empty() {
            lock(&self.invalid_pod_events).extend(new_events);
        }
        // Store order is a hash order; sorting makes every decision repeatable.
        out.sort_unstable_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }

    fn convert_nodes(
        &self,
        caches: &mut Caches,
        skipped: &mut SkippedObjects,
        unreadable: &mut Unreadable,
    ) -> Vec<Arc<ClusterNode>> {
        let objects: Vec<Arc<Node>> = self.stores.nodes.state();
        let mut out = Vec::with_capacity(objects.len());
        caches.nodes.begin();
        for node in &objects {
            let version = node.resource_version().unwrap_or_default();
            let found =
                caches
                    .nodes
                    .get_or_convert(&cache_key(node.as_ref()), &version, None, || {
                        node_from_k8s(node)
                    });
            match found.value {
                Ok(n) => out.push(n),
                Err(message) => {
                    skipped.nodes += 1;
                    let provider_id = node.spec.as_ref().and_then(|s| s.provider_id.as_deref());
                    if let Some(id) = provider_id.and_then(instance_id_from_provider_id) {
                        unreadable.node_instances.insert(id);
                    }
                    if found.fresh {
                        warn!(node = %node.name_any(), %message, "skipping a node that cannot be read");
                    }
                }
            }
        }
        caches.nodes.finish();
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn convert_pdbs(&self, skipped: &mut SkippedObjects) -> Vec<Arc<DisruptionBudget>> {
        let mut out: Vec<Arc<DisruptionBudget>> = Vec::new();
        for pdb in self.stores.pdbs.state() {
            match pdb_from_k8s(&pdb) {
                Ok(Some(b)) => out.push(Arc::new(b)),
                Ok(None) => {}
                Err(e) => {
                    skipped.pdbs += 1;
                    warn!(error = %e, "skipping a PodDisruptionBudget that cannot be read");
                }
            }
        }
        out.sort_unstable_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        out
    }
}

impl ClusterSource for KubeCluster {
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        let not_ready = self.stores.not_ready();
        if !not_ready.is_empty() {
            let names: Vec<&str> = not_ready.iter().map(|k| k.name()).collect();
            return Err(ClusterError::NotReady(format!(
                "waiting for the first list of {}",
                names.join(", ")
            )));
        }
        let now = self.clock.now();
        let taken_at = self.health.current_as_of(now);
        let mut skipped = SkippedObjects::default();
        let mut unreadable = Unreadable::default();
        let mut caches = lock(&self.caches);
        let nodes = self.convert_nodes(&mut caches, &mut skipped, &mut unreadable);
        let pods = self.convert_pods(&mut caches, &mut skipped, &mut unreadable);
        drop(caches);
        let pdbs = self.convert_pdbs(&mut skipped);
        *lock(&self.skipped) = skipped;
        Ok(ClusterSnapshot {
            taken_at,
            nodes,
            pods: Arc::new(pods),
            pdbs,
            unreadable,
        })
    }
}
