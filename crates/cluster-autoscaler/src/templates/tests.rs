//! Template nodes with the groups' node-template data merged in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use tidal_core::instance::MAX_PODS_CAP;
use tidal_core::resources::NVIDIA_GPU;
use tidal_core::scheduling::{LABEL_ZONE, TaintEffect};

use crate::testing::{group, instance_types};

const GIB: i64 = 1 << 30;
const MIB: i64 = 1 << 20;
const ZONE: &str = "eu-central-1a";

const POOLS: &str = r#"
node_pools:
- name: gpu
  instance_types: [m5.xlarge]
  max_size: 10
  labels: {team: ml, tier: batch}
  taints: ["dedicated=ml:NoSchedule"]
"#;

/// The pool `gpu` with its instance types loaded.
fn loaded() -> (NodePool, Templates) {
    let pools = NodePools::from_yaml(POOLS, "pools.yaml").unwrap();
    let pool = pools.pools()[0].clone();
    let mut templates = Templates::new();
    templates.set_types(&pool, instance_types()).unwrap();
    (pool, templates)
}

fn tagged(template: NodeTemplate) -> NodeGroup {
    let mut g = group("gpu", ZONE, 10);
    g.template = template;
    g
}

fn build_for(
    templates: &mut Templates,
    pool: &NodePool,
    g: &NodeGroup,
) -> (Arc<NodeSpec>, Vec<String>) {
    let mut problems = Vec::new();
    let node = templates
        .template(pool, g, &TemplateSettings::default(), &mut problems)
        .unwrap();
    (node, problems)
}

fn untagged_node() -> Arc<NodeSpec> {
    let (pool, mut templates) = loaded();
    build_for(&mut templates, &pool, &group("gpu", ZONE, 10)).0
}

fn labels(pairs: &[(&str, &str)]) -> tidal_core::scheduling::Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn label_tags_are_added_and_override_pool_labels_but_not_the_zone() {
    let (pool, mut templates) = loaded();
    let g = tagged(NodeTemplate {
        labels: labels(&[
            ("tier", "interactive"),
            ("nvidia.com/gpu.product", "T4"),
            (LABEL_ZONE, "elsewhere"),
        ]),
        ..NodeTemplate::default()
    });
    let (node, problems) = build_for(&mut templates, &pool, &g);
    assert!(problems.is_empty(), "{problems:?}");
    let label = |k: &str| node.labels.get(k).map(String::as_str);
    assert_eq!(label("team"), Some("ml"), "pool label kept");
    assert_eq!(label("tier"), Some("interactive"), "tag overrides the pool");
    assert_eq!(label("nvidia.com/gpu.product"), Some("T4"), "tag adds");
    assert_eq!(
        label(LABEL_ZONE),
        Some(ZONE),
        "the group's zone is authoritative"
    );
}

#[test]
fn taint_tags_are_added_once_per_key_and_effect() {
    let (pool, mut templates) = loaded();
    let gpu = Taint::new("nvidia.com/gpu", "present", TaintEffect::NoSchedule);
    let g = tagged(NodeTemplate {
        taints: vec![
            gpu.clone(),
            Taint::new("dedicated", "ml", TaintEffect::NoSchedule),
            Taint::new("dedicated", "gpu", TaintEffect::NoExecute),
        ],
        ..NodeTemplate::default()
    });
    let (node, _) = build_for(&mut templates, &pool, &g);
    assert_eq!(
        node.taints,
        vec![
            gpu,
            Taint::new("dedicated", "ml", TaintEffect::NoSchedule),
            Taint::new("dedicated", "gpu", TaintEffect::NoExecute),
        ]
    );

    let replacing = tagged(NodeTemplate {
        taints: vec![Taint::new("dedicated", "gpu", TaintEffect::NoSchedule)],
        ..NodeTemplate::default()
    });
    let (node, _) = build_for(&mut templates, &pool, &replacing);
    assert_eq!(
        node.taints,
        vec![Taint::new("dedicated", "gpu", TaintEffect::NoSchedule)],
        "one taint per key and effect: the group's wins"
    );
}

#[test]
fn a_gpu_resource_tag_gives_a_gpu_less_instance_type_its_gpus() {
    let plain = untagged_node();
    assert_eq!(
        plain.allocatable.extended(NVIDIA_GPU),
        0,
        "m5.xlarge has no GPU"
    );
    let (pool, mut templates) = loaded();
    let g = tagged(NodeTemplate {
        resources: [(ResourceName::Extended(NVIDIA_GPU.into()), 2)].into(),
        ..NodeTemplate::default()
    });
    let (node, problems) = build_for(&mut templates, &pool, &g);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(node.allocatable.extended(NVIDIA_GPU), 2);
    let mut without_gpu = node.allocatable.clone();
    without_gpu.extended.clear();
    assert_eq!(without_gpu, plain.allocatable, "nothing else changes");
}

#[test]
fn storage_and_pods_tags_set_capacity_and_keep_the_reservations() {
    let (pool, mut templates) = loaded();
    let g = tagged(NodeTemplate {
        resources: [
            (ResourceName::EphemeralStorage, 100 * GIB),
            (ResourceName::Pods, 58),
        ]
        .into(),
        ..NodeTemplate::default()
    });
    let (node, problems) = build_for(&mut templates, &pool, &g);
    assert!(problems.is_empty(), "{problems:?}");
    // kube-reserved 1 GiB and the 10 % eviction threshold of the 100 GiB volume.
    assert_eq!(
        node.allocatable.ephemeral_storage_bytes,
        100 * GIB - GIB - 10 * GIB
    );
    assert_eq!(node.allocatable.pods, 58);
    // Fewer pods, less kube-reserved memory: 11 MiB per pod slot.
    let plain = untagged_node();
    assert_eq!(
        node.allocatable.memory_bytes - plain.allocatable.memory_bytes,
        (i64::from(MAX_PODS_CAP) - 58) * 11 * MIB
    );
    assert_eq!(node.allocatable.cpu_millis, plain.allocatable.cpu_millis);
}

#[test]
fn a_resource_tag_leaving_nothing_allocatable_is_a_problem_and_left_out() {
    let (pool, mut templates) = loaded();
    let g = tagged(NodeTemplate {
        labels: labels(&[("gpu", "yes")]),
        resources: [
            (ResourceName::Memory, 100 * MIB),
            (ResourceName::Extended(NVIDIA_GPU.into()), 1),
        ]
        .into(),
        ..NodeTemplate::default()
    });
    let (node, problems) = build_for(&mut templates, &pool, &g);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("asg-gpu-eu-central-1a") && problems[0].contains("memory"),
        "{}",
        problems[0]
    );
    let plain = untagged_node();
    assert_eq!(
        node.allocatable.memory_bytes,
        plain.allocatable.memory_bytes
    );
    assert_eq!(
        node.allocatable.extended(NVIDIA_GPU),
        1,
        "the other tags apply"
    );
    assert_eq!(node.labels.get("gpu").map(String::as_str), Some("yes"));

    // Reported again on the next loop, from the cache.
    let (cached, again) = build_for(&mut templates, &pool, &g);
    assert!(Arc::ptr_eq(&node, &cached));
    assert_eq!(again, problems);
}

#[test]
fn malformed_tags_of_the_group_are_reported_even_before_types_are_loaded() {
    let pools = NodePools::from_yaml(POOLS, "pools.yaml").unwrap();
    let pool = &pools.pools()[0];
    let mut templates = Templates::new();
    let problem = "ASG asg-gpu: ignoring node-template tag \"x\": bad".to_owned();
    let g = tagged(NodeTemplate {
        problems: vec![problem.clone()],
        ..NodeTemplate::default()
    });
    let mut problems = vec![problem.clone()];
    let err = templates
        .template(pool, &g, &TemplateSettings::default(), &mut problems)
        .unwrap_err();
    assert!(matches!(err, TemplateError::NotLoaded(_)), "{err}");
    assert_eq!(problems, std::slice::from_ref(&problem), "once each");

    templates.set_types(pool, instance_types()).unwrap();
    let mut problems = Vec::new();
    let node = templates
        .template(pool, &g, &TemplateSettings::default(), &mut problems)
        .unwrap();
    assert_eq!(problems, [problem]);
    assert_eq!(
        node.allocatable,
        untagged_node().allocatable,
        "the group is not blocked"
    );
}

#[test]
fn a_changed_tag_rebuilds_the_cached_template() {
    let (pool, mut templates) = loaded();
    let mut g = group("gpu", ZONE, 10);
    let (first, _) = build_for(&mut templates, &pool, &g);
    let (same, _) = build_for(&mut templates, &pool, &g);
    assert!(Arc::ptr_eq(&first, &same), "unchanged tags: cached");

    g.template.labels = labels(&[("gpu", "yes")]);
    g.template.resources = [(ResourceName::Extended(NVIDIA_GPU.into()), 1)].into();
    let (tagged, _) = build_for(&mut templates, &pool, &g);
    assert_eq!(tagged.labels.get("gpu").map(String::as_str), Some("yes"));
    assert_eq!(tagged.allocatable.extended(NVIDIA_GPU), 1);

    g.template = NodeTemplate::default();
    let (untagged, _) = build_for(&mut templates, &pool, &g);
    assert!(
        !untagged.labels.contains_key("gpu"),
        "a removed tag is gone"
    );
    assert_eq!(untagged.allocatable.extended(NVIDIA_GPU), 0);
    assert_eq!(*untagged, *first);

    g.asg_name = "asg-replacement".into();
    let (replaced, _) = build_for(&mut templates, &pool, &g);
    assert!(!Arc::ptr_eq(&untagged, &replaced), "another ASG: rebuilt");
}
