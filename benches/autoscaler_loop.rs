//! Cluster-autoscaler decision benchmark: one full decision of `Autoscaler::decide` (snapshot →
//! simulated cluster → scale-up plan over every group → scale-down check), no IO, on the core's
//! synthetic clusters; and scale-down candidate evaluation on its own.
//!
//! `decide_cold` is a first loop (the simulated cluster is built from the snapshot);
//! `decide_warm` a later loop over the same snapshot (the kept cluster needs no change).
//!
//! Goals (issue 3): decision < 100 ms at 1,000 nodes / 30,000 pods / 500 pending / 20 pools ×
//! 3 zones, < 1 s at 5,000 nodes / 150,000 pods; scale-down candidates for 1,000 nodes < 500 ms.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tidal_cluster_autoscaler::autoscaler::cluster_state;
use tidal_cluster_autoscaler::groups::{GroupView, LiveInstance};
use tidal_cluster_autoscaler::node_pool::{NodePool, NodePools};
use tidal_cluster_autoscaler::ports::{ClusterNode, ClusterPod, ClusterSnapshot, NodeGroupId};
use tidal_cluster_autoscaler::scale_down::{NodeCandidate, PodsByNode, find_unneeded};
use tidal_cluster_autoscaler::testing::pod_with;
use tidal_cluster_autoscaler::{Autoscaler, AutoscalerConfig};
use tidal_core::Timestamp;
use tidal_core::scheduling::fixtures::{Fixture, FixtureConfig, synthetic_cluster};

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

/// The fixture as the autoscaler observes it: a snapshot and one group view per pool/zone.
struct World {
    snapshot: ClusterSnapshot,
    groups: Vec<GroupView>,
    pools: NodePools,
}

fn group_id(id: &str) -> NodeGroupId {
    let (pool, zone) = id.split_once('/').unwrap_or((id, ""));
    NodeGroupId::new(pool, zone)
}

/// A pod of the fixture as the autoscaler observes it (kube-system pods are DaemonSet pods).
fn pod(spec: &tidal_core::scheduling::PodSpec, node: Option<&str>) -> Arc<ClusterPod> {
    let since = node.is_none().then_some(NOW - Duration::from_secs(30));
    let mut pod = pod_with(spec.clone(), node, since);
    if spec.namespace == "kube-system" {
        pod.controller_kind = Some("DaemonSet".to_owned());
    }
    Arc::new(pod)
}

fn world(fixture: &Fixture) -> World {
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    let mut members: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (n, (id, spec)) in fixture.cluster.nodes().enumerate() {
        let instance = format!("i-{n:06}");
        // The fixture deals nodes to groups round robin: `node-{k}` is in group k % groups.
        let k = spec
            .name
            .strip_prefix("node-")
            .and_then(|k| k.parse::<usize>().ok())
            .unwrap_or(n);
        members
            .entry(k % fixture.groups.len())
            .or_default()
            .push(instance.clone());
        nodes.push(Arc::new(ClusterNode {
            name: spec.name.clone(),
            instance_id: Some(instance),
            spec: spec.clone(),
            ready: true,
            unschedulable: false,
            created_at: Timestamp::from_secs(0),
        }));
        pods.extend(
            fixture
                .cluster
                .pods_on(id)
                .map(|(_, p)| pod(p, Some(&spec.name))),
        );
    }
    pods.extend(fixture.pending.iter().map(|p| pod(p, None)));
    let groups: Vec<GroupView> = fixture
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let instances = members.remove(&i).unwrap_or_default();
            let size = u32::try_from(instances.len()).unwrap_or(u32::MAX);
            GroupView {
                id: group_id(&g.id),
                asg_name: format!("asg-{}", g.id.replace('/', "-")),
                priority: g.priority,
                min_size: 0,
                max_size: size + g.max_new_nodes,
                asg_min_size: 0,
                desired: size,
                instances: size,
                registered: size,
                ready: size,
                template: Some(Arc::new(g.template.clone())),
                backed_off_until: None,
                live_instances: instances
                    .into_iter()
                    .map(|id| LiveInstance {
                        id: id.into(),
                        launched_at: Some(Timestamp::from_secs(0)),
                        registered: true,
                    })
                    .collect(),
            }
        })
        .collect();
    let names: BTreeSet<&str> = groups.iter().map(|g| g.id.pool.as_str()).collect();
    let pools = names
        .into_iter()
        .map(|name| NodePool {
            name: name.to_owned(),
            instance_types: vec!["m6i.2xlarge".to_owned()],
            spot: false,
            min_size: 0,
            max_size: 100_000,
            priority: groups
                .iter()
                .find(|g| g.id.pool == name)
                .map_or(0, |g| g.priority),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            zones: None,
            scale_down_utilization_threshold: None,
            scale_down_unneeded_time: None,
        })
        .collect();
    World {
        snapshot: ClusterSnapshot {
            taken_at: NOW,
            nodes,
            pods: Arc::new(pods),
            pdbs: Vec::new(),
            unreadable: Default::default(),
        },
        groups,
        pools: NodePools::new(pools).unwrap_or_default(),
    }
}

fn autoscaler(w: &World) -> Autoscaler {
    Autoscaler::new(w.pools.clone(), AutoscalerConfig::default())
        .unwrap_or_else(|e| panic!("config: {e}"))
}

fn describe(name: &str, w: &World) {
    let mut a = autoscaler(w);
    let plan = a.decide(&w.snapshot, w.groups.clone(), NOW, false);
    eprintln!(
        "{name}: {} nodes, {} pods ({} pending), {} groups; {} pods fit existing room, {} scale-ups for {} pods (+{} nodes), {} unhelped classes",
        w.snapshot.nodes.len(),
        w.snapshot.pods.len(),
        plan.pending.len(),
        w.groups.len(),
        plan.scale_up.awaiting.len(),
        plan.scale_up.scale_ups.len(),
        plan.scale_up
            .scale_ups
            .iter()
            .map(|s| s.pods.len())
            .sum::<usize>(),
        plan.scale_up.new_nodes(),
        plan.scale_up.unhelped.len(),
    );
}

fn full_decision(c: &mut Criterion) {
    for (name, cfg) in [
        ("1k_nodes_30k_pods", FixtureConfig::thousand_nodes()),
        ("5k_nodes_150k_pods", FixtureConfig::five_thousand_nodes()),
    ] {
        let w = world(&synthetic_cluster(&cfg));
        describe(name, &w);
        let mut group = c.benchmark_group(format!("autoscaler_loop/{name}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10));
        // First loop: the simulated cluster is built from the snapshot.
        group.bench_function("decide_cold", |b| {
            b.iter_batched(
                || autoscaler(&w),
                |mut a| {
                    let plan = a.decide(&w.snapshot, w.groups.clone(), NOW, false);
                    (a, plan)
                },
                BatchSize::LargeInput,
            )
        });
        // Later loops: the cluster is kept and only what changed is redone (nothing here).
        group.bench_function("decide_warm", |b| {
            let mut a = autoscaler(&w);
            b.iter(|| black_box(a.decide(&w.snapshot, w.groups.clone(), NOW, false)))
        });
        group.finish();
    }
}

/// Nodes of the world's groups as scale-down candidates (threshold 0.5).
fn candidates_of(w: &World) -> Vec<NodeCandidate> {
    let by_instance: HashMap<&str, &str> = w
        .snapshot
        .nodes
        .iter()
        .filter_map(|n| Some((n.instance_id.as_deref()?, n.name.as_str())))
        .collect();
    w.groups
        .iter()
        .flat_map(|g| g.live_instances.iter().map(move |i| (g, i)))
        .filter_map(|(g, i)| {
            Some(NodeCandidate {
                node: (*by_instance.get(&*i.id)?).to_owned(),
                group: g.id.clone(),
                instance_id: i.id.to_string(),
                threshold: 0.5,
                unneeded_time: Duration::from_secs(600),
                unready: false,
            })
        })
        .collect()
}

fn bench_candidates(c: &mut Criterion, name: &str, w: &World) {
    let cluster = cluster_state(&w.snapshot, &BTreeSet::new());
    let candidates = candidates_of(w);
    let mut pods = PodsByNode::default();
    for p in w.snapshot.pods.iter() {
        if let Some(n) = p.node_name.as_deref() {
            pods.entry(n).or_default().push(p);
        }
    }
    let found = find_unneeded(&cluster, &candidates, &pods, &w.snapshot.pdbs);
    eprintln!(
        "{name}: {} candidates, {} pods, {} unneeded, {} blocked",
        candidates.len(),
        w.snapshot.pods.len(),
        found.nodes.len(),
        found.blocked.len()
    );
    let mut group = c.benchmark_group(format!("autoscaler_loop/{name}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("find_unneeded", |b| {
        b.iter(|| {
            black_box(find_unneeded(
                &cluster,
                &candidates,
                &pods,
                &w.snapshot.pdbs,
            ))
        })
    });
    group.bench_function("decide_quiet_cluster_cold", |b| {
        b.iter_batched(
            || autoscaler(w),
            |mut a| {
                let plan = a.decide(&w.snapshot, w.groups.clone(), NOW, false);
                (a, plan)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn scale_down_candidates(c: &mut Criterion) {
    let mut w = world(&synthetic_cluster(&FixtureConfig::thousand_nodes()));
    // No pending pods: a quiet cluster, where scale-down runs.
    Arc::make_mut(&mut w.snapshot.pods).retain(|p| p.node_name.is_some());
    bench_candidates(c, "scale_down_1k_nodes", &w);
    // The same cluster after load went away: two of three workload pods gone, so most nodes
    // are below the threshold and every one of them is simulated.
    let mut n = 0usize;
    Arc::make_mut(&mut w.snapshot.pods).retain(|p| {
        n += 1;
        p.namespace == "kube-system" || n.is_multiple_of(3)
    });
    bench_candidates(c, "scale_down_1k_nodes_light", &w);
}

criterion_group!(benches, full_decision, scale_down_candidates);
criterion_main!(benches);
