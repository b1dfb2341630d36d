//! Every request status, and the quiet period after a refusal.

use tidal_quota_requester::Action;

use super::*;

fn od_pools() -> Vec<PoolDemand> {
    // 576 vCPUs with headroom.
    vec![pool("default", &["m6i.2xlarge"], false, 60)]
}

#[tokio::test]
async fn every_status_blocks_or_allows_a_new_request_as_it_should() {
    let mut world = World::start().await;
    let start = world.clock.now();
    // (status, what it asked, days ago, action now, action after the quiet period)
    let cases = [
        ("PENDING", 256.0, 1, Action::Wait, Action::Wait),
        ("CASE_OPENED", 256.0, 1, Action::Wait, Action::Wait),
        ("APPROVED", 640.0, 1, Action::Wait, Action::Requested),
        // Approved below the need: ask now; later, that new request is PENDING.
        ("APPROVED", 256.0, 1, Action::Requested, Action::Wait),
        ("DENIED", 640.0, 1, Action::Wait, Action::Requested),
        ("NOT_APPROVED", 640.0, 6, Action::Wait, Action::Requested),
        ("CASE_CLOSED", 640.0, 2, Action::Wait, Action::Requested),
        ("INVALID_REQUEST", 640.0, 3, Action::Wait, Action::Requested),
    ];
    for (i, (status, asked, days, now, later)) in cases.into_iter().enumerate() {
        // A fresh Service Quotas per case, with this one request in the quota's history.
        world.quotas = ServiceQuotas::start(REGION).await.unwrap();
        world.clock.set(start);
        world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
        let id = world
            .quotas
            .add_request("ec2", ON_DEMAND, asked, status, world.days_ago(days));
        let report = world.run(&od_pools()).await;
        let r = row(&report, ON_DEMAND);
        assert_eq!(
            r.action, now,
            "case {i}: {status} asking {asked}, {days}d ago: {r:?}"
        );
        if now == Action::Wait {
            let open = r.open_request.as_ref().unwrap();
            assert_eq!(
                (open.id.as_str(), open.status.as_str()),
                (id.as_str(), status)
            );
        }
        // Eight days later the quiet period (7 d) is over for every refusal.
        world.clock.advance(8 * DAY);
        let report = world.run(&od_pools()).await;
        let r = row(&report, ON_DEMAND);
        assert_eq!(
            r.action, later,
            "case {i}: {status} after the quiet period: {r:?}"
        );
    }
}

#[tokio::test]
async fn the_quiet_period_is_the_policys_and_reported_with_its_end() {
    let world = World::start().await;
    world.quotas.set_quota("ec2", ON_DEMAND, 64.0);
    let id = world
        .quotas
        .add_request("ec2", ON_DEMAND, 640.0, "DENIED", world.days_ago(2));
    let report = world.run(&od_pools()).await;
    let r = row(&report, ON_DEMAND);
    assert_eq!(r.action, Action::Wait);
    assert!(
        r.reason
            .contains(&format!("request {id} ended DENIED; quiet period until")),
        "{}",
        r.reason
    );
    assert!(world.quotas.requests().len() == 1);
    // Five days later (seven after the refusal) it asks again, once.
    world.clock.advance(5 * DAY);
    let report = world.run(&od_pools()).await;
    assert_eq!(row(&report, ON_DEMAND).action, Action::Requested);
    let report = world.run(&od_pools()).await;
    assert_eq!(row(&report, ON_DEMAND).action, Action::Wait);
    assert_eq!(world.quotas.requests().len(), 2);
}
