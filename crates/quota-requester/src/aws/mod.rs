//! The AWS adapters: Service Quotas, Support and EC2, with one error mapping and one retry
//! policy (the SDK's standard retries, exponential backoff with jitter, on throttling and
//! transient errors).

mod ec2;
mod service_quotas;
mod support;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_servicequotas::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub use ec2::Ec2Catalog;
pub use service_quotas::ServiceQuotasClient;
pub use support::{CaseKind, SupportClient};

use crate::ports::{CallError, CallErrorKind};

/// How the clients retry throttled and transient failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retries {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Backoff before the first retry; it doubles (with jitter) up to 20 s.
    pub initial_backoff: Duration,
}

impl Retries {
    /// `config` with this retry policy.
    pub fn apply(&self, config: &SdkConfig) -> SdkConfig {
        let retry = RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff);
        config.to_builder().retry_config(retry).build()
    }
}

/// The kind of an AWS error code, across the three services.
fn kind_of(code: Option<&str>) -> CallErrorKind {
    match code.unwrap_or_default() {
        "TooManyRequestsException"
        | "ThrottlingException"
        | "Throttling"
        | "RequestLimitExceeded" => CallErrorKind::Throttled,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
            CallErrorKind::AccessDenied
        }
        "DependencyAccessDeniedException" => CallErrorKind::DependencyAccessDenied,
        "NoSuchResourceException" => CallErrorKind::NoSuchResource,
        "ResourceAlreadyExistsException" => CallErrorKind::AlreadyExists,
        "QuotaExceededException" | "CaseCreationLimitExceeded" => CallErrorKind::QuotaExceeded,
        _ => CallErrorKind::Other,
    }
}

/// Maps an SDK error of the call `action` about `target`.
fn call_error<E, R>(
    action: &'static str,
    target: impl Into<String>,
    err: SdkError<E, R>,
) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // AWS answered: its code and message say it all; otherwise the whole cause chain does.
    let message = match (err.code(), err.message()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    CallError {
        action,
        target: target.into(),
        kind: kind_of(err.code()),
        message,
        source: Some(Box::new(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_of_every_service_map_to_kinds() {
        let cases = [
            ("TooManyRequestsException", CallErrorKind::Throttled),
            ("RequestLimitExceeded", CallErrorKind::Throttled),
            ("AccessDeniedException", CallErrorKind::AccessDenied),
            ("UnauthorizedOperation", CallErrorKind::AccessDenied),
            (
                "DependencyAccessDeniedException",
                CallErrorKind::DependencyAccessDenied,
            ),
            ("NoSuchResourceException", CallErrorKind::NoSuchResource),
            (
                "ResourceAlreadyExistsException",
                CallErrorKind::AlreadyExists,
            ),
            ("QuotaExceededException", CallErrorKind::QuotaExceeded),
            ("CaseCreationLimitExceeded", CallErrorKind::QuotaExceeded),
            ("ServiceException", CallErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of(Some(code)), kind, "{code}");
        }
        assert_eq!(kind_of(None), CallErrorKind::Other);
    }
}
