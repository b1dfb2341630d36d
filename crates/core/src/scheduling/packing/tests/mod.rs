#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::resources::{NVIDIA_GPU, ResourceName};
use crate::scheduling::model::{LabelSelector, Taint, TaintEffect, Toleration, WhenUnsatisfiable};

const GI: i64 = 1 << 30;

fn template(zone: &str) -> NodeSpec {
    NodeSpec::new(
        format!("tmpl-{zone}"),
        Resources::pod(1000, 4 * GI).with_pods(20),
    )
    .in_zone(zone)
}

fn pod(name: &str, cpu: i64) -> PodSpec {
    PodSpec::new(name, Resources::pod(cpu, 100 << 20))
}

#[test]
fn first_fit_decreasing_beats_input_order() {
    // Input order first-fit would need 4 nodes (300+300+300, 700, 700, 700); FFD needs 3.
    let pending: Vec<PodSpec> = [300, 300, 300, 700, 700, 700]
        .iter()
        .enumerate()
        .map(|(i, c)| pod(&format!("p{i}"), *c))
        .collect();
    let r = pack(&pending, &ClusterState::new(), &template("a"), 10);
    assert_eq!(r.new_nodes, 3);
    assert_eq!(r.placed, vec![0, 1, 2, 3, 4, 5]);
    assert!(r.unplaced.is_empty());
    // Largest first: the 700m pods are placed before the 300m ones.
    let order: Vec<usize> = r.on_new.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, vec![3, 4, 5, 0, 1, 2]);
    assert_eq!(
        r.on_new,
        vec![(3, 0), (4, 1), (5, 2), (0, 0), (1, 1), (2, 2)]
    );
    assert!(r.new_node_free.iter().all(|f| f.cpu_millis == 0));
}

#[test]
fn existing_free_capacity_is_used_before_new_nodes() {
    let mut c = ClusterState::new();
    let n = c.add_node(template("a").renamed("n1")).unwrap();
    c.place(pod("running", 400), n).unwrap();
    let pending: Vec<PodSpec> = (0..3).map(|i| pod(&format!("p{i}"), 300)).collect();
    let r = pack(&pending, &c, &template("a"), 5);
    assert_eq!(r.on_existing, vec![(0, n), (1, n)]);
    assert_eq!(r.on_new, vec![(2, 0)]);
    assert_eq!(r.new_nodes, 1);
    assert_eq!(r.new_node_free[0].cpu_millis, 700);
    assert_eq!(
        c.used(n).unwrap().cpu_millis,
        400,
        "the cluster is not changed"
    );
}

#[test]
fn template_limit_leaves_the_rest_unplaced() {
    let pending: Vec<PodSpec> = (0..5).map(|i| pod(&format!("p{i}"), 600)).collect();
    let r = pack(&pending, &ClusterState::new(), &template("a"), 2);
    assert_eq!(r.new_nodes, 2);
    assert_eq!(r.placed, vec![0, 1]);
    assert_eq!(
        r.unplaced,
        vec![
            (2, Unfit::NodeLimit),
            (3, Unfit::NodeLimit),
            (4, Unfit::NodeLimit)
        ]
    );
    let none = pack(&pending, &ClusterState::new(), &template("a"), 0);
    assert_eq!(none.new_nodes, 0);
    assert_eq!(none.unplaced.len(), 5);
    assert_eq!(none.waste(), 0.0);
}

#[test]
fn pods_the_template_cannot_take_open_no_nodes() {
    let t = template("a").with_taint(Taint::new("dedicated", "x", TaintEffect::NoSchedule));
    let pending = vec![
        pod("sel", 100).with_node_selector("pool", "other"),
        pod("huge", 2000).with_toleration(Toleration::exists("", None)),
        pod("taint", 100),
        pod("vol", 100)
            .with_toleration(Toleration::exists("dedicated", None))
            .with_volume_zone("b"),
        pod("ok", 100).with_toleration(Toleration::exists("dedicated", None)),
    ];
    let r = pack(&pending, &ClusterState::new(), &t, 10);
    assert_eq!(r.new_nodes, 1);
    assert_eq!(r.placed, vec![4]);
    let reasons: Vec<&str> = r.unplaced.iter().map(|(_, u)| u.reason()).collect();
    assert_eq!(
        reasons,
        vec!["node_selector", "resource", "taint", "volume_zone"]
    );
    assert_eq!(r.unplaced[1].1, Unfit::Resource(ResourceName::Cpu));
}

#[test]
fn anti_affinity_forces_one_pod_per_node() {
    let sel = LabelSelector::labels([("app", "zk")]);
    let pending: Vec<PodSpec> = (0..4)
        .map(|i| {
            pod(&format!("zk-{i}"), 10)
                .with_label("app", "zk")
                .with_anti_affinity(sel.clone())
        })
        .collect();
    let mut c = ClusterState::new();
    let n = c.add_node(template("a").renamed("n1")).unwrap();
    c.place(pod("zk-running", 10).with_label("app", "zk"), n)
        .unwrap();
    let r = pack(&pending, &c, &template("a"), 10);
    assert!(r.on_existing.is_empty(), "n1 already runs a zk pod");
    assert_eq!(r.new_nodes, 4);
    let nodes: Vec<u32> = r.on_new.iter().map(|(_, n)| *n).collect();
    assert_eq!(nodes, vec![0, 1, 2, 3]);
    // Small pods without anti-affinity then share those nodes, unless they match the term.
    let mut more = pending.clone();
    more.push(pod("other", 10).with_label("app", "web"));
    more.push(pod("zk-plain", 10).with_label("app", "zk"));
    let r = pack(&more, &ClusterState::new(), &template("a"), 10);
    assert_eq!(
        r.new_nodes, 5,
        "the plain zk pod is kept off every zk node by their terms"
    );
    assert_eq!(r.on_new.iter().find(|(i, _)| *i == 4).unwrap().1, 0);
}

#[test]
fn spread_limits_what_one_zone_can_take() {
    // Three zones with one full node each; z1 already runs 2 matching pods.
    let mut c = ClusterState::new();
    let sel = LabelSelector::labels([("app", "s")]);
    let mut ids = Vec::new();
    for z in ["z1", "z2", "z3"] {
        let id = c.add_node(template(z).renamed(format!("n-{z}"))).unwrap();
        c.place(pod("fill", 1000), id).unwrap();
        ids.push(id);
    }
    for i in 0..2 {
        c.place(
            PodSpec::new(format!("s{i}"), Resources::pod(0, 0)).with_label("app", "s"),
            ids[0],
        )
        .unwrap();
    }
    let pending: Vec<PodSpec> = (0..4)
        .map(|i| {
            pod(&format!("p{i}"), 10)
                .with_label("app", "s")
                .with_zone_spread(1, WhenUnsatisfiable::DoNotSchedule, sel.clone())
        })
        .collect();
    let sim = ScaleUpSimulation::new(&pending, &c);
    assert_eq!(sim.remaining(), &[0, 1, 2, 3]);
    // z2: 0 → 1 is fine (min 0 in z3); 2 would exceed maxSkew 1.
    let r = sim.pack_group(&template("z2"), 10);
    assert_eq!(r.placed, vec![0]);
    assert!(
        matches!(&r.unplaced[0].1, Unfit::TopologySpread { zone, max_skew: 1 } if zone == "z2")
    );
    // z1 already holds 2: nothing fits there.
    assert_eq!(
        sim.pack_group(&template("z1"), 10).placed,
        Vec::<usize>::new()
    );
    // A new zone z4 becomes a domain with 0 pods: one pod fits (1 − 0 ≤ 1).
    assert_eq!(sim.pack_group(&template("z4"), 10).placed, vec![0]);
    // ScheduleAnyway does not constrain.
    let soft: Vec<PodSpec> = pending
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.topology_spread[0].when_unsatisfiable = WhenUnsatisfiable::ScheduleAnyway;
            p
        })
        .collect();
    assert_eq!(pack(&soft, &c, &template("z1"), 10).placed.len(), 4);
}

#[test]
fn spread_on_existing_nodes_balances_zones() {
    let mut c = ClusterState::new();
    for z in ["z1", "z2", "z3"] {
        c.add_node(template(z).renamed(format!("n-{z}"))).unwrap();
    }
    let sel = LabelSelector::labels([("app", "s")]);
    let pending: Vec<PodSpec> = (0..6)
        .map(|i| {
            pod(&format!("p{i}"), 10)
                .with_label("app", "s")
                .with_zone_spread(1, WhenUnsatisfiable::DoNotSchedule, sel.clone())
        })
        .collect();
    let r = pack(&pending, &c, &template("z1"), 0);
    let zones: Vec<String> = r
        .on_existing
        .iter()
        .map(|(_, n)| c.node(*n).unwrap().zone().unwrap().to_owned())
        .collect();
    assert_eq!(zones, vec!["z1", "z2", "z3", "z1", "z2", "z3"]);
}

#[test]
fn gpu_pods_only_go_to_gpu_templates() {
    let gpu_pod = pod("train", 100).with_toleration(Toleration::exists(NVIDIA_GPU, None));
    let mut gpu_pod = gpu_pod;
    gpu_pod.requests = gpu_pod.requests.clone().with_extended(NVIDIA_GPU, 1);
    let pending = vec![gpu_pod.clone(), gpu_pod, pod("web", 100)];
    let cpu = pack(&pending, &ClusterState::new(), &template("a"), 10);
    assert_eq!(cpu.placed, vec![2]);
    assert_eq!(
        cpu.unplaced[0].1,
        Unfit::Resource(ResourceName::Extended(NVIDIA_GPU.into()))
    );
    let gpu_template = NodeSpec::new(
        "g",
        Resources::pod(4000, 16 * GI)
            .with_pods(20)
            .with_extended(NVIDIA_GPU, 1),
    )
    .in_zone("a")
    .with_taint(Taint::new(NVIDIA_GPU, "present", TaintEffect::NoSchedule));
    let gpu = pack(&pending, &ClusterState::new(), &gpu_template, 10);
    assert_eq!(gpu.placed, vec![0, 1]);
    assert_eq!(gpu.new_nodes, 2, "one GPU per node");
    assert!(
        matches!(gpu.unplaced[0].1, Unfit::Taint(_)),
        "the web pod does not tolerate the GPU taint"
    );
}

#[test]
fn host_ports_spread_pods_over_nodes() {
    let pending: Vec<PodSpec> = (0..3)
        .map(|i| pod(&format!("exporter-{i}"), 10).with_host_port(HostPort::tcp(9100)))
        .collect();
    let r = pack(&pending, &ClusterState::new(), &template("a"), 10);
    assert_eq!(r.new_nodes, 3);
}

#[test]
fn waste_is_free_cpu_share_plus_free_memory_share() {
    let pending = vec![PodSpec::new("p", Resources::pod(750, 2 * GI))];
    let r = pack(&pending, &ClusterState::new(), &template("a"), 1);
    // 250/1000 cpu + 2/4 GiB memory left.
    assert!((r.waste() - 0.75).abs() < 1e-12, "{}", r.waste());
    let two = vec![
        PodSpec::new("p", Resources::pod(1000, 4 * GI)),
        PodSpec::new("q", Resources::pod(500, GI)),
    ];
    let r = pack(&two, &ClusterState::new(), &template("a"), 5);
    // Nodes: (1000, 4G) full and (500, 1G): free 500/2000 + 3/8.
    assert!((r.waste() - (0.25 + 0.375)).abs() < 1e-12, "{}", r.waste());
    assert_eq!(r.pods_on_new_nodes(), 2);
}

#[test]
fn equivalent_pods_form_one_class_and_groups_share_the_existing_phase() {
    let pending: Vec<PodSpec> = (0..10)
        .map(|i| pod(&format!("web-{i}"), 200 + 100 * (i % 2) as i64).with_label("app", "web"))
        .collect();
    let mut c = ClusterState::new();
    c.add_node(template("a").renamed("n1")).unwrap();
    let sim = ScaleUpSimulation::new(&pending, &c);
    assert_eq!(sim.class_count(), 2);
    for zone in ["a", "b"] {
        let shared = sim.pack_group(&template(zone), 3);
        assert_eq!(shared, pack(&pending, &c, &template(zone), 3));
    }
    assert_eq!(sim.on_existing().len() + sim.remaining().len(), 10);
}

#[test]
fn packing_is_deterministic() {
    let fixture =
        super::super::fixtures::synthetic_cluster(&super::super::fixtures::FixtureConfig {
            nodes: 60,
            pending: 120,
            ..super::super::fixtures::FixtureConfig::thousand_nodes()
        });
    let sim = ScaleUpSimulation::new(&fixture.pending, &fixture.cluster);
    for g in &fixture.groups {
        let a = sim.pack_group(&g.template, g.max_new_nodes);
        let b = pack(
            &fixture.pending,
            &fixture.cluster,
            &g.template,
            g.max_new_nodes,
        );
        assert_eq!(a, b, "group {}", g.id);
        assert!(a.new_nodes <= g.max_new_nodes);
    }
}

mod props;
