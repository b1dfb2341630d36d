//! The RBAC terms of a request the stand-in received: which verb on which resource of which API
//! group, as an authorizer would see it. End-to-end tests check these against a component's
//! access list (`tidal_runtime::access`).

/// (API group, resource with `/subresource`, verb) of one logged request (`METHOD /path?query`,
/// as [`super::KubeApi::requests`] gives them); `None` for discovery and non-resource paths.
pub fn request_access(request: &str) -> Option<(String, String, String)> {
    let (method, uri) = request.split_once(' ')?;
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let (resource, name, sub) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub] => (*resource, Some(*name), Some(*sub)),
        _ => return None,
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (method, name) {
        ("GET", Some(_)) => "get",
        ("GET", None) if watch => "watch",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", Some(_)) => "delete",
        ("DELETE", None) => "deletecollection",
        _ => return None,
    };
    let resource = match sub {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_owned(),
    };
    Some((group.to_owned(), resource, verb.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(request: &str) -> Option<(String, String, String)> {
        request_access(request)
    }

    fn triple(g: &str, r: &str, v: &str) -> Option<(String, String, String)> {
        Some((g.into(), r.into(), v.into()))
    }

    #[test]
    fn requests_read_as_an_authorizer_reads_them() {
        assert_eq!(
            access("GET /api/v1/nodes?&limit=500"),
            triple("", "nodes", "list")
        );
        assert_eq!(
            access("GET /api/v1/pods?&watch=true&timeoutSeconds=290"),
            triple("", "pods", "watch")
        );
        assert_eq!(access("GET /api/v1/nodes/n1"), triple("", "nodes", "get"));
        assert_eq!(
            access("PATCH /api/v1/nodes/n1"),
            triple("", "nodes", "patch")
        );
        assert_eq!(
            access("POST /api/v1/namespaces/shop/pods/web-1/eviction"),
            triple("", "pods/eviction", "create")
        );
        assert_eq!(
            access("PUT /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tidal"),
            triple("coordination.k8s.io", "leases", "update")
        );
        assert_eq!(
            access("GET /apis/policy/v1/poddisruptionbudgets?&watch=1"),
            triple("policy", "poddisruptionbudgets", "watch")
        );
        assert_eq!(
            access(
                "DELETE /apis/autoscaling.k8s.io/v1/namespaces/a/verticalpodautoscalercheckpoints/x"
            ),
            triple(
                "autoscaling.k8s.io",
                "verticalpodautoscalercheckpoints",
                "delete"
            )
        );
        assert_eq!(access("GET /apis"), None);
        assert_eq!(access("GET /version"), None);
    }
}
