//! The roll, step by step: launch, wait, remove, finish; the minimum healthy; the timeout.

use super::*;

fn record(launched: Option<u32>) -> RollRecord {
    RollRecord {
        from: "m6i.large".into(),
        to: "m6i.xlarge".into(),
        previous_version: 1,
        new_version: 2,
        desired: 3,
        max: 3,
        launched_at: launched.map(|mins| t0() - MIN * mins),
    }
}

fn inst(id: &str, ty: &str, healthy: bool) -> RollInstance {
    RollInstance {
        id: id.into(),
        instance_type: ty.into(),
        healthy,
    }
}

fn view(instances: Vec<RollInstance>) -> RollView {
    RollView {
        group_version: 2,
        instances,
    }
}

const OLD: &str = "m6i.large";
const NEW: &str = "m6i.xlarge";

#[test]
fn a_roll_walks_launch_wait_remove_until_finished() {
    let s = RollSettings::default();
    let step = |r: &RollRecord, v: &RollView| next_step(r, v, s, t0());
    let old3 = vec![
        inst("i-1", OLD, true),
        inst("i-2", OLD, true),
        inst("i-3", OLD, true),
    ];
    let mut v = view(old3.clone());
    v.group_version = 1;
    assert_eq!(step(&record(None), &v), RollStep::PointGroupAtNewVersion);
    assert_eq!(
        step(&record(None), &view(old3.clone())),
        RollStep::LaunchReplacement
    );
    // Requested, not yet in the group.
    assert_eq!(
        step(&record(Some(1)), &view(old3.clone())),
        RollStep::WaitForReplacement { instance: None }
    );
    // Appeared, not yet healthy.
    let mut four = old3.clone();
    four.push(inst("i-4", NEW, false));
    assert_eq!(
        step(&record(Some(2)), &view(four.clone())),
        RollStep::WaitForReplacement {
            instance: Some("i-4".into())
        }
    );
    // Healthy: an old one goes.
    four[3].healthy = true;
    assert_eq!(
        step(&record(Some(3)), &view(four.clone())),
        RollStep::RemoveOld {
            instance: "i-1".into()
        }
    );
    // Two old, one new: the next replacement.
    let three = vec![
        inst("i-2", OLD, true),
        inst("i-3", OLD, true),
        inst("i-4", NEW, true),
    ];
    assert_eq!(
        step(&record(None), &view(three)),
        RollStep::LaunchReplacement
    );
    let done = vec![
        inst("i-4", NEW, true),
        inst("i-5", NEW, true),
        inst("i-6", NEW, true),
    ];
    assert_eq!(step(&record(None), &view(done)), RollStep::Finish);
}

#[test]
fn unhealthy_old_instances_go_first() {
    let v = view(vec![
        inst("i-1", OLD, true),
        inst("i-2", OLD, false),
        inst("i-3", OLD, false),
        inst("i-4", NEW, true),
    ]);
    assert_eq!(
        next_step(&record(Some(1)), &v, RollSettings::default(), t0()),
        RollStep::RemoveOld {
            instance: "i-2".into()
        }
    );
}

proptest::proptest! {
    /// Whatever the group looks like, removing an instance never takes away healthy capacity
    /// unless every instance is healthy and one more than desired runs.
    #[test]
    fn a_removal_never_leaves_fewer_healthy_than_desired(
        kinds in proptest::collection::vec((proptest::bool::ANY, proptest::bool::ANY), 0..8),
        desired in 1u32..5,
        launched in proptest::option::of(0u32..30),
    ) {
        let instances: Vec<RollInstance> = kinds
            .iter()
            .enumerate()
            .map(|(n, (new, healthy))| inst(&format!("i-{n}"), if *new { NEW } else { OLD }, *healthy))
            .collect();
        let r = RollRecord { desired, max: desired, ..record(launched) };
        let step = next_step(&r, &view(instances.clone()), RollSettings::default(), t0());
        if let RollStep::RemoveOld { instance } = step {
            let victim = instances.iter().find(|i| i.id == instance).unwrap();
            proptest::prop_assert_eq!(victim.instance_type.as_str(), OLD);
            if victim.healthy {
                let healthy_after = instances.iter().filter(|i| i.healthy).count() - 1;
                proptest::prop_assert!(healthy_after >= desired as usize, "{instances:?}");
            }
        }
    }
}

#[test]
fn a_replacement_not_healthy_in_time_rolls_back() {
    let s = RollSettings {
        replacement_timeout: MIN * 10,
        ..RollSettings::default()
    };
    let v = view(vec![
        inst("i-1", OLD, true),
        inst("i-2", OLD, true),
        inst("i-3", OLD, true),
        inst("i-4", NEW, false),
    ]);
    assert!(matches!(
        next_step(&record(Some(9)), &v, s, t0()),
        RollStep::WaitForReplacement { .. }
    ));
    let RollStep::RollBack { remove, reason } = next_step(&record(Some(10)), &v, s, t0()) else {
        panic!("expected a roll back");
    };
    assert_eq!(remove, ["i-4"]);
    assert!(
        reason.contains("i-4") && reason.contains("not healthy"),
        "{reason}"
    );
    // Never appeared at all.
    let v = view(vec![
        inst("i-1", OLD, true),
        inst("i-2", OLD, true),
        inst("i-3", OLD, true),
    ]);
    let RollStep::RollBack { remove, reason } = next_step(&record(Some(11)), &v, s, t0()) else {
        panic!("expected a roll back");
    };
    assert!(remove.is_empty());
    assert!(
        reason.contains("no m6i.xlarge replacement appeared"),
        "{reason}"
    );
}

#[test]
fn the_record_survives_its_text_form() {
    for r in [record(None), record(Some(5))] {
        let text = r.to_string();
        assert!(text.len() < 256, "fits an ASG tag value: {text}");
        assert_eq!(text.parse::<RollRecord>().unwrap(), r);
    }
    for bad in [
        "",
        "from=a to=b",
        "from=a to=b previous=x new=2 desired=3 max=3 launched=0",
        "junk",
    ] {
        let err = bad.parse::<RollRecord>().unwrap_err();
        assert_eq!(err.text, bad);
    }
}
