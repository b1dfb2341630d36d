//! Kubernetes objects → the autoscaler's view ([`ClusterPod`], [`ClusterNode`],
//! [`DisruptionBudget`]). Pure functions: the reflector stores feed them, tests call them with
//! objects made by small builders.
//!
//! What is supported (anything else in a pod spec is ignored, which can only make the
//! autoscaler think a pod fits where the scheduler later refuses it, never the reverse):
//! - requests: sum of containers, max with each init container (sidecar init containers with
//!   `restartPolicy: Always` add to everything after them, as in Kubernetes 1.29+), plus
//!   `spec.overhead`; pod-level `spec.resources.requests` replace the container aggregate for the
//!   resources they name; extended resources and `hugepages-*` are extended resources.
//! - `nodeSelector`; required node affinity (`matchExpressions`; a `matchFields` on
//!   `metadata.name`, as DaemonSet pods carry, becomes a `kubernetes.io/hostname` requirement).
//! - tolerations; host ports of containers and sidecars.
//! - required pod anti-affinity on `kubernetes.io/hostname` (same namespace);
//!   topology spread over `topology.kubernetes.io/zone`. Anti-affinity and spread on other keys
//!   are ignored.
//! - the zone of a bound volume: PVC → bound PV → its `topology.kubernetes.io/zone` node
//!   affinity or label (see [`volume`]).
//! - `PodScheduled=False` with reason `Unschedulable` → `unschedulable_since`; controller owner
//!   kind (mirror pods → `Node`); the safe-to-evict annotation; `emptyDir` (not in memory) and
//!   `hostPath` volumes as local storage.

mod node;
mod pod;
pub mod volume;

pub use node::{TO_BE_DELETED_TAINT, instance_id_from_provider_id, node_from_k8s, pdb_from_k8s};
pub use pod::{SAFE_TO_EVICT_ANNOTATION, pod_from_k8s};

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sLabelSelector, Time};
use tidal_core::Timestamp;
use tidal_core::quantity::{QuantityError, parse_bytes, parse_cpu_millis};
use tidal_core::resources::Resources;
use tidal_core::scheduling::{LabelSelector, LabelSelectorOperator, LabelSelectorRequirement};

/// Why an object could not be converted. The object is skipped (and, for pods, a Warning Event
/// names it); the rest of the snapshot is still used.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A required field is absent.
    #[error("{object}: missing {field}")]
    Missing {
        /// The object, e.g. `pod ns/name`.
        object: String,
        /// The field path.
        field: String,
    },
    /// A resource quantity does not parse.
    #[error("{object}: {field}: {source}")]
    Quantity {
        /// The object.
        object: String,
        /// The field path, e.g. `spec.containers[app].resources.requests.cpu`.
        field: String,
        /// The parse error (it names the bad value).
        #[source]
        source: QuantityError,
    },
    /// A field has a value Kubernetes would not accept here (unknown operator or effect, …).
    #[error("{object}: {field}: {reason}")]
    Invalid {
        /// The object.
        object: String,
        /// The field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// A field-level problem, before the object's name is attached.
#[derive(Debug)]
pub(crate) enum Bad {
    Missing(String),
    Quantity(String, QuantityError),
    Invalid(String, String),
}

impl Bad {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Bad::Invalid(field.into(), reason.into())
    }

    pub(crate) fn on(self, object: String) -> ConvertError {
        match self {
            Bad::Missing(field) => ConvertError::Missing { object, field },
            Bad::Quantity(field, source) => ConvertError::Quantity {
                object,
                field,
                source,
            },
            Bad::Invalid(field, reason) => ConvertError::Invalid {
                object,
                field,
                reason,
            },
        }
    }
}

/// Milliseconds since the epoch of a Kubernetes time.
pub(crate) fn timestamp(t: &Time) -> Timestamp {
    Timestamp::from_millis(t.0.as_millisecond())
}

/// Adds one named quantity to `into`, in core units (milli-CPU; bytes or counts otherwise).
fn add_quantity(into: &mut Resources, name: &str, q: &K8sQuantity, field: &str) -> Result<(), Bad> {
    let text = q.0.as_str();
    let bad = |e| Bad::Quantity(format!("{field}.{name}"), e);
    match name {
        "cpu" => {
            into.cpu_millis = into
                .cpu_millis
                .saturating_add(parse_cpu_millis(text).map_err(bad)?)
        }
        "memory" => {
            into.memory_bytes = into
                .memory_bytes
                .saturating_add(parse_bytes(text).map_err(bad)?)
        }
        "ephemeral-storage" => {
            into.ephemeral_storage_bytes = into
                .ephemeral_storage_bytes
                .saturating_add(parse_bytes(text).map_err(bad)?)
        }
        "pods" => into.pods = into.pods.saturating_add(parse_bytes(text).map_err(bad)?),
        other => {
            let amount = parse_bytes(text).map_err(bad)?;
            if amount != 0 {
                let slot = into.extended.entry(other.to_owned()).or_insert(0);
                *slot = slot.saturating_add(amount);
            }
        }
    }
    Ok(())
}

/// A resource list (`requests`, `allocatable`, `overhead`) in core units.
pub(crate) fn resources(
    list: Option<&BTreeMap<String, K8sQuantity>>,
    field: &str,
) -> Result<Resources, Bad> {
    let mut out = Resources::zero();
    for (name, q) in list.into_iter().flatten() {
        add_quantity(&mut out, name, q, field)?;
    }
    Ok(out)
}

/// Each dimension the larger of the two (how init containers combine with the rest).
pub(crate) fn max_each(a: &Resources, b: &Resources) -> Resources {
    let mut out = Resources {
        cpu_millis: a.cpu_millis.max(b.cpu_millis),
        memory_bytes: a.memory_bytes.max(b.memory_bytes),
        ephemeral_storage_bytes: a.ephemeral_storage_bytes.max(b.ephemeral_storage_bytes),
        pods: a.pods.max(b.pods),
        extended: a.extended.clone(),
    };
    for (name, amount) in &b.extended {
        let slot = out.extended.entry(name.clone()).or_insert(0);
        *slot = (*slot).max(*amount);
    }
    out
}

/// A Kubernetes label selector in core form. `None` (no selector) is `None`.
pub(crate) fn label_selector(
    selector: &K8sLabelSelector,
    field: &str,
) -> Result<LabelSelector, Bad> {
    let mut out = LabelSelector {
        match_labels: selector.match_labels.clone().unwrap_or_default(),
        match_expressions: Vec::new(),
    };
    for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
        let operator = match e.operator.as_str() {
            "In" => LabelSelectorOperator::In,
            "NotIn" => LabelSelectorOperator::NotIn,
            "Exists" => LabelSelectorOperator::Exists,
            "DoesNotExist" => LabelSelectorOperator::DoesNotExist,
            other => {
                return Err(Bad::invalid(
                    format!("{field}.matchExpressions[{i}].operator"),
                    format!("unknown operator {other:?}"),
                ));
            }
        };
        out.match_expressions.push(LabelSelectorRequirement {
            key: e.key.clone(),
            operator,
            values: e.values.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
