//! The conditions of a VPA, as upstream defines them, plus two of Tidal's own that name what
//! upstream leaves unsaid (metrics missing; OOM kills at `maxAllowed`).
//!
//! As upstream's recommender does, RecommendationProvided is always present; the others are
//! present only while true. A condition whose status is unchanged keeps its
//! `lastTransitionTime`.

use tidal_core::Timestamp;

use crate::crd::VerticalPodAutoscalerCondition;
use crate::kube::convert::time;

/// The condition types this recommender sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConditionKind {
    /// A recommendation is in the status (upstream).
    RecommendationProvided,
    /// Some container's history is short: wide bounds (upstream).
    LowConfidence,
    /// The target's selector matches no pod (upstream).
    NoPodsMatched,
    /// History is still being loaded (upstream).
    FetchingHistory,
    /// The VPA cannot be served as written (upstream).
    ConfigUnsupported,
    /// Usage metrics could not be read: the last recommendation is kept (Tidal).
    MetricsUnavailable,
    /// A container is OOM-killed and `maxAllowed.memory` keeps its recommendation below what
    /// it needs (Tidal).
    OOMCappedByMaxAllowed,
}

impl ConditionKind {
    /// The `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecommendationProvided => "RecommendationProvided",
            Self::LowConfidence => "LowConfidence",
            Self::NoPodsMatched => "NoPodsMatched",
            Self::FetchingHistory => "FetchingHistory",
            Self::ConfigUnsupported => "ConfigUnsupported",
            Self::MetricsUnavailable => "MetricsUnavailable",
            Self::OOMCappedByMaxAllowed => "OOMCappedByMaxAllowed",
        }
    }
}

/// A condition the loop wants set.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Which.
    pub kind: ConditionKind,
    /// True or False.
    pub status: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// For a person.
    pub message: String,
}

impl Condition {
    /// A condition that is true.
    pub fn yes(kind: ConditionKind, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: true,
            reason,
            message: message.into(),
        }
    }
}

/// The conditions to write: `wanted`, in a fixed order, keeping the transition times of
/// `previous` conditions whose status did not change.
pub fn conditions(
    previous: &[VerticalPodAutoscalerCondition],
    mut wanted: Vec<Condition>,
    now: Timestamp,
) -> Vec<VerticalPodAutoscalerCondition> {
    wanted.sort_by_key(|c| c.kind);
    wanted
        .into_iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let since = previous
                .iter()
                .find(|p| p.type_ == c.kind.as_str() && p.status == status)
                .and_then(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| time(now));
            VerticalPodAutoscalerCondition {
                type_: c.kind.as_str().to_owned(),
                status: status.to_owned(),
                last_transition_time: Some(since),
                reason: (!c.reason.is_empty()).then(|| c.reason.to_owned()),
                message: (!c.message.is_empty()).then_some(c.message),
            }
        })
        .collect()
}
