//! One API connection from handshake to close.
//!
//! A connection is served until the client closes it or one of these ends it gracefully
//! (hyper's `graceful_shutdown`: HTTP/2 GOAWAY, HTTP/1.1 `Connection: close` after the answer in
//! progress), after which requests in progress get the close grace to finish:
//! - an answer carries [`CloseConnection`] (the client's certificate is not acceptable: every
//!   further request on the connection would be refused too, so its slot is freed at once);
//! - no request has been in progress for the idle timeout;
//! - the connection reached its maximum age (so long-lived clients rebalance and a slot held by
//!   a busy client comes free);
//! - the server shuts down.

use std::convert::Infallible;
use std::future::Future;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tower::ServiceExt;

use super::ConnectionLimits;
use crate::auth::PeerCertificate;

/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// An HTTP/1.1 client that has not sent a request's headers by then is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 PING interval: a peer that vanished without closing is noticed.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Response extension: close the connection this answer goes out on, once it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseConnection;

/// What a connection task needs besides its socket.
pub(super) struct Connection {
    pub router: Router,
    pub limits: ConnectionLimits,
    pub remote: SocketAddr,
    /// Turns true when the server shuts down.
    pub closing: watch::Receiver<bool>,
}

impl Connection {
    /// Handshakes (within the handshake limit), then serves requests until the connection ends.
    pub async fn run(self, acceptor: TlsAcceptor, handshakes: &Semaphore, tcp: TcpStream) {
        let Some((stream, peer)) = handshake(&acceptor, handshakes, tcp, self.remote).await else {
            return;
        };
        let activity = Activity::new();
        let close = Arc::new(Notify::new());
        let service = service(self.router.clone(), peer, activity.clone(), close.clone());
        let builder = http_builder();
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let mut conn = std::pin::pin!(conn);
        let reason = tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(remote = %self.remote, error = %e, "connection ended with an error");
                }
                return;
            }
            reason = self.close_reason(&activity, &close) => reason,
        };
        tracing::debug!(remote = %self.remote, reason, "closing connection");
        conn.as_mut().graceful_shutdown();
        match tokio::time::timeout(self.limits.close_grace, conn).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(remote = %self.remote, error = %e, "connection ended with an error")
            }
            Err(_) => {
                tracing::debug!(remote = %self.remote, "requests still in progress after the close grace; dropping the connection")
            }
        }
    }

    /// Resolves with why the connection should close, whichever comes first.
    async fn close_reason(&self, activity: &Activity, close: &Notify) -> &'static str {
        let mut closing = self.closing.clone();
        tokio::select! {
            () = close.notified() => "client certificate not acceptable",
            () = activity.idle_for(self.limits.idle_timeout) => "idle",
            () = tokio::time::sleep(jittered(self.limits.max_age)) => "maximum age",
            _ = closing.wait_for(|closing| *closing) => "server shutting down",
        }
    }
}

fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_KEEP_ALIVE);
    builder
}

/// The router as a hyper service: hands every request the connection's peer certificate, keeps
/// `activity` up to date and rings `close` when an answer asks for the connection to close.
fn service(
    router: Router,
    peer: Option<PeerCertificate>,
    activity: Activity,
    close: Arc<Notify>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send + 'static,
> + Clone
+ Send
+ 'static {
    hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        if let Some(peer) = &peer {
            request.extensions_mut().insert(peer.clone());
        }
        let busy = activity.begin();
        let close = Arc::clone(&close);
        let http1 = request.version() < http::Version::HTTP_2;
        let call = router.clone().oneshot(request.map(axum::body::Body::new));
        async move {
            let mut response = call.await;
            if let Ok(answer) = &mut response
                && answer.extensions().get::<CloseConnection>().is_some()
            {
                if http1 {
                    // Tell the client before it tries to reuse the connection (HTTP/2 has GOAWAY).
                    answer.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                close.notify_one();
            }
            drop(busy);
            response
        }
    })
}

/// A little under `max_age` (90 % to 100 % of it), different for each connection.
fn jittered(max_age: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    let tenth_permille = (random % 1000) as f64;
    max_age.mul_f64(1.0 - tenth_permille / 10_000.0)
}

/// How many requests of a connection are in progress, and since when none is.
#[derive(Clone)]
struct Activity(Arc<watch::Sender<Busy>>);

#[derive(Clone, Copy)]
struct Busy {
    in_flight: usize,
    since: Instant,
}

/// One request in progress; counted until dropped.
struct InFlight(Activity);

impl Activity {
    fn new() -> Self {
        let (tx, _) = watch::channel(Busy {
            in_flight: 0,
            since: Instant::now(),
        });
        Self(Arc::new(tx))
    }

    fn begin(&self) -> InFlight {
        self.0.send_modify(|b| b.in_flight += 1);
        InFlight(self.clone())
    }

    /// Resolves once no request has been in progress for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        let mut rx = self.0.subscribe();
        loop {
            let busy = *rx.borrow_and_update();
            if busy.in_flight == 0 {
                tokio::select! {
                    () = tokio::time::sleep_until(busy.since + timeout) => return,
                    _ = rx.changed() => {}
                }
            } else if rx.changed().await.is_err() {
                // `self` holds the sender, so this cannot happen; never call an unknown state idle.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.0.send_modify(|b| {
            b.in_flight = b.in_flight.saturating_sub(1);
            b.since = Instant::now();
        });
    }
}

/// The TLS handshake, within the handshake limit; the timeout includes waiting for a slot.
async fn handshake(
    acceptor: &TlsAcceptor,
    slots: &Semaphore,
    tcp: TcpStream,
    remote: SocketAddr,
) -> Option<(TlsStream<TcpStream>, Option<PeerCertificate>)> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_means_no_request_in_progress_for_the_whole_timeout() {
        let activity = Activity::new();
        let timeout = Duration::from_secs(90);
        let idle = activity.idle_for(timeout);
        tokio::pin!(idle);
        let busy = activity.begin();
        // A request in progress for longer than the timeout keeps the connection.
        assert!(
            tokio::time::timeout(timeout * 2, idle.as_mut())
                .await
                .is_err()
        );
        drop(busy);
        // The timeout counts from the end of the last request.
        assert!(
            tokio::time::timeout(timeout - Duration::from_secs(1), idle.as_mut())
                .await
                .is_err()
        );
        tokio::time::timeout(Duration::from_secs(2), idle)
            .await
            .expect("idle once the timeout passed without requests");
    }

    #[test]
    fn jittered_ages_stay_within_the_last_tenth() {
        let max = Duration::from_secs(600);
        for _ in 0..100 {
            let age = jittered(max);
            assert!(age <= max && age >= max.mul_f64(0.9), "{age:?}");
        }
    }
}
