//! The indexed placement engine behind packing, `find_fit` and `reschedule`.
//!
//! Pods are grouped into equivalence classes (identical scheduling requirements), so a class
//! checks a node at most once for every reason that can only get worse as pods are added
//! (resources, selectors, taints, ports, anti-affinity): a per-class cursor skips those nodes.
//! Anti-affinity and spread use counts per node and per zone of the selectors involved,
//! computed once from the cluster's label index, never by scanning all pods.

use foldhash::{HashMap, HashMapExt};
use std::hash::{Hash, Hasher};

mod existing;

use super::cluster_state::ClusterState;
use super::model::{LabelSelector, NodeSpec, PodSpec, WhenUnsatisfiable};
use super::predicates::{Unfit, node_affinity_matches};
use crate::resources::Resources;

pub(crate) use existing::ExistingOutcome;

/// A selector whose matches the simulation counts (anti-affinity term or spread selector).
pub(crate) struct Tracked<'a> {
    namespace: &'a str,
    selector: &'a LabelSelector,
}

/// One zone spread rule of a class (DoNotSchedule only).
pub(crate) struct SpreadRule {
    pub(crate) tracked: usize,
    pub(crate) max_skew: u32,
    pub(crate) self_match: bool,
}

/// Pods with identical scheduling requirements.
pub(crate) struct Class {
    /// Index (into the simulated pods) of the first member, which stands for all.
    pub(crate) rep: usize,
    /// Member indexes, ascending.
    pub(crate) members: Vec<usize>,
    /// Tracked selectors of the class's own anti-affinity terms.
    pub(crate) own_terms: Vec<usize>,
    /// Tracked anti-affinity terms (of bound or simulated pods) that match this class.
    pub(crate) blocked_by: Vec<usize>,
    /// Tracked selectors that count this class's pods.
    pub(crate) counted_in: Vec<usize>,
    /// Zone spread rules.
    pub(crate) spread: Vec<SpreadRule>,
    /// For spread classes: zones (by id) that are spread domains for this class.
    pub(crate) eligible_zones: Vec<bool>,
}

/// Counts that change as pods are placed, on top of (or instead of) the cluster's.
#[derive(Clone, Default)]
pub(crate) struct Counts {
    /// Per tracked selector: matching pods per node.
    pub(crate) matches: Vec<HashMap<u32, u32>>,
    /// Per tracked selector: pods holding it as anti-affinity term, per node.
    pub(crate) holders: Vec<HashMap<u32, u32>>,
    /// Per tracked selector: matching pods per zone id.
    pub(crate) zones: Vec<Vec<u32>>,
}

impl Counts {
    fn new(tracked: usize, zones: usize) -> Self {
        Self {
            matches: vec![HashMap::new(); tracked],
            holders: vec![HashMap::new(); tracked],
            zones: vec![vec![0; zones]; tracked],
        }
    }

    fn get(map: &[HashMap<u32, u32>], t: usize, node: u32) -> u32 {
        map.get(t).and_then(|m| m.get(&node)).copied().unwrap_or(0)
    }

    /// Records a pod of `class` placed on `node` in `zone`.
    pub(crate) fn record(&mut self, class: &Class, node: u32, zone: Option<u32>) {
        for &t in &class.counted_in {
            if let Some(m) = self.matches.get_mut(t) {
                *m.entry(node).or_insert(0) += 1;
            }
            if let (Some(z), Some(zs)) = (zone, self.zones.get_mut(t))
                && let Some(c) = zs.get_mut(z as usize)
            {
                *c += 1;
            }
        }
        for &t in &class.own_terms {
            if let Some(h) = self.holders.get_mut(t) {
                *h.entry(node).or_insert(0) += 1;
            }
        }
    }
}
/// Scheduling-relevant identity of a pod: everything but its name.
struct Requirements<'a>(&'a PodSpec);

impl PartialEq for Requirements<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_requirements(other.0)
    }
}

impl Eq for Requirements<'_> {}

impl Hash for Requirements<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let p = self.0;
        p.namespace.hash(state);
        p.requests.hash(state);
        p.labels.hash(state);
        p.node_selector.hash(state);
        p.required_node_affinity.hash(state);
        p.tolerations.hash(state);
        p.host_ports.hash(state);
        p.volume_zone.hash(state);
        p.anti_affinity.hash(state);
        p.topology_spread.hash(state);
    }
}

/// A share of `reference` (infinite when the reference has none of a requested resource).
fn share(request: i64, reference: i64) -> f64 {
    match (request > 0, reference > 0) {
        (false, _) => 0.0,
        (true, false) => f64::INFINITY,
        (true, true) => request as f64 / reference as f64,
    }
}

/// Dominant-resource size of `request` relative to `reference` (the largest share).
pub(crate) fn dominant_share(request: &Resources, reference: &Resources) -> f64 {
    let mut s = share(request.cpu_millis, reference.cpu_millis)
        .max(share(request.memory_bytes, reference.memory_bytes))
        .max(share(
            request.ephemeral_storage_bytes,
            reference.ephemeral_storage_bytes,
        ));
    for (name, amount) in &request.extended {
        s = s.max(share(*amount, reference.extended(name)));
    }
    s
}

/// The placement engine: classes and base counts for a set of pods on a cluster.
pub(crate) struct PlacementEngine<'a> {
    pub(crate) cluster: &'a ClusterState,
    pub(crate) pods: &'a [PodSpec],
    pub(crate) excluded: Option<u32>,
    pub(crate) classes: Vec<Class>,
    pub(crate) tracked: Vec<Tracked<'a>>,
    /// Counts from bound pods (excluding the excluded node's).
    pub(crate) base: Counts,
}

impl<'a> PlacementEngine<'a> {
    /// Groups `pods` into classes and counts the bound pods for every selector involved.
    pub(crate) fn new(
        cluster: &'a ClusterState,
        pods: &'a [PodSpec],
        excluded: Option<u32>,
    ) -> Self {
        let mut sim = PlacementEngine {
            cluster,
            pods,
            excluded,
            classes: Vec::new(),
            tracked: Vec::new(),
            base: Counts::default(),
        };
        sim.build_classes();
        sim.track_selectors();
        sim.base = sim.count_bound();
        sim.link_classes();
        sim
    }

    fn build_classes(&mut self) {
        let mut by_req: HashMap<Requirements<'a>, usize> = HashMap::new();
        let pods = self.pods;
        for (i, pod) in pods.iter().enumerate() {
            let next = self.classes.len();
            let c = *by_req.entry(Requirements(pod)).or_insert(next);
            if c == next {
                self.classes.push(Class {
                    rep: i,
                    members: Vec::new(),
                    own_terms: Vec::new(),
                    blocked_by: Vec::new(),
                    counted_in: Vec::new(),
                    spread: Vec::new(),
                    eligible_zones: Vec::new(),
                });
            }
            if let Some(class) = self.classes.get_mut(c) {
                class.members.push(i);
            }
        }
    }

    fn track(&mut self, namespace: &'a str, selector: &'a LabelSelector) -> usize {
        if let Some(i) = self
            .tracked
            .iter()
            .position(|t| t.namespace == namespace && t.selector == selector)
        {
            return i;
        }
        self.tracked.push(Tracked {
            namespace,
            selector,
        });
        self.tracked.len() - 1
    }

    /// Tracks the classes' own terms and spread selectors, and bound terms matching a class.
    fn track_selectors(&mut self) {
        let pods = self.pods;
        let cluster = self.cluster;
        for ci in 0..self.classes.len() {
            let Some(pod) = self.classes.get(ci).and_then(|c| pods.get(c.rep)) else {
                continue;
            };
            let own: Vec<usize> = pod
                .anti_affinity
                .iter()
                .map(|s| self.track(&pod.namespace, s))
                .collect();
            let mut spread = Vec::new();
            for c in &pod.topology_spread {
                if c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule {
                    spread.push(SpreadRule {
                        tracked: self.track(&pod.namespace, &c.selector),
                        max_skew: c.max_skew,
                        self_match: c.selector.matches(&pod.labels),
                    });
                }
            }
            for term in cluster.terms.matching(&pod.namespace, &pod.labels) {
                self.track(&pod.namespace, &term.selector);
            }
            if let Some(class) = self.classes.get_mut(ci) {
                class.own_terms = own;
                class.spread = spread;
            }
        }
    }

    /// Counts bound pods (off the excluded node) for every tracked selector.
    fn count_bound(&self) -> Counts {
        let cluster = self.cluster;
        let mut counts = Counts::new(self.tracked.len(), cluster.zones.len());
        for (t, tr) in self.tracked.iter().enumerate() {
            for set in cluster.labels.candidates(tr.namespace, tr.selector) {
                for slot in set {
                    let Some(Some(bound)) = cluster.pods.get(*slot as usize) else {
                        continue;
                    };
                    if Some(bound.node) == self.excluded || !tr.selector.matches(&bound.spec.labels)
                    {
                        continue;
                    }
                    *counts.matches[t].entry(bound.node).or_insert(0) += 1;
                    let zone = cluster
                        .nodes
                        .get(bound.node as usize)
                        .and_then(|e| e.as_ref()?.zone);
                    if let Some(c) = zone.and_then(|z| counts.zones[t].get_mut(z as usize)) {
                        *c += 1;
                    }
                }
            }
            for term in cluster.terms.matching_selector(tr.namespace, tr.selector) {
                for (node, n) in &term.holders {
                    if Some(*node) != self.excluded {
                        *counts.holders[t].entry(*node).or_insert(0) += n;
                    }
                }
            }
        }
        counts
    }

    /// Fills each class's `counted_in`, `blocked_by` and spread domains.
    fn link_classes(&mut self) {
        let is_term: Vec<bool> = (0..self.tracked.len())
            .map(|t| {
                self.base.holders.get(t).is_some_and(|h| !h.is_empty())
                    || self.classes.iter().any(|c| c.own_terms.contains(&t))
            })
            .collect();
        let pods = self.pods;
        for ci in 0..self.classes.len() {
            let Some(pod) = self.classes.get(ci).and_then(|c| pods.get(c.rep)) else {
                continue;
            };
            let mut counted_in = Vec::new();
            let mut blocked_by = Vec::new();
            for (t, tr) in self.tracked.iter().enumerate() {
                if tr.namespace == pod.namespace && tr.selector.matches(&pod.labels) {
                    counted_in.push(t);
                    if is_term.get(t).copied().unwrap_or(false) {
                        blocked_by.push(t);
                    }
                }
            }
            let eligible = if pod.topology_spread.is_empty() {
                Vec::new()
            } else {
                self.spread_domains(pod)
            };
            if let Some(class) = self.classes.get_mut(ci) {
                class.counted_in = counted_in;
                class.blocked_by = blocked_by;
                class.eligible_zones = eligible;
            }
        }
    }

    /// Zones with a node (other than the excluded one) the pod's node selector/affinity accepts.
    fn spread_domains(&self, pod: &PodSpec) -> Vec<bool> {
        let zones = &self.cluster.zones;
        (0..zones.len())
            .map(|z| {
                let z = u32::try_from(z).unwrap_or(u32::MAX);
                zones.nodes(z).iter().any(|slot| {
                    Some(*slot) != self.excluded
                        && self
                            .cluster
                            .nodes
                            .get(*slot as usize)
                            .and_then(Option::as_ref)
                            .is_some_and(|e| node_affinity_matches(pod, &e.spec))
                })
            })
            .collect()
    }

    /// The representative pod of a class.
    pub(crate) fn rep(&self, class: &Class) -> &'a PodSpec {
        let pods: &'a [PodSpec] = self.pods;
        &pods[class.rep]
    }

    /// Classes ordered largest first by dominant share of `reference`, ties by first appearance.
    pub(crate) fn class_order(&self, reference: &Resources) -> Vec<usize> {
        let sizes: Vec<f64> = self
            .classes
            .iter()
            .map(|c| dominant_share(&self.rep(c).requests, reference))
            .collect();
        let mut order: Vec<usize> = (0..self.classes.len()).collect();
        order.sort_by(|a, b| sizes[*b].total_cmp(&sizes[*a]).then(a.cmp(b)));
        order
    }

    /// Which zones (by id, `zone_counts` indexed alike) the next pod of `class` may go to
    /// under its spread rules; `eligible` marks the domains.
    pub(crate) fn allowed_zones(
        class: &Class,
        zone_counts: &[Vec<u32>],
        eligible: &[bool],
    ) -> Vec<bool> {
        let mut allowed: Vec<bool> = eligible.to_vec();
        for rule in &class.spread {
            let counts = zone_counts
                .get(rule.tracked)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let count = |z: usize| i64::from(counts.get(z).copied().unwrap_or(0));
            let min = (0..eligible.len())
                .filter(|z| eligible[*z])
                .map(count)
                .min()
                .unwrap_or(0);
            for (z, ok) in allowed.iter_mut().enumerate() {
                let after = count(z) + i64::from(rule.self_match);
                if after - min > i64::from(rule.max_skew) {
                    *ok = false;
                }
            }
        }
        allowed
    }

    /// Anti-affinity both ways from base counts plus `delta`.
    pub(crate) fn check_terms(
        &self,
        class: &Class,
        node: u32,
        delta: &Counts,
    ) -> Result<(), Unfit> {
        for &t in &class.own_terms {
            if Counts::get(&self.base.matches, t, node) + Counts::get(&delta.matches, t, node) > 0 {
                return Err(Unfit::AntiAffinity);
            }
        }
        for &t in &class.blocked_by {
            if Counts::get(&self.base.holders, t, node) + Counts::get(&delta.holders, t, node) > 0 {
                return Err(Unfit::ExistingAntiAffinity);
            }
        }
        Ok(())
    }
}

/// The spread failure for a node (its zone, the tightest maxSkew).
pub(crate) fn spread_unfit(node: &NodeSpec, class: &Class) -> Unfit {
    Unfit::TopologySpread {
        zone: node.zone().unwrap_or_default().to_owned(),
        max_skew: class.spread.iter().map(|r| r.max_skew).min().unwrap_or(0),
    }
}
