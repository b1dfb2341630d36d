//! The simulated kube-scheduler: binds pending pods to nodes where the `tidal_core` predicates
//! say they fit, and marks the rest Unschedulable (`PodScheduled=False`, reason Unschedulable)
//! so the cluster autoscaler sees them.
//!
//! Placement is the core [`ClusterState::find_fit`](tidal_core::scheduling::ClusterState::find_fit):
//! the first node in registration order that fits, which packs nodes the way kube-scheduler's
//! `MostAllocated` scoring does. The queue is FIFO by creation. Pods that found no node are
//! retried only after capacity may have appeared (a node registered, a pod went away), and
//! once one pod of an owner fails in a pass its siblings (same spec) are not tried again in
//! that pass: without inter-pod rules in the spec they cannot fit either.

use std::collections::BTreeSet;

use crate::cluster::{ClusterWorld, Owner, SimClusterError};

/// What one scheduling pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulePass {
    /// Pods bound to a node.
    pub bound: usize,
    /// Pods left pending.
    pub unschedulable: usize,
}

/// The simulated kube-scheduler, with its memory between passes (which pods it has tried).
#[derive(Debug, Default)]
pub struct SimScheduler {
    tried: BTreeSet<u64>,
}

impl SimScheduler {
    /// A scheduler that has tried nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One pass over the pending pods at the world's `now`.
    pub fn schedule(&mut self, world: &mut ClusterWorld) -> Result<SchedulePass, SimClusterError> {
        let retry = std::mem::take(&mut world.capacity_changed);
        // Forget pods that are gone or bound.
        self.tried.retain(|uid| world.pending.contains(uid));
        let mut pass = SchedulePass::default();
        let mut failed_owners: BTreeSet<Owner> = BTreeSet::new();
        let queue: Vec<u64> = world.pending.iter().copied().collect();
        for uid in queue {
            if !retry && self.tried.contains(&uid) {
                pass.unschedulable += 1;
                continue;
            }
            let Some(record) = world.pods.get(&uid) else {
                continue;
            };
            let owner = record.owner;
            let simple =
                record.spec.anti_affinity.is_empty() && record.spec.topology_spread.is_empty();
            if simple && failed_owners.contains(&owner) {
                self.tried.insert(uid);
                world.mark_unschedulable(uid);
                pass.unschedulable += 1;
                continue;
            }
            let fit = world.state.find_fit(&record.spec);
            let node_name = fit
                .and_then(|id| world.state.node(id))
                .map(|n| n.name.clone());
            match node_name {
                Some(name) => {
                    world.bind(uid, &name)?;
                    self.tried.remove(&uid);
                    pass.bound += 1;
                }
                None => {
                    self.tried.insert(uid);
                    world.mark_unschedulable(uid);
                    failed_owners.insert(owner);
                    pass.unschedulable += 1;
                }
            }
        }
        Ok(pass)
    }
}
