//! Every Kubernetes and AWS API call this component makes. `deploy/metrics-adapter/rbac.yaml`
//! and `iam-policy.json` must grant exactly these (`tests/deploy_access.rs`), and the end-to-end
//! test checks every request the binary sends against [`API_ACCESS`].

use tidal_runtime::access::{ApiAccess, EVENTS};

/// Kubernetes API access.
pub const API_ACCESS: &[ApiAccess] = &[
    // `hpa_watch`: every HPA's metrics and metric-config annotations.
    ApiAccess::cluster(
        "autoscaling",
        &["horizontalpodautoscalers"],
        &["list", "watch"],
    ),
    // `pod_watch`: Ready pods of json-path collectors' scale targets.
    ApiAccess::cluster("", &["pods"], &["list", "watch"]),
    // `adapters::kube_cluster`: a scale target's pod selector, a requests-per-second object's
    // backends.
    ApiAccess::cluster("apps", &["deployments", "statefulsets"], &["get"]),
    ApiAccess::cluster("networking.k8s.io", &["ingresses"], &["get"]),
    ApiAccess::cluster("zalando.org", &["routegroups"], &["get"]),
    // `events`: Warning Events on HPAs.
    EVENTS,
    // `authorization`: delegated authorization (granted by `system:auth-delegator`).
    ApiAccess::cluster(
        "authorization.k8s.io",
        &["subjectaccessreviews"],
        &["create"],
    ),
    // `auth`: the front-proxy CA (granted by `extension-apiserver-authentication-reader`).
    ApiAccess::own_namespace("", &["configmaps"], &["get"]),
];

/// IAM actions (`collector::sqs`).
pub const IAM_ACTIONS: &[&str] = &["sqs:GetQueueUrl", "sqs:GetQueueAttributes"];
