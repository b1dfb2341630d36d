//! The simulated cluster: nodes, pods, disruption budgets and what the autoscaler did to them.
//! Implements the autoscaler's [`ClusterSource`] and [`ClusterActions`] (in `cluster/ports.rs`).
//!
//! Bound pods live in a `tidal_core` [`ClusterState`] too, so the scheduler asks the same
//! predicates and indexes the autoscaler uses. State changes incrementally (a pod is bound,
//! a node registers); nothing is rebuilt per tick.

mod budgets;
mod ports;
mod snapshot_pods;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tidal_core::sync::lock;

use budgets::Budgets;
use snapshot_pods::SnapshotPods;

use tidal_cluster_autoscaler::ports::{
    ClusterNode, ClusterPod, Event, NodeGroupId, PodPhase, StatusReport,
};
use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_core::scheduling::{ClusterState, NodeId, NodeSpec, PodId, PodSpec, Taint, TaintEffect};

pub use tidal_cluster_autoscaler::ports::TO_BE_DELETED_TAINT;

/// Which controller owns a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// A Deployment (index into the scenario's workloads).
    Workload(usize),
    /// A DaemonSet (index into the scenario's daemonsets).
    DaemonSet(usize),
}

/// Errors changing the simulated cluster (inconsistent engine calls, never bad input).
#[derive(Debug, thiserror::Error)]
pub enum SimClusterError {
    /// The core cluster state refused a change.
    #[error("cluster state: {0}")]
    State(#[from] tidal_core::scheduling::ClusterError),
    /// A node of that name is already registered.
    #[error("node {0} is already registered")]
    DuplicateNode(String),
}

/// A pod and its simulation bookkeeping.
#[derive(Clone, Debug)]
pub struct PodRecord {
    /// The pod as the autoscaler sees it.
    pub pod: Arc<ClusterPod>,
    /// The scheduling spec, shared by all pods of one owner.
    pub spec: Arc<PodSpec>,
    /// Who created it (and recreates it when it goes).
    pub owner: Owner,
    /// Its slot in the core cluster state while bound.
    pub slot: Option<PodId>,
    /// When it was bound.
    pub bound_at: Option<Timestamp>,
}

/// A node and its simulation bookkeeping.
#[derive(Clone, Debug)]
pub struct NodeRecord {
    /// The node as the autoscaler sees it.
    pub node: Arc<ClusterNode>,
    /// Its group.
    pub group: NodeGroupId,
    /// Its id in the core cluster state.
    pub id: NodeId,
    /// Pods bound to it (uids).
    pub pods: BTreeSet<u64>,
}

/// Something the cluster side recorded for the decision log.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterNote {
    /// An event the autoscaler recorded.
    Event(Event),
    /// A node was marked for deletion (or unmarked).
    Marked {
        /// Node name.
        node: String,
        /// Marked (true) or unmarked.
        marked: bool,
    },
    /// A pod was evicted.
    Evicted {
        /// `namespace/name`.
        pod: String,
    },
}

/// Counters kept incrementally for the per-tick record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterTotals {
    /// Requests of all workload pods (bound and pending).
    pub requested: Resources,
    /// Requests of daemonset pods.
    pub daemon_requested: Resources,
    /// Per pool.
    pub pools: BTreeMap<String, PoolTotals>,
}

impl ClusterTotals {
    /// Allocatable of all registered nodes.
    pub fn allocatable(&self) -> Resources {
        (self.pools.values()).fold(Resources::zero(), |sum, p| {
            sum.saturating_add(&p.allocatable)
        })
    }
}

/// One pool's counters, kept incrementally for the per-tick record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolTotals {
    /// Registered nodes.
    pub nodes: u32,
    /// Their allocatable.
    pub allocatable: Resources,
    /// Requests of the pods bound to them (daemonsets included), as the scheduler counts them.
    pub requested: Resources,
}

/// The whole simulated cluster state.
#[derive(Debug, Default)]
pub struct ClusterWorld {
    /// Current virtual time.
    pub now: Timestamp,
    /// Bound pods and nodes, indexed for the predicates.
    pub state: ClusterState,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeRecord>,
    instance_to_node: HashMap<String, String>,
    /// Pods by uid (creation order).
    pub pods: BTreeMap<u64, PodRecord>,
    /// The same pods as the autoscaler's snapshots list them (changed with `pods`).
    listed: SnapshotPods,
    by_name: HashMap<(String, String), u64>,
    /// Unbound pods by uid, in creation order (the scheduling queue).
    pub pending: BTreeSet<u64>,
    /// Pods per owner.
    pub by_owner: BTreeMap<Owner, BTreeSet<u64>>,
    /// DaemonSet pod specs, created on every node they tolerate.
    pub daemonsets: Vec<Arc<PodSpec>>,
    /// The disruption budgets of workloads that have one.
    budgets: Budgets,
    /// Incremental totals.
    pub totals: ClusterTotals,
    /// Set whenever capacity may have appeared (a node registered, a pod went away), so the
    /// scheduler retries pods it could not place before.
    pub capacity_changed: bool,
    /// What happened on the cluster side since the engine last looked.
    pub notes: Vec<ClusterNote>,
    /// The autoscaler's last status report.
    pub status: Option<StatusReport>,
    /// Workload pods created, bound or deleted since the workloads last looked.
    pub pod_changes: Vec<(usize, u64)>,
    /// Wait times (creation to binding) of workload pods bound from `record_from` on, in
    /// seconds, with the workload's index, whenever they were created (a pod left pending by the
    /// warm-up counts in full).
    pub pending_waits: Vec<(usize, f64)>,
    /// Pods bound before this instant are not counted in `pending_waits` (warm-up).
    pub record_from: Timestamp,
    next_uid: u64,
}

impl ClusterWorld {
    /// Registers a Ready node of `group`, backed by `instance_id`, and starts its daemon pods.
    pub fn add_node(
        &mut self,
        spec: NodeSpec,
        group: NodeGroupId,
        instance_id: &str,
    ) -> Result<(), SimClusterError> {
        if self.nodes.contains_key(&spec.name) {
            return Err(SimClusterError::DuplicateNode(spec.name));
        }
        let id = self.state.add_node(spec.clone())?;
        let pool = self.totals.pools.entry(group.pool.clone()).or_default();
        pool.nodes += 1;
        pool.allocatable.add_assign_saturating(&spec.allocatable);
        let name = spec.name.clone();
        let node = ClusterNode {
            name: name.clone(),
            instance_id: Some(instance_id.to_owned()),
            spec,
            ready: true,
            unschedulable: false,
            created_at: self.now,
        };
        self.instance_to_node
            .insert(instance_id.to_owned(), name.clone());
        self.nodes.insert(
            name.clone(),
            NodeRecord {
                node: Arc::new(node),
                group,
                id,
                pods: BTreeSet::new(),
            },
        );
        for (i, ds) in self.daemonsets.clone().iter().enumerate() {
            let tolerated = self.nodes.get(&name).is_some_and(|n| {
                tidal_core::scheduling::predicates::static_fit(ds, &n.node.spec).is_ok()
            });
            if tolerated {
                let uid = self.create_pod(Owner::DaemonSet(i), Arc::clone(ds));
                self.bind(uid, &name)?;
            }
        }
        self.capacity_changed = true;
        Ok(())
    }

    /// Removes the node of an instance that is gone; its pods are deleted (their owners
    /// recreate them). Returns the node name and how many workload pods it ran.
    pub fn remove_instance(
        &mut self,
        instance_id: &str,
    ) -> Result<Option<(String, usize)>, SimClusterError> {
        let Some(name) = self.instance_to_node.remove(instance_id) else {
            return Ok(None);
        };
        let Some(record) = self.nodes.remove(&name) else {
            return Ok(None);
        };
        let used = self.state.used(record.id).cloned().unwrap_or_default();
        let mut displaced = 0;
        for uid in &record.pods {
            if let Some(p) = self.pods.get_mut(uid) {
                // The core state drops them with the node below.
                p.slot = None;
                if matches!(p.owner, Owner::Workload(_)) {
                    displaced += 1;
                }
            }
            self.delete_pod(*uid);
        }
        self.state.remove_node(record.id)?;
        if let Some(pool) = self.totals.pools.get_mut(&record.group.pool) {
            pool.nodes = pool.nodes.saturating_sub(1);
            (pool.allocatable).sub_assign_saturating(&record.node.spec.allocatable);
            pool.requested.sub_assign_saturating(&used);
        }
        Ok(Some((name, displaced)))
    }

    /// Creates an unbound pod owned by `owner`; returns its uid.
    pub fn create_pod(&mut self, owner: Owner, spec: Arc<PodSpec>) -> u64 {
        let uid = self.next_uid;
        self.next_uid += 1;
        let name = format!("{}-{uid:x}", spec.name);
        let controller_kind = match owner {
            Owner::Workload(_) => "ReplicaSet",
            Owner::DaemonSet(_) => "DaemonSet",
        };
        let pod = ClusterPod {
            namespace: spec.namespace.clone(),
            name: name.clone(),
            spec: (*spec).clone(),
            node_name: None,
            phase: PodPhase::Pending,
            unschedulable_since: None,
            controller_kind: Some(controller_kind.to_owned()),
            safe_to_evict: None,
            has_local_storage: false,
            created_at: self.now,
            // Deleted pods leave the simulated cluster at once.
            deleting: false,
        };
        match owner {
            Owner::Workload(_) => self.totals.requested.add_assign_saturating(&spec.requests),
            Owner::DaemonSet(_) => self
                .totals
                .daemon_requested
                .add_assign_saturating(&spec.requests),
        }
        if let Owner::Workload(w) = owner {
            self.pod_changes.push((w, uid));
        }
        self.by_name.insert((spec.namespace.clone(), name), uid);
        self.by_owner.entry(owner).or_default().insert(uid);
        self.pending.insert(uid);
        let pod = Arc::new(pod);
        self.listed.push(uid, &pod);
        self.pods.insert(
            uid,
            PodRecord {
                pod,
                spec,
                owner,
                slot: None,
                bound_at: None,
            },
        );
        uid
    }

    /// Deletes a pod (bound or not). Its owner notices at its next reconcile.
    pub fn delete_pod(&mut self, uid: u64) {
        let Some(record) = self.pods.remove(&uid) else {
            return;
        };
        self.listed.remove(uid);
        self.by_name
            .remove(&(record.pod.namespace.clone(), record.pod.name.clone()));
        if let Some(set) = self.by_owner.get_mut(&record.owner) {
            set.remove(&uid);
        }
        self.pending.remove(&uid);
        if let Owner::Workload(w) = record.owner {
            self.pod_changes.push((w, uid));
            if record.bound_at.is_some() {
                self.budgets.unbound(w, uid);
            }
        }
        match record.owner {
            Owner::Workload(_) => self
                .totals
                .requested
                .sub_assign_saturating(&record.spec.requests),
            Owner::DaemonSet(_) => self
                .totals
                .daemon_requested
                .sub_assign_saturating(&record.spec.requests),
        }
        if let Some(slot) = record.slot {
            // The slot is known to exist while the pod is bound; a stale one is harmless.
            let _ = self.state.remove_pod(slot);
            self.capacity_changed = true;
        }
        if let Some(node) = record
            .pod
            .node_name
            .as_ref()
            .and_then(|n| self.nodes.get_mut(n))
        {
            node.pods.remove(&uid);
            if record.slot.is_some()
                && let Some(pool) = self.totals.pools.get_mut(&node.group.pool)
            {
                pool.requested.sub_assign_saturating(&record.spec.requests);
            }
        }
    }

    /// Binds a pending pod to a node (no fit check here: the scheduler decided).
    pub fn bind(&mut self, uid: u64, node_name: &str) -> Result<(), SimClusterError> {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(node_name) else {
            return Ok(());
        };
        let Some(record) = self.pods.get_mut(&uid) else {
            return Ok(());
        };
        let slot = self.state.place(Arc::clone(&record.spec), node.id)?;
        node.pods.insert(uid);
        if let Some(pool) = self.totals.pools.get_mut(&node.group.pool) {
            pool.requested.add_assign_saturating(&record.spec.requests);
        }
        record.slot = Some(slot);
        record.bound_at = Some(now);
        let pod = Arc::make_mut(&mut record.pod);
        pod.node_name = Some(node_name.to_owned());
        pod.phase = PodPhase::Running;
        pod.unschedulable_since = None;
        self.listed.replace(uid, &record.pod);
        if let Owner::Workload(w) = record.owner {
            self.pod_changes.push((w, uid));
            self.budgets.bound(w, uid, now);
            if now >= self.record_from {
                self.pending_waits
                    .push((w, now.since(record.pod.created_at).as_secs_f64()));
            }
        }
        self.pending.remove(&uid);
        Ok(())
    }

    /// Marks a pending pod Unschedulable (keeps the first transition time).
    pub fn mark_unschedulable(&mut self, uid: u64) {
        let now = self.now;
        if let Some(record) = self.pods.get_mut(&uid)
            && record.pod.unschedulable_since.is_none()
        {
            Arc::make_mut(&mut record.pod).unschedulable_since = Some(now);
            self.listed.replace(uid, &record.pod);
        }
    }

    /// The uid of a pod by namespace and name.
    pub fn pod_uid(&self, namespace: &str, name: &str) -> Option<u64> {
        self.by_name
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
    }

    /// Taints (and cordons) or untaints a node; re-registers it in the core state so the
    /// scheduler's predicates see the taint. Returns false if the node is unknown.
    pub fn set_marked(&mut self, node_name: &str, marked: bool) -> Result<bool, SimClusterError> {
        let Some(record) = self.nodes.get(node_name) else {
            return Ok(false);
        };
        if record.node.unschedulable == marked {
            return Ok(true);
        }
        let mut node = (*record.node).clone();
        node.unschedulable = marked;
        node.spec.taints.retain(|t| t.key != TO_BE_DELETED_TAINT);
        if marked {
            let value = self.now.as_millis().div_euclid(1000).to_string();
            node.spec.taints.push(Taint::new(
                TO_BE_DELETED_TAINT,
                value,
                TaintEffect::NoSchedule,
            ));
        }
        let old_id = record.id;
        let (_, pods) = self.state.remove_node(old_id)?;
        drop(pods);
        let new_id = self.state.add_node(node.spec.clone())?;
        let uids: Vec<u64> = record.pods.iter().copied().collect();
        for uid in uids {
            if let Some(p) = self.pods.get_mut(&uid) {
                p.slot = Some(self.state.place(Arc::clone(&p.spec), new_id)?);
            }
        }
        if let Some(record) = self.nodes.get_mut(node_name) {
            record.node = Arc::new(node);
            record.id = new_id;
        }
        if !marked {
            self.capacity_changed = true;
        }
        self.notes.push(ClusterNote::Marked {
            node: node_name.to_owned(),
            marked,
        });
        Ok(true)
    }
}

/// The simulated cluster. Interior mutability because the ports take `&self`.
#[derive(Debug, Default)]
pub struct SimCluster {
    world: Mutex<ClusterWorld>,
}

impl SimCluster {
    /// An empty cluster with these daemonsets, disruption budgets and workload start-up times.
    pub fn new(
        daemonsets: Vec<Arc<PodSpec>>,
        min_available: BTreeMap<usize, u32>,
        startups: Vec<std::time::Duration>,
        start: Timestamp,
    ) -> Self {
        let world = ClusterWorld {
            now: start,
            daemonsets,
            budgets: Budgets::new(min_available, &startups),
            record_from: start,
            ..ClusterWorld::default()
        };
        Self {
            world: Mutex::new(world),
        }
    }

    /// Exclusive access to the state, for the engine, scheduler and workloads.
    pub fn world(&self) -> MutexGuard<'_, ClusterWorld> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        lock(&self.world)
    }
}

#[cfg(test)]
mod tests;
