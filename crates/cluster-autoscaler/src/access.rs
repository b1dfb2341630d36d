//! Every Kubernetes and AWS API call this component makes. `deploy/cluster-autoscaler/rbac.yaml`
//! and `iam-policy.json` must grant exactly these (`tests/deploy_access.rs`), and the end-to-end
//! test checks every request the binary sends against [`API_ACCESS`].

use tidal_runtime::access::{ApiAccess, EVENTS, LEADER_ELECTION};

/// Kubernetes API access (the `kube` module).
pub const API_ACCESS: &[ApiAccess] = &[
    // Reflectors (list + watch); a node is read live and patched to taint, cordon and untaint it.
    ApiAccess::cluster("", &["nodes"], &["get", "list", "watch", "patch"]),
    // The pod reflector, and a node's pods read live (field selector) before terminating it.
    ApiAccess::cluster("", &["pods"], &["list", "watch"]),
    ApiAccess::cluster("", &["pods/eviction"], &["create"]),
    ApiAccess::cluster("policy", &["poddisruptionbudgets"], &["list", "watch"]),
    // Bound-volume zones: a pending pod's PVC → PV → zone.
    ApiAccess::cluster(
        "",
        &["persistentvolumeclaims", "persistentvolumes"],
        &["list", "watch"],
    ),
    EVENTS,
    // The status ConfigMap, written by server-side apply (an apply that creates the object
    // needs `create` as well as `patch`).
    ApiAccess::own_namespace("", &["configmaps"], &["create", "patch"]),
    LEADER_ELECTION,
];

/// IAM actions (the `aws` module).
pub const IAM_ACTIONS: &[&str] = &[
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
];
