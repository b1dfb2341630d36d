//! What a request asks to do, in the terms of a SubjectAccessReview, read from its path the way
//! kube-apiserver's request-info resolver reads it (so RBAC rules written for other metrics
//! servers mean the same here):
//!
//! - `/apis/{group}/{version}/[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]` is a
//!   resource request: verb `get` with a name, `list` without (an external metric,
//!   `namespaces/{ns}/{metric}`, is a list of resource `{metric}`); `namespaces/{ns}/metrics/{m}`
//!   is resource `metrics` named `{m}` in namespace `{ns}`; a pods metric,
//!   `namespaces/{ns}/pods/*/{metric}`, is resource `pods`, name `*`, subresource `{metric}`.
//! - Anything else (`/apis`, a group, a group version) is a non-resource request for its path.

use std::collections::BTreeMap;

use crate::auth::{RemoteUser, percent_decode};

/// The action of a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A request for API objects (here: metric values).
    Resource {
        /// `get` or `list`.
        verb: &'static str,
        /// API group, e.g. `custom.metrics.k8s.io`.
        group: String,
        /// API version, e.g. `v1beta2`.
        version: String,
        /// Resource, e.g. `pods` or an external metric's name.
        resource: String,
        /// Subresource, e.g. a pods metric's name; empty when none.
        subresource: String,
        /// Namespace; empty for cluster-scoped requests.
        namespace: String,
        /// Object name (`*` selects by label); empty for lists.
        name: String,
    },
    /// A request for a path that is not an API object (discovery documents).
    NonResource {
        /// Always `get` (only reads are authorized; see the module of [`super::Authorizer`]).
        verb: &'static str,
        /// The request path.
        path: String,
    },
}

impl Action {
    /// The action of a read (GET) of `path`.
    pub fn of_read(path: &str) -> Self {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(|s| percent_decode(s).unwrap_or_else(|| s.to_string()))
            .collect();
        match segments.as_slice() {
            [apis, group, version, rest @ ..] if apis == "apis" && !rest.is_empty() => {
                resource_action(group, version, rest)
            }
            _ => Action::NonResource {
                verb: "get",
                path: path.to_string(),
            },
        }
    }

    /// What kube-apiserver would say the user cannot do, e.g.
    /// `get resource "pods/rps" in API group "custom.metrics.k8s.io" in the namespace "shop"`.
    pub fn describe(&self) -> String {
        match self {
            Action::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                ..
            } => {
                let resource = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                let scope = if namespace.is_empty() {
                    " at the cluster scope".to_string()
                } else {
                    format!(" in the namespace {namespace:?}")
                };
                format!("{verb} resource {resource:?} in API group {group:?}{scope}")
            }
            Action::NonResource { verb, path } => format!("{verb} path {path:?}"),
        }
    }
}

fn resource_action(group: &str, version: &str, rest: &[String]) -> Action {
    let (namespace, parts) = match rest {
        [ns_word, ns, more @ ..]
            if ns_word == "namespaces"
                && !more.is_empty()
                && !matches!(more[0].as_str(), "status" | "finalize") =>
        {
            (ns.clone(), more)
        }
        [ns_word, ns, ..] if ns_word == "namespaces" => (ns.clone(), rest),
        _ => (String::new(), rest),
    };
    let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
    let name = part(1);
    Action::Resource {
        verb: if name.is_empty() { "list" } else { "get" },
        group: group.to_string(),
        version: version.to_string(),
        resource: part(0),
        subresource: part(2),
        namespace,
        name,
    }
}

/// Who asks to do what: the question a SubjectAccessReview answers, and the cache key of its
/// answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessRequest {
    /// User name (`X-Remote-User`).
    pub user: String,
    /// Groups (`X-Remote-Group`).
    pub groups: Vec<String>,
    /// Extra attributes (`X-Remote-Extra-*`).
    pub extra: BTreeMap<String, Vec<String>>,
    /// What the user asks to do.
    pub action: Action,
}

impl AccessRequest {
    /// `user` reading `path`.
    pub fn read(user: &RemoteUser, path: &str) -> Self {
        Self {
            user: user.name.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
            action: Action::of_read(path),
        }
    }
}
