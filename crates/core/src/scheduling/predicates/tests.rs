#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::resources::NVIDIA_GPU;
use crate::scheduling::model::{
    LabelSelector, LabelSelectorOperator, Labels, NodeSelectorOperator as Op,
    NodeSelectorRequirement, NodeSelectorTerm, Protocol, Toleration, TolerationOperator,
};

const GI: i64 = 1 << 30;

fn node() -> NodeSpec {
    NodeSpec::new(
        "n1",
        Resources::pod(4000, 16 * GI)
            .with_pods(10)
            .with_ephemeral_storage(50 * GI),
    )
    .in_zone("eu-central-1a")
    .with_label("pool", "default")
    .with_label("cores", "4")
}

fn pod() -> PodSpec {
    PodSpec::new("p", Resources::pod(1000, GI))
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn resources_each_dimension() {
    let n = node().clone();
    let gpu_node = NodeSpec::new(
        "g",
        Resources::pod(4000, 16 * GI)
            .with_pods(10)
            .with_extended(NVIDIA_GPU, 1),
    );
    type Case<'a> = (&'a str, PodSpec, &'a NodeSpec, Resources, Result<(), Unfit>);
    let cases: Vec<Case> = vec![
        ("fits", pod(), &n, Resources::zero(), Ok(())),
        (
            "cpu",
            pod(),
            &n,
            Resources::pod(3001, 0),
            Err(Unfit::Resource(ResourceName::Cpu)),
        ),
        (
            "cpu exactly full",
            pod(),
            &n,
            Resources::pod(3000, 0),
            Ok(()),
        ),
        (
            "memory",
            pod(),
            &n,
            Resources::pod(0, 15 * GI + 1),
            Err(Unfit::Resource(ResourceName::Memory)),
        ),
        (
            "ephemeral-storage",
            PodSpec::new("p", Resources::pod(1, 1).with_ephemeral_storage(51 * GI)),
            &n,
            Resources::zero(),
            Err(Unfit::Resource(ResourceName::EphemeralStorage)),
        ),
        (
            "pod count",
            pod(),
            &n,
            Resources::zero().with_pods(10),
            Err(Unfit::Resource(ResourceName::Pods)),
        ),
        (
            "gpu on a node without gpus",
            PodSpec::new("p", Resources::pod(1, 1).with_extended(NVIDIA_GPU, 1)),
            &n,
            Resources::zero(),
            Err(Unfit::Resource(ResourceName::Extended(NVIDIA_GPU.into()))),
        ),
        (
            "gpu on a gpu node",
            PodSpec::new("p", Resources::pod(1, 1).with_extended(NVIDIA_GPU, 1)),
            &gpu_node,
            Resources::zero(),
            Ok(()),
        ),
        (
            "gpu already taken",
            PodSpec::new("p", Resources::pod(1, 1).with_extended(NVIDIA_GPU, 1)),
            &gpu_node,
            Resources::zero().with_extended(NVIDIA_GPU, 1),
            Err(Unfit::Resource(ResourceName::Extended(NVIDIA_GPU.into()))),
        ),
        (
            "cpu-only pod on a gpu node",
            pod(),
            &gpu_node,
            Resources::zero(),
            Ok(()),
        ),
    ];
    for (name, p, n, used, want) in cases {
        assert_eq!(fits(&p, n, &used), want, "{name}");
    }
}

#[test]
fn node_selector() {
    let n = node();
    assert_eq!(
        fits(
            &pod().with_node_selector("pool", "default"),
            &n,
            &Resources::zero()
        ),
        Ok(())
    );
    assert_eq!(
        fits(
            &pod().with_node_selector("pool", "spot"),
            &n,
            &Resources::zero()
        ),
        Err(Unfit::NodeSelector { key: "pool".into() })
    );
    assert_eq!(
        fits(
            &pod().with_node_selector("gpu", "true"),
            &n,
            &Resources::zero()
        ),
        Err(Unfit::NodeSelector { key: "gpu".into() })
    );
}

#[test]
fn node_selector_requirement_operators() {
    let l = labels(&[("zone", "a"), ("cores", "4")]);
    let cases = [
        (Op::In, "zone", vec!["a", "b"], true),
        (Op::In, "zone", vec!["b"], false),
        (Op::In, "missing", vec!["a"], false),
        (Op::NotIn, "zone", vec!["b"], true),
        (Op::NotIn, "zone", vec!["a"], false),
        (Op::NotIn, "missing", vec!["a"], true),
        (Op::Exists, "zone", vec![], true),
        (Op::Exists, "missing", vec![], false),
        (Op::DoesNotExist, "missing", vec![], true),
        (Op::DoesNotExist, "zone", vec![], false),
        (Op::Gt, "cores", vec!["3"], true),
        (Op::Gt, "cores", vec!["4"], false),
        (Op::Gt, "cores", vec!["-1"], true),
        (Op::Lt, "cores", vec!["5"], true),
        (Op::Lt, "cores", vec!["4"], false),
        (Op::Gt, "zone", vec!["1"], false),
        (Op::Gt, "cores", vec!["x"], false),
        (Op::Gt, "cores", vec!["1", "2"], false),
        (Op::Lt, "missing", vec!["9"], false),
    ];
    for (op, key, values, want) in cases {
        let r = NodeSelectorRequirement::new(key, op, &values);
        assert_eq!(r.matches(&l), want, "{key} {op:?} {values:?}");
    }
}

#[test]
fn node_affinity_terms_are_ored_and_expressions_anded() {
    let n = node();
    let req = |k: &str, op, v: &[&str]| NodeSelectorRequirement::new(k, op, v);
    let both_true = NodeSelectorTerm::new(vec![
        req("pool", Op::In, &["default"]),
        req("cores", Op::Gt, &["2"]),
    ]);
    let one_false = NodeSelectorTerm::new(vec![
        req("pool", Op::In, &["default"]),
        req("cores", Op::Gt, &["8"]),
    ]);
    let other = NodeSelectorTerm::new(vec![req("pool", Op::In, &["spot"])]);
    let cases = [
        (vec![both_true.clone()], Ok(())),
        (vec![one_false.clone()], Err(Unfit::NodeAffinity)),
        (vec![one_false.clone(), both_true.clone()], Ok(())),
        (vec![other.clone(), one_false], Err(Unfit::NodeAffinity)),
        (vec![NodeSelectorTerm::default()], Err(Unfit::NodeAffinity)),
        (vec![], Ok(())),
    ];
    for (terms, want) in cases {
        let mut p = pod();
        p.required_node_affinity = terms.clone();
        assert_eq!(fits(&p, &n, &Resources::zero()), want, "{terms:?}");
    }
}

#[test]
fn toleration_matching_table() {
    use TaintEffect::*;
    let t = Taint::new("dedicated", "gpu", NoSchedule);
    let cases = [
        (
            Toleration::equal("dedicated", "gpu", Some(NoSchedule)),
            true,
        ),
        (Toleration::equal("dedicated", "gpu", None), true),
        (
            Toleration::equal("dedicated", "cpu", Some(NoSchedule)),
            false,
        ),
        (
            Toleration::equal("dedicated", "gpu", Some(NoExecute)),
            false,
        ),
        (Toleration::equal("other", "gpu", None), false),
        (Toleration::exists("dedicated", None), true),
        (Toleration::exists("dedicated", Some(NoSchedule)), true),
        (
            Toleration::exists("dedicated", Some(PreferNoSchedule)),
            false,
        ),
        (Toleration::exists("other", None), false),
        (Toleration::exists("", None), true),
        (Toleration::exists("", Some(NoExecute)), false),
    ];
    for (tol, want) in cases {
        assert_eq!(tol.tolerates(&t), want, "{tol:?}");
    }
    assert_eq!(TolerationOperator::default(), TolerationOperator::Equal);
}

#[test]
fn taint_effects_on_fit() {
    use TaintEffect::*;
    let cases = [
        (NoSchedule, None, false),
        (NoExecute, None, false),
        (PreferNoSchedule, None, true),
        (
            NoSchedule,
            Some(Toleration::equal("k", "v", Some(NoSchedule))),
            true,
        ),
        (
            NoExecute,
            Some(Toleration::equal("k", "v", Some(NoSchedule))),
            false,
        ),
        (
            NoExecute,
            Some(Toleration::exists("k", Some(NoExecute))),
            true,
        ),
        (NoExecute, Some(Toleration::exists("", None)), true),
    ];
    for (effect, tol, want) in cases {
        let taint = Taint::new("k", "v", effect);
        let n = node().with_taint(taint.clone());
        let mut p = pod();
        p.tolerations.extend(tol.clone());
        let got = fits(&p, &n, &Resources::zero());
        let expect = if want {
            Ok(())
        } else {
            Err(Unfit::Taint(taint))
        };
        assert_eq!(got, expect, "{effect:?} {tol:?}");
    }
}

#[test]
fn every_taint_must_be_tolerated() {
    let n = node()
        .with_taint(Taint::new("a", "1", TaintEffect::NoSchedule))
        .with_taint(Taint::new("b", "2", TaintEffect::NoSchedule));
    let p = pod().with_toleration(Toleration::exists("a", None));
    assert_eq!(
        fits(&p, &n, &Resources::zero()),
        Err(Unfit::Taint(Taint::new("b", "2", TaintEffect::NoSchedule)))
    );
    let p = p.with_toleration(Toleration::equal("b", "2", None));
    assert_eq!(fits(&p, &n, &Resources::zero()), Ok(()));
    assert_eq!(
        Taint::new("b", "2", TaintEffect::NoSchedule).to_string(),
        "b=2:NoSchedule"
    );
    assert_eq!(
        Taint::new("b", "", TaintEffect::NoExecute).to_string(),
        "b:NoExecute"
    );
}

#[test]
fn volume_zone() {
    let n = node();
    assert_eq!(
        fits(
            &pod().with_volume_zone("eu-central-1a"),
            &n,
            &Resources::zero()
        ),
        Ok(())
    );
    assert_eq!(
        fits(
            &pod().with_volume_zone("eu-central-1b"),
            &n,
            &Resources::zero()
        ),
        Err(Unfit::VolumeZone {
            volume_zone: "eu-central-1b".into(),
            node_zone: "eu-central-1a".into()
        })
    );
    let zoneless = NodeSpec::new("z", Resources::pod(4000, 16 * GI).with_pods(10));
    assert_eq!(
        fits(
            &pod().with_volume_zone("eu-central-1b"),
            &zoneless,
            &Resources::zero()
        ),
        Ok(())
    );
}

#[test]
fn host_port_conflicts() {
    let ip = |s: &str| Some(s.parse().unwrap());
    let hp = |protocol, port, host_ip| HostPort {
        protocol,
        port,
        host_ip,
    };
    let cases = [
        (
            hp(Protocol::Tcp, 80, None),
            hp(Protocol::Tcp, 80, None),
            true,
        ),
        (
            hp(Protocol::Tcp, 80, None),
            hp(Protocol::Udp, 80, None),
            false,
        ),
        (
            hp(Protocol::Tcp, 80, None),
            hp(Protocol::Tcp, 81, None),
            false,
        ),
        (
            hp(Protocol::Tcp, 80, ip("10.0.0.1")),
            hp(Protocol::Tcp, 80, ip("10.0.0.2")),
            false,
        ),
        (
            hp(Protocol::Tcp, 80, ip("10.0.0.1")),
            hp(Protocol::Tcp, 80, ip("10.0.0.1")),
            true,
        ),
        (
            hp(Protocol::Tcp, 80, ip("10.0.0.1")),
            hp(Protocol::Tcp, 80, None),
            true,
        ),
        (
            hp(Protocol::Tcp, 80, ip("0.0.0.0")),
            hp(Protocol::Tcp, 80, ip("10.0.0.2")),
            true,
        ),
        (
            hp(Protocol::Sctp, 9, None),
            hp(Protocol::Sctp, 9, None),
            true,
        ),
    ];
    for (a, b, want) in cases {
        assert_eq!(a.conflicts_with(&b), want, "{a:?} vs {b:?}");
        assert_eq!(b.conflicts_with(&a), want, "symmetric {a:?} vs {b:?}");
    }
    let n = node();
    let running = vec![pod().with_host_port(HostPort::tcp(8080))];
    let p = pod()
        .with_host_port(HostPort::tcp(9090))
        .with_host_port(HostPort::tcp(8080));
    assert_eq!(
        fits_with_pods(&p, &n, &Resources::zero(), &running),
        Err(Unfit::HostPort(HostPort::tcp(8080)))
    );
    assert_eq!(
        fits_with_pods(
            &pod().with_host_port(HostPort::tcp(9090)),
            &n,
            &Resources::zero(),
            &running
        ),
        Ok(())
    );
}

#[test]
fn label_selector_operators() {
    let l = labels(&[("app", "web"), ("tier", "front")]);
    let sel = |op, vals: &[&str]| LabelSelector::default().with_expression("app", op, vals);
    use LabelSelectorOperator::*;
    let cases = [
        (LabelSelector::labels([("app", "web")]), true),
        (
            LabelSelector::labels([("app", "web"), ("tier", "back")]),
            false,
        ),
        (LabelSelector::default(), true),
        (sel(In, &["web", "api"]), true),
        (sel(In, &["api"]), false),
        (sel(NotIn, &["api"]), true),
        (sel(NotIn, &["web"]), false),
        (sel(Exists, &[]), true),
        (sel(DoesNotExist, &[]), false),
        (
            LabelSelector::default().with_expression("x", DoesNotExist, &[]),
            true,
        ),
        (
            LabelSelector::default().with_expression("x", NotIn, &["a"]),
            true,
        ),
        (
            LabelSelector::labels([("app", "web")]).with_expression("tier", In, &["back"]),
            false,
        ),
    ];
    for (s, want) in cases {
        assert_eq!(s.matches(&l), want, "{s:?}");
    }
}

#[test]
fn anti_affinity_both_directions_and_namespaced() {
    let n = node();
    let web = |name: &str| {
        PodSpec::new(name, Resources::pod(100, GI))
            .with_label("app", "web")
            .with_anti_affinity(LabelSelector::labels([("app", "web")]))
    };
    let plain_web = PodSpec::new("plain", Resources::pod(100, GI)).with_label("app", "web");
    let used = Resources::zero();
    // The incoming pod's own term matches a running pod.
    assert_eq!(
        fits_with_pods(&web("b"), &n, &used, std::slice::from_ref(&plain_web)),
        Err(Unfit::AntiAffinity)
    );
    // A running pod's term matches the incoming pod.
    assert_eq!(
        fits_with_pods(&plain_web, &n, &used, &[web("a")]),
        Err(Unfit::ExistingAntiAffinity)
    );
    // Other namespaces do not count.
    assert_eq!(
        fits_with_pods(
            &web("b"),
            &n,
            &used,
            &[plain_web.clone().in_namespace("other")]
        ),
        Ok(())
    );
    // Non-matching labels do not count.
    let api = PodSpec::new("api", Resources::pod(100, GI)).with_label("app", "api");
    assert_eq!(fits_with_pods(&web("b"), &n, &used, &[api]), Ok(()));
    assert_eq!(fits_with_pods::<PodSpec>(&web("b"), &n, &used, &[]), Ok(()));
}

#[test]
fn static_failures_come_before_resources() {
    let n = node().with_taint(Taint::new("k", "v", TaintEffect::NoSchedule));
    let p = PodSpec::new("big", Resources::pod(1_000_000, GI));
    assert!(matches!(
        fits(&p, &n, &Resources::zero()),
        Err(Unfit::Taint(_))
    ));
}

#[test]
fn unfit_reasons_are_bounded_labels() {
    let all = [
        Unfit::Resource(ResourceName::Cpu),
        Unfit::NodeSelector { key: "k".into() },
        Unfit::NodeAffinity,
        Unfit::Taint(Taint::new("k", "v", TaintEffect::NoSchedule)),
        Unfit::VolumeZone {
            volume_zone: "a".into(),
            node_zone: "b".into(),
        },
        Unfit::HostPort(HostPort::tcp(1)),
        Unfit::AntiAffinity,
        Unfit::ExistingAntiAffinity,
        Unfit::TopologySpread {
            zone: "a".into(),
            max_skew: 1,
        },
        Unfit::NodeLimit,
        Unfit::NoNode,
    ];
    for u in &all {
        assert!(!u.reason().is_empty());
        assert!(!u.to_string().is_empty());
    }
    assert_eq!(
        Unfit::Resource(ResourceName::Cpu).to_string(),
        "insufficient cpu"
    );
    assert_eq!(
        Unfit::Taint(Taint::new("k", "v", TaintEffect::NoSchedule)).to_string(),
        "untolerated taint k=v:NoSchedule"
    );
}
