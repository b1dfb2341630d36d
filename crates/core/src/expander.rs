//! Expanders: which node group to scale up when several could help the pending pods.
//!
//! Each expander filters the options; an [`ExpanderChain`] applies them in order and breaks
//! the remaining ties deterministically: the group with the fewest nodes, then the group
//! name. This is the one implementation of the rule: the cluster autoscaler and the
//! benchmarks both run it.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// One way to scale up: a node group, how many nodes, and what it achieves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpansionOption {
    /// Node group id (e.g. pool name and zone).
    pub group: String,
    /// The group's priority (higher wins with [`PriorityExpander`]).
    pub priority: i32,
    /// New nodes needed.
    pub node_count: u32,
    /// Pending pods the new nodes would take.
    pub pods: usize,
    /// `(freeCPU/CPU)+(freeMem/Mem)` over the new nodes after packing (lower is better).
    pub waste: f64,
    /// Nodes the group has (its desired capacity) before this option: among equal choices
    /// the smaller group wins, which spreads them over zones instead of always growing the
    /// first one.
    pub group_size: u32,
}

/// Narrows a list of options; never returns an option that was not given.
pub trait Expander: Send + Sync {
    /// Short name for logs and metrics (`priority`, `least-waste`, `random`).
    fn name(&self) -> &'static str;
    /// The options this expander prefers (all of them when it has no preference).
    fn filter<'a>(&self, options: Vec<&'a ExpansionOption>) -> Vec<&'a ExpansionOption>;
}

/// Keeps every option with the highest priority (ties go to the next expander).
#[derive(Clone, Copy, Debug, Default)]
pub struct PriorityExpander;

impl Expander for PriorityExpander {
    fn name(&self) -> &'static str {
        "priority"
    }

    fn filter<'a>(&self, options: Vec<&'a ExpansionOption>) -> Vec<&'a ExpansionOption> {
        let Some(best) = options.iter().map(|o| o.priority).max() else {
            return options;
        };
        options.into_iter().filter(|o| o.priority == best).collect()
    }
}

/// Keeps the options with the lowest waste; equal waste keeps all.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastWasteExpander;

impl Expander for LeastWasteExpander {
    fn name(&self) -> &'static str {
        "least-waste"
    }

    fn filter<'a>(&self, options: Vec<&'a ExpansionOption>) -> Vec<&'a ExpansionOption> {
        let best = options
            .iter()
            .map(|o| o.waste)
            .filter(|w| !w.is_nan())
            .reduce(f64::min);
        match best {
            Some(best) => options.into_iter().filter(|o| o.waste == best).collect(),
            None => options,
        }
    }
}

/// Keeps one option at random; the seed is injected, so a run is reproducible.
#[derive(Debug)]
pub struct RandomExpander {
    state: AtomicU64,
}

impl RandomExpander {
    /// A random expander whose sequence of picks is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// The next number of the splitmix64 sequence (small, fast, good enough to pick a group).
    fn next(&self) -> u64 {
        const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Expander for RandomExpander {
    fn name(&self) -> &'static str {
        "random"
    }

    fn filter<'a>(&self, mut options: Vec<&'a ExpansionOption>) -> Vec<&'a ExpansionOption> {
        if options.len() <= 1 {
            return options;
        }
        // Sort first so the pick depends on the seed, not on the caller's order.
        options.sort_by(|a, b| a.group.cmp(&b.group));
        let len = options.len() as u64;
        let pick = usize::try_from(self.next() % len).unwrap_or(0);
        options.swap(0, pick);
        options.truncate(1);
        options
    }
}

/// Expanders applied in order; among what remains, the smallest group, then the first group
/// by name wins.
pub struct ExpanderChain {
    expanders: Vec<Box<dyn Expander>>,
}

impl ExpanderChain {
    /// A chain of the given expanders (e.g. priority, then least-waste).
    pub fn new(expanders: Vec<Box<dyn Expander>>) -> Self {
        Self { expanders }
    }

    /// Names of the expanders in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.expanders.iter().map(|e| e.name()).collect()
    }

    /// The chosen option; `None` when there are no options. Options that help no pod are
    /// never chosen. An expander that would drop every option is skipped.
    pub fn best<'a>(&self, options: &'a [ExpansionOption]) -> Option<&'a ExpansionOption> {
        self.best_index(options).and_then(|i| options.get(i))
    }

    /// The index (into `options`) of the option [`ExpanderChain::best`] chooses.
    pub fn best_index(&self, options: &[ExpansionOption]) -> Option<usize> {
        let mut remaining: Vec<&ExpansionOption> = options.iter().filter(|o| o.pods > 0).collect();
        for expander in &self.expanders {
            if remaining.len() <= 1 {
                break;
            }
            let kept = expander.filter(remaining.clone());
            if !kept.is_empty() {
                remaining = kept;
            }
        }
        let index_of = |o: &ExpansionOption| options.iter().position(|d| std::ptr::eq(d, o));
        remaining
            .into_iter()
            .min_by(|a, b| (a.group_size, &a.group).cmp(&(b.group_size, &b.group)))
            .and_then(index_of)
    }
}

impl std::fmt::Debug for ExpanderChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpanderChain")
            .field("expanders", &self.names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn opt(group: &str, priority: i32, waste: f64) -> ExpansionOption {
        ExpansionOption {
            group: group.to_owned(),
            priority,
            node_count: 1,
            pods: 3,
            waste,
            group_size: 0,
        }
    }

    fn groups(v: &[&ExpansionOption]) -> Vec<String> {
        v.iter().map(|o| o.group.clone()).collect()
    }

    #[test]
    fn priority_keeps_all_with_the_highest_priority() {
        let opts = [
            opt("a", 0, 0.1),
            opt("b", 10, 0.5),
            opt("c", 10, 0.2),
            opt("d", -10, 0.0),
        ];
        let kept = PriorityExpander.filter(opts.iter().collect());
        assert_eq!(groups(&kept), vec!["b", "c"]);
        assert!(PriorityExpander.filter(vec![]).is_empty());
    }

    #[test]
    fn least_waste_keeps_the_lowest_and_ties() {
        let opts = [
            opt("a", 0, 0.4),
            opt("b", 0, 0.2),
            opt("c", 0, 0.2),
            opt("d", 0, f64::NAN),
        ];
        let kept = LeastWasteExpander.filter(opts.iter().collect());
        assert_eq!(groups(&kept), vec!["b", "c"]);
    }

    #[test]
    fn random_is_deterministic_per_seed_and_independent_of_input_order() {
        let opts: Vec<ExpansionOption> = (0..8).map(|i| opt(&format!("g{i}"), 0, 0.0)).collect();
        let picks = |seed: u64, reversed: bool| {
            let r = RandomExpander::new(seed);
            (0..20)
                .map(|_| {
                    let mut v: Vec<&ExpansionOption> = opts.iter().collect();
                    if reversed {
                        v.reverse();
                    }
                    let kept = r.filter(v);
                    assert_eq!(kept.len(), 1);
                    kept[0].group.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(42, false), picks(42, true));
        assert_ne!(picks(42, false), picks(43, false));
        let distinct: std::collections::BTreeSet<_> = picks(7, false).into_iter().collect();
        assert!(
            distinct.len() > 3,
            "random picks spread over groups: {distinct:?}"
        );
    }

    #[test]
    fn chain_priority_then_least_waste() {
        let chain = ExpanderChain::new(vec![
            Box::new(PriorityExpander),
            Box::new(LeastWasteExpander),
        ]);
        let opts = [
            opt("spot", 10, 0.6),
            opt("spot-b", 10, 0.3),
            opt("default", 0, 0.0),
        ];
        assert_eq!(chain.best(&opts).unwrap().group, "spot-b");
        assert_eq!(chain.names(), vec!["priority", "least-waste"]);
    }

    #[test]
    fn chain_breaks_remaining_ties_by_group_name() {
        let chain = ExpanderChain::new(vec![Box::new(PriorityExpander)]);
        let opts = [
            opt("zeta", 1, 0.0),
            opt("alpha", 1, 0.5),
            opt("beta", 0, 0.0),
        ];
        assert_eq!(chain.best(&opts).unwrap().group, "alpha");
        let empty = ExpanderChain::new(vec![]);
        assert_eq!(empty.best(&opts).unwrap().group, "alpha");
    }

    #[test]
    fn chain_prefers_the_smaller_group_before_the_name() {
        let chain = ExpanderChain::new(vec![Box::new(PriorityExpander)]);
        let mut big = opt("a/zone-1", 1, 0.0);
        big.group_size = 3;
        let mut small = opt("a/zone-2", 1, 0.0);
        small.group_size = 1;
        let opts = [big, small];
        assert_eq!(chain.best(&opts).unwrap().group, "a/zone-2");
        assert_eq!(chain.best_index(&opts), Some(1));
    }

    #[test]
    fn chain_ignores_options_helping_no_pod_and_handles_empty() {
        let chain = ExpanderChain::new(vec![Box::new(LeastWasteExpander)]);
        assert!(chain.best(&[]).is_none());
        let mut useless = opt("a", 0, 0.0);
        useless.pods = 0;
        let opts = [useless.clone(), opt("b", 0, 0.9)];
        assert_eq!(chain.best(&opts).unwrap().group, "b");
        assert!(chain.best(&[useless]).is_none());
    }

    #[test]
    fn chain_with_random_is_reproducible() {
        let opts: Vec<ExpansionOption> = (0..5).map(|i| opt(&format!("g{i}"), 0, 0.1)).collect();
        let run = |seed| {
            let chain = ExpanderChain::new(vec![
                Box::new(LeastWasteExpander),
                Box::new(RandomExpander::new(seed)),
            ]);
            (0..10)
                .map(|_| chain.best(&opts).unwrap().group.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
    }
}
