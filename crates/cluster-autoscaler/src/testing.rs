//! In-memory fake ports and small builders, for this crate's tests and benches
//! (feature `testing`). The simulator has its own, richer implementation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use tidal_core::sync::lock;

use tidal_core::Timestamp;
use tidal_core::instance::InstanceType;
use tidal_core::resources::Resources;
use tidal_core::scheduling::{NodeSpec, PodSpec};

use crate::ports::{
    BoxError, CloudError, CloudInstance, CloudProvider, ClusterActions, ClusterError, ClusterNode,
    ClusterPod, ClusterSnapshot, ClusterSource, DisruptionBudget, Event, InstanceState, NodeGroup,
    NodeGroupId, NodeTemplate, PodPhase, ScaleUpFailure, StatusReport,
};

const GIB: i64 = 1 << 30;

/// The first queued change, if any (taken out of the queue).
fn next_change<T>(changes: &Mutex<Vec<T>>) -> Option<T> {
    let mut changes = lock(changes);
    (!changes.is_empty()).then(|| changes.remove(0))
}

fn injected(operation: &str) -> BoxError {
    format!("injected failure of {operation}").into()
}

/// A call the fake cloud received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudCall {
    /// `set_desired_capacity(group, desired)`.
    SetDesired(NodeGroupId, u32),
    /// `terminate_instance(group, instance)`.
    Terminate(NodeGroupId, String),
}

/// An in-memory cloud: groups, instance types, failures to report, calls made.
#[derive(Default)]
pub struct FakeCloud {
    /// The groups (mutated by the actions).
    pub groups: Mutex<Vec<NodeGroup>>,
    /// Changes of the groups to make right after the next `node_groups` calls (in order, one each).
    pub after_read: Mutex<Vec<CloudChange>>,
    /// Instance types the cloud knows.
    pub types: Vec<InstanceType>,
    /// Failures `scale_up_failures` reports (those at or after `since`).
    pub failures: Mutex<Vec<ScaleUpFailure>>,
    /// Port methods that fail (by name, e.g. `set_desired_capacity`).
    pub failing: Mutex<BTreeSet<&'static str>>,
    /// Port methods that answer this many more calls, then fail (as if in `failing`).
    pub failing_after: Mutex<BTreeMap<&'static str, usize>>,
    /// Port methods that never answer (a hung API call).
    pub stalled: Mutex<BTreeSet<&'static str>>,
    /// Acting calls received, in order.
    pub calls: Mutex<Vec<CloudCall>>,
    next_instance: Mutex<u64>,
}

impl FakeCloud {
    /// A cloud with these groups and instance types.
    pub fn new(groups: Vec<NodeGroup>, types: Vec<InstanceType>) -> Self {
        Self {
            groups: Mutex::new(groups),
            types,
            ..Self::default()
        }
    }

    /// Makes `operation` fail from now on.
    pub fn fail(&self, operation: &'static str) {
        lock(&self.failing).insert(operation);
    }

    /// Changes the groups right after the next `node_groups` read: the cloud moves on (an ASG
    /// launches, an operator resizes) while the loop works from what it read.
    pub fn after_next_read(&self, change: impl FnOnce(&mut Vec<NodeGroup>) + Send + 'static) {
        lock(&self.after_read).push(Box::new(change));
    }

    /// Lets `operation` succeed `successes` more times, then makes it fail.
    pub fn fail_after(&self, operation: &'static str, successes: usize) {
        lock(&self.failing_after).insert(operation, successes);
    }

    /// Makes `operation` hang from now on.
    pub fn stall(&self, operation: &'static str) {
        lock(&self.stalled).insert(operation);
    }

    /// Makes `operation` succeed again.
    pub fn heal(&self, operation: &'static str) {
        lock(&self.failing).remove(operation);
    }

    /// Adds a failure to report.
    pub fn report_failure(&self, group: &NodeGroupId, reason: &str, at: Timestamp) {
        lock(&self.failures).push(ScaleUpFailure {
            group: group.clone(),
            reason: reason.to_owned(),
            at,
        });
    }

    /// The acting calls so far.
    pub fn calls(&self) -> Vec<CloudCall> {
        lock(&self.calls).clone()
    }

    /// The group's current desired capacity.
    pub fn desired(&self, group: &NodeGroupId) -> Option<u32> {
        lock(&self.groups)
            .iter()
            .find(|g| &g.id == group)
            .map(|g| g.desired)
    }

    /// Launches pending instances until every group has `desired` live instances; returns
    /// the new `(group, instance id)` pairs.
    pub fn launch(&self, now: Timestamp) -> Vec<(NodeGroupId, String)> {
        let mut launched = Vec::new();
        let mut next = lock(&self.next_instance);
        for g in lock(&self.groups).iter_mut() {
            let live = g
                .instances
                .iter()
                .filter(|i| i.state != InstanceState::Terminating)
                .count();
            for _ in live..g.desired as usize {
                *next += 1;
                let id = format!("i-fake{:06}", *next);
                g.instances.push(CloudInstance {
                    id: id.as_str().into(),
                    instance_type: "m5.large".into(),
                    state: InstanceState::Pending,
                    launched_at: Some(now),
                });
                launched.push((g.id.clone(), id));
            }
        }
        launched
    }

    async fn check(&self, operation: &'static str) -> Result<(), CloudError> {
        let stalled = lock(&self.stalled).contains(operation);
        if stalled {
            std::future::pending::<()>().await;
        }
        if let Some(left) = lock(&self.failing_after).get_mut(operation) {
            match left.checked_sub(1) {
                Some(l) => *left = l,
                None => {
                    lock(&self.failing).insert(operation);
                }
            }
        }
        if lock(&self.failing).contains(operation) {
            return Err(CloudError::Api {
                operation: operation.to_owned(),
                source: injected(operation),
            });
        }
        Ok(())
    }
}

impl CloudProvider for FakeCloud {
    async fn node_groups(&self) -> Result<Vec<NodeGroup>, CloudError> {
        self.check("node_groups").await?;
        let mut groups = lock(&self.groups);
        let observed = groups.clone();
        if let Some(change) = next_change(&self.after_read) {
            change(&mut groups);
        }
        Ok(observed)
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, CloudError> {
        self.check("instance_types").await?;
        Ok(self
            .types
            .iter()
            .filter(|t| names.contains(&t.name))
            .cloned()
            .collect())
    }

    async fn set_desired_capacity(
        &self,
        group: &NodeGroupId,
        desired: u32,
    ) -> Result<(), CloudError> {
        self.check("set_desired_capacity").await?;
        let mut groups = lock(&self.groups);
        let g = groups
            .iter_mut()
            .find(|g| &g.id == group)
            .ok_or_else(|| CloudError::UnknownGroup(group.clone()))?;
        if desired < g.min_size || desired > g.max_size {
            return Err(CloudError::Invalid(format!(
                "desired {desired} outside {}..={}",
                g.min_size, g.max_size
            )));
        }
        g.desired = desired;
        lock(&self.calls).push(CloudCall::SetDesired(group.clone(), desired));
        Ok(())
    }

    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        self.check("terminate_instance").await?;
        let mut groups = lock(&self.groups);
        let g = groups
            .iter_mut()
            .find(|g| &g.id == group)
            .ok_or_else(|| CloudError::UnknownGroup(group.clone()))?;
        let before = g.instances.len();
        g.instances.retain(|i| &*i.id != instance_id);
        if g.instances.len() == before {
            return Err(CloudError::Invalid(format!(
                "no instance {instance_id} in {group}"
            )));
        }
        g.desired = g.desired.saturating_sub(1);
        lock(&self.calls).push(CloudCall::Terminate(group.clone(), instance_id.to_owned()));
        Ok(())
    }

    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError> {
        self.check("scale_up_failures").await?;
        Ok(lock(&self.failures)
            .iter()
            .filter(|f| f.at >= since)
            .cloned()
            .collect())
    }
}

/// A call the fake cluster received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterCall {
    /// `evict_pod(namespace, name)`.
    Evict(String, String),
    /// `mark_for_deletion(node)`.
    Mark(String),
    /// `unmark_for_deletion(node)`.
    Unmark(String),
}

impl std::fmt::Debug for FakeCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCloud")
            .field("groups", &self.groups)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCluster")
            .field("snapshot", &self.snapshot)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

/// A change of the fake cluster, run right after a read (a race between observe and act).
pub type WorldChange = Box<dyn FnOnce(&mut ClusterSnapshot) + Send>;

/// A change of the fake cloud's groups, run right after a read (a race between observe and act).
pub type CloudChange = Box<dyn FnOnce(&mut Vec<NodeGroup>) + Send>;

/// An in-memory cluster: a snapshot, pods whose eviction a budget refuses, calls made.
#[derive(Default)]
pub struct FakeCluster {
    /// What `snapshot` returns, and what `pods_on_node` reads live.
    pub snapshot: Mutex<ClusterSnapshot>,
    /// Changes of the world to make right after the next `snapshot` calls (in order, one each).
    pub after_snapshot: Mutex<Vec<WorldChange>>,
    /// Pods (`namespace/name`) whose eviction is refused with `EvictionBlocked`.
    pub blocked_evictions: Mutex<BTreeSet<String>>,
    /// Port methods that fail (by name).
    pub failing: Mutex<BTreeSet<&'static str>>,
    /// Actions received, in order.
    pub calls: Mutex<Vec<ClusterCall>>,
    /// Events recorded.
    pub events: Mutex<Vec<Event>>,
    /// Status reports written.
    pub statuses: Mutex<Vec<StatusReport>>,
}

impl FakeCluster {
    /// A cluster showing `snapshot`.
    pub fn new(snapshot: ClusterSnapshot) -> Self {
        Self {
            snapshot: Mutex::new(snapshot),
            ..Self::default()
        }
    }

    /// Replaces the snapshot.
    pub fn set(&self, snapshot: ClusterSnapshot) {
        *lock(&self.snapshot) = snapshot;
    }

    /// Changes the snapshot in place.
    pub fn update(&self, f: impl FnOnce(&mut ClusterSnapshot)) {
        f(&mut lock(&self.snapshot));
    }

    /// Makes `operation` fail from now on.
    pub fn fail(&self, operation: &'static str) {
        lock(&self.failing).insert(operation);
    }

    /// Makes `operation` succeed again.
    pub fn heal(&self, operation: &'static str) {
        lock(&self.failing).remove(operation);
    }

    /// Changes the world right after the next snapshot is taken: what the loop observed at
    /// its start is then out of date when it acts (live reads see the change).
    pub fn after_next_snapshot(&self, change: impl FnOnce(&mut ClusterSnapshot) + Send + 'static) {
        lock(&self.after_snapshot).push(Box::new(change));
    }

    /// The actions so far.
    pub fn calls(&self) -> Vec<ClusterCall> {
        lock(&self.calls).clone()
    }

    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    fn check(&self, operation: &'static str) -> Result<(), ClusterError> {
        if lock(&self.failing).contains(operation) {
            return Err(ClusterError::Api {
                operation: operation.to_owned(),
                source: injected(operation),
            });
        }
        Ok(())
    }
}

impl ClusterSource for FakeCluster {
    fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
        self.check("snapshot")?;
        let observed = lock(&self.snapshot).clone();
        if let Some(change) = next_change(&self.after_snapshot) {
            change(&mut lock(&self.snapshot));
        }
        Ok(observed)
    }
}

impl ClusterActions for FakeCluster {
    async fn evict_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        self.check("evict_pod")?;
        if lock(&self.blocked_evictions).contains(&format!("{namespace}/{name}")) {
            return Err(ClusterError::EvictionBlocked {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        }
        lock(&self.calls).push(ClusterCall::Evict(namespace.to_owned(), name.to_owned()));
        Ok(())
    }

    async fn pods_on_node(&self, node: &str) -> Result<Vec<ClusterPod>, ClusterError> {
        self.check("pods_on_node")?;
        Ok(lock(&self.snapshot)
            .pods
            .iter()
            .filter(|p| p.node_name.as_deref() == Some(node))
            .map(|p| p.as_ref().clone())
            .collect())
    }

    async fn mark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        self.check("mark_for_deletion")?;
        lock(&self.calls).push(ClusterCall::Mark(node.to_owned()));
        Ok(())
    }

    async fn unmark_for_deletion(&self, node: &str) -> Result<(), ClusterError> {
        self.check("unmark_for_deletion")?;
        lock(&self.calls).push(ClusterCall::Unmark(node.to_owned()));
        Ok(())
    }

    async fn record_event(&self, event: &Event) -> Result<(), ClusterError> {
        self.check("record_event")?;
        lock(&self.events).push(event.clone());
        Ok(())
    }

    async fn write_status(&self, status: &StatusReport) -> Result<(), ClusterError> {
        self.check("write_status")?;
        lock(&self.statuses).push(status.clone());
        Ok(())
    }
}

/// An empty group `pool/zone` with ASG bounds `0..=max` and no instances.
pub fn group(pool: &str, zone: &str, max: u32) -> NodeGroup {
    NodeGroup {
        id: NodeGroupId::new(pool, zone),
        asg_name: format!("asg-{pool}-{zone}"),
        min_size: 0,
        max_size: max,
        desired: 0,
        instances: Vec::new(),
        template: NodeTemplate::default(),
    }
}

/// A running instance.
pub fn instance(id: &str, launched_at: Timestamp) -> CloudInstance {
    CloudInstance {
        id: id.into(),
        instance_type: "m5.large".into(),
        state: InstanceState::Running,
        launched_at: Some(launched_at),
    }
}

/// A ready node `name` backed by instance `instance_id`, in `zone`, with `cpu_millis` / `mem_gib` allocatable.
pub fn node(
    name: &str,
    instance_id: &str,
    zone: &str,
    cpu_millis: i64,
    mem_gib: i64,
) -> Arc<ClusterNode> {
    Arc::new(ClusterNode {
        name: name.to_owned(),
        instance_id: Some(instance_id.to_owned()),
        spec: NodeSpec::new(
            name,
            Resources::new(cpu_millis, mem_gib * GIB).with_pods(110),
        )
        .in_zone(zone),
        ready: true,
        unschedulable: false,
        created_at: Timestamp::from_secs(0),
    })
}

/// A running pod of a ReplicaSet in `default`, bound to `node`.
pub fn bound_pod(name: &str, node: &str, cpu_millis: i64, mem_gib: i64) -> Arc<ClusterPod> {
    Arc::new(pod_with(
        PodSpec::new(name, Resources::pod(cpu_millis, mem_gib * GIB)),
        Some(node),
        None,
    ))
}

/// A pending pod of a ReplicaSet in `default`, Unschedulable since `since`.
pub fn pending_pod(spec: PodSpec, since: Timestamp) -> Arc<ClusterPod> {
    Arc::new(pod_with(spec, None, Some(since)))
}

/// A pod from its spec (name and namespace taken from it), owned by a ReplicaSet.
pub fn pod_with(
    spec: PodSpec,
    node: Option<&str>,
    unschedulable_since: Option<Timestamp>,
) -> ClusterPod {
    ClusterPod {
        namespace: spec.namespace.clone(),
        name: spec.name.clone(),
        node_name: node.map(str::to_owned),
        phase: if node.is_some() {
            PodPhase::Running
        } else {
            PodPhase::Pending
        },
        unschedulable_since,
        controller_kind: Some("ReplicaSet".into()),
        safe_to_evict: None,
        has_local_storage: false,
        created_at: Timestamp::from_secs(0),
        deleting: false,
        spec,
    }
}

/// A budget over pods labelled `app=<app>` in `namespace`.
pub fn pdb(namespace: &str, app: &str, allowed: u32) -> Arc<DisruptionBudget> {
    Arc::new(DisruptionBudget {
        namespace: namespace.to_owned(),
        name: format!("{app}-pdb"),
        selector: tidal_core::scheduling::LabelSelector::labels([("app", app)]),
        disruptions_allowed: allowed,
    })
}

/// The pods of a snapshot by name (for assertions).
pub fn pod_names(snapshot: &ClusterSnapshot) -> BTreeMap<String, Arc<ClusterPod>> {
    snapshot
        .pods
        .iter()
        .map(|p| (p.name.clone(), Arc::clone(p)))
        .collect()
}

/// Instance types used by the tests: m5.large/xlarge/4xlarge, c5.2xlarge and p3.2xlarge (one GPU).
pub fn instance_types() -> Vec<InstanceType> {
    vec![
        InstanceType::new("m5.large", 2, 8192),
        InstanceType::new("m5.xlarge", 4, 16384),
        InstanceType::new("m5.4xlarge", 16, 65536),
        InstanceType::new("c5.2xlarge", 8, 16384),
        InstanceType::new("p3.2xlarge", 8, 62464).with_gpus(1),
    ]
}
