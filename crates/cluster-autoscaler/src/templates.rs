//! Template nodes per pool and zone, built from the pool's instance types so a pool can be
//! scaled up from zero nodes. Instance types are fetched once per pool and cached; a pool
//! whose fetch or build failed is retried on the next loop.

use std::collections::BTreeMap;
use std::sync::Arc;

use tidal_core::instance::{InstanceError, InstanceType, TemplateSpec, template_node};
use tidal_core::scheduling::NodeSpec;

use crate::config::TemplateSettings;
use crate::node_pool::{NodePool, NodePools};
use crate::ports::NodeGroupId;

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
    nodes: BTreeMap<NodeGroupId, Arc<NodeSpec>>,
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

    /// Forgets a pool's types and templates (they are fetched again next loop).
    pub fn invalidate(&mut self, pool: &str) {
        self.types.remove(pool);
        self.nodes.retain(|id, _| id.pool != pool);
    }

    /// The template node of `pool` in `zone`, built on first use and cached.
    pub fn template(
        &mut self,
        pool: &NodePool,
        zone: &str,
        settings: &TemplateSettings,
    ) -> Result<Arc<NodeSpec>, TemplateError> {
        let id = NodeGroupId::new(pool.name.clone(), zone);
        if let Some(node) = self.nodes.get(&id) {
            return Ok(Arc::clone(node));
        }
        let types = self
            .types
            .get(&pool.name)
            .ok_or_else(|| TemplateError::NotLoaded(pool.name.clone()))?;
        let spec = TemplateSpec {
            name: format!("template-{}-{zone}", pool.name),
            instance_types: types.clone(),
            labels: pool.labels.clone(),
            taints: pool.taints.clone(),
            zone: zone.to_owned(),
            region: settings
                .region
                .clone()
                .unwrap_or_else(|| crate::node_pool::region_of_zone(zone)),
            max_pods: settings.max_pods,
        };
        let node =
            template_node(&spec, &settings.reserved).map_err(|source| TemplateError::Instance {
                pool: pool.name.clone(),
                source,
            })?;
        let node = Arc::new(node);
        self.nodes.insert(id, Arc::clone(&node));
        Ok(node)
    }
}
