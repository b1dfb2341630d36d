//! The EKS actuator against the EKS stand-in (test-support): the real `aws-sdk-eks` client
//! speaking REST-JSON over loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tidal_test_support::EksStandIn;

use super::*;

async fn actuator(eks: &EksStandIn, cluster: &str) -> EksActuator {
    let config = eks.sdk_config("us-east-1").await;
    EksActuator::new(Client::new(&config), cluster)
}

fn now() -> Timestamp {
    Timestamp::from_secs(1_000_000)
}

#[tokio::test]
async fn a_tier_update_is_followed_until_it_succeeds() {
    let eks = EksStandIn::start("prod", "standard").await.unwrap();
    eks.set_polls_to_finish(2);
    let a = actuator(&eks, "prod").await;
    assert_eq!(
        a.reconcile(now()).await.unwrap(),
        ActuatorState::idle("standard")
    );

    a.start("standard", "tier-xl", now()).await.unwrap();
    let state = a.reconcile(now()).await.unwrap();
    assert_eq!(state.phase, Phase::Updating);
    assert_eq!(
        (state.size.as_str(), state.target.as_deref()),
        ("standard", Some("tier-xl"))
    );

    let state = a.reconcile(now()).await.unwrap();
    assert_eq!(state.phase, Phase::Idle);
    assert_eq!(state.size, "tier-xl");
    assert_eq!(
        state.finished,
        Some(Finished::Succeeded {
            from: "standard".into(),
            to: "tier-xl".into()
        })
    );
    // Reported once: the next look is plain idle.
    assert_eq!(
        a.reconcile(now()).await.unwrap(),
        ActuatorState::idle("tier-xl")
    );
    assert_eq!(eks.tier(), "tier-xl");
    let calls = eks.calls();
    assert!(
        calls.contains(&"UpdateClusterConfig tier-xl".to_owned()),
        "{calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("DescribeUpdate"))
            .count(),
        2,
        "{calls:?}"
    );
}

#[tokio::test]
async fn leaving_a_tier_with_a_large_database_is_refused_with_the_reason() {
    let eks = EksStandIn::start("prod", "tier-2xl").await.unwrap();
    eks.set_database_bytes(9_000_000_000);
    let a = actuator(&eks, "prod").await;
    let err = a.start("tier-2xl", "tier-xl", now()).await.unwrap_err();
    assert_eq!(err.label(), "refused");
    assert!(err.to_string().contains("8 GB"), "{err}");
    assert_eq!(eks.tier(), "tier-2xl");
    assert_eq!(
        a.reconcile(now()).await.unwrap(),
        ActuatorState::idle("tier-2xl")
    );
    // An unknown tier is refused as well.
    let err = a.start("tier-2xl", "tier-16xl", now()).await.unwrap_err();
    assert_eq!(err.label(), "refused", "{err}");
}

#[tokio::test]
async fn a_failed_update_reports_the_reason_and_keeps_the_tier() {
    let eks = EksStandIn::start("prod", "standard").await.unwrap();
    eks.set_polls_to_finish(1);
    eks.fail_updates(Some("insufficient capacity for tier-4xl"));
    let a = actuator(&eks, "prod").await;
    a.start("standard", "tier-4xl", now()).await.unwrap();
    let state = a.reconcile(now()).await.unwrap();
    let Some(Finished::Failed { from, to, reason }) = state.finished else {
        panic!("expected a failure: {state:?}");
    };
    assert_eq!((from.as_str(), to.as_str()), ("standard", "tier-4xl"));
    assert!(reason.contains("insufficient capacity"), "{reason}");
    assert_eq!(state.size, "standard");
}

#[tokio::test]
async fn a_restart_follows_the_update_in_progress_and_a_second_start_is_busy() {
    let eks = EksStandIn::start("prod", "standard").await.unwrap();
    eks.set_polls_to_finish(3);
    actuator(&eks, "prod")
        .await
        .start("standard", "tier-xl", now())
        .await
        .unwrap();

    let restarted = actuator(&eks, "prod").await;
    let state = restarted.reconcile(now()).await.unwrap();
    assert_eq!(
        (state.phase, state.target.as_deref()),
        (Phase::Updating, Some("tier-xl"))
    );
    let err = restarted
        .start("standard", "tier-2xl", now())
        .await
        .unwrap_err();
    assert_eq!(err.label(), "busy", "{err}");
    let state = restarted.reconcile(now()).await.unwrap();
    assert!(
        matches!(state.finished, Some(Finished::Succeeded { .. })),
        "{state:?}"
    );
    assert_eq!(eks.tier(), "tier-xl");
}

#[tokio::test]
async fn an_unknown_cluster_is_an_api_error() {
    let eks = EksStandIn::start("prod", "standard").await.unwrap();
    let err = actuator(&eks, "other")
        .await
        .reconcile(now())
        .await
        .unwrap_err();
    assert_eq!(err.label(), "api");
    assert!(err.to_string().contains("ResourceNotFound"), "{err}");
}
