#![allow(clippy::unwrap_used, clippy::expect_used)]
use rand::SeedableRng;

use super::*;

fn group(zone: &str) -> NodeGroupId {
    NodeGroupId::new("default", zone)
}

fn cloud(outages: Vec<CapacityOutage>) -> SimCloud {
    let asg = |zone: &str, types: &[&str], spot: bool| AsgSpec {
        id: NodeGroupId::new(if spot { "spot" } else { "default" }, zone),
        min_size: 1,
        max_size: 5,
        instance_types: types.iter().map(|t| (*t).to_owned()).collect(),
        spot,
        usd_per_hour: types
            .iter()
            .map(|t| ((*t).to_owned(), if spot { 0.05 } else { 0.1 }))
            .collect(),
    };
    SimCloud::new(
        vec![
            asg("a", &["m6i.large"], false),
            asg("b", &["m6i.large"], false),
            asg("a", &["c6i.large"], true),
        ],
        outages,
        CloudTiming::default(),
        Timestamp::from_secs(0),
    )
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn instances_launch_to_desired_and_boot_after_the_boot_time() {
    let c = cloud(vec![]);
    let events = c.step(at(0));
    assert!(events.is_empty(), "launched, not booted: {events:?}");
    block(c.set_desired_capacity(&group("a"), 3)).unwrap();
    c.step(at(10));
    let groups = block(c.node_groups()).unwrap();
    let a = groups.iter().find(|g| g.id == group("a")).unwrap();
    assert_eq!((a.desired, a.instances.len()), (3, 3));
    assert_eq!(a.asg_name, "tidal-default-a");
    let booted = |events: &[CloudEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, CloudEvent::Booted { .. }))
            .count()
    };
    assert_eq!(booted(&c.step(at(89))), 0);
    // The three min-size instances launched at 0 boot at 90; the two added at 10 at 100.
    assert_eq!(booted(&c.step(at(90))), 3);
    assert_eq!(booted(&c.step(at(100))), 2);
    assert!(
        block(c.set_desired_capacity(&group("a"), 6)).is_err(),
        "above max"
    );
    assert!(block(c.set_desired_capacity(&NodeGroupId::new("x", "a"), 1)).is_err());
}

#[test]
fn a_capacity_outage_fails_launches_and_reports_them_after_the_delay() {
    let outage = CapacityOutage {
        instance_type: "m6i.large".into(),
        zone: "a".into(),
        from: at(0),
        until: at(600),
    };
    let c = cloud(vec![outage]);
    let events = c.step(at(0));
    assert!(events.iter().any(
        |e| matches!(e, CloudEvent::LaunchFailed { group: g, count: 1, .. } if *g == group("a"))
    ));
    // Zone b is unaffected.
    let b = block(c.node_groups())
        .unwrap()
        .into_iter()
        .find(|g| g.id == group("b"))
        .unwrap();
    assert_eq!(b.instances.len(), 1);
    assert!(
        block(c.scale_up_failures(at(0))).unwrap().is_empty(),
        "not visible yet"
    );
    c.step(at(29));
    assert!(block(c.scale_up_failures(at(0))).unwrap().is_empty());
    c.step(at(30));
    let failures = block(c.scale_up_failures(at(0))).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].group, group("a"));
    assert_eq!(failures[0].at, at(30));
    assert!(
        failures[0]
            .reason
            .starts_with("InsufficientInstanceCapacity")
    );
    assert!(
        block(c.scale_up_failures(at(31))).unwrap().is_empty(),
        "only failures since"
    );
    // The ASG retries after the retry interval and succeeds once the outage is over.
    c.step(at(50));
    c.step(at(60));
    assert_eq!(block(c.scale_up_failures(at(31))).unwrap().len(), 0);
    c.step(at(90));
    assert_eq!(
        block(c.scale_up_failures(at(31))).unwrap().len(),
        1,
        "the retry at 60 failed too"
    );
    c.step(at(600));
    let a = block(c.node_groups())
        .unwrap()
        .into_iter()
        .find(|g| g.id == group("a"))
        .unwrap();
    assert_eq!(a.instances.len(), 1);
}

#[test]
fn terminating_decrements_desired_and_respects_the_minimum() {
    let c = cloud(vec![]);
    block(c.set_desired_capacity(&group("a"), 2)).unwrap();
    c.step(at(0));
    c.step(at(90));
    let a = block(c.node_groups())
        .unwrap()
        .into_iter()
        .find(|g| g.id == group("a"))
        .unwrap();
    let first = a.instances[0].id.clone();
    block(c.terminate_instance(&group("a"), &first)).unwrap();
    let second = a.instances[1].id.clone();
    assert!(
        block(c.terminate_instance(&group("a"), &second)).is_err(),
        "would go below min"
    );
    assert!(block(c.terminate_instance(&group("a"), "i-nope")).is_err());
    let events = c.step(at(100));
    assert!(events.contains(&CloudEvent::Gone {
        group: group("a"),
        instance_id: first.to_string(),
        interrupted: false
    }));
    let a = block(c.node_groups())
        .unwrap()
        .into_iter()
        .find(|g| g.id == group("a"))
        .unwrap();
    assert_eq!(
        (a.desired, a.instances.len()),
        (1, 1),
        "no replacement is launched"
    );
}

#[test]
fn spot_interruptions_reclaim_running_spot_instances_which_are_replaced() {
    let c = cloud(vec![]);
    let spot = NodeGroupId::new("spot", "a");
    block(c.set_desired_capacity(&spot, 3)).unwrap();
    c.step(at(0));
    c.step(at(90));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_eq!(
        c.interrupt_spot("default", 2, &mut rng),
        0,
        "on-demand instances are not reclaimed"
    );
    assert_eq!(c.interrupt_spot("spot", 2, &mut rng), 2);
    let events = c.step(at(100));
    let gone = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                CloudEvent::Gone {
                    interrupted: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(gone, 2);
    let g = block(c.node_groups())
        .unwrap()
        .into_iter()
        .find(|g| g.id == spot)
        .unwrap();
    assert_eq!(g.desired, 3);
    assert_eq!(g.instances.len(), 3, "the ASG launched replacements");
}

#[test]
fn billing_integrates_instances_over_time_with_spot_discount() {
    let c = cloud(vec![]);
    c.step(at(0));
    c.step(at(3600));
    let b = c.billing();
    assert_eq!(b.instances, 3);
    assert!((b.instance_seconds - 3.0 * 3600.0).abs() < 1e-6);
    let (od, spot) = (0.1, 0.05);
    assert!((b.cost_usd - (2.0 * od + spot)).abs() < 1e-9, "{b:?}");
}

#[test]
fn billing_is_kept_per_pool_too() {
    let c = cloud(vec![]);
    c.step(at(0));
    c.step(at(1800));
    c.step(at(3600));
    let ledger = c.ledger();
    // The prices `cloud()` gives its groups.
    let (od, spot) = (0.1, 0.05);
    let default = ledger.of("default");
    let spot_pool = ledger.of("spot");
    assert_eq!((default.instances, spot_pool.instances), (2, 1));
    assert!((default.instance_seconds - 2.0 * 3600.0).abs() < 1e-6);
    assert!((default.cost_usd - 2.0 * od).abs() < 1e-9, "{ledger:?}");
    assert!((spot_pool.cost_usd - spot).abs() < 1e-9, "{ledger:?}");
    assert_eq!(ledger.of("unknown"), Billing::default());
    let sum: f64 = ledger.by_pool.values().map(|b| b.cost_usd).sum();
    assert!((sum - ledger.total.cost_usd).abs() < 1e-9);
    let half = ledger.total.since(&Billing {
        instance_seconds: 3.0 * 1800.0,
        ..Billing::default()
    });
    assert!((half.instance_seconds - 3.0 * 1800.0).abs() < 1e-6);
}
