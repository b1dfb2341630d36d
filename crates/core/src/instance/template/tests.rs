#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::instance::Architecture;
use crate::resources::NVIDIA_GPU;
use crate::scheduling::model::TaintEffect;

fn spec(types: Vec<InstanceType>, max_pods: u32) -> TemplateSpec {
    TemplateSpec {
        name: "default-eu-central-1a".into(),
        instance_types: types,
        labels: [("pool".to_owned(), "default".to_owned())]
            .into_iter()
            .collect(),
        taints: vec![],
        zone: "eu-central-1a".into(),
        region: "eu-central-1".into(),
        max_pods,
    }
}

fn m5_large() -> InstanceType {
    InstanceType::new("m5.large", 2, 8192).with_network(3, 10)
}

fn m6i_2xlarge() -> InstanceType {
    InstanceType::new("m6i.2xlarge", 8, 32768).with_network(4, 15)
}

#[test]
fn kube_reserved_cpu_tiers() {
    for (vcpus, want) in [
        (1, 60),
        (2, 70),
        (3, 75),
        (4, 80),
        (5, 83),
        (8, 90),
        (16, 110),
        (48, 190),
        (96, 310),
    ] {
        assert_eq!(kube_reserved_cpu_millis(vcpus), want, "{vcpus} vCPUs");
    }
    assert_eq!(kube_reserved_cpu_millis(0), 0);
}

#[test]
fn m5_large_worked_by_hand() {
    // 2 vCPU, 8 GiB, 3 ENIs × 10 IPs → 29 pods.
    assert_eq!(m5_large().eni_max_pods(), Some(29));
    let node = template_node(&spec(vec![m5_large()], 29), &ReservedConfig::default()).unwrap();
    let a = &node.allocatable;
    // CPU: 2000 − (60 + 10) = 1930m.
    assert_eq!(a.cpu_millis, 1930);
    // Memory: 8192 − ceil(8192 × 7.5 %) = 8192 − 615 = 7577 MiB capacity;
    // − kube-reserved (11 × 29 + 255 = 574) − eviction 100 = 6903 MiB.
    assert_eq!(a.memory_bytes, 6903 * MIB);
    // Ephemeral storage: 20 GiB − 1 GiB kube-reserved − 10 % (2 GiB) eviction = 17 GiB.
    assert_eq!(a.ephemeral_storage_bytes, 17 * GIB);
    assert_eq!(a.pods, 29);
    assert!(a.extended.is_empty());
}

#[test]
fn m6i_2xlarge_worked_by_hand() {
    // 8 vCPU, 32 GiB, 4 ENIs × 15 IPs → 58 pods.
    assert_eq!(m6i_2xlarge().eni_max_pods(), Some(58));
    let cfg = ReservedConfig::default();
    let node = template_node(&spec(vec![m6i_2xlarge()], 58), &cfg).unwrap();
    // CPU: 8000 − (60 + 10 + 5 + 5 + 4 × 2.5) = 7910m.
    assert_eq!(node.allocatable.cpu_millis, 7910);
    // Memory: 32768 − ceil(2457.6) = 30310; − (11 × 58 + 255 = 893) − 100 = 29317 MiB.
    assert_eq!(node.allocatable.memory_bytes, 29317 * MIB);
    assert_eq!(cfg.capacity(&m6i_2xlarge(), 58).memory_bytes, 30310 * MIB);
    assert_eq!(cfg.kube_reserved_memory_bytes(58), 893 * MIB);
    // With 110 pods (a /24 node CIDR) kube-reserved grows: 11 × 110 + 255 = 1465.
    let node = template_node(&spec(vec![m6i_2xlarge()], 110), &cfg).unwrap();
    assert_eq!(node.allocatable.memory_bytes, (30310 - 1465 - 100) * MIB);
    assert_eq!(node.allocatable.pods, 110);
}

#[test]
fn mixed_pool_takes_the_minimum_of_each_resource() {
    // r5.xlarge: 4 vCPU, 32 GiB; m5.2xlarge: 8 vCPU, 32 GiB; c5.2xlarge: 8 vCPU, 16 GiB.
    let types = vec![
        InstanceType::new("m5.2xlarge", 8, 32768),
        InstanceType::new("r5.xlarge", 4, 32768),
        InstanceType::new("c5.2xlarge", 8, 16384),
    ];
    let node = template_node(&spec(types, 58), &ReservedConfig::default()).unwrap();
    // CPU from r5.xlarge: 4000 − 80 = 3920m.
    assert_eq!(node.allocatable.cpu_millis, 3920);
    // Memory from c5.2xlarge: 16384 − ceil(1228.8) = 15155; − 893 − 100 = 14162 MiB.
    assert_eq!(node.allocatable.memory_bytes, 14162 * MIB);
    // The instance-type label names the first (primary) type.
    assert_eq!(node.labels[LABEL_INSTANCE_TYPE], "m5.2xlarge");
}

#[test]
fn gpus_become_an_extended_resource_only_if_every_type_has_them() {
    let g4 = InstanceType::new("g4dn.xlarge", 4, 16384).with_gpus(1);
    let g4_2x = InstanceType::new("g4dn.2xlarge", 8, 32768).with_gpus(1);
    let node = template_node(
        &spec(vec![g4.clone(), g4_2x], 29),
        &ReservedConfig::default(),
    )
    .unwrap();
    assert_eq!(node.allocatable.extended(NVIDIA_GPU), 1);
    let node = template_node(
        &spec(vec![g4.clone(), m6i_2xlarge()], 29),
        &ReservedConfig::default(),
    )
    .unwrap();
    assert_eq!(node.allocatable.extended(NVIDIA_GPU), 0);
    let mut amd = g4;
    amd.gpu_resource = Some("amd.com/gpu".into());
    amd.gpus = 2;
    let node = template_node(&spec(vec![amd], 29), &ReservedConfig::default()).unwrap();
    assert_eq!(node.allocatable.extended("amd.com/gpu"), 2);
}

#[test]
fn labels_and_taints() {
    let mut s = spec(
        vec![m6i_2xlarge().with_architecture(Architecture::Arm64)],
        58,
    );
    s.labels.insert(LABEL_ZONE.into(), "spoofed".into());
    s.taints
        .push(Taint::new("dedicated", "x", TaintEffect::NoSchedule));
    let node = template_node(&s, &ReservedConfig::default()).unwrap();
    assert_eq!(node.name, "default-eu-central-1a");
    assert_eq!(
        node.labels[LABEL_ZONE], "eu-central-1a",
        "standard labels win over pool labels"
    );
    assert_eq!(node.labels[LABEL_REGION], "eu-central-1");
    assert_eq!(node.labels[LABEL_ARCH], "arm64");
    assert_eq!(node.labels[LABEL_OS], "linux");
    assert_eq!(node.labels[LABEL_HOSTNAME], "default-eu-central-1a");
    assert_eq!(node.labels["pool"], "default");
    assert_eq!(node.taints, s.taints);
    assert_eq!(node.zone(), Some("eu-central-1a"));
}

#[test]
fn custom_reserved_settings() {
    let cfg = ReservedConfig::try_new(ReservedSettings {
        root_volume_gib: 100,
        vm_memory_overhead_percent: 0.0,
        system_reserved: Resources::new(100, 256 * MIB),
        ..ReservedSettings::default()
    })
    .unwrap();
    let node = template_node(&spec(vec![m5_large()], 29), &cfg).unwrap();
    assert_eq!(node.allocatable.ephemeral_storage_bytes, 89 * GIB);
    assert_eq!(node.allocatable.cpu_millis, 2000 - 70 - 100);
    assert_eq!(
        node.allocatable.memory_bytes,
        (8192 - 574 - 100 - 256) * MIB
    );
    assert_eq!(cfg.settings().root_volume_gib, 100);
}

#[test]
fn reserved_settings_are_validated() {
    let bad = |s: ReservedSettings| ReservedConfig::try_new(s).unwrap_err();
    let d = ReservedSettings::default;
    let field = |e: InstanceError| match e {
        InstanceError::InvalidReserved { field, .. } => field,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        field(bad(ReservedSettings {
            vm_memory_overhead_percent: 100.0,
            ..d()
        })),
        "vm_memory_overhead_percent"
    );
    assert_eq!(
        field(bad(ReservedSettings {
            vm_memory_overhead_percent: f64::NAN,
            ..d()
        })),
        "vm_memory_overhead_percent"
    );
    assert_eq!(
        field(bad(ReservedSettings {
            eviction_memory_mib: -1,
            ..d()
        })),
        "eviction_memory_mib"
    );
    assert_eq!(
        field(bad(ReservedSettings {
            root_volume_gib: 0,
            ..d()
        })),
        "root_volume_gib"
    );
    assert_eq!(
        field(bad(ReservedSettings {
            eviction_nodefs_percent: 101,
            ..d()
        })),
        "eviction_nodefs_percent"
    );
    assert_eq!(
        field(bad(ReservedSettings {
            system_reserved: Resources::new(-1, 0),
            ..d()
        })),
        "system_reserved"
    );
    assert_eq!(
        ReservedConfig::try_new(d()).unwrap(),
        ReservedConfig::default()
    );
    let parsed: ReservedSettings = serde_json::from_str(r#"{"root_volume_gib": 50}"#).unwrap();
    assert_eq!(parsed.root_volume_gib, 50);
    assert_eq!(parsed.kube_reserved_memory_base_mib, 255);
    assert!(serde_json::from_str::<ReservedSettings>(r#"{"root_volume": 50}"#).is_err());
}

#[test]
fn bad_templates_are_typed_errors() {
    let cfg = ReservedConfig::default();
    assert!(matches!(
        template_node(&spec(vec![], 29), &cfg),
        Err(InstanceError::NoInstanceTypes { .. })
    ));
    let mixed = vec![
        m6i_2xlarge(),
        m6i_2xlarge().with_architecture(Architecture::Arm64),
    ];
    assert!(matches!(
        template_node(&spec(mixed, 29), &cfg),
        Err(InstanceError::MixedArchitectures {
            first: Architecture::Amd64,
            other: Architecture::Arm64,
            ..
        })
    ));
    let mut s = spec(vec![m5_large()], 29);
    s.zone.clear();
    assert_eq!(
        template_node(&s, &cfg),
        Err(InstanceError::MissingField {
            template: "default-eu-central-1a".into(),
            field: "zone"
        })
    );
    assert!(matches!(
        template_node(&spec(vec![m5_large()], 0), &cfg),
        Err(InstanceError::MissingField {
            field: "max_pods",
            ..
        })
    ));
    // t3.nano with 110 pods: 473 MiB capacity cannot hold 1465 MiB kube-reserved.
    let nano = InstanceType::new("t3.nano", 2, 512);
    assert_eq!(
        template_node(&spec(vec![nano], 110), &cfg),
        Err(InstanceError::NoAllocatable {
            instance_type: "t3.nano".into(),
            resource: ResourceName::Memory
        })
    );
    assert!(matches!(
        template_node(&spec(vec![InstanceType::new("x", 0, 1024)], 10), &cfg),
        Err(InstanceError::InvalidInstanceType { .. })
    ));
    let err =
        template_node(&spec(vec![InstanceType::new("t3.nano", 2, 512)], 110), &cfg).unwrap_err();
    assert_eq!(
        err.to_string(),
        "instance type \"t3.nano\": reserved memory exceeds capacity"
    );
}

#[test]
fn eni_max_pods_unknown_without_network_data() {
    assert_eq!(InstanceType::new("x", 2, 1024).eni_max_pods(), None);
    assert_eq!(Architecture::Arm64.to_string(), "arm64");
}
