//! Filing requests: what is asked, idempotency, dry run, the default-value fallback.

use tidal_quota_requester::Action;
use tidal_quota_requester::ports::ValueSource;

use super::*;

#[tokio::test]
async fn files_the_need_rounded_up_and_a_second_run_files_nothing() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 5.0);
    // Spot has no applied value: the default is the value.
    world.quotas.set_default("ec2", SPOT, 5.0);
    world.quotas.set_default("ec2", ON_DEMAND, 5.0);

    let first = world.run(&shop_pools()).await;
    let od = row(&first, ON_DEMAND);
    assert_eq!((od.pools_vcpus, od.need), (480, 576));
    assert_eq!(od.action, Action::Requested, "{od:?}");
    assert_eq!(od.requested, Some(576));
    assert_eq!(od.value_source, Some(ValueSource::Applied));
    let spot = row(&first, SPOT);
    assert_eq!(
        (spot.pools_vcpus, spot.need, spot.requested),
        (320, 384, Some(384))
    );
    assert_eq!(spot.value, Some(5.0));
    assert_eq!(spot.value_source, Some(ValueSource::Default));
    assert_eq!(first.errors(), 0);
    let filed = world.quotas.requests();
    let asked: Vec<_> = filed
        .iter()
        .map(|r| (r.quota_code.as_str(), r.desired_value))
        .collect();
    assert_eq!(asked, [(ON_DEMAND, 576.0), (SPOT, 384.0)]);

    let second = world.run(&shop_pools()).await;
    for code in [ON_DEMAND, SPOT] {
        let r = row(&second, code);
        assert_eq!(r.action, Action::Wait, "{r:?}");
        let open = r.open_request.as_ref().unwrap();
        assert_eq!(open.status, "PENDING");
        assert!(filed.iter().any(|f| f.id == open.id));
    }
    assert_eq!(
        world.quotas.requests().len(),
        2,
        "the second run filed nothing"
    );
    assert_eq!(world.quotas.calls("RequestServiceQuotaIncrease"), 2);
    // The defaults were listed once per run, not once per quota.
    assert_eq!(world.quotas.calls("ListAWSDefaultServiceQuotas"), 2);
}

#[tokio::test]
async fn a_quota_that_covers_the_need_is_left_alone() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 576.0);
    world.quotas.set_quota("ec2", "L-DB2E81BA", 8.0);
    let pools = [
        pool("default", &["m6i.2xlarge"], false, 60),
        pool("gpu", &["g5.xlarge"], false, 2),
    ];
    let report = world.run(&pools).await;
    assert_eq!(row(&report, ON_DEMAND).action, Action::None);
    let gpu = row(&report, "L-DB2E81BA");
    // 2 × 4 vCPUs + 20 % = 10 > 8: asked for 32 (the step).
    assert_eq!(
        (gpu.need, gpu.action, gpu.requested),
        (10, Action::Requested, Some(32))
    );
    assert_eq!(world.quotas.requests().len(), 1);
}

#[tokio::test]
async fn never_asks_for_less_than_the_current_value() {
    let world = World::start().await;
    // Just below the need, not on the step: the request is the need rounded up, above it.
    world.quotas.set_quota("ec2", ON_DEMAND, 575.5);
    let report = world
        .run(&[pool("default", &["m6i.2xlarge"], false, 60)])
        .await;
    assert_eq!(row(&report, ON_DEMAND).requested, Some(576));
    // The stand-in refuses (IllegalArgument) a value not above the current one, like AWS.
    assert_eq!(report.errors(), 0, "{report:#?}");
    for request in world.quotas.requests() {
        assert!(request.desired_value > 575.5);
    }
}

#[tokio::test]
async fn a_dry_run_reads_everything_and_files_nothing() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 5.0);
    world.quotas.set_quota("ec2", SPOT, 5.0);
    let requester = world.requester(true, true).await;
    let report = requester.run(&shop_pools()).await.unwrap();
    assert!(report.dry_run);
    for code in [ON_DEMAND, SPOT] {
        assert_eq!(row(&report, code).action, Action::WouldRequest);
    }
    assert_eq!(row(&report, ON_DEMAND).requested, Some(576));
    assert!(world.quotas.requests().is_empty());
    assert_eq!(world.quotas.calls("RequestServiceQuotaIncrease"), 0);
    assert_eq!(
        world
            .quotas
            .calls("ListRequestedServiceQuotaChangeHistoryByQuota"),
        2
    );
    assert!(report.table().contains("dry run: nothing was filed"));
}

#[tokio::test]
async fn uncovered_families_and_other_regions_are_reported() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 1000.0);
    let mut elsewhere = pool("eu", &["m5.large"], false, 3);
    elsewhere.regions = BTreeSet::from(["us-east-2".to_owned()]);
    let pools = [
        pool("default", &["m5.large"], false, 3),
        pool("train", &["trn1.2xlarge"], false, 2),
        elsewhere,
    ];
    let report = world.run(&pools).await;
    assert_eq!(report.quotas.len(), 1);
    assert_eq!(report.uncovered.len(), 1);
    assert_eq!(report.uncovered[0].instance_type, "trn1.2xlarge");
    assert_eq!(report.other_regions, ["us-east-2"]);
    let table = report.table();
    assert!(
        table.contains("warning: trn1.2xlarge (On-Demand)"),
        "{table}"
    );
    assert!(table.contains("--aws-region us-east-2"), "{table}");
}
