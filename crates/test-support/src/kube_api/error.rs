//! Failures of the stand-in's API, each answered as a Kubernetes `Status` body with the code and
//! reason a real API server would use, so kube-rs clients see the same `kube::Error::Api`.

use serde_json::{Value, json};

/// Why a request to the stand-in (or a seeding call) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeApiError {
    /// 404: the object, or the path, does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409 AlreadyExists: create of a name that is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// 409 Conflict: the request's resourceVersion is not the object's current one.
    #[error("{0}")]
    Conflict(String),
    /// 400: a malformed body, query or selector, or a feature the stand-in does not have.
    #[error("{0}")]
    BadRequest(String),
    /// 422: the object lacks something it must have (e.g. a name).
    #[error("{0}")]
    Invalid(String),
    /// 405: the verb is not served on this path.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 415: a patch or body content type the stand-in does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 410: the requested resourceVersion is older than the kept change history.
    #[error("{0}")]
    Gone(String),
    /// 429: an eviction the test told the stand-in to refuse.
    #[error("{0}")]
    TooManyRequests(String),
}

impl KubeApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::AlreadyExists(_) | Self::Conflict(_) => 409,
            Self::BadRequest(_) => 400,
            Self::Invalid(_) => 422,
            Self::MethodNotAllowed(_) => 405,
            Self::UnsupportedMediaType(_) => 415,
            Self::Gone(_) => 410,
            Self::TooManyRequests(_) => 429,
        }
    }

    /// The Status `reason`, as the API server spells it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NotFound",
            Self::AlreadyExists(_) => "AlreadyExists",
            Self::Conflict(_) => "Conflict",
            Self::BadRequest(_) => "BadRequest",
            Self::Invalid(_) => "Invalid",
            Self::MethodNotAllowed(_) => "MethodNotAllowed",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::Gone(_) => "Expired",
            Self::TooManyRequests(_) => "TooManyRequests",
        }
    }

    /// The `Status` object a real API server would answer with.
    pub fn status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        })
    }
}

/// A `Status` of success (the answer to an eviction).
pub(crate) fn success_status(code: u16) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code })
}
