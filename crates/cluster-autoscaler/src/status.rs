//! The status report written each loop (like upstream's `cluster-autoscaler-status` ConfigMap).

use std::fmt::{self, Write as _};

use serde::Serialize;
use tidal_core::Timestamp;

use crate::ports::NodeGroupId;

/// Health of the autoscaler or of one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Health {
    /// Working normally.
    Healthy,
    /// The group is in scale-up backoff until the given time.
    BackedOff(Timestamp),
    /// Something is wrong (stale state, failing calls); the text says what.
    Unhealthy(String),
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("Healthy"),
            Health::BackedOff(until) => write!(f, "Backoff (until {})", format_time(*until)),
            Health::Unhealthy(why) => write!(f, "Unhealthy ({why})"),
        }
    }
}

/// Status of one node group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupStatus {
    /// The group.
    pub group: NodeGroupId,
    /// ASG name.
    pub asg_name: String,
    /// Health.
    pub health: Health,
    /// Effective minimum (pool split ∩ ASG bounds).
    pub min_size: u32,
    /// Effective maximum.
    pub max_size: u32,
    /// Desired capacity after this loop.
    pub desired: u32,
    /// Instances that exist and are not terminating.
    pub instances: u32,
    /// Instances whose node has registered.
    pub registered: u32,
    /// Registered nodes that are Ready.
    pub ready: u32,
    /// Last time this group was scaled up.
    pub last_scale_up: Option<Timestamp>,
    /// Last time a node of this group was removed.
    pub last_scale_down: Option<Timestamp>,
    /// The last scale-up failure's reason.
    pub last_failure: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// When it was produced (the loop's `now`).
    pub time: Timestamp,
    /// Overall health; `None` before the first loop.
    pub health: Option<Health>,
    /// Pods marked Unschedulable.
    pub unschedulable_pods: usize,
    /// Last scale-up in any group.
    pub last_scale_up: Option<Timestamp>,
    /// Last scale-down in any group.
    pub last_scale_down: Option<Timestamp>,
    /// Per group, sorted by group id.
    pub node_groups: Vec<GroupStatus>,
    /// Why some groups have no usable template node or are planned without part of their
    /// cloud data (unknown instance types, malformed node-template tags…).
    pub template_problems: Vec<String>,
    /// Nodes and instances kept because an object touching them could not be read.
    pub unreadable: Vec<String>,
}

/// RFC 3339 for a timestamp (the raw milliseconds if out of range).
pub fn format_time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.as_millis()).map_or_else(
        || t.as_millis().to_string(),
        |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "never".to_owned(), format_time)
}

impl StatusReport {
    /// Human-readable text for the ConfigMap's `status` key.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let health = self
            .health
            .as_ref()
            .map_or_else(|| "Unknown".to_owned(), Health::to_string);
        // Writing to a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(
            out,
            "Cluster-autoscaler status at {}:",
            format_time(self.time)
        );
        let _ = writeln!(out, "Cluster-wide:");
        let _ = writeln!(out, "  Health:             {health}");
        let _ = writeln!(out, "  Unschedulable pods: {}", self.unschedulable_pods);
        let _ = writeln!(
            out,
            "  LastScaleUp:        {}",
            opt_time(self.last_scale_up)
        );
        let _ = writeln!(
            out,
            "  LastScaleDown:      {}",
            opt_time(self.last_scale_down)
        );
        let _ = writeln!(out, "\nNodeGroups:");
        for g in &self.node_groups {
            let _ = writeln!(out, "  Name: {} (ASG {})", g.group, g.asg_name);
            let _ = writeln!(out, "    Health:     {}", g.health);
            let _ = writeln!(
                out,
                "    Nodes:      ready={} registered={} instances={} desired={} (min={} max={})",
                g.ready, g.registered, g.instances, g.desired, g.min_size, g.max_size
            );
            let _ = writeln!(out, "    LastScaleUp:   {}", opt_time(g.last_scale_up));
            let _ = writeln!(out, "    LastScaleDown: {}", opt_time(g.last_scale_down));
            if let Some(f) = &g.last_failure {
                let _ = writeln!(out, "    LastFailure:   {f}");
            }
        }
        if !self.unreadable.is_empty() {
            let _ = writeln!(out, "\nUnreadableObjects:");
            for u in &self.unreadable {
                let _ = writeln!(out, "  {u}");
            }
        }
        if !self.template_problems.is_empty() {
            let _ = writeln!(out, "\nTemplateProblems:");
            for p in &self.template_problems {
                let _ = writeln!(out, "  {p}");
            }
        }
        out
    }
}
