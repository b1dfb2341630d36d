//! Node-template data of a group (ASG node-template tags) reaching scale-up decisions.

use tidal_core::resources::{NVIDIA_GPU, ResourceName};
use tidal_core::scheduling::{Taint, TaintEffect, Toleration};

use super::*;

fn gpu_pod(name: &str) -> PodSpec {
    let mut p = spec(name, 1000, 2).with_node_selector("nvidia.com/gpu.product", "T4");
    p.requests = p.requests.with_extended(NVIDIA_GPU, 1);
    p
}

fn gpu_tags() -> NodeTemplate {
    NodeTemplate {
        labels: [("nvidia.com/gpu.product".to_owned(), "T4".to_owned())].into(),
        resources: [(ResourceName::Extended(NVIDIA_GPU.into()), 1)].into(),
        ..NodeTemplate::default()
    }
}

/// Two pools of GPU-less instance types (as the cloud describes them): only the `gpu` group's
/// node-template tags (`gpu_template`) can say its nodes have a GPU.
fn gpu_world(gpu_template: NodeTemplate) -> World {
    default_and_gpu_world("m5.xlarge", gpu_template)
}

#[test]
fn a_pool_at_zero_whose_gpus_come_from_a_resource_tag_is_scaled_up_for_gpu_pods() {
    let mut w = gpu_world(gpu_tags());
    add_pending(&w, vec![gpu_pod("g1"), gpu_pod("g2")], at(0));
    let out = w.run(at(0));
    assert_eq!(out.scale_ups.len(), 1, "{:?}", out.scale_ups);
    let s = &out.scale_ups[0];
    assert_eq!(s.group, NodeGroupId::new("gpu", ZONE_A));
    assert_eq!((s.from, s.to, s.pods), (0, 2, 2), "one GPU per node");
    assert!(s.applied);
    assert_eq!(w.desired("gpu", ZONE_A), 2);
    assert_eq!(w.desired("default", ZONE_A), 0);
    assert!(out.no_scale_up.is_empty(), "{:?}", out.no_scale_up);
    assert!(
        out.template_problems.is_empty(),
        "{:?}",
        out.template_problems
    );
}

#[test]
fn without_the_tags_no_pool_can_take_gpu_pods() {
    let mut w = gpu_world(NodeTemplate::default());
    add_pending(&w, vec![gpu_pod("g1")], at(0));
    let out = w.run(at(0));
    assert!(out.scale_ups.is_empty(), "{:?}", out.scale_ups);
    assert_eq!(out.no_scale_up.len(), 1);
    assert!(w.cloud.calls().is_empty());
}

#[test]
fn tags_added_later_reach_the_cached_template() {
    let mut w = gpu_world(NodeTemplate::default());
    add_pending(&w, vec![gpu_pod("g1")], at(0));
    assert!(w.run(at(0)).scale_ups.is_empty());
    w.cloud.groups.lock().unwrap()[1].template = gpu_tags();
    let out = w.run(at(1));
    assert_eq!(out.scale_ups.len(), 1, "{:?}", out.no_scale_up);
    assert_eq!(out.scale_ups[0].group, NodeGroupId::new("gpu", ZONE_A));
}

const ONE_POOL: &str = "node_pools:\n- name: ml\n  instance_types: [m5.xlarge]\n  max_size: 10\n";

fn tainted_world() -> World {
    let mut g = group_with("ml", ZONE_A, 0, 10);
    g.template.taints = vec![Taint::new("dedicated", "ml", TaintEffect::NoSchedule)];
    World::with_pools(ONE_POOL, vec![g])
}

#[test]
fn a_pod_not_tolerating_a_taint_tag_does_not_scale_that_pool() {
    let mut w = tainted_world();
    add_pending(&w, vec![spec("plain", 1000, 1)], at(0));
    let out = w.run(at(0));
    assert!(out.scale_ups.is_empty(), "{:?}", out.scale_ups);
    assert_eq!(w.desired("ml", ZONE_A), 0);
    assert_eq!(out.no_scale_up.len(), 1);
    let reason = &out.no_scale_up[0].reason;
    assert!(
        reason.contains("untolerated taint dedicated=ml:NoSchedule"),
        "{reason}"
    );
}

#[test]
fn a_pod_tolerating_the_taint_tag_scales_that_pool() {
    let mut w = tainted_world();
    let toleration = Toleration::equal("dedicated", "ml", Some(TaintEffect::NoSchedule));
    add_pending(
        &w,
        vec![spec("tolerant", 1000, 1).with_toleration(toleration)],
        at(0),
    );
    let out = w.run(at(0));
    assert_eq!(out.scale_ups.len(), 1, "{:?}", out.no_scale_up);
    assert_eq!(w.desired("ml", ZONE_A), 1);
}

#[test]
fn malformed_tags_are_template_problems_and_do_not_block_the_group() {
    let problem = "ASG asg-ml-eu-central-1a: ignoring node-template tag \
                   \"k8s.io/cluster-autoscaler/node-template/resources/memory\": invalid quantity"
        .to_owned();
    let mut g = group_with("ml", ZONE_A, 0, 10);
    g.template.labels = [("team".to_owned(), "ml".to_owned())].into();
    g.template.problems = vec![problem.clone()];
    let mut w = World::with_pools(ONE_POOL, vec![g]);
    add_pending(
        &w,
        vec![spec("p", 1000, 1).with_node_selector("team", "ml")],
        at(0),
    );
    let out = w.run(at(0));
    assert_eq!(out.template_problems, std::slice::from_ref(&problem));
    assert_eq!(out.scale_ups.len(), 1, "the other tags still apply");
    assert_eq!(w.desired("ml", ZONE_A), 1);
    let again = w.run(at(1));
    assert_eq!(
        again.template_problems,
        std::slice::from_ref(&problem),
        "reported every loop"
    );
    assert!(again.port_errors.is_empty(), "{:?}", again.port_errors);
    // Also in the status ConfigMap, where an operator looks first.
    let written = w.cluster.statuses.lock().unwrap().last().unwrap().to_text();
    assert!(
        written.contains(&format!("TemplateProblems:\n  {problem}")),
        "{written}"
    );
}
