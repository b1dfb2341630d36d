//! Template nodes per pool and zone, built from the pool's instance types so a pool can be
//! scaled up from zero nodes. Instance types are fetched once per pool and cached; a pool
//! whose fetch or build failed is retried on the next loop.
//!
//! What the cloud says about a group's nodes ([`NodeTemplate`], on AWS the ASG's node-template
//! tags) is merged in: its labels are added to the pool's (and override them; the well-known
//! labels such as zone, instance type and hostname stay what the instance data says), its taints
//! are added (one per key and effect, the group's winning), and its resources set the node's
//! capacity. A template is cached per group together with what it was built from, so a changed
//! tag rebuilds it on the next loop.

use std::collections::BTreeMap;
use std::sync::Arc;

use tidal_core::instance::{
    InstanceError, InstanceType, ReservedConfig, TemplateSpec, template_node,
};
use tidal_core::resources::{ResourceName, Resources};
use tidal_core::scheduling::{NodeSpec, Taint};

use crate::config::TemplateSettings;
use crate::node_pool::{NodePool, NodePools};
use crate::ports::{NodeGroup, NodeGroupId, NodeTemplate};

/// Why a template could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The cloud did not describe some of the pool's instance types.
    #[error("pool {pool}: instance types unknown to the cloud: {}", missing.join(", "))]
    UnknownTypes {
        /// Pool name.
        pool: String,
        /// Types the cloud did not return.
        missing: Vec<String>,
    },
    /// The pool's instance types are not cached (their fetch failed or did not happen yet).
    #[error("pool {0}: instance types not loaded yet")]
    NotLoaded(String),
    /// The instance data cannot make a node (e.g. no allocatable memory, mixed architectures).
    #[error("pool {pool}: {source}")]
    Instance {
        /// Pool name.
        pool: String,
        /// The core's error.
        #[source]
        source: InstanceError,
    },
}

/// Cache of instance types per pool and template nodes per group.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    types: BTreeMap<String, Vec<InstanceType>>,
    nodes: BTreeMap<NodeGroupId, Cached>,
}

/// A group's template node and what it was built from.
#[derive(Clone, Debug)]
struct Cached {
    /// The ASG the node was built for (problems name it).
    asg_name: String,
    /// The group's node-template data at build time: a change means a rebuild.
    source: NodeTemplate,
    node: Arc<NodeSpec>,
    /// Resource tags that were left out while building.
    problems: Vec<String>,
}

impl Templates {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pools whose instance types are not cached yet.
    pub fn missing<'a>(&self, pools: &'a NodePools) -> Vec<&'a NodePool> {
        pools
            .pools()
            .iter()
            .filter(|p| !self.types.contains_key(&p.name))
            .collect()
    }

    /// Caches `described` (what the cloud returned) for `pool`, in the pool's order; fails
    /// (caching nothing) if a type is missing.
    pub fn set_types(
        &mut self,
        pool: &NodePool,
        described: Vec<InstanceType>,
    ) -> Result<(), TemplateError> {
        let mut by_name: BTreeMap<String, InstanceType> =
            described.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut ordered = Vec::with_capacity(pool.instance_types.len());
        let mut missing = Vec::new();
        for name in &pool.instance_types {
            match by_name.remove(name) {
                Some(t) => ordered.push(t),
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(TemplateError::UnknownTypes {
                pool: pool.name.clone(),
                missing,
            });
        }
        self.nodes.retain(|id, _| id.pool != pool.name);
        self.types.insert(pool.name.clone(), ordered);
        Ok(())
    }

    /// The template node of `group` (of `pool`), built on first use and cached until the group's
    /// node-template data or ASG changes. Problems with the group's template data (malformed
    /// tags, resource tags left out) are added to `problems` (once each) on every call, also
    /// when the template cannot be built; they never make the build fail.
    pub fn template(
        &mut self,
        pool: &NodePool,
        group: &NodeGroup,
        settings: &TemplateSettings,
        problems: &mut Vec<String>,
    ) -> Result<Arc<NodeSpec>, TemplateError> {
        add_problems(problems, &group.template.problems);
        if let Some(cached) = self.nodes.get(&group.id)
            && cached.asg_name == group.asg_name
            && cached.source == group.template
        {
            add_problems(problems, &cached.problems);
            return Ok(Arc::clone(&cached.node));
        }
        let types = self
            .types
            .get(&pool.name)
            .ok_or_else(|| TemplateError::NotLoaded(pool.name.clone()))?;
        let (node, built_problems) = build(pool, group, types, settings)?;
        add_problems(problems, &built_problems);
        let node = Arc::new(node);
        let cached = Cached {
            asg_name: group.asg_name.clone(),
            source: group.template.clone(),
            node: Arc::clone(&node),
            problems: built_problems,
        };
        self.nodes.insert(group.id.clone(), cached);
        Ok(node)
    }
}

fn add_problems(problems: &mut Vec<String>, new: &[String]) {
    for p in new {
        if !problems.contains(p) {
            problems.push(p.clone());
        }
    }
}

/// Builds the template node of `group` from the pool, its instance types and the group's
/// node-template data; returns the resource tags that had to be left out.
fn build(
    pool: &NodePool,
    group: &NodeGroup,
    types: &[InstanceType],
    settings: &TemplateSettings,
) -> Result<(NodeSpec, Vec<String>), TemplateError> {
    let tags = &group.template;
    let zone = group.id.zone.as_str();
    // Parsing only lets through a usable max pods; anything else falls back to the setting.
    let max_pods = tags
        .resources
        .get(&ResourceName::Pods)
        .and_then(|p| u32::try_from(*p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(settings.max_pods);
    let mut labels = pool.labels.clone();
    labels.extend(tags.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let spec = TemplateSpec {
        name: format!("template-{}-{zone}", pool.name),
        instance_types: types.to_vec(),
        labels,
        taints: merge_taints(&pool.taints, &tags.taints),
        zone: zone.to_owned(),
        region: settings
            .region
            .clone()
            .unwrap_or_else(|| crate::node_pool::region_of_zone(zone)),
        max_pods,
    };
    let mut node =
        template_node(&spec, &settings.reserved).map_err(|source| TemplateError::Instance {
            pool: pool.name.clone(),
            source,
        })?;
    let problems = apply_resources(&mut node, types, max_pods, group, &settings.reserved);
    Ok((node, problems))
}

/// The pool's taints plus the group's; Kubernetes allows one taint per key and effect, so a
/// group taint replaces a pool taint with the same key and effect.
fn merge_taints(pool: &[Taint], group: &[Taint]) -> Vec<Taint> {
    let mut out: Vec<Taint> = pool
        .iter()
        .filter(|p| !group.iter().any(|g| g.key == p.key && g.effect == p.effect))
        .cloned()
        .collect();
    for t in group {
        if !out.iter().any(|o| o.key == t.key && o.effect == t.effect) {
            out.push(t.clone());
        }
    }
    out
}

/// Applies the group's resource tags (other than `pods`, already the max pods) to the node's
/// allocatable. A tag states the node's capacity, so the kubelet's reservations are subtracted
/// as for the instance types, and the smallest result over the pool's types is kept (as the
/// template does). A tag that would leave no CPU, memory or ephemeral storage is left out.
fn apply_resources(
    node: &mut NodeSpec,
    types: &[InstanceType],
    max_pods: u32,
    group: &NodeGroup,
    reserved: &ReservedConfig,
) -> Vec<String> {
    let tags: Vec<(&ResourceName, i64)> = group
        .template
        .resources
        .iter()
        .filter(|(name, _)| **name != ResourceName::Pods)
        .map(|(name, amount)| (name, *amount))
        .collect();
    if tags.is_empty() {
        return Vec::new();
    }
    let mut lowest: BTreeMap<&ResourceName, i64> = BTreeMap::new();
    for it in types {
        let mut capacity = reserved.capacity(it, max_pods);
        for (name, amount) in &tags {
            set_resource(&mut capacity, name, *amount);
        }
        let vcpus = match group.template.resources.get(&ResourceName::Cpu) {
            // The kubelet's CPU reservation follows the node's cores: those the tag gives it.
            Some(millis) => {
                let cores = u64::try_from(*millis).unwrap_or(0).div_ceil(1000);
                u32::try_from(cores).unwrap_or(u32::MAX)
            }
            None => it.vcpus,
        };
        let allocatable = capacity.saturating_sub(&reserved.reserved(&capacity, vcpus, max_pods));
        for (name, _) in &tags {
            let amount = allocatable.get(name);
            lowest
                .entry(name)
                .and_modify(|v| *v = (*v).min(amount))
                .or_insert(amount);
        }
    }
    let mut problems = Vec::new();
    for (name, amount) in lowest {
        let essential = matches!(
            name,
            ResourceName::Cpu | ResourceName::Memory | ResourceName::EphemeralStorage
        );
        if essential && amount <= 0 {
            problems.push(format!(
                "ASG {}: ignoring node-template resource tag {name}: it leaves no allocatable {name} after the kubelet's reservations",
                group.asg_name
            ));
            continue;
        }
        set_resource(&mut node.allocatable, name, amount.max(0));
    }
    problems
}

/// Sets one dimension of `r`; an extended resource set to zero is removed.
fn set_resource(r: &mut Resources, name: &ResourceName, amount: i64) {
    match name {
        ResourceName::Cpu => r.cpu_millis = amount,
        ResourceName::Memory => r.memory_bytes = amount,
        ResourceName::EphemeralStorage => r.ephemeral_storage_bytes = amount,
        ResourceName::Pods => r.pods = amount,
        ResourceName::Extended(n) if amount == 0 => {
            r.extended.remove(n);
        }
        ResourceName::Extended(n) => {
            r.extended.insert(n.clone(), amount);
        }
    }
}

#[cfg(test)]
mod tests;
