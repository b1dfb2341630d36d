//! Errors of the metrics API, answered as Kubernetes `Status` objects (kind Status, apiVersion v1)
//! so that kube-apiserver, the HPA controller and kubectl show the message instead of a parse error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusDetails};

use crate::selector::SelectorError;

/// Why a metrics API request failed; each variant maps to one HTTP code and `Status.reason`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No fresh value matches the request (unknown metric, object or selector without matches).
    #[error("{message}")]
    NotFound {
        /// Human-readable description naming the metric and what it was asked for.
        message: String,
        /// The metric name (`details.name`).
        metric: String,
        /// The API group of the request (`details.group`).
        group: &'static str,
        /// The resource the metric was asked for (`details.kind`), e.g. `pods`.
        resource: String,
    },
    /// The path does not name an endpoint this server has.
    #[error("the server could not find the requested resource {path}")]
    NoRoute {
        /// The request path.
        path: String,
    },
    /// A selector in the query string is malformed.
    #[error("invalid {parameter}: {source}")]
    BadSelector {
        /// `labelSelector` or `metricLabelSelector`.
        parameter: &'static str,
        /// The parse error.
        #[source]
        source: SelectorError,
    },
    /// The query string is malformed in some other way.
    #[error("invalid query string: {0}")]
    BadQuery(String),
    /// The request did not authenticate (no client certificate, no user header).
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
    /// The client may not use this server (CN not allowed), or its user may not read this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Only GET is served.
    #[error("method {0} is not allowed: this API only serves get")]
    MethodNotAllowed(String),
    /// Whether the user may make the request could not be decided (never served instead).
    #[error("authorization check failed: {0}")]
    AuthorizationFailed(String),
}

impl ApiError {
    /// HTTP status code of this error.
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::BadSelector { .. } | ApiError::BadQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::AuthorizationFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `Status.reason` of this error, as kube-apiserver names it.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute { .. } => "NotFound",
            ApiError::BadSelector { .. } | ApiError::BadQuery(_) => "BadRequest",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::AuthorizationFailed(_) => "InternalError",
        }
    }

    /// The `Status` object describing this error.
    pub fn to_status(&self) -> Status {
        let details = match self {
            ApiError::NotFound {
                metric,
                group,
                resource,
                ..
            } => Some(StatusDetails {
                name: Some(metric.clone()),
                group: Some((*group).to_string()),
                kind: Some(resource.clone()),
                ..StatusDetails::default()
            }),
            _ => None,
        };
        Status {
            code: Some(i32::from(self.code().as_u16())),
            details,
            message: Some(self.to_string()),
            metadata: Default::default(),
            reason: Some(self.reason().to_string()),
            status: Some("Failure".to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.code(), &self.to_status())
    }
}

/// Serializes `body` as an `application/json` response with `code`.
pub fn json_response<T: serde::Serialize>(code: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (code, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        // Serializing plain data structs cannot fail; answer 500 rather than panic if it ever does.
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to encode response: {e}"),
        )
            .into_response(),
    }
}
