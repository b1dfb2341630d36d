//! The HTTP side: URL → resource, verb → store operation, errors → `Status` bodies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::success_status;
use super::selector::Selector;
use super::store::{ObjectKey, Scope};
use super::watch::{self, Start, WatchRequest};
use super::{KubeApiError, Shared, kinds};

/// A watch without `timeoutSeconds` ends after this (a real server picks 30–60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// Characters of `generateName` suffixes.
const SUFFIX_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A parsed resource URL: `/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]` or
/// the same under `/apis/{group}/{version}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub prefix: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Target {
    pub(crate) fn parse(path: &str) -> Result<Self, KubeApiError> {
        let not_found = || KubeApiError::NotFound(format!("the server could not find {path}"));
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (prefix, rest) = match segments.as_slice() {
            ["api", "v1", rest @ ..] => ("api/v1".to_owned(), rest),
            ["apis", group, version, rest @ ..] => (format!("apis/{group}/{version}"), rest),
            _ => return Err(not_found()),
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
            _ => (None, rest),
        };
        let owned = |s: Option<&&str>| s.map(|s| (*s).to_owned());
        match rest {
            [_, ..] if rest.len() <= 3 && rest.iter().all(|s| !s.is_empty()) => Ok(Self {
                prefix,
                resource: rest[0].to_owned(),
                namespace,
                name: owned(rest.get(1)),
                subresource: owned(rest.get(2)),
            }),
            // Discovery documents and other paths are not served.
            _ => Err(not_found()),
        }
    }

    /// Real servers answer 404 for a namespaced resource without a namespace in a write, and
    /// for a cluster-scoped resource under a namespace.
    fn check_scope(&self, write: bool) -> Result<(), KubeApiError> {
        let Some(info) = kinds::by_resource(&self.prefix, &self.resource) else {
            return Ok(());
        };
        let wrong = match (info.namespaced, &self.namespace) {
            (false, Some(_)) => true,
            (true, None) => write || self.name.is_some(),
            _ => false,
        };
        if wrong {
            return Err(KubeApiError::NotFound(format!(
                "{} is {} and not served at this path",
                self.resource,
                if info.namespaced {
                    "namespaced"
                } else {
                    "cluster-scoped"
                }
            )));
        }
        Ok(())
    }

    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey {
            prefix: self.prefix.clone(),
            resource: self.resource.clone(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name: name.to_owned(),
        }
    }
}

type Params = HashMap<String, String>;

pub(super) fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: &KubeApiError) -> Response {
    let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.status())
}

/// The one handler: every request goes through here.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.log_request(&method, &uri);
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match route(&shared, &method, uri.path(), &params, &headers, &body) {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    params: &Params,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, KubeApiError> {
    let target = Target::parse(path)?;
    if params.contains_key("dryRun") {
        return Err(KubeApiError::BadRequest(
            "the stand-in does not support dryRun".into(),
        ));
    }
    let writes = *method != Method::GET;
    target.check_scope(writes)?;
    let sub = target.subresource.as_deref();
    let is_pods = target.prefix == "api/v1" && target.resource == "pods";
    let is_review = target.prefix == "apis/authorization.k8s.io/v1"
        && target.resource == "subjectaccessreviews";
    match (method.as_str(), target.name.as_deref(), sub) {
        ("POST", None, None) if is_review => {
            let answered = super::access_review::review(&shared.access_rules(), parse_json(body)?)?;
            Ok(json_response(StatusCode::CREATED, &answered))
        }
        ("GET", None, None) if is_watch(params) => watch_collection(shared, &target, params),
        ("GET", None, None) => list(shared, &target, params),
        ("POST", None, None) => create(shared, &target, body),
        ("GET", Some(name), None | Some("status")) => {
            let object = shared.lock_store().get(&target.key(name))?;
            Ok(json_response(StatusCode::OK, &object))
        }
        ("PUT", Some(name), None | Some("status")) => replace(shared, &target, name, body),
        ("PATCH", Some(name), None | Some("status")) => {
            super::patch::patch(shared, &target.key(name), params, headers, body)
        }
        ("DELETE", Some(name), None) => delete(shared, &target.key(name), body),
        ("POST", Some(name), Some("eviction")) if is_pods => evict(shared, &target.key(name)),
        (_, _, Some(other)) if !matches!(other, "status" | "eviction") => {
            Err(KubeApiError::NotFound(format!(
                "subresource {other:?} is not served by the stand-in"
            )))
        }
        (verb, _, _) => Err(KubeApiError::MethodNotAllowed(format!(
            "{verb} is not supported on {path}"
        ))),
    }
}

fn is_watch(params: &Params) -> bool {
    params.get("watch").is_some_and(|v| v == "true" || v == "1")
}

fn scope(target: &Target, params: &Params) -> Result<Scope, KubeApiError> {
    Ok(Scope {
        prefix: target.prefix.clone(),
        resource: target.resource.clone(),
        namespace: target.namespace.clone(),
        selector: Selector::parse(
            params.get("labelSelector").map(String::as_str),
            params.get("fieldSelector").map(String::as_str),
        )?,
    })
}

/// `limit` and `continue` are accepted and ignored: every item comes in one page.
fn list(shared: &Shared, target: &Target, params: &Params) -> Result<Response, KubeApiError> {
    let scope = scope(target, params)?;
    let store = shared.lock_store();
    let kind = store
        .kind_of(&target.prefix, &target.resource)
        .unwrap_or_default();
    let body = json!({
        "kind": format!("{kind}List"),
        "apiVersion": kinds::api_version_of(&target.prefix),
        "metadata": { "resourceVersion": store.rv().to_string() },
        "items": store.list(&scope),
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn parse_rv(text: &str) -> Result<u64, KubeApiError> {
    text.parse()
        .map_err(|_| KubeApiError::BadRequest(format!("invalid resourceVersion {text:?}")))
}

fn watch_collection(
    shared: &Arc<Shared>,
    target: &Target,
    params: &Params,
) -> Result<Response, KubeApiError> {
    let flag = |name: &str| params.get(name).is_some_and(|v| v == "true" || v == "1");
    let start = match params.get("resourceVersion").map(String::as_str) {
        None | Some("" | "0") => Start::Current,
        Some(rv) => Start::After(parse_rv(rv)?),
    };
    let timeout = match params.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| KubeApiError::BadRequest(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => DEFAULT_WATCH_TIMEOUT,
    };
    if flag("sendInitialEvents") && !flag("allowWatchBookmarks") {
        // The end of the initial events is a bookmark: a real server refuses this too.
        return Err(KubeApiError::BadRequest(
            "sendInitialEvents requires allowWatchBookmarks=true".into(),
        ));
    }
    let kind = shared
        .lock_store()
        .kind_of(&target.prefix, &target.resource)
        .unwrap_or_default();
    let req = WatchRequest {
        scope: scope(target, params)?,
        start,
        timeout,
        bookmarks: flag("allowWatchBookmarks"),
        initial_events: flag("sendInitialEvents"),
        kind,
        api_version: kinds::api_version_of(&target.prefix).to_owned(),
    };
    let body = if shared.watch_is_silent(&target.resource) {
        Body::from_stream(futures::stream::pending::<
            Result<Bytes, std::convert::Infallible>,
        >())
    } else {
        Body::from_stream(watch::stream(shared.clone(), req))
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Value, KubeApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| KubeApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(KubeApiError::BadRequest(
            "the body is not a JSON object".into(),
        ));
    }
    Ok(value)
}

/// The body's `metadata.namespace` must match the URL's when both are given.
pub(crate) fn check_namespace(target_ns: &str, object: &Value) -> Result<(), KubeApiError> {
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) if !ns.is_empty() && ns != target_ns => Err(KubeApiError::BadRequest(format!(
            "the namespace of the object ({ns}) does not match the namespace on the request ({target_ns})"
        ))),
        _ => Ok(()),
    }
}

fn create(shared: &Shared, target: &Target, body: &[u8]) -> Result<Response, KubeApiError> {
    let object = parse_json(body)?;
    let key = target.key("");
    check_namespace(&key.namespace, &object)?;
    let mut store = shared.lock_store();
    let name = match object.pointer("/metadata/name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => match object
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
        {
            Some(base) if !base.is_empty() => format!("{base}{}", suffix(store.rv())),
            _ => {
                return Err(KubeApiError::Invalid(
                    "metadata.name: Required value: name or generateName is required".into(),
                ));
            }
        },
    };
    let created = store.create(target.key(&name), object)?;
    Ok(json_response(StatusCode::CREATED, &created))
}

/// Five characters spelling `seed` in base 27: unique while the resourceVersion (which only
/// grows) stays below 27^5.
fn suffix(seed: u64) -> String {
    let n = SUFFIX_CHARS.len() as u64;
    let mut x = seed;
    (0..5)
        .map(|_| {
            let c = char::from(SUFFIX_CHARS[(x % n) as usize]);
            x /= n;
            c
        })
        .collect()
}

fn replace(
    shared: &Shared,
    target: &Target,
    name: &str,
    body: &[u8],
) -> Result<Response, KubeApiError> {
    let object = parse_json(body)?;
    let key = target.key(name);
    check_namespace(&key.namespace, &object)?;
    match object.pointer("/metadata/name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(KubeApiError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    let updated = shared.lock_store().update(&key, object)?;
    Ok(json_response(StatusCode::OK, &updated))
}

/// Honours `preconditions.resourceVersion` and `preconditions.uid` of the DeleteOptions body.
fn delete(shared: &Shared, key: &ObjectKey, body: &[u8]) -> Result<Response, KubeApiError> {
    let options: Value = if body.is_empty() {
        Value::Null
    } else {
        parse_json(body)?
    };
    let mut store = shared.lock_store();
    let current = store.get(key)?;
    for field in ["resourceVersion", "uid"] {
        let wanted = options.pointer(&format!("/preconditions/{field}"));
        if let Some(wanted) = wanted.and_then(Value::as_str)
            && current
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                != Some(wanted)
        {
            return Err(KubeApiError::Conflict(format!(
                "precondition failed: {field} {wanted} does not match the object's"
            )));
        }
    }
    let gone = store.delete(key)?;
    Ok(json_response(StatusCode::OK, &gone))
}

fn evict(shared: &Shared, key: &ObjectKey) -> Result<Response, KubeApiError> {
    let mut store = shared.lock_store();
    store.get(key)?;
    if shared.refuses_evictions() {
        return Err(KubeApiError::TooManyRequests(
            "Cannot evict pod as it would violate the pod's disruption budget.".into(),
        ));
    }
    store.delete(key)?;
    Ok(json_response(StatusCode::CREATED, &success_status(201)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn paths_parse_into_resource_namespace_name_and_subresource() {
        let t = Target::parse("/api/v1/namespaces/default/pods/web/eviction").unwrap();
        assert_eq!(t.prefix, "api/v1");
        assert_eq!(
            (
                t.resource.as_str(),
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("pods", Some("default"), Some("web"), Some("eviction"))
        );
        let t = Target::parse("/apis/coordination.k8s.io/v1/leases").unwrap();
        assert_eq!(
            (t.prefix.as_str(), t.namespace),
            ("apis/coordination.k8s.io/v1", None)
        );
        let t = Target::parse("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(
            (t.resource.as_str(), t.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        for bad in [
            "/",
            "/api",
            "/apis/apps/v1",
            "/healthz",
            "/api/v1/pods/a/b/c",
        ] {
            assert_eq!(Target::parse(bad).unwrap_err().code(), 404, "{bad}");
        }
    }

    #[test]
    fn generated_suffixes_differ() {
        let names: std::collections::HashSet<_> = (0..1000).map(suffix).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|s| s.len() == 5));
    }
}
