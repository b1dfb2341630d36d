//! The loop: leadership, dry run, shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prometheus_client::registry::Registry;
use tidal_core::Timestamp;
use tokio::sync::watch;

use super::*;
use crate::autoscaler::tests::{load, settings};
use crate::testing::{FakeActuator, FakeEvents, FakeNodes, FakeSignals};

type Fakes<A> = Controller<FakeSignals, FakeNodes, A, FakeEvents>;

fn controller<A: Actuator>(actuator: A, leader: LeaderHandle, clock: &Clock) -> Fakes<A> {
    let signals = FakeSignals::default();
    signals.set(Some(load(1.5, 4.0, clock.now())));
    let nodes = FakeNodes::default();
    *nodes.0.lock().unwrap() = Some(3);
    let ports = Ports {
        signals,
        nodes,
        actuator,
        events: FakeEvents::default(),
    };
    let metrics = Metrics::register(&mut Registry::default());
    Controller::new(
        Autoscaler::new(settings()),
        ports,
        metrics,
        leader,
        clock.clone(),
    )
}

/// Past the first up cooldown of a new term.
const AFTER_COOLDOWN: Duration = Duration::from_secs(31 * 60);

#[tokio::test]
async fn a_follower_decides_nothing() {
    let clock = Clock::manual(Timestamp::from_secs(1_000_000));
    let (_tx, rx) = watch::channel(None);
    let mut c = controller(
        FakeActuator::new("m6i.large", 1),
        LeaderHandle::following(rx),
        &clock,
    );
    assert!(matches!(c.tick().await, Tick::NotLeader));
    clock.advance(AFTER_COOLDOWN);
    assert!(matches!(c.tick().await, Tick::NotLeader));
    assert!(c.ports().actuator.starts().is_empty());
}

#[tokio::test]
async fn the_leader_acts_with_the_clock_it_was_given() {
    let clock = Clock::manual(Timestamp::from_secs(1_000_000));
    let mut c = controller(
        FakeActuator::new("m6i.large", 1),
        LeaderHandle::always(),
        &clock,
    );
    let Tick::Ran(o) = c.tick().await else {
        panic!()
    };
    assert_eq!(o.decision.unwrap().reason.label(), "cooldown");
    clock.advance(AFTER_COOLDOWN);
    c.ports().signals.set(Some(load(1.5, 4.0, clock.now())));
    let Tick::Ran(o) = c.tick().await else {
        panic!()
    };
    assert_eq!(o.act, Some(Act::Started));
    assert_eq!(c.ports().actuator.starts().len(), 1);
}

#[tokio::test]
async fn a_dry_run_decides_but_never_starts() {
    let clock = Clock::manual(Timestamp::from_secs(1_000_000));
    let mut c = controller(
        DryRun::new(FakeActuator::new("m6i.large", 1)),
        LeaderHandle::always(),
        &clock,
    );
    c.tick().await;
    clock.advance(AFTER_COOLDOWN);
    c.ports().signals.set(Some(load(1.5, 4.0, clock.now())));
    let Tick::Ran(o) = c.tick().await else {
        panic!()
    };
    assert_eq!(o.decision.unwrap().reason.label(), "above_high");
    assert!(c.ports().actuator.inner().starts().is_empty());
    assert_eq!(c.ports().actuator.inner().size(), "m6i.large");
}

#[tokio::test]
async fn an_unreadable_control_plane_fails_the_tick_without_acting() {
    let clock = Clock::manual(Timestamp::from_secs(1_000_000));
    let mut c = controller(
        FakeActuator::new("r5.large", 1),
        LeaderHandle::always(),
        &clock,
    );
    assert!(matches!(c.tick().await, Tick::Failed(e) if e.contains("r5.large")));
}

#[tokio::test(start_paused = true)]
async fn run_stops_on_shutdown_and_reports_readiness() {
    let clock = Clock::manual(Timestamp::from_secs(1_000_000));
    let c = controller(
        FakeActuator::new("m6i.large", 1),
        LeaderHandle::always(),
        &clock,
    );
    let readiness = Readiness::new();
    let c = c.with_readiness(readiness.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(c.run(Duration::from_secs(60), async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(150)).await;
    assert!(readiness.is_ready());
    stop.send(()).unwrap();
    task.await.unwrap();
    assert!(!readiness.is_ready());
}
