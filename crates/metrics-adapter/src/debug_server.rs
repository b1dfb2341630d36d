//! `/debug/collectors` on a listener of its own: every HPA's collectors, sources, last values
//! and errors across namespaces, so it is not on the admin port (which other pods, Prometheus
//! included, can reach). Off unless `--enable-debug-collectors`; then on `--debug-address`,
//! loopback by default (`kubectl port-forward` reaches it, other pods do not). Every string of
//! the body has URL credentials redacted, whatever the collectors put in it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::task::JoinHandle;

use crate::redact::redact_json;

/// Builds the `/debug/collectors` body at the moment of a request.
pub type DebugBody = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Why the debug server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} (--debug-address)")]
pub struct DebugBindError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// The running debug server.
#[derive(Debug)]
pub struct DebugServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// Ends after shutdown.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Binds `addr` and serves `/debug/collectors` there until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    body: DebugBody,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<DebugServer, DebugBindError> {
    let bind_error = |source| DebugBindError { addr, source };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "/debug/collectors is reachable from other hosts; it lists every namespace's HPAs");
    }
    tracing::info!(%addr, "/debug/collectors listening");
    let app = router(body);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(DebugServer { addr, task })
}

async fn debug_collectors(State(body): State<DebugBody>) -> axum::Json<serde_json::Value> {
    let mut body = body();
    redact_json(&mut body);
    axum::Json(body)
}

fn router(body: DebugBody) -> Router {
    Router::new()
        .route("/debug/collectors", get(debug_collectors))
        .with_state(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn serves_the_body_with_credentials_in_urls_redacted_until_shutdown() {
        let body: DebugBody = Arc::new(|| {
            serde_json::json!({"collectors": [
                {"source": "json-path https://scraper:hunter2@metrics.team-a:8443/stats"},
            ]})
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let server = serve("127.0.0.1:0".parse().unwrap(), body, shutdown)
            .await
            .unwrap();
        let url = format!("http://{}/debug/collectors", server.addr);
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["collectors"][0]["source"],
            "json-path https://***@metrics.team-a:8443/stats"
        );
        stop.send(()).unwrap();
        server.task.await.unwrap().unwrap();
        assert!(reqwest::get(&url).await.is_err());
    }

    #[tokio::test]
    async fn a_taken_address_is_named() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let body: DebugBody = Arc::new(|| serde_json::Value::Null);
        let err = serve(addr, body, std::future::pending()).await.unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
