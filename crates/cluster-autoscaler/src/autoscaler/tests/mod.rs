//! Loop tests: the autoscaler against the in-memory fake ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scale_down;
mod scale_up;

use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_core::scheduling::PodSpec;

use crate::Autoscaler;
use crate::config::AutoscalerConfig;
use crate::node_pool::NodePools;
use crate::outcome::LoopOutcome;
use crate::ports::{ClusterSnapshot, NodeGroup, NodeGroupId};
use crate::testing::{FakeCloud, FakeCluster, instance_types, node};

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

    /// One loop at `now` with the snapshot as it is.
    fn run_as_is(&mut self, now: Timestamp) -> LoopOutcome {
        futures::executor::block_on(self.autoscaler.run_once(&self.cloud, &self.cluster, now))
            .unwrap()
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
                        .any(|n| n.instance_id.as_deref() == Some(i.id.as_str()))
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
}

fn at(minutes: u64) -> Timestamp {
    Timestamp::from_secs(1_000_000) + Duration::from_secs(minutes * 60)
}

/// A pod requesting `cpu_millis` and `mem_gib`.
fn spec(name: &str, cpu_millis: i64, mem_gib: i64) -> PodSpec {
    PodSpec::new(name, Resources::pod(cpu_millis, mem_gib * GIB))
}

/// Adds pending pods to the world's snapshot.
fn add_pending(world: &World, pods: Vec<PodSpec>, since: Timestamp) {
    world.cluster.update(|s| {
        for p in pods {
            s.pods.push(crate::testing::pending_pod(p, since));
        }
    });
}

fn group_with(pool: &str, zone: &str, min: u32, max: u32) -> NodeGroup {
    let mut g = crate::testing::group(pool, zone, max);
    g.min_size = min;
    g
}

fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
