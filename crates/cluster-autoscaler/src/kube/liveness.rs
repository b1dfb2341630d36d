//! Silent stalls: the autoscaler's Kubernetes client and how it tells a hung watch from a quiet one.
//!
//! A hung watch or a half-open connection is not an error: the reflector store just stops
//! changing and looks fresh. Three things make such a stall visible:
//! - every watch asks the server to end it after [`WATCH_TIMEOUT_SECS`] and asks for bookmarks,
//!   so a working watch sends something (an event, a bookmark before its deadline, or its end
//!   followed by a new watch) at least that often;
//! - [`HearWatches`], a layer of the client, notes every frame a watch response delivers, per
//!   kind ([`WatchHealth::heard`]); a kind silent longer than [`SILENCE_LIMIT`] is stale, and
//!   its store's age counts from the last frame heard;
//! - the client has a read timeout ([`READ_TIMEOUT`], longer than a watch may be quiet), so a
//!   request on a dead connection fails instead of waiting forever.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use kube::client::{Body, ClientBuilder, DynBody};
use tidal_runtime::Clock;
use tower::{Layer, Service};

use super::health::{WatchHealth, WatchedKind};

/// `timeoutSeconds` of every watch: the server ends it after this and the watcher starts a new one.
pub const WATCH_TIMEOUT_SECS: u32 = 60;
/// A watch that delivered nothing for this long is stale (its timeout plus a margin for the
/// new watch to start).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);
/// Read timeout of the client: longer than a working watch is ever silent.
pub const READ_TIMEOUT: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 15);

/// Errors building the client.
pub type ClientError = kube::Error;

/// The autoscaler's client for `config`: no automatic retries (the loop is the retry), the read
/// timeout, and watch frames reported to `health` (stamped by `clock`).
pub fn client(
    mut config: kube::Config,
    health: Arc<WatchHealth>,
    clock: Clock,
) -> Result<kube::Client, ClientError> {
    config.default_retry = false;
    config.read_timeout = Some(READ_TIMEOUT);
    // The timeout counts from each request, not from when a pooled connection went idle.
    config.reset_reader_on_write = true;
    let builder = ClientBuilder::try_from(config)?;
    Ok(builder.with_layer(&HearWatches { health, clock }).build())
}

/// The watched kind a request watches, if it is a watch of one of them.
fn watched_kind(request: &Request<Body>) -> Option<WatchedKind> {
    let query = request.uri().query().unwrap_or_default();
    let is_watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    if !is_watch {
        return None;
    }
    let resource = request.uri().path().rsplit('/').next()?;
    WatchedKind::ALL.into_iter().find(|k| k.name() == resource)
}

/// Layer that reports every frame of a watch response to [`WatchHealth::heard`].
#[derive(Clone)]
pub struct HearWatches {
    health: Arc<WatchHealth>,
    clock: Clock,
}

impl<S> Layer<S> for HearWatches {
    type Service = HearWatchesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HearWatchesService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`HearWatches`] makes.
#[derive(Clone)]
pub struct HearWatchesService<S> {
    inner: S,
    layer: HearWatches,
}

type WatchedBody = UnsyncBoxBody<bytes::Bytes, tower::BoxError>;

impl<S> Service<Request<Body>> for HearWatchesService<S>
where
    S: Service<Request<Body>, Response = Response<Box<DynBody>>>,
    S::Future: Send + 'static,
{
    type Response = Response<WatchedBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let kind = watched_kind(&request);
        let layer = self.layer.clone();
        self.inner
            .call(request)
            .map(move |result| {
                result.map(|response| {
                    response.map(|body| match kind {
                        Some(kind) => body
                            .map_frame(move |frame| {
                                layer.health.heard(kind, layer.clock.now());
                                frame
                            })
                            .boxed_unsync(),
                        None => body.boxed_unsync(),
                    })
                })
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn request(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    #[test]
    fn only_watches_of_watched_kinds_are_heard() {
        let watch = |uri| watched_kind(&request(uri));
        assert_eq!(
            watch("/api/v1/pods?watch=true&timeoutSeconds=60"),
            Some(WatchedKind::Pods)
        );
        assert_eq!(
            watch("/apis/policy/v1/poddisruptionbudgets?allowWatchBookmarks=true&watch=true"),
            Some(WatchedKind::PodDisruptionBudgets)
        );
        assert_eq!(watch("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1"), None);
        assert_eq!(watch("/api/v1/configmaps?watch=true"), None);
    }
}
