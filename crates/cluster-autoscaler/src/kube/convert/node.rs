//! Node → [`ClusterNode`], PodDisruptionBudget → [`DisruptionBudget`].

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use tidal_core::scheduling::{NodeSpec, Taint};

use super::pod::taint_effect;
use super::{Bad, ConvertError, label_selector, resources, timestamp};
use crate::ports::{ClusterNode, DisruptionBudget};

pub use crate::ports::TO_BE_DELETED_TAINT;

/// The EC2 instance id in an AWS provider id (`aws:///eu-central-1a/i-0abc…`).
pub fn instance_id_from_provider_id(provider_id: &str) -> Option<String> {
    let rest = provider_id.strip_prefix("aws://")?;
    let last = rest.rsplit('/').next()?;
    (last.starts_with("i-") && last.len() > 2).then(|| last.to_owned())
}

/// Converts a node.
pub fn node_from_k8s(node: &Node) -> Result<ClusterNode, ConvertError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let object = format!("node {name}");
    if name.is_empty() {
        return Err(Bad::Missing("metadata.name".into()).on(object));
    }
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let mut allocatable = resources(
        status.and_then(|s| s.allocatable.as_ref()),
        "status.allocatable",
    )
    .map_err(|b| b.on(object.clone()))?;
    allocatable.extended.retain(|_, v| *v != 0);
    let mut taints = Vec::new();
    for (i, t) in spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let effect = taint_effect(&t.effect, &format!("spec.taints[{i}].effect"))
            .map_err(|b| b.on(object.clone()))?;
        taints.push(Taint::new(
            t.key.clone(),
            t.value.clone().unwrap_or_default(),
            effect,
        ));
    }
    let marked = taints.iter().any(|t| t.key == TO_BE_DELETED_TAINT);
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    Ok(ClusterNode {
        spec: NodeSpec {
            name: name.clone(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints,
            allocatable,
        },
        instance_id: spec
            .and_then(|s| s.provider_id.as_deref())
            .and_then(instance_id_from_provider_id),
        ready,
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false) || marked,
        created_at: node
            .metadata
            .creation_timestamp
            .as_ref()
            .map(timestamp)
            .unwrap_or_default(),
        name,
    })
}

/// Converts a PodDisruptionBudget. `Ok(None)` for a budget without a selector: in policy/v1 it
/// covers no pod, so it constrains nothing.
pub fn pdb_from_k8s(pdb: &PodDisruptionBudget) -> Result<Option<DisruptionBudget>, ConvertError> {
    let namespace = pdb.metadata.namespace.clone().unwrap_or_default();
    let name = pdb.metadata.name.clone().unwrap_or_default();
    let object = format!("poddisruptionbudget {namespace}/{name}");
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return Ok(None);
    };
    let selector = label_selector(selector, "spec.selector").map_err(|b| b.on(object))?;
    // No status yet means the disruption controller has not computed it: allow nothing.
    let allowed = pdb
        .status
        .as_ref()
        .map_or(0, |s| s.disruptions_allowed.max(0));
    Ok(Some(DisruptionBudget {
        namespace,
        name,
        selector,
        disruptions_allowed: u32::try_from(allowed).unwrap_or(0),
    }))
}
