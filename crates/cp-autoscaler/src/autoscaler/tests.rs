//! One pass at a time with the in-memory ports: decide, act, back off, report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tidal_core::control_plane::{LadderFilter, Series};
use tidal_core::instance::InstanceType;

use super::*;
use crate::testing::{FakeActuator, FakeEvents, FakeNodes, FakeSignals};

const MIN: Duration = Duration::from_secs(60);

fn ladder() -> Ladder {
    let types = [
        ("large", 2),
        ("xlarge", 4),
        ("2xlarge", 8),
        ("4xlarge", 16),
        ("8xlarge", 32),
    ]
    .map(|(s, v)| InstanceType::new(format!("m6i.{s}"), v, u64::from(v) * 4096).into());
    Ladder::from_instance_types(types, &LadderFilter::default(), "--families").unwrap()
}

pub(crate) fn settings() -> Settings {
    let ladder = ladder();
    Settings {
        bounds: Bounds::whole(&ladder),
        ladder,
        decision: DecisionConfig::for_nodes(3),
        backoff: BackoffConfig::try_new(MIN * 30, MIN * 240, MIN * 720).unwrap(),
    }
}

/// Steady CPU cores and memory GiB per node over the last 3 h.
pub(crate) fn load(cpu: f64, gib: f64, now: Timestamp) -> Signals {
    Signals {
        cpu: Series::steady(cpu, now, MIN * 180, MIN),
        memory: Series::steady(gib * 1024.0, now, MIN * 180, MIN),
        ..Signals::default()
    }
}

struct World {
    signals: FakeSignals,
    nodes: FakeNodes,
    actuator: FakeActuator,
    events: FakeEvents,
    metrics: Metrics,
    registry: Registry,
    autoscaler: Autoscaler,
    now: Timestamp,
}

impl World {
    fn new(size: &str) -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let w = Self {
            signals: FakeSignals::default(),
            nodes: FakeNodes::default(),
            actuator: FakeActuator::new(size, 2),
            events: FakeEvents::default(),
            metrics,
            registry,
            autoscaler: Autoscaler::new(settings()),
            now: Timestamp::from_secs(1_000_000),
        };
        *w.nodes.0.lock().unwrap() = Some(3);
        w
    }

    /// One pass with a steady load, then a minute passes.
    async fn pass(&mut self, cpu: f64, gib: f64) -> Outcome {
        self.signals.set(Some(load(cpu, gib, self.now)));
        let o = self
            .autoscaler
            .run_once(
                &self.signals,
                &self.nodes,
                &self.actuator,
                &self.events,
                &self.metrics,
                self.now,
            )
            .await
            .unwrap();
        self.now = self.now + MIN;
        o
    }

    fn metrics_text(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).unwrap();
        out
    }

    fn event_reasons(&self) -> Vec<&'static str> {
        self.events
            .events()
            .iter()
            .map(|e| e.reason.as_str())
            .collect()
    }
}

#[tokio::test]
async fn sustained_load_resizes_after_the_first_cooldown_and_reports_it() {
    let mut w = World::new("m6i.large");
    let o = w.pass(1.8, 4.0).await;
    let d = o.decision.unwrap();
    assert_eq!(
        d.reason.label(),
        "cooldown",
        "a new term waits one up cooldown"
    );
    w.now = w.now + MIN * 30;
    let o = w.pass(1.8, 4.0).await;
    assert_eq!(o.decision.unwrap().reason.label(), "far_above_high");
    assert_eq!(o.target.as_deref(), Some("m6i.xlarge"));
    assert_eq!(o.act, Some(Act::Started));
    assert_eq!(
        w.actuator.starts(),
        [("m6i.large".to_owned(), "m6i.xlarge".to_owned())]
    );
    // In progress: nothing is decided.
    let o = w.pass(1.8, 4.0).await;
    assert!(o.decision.is_none());
    // Done.
    let o = w.pass(1.8, 4.0).await;
    assert!(
        matches!(o.state.finished, Some(Finished::Succeeded { .. })),
        "{:?}",
        o.state
    );
    assert_eq!(o.state.size, "m6i.xlarge");
    assert_eq!(o.decision.unwrap().reason.label(), "cooldown");
    assert_eq!(
        w.event_reasons(),
        ["ControlPlaneResizeStarted", "ControlPlaneResizeSucceeded"]
    );

    let text = w.metrics_text();
    for line in [
        "tidal_cp_current_size{size=\"m6i.xlarge\"} 1",
        "tidal_cp_current_size{size=\"m6i.large\"} 0",
        "tidal_cp_decision{action=\"hold\",reason=\"cooldown\"} 1",
        "tidal_cp_resizes_total{direction=\"up\",result=\"succeeded\"} 1",
        "tidal_cp_roll_phase{phase=\"idle\"} 1",
        "tidal_cp_nodes 3",
    ] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
    let above: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tidal_cp_above_high_threshold_seconds_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        above >= 31.0 * 60.0,
        "time above the high threshold: {above}"
    );
}

#[tokio::test]
async fn a_refused_size_is_backed_off_and_the_size_kept() {
    let mut w = World::new("m6i.large");
    w.actuator.refuse("m6i.xlarge");
    w.now = w.now + MIN * 31;
    w.autoscaler.last_change = Some(Change {
        at: w.now - MIN * 60,
        direction: Direction::Up,
    });
    let o = w.pass(1.5, 4.0).await;
    let Some(Act::Refused { reason, until }) = o.act else {
        panic!("{:?}", o.act)
    };
    assert!(reason.contains("InvalidInstanceType"), "{reason}");
    assert_eq!(until, w.now - MIN + MIN * 30);
    assert_eq!(w.actuator.size(), "m6i.large");
    let o = w.pass(1.5, 4.0).await;
    assert!(matches!(o.act, Some(Act::BackedOff(_))), "{:?}", o.act);
    assert_eq!(
        w.actuator.starts().len(),
        1,
        "no second attempt while backed off"
    );
    assert!(
        w.metrics_text()
            .contains("tidal_cp_backed_off{size=\"m6i.xlarge\"} 1")
    );
    // After the backoff, one more attempt; refused again, it backs off twice as long.
    w.now = w.now + MIN * 30;
    let o = w.pass(1.5, 4.0).await;
    let Some(Act::Refused { until, .. }) = o.act else {
        panic!("{:?}", o.act)
    };
    assert_eq!(until, w.now - MIN + MIN * 60);
    let warnings: Vec<bool> = w.events.events().iter().map(|e| e.warning).collect();
    assert_eq!(warnings, [true, true]);
    assert_eq!(w.event_reasons(), ["ControlPlaneResizeRefused"; 2]);
}

#[tokio::test]
async fn a_failed_resize_raises_an_event_and_backs_off() {
    let mut w = World::new("m6i.large");
    w.actuator.fail("m6i.xlarge");
    w.autoscaler.last_change = Some(Change {
        at: w.now - MIN * 60,
        direction: Direction::Up,
    });
    assert_eq!(w.pass(1.5, 4.0).await.act, Some(Act::Started));
    w.pass(1.5, 4.0).await;
    let o = w.pass(1.5, 4.0).await;
    assert!(
        matches!(o.state.finished, Some(Finished::Failed { .. })),
        "{:?}",
        o.state
    );
    // Still in the up cooldown of the failed attempt; after it, the target is backed off.
    w.now = w.now + MIN * 28;
    let o = w.pass(1.5, 4.0).await;
    assert!(matches!(o.act, Some(Act::BackedOff(_))), "{:?}", o.act);
    assert_eq!(
        w.event_reasons(),
        ["ControlPlaneResizeStarted", "ControlPlaneResizeFailed"]
    );
    assert!(
        w.metrics_text()
            .contains("tidal_cp_resizes_total{direction=\"up\",result=\"failed\"} 1")
    );
}

#[tokio::test]
async fn prometheus_down_or_no_node_count_changes_nothing() {
    let mut w = World::new("m6i.2xlarge");
    w.autoscaler.last_change = Some(Change {
        at: w.now - MIN * 600,
        direction: Direction::Up,
    });
    w.signals.set(None);
    let o = w
        .autoscaler
        .run_once(
            &w.signals,
            &w.nodes,
            &w.actuator,
            &w.events,
            &w.metrics,
            w.now,
        )
        .await
        .unwrap();
    assert_eq!(o.decision.unwrap().reason.label(), "missing_metrics");
    assert!(o.act.is_none());
    assert_eq!(o.read_errors.len(), 1);
    *w.nodes.0.lock().unwrap() = None;
    let o = w.pass(0.1, 1.0).await;
    assert_eq!(o.decision.unwrap().reason.label(), "missing_node_count");
    assert!(w.actuator.starts().is_empty());
    let text = w.metrics_text();
    assert!(
        text.contains("tidal_cp_errors_total{port=\"signals\",kind=\"query\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tidal_cp_errors_total{port=\"nodes\",kind=\"api\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn the_node_floor_does_not_wait_for_the_first_cooldown() {
    let mut w = World::new("m6i.large");
    *w.nodes.0.lock().unwrap() = Some(300);
    let o = w.pass(0.1, 1.0).await;
    assert_eq!(o.decision.unwrap().reason.label(), "below_node_floor");
    assert_eq!(
        w.actuator.starts(),
        [("m6i.large".to_owned(), "m6i.4xlarge".to_owned())]
    );
}

#[tokio::test]
async fn a_size_off_the_ladder_is_an_error_and_nothing_is_started() {
    let mut w = World::new("c5.large");
    w.signals.set(Some(load(1.9, 7.0, w.now)));
    let err = w
        .autoscaler
        .run_once(
            &w.signals,
            &w.nodes,
            &w.actuator,
            &w.events,
            &w.metrics,
            w.now,
        )
        .await
        .unwrap_err();
    assert_eq!(err.label(), "not_on_ladder");
    assert!(err.to_string().contains("c5.large"), "{err}");
    assert!(w.actuator.starts().is_empty());
}
