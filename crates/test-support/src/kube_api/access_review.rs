//! `authorization.k8s.io/v1` SubjectAccessReview, answered from rules the test sets with
//! [`super::KubeApi::allow`] instead of RBAC.
//!
//! Stand-in behaviour, not kube-apiserver's: a review is allowed when one [`AccessRule`]
//! matches it (no rule: denied with reason `no stand-in access rule matched`); rules are plain
//! field matches (no RBAC roles, bindings, aggregation or wildcards other than a missing field);
//! the caller of the review is not itself authorized; nothing is stored. The body must be a
//! SubjectAccessReview with `spec.resourceAttributes` or `spec.nonResourceAttributes`.

use serde_json::{Value, json};

use super::KubeApiError;

/// Who may do what; a field left `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRule {
    /// The user name (`spec.user`).
    pub user: Option<String>,
    /// A group the user must be in (`spec.groups`).
    pub group: Option<String>,
    /// The verb (`get`, `list`, …).
    pub verb: Option<String>,
    /// The API group of resource requests.
    pub api_group: Option<String>,
    /// The resource, with `/subresource` when the request has one (`pods/rps`).
    pub resource: Option<String>,
    /// The namespace of resource requests (`""` for cluster-scoped ones).
    pub namespace: Option<String>,
    /// The object name of resource requests.
    pub name: Option<String>,
    /// The path of non-resource requests. A rule with a path matches only non-resource
    /// requests; a rule without one only resource requests.
    pub path: Option<String>,
}

fn matches(rule: &Option<String>, value: &str) -> bool {
    rule.as_deref().is_none_or(|r| r == value)
}

impl AccessRule {
    fn allows(&self, spec: &Value) -> bool {
        let text = |pointer: &str| spec.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let in_group = self.group.as_deref().is_none_or(|group| {
            spec.pointer("/groups")
                .and_then(Value::as_array)
                .is_some_and(|groups| groups.iter().any(|g| g.as_str() == Some(group)))
        });
        if !matches(&self.user, text("/user")) || !in_group {
            return false;
        }
        match (&self.path, spec.get("nonResourceAttributes")) {
            (Some(path), Some(_)) => {
                path == text("/nonResourceAttributes/path")
                    && matches(&self.verb, text("/nonResourceAttributes/verb"))
            }
            (None, None) => {
                let attr = |field: &str| text(&format!("/resourceAttributes/{field}"));
                let resource = match attr("subresource") {
                    "" => attr("resource").to_owned(),
                    sub => format!("{}/{sub}", attr("resource")),
                };
                matches(&self.verb, attr("verb"))
                    && matches(&self.api_group, attr("group"))
                    && matches(&self.resource, &resource)
                    && matches(&self.namespace, attr("namespace"))
                    && matches(&self.name, attr("name"))
            }
            _ => false,
        }
    }
}

/// The review with its `status` filled in from `rules`.
pub(crate) fn review(rules: &[AccessRule], mut body: Value) -> Result<Value, KubeApiError> {
    let spec = body.get("spec").cloned().unwrap_or(Value::Null);
    let attributes = ["resourceAttributes", "nonResourceAttributes"]
        .iter()
        .filter(|a| spec.get(**a).is_some_and(Value::is_object))
        .count();
    if attributes != 1 {
        return Err(KubeApiError::Invalid(
            "spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
                .into(),
        ));
    }
    let allowed = rules.iter().any(|rule| rule.allows(&spec));
    let status = if allowed {
        json!({"allowed": true, "reason": "allowed by a stand-in access rule"})
    } else {
        json!({"allowed": false, "reason": "no stand-in access rule matched"})
    };
    if let Some(object) = body.as_object_mut() {
        object.insert("status".into(), status);
    }
    Ok(body)
}
