//! Property tests: the indexed packing path agrees with the reference predicates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::resources::NVIDIA_GPU;
use crate::scheduling::fixtures::Rng;
use crate::scheduling::model::{
    LabelSelector, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, Taint,
    TaintEffect, Toleration, WhenUnsatisfiable,
};

const GI: i64 = 1 << 30;
const ZONES: [&str; 3] = ["z1", "z2", "z3"];

fn random_node(rng: &mut Rng, name: String) -> NodeSpec {
    let cpu = [1000, 2000, 4000][rng.below(3)];
    let mut n = NodeSpec::new(
        name,
        Resources::pod(cpu, [2, 4, 8][rng.below(3)] * GI).with_pods([3, 5, 10][rng.below(3)]),
    );
    if rng.percent(80) {
        n = n.in_zone(ZONES[rng.below(3)]);
    }
    if rng.percent(50) {
        n = n.with_label("pool", ["x", "y"][rng.below(2)]);
    }
    if rng.percent(20) {
        n = n.with_taint(Taint::new(
            "t",
            "1",
            [TaintEffect::NoSchedule, TaintEffect::NoExecute][rng.below(2)],
        ));
    }
    if rng.percent(15) {
        n = n.with_taint(Taint::new("soft", "1", TaintEffect::PreferNoSchedule));
    }
    if rng.percent(20) {
        n.allocatable = n.allocatable.clone().with_extended(NVIDIA_GPU, 1);
    }
    n
}

/// A random workload: shape, labels and a random mix of scheduling requirements.
fn random_workload(rng: &mut Rng, id: usize) -> PodSpec {
    let app = format!("w{}", rng.below(4));
    let mut p = PodSpec::new(
        format!("p{id}"),
        Resources::pod(
            [50, 200, 500, 900][rng.below(4)],
            [GI / 4, GI, 3 * GI][rng.below(3)],
        ),
    )
    .in_namespace(["a", "b"][rng.below(2)])
    .with_label("app", &app);
    if rng.percent(25) {
        p = p.with_node_selector("pool", ["x", "y"][rng.below(2)]);
    }
    if rng.percent(15) {
        p = p.with_affinity_term(NodeSelectorTerm::new(vec![NodeSelectorRequirement::new(
            "pool",
            [
                NodeSelectorOperator::NotIn,
                NodeSelectorOperator::DoesNotExist,
            ][rng.below(2)],
            &["y"],
        )]));
    }
    if rng.percent(30) {
        p = p.with_toleration(Toleration::exists(["t", ""][rng.below(2)], None));
    }
    if rng.percent(25) {
        let target = if rng.percent(50) {
            LabelSelector::labels([("app", app.as_str())])
        } else {
            LabelSelector::labels([("app", "w0")])
        };
        p = p.with_anti_affinity(target);
    }
    if rng.percent(30) {
        let when = [
            WhenUnsatisfiable::DoNotSchedule,
            WhenUnsatisfiable::ScheduleAnyway,
        ][rng.below(2)];
        p = p.with_zone_spread(
            1 + rng.below(2) as u32,
            when,
            LabelSelector::labels([("app", app.as_str())]),
        );
    }
    if rng.percent(15) {
        p = p.with_host_port(HostPort::tcp(80));
    }
    if rng.percent(10) {
        p = p.with_volume_zone(ZONES[rng.below(3)]);
    }
    if rng.percent(10) {
        p.requests = p.requests.clone().with_extended(NVIDIA_GPU, 1);
    }
    p
}

struct Scenario {
    cluster: ClusterState,
    pending: Vec<PodSpec>,
    template: NodeSpec,
}

fn scenario(seed: u64, nodes: usize, bound: usize, pending: usize) -> Scenario {
    let mut rng = Rng::new(seed);
    let mut cluster = ClusterState::new();
    let ids: Vec<NodeId> = (0..nodes)
        .map(|i| {
            cluster
                .add_node(random_node(&mut rng, format!("n{i}")))
                .unwrap()
        })
        .collect();
    let workloads: Vec<PodSpec> = (0..6).map(|i| random_workload(&mut rng, i)).collect();
    for i in 0..bound {
        let mut p = rng.pick(&workloads).unwrap().clone();
        p.name = format!("bound-{i}");
        // Bound pods are facts: place them where they fit locally, like a scheduler would.
        if let Some(id) = ids
            .iter()
            .copied()
            .find(|id| cluster.check_fit_local(&p, *id).is_ok())
        {
            cluster.place(p, id).unwrap();
        }
    }
    let pending = (0..pending)
        .map(|i| {
            let mut p = rng.pick(&workloads).unwrap().clone();
            p.name = format!("pending-{i}");
            p
        })
        .collect();
    let template = random_node(&mut rng, "template".into());
    Scenario {
        cluster,
        pending,
        template,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Replaying the plan in placement order, every placement passes the reference check.
    #[test]
    fn packing_never_places_a_pod_where_fits_says_no(
        seed in any::<u64>(), nodes in 0usize..6, bound in 0usize..20, pending in 0usize..25, max in 0u32..5,
    ) {
        let s = scenario(seed, nodes, bound, pending);
        let r = pack(&s.pending, &s.cluster, &s.template, max);
        let mut replay = s.cluster.clone();
        for (i, node) in &r.on_existing {
            let p = &s.pending[*i];
            prop_assert_eq!(replay.check_fit(p, *node), Ok(()), "existing placement of {} on {:?}", i, node);
            replay.place(p.clone(), *node).unwrap();
        }
        let new_ids: Vec<NodeId> = (0..r.new_nodes)
            .map(|k| replay.add_node(s.template.renamed(format!("new-{k}"))).unwrap())
            .collect();
        for (i, k) in &r.on_new {
            let p = &s.pending[*i];
            let node = new_ids[*k as usize];
            prop_assert_eq!(replay.check_fit(p, node), Ok(()), "new-node placement of {} on {}", i, k);
            replay.place(p.clone(), node).unwrap();
        }
    }

    /// Bounds and bookkeeping: never more new nodes than allowed; every pod accounted once;
    /// no empty new node; waste within [0, 2].
    #[test]
    fn packing_respects_max_and_accounts_for_every_pod(
        seed in any::<u64>(), nodes in 0usize..6, bound in 0usize..20, pending in 0usize..25, max in 0u32..5,
    ) {
        let s = scenario(seed, nodes, bound, pending);
        let r = pack(&s.pending, &s.cluster, &s.template, max);
        prop_assert!(r.new_nodes <= max);
        let mut all: Vec<usize> = r.placed.clone();
        all.extend(r.unplaced.iter().map(|(i, _)| *i));
        all.sort_unstable();
        prop_assert_eq!(all, (0..s.pending.len()).collect::<Vec<_>>());
        prop_assert_eq!(r.placed.len(), r.on_existing.len() + r.on_new.len());
        for k in 0..r.new_nodes {
            prop_assert!(r.on_new.iter().any(|(_, n)| *n == k), "new node {} is empty", k);
        }
        let w = r.waste();
        prop_assert!((0.0..=2.0).contains(&w), "waste {}", w);
    }

    /// Same input, same plan.
    #[test]
    fn packing_is_deterministic(
        seed in any::<u64>(), nodes in 0usize..6, bound in 0usize..20, pending in 0usize..25, max in 0u32..5,
    ) {
        let s = scenario(seed, nodes, bound, pending);
        let a = pack(&s.pending, &s.cluster, &s.template, max);
        let b = pack(&s.pending, &s.cluster.clone(), &s.template, max);
        prop_assert_eq!(a, b);
    }

    /// The indexed `find_fit` picks exactly the first node the reference check accepts.
    #[test]
    fn find_fit_agrees_with_the_reference_check(
        seed in any::<u64>(), nodes in 0usize..8, bound in 0usize..30,
    ) {
        let mut s = scenario(seed, nodes, bound, 1);
        let Some(pod) = s.pending.pop() else { return Ok(()); };
        let reference = s.cluster.nodes().map(|(id, _)| id).find(|id| s.cluster.check_fit(&pod, *id).is_ok());
        prop_assert_eq!(s.cluster.find_fit(&pod), reference);
    }
}
