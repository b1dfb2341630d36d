//! What the autoscaler remembers between loops: scale-ups in flight, unneeded-since timers,
//! drains in progress, backoff per group, and a little bookkeeping for events and status.
//!
//! Everything else is re-observed every loop, so a restarted autoscaler only loses timers
//! (it then waits a full unneeded time again before removing nodes, which is the safe side).

use std::collections::{BTreeMap, HashMap};

use tidal_core::Timestamp;
use tidal_core::backoff::{Backoff, BackoffConfig};

use crate::outcome::PodRef;
use crate::ports::NodeGroupId;

/// A raise of desired capacity whose nodes have not all registered yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleUpRequest {
    /// When the first still-outstanding raise was requested (later raises do not reset it).
    pub requested_at: Timestamp,
    /// Desired capacity asked for.
    pub target: u32,
}

/// A node being drained for removal.
#[derive(Clone, Debug, PartialEq)]
pub struct Drain {
    /// Its group.
    pub group: NodeGroupId,
    /// Its instance.
    pub instance_id: String,
    /// When the drain started.
    pub started_at: Timestamp,
    /// Utilization when chosen (for reporting).
    pub utilization: f64,
}

/// Per-group history kept for the status report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupHistory {
    /// Last scale-up.
    pub last_scale_up: Option<Timestamp>,
    /// Last node removal.
    pub last_scale_down: Option<Timestamp>,
    /// Time of the last failure seen (reported failures at or before it are old news).
    pub last_failure_at: Option<Timestamp>,
    /// Reason of the last failure.
    pub last_failure: Option<String>,
}

/// The autoscaler's memory across loops.
#[derive(Clone, Debug)]
pub struct AutoscalerState {
    /// Groups whose scale-up failed, and until when they are skipped.
    pub backoff: Backoff<NodeGroupId>,
    /// Scale-ups in flight, by group.
    pub scale_ups: BTreeMap<NodeGroupId, ScaleUpRequest>,
    /// Since when each node has been continuously unneeded.
    pub unneeded_since: HashMap<String, Timestamp>,
    /// Drains in progress, by node name.
    pub drains: BTreeMap<String, Drain>,
    /// Per-group history.
    pub history: BTreeMap<NodeGroupId, GroupHistory>,
    /// When failures were last polled from the cloud.
    pub last_failure_poll: Option<Timestamp>,
    /// Last scale-up anywhere.
    pub last_scale_up: Option<Timestamp>,
    /// Last scale-down anywhere.
    pub last_scale_down: Option<Timestamp>,
    /// Last NotTriggerScaleUp event per pod (rate limit).
    pub no_scale_up_events: HashMap<PodRef, Timestamp>,
}

impl AutoscalerState {
    /// Fresh state with the given backoff settings.
    pub fn new(backoff: BackoffConfig) -> Self {
        Self {
            backoff: Backoff::new(backoff),
            scale_ups: BTreeMap::new(),
            unneeded_since: HashMap::new(),
            drains: BTreeMap::new(),
            history: BTreeMap::new(),
            last_failure_poll: None,
            last_scale_up: None,
            last_scale_down: None,
            no_scale_up_events: HashMap::new(),
        }
    }

    /// Records a raise of `group` to `target` at `now`, keeping the older start of an outstanding request.
    pub fn record_scale_up(&mut self, group: &NodeGroupId, target: u32, now: Timestamp) {
        let requested_at = self.scale_ups.get(group).map_or(now, |r| r.requested_at);
        self.scale_ups.insert(
            group.clone(),
            ScaleUpRequest {
                requested_at,
                target,
            },
        );
        self.history.entry(group.clone()).or_default().last_scale_up = Some(now);
        self.last_scale_up = Some(now);
    }

    /// Records a node removal in `group` at `now`.
    pub fn record_scale_down(&mut self, group: &NodeGroupId, now: Timestamp) {
        self.history
            .entry(group.clone())
            .or_default()
            .last_scale_down = Some(now);
        self.last_scale_down = Some(now);
    }

    /// Records a failed scale-up: backs the group off, drops its request; returns the backoff end.
    pub fn record_failure(
        &mut self,
        group: &NodeGroupId,
        reason: &str,
        at: Timestamp,
        now: Timestamp,
    ) -> Timestamp {
        self.scale_ups.remove(group);
        let history = self.history.entry(group.clone()).or_default();
        history.last_failure_at = Some(history.last_failure_at.map_or(at, |t| t.max(at)));
        history.last_failure = Some(reason.to_owned());
        self.backoff.record_failure(group, now)
    }

    /// Whether a reported failure at `at` for `group` is new (not yet acted on).
    pub fn is_new_failure(&self, group: &NodeGroupId, at: Timestamp) -> bool {
        self.history
            .get(group)
            .and_then(|h| h.last_failure_at)
            .is_none_or(|seen| at > seen)
    }

    /// Whether `pod` may get another NotTriggerScaleUp event now; records it if so.
    pub fn allow_no_scale_up_event(
        &mut self,
        pod: &PodRef,
        now: Timestamp,
        interval: std::time::Duration,
    ) -> bool {
        match self.no_scale_up_events.get(pod) {
            Some(last) if now.since(*last) < interval => false,
            _ => {
                self.no_scale_up_events.insert(pod.clone(), now);
                true
            }
        }
    }
}
