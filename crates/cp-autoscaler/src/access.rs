//! Every Kubernetes and AWS API call this component makes. `deploy/cp-autoscaler/rbac.yaml` and
//! the two IAM policies must grant exactly these (`tests/deploy_access.rs`).

use tidal_runtime::access::{ApiAccess, EVENTS, LEADER_ELECTION};

/// Kubernetes API access (the `kube` module).
pub const API_ACCESS: &[ApiAccess] = &[
    // The node count, and control-plane nodes' readiness during a roll.
    ApiAccess::cluster("", &["nodes"], &["list"]),
    EVENTS,
    LEADER_ELECTION,
];

/// IAM actions of the EKS actuator (the `eks` module).
pub const IAM_ACTIONS_EKS: &[&str] = &[
    "eks:DescribeCluster",
    "eks:ListUpdates",
    "eks:DescribeUpdate",
    "eks:UpdateClusterConfig",
];

/// IAM actions of the self-managed actuator (the `self_managed` module).
pub const IAM_ACTIONS_SELF_MANAGED: &[&str] = &[
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:CreateLaunchTemplateVersion",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:UpdateAutoScalingGroup",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
    "autoscaling:DeleteTags",
];

/// Actions the code never calls but AWS checks on its behalf: pointing an Auto Scaling group at
/// a launch template checks that the caller may launch it and pass its instance role.
pub const IAM_ACTIONS_IMPLIED_SELF_MANAGED: &[&str] = &["ec2:RunInstances", "iam:PassRole"];
