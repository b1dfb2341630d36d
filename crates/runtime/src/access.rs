//! What each component may do, kept next to the code that does it: the Kubernetes API calls
//! ([`ApiAccess`], which the deployed RBAC must grant exactly) and the AWS API calls (IAM action
//! names, which the shipped IAM policies must grant exactly). `tests/deploy_access.rs` checks
//! the manifests against these lists, and the end-to-end tests check the requests the binaries
//! make against them, so the code, the lists and `deploy/` cannot drift apart.

/// Kubernetes API access one component needs: `verbs` on `resources` (a subresource is written
/// `pods/eviction`) of API `group` (`""` for the core group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiAccess {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// Resources (plural, lowercase), with `/subresource` where one is used.
    pub resources: &'static [&'static str],
    /// RBAC verbs (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`).
    pub verbs: &'static [&'static str],
    /// Namespaced grant (a Role in the component's namespace) rather than cluster-wide.
    pub in_own_namespace: bool,
}

impl ApiAccess {
    /// Cluster-wide access.
    pub const fn cluster(
        group: &'static str,
        resources: &'static [&'static str],
        verbs: &'static [&'static str],
    ) -> Self {
        Self {
            group,
            resources,
            verbs,
            in_own_namespace: false,
        }
    }

    /// Access in the component's own namespace only (Leases, its status ConfigMap).
    pub const fn own_namespace(
        group: &'static str,
        resources: &'static [&'static str],
        verbs: &'static [&'static str],
    ) -> Self {
        Self {
            in_own_namespace: true,
            ..Self::cluster(group, resources, verbs)
        }
    }

    /// Whether this grants `verb` on `resource` of `group`.
    pub fn covers(&self, group: &str, resource: &str, verb: &str) -> bool {
        self.group == group && self.resources.contains(&resource) && self.verbs.contains(&verb)
    }
}

/// Whether any entry of `list` grants `verb` on `resource` of `group`.
pub fn granted(list: &[ApiAccess], group: &str, resource: &str, verb: &str) -> bool {
    list.iter().any(|a| a.covers(group, resource, verb))
}

/// Leader election through a `coordination.k8s.io` Lease in the component's namespace.
pub const LEADER_ELECTION: ApiAccess = ApiAccess::own_namespace(
    "coordination.k8s.io",
    &["leases"],
    &["get", "create", "update"],
);

/// Publishing Events through kube-rs's recorder (`events.k8s.io/v1`; a repeated Event is
/// patched).
pub const EVENTS: ApiAccess =
    ApiAccess::cluster("events.k8s.io", &["events"], &["create", "patch"]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_covers_only_its_group_resources_and_verbs() {
        let list = [
            ApiAccess::cluster("", &["pods", "pods/eviction"], &["get", "create"]),
            LEADER_ELECTION,
        ];
        assert!(granted(&list, "", "pods/eviction", "create"));
        assert!(granted(&list, "coordination.k8s.io", "leases", "update"));
        assert!(!granted(&list, "", "pods", "delete"));
        assert!(!granted(&list, "apps", "pods", "get"));
        assert!(!granted(&list, "", "nodes", "get"));
    }
}
