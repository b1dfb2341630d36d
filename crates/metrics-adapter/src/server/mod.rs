//! The TLS accept loop of the API port.
//!
//! A custom loop (tokio-rustls + hyper-util) rather than a ready-made server so that the verified
//! client certificate of each connection can be handed to every request on it as a
//! [`PeerCertificate`](crate::auth::PeerCertificate) extension, parsed once per connection, and
//! so that each connection's life can be ended on purpose ([`connection`]). HTTP/1.1 and HTTP/2
//! are both served (kube-apiserver's proxy may use either).
//!
//! Bounded by [`ConnectionLimits`] so that kube-apiserver always finds a slot: at most so many
//! open connections (further clients wait in the listen backlog until one closes, costing
//! neither a handshake nor memory), at most so many TLS handshakes at once (they are the
//! CPU-heavy part), and every connection ends: a handshake has 10 s, HTTP/1.1 request headers
//! 30 s, an idle connection is closed after the idle timeout, any connection is closed
//! gracefully (HTTP/2 GOAWAY, HTTP/1.1 `Connection: close`) at its maximum age, and a connection
//! without an acceptable client certificate right after its 401/403 answer.

mod connection;

pub use connection::CloseConnection;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use connection::Connection;

/// How much of the machine the API port may take, and how long a connection may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once (kube-apiserver needs a few per replica over HTTP/2).
    pub max_connections: usize,
    /// TLS handshakes in progress at once.
    pub max_handshakes: usize,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout: Duration,
    /// A connection is closed gracefully after about this long (between 90 % and 100 % of it,
    /// so that connections opened together do not all close together).
    pub max_age: Duration,
    /// How long requests in progress may take once a connection (or the server) is closing.
    pub close_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_handshakes: 16,
            // kube-apiserver's own idle timeout.
            idle_timeout: Duration::from_secs(90),
            max_age: Duration::from_secs(600),
            close_grace: Duration::from_secs(10),
        }
    }
}

/// Flags of the API port's connection lifetimes (`--max-connections` is a flag of its own).
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionFlags {
    /// Close API connections with no request in progress for this long (HTTP/1.1 and HTTP/2).
    #[arg(long, default_value = "90s", value_parser = humantime::parse_duration, env = "TIDAL_CONNECTION_IDLE_TIMEOUT")]
    pub connection_idle_timeout: Duration,
    /// Close API connections gracefully (GOAWAY / `Connection: close`) after about this long.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_MAX_CONNECTION_AGE")]
    pub max_connection_age: Duration,
}

/// Serves `router` over TLS on `listener` within `limits` until `shutdown` completes, then closes
/// every connection gracefully and waits for them (up to the close grace). Each new connection
/// uses the latest configuration in `tls`.
pub async fn serve_tls(
    listener: TcpListener,
    tls: watch::Receiver<Arc<ServerConfig>>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Slots::new(&limits);
    let (closing_tx, closing) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = slots.accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let Some((tcp, remote, permit)) = accepted else {
            continue;
        };
        let connection = Connection {
            router: router.clone(),
            limits,
            remote,
            closing: closing.clone(),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.borrow().clone());
        let handshakes = Arc::clone(&slots.handshakes);
        tokio::spawn(async move {
            let _slot = permit;
            connection.run(acceptor, &handshakes, tcp).await;
        });
    }
    drop(listener);
    closing_tx.send_replace(true);
    slots.wait_closed(limits.close_grace).await;
}

/// The connection and handshake budgets of the accept loop.
struct Slots {
    connections: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
    max_connections: u32,
    saturated: std::sync::atomic::AtomicBool,
}

impl Slots {
    fn new(limits: &ConnectionLimits) -> Self {
        let max_connections = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
        Self {
            connections: Arc::new(Semaphore::new(max_connections as usize)),
            handshakes: Arc::new(Semaphore::new(limits.max_handshakes.max(1))),
            max_connections,
            saturated: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Waits for room, then for a client: a waiting client costs nothing but a backlog slot.
    /// `None` when accepting failed (already logged and backed off).
    async fn accept(
        &self,
        listener: &TcpListener,
    ) -> Option<(TcpStream, std::net::SocketAddr, OwnedSemaphorePermit)> {
        use std::sync::atomic::Ordering;
        let full = self.connections.available_permits() == 0;
        if full && !self.saturated.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max_connections = self.max_connections,
                "connection limit reached; new clients wait until a connection closes"
            );
        } else if !full {
            self.saturated.store(false, Ordering::Relaxed);
        }
        // The semaphore is never closed, so acquiring only fails if it were.
        let permit = Arc::clone(&self.connections).acquire_owned().await.ok()?;
        match listener.accept().await {
            Ok((tcp, remote)) => {
                let _ = tcp.set_nodelay(true);
                Some((tcp, remote, permit))
            }
            Err(e) => {
                // Usually out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        }
    }

    /// Waits until every connection has returned its slot, at most `grace` (plus a moment for
    /// the connections' own grace to run out first).
    async fn wait_closed(&self, grace: Duration) {
        let all = self.connections.acquire_many(self.max_connections);
        if tokio::time::timeout(grace + Duration::from_secs(1), all)
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the shutdown grace period; closing them");
        }
    }
}
