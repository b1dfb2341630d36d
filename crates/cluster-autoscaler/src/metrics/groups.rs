//! The per-group gauges (nodes by state, backoff), kept from loop to loop.
//!
//! Each loop sets the gauges of the groups it reported in place. Clearing the families and
//! filling them again would let a scrape in between see no series at all (a gap in every
//! graph, an `absent()` alert firing) and cost a dozen allocations per group per loop; only a
//! group no longer reported has its series removed.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::{GroupLabels, NodeStateLabels};
use crate::outcome::{GroupBackoff, LoopOutcome};
use crate::ports::NodeGroupId;
use crate::status::GroupStatus;

/// The node states of the `nodes` family.
const STATES: [&str; 4] = ["desired", "instances", "registered", "ready"];

/// The families the group gauges belong to.
#[derive(Clone, Default)]
pub(super) struct GroupFamilies {
    pub(super) nodes: Family<NodeStateLabels, Gauge>,
    pub(super) backoff: Family<GroupLabels, Gauge>,
    pub(super) backoff_remaining: Family<GroupLabels, Gauge<f64, AtomicU64>>,
}

/// One group's gauges (handles into the families).
struct GroupGauges {
    nodes: [Gauge; 4],
    backoff: Gauge,
    backoff_remaining: Gauge<f64, AtomicU64>,
}

impl GroupGauges {
    fn set(&self, g: &GroupStatus, backoff: Option<&GroupBackoff>, outcome: &LoopOutcome) {
        for (gauge, value) in self
            .nodes
            .iter()
            .zip([g.desired, g.instances, g.registered, g.ready])
        {
            gauge.set(i64::from(value));
        }
        self.backoff.set(i64::from(backoff.is_some()));
        self.backoff_remaining
            .set(backoff.map_or(0.0, |b| b.until.since(outcome.at).as_secs_f64()));
    }
}

/// The gauges of the groups the last loop reported.
#[derive(Default)]
pub(super) struct GroupGaugeSet(BTreeMap<NodeGroupId, GroupGauges>);

impl GroupGaugeSet {
    /// Sets the gauges of every group `outcome` reports (backoff 1 while the group is backed
    /// off) and removes the series of groups it no longer reports.
    pub(super) fn record(&mut self, families: &GroupFamilies, outcome: &LoopOutcome) {
        let reported = &outcome.status.node_groups;
        self.0.retain(|id, _| {
            let keep = reported.iter().any(|g| g.group == *id);
            if !keep {
                families.remove(id);
            }
            keep
        });
        for g in reported {
            if !self.0.contains_key(&g.group) {
                self.0.insert(g.group.clone(), families.gauges(&g.group));
            }
            let Some(gauges) = self.0.get(&g.group) else {
                continue;
            };
            let backoff = outcome.backoffs.iter().find(|b| b.group == g.group);
            gauges.set(g, backoff, outcome);
        }
    }
}

impl GroupFamilies {
    fn node_labels(id: &NodeGroupId) -> [NodeStateLabels; 4] {
        STATES.map(|state| NodeStateLabels {
            pool: id.pool.clone(),
            zone: id.zone.clone(),
            state: state.to_owned(),
        })
    }

    fn gauges(&self, id: &NodeGroupId) -> GroupGauges {
        let group = GroupLabels::from(id);
        GroupGauges {
            nodes: Self::node_labels(id).map(|labels| self.nodes.get_or_create_owned(&labels)),
            backoff: self.backoff.get_or_create_owned(&group),
            backoff_remaining: self.backoff_remaining.get_or_create_owned(&group),
        }
    }

    fn remove(&self, id: &NodeGroupId) {
        for labels in Self::node_labels(id) {
            self.nodes.remove(&labels);
        }
        let group = GroupLabels::from(id);
        self.backoff.remove(&group);
        self.backoff_remaining.remove(&group);
    }
}
