//! Pods that keep their node: the rules upstream users know, checked before any simulation.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::outcome::PodRef;
use crate::ports::{ClusterPod, DisruptionBudget};

/// Why a node may not be removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Blocker {
    /// A pod has `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    NotSafeToEvict(PodRef),
    /// A pod has no controller (a bare pod would not come back).
    NotReplicated(PodRef),
    /// A pod uses local storage (emptyDir/hostPath) and is not marked safe to evict.
    LocalStorage(PodRef),
    /// A kube-system pod without a PodDisruptionBudget.
    KubeSystemWithoutPdb(PodRef),
    /// Evicting the node's pods would exceed what a PodDisruptionBudget allows.
    DisruptionBudget {
        /// `namespace/name` of the budget.
        pdb: String,
        /// Pods of the node it covers.
        needed: u32,
        /// Disruptions it allows (left, during a batch).
        allowed: u32,
    },
    /// A pod fits on no other node.
    NoPlaceFor(PodRef),
}

impl Blocker {
    /// Stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Blocker::NotSafeToEvict(_) => "not_safe_to_evict",
            Blocker::NotReplicated(_) => "not_replicated",
            Blocker::LocalStorage(_) => "local_storage",
            Blocker::KubeSystemWithoutPdb(_) => "kube_system_without_pdb",
            Blocker::DisruptionBudget { .. } => "disruption_budget",
            Blocker::NoPlaceFor(_) => "no_place_to_move",
        }
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NotSafeToEvict(p) => write!(f, "pod {p} is annotated safe-to-evict=false"),
            Blocker::NotReplicated(p) => write!(f, "pod {p} has no controller"),
            Blocker::LocalStorage(p) => write!(f, "pod {p} uses local storage"),
            Blocker::KubeSystemWithoutPdb(p) => {
                write!(f, "kube-system pod {p} has no disruption budget")
            }
            Blocker::DisruptionBudget {
                pdb,
                needed,
                allowed,
            } => {
                write!(
                    f,
                    "disruption budget {pdb} allows {allowed} disruptions, {needed} needed"
                )
            }
            Blocker::NoPlaceFor(p) => write!(f, "pod {p} fits on no other node"),
        }
    }
}

/// PodDisruptionBudgets by namespace.
pub(crate) struct Budgets<'a> {
    by_namespace: HashMap<&'a str, Vec<&'a DisruptionBudget>>,
}

impl<'a> Budgets<'a> {
    /// Indexes `pdbs`.
    pub(crate) fn new(pdbs: impl IntoIterator<Item = &'a DisruptionBudget>) -> Self {
        let mut by_namespace: HashMap<&str, Vec<&DisruptionBudget>> = HashMap::new();
        for b in pdbs {
            by_namespace
                .entry(b.namespace.as_str())
                .or_default()
                .push(b);
        }
        Self { by_namespace }
    }

    /// Budgets covering `pod`.
    pub(crate) fn matching(
        &self,
        pod: &'a ClusterPod,
    ) -> impl Iterator<Item = &'a DisruptionBudget> + '_ {
        self.by_namespace
            .get(pod.namespace.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(move |b| b.selector.matches(&pod.spec.labels))
    }
}

/// Key of a budget: `namespace/name`.
pub(crate) fn budget_key(b: &DisruptionBudget) -> String {
    format!("{}/{}", b.namespace, b.name)
}

fn pod_ref(pod: &ClusterPod) -> PodRef {
    PodRef {
        namespace: pod.namespace.clone(),
        name: pod.name.clone(),
    }
}

/// The first rule `pod` breaks, if any. `safe_to_evict: true` overrides the controller,
/// local-storage and kube-system rules (as upstream); budgets are checked separately.
pub(crate) fn pod_blocker(pod: &ClusterPod, budgets: &Budgets<'_>) -> Option<Blocker> {
    match pod.safe_to_evict {
        Some(false) => return Some(Blocker::NotSafeToEvict(pod_ref(pod))),
        Some(true) => return None,
        None => {}
    }
    if pod.controller_kind.is_none() {
        return Some(Blocker::NotReplicated(pod_ref(pod)));
    }
    if pod.has_local_storage {
        return Some(Blocker::LocalStorage(pod_ref(pod)));
    }
    if pod.namespace == "kube-system" && budgets.matching(pod).next().is_none() {
        return Some(Blocker::KubeSystemWithoutPdb(pod_ref(pod)));
    }
    None
}

/// Disruptions the `pods` need per budget: `(budget key, disruptions allowed, needed)`.
pub(crate) fn budget_needs<'a>(
    pods: &[&'a ClusterPod],
    budgets: &Budgets<'a>,
) -> Vec<(String, u32, u32)> {
    let mut needs: Vec<(String, u32, u32)> = Vec::new();
    for pod in pods {
        for b in budgets.matching(pod) {
            let key = budget_key(b);
            match needs.iter_mut().find(|(k, _, _)| *k == key) {
                Some(entry) => entry.2 += 1,
                None => needs.push((key, b.disruptions_allowed, 1)),
            }
        }
    }
    needs
}

/// Whether a pod of a node must move: not a DaemonSet or mirror pod, not finished, not being
/// deleted (its replacement exists already).
pub(crate) fn movable(pod: &ClusterPod) -> bool {
    !pod.is_daemon() && !pod.phase.is_terminal() && !pod.deleting
}

/// Reference of a pod, for reports.
pub(crate) fn reference(pod: &ClusterPod) -> PodRef {
    pod_ref(pod)
}
