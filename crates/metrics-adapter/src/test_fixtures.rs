//! Fixtures shared by this crate's unit tests: a fake cluster and loopback HTTP servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use futures::future::BoxFuture;
use tidal_core::Timestamp;

use crate::config::{RoutingKind, ScaleTarget};
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
}

/// Serves `reply` on `GET /metrics` at 127.0.0.1 on an ephemeral port; returns the address
/// and a counter of requests.
pub async fn serve(reply: Reply) -> (SocketAddr, std::sync::Arc<AtomicUsize>) {
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let reply = reply.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match reply {
                    Reply::Json(body) => (StatusCode::OK, body),
                    Reply::Status(code) => (StatusCode::from_u16(code).unwrap(), String::new()),
                    Reply::Slow(delay) => {
                        tokio::time::sleep(delay).await;
                        (StatusCode::OK, "{}".to_string())
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, hits)
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
