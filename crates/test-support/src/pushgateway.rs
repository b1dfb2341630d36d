//! A stand-in for a Prometheus Pushgateway: records what is pushed (PUT or POST under
//! `/metrics/job/…`) so a test can read it back. Not a Pushgateway: it neither parses nor
//! serves the metrics. Binds 127.0.0.1 on an ephemeral port; stops when dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tidal_core::sync;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use tokio::sync::oneshot;

use crate::HarnessError;

/// One push as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// `PUT` or `POST`.
    pub method: String,
    /// The path, e.g. `/metrics/job/tidal-quota-requester/region/eu-west-1`.
    pub path: String,
    /// The Content-Type header.
    pub content_type: String,
    /// The body.
    pub body: String,
}

type Pushes = Arc<Mutex<Vec<Push>>>;

/// The Pushgateway stand-in; see the module doc.
pub struct Pushgateway {
    addr: SocketAddr,
    pushes: Pushes,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Pushgateway {
    /// Starts it on an ephemeral loopback port.
    pub async fn start() -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding the Pushgateway stand-in to 127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the Pushgateway stand-in's address", e))?;
        let pushes = Pushes::default();
        let app = Router::new().fallback(record).with_state(pushes.clone());
        let (shutdown, task) =
            crate::serve::serve_until_stopped("Pushgateway stand-in", listener, app);
        Ok(Self {
            addr,
            pushes,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every push so far, oldest first.
    pub fn pushes(&self) -> Vec<Push> {
        sync::lock(&self.pushes).clone()
    }
}

async fn record(
    State(pushes): State<Pushes>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let accepted =
        matches!(method, Method::PUT | Method::POST) && uri.path().starts_with("/metrics/job/");
    if !accepted {
        return StatusCode::NOT_FOUND;
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    sync::lock(&pushes).push(Push {
        method: method.to_string(),
        path: uri.path().to_owned(),
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    // The Pushgateway answers 200 to PUT and POST.
    StatusCode::OK
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}
