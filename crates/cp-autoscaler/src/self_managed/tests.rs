//! The roll against moto's Auto Scaling and EC2 (real `aws-sdk-*` clients over loopback), with
//! node health from a stand-in port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_autoscaling::types::LaunchTemplateSpecification as AsgTemplate;
use aws_sdk_ec2::types::{InstanceType as Ec2Type, RequestLaunchTemplateData};
use tidal_test_support::MotoServer;

use super::*;
use crate::testing::FakeHealth;

const GROUP: &str = "control-plane";
const REGION: &str = "us-east-1";
const MIN: Duration = Duration::from_secs(60);

struct Setup {
    _moto: MotoServer,
    sdk: aws_config::SdkConfig,
    health: Arc<FakeHealth>,
}

/// moto with an ASG of three m6i.large control-plane instances on launch template version 1.
async fn setup(env: &[(&str, &str)]) -> Setup {
    let moto = MotoServer::start_with_env(env)
        .await
        .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
    let sdk = moto.sdk_config(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let image = ec2.describe_images().send().await.unwrap().images()[0]
        .image_id()
        .unwrap()
        .to_owned();
    let data = RequestLaunchTemplateData::builder()
        .image_id(image)
        .instance_type(Ec2Type::from("m6i.large"))
        .build();
    let lt = ec2
        .create_launch_template()
        .launch_template_name("control-plane")
        .launch_template_data(data)
        .send()
        .await
        .unwrap();
    let id = lt.launch_template().unwrap().launch_template_id().unwrap();
    aws_sdk_autoscaling::Client::new(&sdk)
        .create_auto_scaling_group()
        .auto_scaling_group_name(GROUP)
        .launch_template(
            AsgTemplate::builder()
                .launch_template_id(id)
                .version("1")
                .build(),
        )
        .min_size(3)
        .max_size(3)
        .desired_capacity(3)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
    Setup {
        _moto: moto,
        sdk,
        health: Arc::new(FakeHealth::default()),
    }
}

impl Setup {
    fn actuator(&self) -> AsgActuator<Arc<FakeHealth>> {
        let settings = RollSettings {
            min_healthy: 2,
            replacement_timeout: MIN * 15,
        };
        AsgActuator::new(&self.sdk, GROUP, self.health.clone(), settings)
    }

    /// (desired, max, launch-template version, instance types, roll tag present).
    async fn group(&self) -> (i32, i32, String, Vec<String>, bool) {
        let out = aws_sdk_autoscaling::Client::new(&self.sdk)
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(GROUP)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let mut types: Vec<String> = g
            .instances()
            .iter()
            .map(|i| i.instance_type().unwrap_or("?").to_owned())
            .collect();
        types.sort();
        (
            g.desired_capacity().unwrap(),
            g.max_size().unwrap(),
            g.launch_template().unwrap().version().unwrap().to_owned(),
            types,
            g.tags().iter().any(|t| t.key() == Some(ROLL_TAG)),
        )
    }
}

/// Reconciles once a minute until the roll reports how it ended (at most `limit` loops);
/// returns the phases seen and the end. Checks on every loop that at least two instances are
/// healthy.
async fn drive(
    a: &AsgActuator<Arc<FakeHealth>>,
    now: &mut Timestamp,
    limit: usize,
) -> (Vec<Phase>, Option<Finished>) {
    let mut phases = Vec::new();
    for _ in 0..limit {
        let state = a.reconcile(*now).await.unwrap();
        if let Some(healthy) = state.healthy {
            assert!(healthy >= 2, "{state:?}");
        }
        *now = *now + MIN;
        if state.finished.is_some() {
            return (phases, state.finished);
        }
        phases.push(state.phase);
    }
    (phases, None)
}

fn t0() -> Timestamp {
    Timestamp::from_secs(1_000_000)
}

#[tokio::test]
async fn a_roll_replaces_every_instance_one_at_a_time() {
    let s = setup(&[]).await;
    let a = s.actuator();
    let mut now = t0();
    let state = a.reconcile(now).await.unwrap();
    assert_eq!(
        state,
        ActuatorState {
            healthy: Some(3),
            ..ActuatorState::idle("m6i.large")
        }
    );

    a.start("m6i.large", "m6i.xlarge", now).await.unwrap();
    let (desired, max, _, _, tagged) = s.group().await;
    assert_eq!(
        (desired, max, tagged),
        (3, 4, true),
        "max raised for the extra instance"
    );
    assert_eq!(
        a.start("m6i.large", "m6i.xlarge", now)
            .await
            .unwrap_err()
            .label(),
        "busy"
    );

    let (phases, finished) = drive(&a, &mut now, 30).await;
    assert_eq!(
        finished,
        Some(Finished::Succeeded {
            from: "m6i.large".into(),
            to: "m6i.xlarge".into()
        }),
        "{phases:?}"
    );
    assert_eq!(
        phases.iter().filter(|p| **p == Phase::Removing).count(),
        3,
        "{phases:?}"
    );
    let (desired, max, version, types, tagged) = s.group().await;
    assert_eq!((desired, max, version.as_str(), tagged), (3, 3, "2", false));
    assert_eq!(types, ["m6i.xlarge"; 3]);
    assert_eq!(a.reconcile(now).await.unwrap().size, "m6i.xlarge");
}

#[tokio::test]
async fn a_restart_in_the_middle_resumes_the_roll() {
    let s = setup(&[]).await;
    let mut now = t0();
    {
        let first = s.actuator();
        first.start("m6i.large", "m6i.xlarge", now).await.unwrap();
        // Until one old instance has gone.
        for _ in 0..10 {
            let state = first.reconcile(now).await.unwrap();
            now = now + MIN;
            if state.phase == Phase::Removing {
                break;
            }
        }
    }
    let (_, _, _, types, tagged) = s.group().await;
    assert!(tagged, "the roll is recorded in the group");
    assert_eq!(
        types.iter().filter(|t| *t == "m6i.xlarge").count(),
        1,
        "{types:?}"
    );

    let restarted = s.actuator();
    let state = restarted.reconcile(now).await.unwrap();
    assert_eq!(
        (state.size.as_str(), state.target.as_deref()),
        ("m6i.large", Some("m6i.xlarge"))
    );
    let (_, finished) = drive(&restarted, &mut now, 30).await;
    assert!(
        matches!(finished, Some(Finished::Succeeded { .. })),
        "{finished:?}"
    );
    let (_, _, _, types, _) = s.group().await;
    assert_eq!(types, ["m6i.xlarge"; 3]);
}

#[tokio::test]
async fn a_replacement_that_never_becomes_healthy_stops_the_roll_and_restores_the_template() {
    let s = setup(&[]).await;
    let a = s.actuator();
    let mut now = t0();
    a.start("m6i.large", "m6i.xlarge", now).await.unwrap();
    for _ in 0..10 {
        let state = a.reconcile(now).await.unwrap();
        now = now + MIN;
        if state.phase == Phase::Removing {
            break;
        }
    }
    // The next replacement never gets healthy.
    s.health.freeze();
    let (phases, finished) = drive(&a, &mut now, 30).await;
    let Some(Finished::Failed { from, to, reason }) = finished else {
        panic!("expected a failure: {finished:?} after {phases:?}");
    };
    assert_eq!((from.as_str(), to.as_str()), ("m6i.large", "m6i.xlarge"));
    assert!(reason.contains("not healthy within"), "{reason}");
    assert!(phases.contains(&Phase::WaitingHealthy), "{phases:?}");
    let (desired, max, version, types, tagged) = s.group().await;
    assert_eq!((desired, max, version.as_str(), tagged), (3, 3, "1", false));
    // The old instances stay; the healthy replacement stays; the sick one is gone.
    assert_eq!(types, ["m6i.large", "m6i.large", "m6i.xlarge"]);
    let state = a.reconcile(now).await.unwrap();
    assert_eq!(
        (state.size.as_str(), state.phase),
        ("m6i.large", Phase::Idle)
    );
}

#[tokio::test]
async fn an_instance_type_aws_rejects_rolls_back_and_keeps_the_size() {
    let s = setup(&[("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true")]).await;
    let a = s.actuator();
    let mut now = t0();
    a.start("m6i.large", "m6i.colossal", now).await.unwrap();
    let (phases, finished) = drive(&a, &mut now, 10).await;
    let Some(Finished::Failed { reason, .. }) = finished else {
        panic!("expected a failure: {finished:?} after {phases:?}");
    };
    assert!(reason.contains("refused"), "{reason}");
    let (desired, max, version, types, tagged) = s.group().await;
    assert_eq!((desired, max, version.as_str(), tagged), (3, 3, "1", false));
    assert_eq!(types, ["m6i.large"; 3]);
    // Starting from a size the group does not run is a mistake, not a roll.
    assert_eq!(
        a.start("m6i.xlarge", "m6i.2xlarge", now)
            .await
            .unwrap_err()
            .label(),
        "invalid"
    );
}
