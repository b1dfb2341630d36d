//! Pod → [`ClusterPod`].

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    Affinity, Container, NodeSelectorRequirement as K8sRequirement, NodeSelectorTerm as K8sTerm,
    Pod, PodSpec as K8sPodSpec, Toleration as K8sToleration, TopologySpreadConstraint as K8sSpread,
};
use tidal_core::resources::Resources;
use tidal_core::scheduling::{
    HostPort, LABEL_HOSTNAME, LABEL_ZONE, NodeSelectorOperator, NodeSelectorRequirement,
    NodeSelectorTerm, PodSpec, Protocol, TaintEffect, Toleration, TolerationOperator,
    TopologySpreadConstraint, WhenUnsatisfiable,
};

use super::{Bad, ConvertError, label_selector, max_each, resources, timestamp};
use crate::ports::{ClusterPod, PodPhase};

/// Annotation that allows (`"true"`) or forbids (`"false"`) evicting a pod on scale-down.
pub const SAFE_TO_EVICT_ANNOTATION: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
/// Annotation the kubelet puts on mirror pods of static pods.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Converts a pod. `volume_zone` is the zone of a bound volume the pod needs, if any (resolved
/// by the caller from PVCs and PVs, see [`super::volume`]).
pub fn pod_from_k8s(pod: &Pod, volume_zone: Option<String>) -> Result<ClusterPod, ConvertError> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let object = format!("pod {namespace}/{name}");
    if name.is_empty() {
        return Err(Bad::Missing("metadata.name".into()).on(object));
    }
    let spec = pod
        .spec
        .as_ref()
        .ok_or_else(|| Bad::Missing("spec".into()).on(object.clone()))?;
    let scheduling =
        scheduling_spec(pod, spec, &namespace, &name, volume_zone).map_err(|b| b.on(object))?;
    let annotations = pod.metadata.annotations.as_ref();
    let controller_kind = if annotations.is_some_and(|a| a.contains_key(MIRROR_ANNOTATION)) {
        Some("Node".to_owned())
    } else {
        pod.metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.kind.clone())
    };
    let safe_to_evict = annotations
        .and_then(|a| a.get(SAFE_TO_EVICT_ANNOTATION))
        .and_then(|v| match v.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
    let status = pod.status.as_ref();
    let created_at = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(timestamp)
        .unwrap_or_default();
    Ok(ClusterPod {
        namespace,
        name,
        spec: scheduling,
        node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
        phase: phase(status.and_then(|s| s.phase.as_deref())),
        unschedulable_since: unschedulable_since(pod).map(|t| t.unwrap_or(created_at)),
        controller_kind,
        safe_to_evict,
        has_local_storage: has_local_storage(spec),
        created_at,
        deleting: pod.metadata.deletion_timestamp.is_some(),
    })
}

fn phase(p: Option<&str>) -> PodPhase {
    match p {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    }
}

/// `Some(transition time)` when the scheduler marked the pod Unschedulable.
fn unschedulable_since(pod: &Pod) -> Option<Option<tidal_core::Timestamp>> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let c = conditions.iter().find(|c| c.type_ == "PodScheduled")?;
    (c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
        .then(|| c.last_transition_time.as_ref().map(timestamp))
}

fn has_local_storage(spec: &K8sPodSpec) -> bool {
    spec.volumes.iter().flatten().any(|v| {
        v.host_path.is_some()
            || v.empty_dir
                .as_ref()
                .is_some_and(|e| e.medium.as_deref() != Some("Memory"))
    })
}

fn scheduling_spec(
    pod: &Pod,
    spec: &K8sPodSpec,
    namespace: &str,
    name: &str,
    volume_zone: Option<String>,
) -> Result<PodSpec, Bad> {
    let affinity = spec.affinity.as_ref();
    Ok(PodSpec {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        requests: requests(spec)?,
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_node_affinity: node_affinity(affinity)?,
        tolerations: tolerations(spec.tolerations.as_deref().unwrap_or_default())?,
        host_ports: host_ports(spec)?,
        volume_zone,
        anti_affinity: anti_affinity(affinity)?,
        topology_spread: zone_spread(
            spec.topology_spread_constraints
                .as_deref()
                .unwrap_or_default(),
        )?,
    })
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn container_requests(c: &Container, field: &str) -> Result<Resources, Bad> {
    resources(
        c.resources.as_ref().and_then(|r| r.requests.as_ref()),
        &format!("{field}[{}].resources.requests", c.name),
    )
}

/// What the scheduler reserves for the pod (Kubernetes `PodRequests`).
fn requests(spec: &K8sPodSpec) -> Result<Resources, Bad> {
    let mut containers = Resources::zero();
    for c in &spec.containers {
        containers.add_assign_saturating(&container_requests(c, "spec.containers")?);
    }
    // Init containers run one at a time before the others; sidecars (restartPolicy Always)
    // keep running, so each adds to every init container after it and to the main containers.
    let mut sidecars = Resources::zero();
    let mut init_peak = Resources::zero();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, "spec.initContainers")?;
        if is_sidecar(c) {
            sidecars.add_assign_saturating(&r);
            init_peak = max_each(&init_peak, &sidecars);
        } else {
            init_peak = max_each(&init_peak, &r.saturating_add(&sidecars));
        }
    }
    let mut total = max_each(&containers.saturating_add(&sidecars), &init_peak);
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let pod_level_requests = resources(Some(pod_level), "spec.resources.requests")?;
        if pod_level.contains_key("cpu") {
            total.cpu_millis = pod_level_requests.cpu_millis;
        }
        if pod_level.contains_key("memory") {
            total.memory_bytes = pod_level_requests.memory_bytes;
        }
    }
    total.add_assign_saturating(&resources(spec.overhead.as_ref(), "spec.overhead")?);
    total.pods = 1;
    Ok(total)
}

fn node_operator(op: &str, field: &str) -> Result<NodeSelectorOperator, Bad> {
    Ok(match op {
        "In" => NodeSelectorOperator::In,
        "NotIn" => NodeSelectorOperator::NotIn,
        "Exists" => NodeSelectorOperator::Exists,
        "DoesNotExist" => NodeSelectorOperator::DoesNotExist,
        "Gt" => NodeSelectorOperator::Gt,
        "Lt" => NodeSelectorOperator::Lt,
        other => return Err(Bad::invalid(field, format!("unknown operator {other:?}"))),
    })
}

fn requirement(r: &K8sRequirement, key: &str, field: &str) -> Result<NodeSelectorRequirement, Bad> {
    Ok(NodeSelectorRequirement {
        key: key.to_owned(),
        operator: node_operator(&r.operator, &format!("{field}.operator"))?,
        values: r.values.clone().unwrap_or_default(),
    })
}

pub(crate) fn selector_term(term: &K8sTerm, field: &str) -> Result<NodeSelectorTerm, Bad> {
    let mut out = Vec::new();
    for (i, r) in term.match_expressions.iter().flatten().enumerate() {
        out.push(requirement(
            r,
            &r.key,
            &format!("{field}.matchExpressions[{i}]"),
        )?);
    }
    for (i, r) in term.match_fields.iter().flatten().enumerate() {
        let field = format!("{field}.matchFields[{i}]");
        if r.key != "metadata.name" {
            return Err(Bad::invalid(
                field,
                format!("unsupported field {:?}", r.key),
            ));
        }
        // The node name; on EKS nodes it equals the hostname label.
        out.push(requirement(r, LABEL_HOSTNAME, &field)?);
    }
    Ok(NodeSelectorTerm::new(out))
}

fn node_affinity(affinity: Option<&Affinity>) -> Result<Vec<NodeSelectorTerm>, Bad> {
    let Some(required) = affinity
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    else {
        return Ok(Vec::new());
    };
    let field = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
    required
        .node_selector_terms
        .iter()
        .enumerate()
        .map(|(i, t)| selector_term(t, &format!("{field}[{i}]")))
        .collect()
}

pub(crate) fn taint_effect(effect: &str, field: &str) -> Result<TaintEffect, Bad> {
    Ok(match effect {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        other => return Err(Bad::invalid(field, format!("unknown effect {other:?}"))),
    })
}

fn tolerations(list: &[K8sToleration]) -> Result<Vec<Toleration>, Bad> {
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let field = format!("spec.tolerations[{i}]");
        let operator = match t.operator.as_deref() {
            None | Some("Equal") => TolerationOperator::Equal,
            Some("Exists") => TolerationOperator::Exists,
            Some(other) => {
                return Err(Bad::invalid(
                    format!("{field}.operator"),
                    format!("unknown operator {other:?}"),
                ));
            }
        };
        let effect = match t.effect.as_deref() {
            None | Some("") => None,
            Some(e) => Some(taint_effect(e, &format!("{field}.effect"))?),
        };
        out.push(Toleration {
            key: t.key.clone().unwrap_or_default(),
            operator,
            value: t.value.clone().unwrap_or_default(),
            effect,
        });
    }
    Ok(out)
}

fn host_ports(spec: &K8sPodSpec) -> Result<Vec<HostPort>, Bad> {
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    let mut out = Vec::new();
    for c in spec.containers.iter().chain(sidecars) {
        for (i, p) in c.ports.iter().flatten().enumerate() {
            let Some(port) = p.host_port.filter(|p| *p > 0) else {
                continue;
            };
            let field = format!("containers[{}].ports[{i}]", c.name);
            let port = u16::try_from(port).map_err(|_| {
                Bad::invalid(format!("{field}.hostPort"), format!("{port} is not a port"))
            })?;
            let protocol = match p.protocol.as_deref() {
                None | Some("TCP") => Protocol::Tcp,
                Some("UDP") => Protocol::Udp,
                Some("SCTP") => Protocol::Sctp,
                Some(other) => {
                    return Err(Bad::invalid(
                        format!("{field}.protocol"),
                        format!("unknown protocol {other:?}"),
                    ));
                }
            };
            let host_ip = match p.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
                None => None,
                Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| {
                    Bad::invalid(
                        format!("{field}.hostIP"),
                        format!("{ip:?} is not an IP address"),
                    )
                })?),
            };
            out.push(HostPort {
                protocol,
                port,
                host_ip,
            });
        }
    }
    Ok(out)
}

fn anti_affinity(
    affinity: Option<&Affinity>,
) -> Result<Vec<tidal_core::scheduling::LabelSelector>, Bad> {
    let terms = affinity
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|p| {
            p.required_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, term) in terms.iter().enumerate() {
        if term.topology_key != LABEL_HOSTNAME {
            continue;
        }
        // A term without a selector matches no pod, so it constrains nothing.
        if let Some(selector) = &term.label_selector {
            let field = format!(
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[{i}].labelSelector"
            );
            out.push(label_selector(selector, &field)?);
        }
    }
    Ok(out)
}

fn zone_spread(list: &[K8sSpread]) -> Result<Vec<TopologySpreadConstraint>, Bad> {
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        if c.topology_key != LABEL_ZONE {
            continue;
        }
        let field = format!("spec.topologySpreadConstraints[{i}]");
        let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
            "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
            "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
            other => {
                return Err(Bad::invalid(
                    format!("{field}.whenUnsatisfiable"),
                    format!("unknown value {other:?}"),
                ));
            }
        };
        let max_skew = u32::try_from(c.max_skew)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                Bad::invalid(
                    format!("{field}.maxSkew"),
                    format!("{} is not positive", c.max_skew),
                )
            })?;
        let Some(selector) = &c.label_selector else {
            continue;
        };
        out.push(TopologySpreadConstraint {
            max_skew,
            when_unsatisfiable,
            selector: label_selector(selector, &format!("{field}.labelSelector"))?,
        });
    }
    Ok(out)
}
