//! Every Kubernetes API call this component makes. `deploy/vpa/rbac.yaml` must grant exactly
//! these (`tests/deploy_access.rs`). It makes no AWS call.

use tidal_runtime::access::{ApiAccess, LEADER_ELECTION};

/// Kubernetes API access (the `kube` and `usage` modules).
pub const API_ACCESS: &[ApiAccess] = &[
    ApiAccess::cluster(
        "autoscaling.k8s.io",
        &["verticalpodautoscalers"],
        &["list", "watch"],
    ),
    ApiAccess::cluster(
        "autoscaling.k8s.io",
        &["verticalpodautoscalers/status"],
        &["patch"],
    ),
    // Checkpoints: written by server-side apply (an apply that creates the object needs
    // `create` as well as `patch`), listed for garbage collection, deleted.
    ApiAccess::cluster(
        "autoscaling.k8s.io",
        &["verticalpodautoscalercheckpoints"],
        &["list", "create", "patch", "delete"],
    ),
    ApiAccess::cluster("", &["pods"], &["list", "watch"]),
    // Targets: the well-known kinds directly, any other kind through its scale subresource.
    ApiAccess::cluster(
        "apps",
        &["deployments", "statefulsets", "daemonsets", "replicasets"],
        &["get"],
    ),
    ApiAccess::cluster("batch", &["jobs", "cronjobs"], &["get"]),
    ApiAccess::cluster("*", &["*/scale"], &["get"]),
    // Live usage from the metrics API (`--usage-source metrics-api`).
    ApiAccess::cluster("metrics.k8s.io", &["pods"], &["list"]),
    LEADER_ELECTION,
];
