//! Why pending pods get no scale-up: one line per equivalence class, naming the groups and
//! what each lacked, for the NotTriggerScaleUp event.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use tidal_core::scheduling::{ClusterState, PackResult, PodSpec, ScaleUpSimulation};

use super::{Unhelped, group_limit};
use crate::groups::GroupView;
use crate::status::format_time;

/// Hash of everything the predicates look at (the name is left out), so equal pods share a class.
pub(crate) fn requirements_hash(p: &PodSpec) -> u64 {
    let mut h = DefaultHasher::new();
    p.namespace.hash(&mut h);
    p.requests.hash(&mut h);
    p.labels.hash(&mut h);
    p.node_selector.hash(&mut h);
    p.required_node_affinity.hash(&mut h);
    p.tolerations.hash(&mut h);
    p.host_ports.hash(&mut h);
    p.volume_zone.hash(&mut h);
    p.anti_affinity.hash(&mut h);
    p.topology_spread.hash(&mut h);
    h.finish()
}

/// Groups `indexes` (into `pods`) into equivalence classes, in order of first appearance.
pub(crate) fn classes(pods: &[PodSpec], indexes: &[usize]) -> Vec<Vec<usize>> {
    let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut classes: Vec<Vec<usize>> = Vec::new();
    for &i in indexes {
        let Some(pod) = pods.get(i) else { continue };
        let candidates = by_hash.entry(requirements_hash(pod)).or_default();
        let found = candidates.iter().copied().find(|c| {
            classes
                .get(*c)
                .and_then(|members| members.first())
                .and_then(|rep| pods.get(*rep))
                .is_some_and(|rep| rep.same_requirements(pod))
        });
        match found.and_then(|c| classes.get_mut(c)) {
            Some(members) => members.push(i),
            None => {
                candidates.push(classes.len());
                classes.push(vec![i]);
            }
        }
    }
    classes
}

/// Explains, per class of the `remaining` pods, what every group lacked.
pub(super) fn explain(
    cluster: &ClusterState,
    groups: &[GroupView],
    desired: &[u32],
    headroom: Option<u32>,
    pending: &[PodSpec],
    remaining: &[usize],
) -> Vec<Unhelped> {
    let specs: Vec<PodSpec> = remaining
        .iter()
        .filter_map(|i| pending.get(*i).cloned())
        .collect();
    let sim = ScaleUpSimulation::new(&specs, cluster);
    let per_group: Vec<Result<PackResult, String>> = groups
        .iter()
        .zip(desired)
        .map(|(g, d)| group_result(&sim, g, *d, headroom))
        .collect();
    let positions: Vec<usize> = (0..specs.len()).collect();
    classes(&specs, &positions)
        .into_iter()
        .map(|members| {
            let rep = members.first().copied().unwrap_or(0);
            let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (g, result) in groups.iter().zip(&per_group) {
                let why = match result {
                    Err(why) => why.clone(),
                    Ok(r) => r.unplaced.iter().find(|(k, _)| *k == rep).map_or_else(
                        || "chosen for other pods already".to_owned(),
                        |(_, u)| u.to_string(),
                    ),
                };
                by_reason.entry(why).or_default().push(g.id.to_string());
            }
            Unhelped {
                pods: members
                    .iter()
                    .filter_map(|k| remaining.get(*k).copied())
                    .collect(),
                reason: message(by_reason),
            }
        })
        .collect()
}

fn group_result(
    sim: &ScaleUpSimulation<'_>,
    g: &GroupView,
    desired: u32,
    headroom: Option<u32>,
) -> Result<PackResult, String> {
    if let Some(until) = g.backed_off_until {
        return Err(format!(
            "backed off until {} after a failed scale-up",
            format_time(until)
        ));
    }
    let Some(template) = &g.template else {
        return Err("template node unknown (instance types not available)".to_owned());
    };
    if g.max_size <= desired {
        return Err(format!("at its maximum size {}", g.max_size));
    }
    if headroom == Some(0) {
        return Err("cluster node limit reached".to_owned());
    }
    Ok(sim.pack_group(template, group_limit(g, desired, headroom)))
}

fn message(by_reason: BTreeMap<String, Vec<String>>) -> String {
    if by_reason.is_empty() {
        return "no node groups".to_owned();
    }
    let mut parts: Vec<(String, Vec<String>)> = by_reason.into_iter().collect();
    parts.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let lines: Vec<String> = parts
        .into_iter()
        .map(|(why, names)| {
            let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
            let more = names.len().saturating_sub(shown.len());
            let list = if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            format!("{list}: {why}")
        })
        .collect();
    format!("pod didn't trigger scale-up: {}", lines.join("; "))
}
