//! From node pools to simulated ASGs and real nodes: ASG bounds per zone, the node a booted
//! instance registers as (built by `tidal_core::instance::template_node`, the same arithmetic
//! the autoscaler's template nodes use), and the per-node capacity behind the lower bound.

use std::collections::BTreeMap;

use tidal_cluster_autoscaler::config::TemplateSettings;
use tidal_cluster_autoscaler::node_pool::NodePool;
use tidal_cluster_autoscaler::ports::NodeGroupId;
use tidal_core::resources::Resources;
use tidal_core::scheduling::NodeSpec;

use super::SimError;
use crate::cloud::{AsgSpec, CapacityOutage, SimInstance};
use crate::instances;
use crate::scenario::{Failure, SIM_EPOCH, Scenario};

/// Builds ASGs and nodes for a scenario.
#[derive(Debug)]
pub struct NodeFactory {
    pools: BTreeMap<String, NodePool>,
    zones_of: BTreeMap<String, Vec<String>>,
    region: String,
    settings: TemplateSettings,
    /// Largest CPU and memory any pool's node offers, minus what daemonsets take on each.
    usable: (f64, f64),
}

impl NodeFactory {
    /// Checks that every pool can make nodes and works out the usable capacity per node.
    pub fn new(scenario: &Scenario) -> Result<Self, SimError> {
        let mut factory = NodeFactory {
            pools: BTreeMap::new(),
            zones_of: BTreeMap::new(),
            region: scenario.region.clone(),
            settings: scenario.autoscaler.template.clone(),
            usable: (0.0, 0.0),
        };
        let daemon = scenario
            .daemonsets
            .iter()
            .fold(Resources::zero(), |acc, d| acc.saturating_add(&d.requests));
        let (mut cpu, mut mem) = (0i64, 0i64);
        for pool in scenario.node_pools.pools() {
            let mut zones: Vec<String> = match &pool.zones {
                Some(z) => z.clone(),
                None => scenario.zones.clone(),
            };
            // The autoscaler splits pool bounds over the zones in sorted order; so do the ASGs.
            zones.sort();
            let template = factory.build(pool, &zones[0], "template", &pool.instance_types)?;
            cpu = cpu.max(template.allocatable.cpu_millis);
            mem = mem.max(template.allocatable.memory_bytes);
            factory.zones_of.insert(pool.name.clone(), zones);
            factory.pools.insert(pool.name.clone(), pool.clone());
        }
        factory.usable = (
            (cpu - daemon.cpu_millis).max(1) as f64,
            (mem - daemon.memory_bytes).max(1) as f64,
        );
        Ok(factory)
    }

    /// One ASG per pool and zone, bounded by the pool's share for that zone.
    pub fn asg_specs(&self, scenario: &Scenario) -> Vec<AsgSpec> {
        let mut out = Vec::new();
        for pool in scenario.node_pools.pools() {
            let zones = self
                .zones_of
                .get(&pool.name)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for (i, zone) in zones.iter().enumerate() {
                let (min_size, max_size) = pool.zone_bounds(i, zones.len());
                out.push(AsgSpec {
                    id: NodeGroupId::new(pool.name.clone(), zone.clone()),
                    min_size,
                    max_size,
                    instance_types: pool.instance_types.clone(),
                    spot: pool.spot,
                    usd_per_hour: pool
                        .instance_types
                        .iter()
                        .filter_map(|t| Some((t.clone(), scenario.prices.hourly(t, pool.spot)?)))
                        .collect(),
                });
            }
        }
        out
    }

    /// The scenario's capacity outages in virtual time.
    pub fn outages(&self, scenario: &Scenario) -> Vec<CapacityOutage> {
        scenario
            .failures
            .iter()
            .filter_map(|f| match f {
                Failure::Capacity {
                    instance_type,
                    zone,
                    from,
                    until,
                } => Some(CapacityOutage {
                    instance_type: instance_type.clone(),
                    zone: zone.clone(),
                    from: SIM_EPOCH + *from,
                    until: SIM_EPOCH + *until,
                }),
                Failure::SpotInterruption { .. } => None,
            })
            .collect()
    }

    /// The node a booted instance registers as: named like an EC2 private DNS name.
    pub fn node_spec(
        &self,
        group: &NodeGroupId,
        instance: &SimInstance,
    ) -> Result<NodeSpec, SimError> {
        let pool = self.pools.get(&group.pool).ok_or_else(|| SimError::Node {
            pool: group.pool.clone(),
            message: "unknown pool".into(),
        })?;
        let seq = u64::from_str_radix(instance.id.trim_start_matches("i-"), 16).unwrap_or(0);
        let name = format!(
            "ip-10-{}-{}-{}.{}.compute.internal",
            (seq >> 16) & 0xff,
            (seq >> 8) & 0xff,
            seq & 0xff,
            self.region
        );
        self.build(
            pool,
            &group.zone,
            &name,
            &[instance.instance_type.to_string()],
        )
    }

    fn build(
        &self,
        pool: &NodePool,
        zone: &str,
        name: &str,
        types: &[String],
    ) -> Result<NodeSpec, SimError> {
        instances::pool_node(pool, zone, name, types, &self.region, &self.settings).map_err(
            |message| SimError::Node {
                pool: pool.name.clone(),
                message,
            },
        )
    }

    /// Fractional nodes `requested` needs at least (see `summary.rs` for the definition).
    pub fn lower_bound(&self, requested: &Resources) -> f64 {
        let cpu = requested.cpu_millis as f64 / self.usable.0;
        let mem = requested.memory_bytes as f64 / self.usable.1;
        cpu.max(mem)
    }
}
