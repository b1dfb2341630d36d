//! Loop tests: the autoscaler against the in-memory fake ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod node_template;
mod races;
mod scale_down;
mod scale_up;

use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_core::scheduling::PodSpec;

use crate::Autoscaler;
use crate::config::AutoscalerConfig;
use crate::controller::DryRun;
use crate::node_pool::NodePools;
use crate::outcome::{LoopOutcome, ScaleUp};
use crate::ports::{
    ClusterPod, ClusterSnapshot, Event, EventReason, NodeGroup, NodeGroupId, NodeTemplate,
};
use crate::testing::{FakeCloud, FakeCluster, bound_pod, instance, instance_types, node};

const GIB: i64 = 1 << 30;
const ZONE_A: &str = "eu-central-1a";
const ZONE_B: &str = "eu-central-1b";
const ZONE_C: &str = "eu-central-1c";

/// The autoscaler and its fake world.
struct World {
    cloud: FakeCloud,
    cluster: FakeCluster,
    autoscaler: Autoscaler,
}

impl World {
    fn new(pools_yaml: &str, groups: Vec<NodeGroup>, config: AutoscalerConfig) -> Self {
        let pools = NodePools::from_yaml(pools_yaml, "test-pools.yaml").unwrap();
        Self {
            cloud: FakeCloud::new(groups, instance_types()),
            cluster: FakeCluster::new(ClusterSnapshot::default()),
            autoscaler: Autoscaler::new(pools, config).unwrap(),
        }
    }

    /// One loop at `now`; the snapshot is stamped `now` (fresh) first.
    fn run(&mut self, now: Timestamp) -> LoopOutcome {
        self.cluster.update(|s| s.taken_at = now);
        self.run_as_is(now)
    }

    /// One loop at `now` with the snapshot as it is. A dry-run config gets the ports wrapped
    /// in [`DryRun`], as the binary does: the wrapper is what keeps the world unchanged.
    fn run_as_is(&mut self, now: Timestamp) -> LoopOutcome {
        let loop_once = if self.autoscaler.config().dry_run {
            let (cloud, cluster) = (DryRun::new(&self.cloud), DryRun::new(&self.cluster));
            futures::executor::block_on(self.autoscaler.run_once(&cloud, &cluster, now))
        } else {
            futures::executor::block_on(self.autoscaler.run_once(&self.cloud, &self.cluster, now))
        };
        loop_once.unwrap()
    }

    /// A world with the default autoscaler config.
    fn with_pools(pools_yaml: &str, groups: Vec<NodeGroup>) -> Self {
        Self::new(pools_yaml, groups, AutoscalerConfig::default())
    }

    fn desired(&self, pool: &str, zone: &str) -> u32 {
        self.cloud.desired(&NodeGroupId::new(pool, zone)).unwrap()
    }

    /// Registers a ready node for every instance the cloud has that has no node yet.
    fn register_all(&self, cpu_millis: i64, mem_gib: i64) {
        let groups = self.cloud.groups.lock().unwrap().clone();
        self.cluster.update(|s| {
            for g in &groups {
                for i in &g.instances {
                    if !s
                        .nodes
                        .iter()
                        .any(|n| n.instance_id.as_deref() == Some(&*i.id))
                    {
                        s.nodes.push(node(
                            &format!("node-{}", i.id),
                            &i.id,
                            &g.id.zone,
                            cpu_millis,
                            mem_gib,
                        ));
                    }
                }
            }
        });
    }

    /// The events recorded so far with this reason.
    fn events_of(&self, reason: EventReason) -> Vec<Event> {
        self.cluster
            .events()
            .into_iter()
            .filter(|e| e.reason == reason)
            .collect()
    }
}

fn at(minutes: u64) -> Timestamp {
    Timestamp::from_secs(1_000_000) + Duration::from_secs(minutes * 60)
}

/// A pod requesting `cpu_millis` and `mem_gib`.
fn spec(name: &str, cpu_millis: i64, mem_gib: i64) -> PodSpec {
    PodSpec::new(name, Resources::pod(cpu_millis, mem_gib * GIB))
}

/// `n` pods `p0`, `p1`, … each requesting `cpu_millis` and `mem_gib`.
fn numbered_pods(n: usize, cpu_millis: i64, mem_gib: i64) -> Vec<PodSpec> {
    (0..n)
        .map(|i| spec(&format!("p{i}"), cpu_millis, mem_gib))
        .collect()
}

/// Adds pending pods to the world's snapshot.
fn add_pending(world: &World, pods: Vec<PodSpec>, since: Timestamp) {
    world.cluster.update(|s| {
        for p in pods {
            Arc::make_mut(&mut s.pods).push(crate::testing::pending_pod(p, since));
        }
    });
}

fn group_with(pool: &str, zone: &str, min: u32, max: u32) -> NodeGroup {
    let mut g = crate::testing::group(pool, zone, max);
    g.min_size = min;
    g
}

/// Empty groups of pool `default` (ASG bounds `0..=max`), one in each zone.
fn default_groups(zones: &[&str], max: u32) -> Vec<NodeGroup> {
    zones
        .iter()
        .map(|zone| group_with("default", zone, 0, max))
        .collect()
}

/// Empty groups in zone a (ASG bounds `0..=max`), one for each pool.
fn pool_groups(pools: &[&str], max: u32) -> Vec<NodeGroup> {
    pools
        .iter()
        .map(|pool| group_with(pool, ZONE_A, 0, max))
        .collect()
}

/// A pools file with the one pool `default` of `instance_type`, at most `max_size` nodes.
fn default_pool(instance_type: &str, max_size: u32) -> String {
    format!(
        "node_pools:\n- name: default\n  instance_types: [{instance_type}]\n  max_size: {max_size}\n"
    )
}

/// Pools `default` (m5.4xlarge, priority 10) and `gpu` (`gpu_type`, at most 4 nodes, priority
/// 0), each with one empty group in zone a; the `gpu` group has `gpu_template`.
fn default_and_gpu_world(gpu_type: &str, gpu_template: NodeTemplate) -> World {
    let yaml = format!(
        r#"
node_pools:
- name: default
  instance_types: [m5.4xlarge]
  max_size: 30
  priority: 10
- name: gpu
  instance_types: [{gpu_type}]
  max_size: 4
  priority: 0
"#
    );
    let mut gpu = group_with("gpu", ZONE_A, 0, 4);
    gpu.template = gpu_template;
    World::with_pools(&yaml, vec![group_with("default", ZONE_A, 0, 30), gpu])
}

/// The scale-up of `pool` in `out`; fails the test if there is none.
fn scale_up_of<'a>(out: &'a LoopOutcome, pool: &str) -> &'a ScaleUp {
    out.scale_ups
        .iter()
        .find(|s| s.group.pool == pool)
        .unwrap_or_else(|| panic!("no scale-up of {pool}: {:?}", out.scale_ups))
}

fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}

/// One pool `default` of m5.xlarge, at most 30 nodes.
const POOL: &str = "node_pools:\n- name: default\n  instance_types: [m5.xlarge]\n  max_size: 30\n";

/// A world with one group of `n` nodes (4 CPUs, 16 GiB each): `node-0` … `node-{n-1}`.
fn cluster_of(n: u32, min: u32, config: AutoscalerConfig) -> World {
    let mut g = group_with("default", ZONE_A, min, 30);
    g.desired = n;
    g.instances = (0..n).map(|i| instance(&format!("i-{i}"), at(0))).collect();
    let w = World::new(POOL, vec![g], config);
    w.cluster.update(|s| {
        for i in 0..n {
            s.nodes.push(node(
                &format!("node-{i}"),
                &format!("i-{i}"),
                ZONE_A,
                4000,
                16,
            ));
        }
    });
    w
}

/// Binds a pod to a node, adjusted by `f`.
fn bind(w: &World, name: &str, node: &str, cpu_millis: i64, f: impl FnOnce(&mut ClusterPod)) {
    let mut pod = (*bound_pod(name, node, cpu_millis, 1)).clone();
    f(&mut pod);
    w.cluster
        .update(|s| Arc::make_mut(&mut s.pods).push(arc(pod)));
}

/// node-0 and node-1 busy (3 CPUs of 4), node-2 light (1 CPU, movable).
fn busy_and_light(config: AutoscalerConfig) -> World {
    let w = cluster_of(3, 0, config);
    bind(&w, "a", "node-0", 2500, |_| {});
    bind(&w, "b", "node-1", 2500, |_| {});
    bind(&w, "light", "node-2", 1000, |_| {});
    w
}
