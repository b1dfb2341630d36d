#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde_json::json;
use tidal_core::Timestamp;
use tidal_runtime::Clock;

use self::fakes::*;
use super::*;
use crate::crd::{VerticalPodAutoscalerCheckpoint, VerticalPodAutoscalerCondition};
use crate::status::amount;

const T0: Timestamp = Timestamp::from_secs(1_796_000_000);
const MIB: f64 = 1024.0 * 1024.0;

struct World {
    vpas: Vpas,
    targets: Targets,
    pods: Pods,
    usage: Arc<Usage>,
    writer: Writer,
    clock: Clock,
    registry: Registry,
}

type Subject = Recommender<Vpas, Targets, Pods, Usage, Writer>;

impl World {
    fn new() -> Self {
        Self::with_usage(Usage::default())
    }

    fn with_usage(usage: Usage) -> Self {
        Self {
            vpas: Vpas::default(),
            targets: Targets::default(),
            pods: Pods::default(),
            usage: Arc::new(usage),
            writer: Writer::default(),
            clock: Clock::manual(T0),
            registry: Registry::default(),
        }
    }

    fn recommender(&mut self, config: LoopConfig) -> Subject {
        let ports = Ports {
            vpas: self.vpas.clone(),
            targets: self.targets.clone(),
            pods: self.pods.clone(),
            usage: self.usage.clone(),
            writer: self.writer.clone(),
        };
        let metrics = Metrics::register(&mut self.registry);
        Recommender::new(ports, config, metrics, self.clock.clone())
    }

    fn metrics_text(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).unwrap();
        out
    }
}

fn condition<'a>(
    s: &'a VerticalPodAutoscalerStatus,
    kind: &str,
) -> Option<&'a VerticalPodAutoscalerCondition> {
    s.conditions.iter().find(|c| c.type_ == kind)
}

fn is_true(s: &VerticalPodAutoscalerStatus, kind: &str) -> bool {
    condition(s, kind).is_some_and(|c| c.status == "True")
}

fn target(s: &VerticalPodAutoscalerStatus, resource: &str) -> i64 {
    let rec = &s.recommendation.as_ref().unwrap().container_recommendations[0];
    amount(resource, &rec.target[resource].0).unwrap()
}

/// Samples of pod `web-1` every hour for `hours`, ending at `end`.
fn hourly(end: Timestamp, hours: i64, cores: f64, bytes: f64) -> Vec<UsageSample> {
    (0..hours)
        .rev()
        .map(|h| {
            sample(
                "web-1",
                Timestamp::from_millis(end.as_millis() - h * 3_600_000),
                cores,
                bytes,
            )
        })
        .collect()
}

fn web_world() -> World {
    let w = World::new();
    w.vpas.set(vec![vpa("web", Some("tidal"), json!([]))]);
    w.pods.set(vec![pod("web", "web-1", None)]);
    w
}

#[tokio::test]
async fn usage_becomes_a_recommendation_written_once_until_it_changes() {
    let mut w = web_world();
    w.usage.set(Some(hourly(T0, 48, 0.3, 600.0 * MIB)));
    let mut r = w.recommender(LoopConfig::default());
    let report = r.run_once().await.unwrap();
    assert_eq!(
        (
            report.vpas,
            report.pods,
            report.samples,
            report.statuses_written
        ),
        (1, 1, 48, 1)
    );
    let status = w.writer.last_status("web").unwrap();
    assert!(is_true(&status, "RecommendationProvided"), "{status:?}");
    assert!(target(&status, "cpu") >= 300, "{status:?}");
    assert!(
        target(&status, "memory") as f64 >= 600.0 * MIB,
        "{status:?}"
    );
    assert_eq!(report.checkpoints_written, 1);
    assert_eq!(
        w.writer.checkpoints.lock().unwrap().keys().next().unwrap(),
        &ObjectKey::new("shop", "web-app")
    );

    // Nothing new: nothing written.
    let again = r.run_once().await.unwrap();
    assert_eq!(
        (
            again.samples,
            again.statuses_written,
            again.checkpoints_written
        ),
        (0, 0, 0)
    );
    let text = w.metrics_text();
    assert!(text.contains(r#"tidal_vpa_recommendation{namespace="shop",vpa="web",container="app",resource="cpu",kind="target"}"#), "{text}");
}

#[tokio::test]
async fn only_vpas_naming_this_recommender_are_handled_and_unnamed_ones_with_the_flag() {
    let mut w = World::new();
    w.vpas.set(vec![
        vpa("a", Some("upstream"), json!([])),
        vpa("b", None, json!([])),
        vpa("c", Some("tidal"), json!([])),
    ]);
    let mut r = w.recommender(LoopConfig::default());
    assert_eq!(r.run_once().await.unwrap().vpas, 1);
    let mut r = w.recommender(LoopConfig {
        handle_unnamed: true,
        ..LoopConfig::default()
    });
    assert_eq!(r.run_once().await.unwrap().vpas, 2);
    assert!(w.writer.last_status("a").is_none());
}

#[tokio::test]
async fn bad_input_gets_conditions_never_a_crash() {
    let mut w = World::new();
    w.vpas.set(vec![
        vpa("nothing", Some("tidal"), json!([])),
        vpa("gone", Some("tidal"), json!([])),
        vpa("odd", Some("tidal"), json!([])),
        vpa("minmax", Some("tidal"), json!([{"containerName": "app", "minAllowed": {"memory": "2Gi"}, "maxAllowed": {"memory": "1Gi"}}])),
        vpa("gpu", Some("tidal"), json!([{"containerName": "app", "maxAllowed": {"nvidia.com/gpu": "1"}}])),
    ]);
    w.targets
        .0
        .lock()
        .unwrap()
        .insert("gone".into(), Err("missing".into()));
    w.targets
        .0
        .lock()
        .unwrap()
        .insert("odd".into(), Err("Rollout shop/odd: no such kind".into()));
    let mut r = w.recommender(LoopConfig::default());
    let report = r.run_once().await.unwrap();
    assert_eq!(report.statuses_written, 5);

    let nothing = w.writer.last_status("nothing").unwrap();
    assert!(is_true(&nothing, "NoPodsMatched"), "{nothing:?}");
    assert!(!is_true(&nothing, "RecommendationProvided"));
    let gone = w.writer.last_status("gone").unwrap();
    assert!(is_true(&gone, "NoPodsMatched"));
    assert!(
        condition(&gone, "NoPodsMatched")
            .unwrap()
            .message
            .as_ref()
            .unwrap()
            .contains("not found")
    );
    let odd = w.writer.last_status("odd").unwrap();
    assert!(is_true(&odd, "ConfigUnsupported"));
    assert!(
        condition(&odd, "ConfigUnsupported")
            .unwrap()
            .message
            .as_ref()
            .unwrap()
            .contains("no such kind")
    );
    let minmax = w.writer.last_status("minmax").unwrap();
    assert!(
        condition(&minmax, "ConfigUnsupported")
            .unwrap()
            .message
            .as_ref()
            .unwrap()
            .contains("minAllowed.memory"),
        "{minmax:?}"
    );
    let gpu = w.writer.last_status("gpu").unwrap();
    assert!(
        condition(&gpu, "ConfigUnsupported")
            .unwrap()
            .message
            .as_ref()
            .unwrap()
            .contains("nvidia.com/gpu"),
        "{gpu:?}"
    );
}

#[tokio::test]
async fn metrics_down_keeps_the_last_recommendation_and_says_so() {
    let mut w = web_world();
    w.usage.set(Some(hourly(T0, 48, 0.5, 800.0 * MIB)));
    let mut r = w.recommender(LoopConfig::default());
    r.run_once().await.unwrap();
    let before = w.writer.last_status("web").unwrap();

    w.usage.set(None);
    w.clock.advance(Duration::from_secs(3 * 24 * 3600));
    let report = r.run_once().await.unwrap();
    assert!(!report.metrics_available);
    let after = w.writer.last_status("web").unwrap();
    assert!(is_true(&after, "MetricsUnavailable"), "{after:?}");
    assert!(is_true(&after, "RecommendationProvided"));
    assert!(target(&after, "memory") >= target(&before, "memory"));
    assert!(target(&after, "cpu") >= target(&before, "cpu"));
    let text = w.metrics_text();
    assert!(text.contains("tidal_vpa_metrics_available 0"), "{text}");
    assert!(
        text.contains(r#"tidal_vpa_errors_total{operation="usage",kind="unreachable"} 1"#),
        "{text}"
    );

    // The pods going away does not lower it either.
    w.pods.set(vec![]);
    r.run_once().await.unwrap();
    let no_pods = w.writer.last_status("web").unwrap();
    assert!(is_true(&no_pods, "NoPodsMatched"));
    assert_eq!(no_pods.recommendation, after.recommendation);
}

#[tokio::test]
async fn an_oom_kill_raises_memory_above_the_request_at_once() {
    let mut w = web_world();
    w.usage.set(Some(hourly(T0, 48, 0.2, 300.0 * MIB)));
    let mut r = w.recommender(LoopConfig::default());
    r.run_once().await.unwrap();
    let before = target(&w.writer.last_status("web").unwrap(), "memory");
    assert!((before as f64) < GIB, "{before}");

    w.clock.advance(Duration::from_secs(60));
    w.usage.set(Some(vec![]));
    w.pods.set(vec![pod(
        "web",
        "web-1",
        Some(T0 + Duration::from_secs(30)),
    )]);
    let report = r.run_once().await.unwrap();
    assert_eq!(report.oom_kills, 1);
    let after = target(&w.writer.last_status("web").unwrap(), "memory");
    assert!(
        after as f64 > GIB,
        "above the 1 GiB request at the kill: {after}"
    );
    // The same kill seen again is not counted twice.
    assert_eq!(r.run_once().await.unwrap().oom_kills, 0);
    assert!(
        w.metrics_text()
            .contains(r#"tidal_vpa_oom_kills_total{namespace="shop",vpa="web"} 1"#)
    );
}

#[tokio::test]
async fn a_restart_keeps_history_through_checkpoints() {
    let mut w = web_world();
    w.usage.set(Some(hourly(T0, 72, 0.4, 700.0 * MIB)));
    let mut first = w.recommender(LoopConfig::default());
    first.run_once().await.unwrap();
    let before = w.writer.last_status("web").unwrap();
    assert_eq!(w.writer.checkpoints.lock().unwrap().len(), 1);

    // A new process: nothing in memory, no metrics yet, the VPA's status not visible.
    w.usage.set(Some(vec![]));
    w.writer.statuses.lock().unwrap().clear();
    let mut second = w.recommender(LoopConfig::default());
    second.run_once().await.unwrap();
    let after = w.writer.last_status("web").unwrap();
    assert!(is_true(&after, "RecommendationProvided"), "{after:?}");
    assert_eq!(target(&after, "cpu"), target(&before, "cpu"));
    // The checkpoint leaves out the current day's memory peak (as upstream's does); the
    // two earlier days' peaks were the same.
    assert_eq!(target(&after, "memory"), target(&before, "memory"));
    let restored = second.state().aggregates().values().next().unwrap();
    assert_eq!(restored.aggregate.total_samples(), 72);
}

#[tokio::test]
async fn a_restart_keeps_the_oom_bump_through_the_checkpoint() {
    let mut w = web_world();
    w.usage.set(Some(hourly(T0, 48, 0.2, 300.0 * MIB)));
    let mut first = w.recommender(LoopConfig::default());
    first.run_once().await.unwrap();
    w.clock.advance(Duration::from_secs(60));
    w.usage.set(Some(vec![]));
    w.pods.set(vec![pod(
        "web",
        "web-1",
        Some(T0 + Duration::from_secs(30)),
    )]);
    let report = first.run_once().await.unwrap();
    assert_eq!(report.oom_kills, 1);
    // The kill makes the checkpoint due at once, not after --checkpoint-interval.
    assert_eq!(report.checkpoints_written, 1);
    let bumped = target(&w.writer.last_status("web").unwrap(), "memory");
    assert!(bumped as f64 > GIB, "{bumped}");
    let checkpoint = w
        .writer
        .checkpoints
        .lock()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    let annotation =
        &checkpoint.metadata.annotations.as_ref().unwrap()[crate::checkpoints::OOM_ANNOTATION];
    assert!(annotation.contains("\"kills\":1"), "{annotation}");

    // A new process, and the pod was replaced: no pod's lastState shows the kill any more.
    w.clock.advance(Duration::from_secs(60));
    w.pods.set(vec![pod("web", "web-2", None)]);
    w.writer.statuses.lock().unwrap().clear();
    let mut second = w.recommender(LoopConfig::default());
    let report = second.run_once().await.unwrap();
    assert_eq!(report.oom_kills, 0);
    let after = target(&w.writer.last_status("web").unwrap(), "memory");
    assert_eq!(after, bumped, "the bump survives the restart");
}

#[tokio::test]
async fn history_is_awaited_with_a_condition_and_taken_in_before_held_back_samples() {
    let mut w = World::with_usage(Usage {
        has_history: true,
        ..Usage::default()
    });
    w.vpas.set(vec![vpa("web", Some("tidal"), json!([]))]);
    w.pods.set(vec![pod("web", "web-1", None)]);
    w.usage
        .set(Some(vec![sample("web-1", T0, 0.2, 200.0 * MIB)]));
    let mut r = w.recommender(LoopConfig::default());
    let report = r.run_once().await.unwrap();
    assert_eq!(report.samples, 1, "held back");
    let status = w.writer.last_status("web").unwrap();
    assert!(is_true(&status, "FetchingHistory"), "{status:?}");
    assert!(r.state().aggregates().is_empty());

    let history = UsageHistory {
        samples: hourly(
            Timestamp::from_millis(T0.as_millis() - 3_600_000),
            96,
            1.0,
            2.0 * GIB,
        ),
        ..UsageHistory::default()
    };
    r.ingest_history(history);
    w.clock.advance(Duration::from_secs(60));
    r.run_once().await.unwrap();
    let status = w.writer.last_status("web").unwrap();
    assert!(
        condition(&status, "FetchingHistory").is_none(),
        "{status:?}"
    );
    assert!(
        target(&status, "memory") as f64 >= 2.0 * GIB,
        "history counted: {status:?}"
    );
    assert_eq!(
        r.state()
            .aggregates()
            .values()
            .next()
            .unwrap()
            .aggregate
            .total_samples(),
        97
    );
}

#[tokio::test]
async fn orphan_checkpoints_are_collected_a_batch_per_loop() {
    let mut w = web_world();
    for vpa in ["gone-1", "gone-2", "gone-3"] {
        let mut c = VerticalPodAutoscalerCheckpoint::new(
            &format!("{vpa}-app"),
            crate::crd::VerticalPodAutoscalerCheckpointSpec {
                vpa_object_name: vpa.into(),
                container_name: "app".into(),
            },
        );
        c.metadata.namespace = Some("shop".into());
        w.writer
            .checkpoints
            .lock()
            .unwrap()
            .insert(ObjectKey::new("shop", format!("{vpa}-app")), c);
    }
    let mut r = w.recommender(LoopConfig {
        gc_batch: 2,
        ..LoopConfig::default()
    });
    assert_eq!(r.run_once().await.unwrap().checkpoints_deleted, 2);
    assert_eq!(r.run_once().await.unwrap().checkpoints_deleted, 1);
    assert_eq!(r.run_once().await.unwrap().checkpoints_deleted, 0);
}

#[tokio::test]
async fn a_failed_status_write_is_counted_and_retried() {
    let mut w = web_world();
    w.usage.set(Some(hourly(T0, 24, 0.3, 500.0 * MIB)));
    *w.writer.fail.lock().unwrap() = true;
    let mut r = w.recommender(LoopConfig::default());
    assert_eq!(r.run_once().await.unwrap().status_errors, 1);
    assert!(
        w.metrics_text()
            .contains(r#"tidal_vpa_errors_total{operation="write_status",kind="api"} 1"#)
    );
    *w.writer.fail.lock().unwrap() = false;
    assert_eq!(r.run_once().await.unwrap().statuses_written, 1);
}
