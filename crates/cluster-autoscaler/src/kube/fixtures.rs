//! Small builders of Kubernetes objects for this module's tests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Node, NodeCondition, NodeSpec as K8sNodeSpec, NodeStatus,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, PodCondition,
    PodSpec as K8sPodSpec, PodStatus, ResourceRequirements, Taint, Volume,
};
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::Timestamp as JiffTimestamp;

pub(crate) fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
        .collect()
}

pub(crate) fn time(secs: i64) -> Time {
    Time(JiffTimestamp::from_second(secs).unwrap_or(JiffTimestamp::UNIX_EPOCH))
}

pub(crate) fn container(name: &str, requests: &[(&str, &str)]) -> Container {
    Container {
        name: name.to_owned(),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(requests)),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

/// A pod under construction.
pub(crate) struct PodBuilder(pub(crate) Pod);

pub(crate) fn pod(namespace: &str, name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            uid: Some(format!("uid-{namespace}-{name}")),
            resource_version: Some("1".to_owned()),
            creation_timestamp: Some(time(1_000)),
            ..ObjectMeta::default()
        },
        spec: Some(K8sPodSpec::default()),
        status: Some(PodStatus {
            phase: Some("Pending".to_owned()),
            ..PodStatus::default()
        }),
    })
}

impl PodBuilder {
    fn spec(&mut self) -> &mut K8sPodSpec {
        self.0.spec.get_or_insert_with(K8sPodSpec::default)
    }

    pub(crate) fn container(mut self, name: &str, requests: &[(&str, &str)]) -> Self {
        self.spec().containers.push(container(name, requests));
        self
    }

    pub(crate) fn init(mut self, name: &str, requests: &[(&str, &str)], sidecar: bool) -> Self {
        let mut c = container(name, requests);
        if sidecar {
            c.restart_policy = Some("Always".to_owned());
        }
        self.spec()
            .init_containers
            .get_or_insert_with(Vec::new)
            .push(c);
        self
    }

    pub(crate) fn host_port(mut self, port: i32, protocol: &str) -> Self {
        let spec = self.spec();
        if spec.containers.is_empty() {
            spec.containers.push(container("app", &[]));
        }
        spec.containers[0]
            .ports
            .get_or_insert_with(Vec::new)
            .push(ContainerPort {
                container_port: port,
                host_port: Some(port),
                protocol: Some(protocol.to_owned()),
                ..ContainerPort::default()
            });
        self
    }

    pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.to_owned(), v.to_owned());
        self
    }

    pub(crate) fn annotation(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(k.to_owned(), v.to_owned());
        self
    }

    pub(crate) fn owner(mut self, kind: &str) -> Self {
        self.0
            .metadata
            .owner_references
            .get_or_insert_with(Vec::new)
            .push(OwnerReference {
                api_version: "apps/v1".to_owned(),
                kind: kind.to_owned(),
                name: "owner".to_owned(),
                uid: "owner-uid".to_owned(),
                controller: Some(true),
                ..OwnerReference::default()
            });
        self
    }

    pub(crate) fn node(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.to_owned());
        if let Some(s) = self.0.status.as_mut() {
            s.phase = Some("Running".to_owned());
        }
        self
    }

    pub(crate) fn unschedulable_since(mut self, secs: i64) -> Self {
        self.0
            .status
            .get_or_insert_with(PodStatus::default)
            .conditions = Some(vec![PodCondition {
            type_: "PodScheduled".to_owned(),
            status: "False".to_owned(),
            reason: Some("Unschedulable".to_owned()),
            last_transition_time: Some(time(secs)),
            ..PodCondition::default()
        }]);
        self
    }

    pub(crate) fn volume(mut self, volume: Volume) -> Self {
        self.spec()
            .volumes
            .get_or_insert_with(Vec::new)
            .push(volume);
        self
    }

    /// Sets fields through the JSON form (for the rarer fields: affinity, tolerations, spread).
    pub(crate) fn spec_json(mut self, patch: serde_json::Value) -> Self {
        let mut spec = serde_json::to_value(self.spec().clone()).unwrap_or_default();
        if let (Some(obj), Some(p)) = (spec.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                obj.insert(k.clone(), v.clone());
            }
        }
        self.0.spec = serde_json::from_value(spec).ok();
        self
    }

    pub(crate) fn build(self) -> Pod {
        self.0
    }
}

pub(crate) fn node(name: &str, allocatable: &[(&str, &str)]) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            uid: Some(format!("uid-{name}")),
            resource_version: Some("1".to_owned()),
            creation_timestamp: Some(time(500)),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_owned(),
                name.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(K8sNodeSpec {
            provider_id: Some(format!("aws:///eu-central-1a/i-{name}")),
            ..K8sNodeSpec::default()
        }),
        status: Some(NodeStatus {
            allocatable: Some(quantities(allocatable)),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".to_owned(),
                status: "True".to_owned(),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
    }
}

pub(crate) fn with_taint(mut node: Node, key: &str, value: &str, effect: &str) -> Node {
    let spec = node.spec.get_or_insert_with(K8sNodeSpec::default);
    spec.taints.get_or_insert_with(Vec::new).push(Taint {
        key: key.to_owned(),
        value: Some(value.to_owned()),
        effect: effect.to_owned(),
        time_added: None,
    });
    node
}

pub(crate) fn pdb(
    namespace: &str,
    name: &str,
    app: Option<&str>,
    allowed: i32,
) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            selector: app.map(|a| LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_owned(), a.to_owned())])),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: Some(PodDisruptionBudgetStatus {
            disruptions_allowed: allowed,
            ..PodDisruptionBudgetStatus::default()
        }),
    }
}

pub(crate) fn claim(namespace: &str, name: &str, volume: Option<&str>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            volume_name: volume.map(str::to_owned),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// A CSI-provisioned volume pinned to `zone` by its node affinity.
pub(crate) fn volume_in_zone(name: &str, zone: &str) -> PersistentVolume {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": name },
        "spec": {
            "nodeAffinity": { "required": { "nodeSelectorTerms": [
                { "matchExpressions": [{ "key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone] }] }
            ] } }
        }
    }))
    .unwrap_or_default()
}

pub(crate) fn claim_volume(claim: &str) -> Volume {
    serde_json::from_value(
        serde_json::json!({ "name": claim, "persistentVolumeClaim": { "claimName": claim } }),
    )
    .unwrap_or_default()
}
