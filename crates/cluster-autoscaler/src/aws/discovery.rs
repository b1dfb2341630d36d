//! From Auto Scaling Groups to node groups: which ASGs are ours, their pool and zone, their
//! instances.
//!
//! An ASG belongs to this cluster's autoscaler when it carries `k8s.io/cluster-autoscaler/enabled`,
//! `k8s.io/cluster-autoscaler/<cluster-name>` and `tidal.io/node-pool` = pool name
//! ([`crate::node_pool::pool_from_tags`]). Each ASG must span exactly one availability zone: the
//! zone is what the expander chooses between and what zone-bound volumes need.

use aws_sdk_autoscaling::types::{AutoScalingGroup, Instance, LifecycleState};

use super::node_template::parse_node_template;
use crate::node_pool::pool_from_tags;
use crate::ports::{CloudInstance, InstanceState, NodeGroup, NodeGroupId};

/// Why an ASG returned by the tag filter is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Not (completely) tagged for this cluster: not ours, silently ignored.
    NotOurs,
    /// Tagged for this cluster but unusable; the text says why (logged as a warning).
    Invalid(String),
}

/// The collapsed state of an ASG instance. Unknown future states count as terminating so that
/// an instance in a state this code does not understand is never counted as capacity.
pub fn instance_state(state: Option<&LifecycleState>) -> InstanceState {
    match state {
        Some(
            LifecycleState::Pending
            | LifecycleState::PendingWait
            | LifecycleState::PendingProceed
            | LifecycleState::WarmedPending
            | LifecycleState::WarmedPendingWait
            | LifecycleState::WarmedPendingProceed,
        ) => InstanceState::Pending,
        Some(
            LifecycleState::InService
            | LifecycleState::ReplacingRootVolume
            | LifecycleState::ReplacingRootVolumeProceed
            | LifecycleState::ReplacingRootVolumeWait
            | LifecycleState::RootVolumeReplaced,
        ) => InstanceState::Running,
        _ => InstanceState::Terminating,
    }
}

fn cloud_instance(i: &Instance) -> Option<CloudInstance> {
    Some(CloudInstance {
        id: i.instance_id()?.into(),
        instance_type: i.instance_type().unwrap_or_default().into(),
        state: instance_state(i.lifecycle_state()),
        launched_at: None,
    })
}

fn size(value: Option<i32>, field: &str) -> Result<u32, Skipped> {
    let v = value.ok_or_else(|| Skipped::Invalid(format!("no {field}")))?;
    u32::try_from(v).map_err(|_| Skipped::Invalid(format!("{field} {v} is negative")))
}

/// Converts one ASG into a node group of `cluster_name`, or says why it is skipped. Its
/// node-template tags become [`NodeGroup::template`]; a malformed one is left out and named in
/// the template's problems, never a reason to skip the group.
pub fn discover(asg: &AutoScalingGroup, cluster_name: &str) -> Result<NodeGroup, Skipped> {
    let tags = || {
        asg.tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
    };
    let pool = pool_from_tags(tags(), cluster_name).ok_or(Skipped::NotOurs)?;
    let asg_name = asg
        .auto_scaling_group_name()
        .ok_or_else(|| Skipped::Invalid("ASG without a name".to_owned()))?;
    let zone = match asg.availability_zones() {
        [zone] => zone.clone(),
        [] => {
            return Err(Skipped::Invalid(format!(
                "ASG {asg_name} has no availability zone"
            )));
        }
        zones => {
            return Err(Skipped::Invalid(format!(
                "ASG {asg_name} spans {} zones ({}); a node pool needs one ASG per zone",
                zones.len(),
                zones.join(", ")
            )));
        }
    };
    let invalid = |e: Skipped| match e {
        Skipped::Invalid(why) => Skipped::Invalid(format!("ASG {asg_name}: {why}")),
        other => other,
    };
    Ok(NodeGroup {
        id: NodeGroupId::new(pool, zone),
        asg_name: asg_name.to_owned(),
        min_size: size(asg.min_size(), "MinSize").map_err(invalid)?,
        max_size: size(asg.max_size(), "MaxSize").map_err(invalid)?,
        desired: size(asg.desired_capacity(), "DesiredCapacity").map_err(invalid)?,
        instances: asg.instances().iter().filter_map(cloud_instance).collect(),
        template: parse_node_template(asg_name, tags()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_sdk_autoscaling::types::TagDescription;

    fn tag(k: &str, v: &str) -> TagDescription {
        TagDescription::builder()
            .resource_type("auto-scaling-group")
            .key(k)
            .value(v)
            .build()
    }

    fn ours(
        name: &str,
        zones: &[&str],
    ) -> aws_sdk_autoscaling::types::builders::AutoScalingGroupBuilder {
        let mut b = AutoScalingGroup::builder()
            .auto_scaling_group_name(name)
            .min_size(0)
            .max_size(10)
            .desired_capacity(2)
            .tags(tag("k8s.io/cluster-autoscaler/enabled", "true"))
            .tags(tag("k8s.io/cluster-autoscaler/prod", "owned"))
            .tags(tag("tidal.io/node-pool", "default"))
            .tags(tag(
                "k8s.io/cluster-autoscaler/node-template/label/team",
                "web",
            ));
        for z in zones {
            b = b.availability_zones(*z);
        }
        b
    }

    fn instance(id: &str, state: LifecycleState) -> Instance {
        Instance::builder()
            .instance_id(id)
            .instance_type("m5.large")
            .availability_zone("eu-central-1a")
            .lifecycle_state(state)
            .health_status("Healthy")
            .protected_from_scale_in(false)
            .build()
    }

    #[test]
    fn a_tagged_single_zone_asg_becomes_a_node_group() {
        let asg = ours("asg-a", &["eu-central-1a"])
            .instances(instance("i-1", LifecycleState::InService))
            .instances(instance("i-2", LifecycleState::PendingWait))
            .instances(instance("i-3", LifecycleState::TerminatingWait))
            .build();
        let g = discover(&asg, "prod").unwrap();
        assert_eq!(g.id, NodeGroupId::new("default", "eu-central-1a"));
        assert_eq!((g.min_size, g.max_size, g.desired), (0, 10, 2));
        assert_eq!(g.asg_name, "asg-a");
        let states: Vec<_> = g.instances.iter().map(|i| (&*i.id, i.state)).collect();
        assert_eq!(
            states,
            [
                ("i-1", InstanceState::Running),
                ("i-2", InstanceState::Pending),
                ("i-3", InstanceState::Terminating)
            ]
        );
        assert_eq!(
            g.template.labels.get("team").map(String::as_str),
            Some("web")
        );
        assert!(g.template.problems.is_empty(), "{:?}", g.template.problems);
    }

    #[test]
    fn a_malformed_template_tag_is_a_problem_of_the_group_not_a_skip() {
        let asg = ours("asg-gpu", &["eu-central-1a"])
            .tags(tag(
                "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu",
                "one",
            ))
            .tags(tag(
                "k8s.io/cluster-autoscaler/node-template/taint/gpu",
                "yes:Never",
            ))
            .build();
        let g = discover(&asg, "prod").unwrap();
        assert_eq!(g.id, NodeGroupId::new("default", "eu-central-1a"));
        assert_eq!(
            g.template.labels.get("team").map(String::as_str),
            Some("web"),
            "the other tags still apply"
        );
        assert!(g.template.resources.is_empty() && g.template.taints.is_empty());
        let problems = &g.template.problems;
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("asg-gpu") && problems[0].contains("resources/nvidia.com/gpu"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("asg-gpu") && problems[1].contains("taint/gpu"),
            "{}",
            problems[1]
        );
    }

    #[test]
    fn other_clusters_and_untagged_asgs_are_not_ours() {
        let asg = ours("asg-a", &["eu-central-1a"]).build();
        assert_eq!(discover(&asg, "staging"), Err(Skipped::NotOurs));
        let untagged = AutoScalingGroup::builder()
            .auto_scaling_group_name("x")
            .build();
        assert_eq!(discover(&untagged, "prod"), Err(Skipped::NotOurs));
    }

    #[test]
    fn multi_zone_asgs_are_rejected_with_a_reason() {
        let asg = ours("asg-ab", &["eu-central-1a", "eu-central-1b"]).build();
        match discover(&asg, "prod") {
            Err(Skipped::Invalid(why)) => {
                assert!(why.contains("asg-ab") && why.contains("2 zones"), "{why}")
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn negative_sizes_are_rejected() {
        let asg = ours("asg-a", &["eu-central-1a"]).max_size(-1).build();
        match discover(&asg, "prod") {
            Err(Skipped::Invalid(why)) => assert!(why.contains("MaxSize -1"), "{why}"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn lifecycle_states_collapse_safely() {
        assert_eq!(
            instance_state(Some(&LifecycleState::Pending)),
            InstanceState::Pending
        );
        assert_eq!(
            instance_state(Some(&LifecycleState::InService)),
            InstanceState::Running
        );
        assert_eq!(
            instance_state(Some(&LifecycleState::Standby)),
            InstanceState::Terminating
        );
        assert_eq!(
            instance_state(Some(&LifecycleState::Detaching)),
            InstanceState::Terminating
        );
        assert_eq!(
            instance_state(Some(&LifecycleState::from("SomethingNew"))),
            InstanceState::Terminating
        );
        assert_eq!(instance_state(None), InstanceState::Terminating);
    }
}
