//! AWS SDK errors as [`ActuatorError`]s: what AWS refuses is a refusal (the controller backs the
//! target off and keeps the size), a concurrent change is busy, anything else an API failure.

use aws_sdk_eks::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::ActuatorError;

/// Error codes (or their prefixes, e.g. `InvalidInstanceType.NotFound`) with which AWS refuses
/// a request as given: the same request would fail again.
const REFUSED: [&str; 8] = [
    "InvalidRequest",
    "InvalidParameter",
    "InvalidInstanceType",
    "Unsupported",
    "ValidationError",
    "InvalidLaunchTemplate",
    "InsufficientInstanceCapacity",
    "VcpuLimitExceeded",
];

/// Codes meaning another change is in progress.
const BUSY: [&str; 2] = ["ResourceInUseException", "ScalingActivityInProgress"];

/// Classifies an SDK error of `operation` (any AWS SDK crate: they share the error types).
pub fn classify<E, R>(operation: &'static str, e: SdkError<E, R>) -> ActuatorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_owned();
    let message = e.message().unwrap_or_default().to_owned();
    if REFUSED.iter().any(|r| code.starts_with(r)) {
        ActuatorError::Refused {
            reason: format!("{operation}: {code}: {message}"),
        }
    } else if BUSY.contains(&code.as_str()) {
        ActuatorError::Busy(format!("{operation}: {code}: {message}"))
    } else {
        ActuatorError::Api {
            operation,
            source: DisplayErrorContext(e).to_string().into(),
        }
    }
}
