//! The TLS accept loop of the API port.
//!
//! A custom loop (tokio-rustls + hyper-util) rather than a ready-made server so that the verified
//! client certificate of each connection can be handed to every request on it as a
//! [`PeerCertificate`] extension, parsed once per connection. HTTP/1.1 and HTTP/2 are both served
//! (kube-apiserver's proxy may use either).
//!
//! Bounded by [`ConnectionLimits`]: at most so many open connections (further clients wait in
//! the listen backlog until one closes, costing neither a handshake nor memory) and at most so
//! many TLS handshakes at once (they are the CPU-heavy part), so a flood of connections cannot
//! starve the requests kube-apiserver is waiting for. Slow clients are cut off: a handshake has
//! 10 s, HTTP/1.1 request headers 30 s.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioTimer;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::auth::PeerCertificate;

/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections may take to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// An HTTP/1.1 client that has not sent a request's headers by then is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the machine the API port may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once (kube-apiserver needs a few per replica over HTTP/2).
    pub max_connections: usize,
    /// TLS handshakes in progress at once.
    pub max_handshakes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_handshakes: 16,
        }
    }
}

/// Serves `router` over TLS on `listener` within `limits` until `shutdown` completes, then lets
/// open connections finish (up to a grace period). Each new connection uses the latest
/// configuration in `tls`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: watch::Receiver<Arc<ServerConfig>>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let handshakes = Arc::new(Semaphore::new(limits.max_handshakes.max(1)));
    let mut saturated = false;
    loop {
        if connections.available_permits() == 0 && !saturated {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection limit reached; new clients wait until a connection closes"
            );
        }
        saturated = connections.available_permits() == 0;
        // Room first, then accept: a waiting client costs nothing but a backlog slot.
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Usually out of file descriptors: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(tls.borrow().clone());
        let router = router.clone();
        let watcher = graceful.watcher();
        let handshakes = Arc::clone(&handshakes);
        tokio::spawn(async move {
            let _connection = permit;
            let Some((stream, peer)) = handshake(&acceptor, &handshakes, tcp, remote).await else {
                return;
            };
            let service =
                hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                    if let Some(peer) = &peer {
                        request.extensions_mut().insert(peer.clone());
                    }
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// The TLS handshake, within the handshake limit; the timeout includes waiting for a slot.
async fn handshake(
    acceptor: &TlsAcceptor,
    slots: &Semaphore,
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
) -> Option<(
    tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    Option<PeerCertificate>,
)> {
    let limited = async {
        // The semaphore is never closed, so acquiring cannot fail.
        let _slot = slots.acquire().await;
        acceptor.accept(tcp).await
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, limited).await {
        Ok(Ok(stream)) => {
            let peer = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|leaf| PeerCertificate::from_der(leaf));
            Some((stream, peer))
        }
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            None
        }
    }
}
