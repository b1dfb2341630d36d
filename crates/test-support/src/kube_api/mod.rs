//! An in-memory stand-in for the Kubernetes API, on 127.0.0.1 over plain HTTP, so a whole
//! binary (or a `kube::Client`) can run against it in a test.
//!
//! What it does, for any resource by URL (`/api/v1/...` and `/apis/{group}/{version}/...`,
//! `[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`):
//! - list (one page: `limit` and `continue` are ignored, no continue token is returned) with
//!   the global `metadata.resourceVersion`;
//! - watch (`watch=true`): newline-delimited ADDED/MODIFIED/DELETED events after the given
//!   `resourceVersion`, replayed from a bounded history (10 000 changes; older → an ERROR event
//!   with a 410 Expired `Status`, so clients relist), `timeoutSeconds`, BOOKMARK events every
//!   few seconds and at the end when `allowWatchBookmarks=true`, and `sendInitialEvents=true`
//!   (streaming lists: the current objects, then a bookmark marking their end);
//! - get, create (`generateName`, 409 AlreadyExists), replace (409 Conflict on a stale
//!   `resourceVersion`), delete (with `preconditions`), and the `status` subresource (which
//!   reads and writes the whole object);
//! - patch: merge patch; strategic merge patch applied as a merge patch; JSON patch; a non-empty
//!   `metadata.resourceVersion` in the result is a precondition, as in a real server;
//! - server-side apply: create, or merge the applied configuration into the object;
//! - `pods/{name}/eviction`: deletes the pod (201), or 429 while [`KubeApi::refuse_evictions`];
//! - `authorization.k8s.io/v1` SubjectAccessReview create: answered from the rules the test
//!   gives [`KubeApi::allow`] (stand-in rules, not RBAC; see [`AccessRule`]);
//! - label selectors (equality, set and existence) and field selectors (`=`, `!=` on any
//!   dotted path) for list and watch;
//! - errors as `Status` bodies with the real codes and reasons;
//! - an added latency per request ([`KubeApi::set_latency`]), for benchmarks of write paths.
//!
//! What it does not do: no authentication or authorization, no admission or validation (any
//! JSON object is stored, and a namespace need not exist), no defaulting beyond `uid`,
//! `creationTimestamp` and `resourceVersion` (no `generation`), no finalizers or graceful
//! deletion (delete removes at once, evictions ignore PodDisruptionBudgets), no garbage
//! collection, no strategic list merging, no field ownership or apply conflicts, no
//! pagination, no `resourceVersion` semantics on list (always the latest), no `dryRun`,
//! no delete-collection, no discovery documents, no protobuf, no TLS, no HTTP/2, no other
//! subresources (logs, exec, scale, binding).

mod access;
mod access_review;
mod error;
mod http;
mod kinds;
mod patch;
mod selector;
mod store;
mod watch;

pub use access::request_access;
pub use access_review::AccessRule;
pub use error::KubeApiError;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;
use tidal_core::sync::lock;

use axum::Router;
use axum::http::{Method, Uri};
use serde_json::Value;

use crate::HarnessError;
use store::{ObjectKey, Store};

/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);

/// State shared by the handle and the request handlers.
pub(crate) struct Shared {
    store: Mutex<Store>,
    requests: Mutex<Vec<String>>,
    refuse_evictions: AtomicBool,
    access_rules: Mutex<Vec<AccessRule>>,
    /// Microseconds every request waits before it is answered.
    latency_micros: AtomicU64,
    closed: AtomicBool,
    bookmark_interval: Duration,
    /// Resources (e.g. `pods`) whose watches are accepted and then never send anything.
    silent_watches: Mutex<BTreeSet<String>>,
}

impl Shared {
    pub(crate) fn lock_store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn log_request(&self, method: &Method, uri: &Uri) {
        lock(&self.requests).push(format!("{method} {uri}"));
    }

    fn access_rules(&self) -> Vec<AccessRule> {
        lock(&self.access_rules).clone()
    }

    fn refuses_evictions(&self) -> bool {
        self.refuse_evictions.load(Ordering::SeqCst)
    }

    fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_micros.load(Ordering::SeqCst))
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn watch_is_silent(&self, resource: &str) -> bool {
        lock(&self.silent_watches).contains(resource)
    }
}

/// The stand-in API server; stopped (watches ended) when dropped.
pub struct KubeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl KubeApi {
    /// Starts the server on 127.0.0.1 and an ephemeral port (needs a tokio runtime).
    pub async fn start() -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| {
                HarnessError::io("binding the Kubernetes API stand-in to 127.0.0.1:0", e)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the Kubernetes API stand-in's address", e))?;
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new()),
            requests: Mutex::default(),
            refuse_evictions: AtomicBool::new(false),
            access_rules: Mutex::default(),
            latency_micros: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            bookmark_interval: BOOKMARK_INTERVAL,
            silent_watches: Mutex::default(),
        });
        let app = Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("Kubernetes API stand-in stopped with an error: {e}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The server's URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes `dir/kubeconfig` pointing at this server without credentials, for `KUBECONFIG`.
    pub fn kubeconfig(&self, dir: &Path) -> Result<PathBuf, HarnessError> {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {}\n\
             users:\n- name: stand-in\n  user: {{}}\ncontexts:\n- name: stand-in\n  context:\n    \
             cluster: stand-in\n    user: stand-in\n    namespace: default\ncurrent-context: stand-in\n",
            self.url()
        );
        std::fs::write(&path, text)
            .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
        Ok(path)
    }

    /// Creates or replaces an object (a test's seed), as a watch sees it: ADDED or MODIFIED.
    /// Its resource comes from `apiVersion` and `kind` (a small table of the kinds Tidal uses);
    /// a namespaced object without a namespace goes to `default`. Returns the stored object.
    pub fn put(&self, object: Value) -> Result<Value, KubeApiError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let info = kinds::by_kind(api_version, kind).ok_or_else(|| {
            KubeApiError::BadRequest(format!(
                "apiVersion {api_version:?} kind {kind:?} is not in the stand-in's table of kinds"
            ))
        })?;
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return Err(KubeApiError::Invalid(format!(
                "{kind} without metadata.name"
            )));
        }
        let namespace = match object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
        {
            _ if !info.namespaced => String::new(),
            Some(ns) if !ns.is_empty() => ns.to_owned(),
            _ => "default".to_owned(),
        };
        let key = ObjectKey {
            prefix: kinds::prefix_of(api_version),
            resource: info.resource.to_owned(),
            namespace,
            name: name.to_owned(),
        };
        let mut store = self.shared.lock_store();
        if store.get(&key).is_ok() {
            let mut object = object;
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                // A seed replaces unconditionally.
                meta.remove("resourceVersion");
            }
            store.update(&key, object)
        } else {
            store.create(key, object)
        }
    }

    /// The stored object of `apiVersion`/`kind` named `name` (`namespace` `None` for
    /// cluster-scoped objects), as a client would get it.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.list(api_version, kind, namespace)
            .into_iter()
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
    }

    /// Every stored object of `apiVersion`/`kind`, in `namespace` or (with `None`) in all.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let field = |o: &Value, f: &str| o.get(f).and_then(Value::as_str).map(str::to_owned);
        self.shared
            .lock_store()
            .all()
            .filter(|o| field(o, "apiVersion").as_deref() == Some(api_version))
            .filter(|o| field(o, "kind").as_deref() == Some(kind))
            .filter(|o| {
                namespace.is_none_or(|ns| {
                    o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
                })
            })
            .cloned()
            .collect()
    }

    /// Every request received so far, as `METHOD /path?query`, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// The latest resourceVersion (every change increments it).
    pub fn resource_version(&self) -> u64 {
        self.shared.lock_store().rv()
    }

    /// While `refuse` is true, evictions answer 429 as if a PodDisruptionBudget forbade them.
    pub fn refuse_evictions(&self, refuse: bool) {
        self.shared.refuse_evictions.store(refuse, Ordering::SeqCst);
    }

    /// From now on, SubjectAccessReviews that `rule` matches are allowed (others are denied).
    pub fn allow(&self, rule: AccessRule) {
        lock(&self.shared.access_rules).push(rule);
    }

    /// Makes every request wait `latency` before it is answered (as a distant API server
    /// would), without holding up other requests.
    pub fn set_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.shared.latency_micros.store(micros, Ordering::SeqCst);
    }

    /// From now on, watches of `resource` (e.g. `pods`) are accepted (200, headers sent) and
    /// then never send anything: no event, no bookmark, no end at `timeoutSeconds` — a hung
    /// watch or a half-open connection. Lists still answer.
    pub fn silence_watches(&self, resource: &str) {
        lock(&self.shared.silent_watches).insert(resource.to_owned());
    }

    /// Forgets the change history, like etcd compaction: a watch from an earlier
    /// resourceVersion gets a 410 Expired error event.
    pub fn compact(&self) {
        self.shared.lock_store().compact();
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // Wakes every watch so it sees the server is closed and ends its response.
        self.shared.lock_store().wake();
        self.task.abort();
    }
}

#[cfg(test)]
mod tests;
