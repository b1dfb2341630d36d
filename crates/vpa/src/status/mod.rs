//! The VPA status the recommender writes: the recommendation (from the core, merged with the
//! last one so that missing data never lowers it) and the conditions, and the rule for when a
//! new status is worth a write.

mod conditions;
mod recommendation;

pub use conditions::{Condition, ConditionKind, conditions};
pub use recommendation::{Merge, merge};

use std::collections::BTreeMap;

use tidal_core::quantity::{parse_bytes, parse_cpu_millis};

use crate::crd::{RecommendedContainerResources, ResourceList, VerticalPodAutoscalerStatus};

/// Whether `new` differs from `old` enough to be written: another set of conditions (type,
/// status, reason, message), another set of containers, or a value that moved by more than
/// `threshold` (a fraction) of the old one.
pub fn changed_meaningfully(
    old: Option<&VerticalPodAutoscalerStatus>,
    new: &VerticalPodAutoscalerStatus,
    threshold: f64,
) -> bool {
    let Some(old) = old else { return true };
    let key =
        |s: &VerticalPodAutoscalerStatus| -> Vec<(String, String, Option<String>, Option<String>)> {
            let mut v: Vec<_> = s
                .conditions
                .iter()
                .map(|c| {
                    (
                        c.type_.clone(),
                        c.status.clone(),
                        c.reason.clone(),
                        c.message.clone(),
                    )
                })
                .collect();
            v.sort();
            v
        };
    if key(old) != key(new) {
        return true;
    }
    let containers =
        |s: &VerticalPodAutoscalerStatus| -> BTreeMap<String, RecommendedContainerResources> {
            s.recommendation
                .iter()
                .flat_map(|r| &r.container_recommendations)
                .map(|c| (c.container_name.clone(), c.clone()))
                .collect()
        };
    let (old, new) = (containers(old), containers(new));
    if old.keys().ne(new.keys()) {
        return true;
    }
    old.values().zip(new.values()).any(|(a, b)| {
        lists_differ(&a.target, &b.target, threshold)
            || lists_differ(&a.lower_bound, &b.lower_bound, threshold)
            || lists_differ(&a.upper_bound, &b.upper_bound, threshold)
            || lists_differ(&a.uncapped_target, &b.uncapped_target, threshold)
    })
}

fn lists_differ(a: &ResourceList, b: &ResourceList, threshold: f64) -> bool {
    if a.keys().ne(b.keys()) {
        return true;
    }
    a.iter().zip(b.values()).any(
        |((name, x), y)| match (amount(name, &x.0), amount(name, &y.0)) {
            (Some(x), Some(y)) => {
                let base = x.abs().max(1) as f64;
                (x - y).abs() as f64 / base > threshold
            }
            _ => x != y,
        },
    )
}

/// A quantity of `resource` in the core's unit (millicores, bytes).
pub(crate) fn amount(resource: &str, text: &str) -> Option<i64> {
    match resource {
        "cpu" => parse_cpu_millis(text).ok(),
        _ => parse_bytes(text).ok(),
    }
}

#[cfg(test)]
mod tests;
