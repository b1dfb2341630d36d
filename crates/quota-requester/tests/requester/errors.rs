//! AWS errors: already open, throttling, missing permissions, the Support-case fallback.

use tidal_quota_requester::Action;
use tidal_test_support::Injected;

use super::*;

fn od_pools() -> Vec<PoolDemand> {
    vec![pool("default", &["m6i.2xlarge"], false, 60)]
}

#[tokio::test]
async fn resource_already_exists_means_a_request_is_already_open() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
    world.quotas.inject(
        "RequestServiceQuotaIncrease",
        Injected::ResourceAlreadyExists,
        1,
    );
    let report = world.run(&od_pools()).await;
    let r = row(&report, ON_DEMAND);
    assert_eq!(r.action, Action::Wait, "{r:?}");
    assert!(
        r.reason.contains("already open (ResourceAlreadyExists)"),
        "{}",
        r.reason
    );
    assert_eq!(report.errors(), 0);
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_reported_clearly() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
    // Fewer throttles than attempts: the run goes through.
    world.quotas.inject(
        "GetServiceQuota",
        Injected::TooManyRequests,
        ATTEMPTS as usize - 1,
    );
    let report = world.run(&od_pools()).await;
    assert_eq!(row(&report, ON_DEMAND).action, Action::Requested);
    assert_eq!(world.quotas.calls("GetServiceQuota"), ATTEMPTS as usize);

    // Throttled on every attempt: a clear error, nothing filed, the run fails.
    let mut world = world;
    world.quotas = ServiceQuotas::start(REGION).await.unwrap();
    world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
    world.quotas.inject(
        "ListRequestedServiceQuotaChangeHistoryByQuota",
        Injected::TooManyRequests,
        usize::MAX,
    );
    let report = world.run(&od_pools()).await;
    let r = row(&report, ON_DEMAND);
    assert_eq!(r.action, Action::Error);
    assert!(
        r.reason.contains(
            "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota for ec2/L-1216C47A: \
             AWS kept throttling after the retries with backoff"
        ),
        "{}",
        r.reason
    );
    assert_eq!(
        world
            .quotas
            .calls("ListRequestedServiceQuotaChangeHistoryByQuota"),
        ATTEMPTS as usize
    );
    assert!(world.quotas.requests().is_empty());
    assert_eq!(report.errors(), 1);
}

#[tokio::test]
async fn a_missing_permission_is_named() {
    let mut world = World::start().await;
    for (operation, action) in [
        ("GetServiceQuota", "servicequotas:GetServiceQuota"),
        (
            "ListRequestedServiceQuotaChangeHistoryByQuota",
            "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
        ),
        (
            "RequestServiceQuotaIncrease",
            "servicequotas:RequestServiceQuotaIncrease",
        ),
    ] {
        world.quotas = ServiceQuotas::start(REGION).await.unwrap();
        world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
        world
            .quotas
            .inject(operation, Injected::AccessDenied, usize::MAX);
        let report = world.run(&od_pools()).await;
        let r = row(&report, ON_DEMAND);
        assert_eq!(r.action, Action::Error);
        assert!(
            r.reason
                .starts_with(&format!("missing permission {action} (for ec2/L-1216C47A)")),
            "{}",
            r.reason
        );
        assert!(world.quotas.requests().is_empty());
    }
}

#[tokio::test]
async fn a_denied_quota_read_never_falls_back_to_the_lower_default() {
    let world = World::start().await;
    // The account has 1000 applied, but reading it is denied; the default (5) must not be
    // taken for the value, or the run would ask for less than the account has.
    world.quotas.set_quota("ec2", ON_DEMAND, 1000.0);
    world.quotas.set_default("ec2", ON_DEMAND, 5.0);
    world
        .quotas
        .inject("GetServiceQuota", Injected::AccessDenied, usize::MAX);
    let report = world.run(&od_pools()).await;
    assert_eq!(row(&report, ON_DEMAND).action, Action::Error);
    assert_eq!(world.quotas.calls("ListAWSDefaultServiceQuotas"), 0);
    assert!(world.quotas.requests().is_empty());
}

#[tokio::test]
async fn a_dependency_denial_without_the_fallback_is_an_error_naming_it() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
    world.quotas.inject(
        "RequestServiceQuotaIncrease",
        Injected::DependencyAccessDenied,
        usize::MAX,
    );
    let report = world.run(&od_pools()).await;
    let r = row(&report, ON_DEMAND);
    assert_eq!(r.action, Action::Error);
    assert!(
        r.reason
            .contains("a permission Service Quotas needs on the caller's behalf"),
        "{}",
        r.reason
    );
}

#[tokio::test]
async fn where_service_quotas_cannot_take_it_a_support_case_is_opened_once() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
    world.quotas.inject(
        "RequestServiceQuotaIncrease",
        Injected::QuotaExceeded,
        usize::MAX,
    );
    let requester = world.requester(false, true).await;
    let first = requester.run(&od_pools()).await.unwrap();
    let r = row(&first, ON_DEMAND);
    assert_eq!(r.action, Action::SupportCase, "{r:?}");
    assert_eq!(r.requested, Some(576));
    assert!(r.reason.contains("quota_exceeded"), "{}", r.reason);
    // The case is open: the next run finds it (DescribeCases) and opens no other.
    let second = requester.run(&od_pools()).await.unwrap();
    let r = row(&second, ON_DEMAND);
    assert_eq!(r.action, Action::Wait, "{r:?}");
    assert!(r.reason.contains("is already open"), "{}", r.reason);
    let cases = support_cases(&world).await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert!(
        cases[0]
            .starts_with("[tidal quota-requester] eu-west-1 EC2 L-1216C47A: raise to 576 vCPUs")
    );
}

/// Subjects of every case moto holds, resolved ones included.
async fn support_cases(world: &World) -> Vec<String> {
    let config = world.moto.sdk_config("us-east-1").await;
    let out = aws_sdk_support::Client::new(&config)
        .describe_cases()
        .include_resolved_cases(true)
        .send()
        .await
        .unwrap();
    out.cases()
        .iter()
        .filter_map(|c| c.subject().map(str::to_owned))
        .collect()
}
