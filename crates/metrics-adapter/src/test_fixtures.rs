//! Fixtures shared by this crate's unit tests: a fake cluster and loopback HTTP servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use tidal_core::Timestamp;

use crate::collector::fetch::{BodyLimits, ByteBudget, Fetcher};
use crate::config::{DEFAULT_BODY_BUDGET_BYTES, DEFAULT_MAX_BODY_BYTES, RoutingKind, ScaleTarget};
use crate::outbound::{OutboundPolicy, http_client};
use crate::ports::{ClusterError, ClusterView, PodSummary, RoutingInfo};
use crate::selector::{Selector, SelectorExt};

/// What one fake pod endpoint answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this body.
    Json(String),
    /// This status, empty body.
    Status(u16),
    /// 200 with `{}` after this long.
    Slow(Duration),
    /// 307 to this location.
    Redirect(String),
}

/// Serves `reply` on `GET /metrics` (and `/api/v1/query`) at 127.0.0.1 on an ephemeral port; returns the address
/// and a counter of requests.
pub async fn serve(reply: Reply) -> (SocketAddr, std::sync::Arc<AtomicUsize>) {
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let handler = move || {
        let reply = reply.clone();
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            match reply {
                Reply::Json(body) => (StatusCode::OK, body).into_response(),
                Reply::Status(code) => {
                    (StatusCode::from_u16(code).unwrap(), String::new()).into_response()
                }
                Reply::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    (StatusCode::OK, "{}".to_string()).into_response()
                }
                Reply::Redirect(location) => {
                    (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)], "").into_response()
                }
            }
        }
    };
    // Also at Prometheus's query path, for fake Prometheus answers.
    let app = Router::new()
        .route("/metrics", get(handler.clone()))
        .route("/api/v1/query", get(handler));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, hits)
}

/// A listener on 127.0.0.1 that accepts connections and never answers (a tar pit); returns its
/// address and a counter of connections accepted.
pub async fn tar_pit() -> (SocketAddr, std::sync::Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

/// The outbound policy tests use for permitted fetches: loopback explicitly allowed (the only
/// addresses tests may reach).
pub fn allow_loopback() -> OutboundPolicy {
    OutboundPolicy {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..OutboundPolicy::default()
    }
}

/// A fetcher allowed to reach loopback, with the default body limits.
pub fn loopback_fetcher() -> Fetcher {
    let policy = Arc::new(allow_loopback());
    let http = http_client(
        Some(policy.clone()),
        Duration::from_secs(5),
        Duration::from_secs(15),
    )
    .unwrap();
    Fetcher::new(
        http,
        Some(policy),
        BodyLimits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            budget: ByteBudget::new(DEFAULT_BODY_BUDGET_BYTES),
        },
    )
}

/// A ready pod in namespace `shop` labelled `app=web`, Ready since `ready_since`.
pub fn ready_pod(name: &str, ready_since: Timestamp) -> PodSummary {
    PodSummary {
        namespace: "shop".into(),
        name: name.into(),
        ip: Some(Ipv4Addr::LOCALHOST.into()),
        labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
        running: true,
        ready: true,
        ready_since: Some(ready_since),
        deleting: false,
    }
}

/// A cluster with fixed pods, each reachable at its own loopback port.
#[derive(Default)]
pub struct FakeCluster {
    /// Pods and the loopback port each one listens on.
    pub pods: Vec<(PodSummary, u16)>,
    /// Routing info per (namespace, name).
    pub routing: HashMap<(String, String), RoutingInfo>,
    /// Selector lookups made.
    pub selector_calls: Mutex<Vec<ScaleTarget>>,
}

impl ClusterView for FakeCluster {
    fn pods(&self, namespace: &str, selector: &Selector) -> Vec<PodSummary> {
        self.pods
            .iter()
            .map(|(p, _)| p)
            .filter(|p| p.namespace == namespace && selector.matches(&p.labels))
            .cloned()
            .collect()
    }

    fn scale_target_selector<'a>(
        &'a self,
        _namespace: &'a str,
        target: &'a ScaleTarget,
    ) -> BoxFuture<'a, Result<Selector, ClusterError>> {
        self.selector_calls.lock().unwrap().push(target.clone());
        Box::pin(async {
            Ok([("app".to_string(), "web".to_string())]
                .into_iter()
                .collect())
        })
    }

    fn routing<'a>(
        &'a self,
        namespace: &'a str,
        kind: RoutingKind,
        name: &'a str,
    ) -> BoxFuture<'a, Result<RoutingInfo, ClusterError>> {
        let found = self
            .routing
            .get(&(namespace.to_string(), name.to_string()))
            .cloned();
        Box::pin(async move {
            found.ok_or_else(|| ClusterError::Routing {
                object: format!("{kind:?} {namespace}/{name}"),
                problem: "not found".into(),
            })
        })
    }

    fn pod_address(&self, pod: &PodSummary, _port: u16) -> Option<SocketAddr> {
        self.pods
            .iter()
            .find(|(p, _)| p.name == pod.name)
            .map(|(_, port)| SocketAddr::from((Ipv4Addr::LOCALHOST, *port)))
    }
}
