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

    #[test]
    fn requests_read_as_an_authorizer_reads_them() {
        let cases = [
            ("GET /api/v1/nodes?&limit=500", ("", "nodes", "list")),
            (
                "GET /api/v1/pods?&watch=true&timeoutSeconds=290",
                ("", "pods", "watch"),
            ),
            ("GET /api/v1/nodes/n1", ("", "nodes", "get")),
            ("PATCH /api/v1/nodes/n1", ("", "nodes", "patch")),
            (
                "POST /api/v1/namespaces/shop/pods/web-1/eviction",
                ("", "pods/eviction", "create"),
            ),
            (
                "PUT /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tidal",
                ("coordination.k8s.io", "leases", "update"),
            ),
            (
                "GET /apis/policy/v1/poddisruptionbudgets?&watch=1",
                ("policy", "poddisruptionbudgets", "watch"),
            ),
            (
                "DELETE /apis/autoscaling.k8s.io/v1/namespaces/a/verticalpodautoscalercheckpoints/x",
                (
                    "autoscaling.k8s.io",
                    "verticalpodautoscalercheckpoints",
                    "delete",
                ),
            ),
        ];
        for (request, (group, resource, verb)) in cases {
            let expected = Some((group.to_owned(), resource.to_owned(), verb.to_owned()));
            assert_eq!(request_access(request), expected, "{request}");
        }
        assert_eq!(request_access("GET /apis"), None);
        assert_eq!(request_access("GET /version"), None);
    }
}
