//! The admin HTTP server every component runs on its own port: `/metrics`, `/healthz`, `/readyz`
//! and any extra routes the component adds (e.g. `/debug/collectors`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;

use crate::Readiness;

/// The OpenMetrics content type Prometheus negotiates for.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Errors of the admin server.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The listen address could not be bound (in use, not permitted, …).
    #[error("could not bind the admin server to {addr}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed after start.
    #[error("admin server on {addr} failed")]
    Serve {
        /// The bound address.
        addr: SocketAddr,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The server task panicked or was cancelled.
    #[error("admin server task ended abnormally")]
    Task(#[source] tokio::task::JoinError),
}

/// A running admin server.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    task: JoinHandle<Result<(), AdminError>>,
}

impl AdminServer {
    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server has shut down.
    pub async fn stopped(self) -> Result<(), AdminError> {
        self.task.await.map_err(AdminError::Task)?
    }
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    readiness: Readiness,
}

/// The admin routes merged with the component's `extra` routes.
pub fn router(registry: Arc<Registry>, readiness: Readiness, extra: Router) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(AdminState {
            registry,
            readiness,
        })
        .merge(extra)
}

/// A controller's admin port: `/metrics` of `registry`, `/healthz` and `/readyz` on every
/// interface at `port`, until SIGTERM or SIGINT.
pub async fn serve_controller(
    port: u16,
    registry: Registry,
    readiness: Readiness,
) -> Result<AdminServer, AdminError> {
    serve(
        SocketAddr::from(([0, 0, 0, 0], port)),
        Arc::new(registry),
        readiness,
        Router::new(),
        crate::shutdown_signal(),
    )
    .await
}

/// Binds `addr`, serves the admin routes in a background task until `shutdown` resolves, and
/// returns once the socket is bound.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    readiness: Readiness,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<AdminServer, AdminError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| AdminError::Bind { addr, source })?;
    let app = router(registry, readiness, extra);
    let task = tokio::spawn(async move {
        tracing::info!(addr = %bound, "admin server listening");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| AdminError::Serve {
                addr: bound,
                source,
            })
    });
    Ok(AdminServer { addr: bound, task })
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed").into_response()
        }
    }
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use prometheus_client::metrics::counter::Counter;
    use tower::ServiceExt;

    async fn get_path(app: Router, path: &str) -> (StatusCode, Option<String>, String) {
        let req = axum::http::Request::get(path).body(Body::empty()).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, String::from_utf8(body.to_vec()).unwrap())
    }

    fn registry_with_counter() -> (Arc<Registry>, Counter) {
        let mut registry = Registry::with_prefix("tidal");
        let counter = Counter::default();
        registry.register("loops", "Control loop iterations", counter.clone());
        (Arc::new(registry), counter)
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_text_of_the_registry() {
        let (registry, counter) = registry_with_counter();
        counter.inc_by(3);
        let app = router(registry, Readiness::new(), Router::new());
        let (status, ctype, body) = get_path(app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype.as_deref(), Some(OPENMETRICS_CONTENT_TYPE));
        assert!(body.contains("tidal_loops_total 3"), "{body}");
        assert!(body.ends_with("# EOF\n"), "{body}");
    }

    #[tokio::test]
    async fn readyz_follows_readiness_and_healthz_is_always_ok() {
        let (registry, _) = registry_with_counter();
        let readiness = Readiness::new();
        let app = router(registry, readiness.clone(), Router::new());
        assert_eq!(
            get_path(app.clone(), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(get_path(app.clone(), "/healthz").await.0, StatusCode::OK);
        readiness.set_ready(true);
        assert_eq!(get_path(app.clone(), "/readyz").await.0, StatusCode::OK);
        readiness.set_ready(false);
        assert_eq!(
            get_path(app, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn extra_routes_are_served() {
        let (registry, _) = registry_with_counter();
        let extra = Router::new().route("/debug/collectors", get(|| async { "collectors" }));
        let app = router(registry, Readiness::new(), extra);
        let (status, _, body) = get_path(app, "/debug/collectors").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "collectors"));
    }

    #[tokio::test]
    async fn serves_on_a_bound_port_until_shutdown() {
        let (registry, _) = registry_with_counter();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let server = serve(
            addr,
            registry,
            Readiness::new(),
            Router::new(),
            async move {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
        let bound = server.local_addr();
        assert_ne!(bound.port(), 0);
        let resp = reqwest::get(format!("http://{bound}/healthz"))
            .await
            .unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::OK);

        stop.send(()).unwrap();
        server.stopped().await.unwrap();
        assert!(
            reqwest::get(format!("http://{bound}/healthz"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let (registry, _) = registry_with_counter();
        let err = serve(
            addr,
            registry,
            Readiness::new(),
            Router::new(),
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
