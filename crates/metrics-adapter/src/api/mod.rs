//! The aggregated metrics API: discovery, custom.metrics.k8s.io (v1beta1, v1beta2) and
//! external.metrics.k8s.io (v1beta1), as kube-aggregator and the HPA controller call them.
//!
//! [`router`] builds the axum router with request metrics, front-proxy authentication and
//! delegated authorization;
//! [`crate::server`] serves it over TLS.

pub mod custom;
pub mod discovery;
pub mod external;
pub mod status;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, extract::Query};
use serde::Deserialize;
use tidal_core::Timestamp;

use crate::auth::{self, RequestHeaderAuth};
use crate::authorization::{self, Authorizer};
use crate::metrics::{ApiLabels, Metrics};
use crate::store::MetricStore;
use status::{ApiError, json_response};
use tidal_runtime::Clock;

/// API group of custom metrics.
pub const CUSTOM_GROUP: &str = "custom.metrics.k8s.io";
/// Served versions of custom metrics, preferred first.
pub const CUSTOM_VERSIONS: &[&str] = &["v1beta2", "v1beta1"];
/// API group of external metrics.
pub const EXTERNAL_GROUP: &str = "external.metrics.k8s.io";
/// Served versions of external metrics.
pub const EXTERNAL_VERSIONS: &[&str] = &["v1beta1"];

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The values to serve.
    pub store: MetricStore,
    /// Where request metrics go.
    pub metrics: Metrics,
    /// "Now" for TTL checks (wall clock in production).
    pub clock: Clock,
}

impl ApiState {
    /// The current time according to the state's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// The query parameters metric endpoints understand.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricParams {
    /// `labelSelector`: selects objects (name `*`) or external metric series.
    pub label_selector: Option<String>,
    /// `metricLabelSelector`: selects custom metric series by their labels.
    pub metric_label_selector: Option<String>,
}

/// A successful JSON answer.
#[derive(Debug)]
pub struct Reply(Response);

impl Reply {
    /// `200 OK` with `body` as JSON.
    pub fn json<T: serde::Serialize>(body: &T) -> Self {
        Reply(json_response(StatusCode::OK, body))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.0
    }
}

/// Formats a timestamp as Kubernetes does (`metav1.Time`: RFC 3339, whole seconds, UTC).
pub fn rfc3339(ts: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(ts.as_millis())
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn params(uri: &Uri) -> Result<MetricParams, ApiError> {
    if uri.query().is_none() {
        return Ok(MetricParams::default());
    }
    Query::<MetricParams>::try_from_uri(uri)
        .map(|Query(p)| p)
        .map_err(|e| ApiError::BadQuery(e.body_text()))
}

async fn custom_values(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    uri: Uri,
) -> Result<Reply, ApiError> {
    custom::handle(&state, &path, &params(&uri)?)
}

async fn external_values(
    State(state): State<ApiState>,
    Path(path): Path<String>,
    uri: Uri,
) -> Result<Reply, ApiError> {
    external::handle(&state, &path, &params(&uri)?)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute {
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(request.method().to_string())
}

/// Bounded group/version labels for a request path.
fn api_labels(path: &str) -> ApiLabels {
    let mut parts = path.trim_start_matches('/').split('/');
    let (apis, group, version) = (parts.next(), parts.next(), parts.next());
    let group = match (apis, group) {
        (Some("apis"), Some(CUSTOM_GROUP)) => CUSTOM_GROUP,
        (Some("apis"), Some(EXTERNAL_GROUP)) => EXTERNAL_GROUP,
        (Some("apis"), None) => "",
        _ => "other",
    };
    let version = match version {
        Some("v1beta1") => "v1beta1",
        Some("v1beta2") => "v1beta2",
        _ => "",
    };
    ApiLabels { group, version }
}

async fn record(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let labels = api_labels(request.uri().path());
    let start = Instant::now();
    let response = next.run(request).await;
    metrics.observe_request(labels, response.status().as_u16(), start.elapsed());
    response
}

/// The API router: discovery and metric endpoints behind front-proxy authentication and
/// delegated authorization, with request metrics recorded for every answer (rejections
/// included).
pub fn router(state: ApiState, auth: Arc<RequestHeaderAuth>, authorizer: Authorizer) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route(
            "/apis",
            get(|| async { Reply::json(&discovery::group_list()) }),
        )
        .route(
            "/apis/custom.metrics.k8s.io",
            get(|| async { Reply::json(&discovery::custom_group()) }),
        )
        .route("/apis/custom.metrics.k8s.io/{*path}", get(custom_values))
        .route(
            "/apis/external.metrics.k8s.io",
            get(|| async { Reply::json(&discovery::external_group()) }),
        )
        .route(
            "/apis/external.metrics.k8s.io/{*path}",
            get(external_values),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            authorizer,
            authorization::authorize,
        ))
        .layer(middleware::from_fn_with_state(auth, auth::authenticate))
        .layer(middleware::from_fn_with_state(metrics, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_labels_are_bounded() {
        let l = api_labels("/apis/custom.metrics.k8s.io/v1beta2/namespaces/a/pods/*/m");
        assert_eq!((l.group, l.version), (CUSTOM_GROUP, "v1beta2"));
        let l = api_labels("/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m");
        assert_eq!((l.group, l.version), (EXTERNAL_GROUP, "v1beta1"));
        let l = api_labels("/apis");
        assert_eq!((l.group, l.version), ("", ""));
        let l = api_labels("/apis/evil.example.com/v9");
        assert_eq!((l.group, l.version), ("other", ""));
    }

    #[test]
    fn timestamps_are_rfc3339_seconds_utc() {
        assert_eq!(
            rfc3339(Timestamp::from_millis(1_795_000_000_999)),
            "2026-11-18T11:06:40Z"
        );
    }
}
