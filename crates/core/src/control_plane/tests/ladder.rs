//! The ladder: order, exclusions, ties, steps and bounds.

use super::*;
use crate::instance::Architecture;

fn names(l: &Ladder) -> Vec<&str> {
    l.rungs().iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn types_are_ordered_by_vcpu_then_memory() {
    let filter = LadderFilter::default();
    let l = Ladder::from_instance_types(
        [
            it("m6i.xlarge", 4, 16),
            it("c6i.xlarge", 4, 8),
            it("m6i.large", 2, 8),
            it("r6i.large", 2, 16),
        ],
        &filter,
        "--families",
    )
    .unwrap();
    assert_eq!(
        names(&l),
        ["m6i.large", "r6i.large", "c6i.xlarge", "m6i.xlarge"]
    );
}

#[test]
fn excluded_kinds_stay_off_unless_allowed() {
    let mut burstable = it("t3.xlarge", 4, 16);
    burstable.instance.burstable = true;
    let mut metal = it("m6i.metal", 128, 512);
    metal.instance.bare_metal = true;
    let gpu = LadderCandidate::from(InstanceType::new("g5.xlarge", 4, 16 * 1024).with_gpus(1));
    let mut inference = it("inf2.xlarge", 4, 16);
    inference.accelerators = 1;
    let mut old = it("m4.large", 2, 8);
    old.instance.current_generation = false;
    let arm = LadderCandidate::from(
        InstanceType::new("m7g.large", 2, 8 * 1024).with_architecture(Architecture::Arm64),
    );
    let all = vec![
        it("m6i.large", 2, 8),
        burstable,
        metal,
        gpu,
        inference,
        old,
        arm,
    ];

    let strict = LadderFilter::default();
    let l = Ladder::from_instance_types(all.clone(), &strict, "--families").unwrap();
    assert_eq!(names(&l), ["m6i.large"]);

    let lenient = LadderFilter {
        allow_burstable: true,
        allow_bare_metal: true,
        allow_accelerators: true,
        allow_previous_generation: true,
        ..LadderFilter::default()
    };
    let l = Ladder::from_instance_types(all.clone(), &lenient, "--families").unwrap();
    // m4.large ties with m6i.large at (2, 8): one rung, the current generation;
    // g5, inf2 and t3 tie at (4, 16): the non-burstable type whose name sorts first.
    assert_eq!(names(&l), ["m6i.large", "g5.xlarge", "m6i.metal"]);

    let arm_only = LadderFilter {
        architecture: Architecture::Arm64,
        ..LadderFilter::default()
    };
    let l = Ladder::from_instance_types(all, &arm_only, "--families").unwrap();
    assert_eq!(names(&l), ["m7g.large"]);
}

#[test]
fn families_restrict_the_ladder_and_the_first_listed_wins_a_tie() {
    let all = [
        it("m5.large", 2, 8),
        it("m6i.large", 2, 8),
        it("m6i.xlarge", 4, 16),
        it("c6i.large", 2, 4),
    ];
    let filter = LadderFilter {
        families: vec!["m6i".into(), "m5".into()],
        ..LadderFilter::default()
    };
    let l = Ladder::from_instance_types(all.clone(), &filter, "--families").unwrap();
    assert_eq!(names(&l), ["m6i.large", "m6i.xlarge"]);
    let filter = LadderFilter {
        families: vec!["m5".into(), "m6i".into()],
        ..LadderFilter::default()
    };
    let l = Ladder::from_instance_types(all, &filter, "--families").unwrap();
    assert_eq!(names(&l), ["m5.large", "m6i.xlarge"]);
    assert_eq!(instance_family("m6i.large"), "m6i");
}

#[test]
fn an_empty_ladder_or_an_unknown_family_names_the_field() {
    let mut t = it("t3.large", 2, 8);
    t.instance.burstable = true;
    let filter = LadderFilter {
        families: vec!["t3".into()],
        ..LadderFilter::default()
    };
    let err = Ladder::from_instance_types([t.clone()], &filter, "--families").unwrap_err();
    assert!(matches!(err, LadderError::UnknownFamily { ref family, .. } if family == "t3"));
    assert!(err.to_string().starts_with("--families"), "{err}");
    let err = Ladder::from_instance_types([t], &LadderFilter::default(), "--families").unwrap_err();
    assert!(matches!(err, LadderError::Empty { .. }));
    assert!(err.to_string().contains("--families"), "{err}");
}

#[test]
fn next_up_and_down_walk_the_ladder_and_skip_sizes_with_less_memory() {
    let l = Ladder::from_instance_types(
        [
            it("c6i.large", 2, 4),
            it("r6i.large", 2, 16),
            it("c6i.xlarge", 4, 8),
            it("m6i.xlarge", 4, 16),
        ],
        &LadderFilter::default(),
        "--families",
    )
    .unwrap();
    assert_eq!(
        names(&l),
        ["c6i.large", "r6i.large", "c6i.xlarge", "m6i.xlarge"]
    );
    assert_eq!(l.next_up(0), Some(1));
    // r6i.large (2, 16) → c6i.xlarge (4, 8) would lose memory: m6i.xlarge covers both.
    assert_eq!(l.next_up(1), Some(3));
    assert_eq!(l.next_up(3), None);
    assert_eq!(l.next_down(3), Some(2));
    assert_eq!(l.next_down(2), Some(0));
    assert_eq!(l.next_down(0), None);
}

#[test]
fn bounds_must_be_on_the_ladder_and_in_order() {
    let l = m6i_ladder();
    let b = l
        .bounds(
            Some(("--min-size", "m6i.xlarge")),
            Some(("--max-size", "m6i.4xlarge")),
        )
        .unwrap();
    assert_eq!((b.min(), b.max()), (1, 3));
    assert_eq!(Bounds::whole(&l), l.bounds(None, None).unwrap());
    let err = l
        .bounds(Some(("--min-size", "m5.large")), None)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--min-size: \"m5.large\" is not on the ladder"),
        "{err}"
    );
    let err = l
        .bounds(
            Some(("--min-size", "m6i.4xlarge")),
            Some(("--max-size", "m6i.large")),
        )
        .unwrap_err();
    assert!(matches!(err, LadderError::InvertedBounds { .. }), "{err}");
}

#[test]
fn eks_tiers_are_in_order_with_their_seats() {
    let l = Ladder::eks_tiers();
    assert_eq!(
        names(&l),
        ["standard", "tier-xl", "tier-2xl", "tier-4xl", "tier-8xl"]
    );
    assert_eq!(l.rungs()[1].capacity.seats, Some(1_700));
    assert_eq!(l.rungs()[1].capacity.vcpus, None);
    assert_eq!(l.next_up(0), Some(1));
    assert_eq!(l.require("--max-size", "tier-4xl").unwrap(), 3);
    assert!(l.require("--max-size", "tier-16xl").is_err());
}

#[test]
fn the_node_floor_follows_kube_up() {
    let l = m6i_ladder();
    let f = NodeFloor::kube_up();
    for (nodes, rung) in [
        (1, 0),
        (10, 0),
        (11, 1),
        (100, 1),
        (101, 2),
        (250, 2),
        (251, 3),
        (501, 4),
        (5000, 4),
    ] {
        assert_eq!(f.rung(&l, nodes), Some(rung), "{nodes} nodes");
    }
    assert_eq!(f.rung(&l, 0), None);
    assert_eq!(NodeFloor::none().rung(&l, 1000), None);
}
