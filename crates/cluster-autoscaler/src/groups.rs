//! Node groups as the planners see them: the cloud's ASGs joined with their pool, the pool's
//! per-zone bounds, the registered nodes and the backoff state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use foldhash::HashMap;

use tidal_core::Timestamp;
use tidal_core::scheduling::NodeSpec;

use crate::node_pool::NodePools;
use crate::ports::{CloudInstance, ClusterNode, InstanceState, NodeGroup, NodeGroupId};

/// One node group, ready for planning.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupView {
    /// Pool and zone.
    pub id: NodeGroupId,
    /// ASG name.
    pub asg_name: String,
    /// Pool priority (expander).
    pub priority: i32,
    /// Effective minimum: the pool's share for this zone, raised to the ASG's own minimum.
    pub min_size: u32,
    /// Effective maximum: the pool's share for this zone, capped by the ASG's own maximum.
    pub max_size: u32,
    /// The ASG's own minimum (desired may never go below it).
    pub asg_min_size: u32,
    /// Desired capacity.
    pub desired: u32,
    /// Instances that exist and are not terminating.
    pub instances: u32,
    /// Of those, instances whose node has registered.
    pub registered: u32,
    /// Of those, nodes that are Ready.
    pub ready: u32,
    /// Template node of the group, if its instance types are known.
    pub template: Option<Arc<NodeSpec>>,
    /// Backed off until then, if in backoff.
    pub backed_off_until: Option<Timestamp>,
    /// Live (not terminating) instances: id, launch time, whether its node has registered.
    pub live_instances: Vec<LiveInstance>,
}

/// An instance of a group that is not terminating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveInstance {
    /// Instance id.
    pub id: Arc<str>,
    /// Launch time, if known.
    pub launched_at: Option<Timestamp>,
    /// A node with this instance id is in the cluster (possibly one that could not be read).
    pub registered: bool,
}

impl GroupView {
    /// Nodes requested but not registered yet: they are counted as present (template nodes)
    /// so pending pods waiting for them do not trigger a second scale-up.
    pub fn upcoming(&self) -> u32 {
        self.desired.saturating_sub(self.registered)
    }

    /// Nodes this group may still add.
    pub fn headroom(&self) -> u32 {
        self.max_size.saturating_sub(self.desired)
    }
}

/// Index of the cluster's nodes by instance id.
pub fn nodes_by_instance(nodes: &[Arc<ClusterNode>]) -> HashMap<&str, &ClusterNode> {
    // Sized up front: collecting from a filter grows (and rehashes) the table step by step.
    let mut by_instance = HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
    by_instance
        .extend((nodes.iter()).filter_map(|n| Some((n.instance_id.as_deref()?, n.as_ref()))));
    by_instance
}

/// Joins the cloud's groups with their pools. Groups of unknown pools or disallowed zones are
/// left out (they are not ours to scale); of two ASGs claiming one pool/zone, the first by ASG
/// name wins. Bounds: the pool's min/max split over its zones (configured zones, else the zones
/// it has groups in), intersected with the ASG's own bounds. `extra` gives each kept group's
/// template node and backoff. An instance whose node could not be read (`unreadable`) counts
/// as registered (not Ready): it is a node, only not one the autoscaler can see.
pub fn group_views<F>(
    pools: &NodePools,
    groups: &[NodeGroup],
    (nodes, unreadable): (&HashMap<&str, &ClusterNode>, &BTreeSet<String>),
    mut extra: F,
) -> Vec<GroupView>
where
    F: FnMut(&NodeGroup) -> (Option<Arc<NodeSpec>>, Option<Timestamp>),
{
    let ours = our_groups(pools, groups);
    let zones_of = pool_zones(pools, &ours);
    let mut views = Vec::with_capacity(ours.len());
    for (id, g) in ours {
        let Some(pool) = pools.pool_for_group(id) else {
            continue;
        };
        let zones = zones_of
            .get(pool.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let index = zones.iter().position(|z| *z == id.zone).unwrap_or(0);
        let (pool_min, pool_max) = pool.zone_bounds(index, zones.len().max(1));
        let max_size = pool_max.min(g.max_size);
        let min_size = pool_min.max(g.min_size).min(max_size);
        let (live, registered, ready) = live_instances(g, nodes, unreadable);
        let (template, backed_off_until) = extra(g);
        views.push(GroupView {
            id: id.clone(),
            asg_name: g.asg_name.clone(),
            priority: pool.priority,
            min_size,
            max_size,
            asg_min_size: g.min_size,
            desired: g.desired,
            instances: count(live.len()),
            registered,
            ready,
            template,
            backed_off_until,
            live_instances: live,
        });
    }
    views
}

/// The groups of known pools, one per pool/zone (the first by ASG name), in id order.
fn our_groups<'a>(
    pools: &NodePools,
    groups: &'a [NodeGroup],
) -> BTreeMap<&'a NodeGroupId, &'a NodeGroup> {
    let mut ours: BTreeMap<&NodeGroupId, &NodeGroup> = BTreeMap::new();
    for g in groups {
        if pools.pool_for_group(&g.id).is_none() {
            continue;
        }
        let keep = ours
            .get(&g.id)
            .is_none_or(|other| g.asg_name < other.asg_name);
        if keep {
            ours.insert(&g.id, g);
        }
    }
    ours
}

/// Each pool's zones, sorted: the configured ones, else the zones it has groups in.
fn pool_zones<'a>(
    pools: &'a NodePools,
    ours: &BTreeMap<&'a NodeGroupId, &NodeGroup>,
) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut zones_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for pool in pools.pools() {
        let mut zones: Vec<&str> = match &pool.zones {
            Some(zs) => zs.iter().map(String::as_str).collect(),
            None => ours
                .keys()
                .filter(|id| id.pool == pool.name)
                .map(|id| id.zone.as_str())
                .collect(),
        };
        zones.sort_unstable();
        zones_of.insert(&pool.name, zones);
    }
    zones_of
}

/// The group's instances that exist and are not on their way out.
pub(crate) fn live(g: &NodeGroup) -> impl Iterator<Item = &CloudInstance> {
    g.instances
        .iter()
        .filter(|i| i.state != InstanceState::Terminating)
}

/// The group's instances that are not terminating, whether each has registered a node, and
/// how many have (counting nodes that could not be read) and are Ready.
fn live_instances(
    g: &NodeGroup,
    nodes: &HashMap<&str, &ClusterNode>,
    unreadable: &BTreeSet<String>,
) -> (Vec<LiveInstance>, u32, u32) {
    let (mut registered, mut ready) = (0, 0);
    let instances = live(g)
        .map(|i| {
            let node = nodes.get(&*i.id);
            let hidden = unreadable.contains(&*i.id);
            registered += u32::from(node.is_some()) + u32::from(hidden);
            ready += u32::from(node.is_some_and(|n| n.ready));
            LiveInstance {
                id: Arc::clone(&i.id),
                launched_at: i.launched_at,
                registered: node.is_some() || hidden,
            }
        })
        .collect();
    (instances, registered, ready)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
