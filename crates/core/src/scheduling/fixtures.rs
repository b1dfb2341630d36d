//! Synthetic clusters for tests and benchmarks (cargo feature `fixtures`).
//!
//! [`synthetic_cluster`] builds a deterministic cluster of node pools × zones with bound
//! pods of realistic variety (pool selectors and tolerations, GPU pods, anti-affinity and
//! zone spread workloads, host ports) plus a set of pending pods and one template node per
//! pool and zone.

use std::collections::HashMap;

use crate::instance::{Architecture, InstanceType, ReservedConfig, TemplateSpec, template_node};
use crate::resources::{NVIDIA_GPU, Resources};
use crate::scheduling::predicates::static_fit;
use crate::scheduling::{
    ClusterState, HostPort, LabelSelector, NodeSpec, PodSpec, Taint, TaintEffect, Toleration,
    WhenUnsatisfiable,
};

const MI: i64 = 1 << 20;
const GI: i64 = 1 << 30;

/// splitmix64: a tiny deterministic generator, enough for fixtures.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// A random element of `items` (`None` when empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// Size of a synthetic cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureConfig {
    /// Existing nodes.
    pub nodes: usize,
    /// Bound pods per node (the cluster autoscaler's published scale is 30).
    pub pods_per_node: usize,
    /// Node pools (at most 20 distinct shapes; more repeat them).
    pub pools: usize,
    /// Zones.
    pub zones: usize,
    /// Pending pods.
    pub pending: usize,
    /// Max new nodes per group.
    pub max_new_nodes: u32,
    /// Random seed.
    pub seed: u64,
}

impl FixtureConfig {
    /// 1,000 nodes × 30 pods, 20 pools × 3 zones, 500 pending pods.
    pub fn thousand_nodes() -> Self {
        Self {
            nodes: 1000,
            pods_per_node: 30,
            pools: 20,
            zones: 3,
            pending: 500,
            max_new_nodes: 50,
            seed: 42,
        }
    }

    /// 5,000 nodes × 30 pods, 20 pools × 3 zones, 500 pending pods.
    pub fn five_thousand_nodes() -> Self {
        Self {
            nodes: 5000,
            ..Self::thousand_nodes()
        }
    }
}

/// A node group: one pool in one zone.
#[derive(Clone, Debug)]
pub struct FixtureGroup {
    /// Group id, `pool/zone`.
    pub id: String,
    /// Pool priority.
    pub priority: i32,
    /// Template node.
    pub template: NodeSpec,
    /// Max new nodes.
    pub max_new_nodes: u32,
    /// Nodes of this group in the cluster.
    pub nodes: u32,
}

/// A synthetic cluster, its pending pods and its node groups.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Nodes with bound pods.
    pub cluster: ClusterState,
    /// Pending pods.
    pub pending: Vec<PodSpec>,
    /// Node groups (pools × zones) with their template nodes.
    pub groups: Vec<FixtureGroup>,
}

/// A pool: instance type, and what pods need to land on it.
struct Pool {
    name: String,
    instance: InstanceType,
    priority: i32,
    label: Option<(&'static str, String)>,
    taint: Option<Taint>,
}

fn pools(count: usize) -> Vec<Pool> {
    let it = |name: &str, cpu, mem_gib: u64| {
        InstanceType::new(name, cpu, mem_gib * 1024).with_network(4, 15)
    };
    let shapes: Vec<(&str, InstanceType, Option<&'static str>)> = vec![
        ("default", it("m6i.2xlarge", 8, 32), None),
        ("fallback", it("m5.2xlarge", 8, 32), None),
        ("spot-c", it("c6i.2xlarge", 8, 16), Some("spot")),
        ("spot-m", it("m6i.4xlarge", 16, 64), Some("spot")),
        ("local-ssd", it("i3.2xlarge", 8, 61), Some("dedicated")),
        ("gpu", it("g4dn.2xlarge", 8, 32).with_gpus(1), Some("gpu")),
        ("memory", it("r6i.2xlarge", 8, 64), None),
        ("compute", it("c6i.4xlarge", 16, 32), None),
        (
            "arm",
            it("m6g.2xlarge", 8, 32).with_architecture(Architecture::Arm64),
            None,
        ),
    ];
    (0..count)
        .map(|i| match shapes.get(i) {
            Some((name, instance, kind)) => {
                let (label, taint) = match *kind {
                    Some("spot") => (
                        Some(("aws.amazon.com/spot", "true".to_owned())),
                        Some(Taint::new(
                            "aws.amazon.com/spot",
                            "true",
                            TaintEffect::NoSchedule,
                        )),
                    ),
                    Some("dedicated") => (
                        Some(("dedicated", "local-storage".to_owned())),
                        Some(Taint::new(
                            "dedicated",
                            "local-storage",
                            TaintEffect::NoSchedule,
                        )),
                    ),
                    Some(_) => (
                        Some(("accelerator", "nvidia".to_owned())),
                        Some(Taint::new(NVIDIA_GPU, "present", TaintEffect::NoSchedule)),
                    ),
                    None => (None, None),
                };
                Pool {
                    name: (*name).to_owned(),
                    instance: instance.clone(),
                    priority: if *kind == Some("spot") { 10 } else { 0 },
                    label,
                    taint,
                }
            }
            None => {
                let team = format!("team-{i}");
                let size = [4u32, 8, 16][i % 3];
                Pool {
                    name: team.clone(),
                    instance: it(&format!("m6i.{size}x"), size, u64::from(size) * 4),
                    priority: i32::try_from(i % 4).unwrap_or(0),
                    label: Some(("team", team.clone())),
                    taint: (i % 2 == 0).then(|| Taint::new("team", &team, TaintEffect::NoSchedule)),
                }
            }
        })
        .collect()
}

/// A workload: a pod shape with its scheduling requirements.
fn workload(rng: &mut Rng, id: usize, pools: &[Pool], zones: &[String], pending: bool) -> PodSpec {
    let shapes: &[(i64, i64)] = if pending {
        &[
            (100, 256 * MI),
            (250, 512 * MI),
            (500, GI),
            (1000, 2 * GI),
            (2000, 8 * GI),
            (4000, 16 * GI),
        ]
    } else {
        &[
            (100, 256 * MI),
            (200, 512 * MI),
            (250, GI),
            (300, GI),
            (400, 1536 * MI),
        ]
    };
    let (cpu, mem) = rng.pick(shapes).copied().unwrap_or((100, 256 * MI));
    let app = format!("app-{id}");
    let ns = format!("ns-{}", id % 10);
    let mut pod = PodSpec::new(app.clone(), Resources::pod(cpu, mem))
        .in_namespace(ns)
        .with_label("app", &app)
        .with_label("tier", ["web", "api", "worker"][id % 3]);
    // One in four bound workloads targets a pool (round robin, so every pool has some), and
    // three in ten pending ones (at random): with a selector, tolerating the pool's taint.
    let pool = if pending {
        if rng.percent(30) {
            rng.pick(pools)
        } else {
            None
        }
    } else if id.is_multiple_of(4) {
        pools.get((id / 4) % pools.len().max(1))
    } else {
        None
    };
    if let Some(pool) = pool {
        if let Some((k, v)) = &pool.label {
            pod = pod.with_node_selector(k, v);
        }
        if let Some(t) = &pool.taint {
            pod = pod.with_toleration(Toleration::equal(&t.key, &t.value, Some(t.effect)));
        }
        if pool.instance.gpus > 0 && rng.percent(50) {
            pod.requests = pod.requests.clone().with_extended(NVIDIA_GPU, 1);
        }
    }
    let selector = LabelSelector::labels([("app", app.as_str())]);
    // About one in ten workloads has anti-affinity and one in six zone spread; the fixed
    // residues make sure even a small fixture has some.
    if rng.percent(10) || id % 10 == 3 {
        pod = pod.with_anti_affinity(selector.clone());
    }
    if rng.percent(10) || id % 10 == 5 {
        pod = pod.with_zone_spread(1, WhenUnsatisfiable::DoNotSchedule, selector);
    }
    if rng.percent(3) {
        pod = pod.with_host_port(HostPort::tcp(9100));
    }
    if pending
        && rng.percent(3)
        && let Some(z) = rng.pick(zones)
    {
        pod = pod.with_volume_zone(z);
    }
    pod
}

/// Builds the synthetic cluster described by `cfg`, deterministically from its seed.
pub fn synthetic_cluster(cfg: &FixtureConfig) -> Fixture {
    let mut rng = Rng::new(cfg.seed);
    let pools = pools(cfg.pools.max(1));
    let zones: Vec<String> = (0..cfg.zones.max(1))
        .map(|z| format!("eu-central-1{}", (b'a' + (z % 26) as u8) as char))
        .collect();
    let reserved = ReservedConfig::default();
    let mut groups = Vec::new();
    for pool in &pools {
        for zone in &zones {
            let spec = TemplateSpec {
                name: format!("{}-{}", pool.name, zone),
                instance_types: vec![pool.instance.clone()],
                labels: pool
                    .label
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                taints: pool.taint.iter().cloned().collect(),
                zone: zone.clone(),
                region: "eu-central-1".to_owned(),
                max_pods: 110,
            };
            if let Ok(template) = template_node(&spec, &reserved) {
                groups.push(FixtureGroup {
                    id: format!("{}/{}", pool.name, zone),
                    priority: pool.priority,
                    template,
                    max_new_nodes: cfg.max_new_nodes,
                    nodes: 0,
                });
            }
        }
    }
    let workloads: Vec<PodSpec> = (0..(cfg.nodes / 3).max(pools.len() * 8))
        .map(|id| workload(&mut rng, id, &pools, &zones, false))
        .collect();
    let mean_cpu = groups
        .iter()
        .map(|g| g.template.allocatable.cpu_millis as f64)
        .sum::<f64>()
        / groups.len().max(1) as f64;
    let mut cluster = ClusterState::new();
    // Group index of each node added (counted into the groups once the loop is done).
    let mut added = Vec::with_capacity(cfg.nodes);
    let mut compatible: HashMap<String, Vec<PodSpec>> = HashMap::new();
    for n in 0..cfg.nodes {
        let Some(group) = groups.get(n % groups.len().max(1)) else {
            break;
        };
        let Ok(id) = cluster.add_node(group.template.renamed(format!("node-{n}"))) else {
            continue;
        };
        added.push(n % groups.len());
        let accepted = compatible.entry(group.id.clone()).or_insert_with(|| {
            workloads
                .iter()
                .filter(|w| static_fit(w, &group.template).is_ok())
                .cloned()
                .collect()
        });
        // Bigger nodes run more pods; on average `pods_per_node`.
        let count = (cfg.pods_per_node as f64 * group.template.allocatable.cpu_millis as f64
            / mean_cpu)
            .round();
        fill_node(&mut rng, &mut cluster, id, accepted, count as usize);
    }
    for gi in added {
        if let Some(g) = groups.get_mut(gi) {
            g.nodes += 1;
        }
    }
    let pending_workloads: Vec<PodSpec> = (0..(cfg.pending / 12).max(1))
        .map(|i| {
            // Half scale up existing workloads, half are new ones.
            if i % 2 == 0
                && let Some(w) = rng.pick(&workloads)
            {
                return w.clone();
            }
            workload(&mut rng, workloads.len() + i, &pools, &zones, true)
        })
        .collect();
    let pending = (0..cfg.pending)
        .filter_map(|i| {
            let mut p = rng.pick(&pending_workloads)?.clone();
            p.name = format!("{}-pending-{i}", p.name);
            Some(p)
        })
        .collect();
    Fixture {
        cluster,
        pending,
        groups,
    }
}

/// Pods every node runs (kube-proxy, CNI, log shipper, node exporter): tolerate every taint.
fn daemonsets() -> Vec<PodSpec> {
    ["kube-proxy", "aws-node", "fluent-bit", "node-exporter"]
        .iter()
        .map(|name| {
            let mut p = PodSpec::new(*name, Resources::pod(50, 64 * MI))
                .in_namespace("kube-system")
                .with_label("app", name)
                .with_toleration(Toleration::exists("", None));
            if *name == "node-exporter" {
                p = p.with_host_port(HostPort::tcp(9100));
            }
            p
        })
        .collect()
}

/// Binds the daemonset pods, then pods of workloads the node accepts while they fit, up to
/// `count` pods in all.
fn fill_node(
    rng: &mut Rng,
    cluster: &mut ClusterState,
    id: crate::scheduling::NodeId,
    workloads: &[PodSpec],
    count: usize,
) {
    let mut placed = 0;
    for mut ds in daemonsets().into_iter().take(count) {
        ds.name = format!("{}-{}", ds.name, id.index());
        if cluster.place(ds, id).is_ok() {
            placed += 1;
        }
    }
    for _ in 0..count.saturating_sub(1) * 8 {
        if placed == count {
            break;
        }
        let Some(w) = rng.pick(workloads) else {
            break;
        };
        if cluster.check_fit_local(w, id).is_ok() {
            let mut pod = w.clone();
            pod.name = format!("{}-{}-{placed}", w.name, id.index());
            if cluster.place(pod, id).is_ok() {
                placed += 1;
            }
        }
    }
    // The scheduler already failed to place pending pods, so most nodes are nearly full:
    // nearly all get one batch pod that takes all but 0–150m CPU and 0–512 MiB.
    if rng.percent(97)
        && let Some(free) = cluster.free(id)
    {
        let cpu = free.cpu_millis - rng.below(151) as i64;
        let mem = free.memory_bytes - (rng.below(513) as i64) * MI;
        if cpu > 0 && mem > 0 {
            let batch = PodSpec::new(format!("batch-{}", id.index()), Resources::pod(cpu, mem))
                .in_namespace("batch")
                .with_label("app", "batch");
            let _ = cluster.place(batch, id);
        }
    }
}

/// Requested share of allocatable over the whole cluster, `(cpu, memory)`, for reports.
pub fn utilisation(cluster: &ClusterState) -> (f64, f64) {
    let (mut used, mut alloc) = (Resources::zero(), Resources::zero());
    for (id, node) in cluster.nodes() {
        alloc.add_assign_saturating(&node.allocatable);
        if let Some(u) = cluster.used(id) {
            used.add_assign_saturating(u);
        }
    }
    let share = |u: i64, a: i64| if a > 0 { u as f64 / a as f64 } else { 0.0 };
    (
        share(used.cpu_millis, alloc.cpu_millis),
        share(used.memory_bytes, alloc.memory_bytes),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn fixture_has_the_requested_shape_and_is_deterministic() {
        let cfg = FixtureConfig {
            nodes: 120,
            pending: 500,
            ..FixtureConfig::thousand_nodes()
        };
        let f = synthetic_cluster(&cfg);
        assert_eq!(f.cluster.node_count(), 120);
        assert_eq!(f.groups.len(), 60);
        assert_eq!(f.pending.len(), 500);
        // Most nodes get their 30 pods; a few large pods may fill a node earlier.
        assert!(
            f.cluster.pod_count() > 120 * 22,
            "{} pods",
            f.cluster.pod_count()
        );
        assert!(f.cluster.pod_count() <= 120 * 35);
        let (cpu, mem) = utilisation(&f.cluster);
        assert!(
            cpu > 0.2 && cpu <= 1.0 && mem > 0.1 && mem <= 1.0,
            "{cpu} {mem}"
        );
        // Variety: some pending pods carry each kind of requirement.
        assert!(f.pending.iter().any(|p| !p.anti_affinity.is_empty()));
        assert!(f.pending.iter().any(|p| !p.topology_spread.is_empty()));
        assert!(f.pending.iter().any(|p| !p.node_selector.is_empty()));
        assert!(f.groups.iter().any(|g| !g.template.taints.is_empty()));
        let again = synthetic_cluster(&cfg);
        assert_eq!(again.pending, f.pending);
        assert_eq!(again.cluster.pod_count(), f.cluster.pod_count());
    }
}
