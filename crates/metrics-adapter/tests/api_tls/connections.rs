//! Connection lifetimes: a client without an acceptable certificate is answered and cut off,
//! idle connections and old connections are closed (HTTP/1.1 and HTTP/2), so kube-apiserver
//! always finds a slot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tidal_metrics_adapter::server::ConnectionLimits;
use tidal_metrics_adapter::testing::{Access, Identity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::fixture::*;

/// Far longer than any close these tests wait for, far shorter than the defaults.
const WAIT: Duration = Duration::from_secs(5);
const HPA: &str = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";

fn limits(idle_timeout: Duration, max_age: Duration) -> Access<'static> {
    Access {
        limits: ConnectionLimits {
            idle_timeout,
            max_age,
            ..ConnectionLimits::default()
        },
        ..Access::new(&[PROXY_CN])
    }
}

/// Sends `request` over HTTP/1.1 on a fresh TLS connection presenting `identity`, then reads
/// until the server closes the connection; panics if it is still open after [`WAIT`].
async fn http1_until_closed(f: &Fixture, identity: Option<&Identity>, user: &str) -> String {
    let config = Arc::new(f.pki.client_config(identity).unwrap());
    let mut stream = tls_connect(config, f.server.addr).await.unwrap();
    let request = format!(
        "GET /apis/custom.metrics.k8s.io/v1beta2 HTTP/1.1\r\nHost: localhost\r\n\
         X-Remote-User: {user}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

/// An HTTP/2 connection presenting `identity`; the task ends when the connection does.
async fn http2(
    f: &Fixture,
    identity: Option<&Identity>,
) -> (SendRequest<Empty<Bytes>>, JoinHandle<hyper::Result<()>>) {
    let mut config = f.pki.client_config(identity).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let stream = tls_connect(Arc::new(config), f.server.addr).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    (sender, tokio::spawn(connection))
}

async fn try_http2_get(
    sender: &mut SendRequest<Empty<Bytes>>,
    user: Option<&str>,
) -> hyper::Result<u16> {
    let mut request = http::Request::get("https://localhost/apis/custom.metrics.k8s.io/v1beta2");
    if let Some(user) = user {
        request = request.header("X-Remote-User", user);
    }
    let response = sender
        .send_request(request.body(Empty::new()).unwrap())
        .await?;
    Ok(response.status().as_u16())
}

async fn http2_get(sender: &mut SendRequest<Empty<Bytes>>, user: Option<&str>) -> u16 {
    try_http2_get(sender, user).await.unwrap()
}

async fn closed_within(connection: JoinHandle<hyper::Result<()>>, wait: Duration) -> bool {
    tokio::time::timeout(wait, connection).await.is_ok()
}

#[tokio::test]
async fn http1_clients_without_an_acceptable_certificate_get_their_answer_and_are_cut_off() {
    let f = start().await;
    let answer = http1_until_closed(&f, None, "alice").await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(answer.contains("no client certificate"), "{answer}");
    let intruder = f.pki.front_proxy_client("intruder").unwrap();
    let answer = http1_until_closed(&f, Some(&intruder), "alice").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    f.server.stop().await;
}

#[tokio::test]
async fn http2_clients_without_a_certificate_get_their_answer_and_a_goaway() {
    let f = start().await;
    let (mut sender, connection) = http2(&f, None).await;
    assert_eq!(http2_get(&mut sender, Some("alice")).await, 401);
    assert!(
        closed_within(connection, WAIT).await,
        "the connection must end after the 401"
    );
    // The front proxy's connection survives a request that lacks the user header.
    let proxy = f.pki.front_proxy_client(PROXY_CN).unwrap();
    let (mut sender, connection) = http2(&f, Some(&proxy)).await;
    assert_eq!(http2_get(&mut sender, None).await, 401);
    assert_eq!(http2_get(&mut sender, Some(HPA)).await, 200);
    assert!(!connection.is_finished());
    f.server.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed_over_http1_and_http2() {
    let f = start_with(limits(Duration::from_millis(300), Duration::from_secs(600))).await;
    let proxy = f.pki.front_proxy_client(PROXY_CN).unwrap();
    // HTTP/1.1: answered, kept alive, then closed once idle.
    let answer = http1_until_closed(&f, Some(&proxy), HPA).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.contains("connection: close"), "{answer}");
    // HTTP/2: the same.
    let (mut sender, connection) = http2(&f, Some(&proxy)).await;
    assert_eq!(http2_get(&mut sender, Some(HPA)).await, 200);
    assert!(
        closed_within(connection, WAIT).await,
        "idle HTTP/2 connection kept"
    );
    f.server.stop().await;
}

#[tokio::test]
async fn busy_connections_are_closed_gracefully_at_their_maximum_age() {
    let max_age = Duration::from_secs(1);
    let f = start_with(limits(Duration::from_secs(600), max_age)).await;
    let proxy = f.pki.front_proxy_client(PROXY_CN).unwrap();
    let (mut sender, connection) = http2(&f, Some(&proxy)).await;
    let opened = Instant::now();
    let mut answered = 0;
    // A request every 100 ms: never idle, yet the server ends the connection with a GOAWAY
    // (a request sent after it is refused, for the client to retry on a new connection).
    while !connection.is_finished() && opened.elapsed() < WAIT {
        if sender.ready().await.is_err() {
            break;
        }
        match try_http2_get(&mut sender, Some(HPA)).await {
            Ok(code) => assert_eq!(code, 200),
            Err(_) => break,
        }
        answered += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed_within(connection, WAIT).await,
        "connection older than its maximum age"
    );
    let lived = opened.elapsed();
    assert!(
        lived >= max_age.mul_f64(0.9),
        "closed after {lived:?}, before its age"
    );
    assert!(answered >= 5, "{answered} requests answered");
    f.server.stop().await;
}
