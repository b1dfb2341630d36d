//! The ports: how the requester observes quotas and instance types and files requests.
//!
//! Adapters: AWS Service Quotas, Support and EC2 ([`crate::aws`]). Tests run the same adapters
//! against moto and the Service Quotas stand-in on loopback.

use std::collections::BTreeMap;
use std::fmt;

use tidal_core::quota::{Ec2Quota, PastRequest};

/// A boxed error cause from an adapter (the AWS SDK).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure a call met: what the requester does next depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallErrorKind {
    /// Throttled, still after the client's retries with backoff.
    Throttled,
    /// The caller lacks the IAM permission for the action.
    AccessDenied,
    /// A permission Service Quotas depends on is missing (e.g. to open a support case).
    DependencyAccessDenied,
    /// The quota (or its applied value) does not exist.
    NoSuchResource,
    /// A request for this quota is already open.
    AlreadyExists,
    /// Too many open requests (Service Quotas' own limit).
    QuotaExceeded,
    /// Any other failure (network, server error, validation).
    Other,
}

impl CallErrorKind {
    /// A bounded label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            CallErrorKind::Throttled => "throttled",
            CallErrorKind::AccessDenied => "access_denied",
            CallErrorKind::DependencyAccessDenied => "dependency_access_denied",
            CallErrorKind::NoSuchResource => "no_such_resource",
            CallErrorKind::AlreadyExists => "already_exists",
            CallErrorKind::QuotaExceeded => "quota_exceeded",
            CallErrorKind::Other => "other",
        }
    }
}

/// A failed call, naming the IAM action it needs (`servicequotas:GetServiceQuota`) and what
/// it was about.
#[derive(Debug, thiserror::Error)]
pub struct CallError {
    /// The IAM action of the call, e.g. `servicequotas:RequestServiceQuotaIncrease`.
    pub action: &'static str,
    /// What it was about, e.g. `ec2/L-1216C47A`.
    pub target: String,
    /// The kind of failure.
    pub kind: CallErrorKind,
    /// AWS's error code and message, or the transport failure.
    pub message: String,
    /// The SDK error.
    #[source]
    pub source: Option<BoxError>,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, target, message) = (self.action, &self.target, &self.message);
        match self.kind {
            CallErrorKind::AccessDenied => write!(
                f,
                "missing permission {action} (for {target}): grant it to the job's IAM role ({message})"
            ),
            CallErrorKind::DependencyAccessDenied => write!(
                f,
                "{action} for {target}: a permission Service Quotas needs on the caller's behalf \
                 is missing (support:CreateCase to open a case, iam:CreateServiceLinkedRole for \
                 its role) ({message})"
            ),
            CallErrorKind::Throttled => write!(
                f,
                "{action} for {target}: AWS kept throttling after the retries with backoff; \
                 the next run will try again ({message})"
            ),
            _ => write!(f, "{action} for {target} failed: {message}"),
        }
    }
}

/// Where a quota's current value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueSource {
    /// The account's applied value (`GetServiceQuota`).
    Applied,
    /// AWS's default, the account never having changed it (`ListAWSDefaultServiceQuotas`).
    Default,
}

/// A request just filed.
#[derive(Clone, Debug, PartialEq)]
pub struct FiledRequest {
    /// Request id.
    pub id: String,
    /// Its status right after filing (usually PENDING).
    pub status: String,
}

/// EC2 quotas through Service Quotas, in one region.
#[allow(async_fn_in_trait)]
pub trait QuotaService {
    /// The quota's applied value (`GetServiceQuota`).
    async fn applied_value(&self, quota: Ec2Quota) -> Result<f64, CallError>;
    /// AWS's default values of every EC2 quota, by quota code (`ListAWSDefaultServiceQuotas`).
    async fn default_values(&self) -> Result<BTreeMap<String, f64>, CallError>;
    /// The quota's increase requests, open and past
    /// (`ListRequestedServiceQuotaChangeHistoryByQuota`).
    async fn history(&self, quota: Ec2Quota) -> Result<Vec<PastRequest>, CallError>;
    /// Files an increase request to `desired` (`RequestServiceQuotaIncrease`).
    async fn request_increase(
        &self,
        quota: Ec2Quota,
        desired: u64,
    ) -> Result<FiledRequest, CallError>;
}

/// vCPUs of EC2 instance types in the region.
#[allow(async_fn_in_trait)]
pub trait InstanceCatalog {
    /// vCPUs of each of `types` (EC2 `DescribeInstanceTypes`); types EC2 does not know are
    /// absent or an error.
    async fn vcpus(&self, types: &[String]) -> Result<BTreeMap<String, u32>, CallError>;
}

/// AWS Support cases: the older route where Service Quotas cannot be used.
#[allow(async_fn_in_trait)]
pub trait SupportCases {
    /// The id of an unresolved case whose subject starts with `subject_prefix`, if any
    /// (`DescribeCases`).
    async fn open_case(&self, subject_prefix: &str) -> Result<Option<String>, CallError>;
    /// Opens a limit-increase case (`CreateCase`), returning its id.
    async fn create_case(&self, subject: &str, body: &str) -> Result<String, CallError>;
}
