//! The small table of resource kinds the stand-in knows by name: it maps `apiVersion` + `kind`
//! (what a seeded object says) to the URL path (`api/v1` + `pods`) and tells which are
//! cluster-scoped. Resources outside the table still work over HTTP, keyed by their URL alone.

/// One known resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KindInfo {
    /// `v1` or `group/version`.
    pub api_version: &'static str,
    /// Lower-case plural used in URLs.
    pub resource: &'static str,
    /// `Kind` as objects spell it.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
}

const fn k(
    api_version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> KindInfo {
    KindInfo {
        api_version,
        resource,
        kind,
        namespaced,
    }
}

/// The kinds Tidal's components read or write.
const KINDS: &[KindInfo] = &[
    k("v1", "nodes", "Node", false),
    k("v1", "pods", "Pod", true),
    k("v1", "configmaps", "ConfigMap", true),
    k("v1", "secrets", "Secret", true),
    k("v1", "services", "Service", true),
    k("v1", "namespaces", "Namespace", false),
    k("v1", "persistentvolumes", "PersistentVolume", false),
    k(
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
    ),
    k("v1", "events", "Event", true),
    k("events.k8s.io/v1", "events", "Event", true),
    k(
        "policy/v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    k("coordination.k8s.io/v1", "leases", "Lease", true),
    k("apps/v1", "deployments", "Deployment", true),
    k("apps/v1", "replicasets", "ReplicaSet", true),
    k("apps/v1", "statefulsets", "StatefulSet", true),
    k("apps/v1", "daemonsets", "DaemonSet", true),
    k(
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
    k(
        "autoscaling/v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
    k("batch/v1", "jobs", "Job", true),
    k("batch/v1", "cronjobs", "CronJob", true),
    k(
        "autoscaling.k8s.io/v1",
        "verticalpodautoscalers",
        "VerticalPodAutoscaler",
        true,
    ),
    k(
        "autoscaling.k8s.io/v1",
        "verticalpodautoscalercheckpoints",
        "VerticalPodAutoscalerCheckpoint",
        true,
    ),
];

/// The URL prefix of an `apiVersion`: `v1` → `api/v1`, `apps/v1` → `apis/apps/v1`.
pub(crate) fn prefix_of(api_version: &str) -> String {
    if api_version.contains('/') {
        format!("apis/{api_version}")
    } else {
        format!("api/{api_version}")
    }
}

/// The `apiVersion` of a URL prefix (the inverse of [`prefix_of`]).
pub(crate) fn api_version_of(prefix: &str) -> &str {
    prefix
        .strip_prefix("apis/")
        .or_else(|| prefix.strip_prefix("api/"))
        .unwrap_or(prefix)
}

/// The known resource of `apiVersion` + `kind`.
pub(crate) fn by_kind(api_version: &str, kind: &str) -> Option<KindInfo> {
    KINDS
        .iter()
        .find(|i| i.api_version == api_version && i.kind == kind)
        .copied()
}

/// The known resource at a URL prefix and plural.
pub(crate) fn by_resource(prefix: &str, resource: &str) -> Option<KindInfo> {
    let api_version = api_version_of(prefix);
    KINDS
        .iter()
        .find(|i| i.api_version == api_version && i.resource == resource)
        .copied()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn prefixes_round_trip_and_kinds_resolve_both_ways() {
        assert_eq!(prefix_of("v1"), "api/v1");
        assert_eq!(prefix_of("events.k8s.io/v1"), "apis/events.k8s.io/v1");
        assert_eq!(api_version_of("apis/policy/v1"), "policy/v1");
        assert_eq!(api_version_of("api/v1"), "v1");
        let pdb = by_kind("policy/v1", "PodDisruptionBudget").unwrap();
        assert_eq!(
            by_resource("apis/policy/v1", "poddisruptionbudgets"),
            Some(pdb)
        );
        assert!(!by_kind("v1", "Node").unwrap().namespaced);
        assert_eq!(by_kind("v1", "Lease"), None, "Lease is coordination.k8s.io");
    }
}
