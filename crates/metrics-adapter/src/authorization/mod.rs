//! Delegated authorization: may the user kube-apiserver authenticated read what the request
//! asks for? Asked of kube-apiserver with a SubjectAccessReview, as metrics-server and the
//! custom-metrics-apiserver library do, so RBAC decides who reads which metrics.
//!
//! - Runs after authentication ([`crate::auth`]), with the [`RemoteUser`] it attached.
//! - The question: user, groups and extra, and the request's [`Action`] (verb, API group,
//!   version, resource, subresource, namespace, name; or a non-resource path).
//! - Answers are cached ([`cache`]): allowed for 5 minutes, denied for 30 seconds, at most 8192.
//! - A failed or timed-out review is an error answer (500), never an allow; it is not cached.
//! - Paths in the always-allow list (health, discovery) skip the review; a trailing `*` matches
//!   any rest of the path.
//! - Only reads are authorized: any other method is answered 404/405 by the router without
//!   touching a value, so it costs no review.
//! - `--disable-authorization` serves every authenticated request (the previous behaviour).

pub mod attributes;
pub mod cache;
pub mod subject_access_review;

pub use attributes::{AccessRequest, Action};
pub use cache::CacheSettings;
pub use subject_access_review::KubeAccessReview;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tidal_core::sync;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tidal_runtime::Clock;

use crate::api::status::ApiError;
use crate::auth::RemoteUser;
use cache::DecisionCache;

/// A review that has not answered by then is a failure.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

/// Paths served without a review by default: health checks and the discovery documents
/// kube-aggregator and kubectl read (kube-apiserver lets every authenticated user read those).
pub const DEFAULT_ALWAYS_ALLOW_PATHS: &str = "/healthz,/readyz,/livez,/apis,\
/apis/custom.metrics.k8s.io,/apis/custom.metrics.k8s.io/v1beta1,/apis/custom.metrics.k8s.io/v1beta2,\
/apis/external.metrics.k8s.io,/apis/external.metrics.k8s.io/v1beta1";

/// The answer to an [`AccessRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The user may.
    Allowed,
    /// The user may not (or no authorizer had an opinion).
    Denied {
        /// Why, as the authorizer put it; may be empty.
        reason: String,
    },
}

/// Why a review gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The call failed (network, API error, malformed answer).
    #[error("SubjectAccessReview failed: {0}")]
    Failed(String),
    /// No answer within the review timeout.
    #[error("SubjectAccessReview did not answer within {0:?}")]
    Timeout(Duration),
}

impl ReviewError {
    /// A bounded label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            ReviewError::Failed(_) => "failed",
            ReviewError::Timeout(_) => "timeout",
        }
    }
}

/// The port: answers one access question (kube-apiserver in production, a fake in tests).
pub trait AccessReview: Send + Sync {
    /// Answers `request`.
    fn review<'a>(
        &'a self,
        request: &'a AccessRequest,
    ) -> BoxFuture<'a, Result<Decision, ReviewError>>;
}

/// Flags of delegated authorization.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthorizationFlags {
    /// Serve every authenticated request without asking kube-apiserver (SubjectAccessReview)
    /// whether its user may read it.
    #[arg(long, env = "TIDAL_DISABLE_AUTHORIZATION")]
    pub disable_authorization: bool,
    /// Paths any authenticated user may read without a review (comma-separated; a trailing
    /// `*` matches any rest of the path; an empty value allows none).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_ALWAYS_ALLOW_PATHS, env = "TIDAL_AUTHORIZATION_ALWAYS_ALLOW_PATHS")]
    pub authorization_always_allow_paths: Vec<String>,
    /// How long an allowed review is reused.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, env = "TIDAL_AUTHORIZATION_CACHE_ALLOWED_TTL")]
    pub authorization_cache_allowed_ttl: Duration,
    /// How long a denied review is reused.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "TIDAL_AUTHORIZATION_CACHE_DENIED_TTL")]
    pub authorization_cache_denied_ttl: Duration,
}

impl AuthorizationFlags {
    /// The always-allow paths, checked: each starts with `/` and has `*` only at its end.
    pub fn always_allow(&self) -> Result<AlwaysAllow, String> {
        let paths: Vec<String> = self
            .authorization_always_allow_paths
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        for path in &paths {
            let star = path.find('*');
            if !path.starts_with('/') || star.is_some_and(|i| i + 1 != path.len()) {
                return Err(format!(
                    "{path:?} must start with '/' and may have '*' only at its end"
                ));
            }
        }
        Ok(AlwaysAllow(paths))
    }

    /// The cache settings these flags give.
    pub fn cache(&self) -> CacheSettings {
        CacheSettings {
            allowed_ttl: self.authorization_cache_allowed_ttl,
            denied_ttl: self.authorization_cache_denied_ttl,
            ..CacheSettings::default()
        }
    }
}

/// Paths served without a review.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlwaysAllow(Vec<String>);

impl AlwaysAllow {
    /// Exactly these paths (a trailing `*` is a prefix match).
    pub fn new(paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(paths.into_iter().map(Into::into).collect())
    }

    fn contains(&self, path: &str) -> bool {
        self.0
            .iter()
            .any(|allowed| match allowed.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == allowed,
            })
    }
}

/// Decides whether requests may proceed; cheap to clone.
#[derive(Clone)]
pub struct Authorizer(Option<Arc<Delegated>>);

struct Delegated {
    reviewer: Arc<dyn AccessReview>,
    cache: Mutex<DecisionCache>,
    always_allow: AlwaysAllow,
    clock: Clock,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Authorizer(disabled)"),
            Some(d) => f
                .debug_struct("Authorizer")
                .field("always_allow", &d.always_allow)
                .finish_non_exhaustive(),
        }
    }
}

impl Authorizer {
    /// Allows every authenticated request.
    pub fn disabled() -> Self {
        Self(None)
    }

    /// Asks `reviewer`, caching answers by `cache` on `clock`, except for `always_allow` paths.
    pub fn delegated(
        reviewer: Arc<dyn AccessReview>,
        always_allow: AlwaysAllow,
        cache: CacheSettings,
        clock: Clock,
    ) -> Self {
        Self(Some(Arc::new(Delegated {
            reviewer,
            cache: Mutex::new(DecisionCache::new(cache)),
            always_allow,
            clock,
        })))
    }

    /// Decides whether `user` may `method` `path`.
    pub async fn check(
        &self,
        user: Option<&RemoteUser>,
        method: &Method,
        path: &str,
    ) -> Result<(), ApiError> {
        let Some(delegated) = &self.0 else {
            return Ok(());
        };
        if !matches!(*method, Method::GET | Method::HEAD) || delegated.always_allow.contains(path) {
            return Ok(());
        }
        let user = user.ok_or_else(|| ApiError::Unauthorized("no authenticated user".into()))?;
        let request = AccessRequest::read(user, path);
        match delegated.decide(&request).await {
            Ok(Decision::Allowed) => Ok(()),
            Ok(Decision::Denied { reason }) => Err(forbidden(&request, &reason)),
            Err(e) => {
                tracing::warn!(error = %e, user = %request.user, path, "authorization failed");
                Err(ApiError::AuthorizationFailed(e.to_string()))
            }
        }
    }
}

impl Delegated {
    async fn decide(&self, request: &AccessRequest) -> Result<Decision, ReviewError> {
        let cached = self.lock_cache().get(request, self.clock.now());
        if let Some(decision) = cached {
            return Ok(decision);
        }
        let decision = tokio::time::timeout(REVIEW_TIMEOUT, self.reviewer.review(request))
            .await
            .map_err(|_| ReviewError::Timeout(REVIEW_TIMEOUT))??;
        self.lock_cache()
            .put(request.clone(), decision.clone(), self.clock.now());
        Ok(decision)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, DecisionCache> {
        // Every holder leaves the map consistent between statements.
        sync::lock(&self.cache)
    }
}

fn forbidden(request: &AccessRequest, reason: &str) -> ApiError {
    let mut message = format!(
        "User {:?} cannot {}",
        request.user,
        request.action.describe()
    );
    if !reason.is_empty() {
        message.push_str(": ");
        message.push_str(reason);
    }
    ApiError::Forbidden(message)
}

/// axum middleware: answers 403 (denied) or 500 (no answer) with a `Status` body, or passes the
/// request on. Goes inside [`crate::auth::authenticate`].
pub async fn authorize(
    State(authorizer): State<Authorizer>,
    request: Request,
    next: Next,
) -> Response {
    let user = request.extensions().get::<RemoteUser>();
    match authorizer
        .check(user, request.method(), request.uri().path())
        .await
    {
        Ok(()) => next.run(request).await,
        Err(e) => {
            tracing::debug!(error = %e, path = %request.uri().path(), "request not authorized");
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests;
