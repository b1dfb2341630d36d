#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use serde_json::json;
use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_core::scheduling::{
    HostPort, LabelSelector, LabelSelectorOperator, NodeSelectorOperator, NodeSelectorRequirement,
    NodeSelectorTerm, Protocol, Taint, TaintEffect, Toleration, WhenUnsatisfiable,
};

use super::volume::{VolumeLookup, pod_volume_zone, volume_zone};
use super::*;
use crate::kube::fixtures::*;
use crate::ports::PodPhase;

const MI: i64 = 1 << 20;
const GI: i64 = 1 << 30;

fn requests(pod: k8s_openapi::api::core::v1::Pod) -> Resources {
    pod_from_k8s(&pod, None).unwrap().spec.requests
}

#[test]
fn requests_sum_containers_take_the_init_maximum_and_add_overhead() {
    struct Case {
        name: &'static str,
        pod: k8s_openapi::api::core::v1::Pod,
        cpu: i64,
        mem: i64,
    }
    let cases = [
        Case {
            name: "containers are summed",
            pod: pod("ns", "a")
                .container("a", &[("cpu", "250m"), ("memory", "256Mi")])
                .container("b", &[("cpu", "1"), ("memory", "1Gi")])
                .build(),
            cpu: 1250,
            mem: 1280 * MI,
        },
        Case {
            name: "a bigger init container wins per resource",
            pod: pod("ns", "b")
                .container("app", &[("cpu", "500m"), ("memory", "2Gi")])
                .init("migrate", &[("cpu", "2"), ("memory", "128Mi")], false)
                .build(),
            cpu: 2000,
            mem: 2 * GI,
        },
        Case {
            name: "sidecars add to the containers and to later init containers",
            pod: pod("ns", "c")
                .container("app", &[("cpu", "1"), ("memory", "1Gi")])
                .init("proxy", &[("cpu", "100m"), ("memory", "64Mi")], true)
                .init("setup", &[("cpu", "1950m"), ("memory", "64Mi")], false)
                .build(),
            cpu: 2050, // max(1000 + 100, 1950 + 100)
            mem: GI + 64 * MI,
        },
        Case {
            name: "overhead is added",
            pod: pod("ns", "d")
                .container("app", &[("cpu", "1")])
                .spec_json(json!({ "overhead": { "cpu": "250m", "memory": "120Mi" } }))
                .build(),
            cpu: 1250,
            mem: 120 * MI,
        },
        Case {
            name: "pod-level requests replace the container sum",
            pod: pod("ns", "e")
                .container("a", &[("cpu", "1"), ("memory", "1Gi")])
                .container("b", &[("cpu", "1")])
                .spec_json(json!({ "resources": { "requests": { "cpu": "1500m" } } }))
                .build(),
            cpu: 1500,
            mem: GI,
        },
        Case {
            name: "no requests at all",
            pod: pod("ns", "f").container("app", &[]).build(),
            cpu: 0,
            mem: 0,
        },
    ];
    for c in cases {
        let r = requests(c.pod);
        assert_eq!(
            (r.cpu_millis, r.memory_bytes, r.pods),
            (c.cpu, c.mem, 1),
            "{}",
            c.name
        );
    }
}

#[test]
fn extended_resources_and_ephemeral_storage_are_kept() {
    let r = requests(
        pod("ml", "train")
            .container(
                "a",
                &[
                    ("nvidia.com/gpu", "2"),
                    ("ephemeral-storage", "10Gi"),
                    ("hugepages-2Mi", "64Mi"),
                ],
            )
            .init("fetch", &[("nvidia.com/gpu", "1")], false)
            .build(),
    );
    assert_eq!(r.extended("nvidia.com/gpu"), 2);
    assert_eq!(r.extended("hugepages-2Mi"), 64 * MI);
    assert_eq!(r.ephemeral_storage_bytes, 10 * GI);
}

#[test]
fn scheduling_constraints_are_converted() {
    let p = pod("web", "api-1")
        .label("app", "api")
        .container("app", &[("cpu", "100m")])
        .host_port(8080, "TCP")
        .host_port(53, "UDP")
        .spec_json(json!({
            "nodeSelector": { "kubernetes.io/arch": "arm64" },
            "tolerations": [
                { "key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule" },
                { "operator": "Exists" }
            ],
            "affinity": {
                "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": [
                    { "matchExpressions": [{ "key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large", "m5.xlarge"] }] },
                    { "matchFields": [{ "key": "metadata.name", "operator": "In", "values": ["node-7"] }] }
                ] } },
                "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [
                    { "topologyKey": "kubernetes.io/hostname", "labelSelector": { "matchLabels": { "app": "api" } } },
                    { "topologyKey": "topology.kubernetes.io/zone", "labelSelector": { "matchLabels": { "app": "db" } } }
                ] }
            },
            "topologySpreadConstraints": [
                { "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                  "labelSelector": { "matchExpressions": [{ "key": "app", "operator": "In", "values": ["api"] }] } },
                { "maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                  "labelSelector": { "matchLabels": { "app": "api" } } }
            ]
        }))
        .build();
    let s = pod_from_k8s(&p, Some("eu-central-1b".into())).unwrap().spec;
    assert_eq!(s.labels.get("app").map(String::as_str), Some("api"));
    assert_eq!(
        s.node_selector
            .get("kubernetes.io/arch")
            .map(String::as_str),
        Some("arm64")
    );
    assert_eq!(
        s.required_node_affinity,
        vec![
            NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
                "node.kubernetes.io/instance-type",
                NodeSelectorOperator::In,
                &["m5.large", "m5.xlarge"]
            )]),
            NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
                "kubernetes.io/hostname",
                NodeSelectorOperator::In,
                &["node-7"]
            )]),
        ]
    );
    assert_eq!(
        s.tolerations,
        vec![
            Toleration::equal("dedicated", "web", Some(TaintEffect::NoSchedule)),
            Toleration::exists("", None)
        ]
    );
    assert_eq!(
        s.host_ports,
        vec![
            HostPort::tcp(8080),
            HostPort {
                protocol: Protocol::Udp,
                port: 53,
                host_ip: None
            }
        ]
    );
    assert_eq!(
        s.anti_affinity,
        vec![LabelSelector::labels([("app", "api")])],
        "only the hostname term"
    );
    assert_eq!(s.topology_spread.len(), 1, "only the zone constraint");
    assert_eq!(s.topology_spread[0].max_skew, 1);
    assert_eq!(
        s.topology_spread[0].when_unsatisfiable,
        WhenUnsatisfiable::DoNotSchedule
    );
    assert_eq!(
        s.topology_spread[0].selector,
        LabelSelector::default().with_expression("app", LabelSelectorOperator::In, &["api"])
    );
    assert_eq!(s.volume_zone.as_deref(), Some("eu-central-1b"));
}

#[test]
fn pod_status_owner_and_annotations() {
    let pending = pod("ns", "p")
        .container("a", &[])
        .owner("ReplicaSet")
        .unschedulable_since(1_200)
        .build();
    let p = pod_from_k8s(&pending, None).unwrap();
    assert_eq!(p.phase, PodPhase::Pending);
    assert_eq!(p.unschedulable_since, Some(Timestamp::from_secs(1_200)));
    assert_eq!(p.controller_kind.as_deref(), Some("ReplicaSet"));
    assert_eq!(p.node_name, None);
    assert_eq!(p.created_at, Timestamp::from_secs(1_000));
    assert_eq!(p.safe_to_evict, None);

    let bound = pod("kube-system", "proxy")
        .container("a", &[])
        .node("n1")
        .annotation("kubernetes.io/config.mirror", "abc")
        .annotation(SAFE_TO_EVICT_ANNOTATION, "false")
        .build();
    let p = pod_from_k8s(&bound, None).unwrap();
    assert_eq!(
        (p.phase, p.node_name.as_deref()),
        (PodPhase::Running, Some("n1"))
    );
    assert_eq!(p.unschedulable_since, None);
    assert_eq!(p.controller_kind.as_deref(), Some("Node"), "mirror pods");
    assert_eq!(p.safe_to_evict, Some(false));
    let ok = pod("ns", "q")
        .container("a", &[])
        .annotation(SAFE_TO_EVICT_ANNOTATION, "true")
        .build();
    assert_eq!(pod_from_k8s(&ok, None).unwrap().safe_to_evict, Some(true));
    assert!(!pod_from_k8s(&ok, None).unwrap().deleting);
    let mut leaving = ok.clone();
    leaving.metadata.deletion_timestamp =
        Some(serde_json::from_value(json!("2027-01-15T08:00:00Z")).unwrap());
    assert!(pod_from_k8s(&leaving, None).unwrap().deleting);
}

#[test]
fn local_storage_is_empty_dir_on_disk_or_host_path() {
    let volume = |v: serde_json::Value| serde_json::from_value(v).unwrap();
    let cases = [
        (json!({ "name": "scratch", "emptyDir": {} }), true),
        (
            json!({ "name": "shm", "emptyDir": { "medium": "Memory" } }),
            false,
        ),
        (
            json!({ "name": "logs", "hostPath": { "path": "/var/log" } }),
            true,
        ),
        (
            json!({ "name": "cfg", "configMap": { "name": "c" } }),
            false,
        ),
    ];
    for (v, expected) in cases {
        let p = pod("ns", "p")
            .container("a", &[])
            .volume(volume(v.clone()))
            .build();
        assert_eq!(
            pod_from_k8s(&p, None).unwrap().has_local_storage,
            expected,
            "{v}"
        );
    }
}

#[test]
fn malformed_pods_are_errors_naming_pod_and_field() {
    let cases = [
        (pod("ns", "bad-cpu").container("app", &[("cpu", "one")]).build(), "spec.containers[app].resources.requests.cpu"),
        (
            pod("ns", "bad-init").container("a", &[]).init("i", &[("memory", "-1Gi")], false).build(),
            "spec.initContainers[i].resources.requests.memory",
        ),
        (
            pod("ns", "bad-op")
                .container("a", &[])
                .spec_json(json!({ "tolerations": [{ "key": "k", "operator": "Sometimes" }] }))
                .build(),
            "spec.tolerations[0].operator",
        ),
        (
            pod("ns", "bad-effect")
                .container("a", &[])
                .spec_json(json!({ "tolerations": [{ "key": "k", "effect": "Never" }] }))
                .build(),
            "spec.tolerations[0].effect",
        ),
        (
            pod("ns", "bad-affinity")
                .container("a", &[])
                .spec_json(json!({ "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "k", "operator": "Near" }] }] } } } }))
                .build(),
            "nodeSelectorTerms[0].matchExpressions[0].operator",
        ),
    ];
    for (p, field) in cases {
        let name = p.metadata.name.clone().unwrap();
        let err = pod_from_k8s(&p, None).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pod ns/{name}")) && err.contains(field),
            "{err}"
        );
    }
    let mut no_spec = pod("ns", "x").build();
    no_spec.spec = None;
    assert!(
        pod_from_k8s(&no_spec, None)
            .unwrap_err()
            .to_string()
            .contains("missing spec")
    );
}

#[test]
fn nodes_are_converted_with_instance_id_readiness_and_marking() {
    let n = with_taint(
        node(
            "ip-10-0-1-5",
            &[
                ("cpu", "1930m"),
                ("memory", "7220Mi"),
                ("pods", "29"),
                ("nvidia.com/gpu", "0"),
            ],
        ),
        "dedicated",
        "web",
        "NoSchedule",
    );
    let c = node_from_k8s(&n).unwrap();
    assert_eq!(c.name, "ip-10-0-1-5");
    assert_eq!(c.instance_id.as_deref(), Some("i-ip-10-0-1-5"));
    assert!(c.ready && !c.unschedulable);
    assert_eq!(
        c.spec.allocatable,
        Resources::new(1930, 7220 * MI).with_pods(29),
        "zero extended resources dropped"
    );
    assert_eq!(
        c.spec.taints,
        vec![Taint::new("dedicated", "web", TaintEffect::NoSchedule)]
    );
    assert_eq!(c.created_at, Timestamp::from_secs(500));

    let marked = node_from_k8s(&with_taint(
        n.clone(),
        TO_BE_DELETED_TAINT,
        "1700000000",
        "NoSchedule",
    ))
    .unwrap();
    assert!(
        marked.unschedulable,
        "a node being deleted takes no new pods"
    );
    let mut cordoned = n.clone();
    cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
    cordoned
        .status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()[0]
        .status = "Unknown".into();
    let c = node_from_k8s(&cordoned).unwrap();
    assert!(c.unschedulable && !c.ready);

    let bad = node("n", &[("cpu", "lots")]);
    assert!(
        node_from_k8s(&bad)
            .unwrap_err()
            .to_string()
            .contains("status.allocatable.cpu")
    );
}

#[test]
fn provider_ids() {
    assert_eq!(
        instance_id_from_provider_id("aws:///eu-central-1a/i-0abc123").as_deref(),
        Some("i-0abc123")
    );
    assert_eq!(
        instance_id_from_provider_id("aws://eu-central-1a/i-0abc").as_deref(),
        Some("i-0abc")
    );
    assert_eq!(instance_id_from_provider_id("gce://p/z/n"), None);
    assert_eq!(
        instance_id_from_provider_id("aws:///eu-central-1a/fargate-ip-1"),
        None
    );
}

#[test]
fn disruption_budgets() {
    let b = pdb_from_k8s(&pdb("web", "api", Some("api"), 1))
        .unwrap()
        .unwrap();
    assert_eq!(
        (b.namespace.as_str(), b.name.as_str(), b.disruptions_allowed),
        ("web", "api", 1)
    );
    assert_eq!(b.selector, LabelSelector::labels([("app", "api")]));
    assert_eq!(
        pdb_from_k8s(&pdb("web", "neg", Some("x"), -1))
            .unwrap()
            .unwrap()
            .disruptions_allowed,
        0
    );
    assert!(
        pdb_from_k8s(&pdb("web", "none", None, 3))
            .unwrap()
            .is_none(),
        "no selector: covers nothing"
    );
}

struct Lookup {
    claims: HashMap<(String, String), Arc<PersistentVolumeClaim>>,
    volumes: HashMap<String, Arc<PersistentVolume>>,
}

impl VolumeLookup for Lookup {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(name).cloned()
    }
}

#[test]
fn bound_volume_zone_comes_from_the_claim_and_volume() {
    let lookup = Lookup {
        claims: HashMap::from([
            (
                ("db".into(), "data-0".into()),
                Arc::new(claim("db", "data-0", Some("pv-1"))),
            ),
            (
                ("db".into(), "pending".into()),
                Arc::new(claim("db", "pending", None)),
            ),
        ]),
        volumes: HashMap::from([(
            "pv-1".to_owned(),
            Arc::new(volume_in_zone("pv-1", "eu-central-1c")),
        )]),
    };
    let bound = pod("db", "pg-0")
        .container("a", &[])
        .volume(claim_volume("data-0"))
        .build();
    assert_eq!(
        pod_volume_zone(&bound, &lookup).as_deref(),
        Some("eu-central-1c")
    );
    let waiting = pod("db", "pg-1")
        .container("a", &[])
        .volume(claim_volume("pending"))
        .build();
    assert_eq!(
        pod_volume_zone(&waiting, &lookup),
        None,
        "not bound yet (WaitForFirstConsumer)"
    );
    let other_ns = pod("web", "x")
        .container("a", &[])
        .volume(claim_volume("data-0"))
        .build();
    assert_eq!(pod_volume_zone(&other_ns, &lookup), None);

    let legacy: PersistentVolume = serde_json::from_value(json!({
        "metadata": { "name": "old", "labels": { "failure-domain.beta.kubernetes.io/zone": "eu-central-1a" } }
    }))
    .unwrap();
    assert_eq!(volume_zone(&legacy).as_deref(), Some("eu-central-1a"));
    let regional: PersistentVolume = serde_json::from_value(json!({
        "metadata": { "name": "r", "labels": { "topology.kubernetes.io/zone": "eu-central-1a__eu-central-1b" } }
    }))
    .unwrap();
    assert_eq!(
        volume_zone(&regional),
        None,
        "a multi-zone volume pins no zone"
    );
}
