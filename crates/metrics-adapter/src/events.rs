//! Warning Events on HPAs: config errors once per change of the HPA, collection failures once
//! per new kind of failure (not every loop), published through kube's event [`Recorder`].

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tidal_core::Timestamp;
use tokio::sync::mpsc;

use crate::config::limits::Clamped;
use crate::config::{HpaKey, MetricConfigError};
use crate::redact::redacted;

/// Reason of the Event for metrics whose config is wrong.
pub const REASON_CONFIG: &str = "InvalidMetricConfig";
/// Reason of the Event for config values out of bounds that were clamped.
pub const REASON_ADJUSTED: &str = "MetricConfigAdjusted";
/// Reason of the Event for a metric whose collection fails.
pub const REASON_COLLECTION: &str = "MetricCollectionFailed";
/// Event notes are limited to 1 kB by the API.
const MAX_NOTE_BYTES: usize = 1000;

/// A Warning Event to publish on an HPA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The HPA.
    pub hpa: HpaKey,
    /// The HPA's uid, so `kubectl describe hpa` finds the Event.
    pub uid: Option<String>,
    /// Short CamelCase reason.
    pub reason: &'static str,
    /// Human-readable message.
    pub note: String,
}

/// Where warnings go. Must not block: the caller holds locks.
pub trait EventSink: Send + Sync {
    /// Queues one warning for publication.
    fn warn(&self, warning: Warning);
}

/// Drops warnings.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct NoEvents;

#[cfg(test)]
impl EventSink for NoEvents {
    fn warn(&self, _warning: Warning) {}
}

/// One warning for every config error of an HPA, or `None` when there are none.
pub fn config_warning(
    hpa: &HpaKey,
    uid: Option<String>,
    errors: &[MetricConfigError],
) -> Option<Warning> {
    if errors.is_empty() {
        return None;
    }
    let details: Vec<String> = errors.iter().map(|e| e.error.to_string()).collect();
    let note = format!(
        "{} metric config problem(s); those metrics are not collected, others are: {}",
        errors.len(),
        details.join("; ")
    );
    Some(Warning {
        hpa: hpa.clone(),
        uid,
        reason: REASON_CONFIG,
        note: event_note(note),
    })
}

/// One warning naming every clamped value of an HPA, or `None` when nothing was clamped.
pub fn adjusted_warning(
    hpa: &HpaKey,
    uid: Option<String>,
    adjusted: &[Clamped],
) -> Option<Warning> {
    if adjusted.is_empty() {
        return None;
    }
    let details: Vec<String> = adjusted.iter().map(Clamped::to_string).collect();
    Some(Warning {
        hpa: hpa.clone(),
        uid,
        reason: REASON_ADJUSTED,
        note: event_note(format!(
            "{} value(s) out of bounds were clamped; collection uses the bound: {}",
            adjusted.len(),
            details.join("; ")
        )),
    })
}

/// `note` as an Event shows it: URL credentials redacted (the HPA's author reads its Events),
/// then shortened to the 1 kB the Events API accepts, on a character boundary.
pub fn event_note(note: String) -> String {
    let mut note = redacted(note);
    if note.len() > MAX_NOTE_BYTES {
        let mut end = MAX_NOTE_BYTES - 3;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    note
}

/// Remembers which version of each HPA was warned about, so a re-list of unchanged HPAs (watch
/// restart) does not warn again. A version is a fingerprint of the HPA's metrics and
/// annotations.
#[derive(Debug, Default)]
pub struct ConfigWarnings {
    warned: HashMap<HpaKey, u64>,
}

impl ConfigWarnings {
    /// True when `hpa` at `fingerprint` has errors and was not warned about at that version.
    pub fn should_warn(&mut self, hpa: &HpaKey, fingerprint: u64, has_errors: bool) -> bool {
        if !has_errors {
            self.warned.remove(hpa);
            return false;
        }
        self.warned.insert(hpa.clone(), fingerprint) != Some(fingerprint)
    }

    /// Forgets a deleted HPA.
    pub fn forget(&mut self, hpa: &HpaKey) {
        self.warned.remove(hpa);
    }
}

/// After a collector recovers, a new failure warns again only after this long, so a flapping
/// backend does not produce an Event per loop.
pub const FAILURE_REWARN_AFTER: Duration = Duration::from_secs(600);

/// Per-collector state of failure warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureWarnState {
    /// Reason of the failure streak already warned about (cleared on success).
    pub warned_reason: Option<&'static str>,
    /// When the last warning was published.
    pub last_warned: Option<Timestamp>,
}

impl FailureWarnState {
    /// Whether a failure with `reason` at `now` deserves a warning; updates the state if so.
    /// Warns on the first failure of a streak and when the reason changes, never twice for the
    /// same streak and reason, and not again within [`FAILURE_REWARN_AFTER`] of the last one.
    pub fn on_failure(&mut self, reason: &'static str, now: Timestamp) -> bool {
        if self.warned_reason == Some(reason) {
            return false;
        }
        let recent = self
            .last_warned
            .is_some_and(|t| now.since(t) < FAILURE_REWARN_AFTER);
        if self.warned_reason.is_none() && recent {
            // A new streak right after the last warning: a flapping backend.
            self.warned_reason = Some(reason);
            return false;
        }
        self.warned_reason = Some(reason);
        self.last_warned = Some(now);
        true
    }

    /// A success ends the failure streak.
    pub fn on_success(&mut self) {
        self.warned_reason = None;
    }
}

/// [`EventSink`] feeding a bounded queue that [`run_event_publisher`] drains.
#[derive(Clone, Debug)]
pub struct QueuedEvents {
    tx: mpsc::Sender<Warning>,
}

impl QueuedEvents {
    /// A sink and the receiver for [`run_event_publisher`].
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Warning>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx }, rx)
    }
}

impl EventSink for QueuedEvents {
    fn warn(&self, warning: Warning) {
        if let Err(e) = self.tx.try_send(warning) {
            tracing::warn!(error = %e, "event queue full or closed; warning dropped");
        }
    }
}

/// The object reference of an HPA for Events.
pub fn hpa_reference(hpa: &HpaKey, uid: Option<String>) -> ObjectReference {
    ObjectReference {
        api_version: Some("autoscaling/v2".to_string()),
        kind: Some("HorizontalPodAutoscaler".to_string()),
        namespace: Some(hpa.namespace.clone()),
        name: Some(hpa.name.clone()),
        uid,
        ..ObjectReference::default()
    }
}

/// Publishes queued warnings as Events until `shutdown` resolves or the queue closes.
pub async fn run_event_publisher(
    client: kube::Client,
    mut rx: mpsc::Receiver<Warning>,
    shutdown: impl Future<Output = ()>,
) {
    let recorder = Recorder::new(client, Reporter::from("tidal-metrics-adapter"));
    tokio::pin!(shutdown);
    loop {
        let warning = tokio::select! {
            () = &mut shutdown => return,
            next = rx.recv() => match next {
                Some(w) => w,
                None => return,
            },
        };
        let event = Event {
            type_: EventType::Warning,
            reason: warning.reason.to_string(),
            note: Some(warning.note.clone()),
            action: "CollectMetrics".to_string(),
            secondary: None,
        };
        let reference = hpa_reference(&warning.hpa, warning.uid.clone());
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::warn!(hpa = %warning.hpa, error = %e, "cannot publish Event");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::ConfigError;

    fn hpa(name: &str) -> HpaKey {
        HpaKey {
            namespace: "shop".into(),
            name: name.into(),
        }
    }

    #[test]
    fn config_warnings_once_per_change() {
        let mut warnings = ConfigWarnings::default();
        assert!(warnings.should_warn(&hpa("a"), 1, true));
        assert!(
            !warnings.should_warn(&hpa("a"), 1, true),
            "same version: no repeat"
        );
        assert!(warnings.should_warn(&hpa("b"), 1, true), "other HPA");
        assert!(
            warnings.should_warn(&hpa("a"), 2, true),
            "annotations changed"
        );
        assert!(!warnings.should_warn(&hpa("a"), 3, false), "fixed");
        assert!(warnings.should_warn(&hpa("a"), 2, true), "broken again");
        warnings.forget(&hpa("a"));
        assert!(warnings.should_warn(&hpa("a"), 2, true), "recreated HPA");
    }

    #[test]
    fn failure_warnings_once_per_streak_and_reason() {
        let t = |s| Timestamp::from_secs(s);
        let mut state = FailureWarnState::default();
        assert!(state.on_failure("timeout", t(0)));
        assert!(!state.on_failure("timeout", t(60)), "same streak");
        assert!(state.on_failure("aws", t(120)), "new reason");
        state.on_success();
        assert!(
            !state.on_failure("aws", t(180)),
            "flapping: too soon after the last warning"
        );
        assert!(!state.on_failure("aws", t(240)));
        state.on_success();
        assert!(
            state.on_failure("aws", t(120 + 600)),
            "a later streak warns again"
        );
    }

    #[test]
    fn config_warning_lists_errors_and_fits_the_api_limit() {
        let error = |n: usize| MetricConfigError {
            id: None,
            metric: None,
            error: ConfigError::InvalidSpec {
                what: format!("spec.metrics[{n}]"),
                problem: "é".repeat(300),
            },
        };
        assert!(config_warning(&hpa("a"), None, &[]).is_none());
        let one = config_warning(&hpa("a"), Some("uid-1".into()), &[error(0)]).unwrap();
        assert_eq!(one.reason, REASON_CONFIG);
        assert!(one.note.contains("spec.metrics[0]"), "{}", one.note);
        let many = config_warning(&hpa("a"), None, &[error(0), error(1), error(2)]).unwrap();
        assert!(many.note.len() <= MAX_NOTE_BYTES);
        assert!(many.note.ends_with("..."));
    }

    #[test]
    fn event_notes_never_show_url_credentials() {
        let note = event_note("GET https://user:secret@metrics.shop/m: HTTP status 500".into());
        assert_eq!(note, "GET https://***@metrics.shop/m: HTTP status 500");
        let long = event_note(format!("{} http://u:p@h/x", "a".repeat(2000)));
        assert!(!long.contains("u:p"), "{long}");
    }
}
