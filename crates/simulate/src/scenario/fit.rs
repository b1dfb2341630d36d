//! Load-time check that every workload can run somewhere: some pool's node (its template, as
//! the autoscaler builds it, in one of the pool's zones) matches the pod's node selector and
//! tolerations and has room for one pod beside the daemonsets that node carries. A workload
//! that fits no pool is an error naming the resource and the pool that comes closest, not a
//! day of pending pods.

use std::sync::Arc;

use tidal_cluster_autoscaler::config::TemplateSettings;
use tidal_cluster_autoscaler::node_pool::NodePools;
use tidal_core::resources::{ResourceName, Resources};
use tidal_core::scheduling::predicates::static_fit;
use tidal_core::scheduling::{NodeSpec, PodSpec};

use super::validate::Validator;
use super::{ScenarioError, Workload};

/// A pool's template node in one zone.
struct Template {
    pool: String,
    types: String,
    node: NodeSpec,
}

/// Builds every pool's template node in each of its zones.
fn templates(
    v: &Validator<'_>,
    pools: &NodePools,
    zones: &[String],
    region: &str,
    settings: &TemplateSettings,
) -> Result<Vec<Template>, ScenarioError> {
    let mut out = Vec::new();
    for (i, pool) in pools.pools().iter().enumerate() {
        for zone in pool.zones.as_deref().unwrap_or(zones) {
            let node = crate::instances::pool_node(
                pool,
                zone,
                "template",
                &pool.instance_types,
                region,
                settings,
            )
            .map_err(|e| v.invalid(format!("node_pools[{i}].instance_types"), e))?;
            out.push(Template {
                pool: pool.name.clone(),
                types: pool.instance_types.join(", "),
                node,
            });
        }
    }
    Ok(out)
}

/// What is left of `node` for workload pods: allocatable minus the daemonsets it carries.
fn free_for_workloads(node: &NodeSpec, daemonsets: &[Arc<PodSpec>]) -> Resources {
    daemonsets
        .iter()
        .filter(|d| static_fit(d, node).is_ok())
        .fold(node.allocatable.clone(), |free, d| {
            free.saturating_sub(&d.requests)
        })
}

/// Checks that each workload's pod fits at least one pool.
pub(super) fn check_workloads(
    v: &Validator<'_>,
    scenario: &super::Scenario,
) -> Result<(), ScenarioError> {
    let templates = templates(
        v,
        &scenario.node_pools,
        &scenario.zones,
        &scenario.region,
        &scenario.autoscaler.template,
    )?;
    for (i, w) in scenario.workloads.iter().enumerate() {
        check_workload(v, i, w, &templates, &scenario.daemonsets)?;
    }
    Ok(())
}

fn check_workload(
    v: &Validator<'_>,
    i: usize,
    w: &Workload,
    templates: &[Template],
    daemonsets: &[Arc<PodSpec>],
) -> Result<(), ScenarioError> {
    let mut matching = Vec::new();
    let mut refusals: Vec<String> = Vec::new();
    for t in templates {
        match static_fit(&w.pod, &t.node) {
            Ok(()) => matching.push((t, free_for_workloads(&t.node, daemonsets))),
            Err(why) => {
                let line = format!("pool {:?}: {why}", t.pool);
                if !refusals.contains(&line) {
                    refusals.push(line);
                }
            }
        }
    }
    if matching.is_empty() {
        let field = if w.pod.node_selector.is_empty() {
            "tolerations"
        } else {
            "node_selector"
        };
        return Err(v.invalid(
            format!("workloads[{i}].{field}"),
            format!("no node pool can run {:?}: {}", w.name, refusals.join("; ")),
        ));
    }
    if matching
        .iter()
        .any(|(_, free)| w.pod.requests.first_shortage(free).is_none())
    {
        return Ok(());
    }
    Err(too_big(v, i, w, &matching))
}

/// The error for a pod no matching pool has room for: the first resource short, and the
/// matching pool offering the most of it.
fn too_big(
    v: &Validator<'_>,
    i: usize,
    w: &Workload,
    matching: &[(&Template, Resources)],
) -> ScenarioError {
    let short = matching
        .iter()
        .find_map(|(_, free)| w.pod.requests.first_shortage(free))
        .unwrap_or(ResourceName::Cpu);
    let amount = |r: &Resources| match short {
        ResourceName::Cpu => r.cpu_millis,
        ResourceName::Memory => r.memory_bytes,
        _ => r.pods,
    };
    // The first pool offering the most (`max_by_key` would pick the last of equals).
    let Some((mut best, rest)) = matching.split_first() else {
        return v.invalid(format!("workloads[{i}]"), "fits no node pool".into());
    };
    for m in rest {
        if amount(&m.1) > amount(&best.1) {
            best = m;
        }
    }
    let (t, free) = best;
    let (field, need, have) = match short {
        ResourceName::Cpu => (
            "requests.cpu",
            cores(w.pod.requests.cpu_millis),
            cores(free.cpu_millis),
        ),
        ResourceName::Memory => (
            "requests.memory",
            gib(w.pod.requests.memory_bytes),
            gib(free.memory_bytes),
        ),
        _ => (
            "requests",
            format!("{} pods", w.pod.requests.pods),
            format!("{} pods", free.pods),
        ),
    };
    v.invalid(
        format!("workloads[{i}].{field}"),
        format!(
            "one pod of {:?} needs {need}, but no node pool has that much {short}: the \
             biggest, pool {:?} ({}), offers {have} per node after system reservations and \
             daemonsets",
            w.name, t.pool, t.types,
        ),
    )
}

fn cores(millis: i64) -> String {
    format!("{} CPU", millis as f64 / 1000.0)
}

fn gib(bytes: i64) -> String {
    format!("{:.1} GiB memory", bytes as f64 / (1u64 << 30) as f64)
}
