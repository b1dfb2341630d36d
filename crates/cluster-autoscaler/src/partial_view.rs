//! What the cluster source could not see, as values the ports carry: objects it could not read
//! (and what they touch), how many it skipped, and watches that went silent. A partial or stale
//! view never leads to a termination or a lowered desired capacity; these say what was missing.
//! Re-exported from [`crate::ports`].

use std::collections::BTreeSet;

/// Objects the source could not read (and so left out of the snapshot), as far as they touch
/// nodes. Left out, they would make a node look emptier or an instance look unregistered; the
/// autoscaler keeps away from both instead.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// Nodes with a bound pod that could not be read: never scale-down candidates, never
    /// terminated as drained (the pod would be killed without eviction).
    pub nodes_with_pods: BTreeSet<String>,
    /// Instance ids (from `spec.providerID`) of nodes that could not be read: they count as
    /// registered, so the provision timeout never terminates them.
    pub node_instances: BTreeSet<String>,
}

impl Unreadable {
    /// Nothing touching a node was left out.
    pub fn is_empty(&self) -> bool {
        self.nodes_with_pods.is_empty() && self.node_instances.is_empty()
    }

    /// One line per node or instance kept, saying why (for the status report and logs).
    pub fn describe(&self) -> Vec<String> {
        let nodes = self
            .nodes_with_pods
            .iter()
            .map(|n| format!("node {n}: not removed, a pod bound to it could not be read"));
        let instances = self
            .node_instances
            .iter()
            .map(|i| format!("instance {i}: counted as registered, its node could not be read"));
        nodes.chain(instances).collect()
    }
}

/// Objects the cluster source skipped in its last snapshot because they could not be read
/// (malformed quantities, unknown fields): counted in metrics, never acted on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkippedObjects {
    /// Pods (each also gets a Warning Event, once per resourceVersion).
    pub pods: usize,
    /// Nodes.
    pub nodes: usize,
    /// PodDisruptionBudgets.
    pub pdbs: usize,
}

/// A watch of the cluster source that has been silent for longer than it may be: its store is
/// stale (the snapshot's age counts from when it was last heard).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleWatch {
    /// The kind watched, e.g. `pods`.
    pub kind: &'static str,
    /// How long it has been silent.
    pub silent_for: std::time::Duration,
}
