//! [`ClusterActions`] for [`KubeCluster`]: evictions, node marking, Events, the status ConfigMap.

use k8s_openapi::api::core::v1::{ConfigMap, Node, ObjectReference, Pod, Taint as K8sTaint};
use kube::api::{EvictParams, ListParams, Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::reflector::ObjectRef as StoreRef;
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::{debug, instrument};

use super::convert::{TO_BE_DELETED_TAINT, pod_from_k8s};
use super::{CONTROLLER_NAME, KubeCluster};
use crate::ports::{
    ClusterActions, ClusterError, ClusterPod, Event, EventReason, ObjectRef, StatusReport,
};
use crate::status::format_time;

/// Name of the status ConfigMap (upstream's, so existing dashboards and runbooks find it).
pub const STATUS_CONFIGMAP: &str = "cluster-autoscaler-status";
/// Annotation set on a node the autoscaler cordoned, so that unmarking uncordons only nodes it
/// cordoned itself and never one an operator cordoned.
pub const CORDONED_BY_ANNOTATION: &str = "tidal.io/cordoned-by-cluster-autoscaler";
/// Events carry at most 1 kB of message.
const MAX_EVENT_MESSAGE: usize = 1024;
/// Attempts at a node patch that lost an optimistic-concurrency race.
const PATCH_ATTEMPTS: usize = 3;

/// Where the status ConfigMap lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLocation {
    /// Namespace (kube-system by default).
    pub namespace: String,
    /// Name ([`STATUS_CONFIGMAP`] by default).
    pub name: String,
}

impl Default for StatusLocation {
    fn default() -> Self {
        Self {
            namespace: "kube-system".to_owned(),
            name: STATUS_CONFIGMAP.to_owned(),
        }
    }
}

fn api_error(operation: String, e: kube::Error) -> ClusterError {
    ClusterError::Api {
        operation,
        source: Box::new(e),
    }
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The node patch that marks it for deletion, or `None` if it already is.
fn mark_patch(node: &Node, now_secs: i64) -> Option<serde_json::Value> {
    let spec = node.spec.clone().unwrap_or_default();
    let mut taints = spec.taints.unwrap_or_default();
    let tainted = taints.iter().any(|t| t.key == TO_BE_DELETED_TAINT);
    let cordoned = spec.unschedulable.unwrap_or(false);
    if tainted && cordoned {
        return None;
    }
    if !tainted {
        taints.push(K8sTaint {
            key: TO_BE_DELETED_TAINT.to_owned(),
            value: Some(now_secs.to_string()),
            effect: "NoSchedule".to_owned(),
            time_added: None,
        });
    }
    let mut metadata = json!({ "resourceVersion": node.resource_version() });
    if !cordoned {
        metadata["annotations"] = json!({ CORDONED_BY_ANNOTATION: "true" });
    }
    Some(json!({ "metadata": metadata, "spec": { "taints": taints, "unschedulable": true } }))
}

/// The node patch that undoes [`mark_patch`], or `None` if there is nothing to undo.
fn unmark_patch(node: &Node) -> Option<serde_json::Value> {
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let kept: Vec<&K8sTaint> = taints
        .iter()
        .filter(|t| t.key != TO_BE_DELETED_TAINT)
        .collect();
    let we_cordoned = node.annotations().contains_key(CORDONED_BY_ANNOTATION);
    if kept.len() == taints.len() && !we_cordoned {
        return None;
    }
    let mut patch = json!({
        "metadata": { "resourceVersion": node.resource_version() },
        "spec": { "taints": kept },
    });
    if we_cordoned {
        patch["metadata"]["annotations"] = json!({ CORDONED_BY_ANNOTATION: null });
        patch["spec"]["unschedulable"] = json!(false);
    }
    Some(patch)
}

fn event_action(reason: EventReason) -> &'static str {
    match reason {
        EventReason::TriggeredScaleUp | EventReason::NotTriggerScaleUp => "ScaleUp",
        EventReason::ScaleDown | EventReason::ScaleDownFailed => "ScaleDown",
        EventReason::InvalidPod => "ReadPod",
    }
}

impl KubeCluster {
    /// Reads the node, computes a patch and applies it; retried when the node changed in between
    /// (the patch carries the resourceVersion it was computed from).
    async fn patch_node(
        &self,
        name: &str,
        what: &str,
        make: impl Fn(&Node) -> Option<serde_json::Value>,
    ) -> Result<(), ClusterError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut last_conflict = None;
        for _ in 0..PATCH_ATTEMPTS {
            let node = api.get(name).await.map_err(|e| match status_code(&e) {
                Some(404) => ClusterError::NotFound {
                    kind: "Node".into(),
                    name: name.to_owned(),
                },
                _ => api_error(format!("get node {name}"), e),
            })?;
            let Some(patch) = make(&node) else {
                debug!(node = name, what, "node already in the wanted state");
                return Ok(());
            };
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if status_code(&e) == Some(409) => last_conflict = Some(e),
                Err(e) => return Err(api_error(format!("{what} node {name}"), e)),
            }
        }
        Err(match last_conflict {
            Some(e) => api_error(format!("{what} node {name} (kept conflicting)"), e),
            None => ClusterError::NotReady(format!("{what} node {name}: no attempt made")),
        })
    }

    fn object_reference(&self, object: &ObjectRef) -> ObjectReference {
        match object {
            ObjectRef::Pod { namespace, name } => ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(namespace.clone()),
                name: Some(name.clone()),
                uid: self
                    .stores
                    .pods
                    .get(&StoreRef::new(name).within(namespace))
                    .and_then(|p| p.uid()),
                ..ObjectReference::default()
            },
            ObjectRef::Node { name } => ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(name.clone()),
                uid: self
                    .stores
                    .nodes
                    .get(&StoreRef::new(name))
                    .and_then(|n| n.uid()),
                ..ObjectReference::default()
            },
        }
    }
}

impl ClusterActions for KubeCluster {
    #[instrument(skip(self))]
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.evict(name, &EvictParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) => Err(match status_code(&e) {
                // The API server refuses with 429 while a PodDisruptionBudget allows no disruption.
                Some(429) => ClusterError::EvictionBlocked {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                },
                Some(404) => ClusterError::NotFound {
                    kind: "Pod".into(),
                    name: format!("{namespace}/{name}"),
                },
                _ => api_error(format!("evict pod {namespace}/{name}"), e),
            }),
        }
    }

    #[instrument(skip(self))]
    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError> {
        let api: Api<Pod> = Api::all(self.client.clone());
        // Finished pods hold nothing (as in the watch); everything else on the node counts.
        let selector = format!("spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed");
        let list = api
            .list(&ListParams::default().fields(&selector))
            .await
            .map_err(|e| api_error(format!("list pods on node {node}"), e))?;
        list.items
            .iter()
            .map(|pod| {
                pod_from_k8s(pod, None).map_err(|e| ClusterError::Unreadable {
                    object: format!(
                        "pod {}/{}",
                        pod.namespace().unwrap_or_default(),
                        pod.name_any()
                    ),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    #[instrument(skip(self))]
    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        let now_secs = self.clock.now().as_millis() / 1000;
        self.patch_node(node, "mark", |n| mark_patch(n, now_secs))
            .await
    }

    #[instrument(skip(self))]
    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        self.patch_node(node, "unmark", unmark_patch).await
    }

    #[instrument(skip(self, event), fields(object = %event.object, reason = %event.reason))]
    async fn record_event(&self, event: &Event) -> Result<(), ClusterError> {
        let reference = self.object_reference(&event.object);
        let kube_event = KubeEvent {
            type_: if event.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: event.reason.as_str().to_owned(),
            note: Some(truncate(&event.message, MAX_EVENT_MESSAGE)),
            action: event_action(event.reason).to_owned(),
            secondary: None,
        };
        self.recorder
            .publish(&kube_event, &reference)
            .await
            .map_err(|e| {
                api_error(
                    format!("record event {} on {}", event.reason, event.object),
                    e,
                )
            })
    }

    #[instrument(skip(self, status))]
    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.status.namespace);
        let body = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.status.name,
                "namespace": self.status.namespace,
                "annotations": { "cluster-autoscaler.kubernetes.io/last-updated": format_time(status.time) },
            },
            "data": { "status": status.to_text() },
        });
        api.patch(
            &self.status.name,
            &PatchParams::apply(CONTROLLER_NAME).force(),
            &Patch::Apply(&body),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            api_error(
                format!(
                    "apply configmap {}/{}",
                    self.status.namespace, self.status.name
                ),
                e,
            )
        })
    }
}
