//! Topology indexes kept by [`super::ClusterState`] so that anti-affinity and zone spread
//! never scan every pod: zones interned with their nodes, pods indexed by label, and the
//! anti-affinity terms of bound pods with the nodes that hold them.

use foldhash::{HashMap, HashMapExt, HashSet};

use super::model::{LabelSelector, LabelSelectorOperator, Labels, PodSpec};

/// Zones interned to small integers, with the nodes in each.
#[derive(Clone, Debug, Default)]
pub(crate) struct Zones {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    nodes: Vec<Vec<u32>>,
}

impl Zones {
    /// The id of `zone`, interning it.
    pub(crate) fn intern(&mut self, zone: &str) -> u32 {
        if let Some(id) = self.ids.get(zone) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(zone.to_owned());
        self.ids.insert(zone.to_owned(), id);
        self.nodes.push(Vec::new());
        id
    }

    /// The id of `zone` if known.
    pub(crate) fn id(&self, zone: &str) -> Option<u32> {
        self.ids.get(zone).copied()
    }

    /// Number of zones ever seen.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Node slots in zone `id`.
    pub(crate) fn nodes(&self, id: u32) -> &[u32] {
        self.nodes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Zone names with at least one node.
    pub(crate) fn populated(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .zip(&self.nodes)
            .filter(|(_, n)| !n.is_empty())
            .map(|(name, _)| name.as_str())
    }

    pub(crate) fn add_node(&mut self, zone: u32, node: u32) {
        if let Some(list) = self.nodes.get_mut(zone as usize) {
            list.push(node);
        }
    }

    pub(crate) fn remove_node(&mut self, zone: u32, node: u32) {
        if let Some(list) = self.nodes.get_mut(zone as usize) {
            list.retain(|n| *n != node);
        }
    }
}

/// Pods of one namespace, by label.
#[derive(Clone, Debug, Default)]
struct NamespaceIndex {
    all: HashSet<u32>,
    by_label: HashMap<String, HashMap<String, HashSet<u32>>>,
}

/// Bound pods by namespace and label, so a selector's matches are found from its
/// most selective label instead of by a scan.
#[derive(Clone, Debug, Default)]
pub(crate) struct LabelIndex {
    by_namespace: HashMap<String, NamespaceIndex>,
}

impl LabelIndex {
    pub(crate) fn insert(&mut self, slot: u32, pod: &PodSpec) {
        let ns = self.by_namespace.entry(pod.namespace.clone()).or_default();
        ns.all.insert(slot);
        for (k, v) in &pod.labels {
            ns.by_label
                .entry(k.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .insert(slot);
        }
    }

    pub(crate) fn remove(&mut self, slot: u32, pod: &PodSpec) {
        let Some(ns) = self.by_namespace.get_mut(&pod.namespace) else {
            return;
        };
        ns.all.remove(&slot);
        for (k, v) in &pod.labels {
            if let Some(values) = ns.by_label.get_mut(k) {
                if let Some(set) = values.get_mut(v) {
                    set.remove(&slot);
                    if set.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    ns.by_label.remove(k);
                }
            }
        }
        if ns.all.is_empty() {
            self.by_namespace.remove(&pod.namespace);
        }
    }

    /// Pod slots that may match `selector` in `namespace` (a superset; callers still test
    /// each one). Picks the smallest of: one `matchLabels` pair, one `In` expression's values,
    /// or the whole namespace.
    pub(crate) fn candidates<'a>(
        &'a self,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Vec<&'a HashSet<u32>> {
        let Some(ns) = self.by_namespace.get(namespace) else {
            return Vec::new();
        };
        let mut best: Vec<&HashSet<u32>> = vec![&ns.all];
        let mut best_len = ns.all.len();
        for (k, v) in &selector.match_labels {
            match ns.by_label.get(k).and_then(|values| values.get(v)) {
                Some(set) if set.len() < best_len => {
                    best_len = set.len();
                    best = vec![set];
                }
                Some(_) => {}
                None => return Vec::new(),
            }
        }
        for e in &selector.match_expressions {
            if e.operator != LabelSelectorOperator::In {
                continue;
            }
            let values = ns.by_label.get(&e.key);
            let sets: Vec<&HashSet<u32>> = e
                .values
                .iter()
                .filter_map(|v| values.and_then(|vals| vals.get(v)))
                .collect();
            let len: usize = sets.iter().map(|s| s.len()).sum();
            if len < best_len {
                best_len = len;
                best = sets;
            }
        }
        best
    }
}

/// The nodes holding pods with one anti-affinity term.
#[derive(Clone, Debug)]
pub(crate) struct TermHolders {
    pub(crate) selector: LabelSelector,
    pub(crate) holders: HashMap<u32, u32>,
}

/// Required anti-affinity terms of bound pods, per namespace: a handful per namespace
/// (one per workload that uses anti-affinity), each with the nodes holding it.
#[derive(Clone, Debug, Default)]
pub(crate) struct AntiAffinityTerms {
    by_namespace: HashMap<String, Vec<TermHolders>>,
}

impl AntiAffinityTerms {
    pub(crate) fn add(&mut self, pod: &PodSpec, node: u32) {
        if pod.anti_affinity.is_empty() {
            return;
        }
        let terms = self.by_namespace.entry(pod.namespace.clone()).or_default();
        for selector in &pod.anti_affinity {
            let entry = match terms.iter().position(|t| &t.selector == selector) {
                Some(i) => &mut terms[i],
                None => {
                    terms.push(TermHolders {
                        selector: selector.clone(),
                        holders: HashMap::new(),
                    });
                    let last = terms.len() - 1;
                    &mut terms[last]
                }
            };
            *entry.holders.entry(node).or_insert(0) += 1;
        }
    }

    pub(crate) fn remove(&mut self, pod: &PodSpec, node: u32) {
        let Some(terms) = self.by_namespace.get_mut(&pod.namespace) else {
            return;
        };
        for selector in &pod.anti_affinity {
            if let Some(entry) = terms.iter_mut().find(|t| &t.selector == selector)
                && let Some(count) = entry.holders.get_mut(&node)
            {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    entry.holders.remove(&node);
                }
            }
        }
        terms.retain(|t| !t.holders.is_empty());
        if terms.is_empty() {
            self.by_namespace.remove(&pod.namespace);
        }
    }

    /// Terms in `namespace` whose selector matches `labels`.
    pub(crate) fn matching<'a>(
        &'a self,
        namespace: &str,
        labels: &'a Labels,
    ) -> impl Iterator<Item = &'a TermHolders> {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .filter(move |t| t.selector.matches(labels))
    }

    /// The bound term in `namespace` with exactly this selector, if any pod holds it.
    pub(crate) fn matching_selector<'a>(
        &'a self,
        namespace: &str,
        selector: &'a LabelSelector,
    ) -> impl Iterator<Item = &'a TermHolders> {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .filter(move |t| &t.selector == selector)
    }
}
