//! Whether to ask AWS for a larger quota, from its current value, its request history and `now`.
//!
//! The rules, in order (SPEC §6, issue 14):
//! 1. the quota already covers the need: nothing to do;
//! 2. a request is open (PENDING, CASE_OPENED, or a status this code does not know, which is
//!    treated as open so an AWS addition never makes it file twice): wait for it;
//! 3. a request APPROVED within the quiet period asked for at least the need: wait (AWS may
//!    not have applied it yet, or granted less; after the quiet period it is asked again);
//! 4. a request refused (DENIED, NOT_APPROVED, CASE_CLOSED, INVALID_REQUEST) within the quiet
//!    period: wait until the quiet period is over;
//! 5. otherwise file a request for the need rounded up to the step, which is always above the
//!    current value (AWS refuses requests below it).

use std::time::Duration;

use serde::Serialize;

use super::QuotaPolicy;
use crate::Timestamp;

/// Status of a quota increase request, as Service Quotas reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestStatus {
    /// Filed, not yet handled.
    Pending,
    /// AWS opened a support case for it.
    CaseOpened,
    /// Granted (possibly below the asked value).
    Approved,
    /// Refused.
    Denied,
    /// Not approved.
    NotApproved,
    /// The support case was closed without approval.
    CaseClosed,
    /// The request was invalid.
    InvalidRequest,
    /// A status unknown to this version; treated as open.
    Other(String),
}

impl RequestStatus {
    /// Parses the API's status string.
    pub fn parse(text: &str) -> RequestStatus {
        match text {
            "PENDING" => RequestStatus::Pending,
            "CASE_OPENED" => RequestStatus::CaseOpened,
            "APPROVED" => RequestStatus::Approved,
            "DENIED" => RequestStatus::Denied,
            "NOT_APPROVED" => RequestStatus::NotApproved,
            "CASE_CLOSED" => RequestStatus::CaseClosed,
            "INVALID_REQUEST" => RequestStatus::InvalidRequest,
            other => RequestStatus::Other(other.to_owned()),
        }
    }

    /// The API's status string.
    pub fn as_str(&self) -> &str {
        match self {
            RequestStatus::Pending => "PENDING",
            RequestStatus::CaseOpened => "CASE_OPENED",
            RequestStatus::Approved => "APPROVED",
            RequestStatus::Denied => "DENIED",
            RequestStatus::NotApproved => "NOT_APPROVED",
            RequestStatus::CaseClosed => "CASE_CLOSED",
            RequestStatus::InvalidRequest => "INVALID_REQUEST",
            RequestStatus::Other(s) => s,
        }
    }

    /// Still being handled: no new request may be filed.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            RequestStatus::Pending | RequestStatus::CaseOpened | RequestStatus::Other(_)
        )
    }

    /// Refused or closed without a grant.
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            RequestStatus::Denied
                | RequestStatus::NotApproved
                | RequestStatus::CaseClosed
                | RequestStatus::InvalidRequest
        )
    }
}

/// One increase request from the quota's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PastRequest {
    /// The request id.
    pub id: String,
    /// Its status.
    pub status: RequestStatus,
    /// The value it asked for.
    pub desired: f64,
    /// When it was filed.
    pub created: Timestamp,
    /// When its status last changed, if known.
    pub last_updated: Option<Timestamp>,
}

impl PastRequest {
    /// The last time anything happened to it.
    fn changed(&self) -> Timestamp {
        self.last_updated.unwrap_or(self.created).max(self.created)
    }
}

/// What to do about one quota.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Decision {
    /// The quota covers the need.
    Enough,
    /// A request is still open.
    Open {
        /// The open request.
        request: PastRequest,
    },
    /// A recently approved request asked for at least the need.
    Approved {
        /// The approved request.
        request: PastRequest,
        /// When the quiet period after it ends.
        until: Timestamp,
    },
    /// A request was refused recently.
    Quiet {
        /// The refused request.
        request: PastRequest,
        /// When the quiet period ends.
        until: Timestamp,
    },
    /// File a request for `desired` vCPUs.
    Request {
        /// The value to ask for: the need rounded up to the step, above the current value.
        desired: u64,
    },
}

/// Decides for one quota: `value` is its current value, `need` the pools' need with headroom,
/// `history` its increase requests in any order.
pub fn decide(
    value: f64,
    need: u64,
    history: &[PastRequest],
    policy: &QuotaPolicy,
    now: Timestamp,
) -> Decision {
    // The API gives floats; needs are whole vCPUs.
    let need_f = need as f64;
    if value >= need_f {
        return Decision::Enough;
    }
    if let Some(open) = latest(history.iter().filter(|r| r.status.is_open())) {
        return Decision::Open {
            request: open.clone(),
        };
    }
    let quiet = policy.quiet_period();
    let recent = |r: &&PastRequest| within(r.changed(), quiet, now);
    let approved = history
        .iter()
        .filter(|r| r.status == RequestStatus::Approved && r.desired >= need_f)
        .filter(recent);
    if let Some(approved) = latest(approved) {
        return Decision::Approved {
            request: approved.clone(),
            until: approved.changed() + quiet,
        };
    }
    if let Some(refused) = latest(
        history
            .iter()
            .filter(|r| r.status.is_refused())
            .filter(recent),
    ) {
        return Decision::Quiet {
            request: refused.clone(),
            until: refused.changed() + quiet,
        };
    }
    // Never below the current value: a fractional value is rounded up before the step.
    let above_value = value.max(0.0).floor() as u64 + 1;
    Decision::Request {
        desired: policy.round_up(need.max(above_value)),
    }
}

fn within(changed: Timestamp, quiet: Duration, now: Timestamp) -> bool {
    now < changed + quiet
}

fn latest<'a>(requests: impl Iterator<Item = &'a PastRequest>) -> Option<&'a PastRequest> {
    requests.max_by_key(|r| (r.changed(), r.created))
}
