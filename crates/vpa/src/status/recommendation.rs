//! The recommendation to write: the core's, rendered as quantities, merged with the last one
//! written so that missing data never lowers a value.
//!
//! - With data (metrics read, history loaded, pods matched), the core's recommendation
//!   replaces the last one: it may go down, because the usage did.
//! - Without it, every value is the larger of the last and the new one, and a container the
//!   core has nothing for keeps its last entry.
//! - Either way, a container the core has nothing for keeps its last entry while its pods still
//!   run it (e.g. just after a restart without a checkpoint), and a container switched `Off`
//!   is dropped.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tidal_core::vpa::{Amounts, ResourcePolicy, VpaRecommendation, VpaResource};

use super::amount;
use crate::crd::{RecommendedContainerResources, RecommendedPodResources, ResourceList};

/// What the merge needs besides the two recommendations.
pub struct Merge<'a> {
    /// Whether this loop lacks data it would normally have.
    pub data_missing: bool,
    /// Container names the VPA's pods run now.
    pub running: &'a BTreeSet<String>,
    /// The VPA's policy (containers switched off are dropped).
    pub policy: &'a ResourcePolicy,
}

/// The recommendation to write, `None` if there is nothing to recommend.
pub fn merge(
    previous: Option<&RecommendedPodResources>,
    computed: &VpaRecommendation,
    how: &Merge<'_>,
) -> Option<RecommendedPodResources> {
    let mut out: BTreeMap<String, RecommendedContainerResources> = BTreeMap::new();
    let previous: BTreeMap<&str, &RecommendedContainerResources> = previous
        .iter()
        .flat_map(|r| &r.container_recommendations)
        .map(|c| (c.container_name.as_str(), c))
        .collect();
    for c in &computed.containers {
        let mut rendered = RecommendedContainerResources {
            container_name: c.container_name.clone(),
            target: render(&c.target),
            lower_bound: render(&c.lower_bound),
            upper_bound: render(&c.upper_bound),
            uncapped_target: render(&c.uncapped_target),
        };
        if how.data_missing
            && let Some(prev) = previous.get(c.container_name.as_str())
        {
            rendered = larger(prev, &rendered);
        }
        out.insert(c.container_name.clone(), rendered);
    }
    for (name, prev) in previous {
        let keep = how.data_missing || how.running.contains(name);
        if keep && how.policy.is_enabled(name) && !out.contains_key(name) {
            out.insert(name.to_owned(), prev.clone());
        }
    }
    (!out.is_empty()).then(|| RecommendedPodResources {
        container_recommendations: out.into_values().collect(),
    })
}

fn render(a: &Amounts) -> ResourceList {
    let mut out = ResourceList::new();
    for resource in VpaResource::ALL {
        if let Some(v) = a.get(resource) {
            let text = match resource {
                VpaResource::Cpu => format!("{v}m"),
                VpaResource::Memory => v.to_string(),
            };
            out.insert(resource.as_str().to_owned(), Quantity(text));
        }
    }
    out
}

fn larger(
    a: &RecommendedContainerResources,
    b: &RecommendedContainerResources,
) -> RecommendedContainerResources {
    RecommendedContainerResources {
        container_name: b.container_name.clone(),
        target: larger_list(&a.target, &b.target),
        lower_bound: larger_list(&a.lower_bound, &b.lower_bound),
        upper_bound: larger_list(&a.upper_bound, &b.upper_bound),
        uncapped_target: larger_list(&a.uncapped_target, &b.uncapped_target),
    }
}

/// Per resource of `b` (the new list decides which resources are controlled), the larger
/// value of the two.
fn larger_list(a: &ResourceList, b: &ResourceList) -> ResourceList {
    b.iter()
        .map(|(name, new)| {
            let old = a.get(name);
            let keep_old = old.is_some_and(|old| {
                matches!((amount(name, &old.0), amount(name, &new.0)), (Some(o), Some(n)) if o > n)
            });
            let value = if keep_old {
                old.cloned().unwrap_or_else(|| new.clone())
            } else {
                new.clone()
            };
            (name.clone(), value)
        })
        .collect()
}
