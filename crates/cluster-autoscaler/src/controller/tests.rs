#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_core::scheduling::PodSpec;

use super::*;
use crate::config::AutoscalerConfig;
use crate::node_pool::NodePools;
use crate::ports::{ClusterActions, ClusterSnapshot, ClusterSource, Event, NodeGroupId};
use crate::testing::{
    ClusterCall, FakeCloud, FakeCluster, group, instance, instance_types, node, pending_pod,
};

const GIB: i64 = 1 << 30;
const ZONE: &str = "eu-central-1a";

impl WatchedCluster for FakeCluster {
    async fn wait_until_ready(&self) -> Result<(), ClusterError> {
        Ok(())
    }
}

fn now() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn pools() -> NodePools {
    let yaml = "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n";
    NodePools::from_yaml(yaml, "test.yaml").unwrap()
}

fn autoscaler(config: AutoscalerConfig) -> Autoscaler {
    Autoscaler::new(pools(), config).unwrap()
}

fn new_metrics() -> (Metrics, Registry) {
    let mut registry = Registry::default();
    (Metrics::register(&mut registry), registry)
}

fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// A controller with the fixed clock `now`, following `leader`, and the registry of its metrics.
fn controller_led_by<P: CloudProvider, C: WatchedCluster>(
    config: AutoscalerConfig,
    cloud: P,
    cluster: C,
    leader: LeaderHandle,
) -> (Controller<P, C>, Registry) {
    let (metrics, registry) = new_metrics();
    let c = Controller::new(autoscaler(config), cloud, cluster, metrics, leader)
        .with_clock(Clock::manual(now()));
    (c, registry)
}

/// A controller that is always leader (see [`controller_led_by`]).
fn controller<P: CloudProvider, C: WatchedCluster>(
    config: AutoscalerConfig,
    cloud: P,
    cluster: C,
) -> (Controller<P, C>, Registry) {
    controller_led_by(config, cloud, cluster, LeaderHandle::always())
}

/// Asserts that the controller made no call that changes the cloud or the cluster.
fn assert_acted_on_nothing(c: &Controller<FakeCloud, FakeCluster>) {
    assert!(c.cluster.calls().is_empty(), "{:?}", c.cluster.calls());
    assert!(c.cloud.calls().is_empty(), "{:?}", c.cloud.calls());
}

/// One empty group `default` (ASG max 10).
fn empty_group_cloud() -> FakeCloud {
    FakeCloud::new(vec![group("default", ZONE, 10)], instance_types())
}

/// No nodes and one pod (`web-1`, half a CPU) Unschedulable for 30 s.
fn one_pending_pod() -> ClusterSnapshot {
    ClusterSnapshot {
        taken_at: now(),
        nodes: Vec::new(),
        pods: Arc::new(vec![pending_pod(
            PodSpec::new("web-1", Resources::pod(500, GIB)),
            now() - Duration::from_secs(30),
        )]),
        pdbs: Vec::new(),
        unreadable: Default::default(),
    }
}

/// One group with one running, empty node: a scale-down candidate.
fn idle_cluster() -> (FakeCloud, FakeCluster) {
    let mut g = group("default", ZONE, 10);
    g.desired = 1;
    g.instances
        .push(instance("i-idle", now() - Duration::from_secs(3600)));
    let cloud = FakeCloud::new(vec![g], instance_types());
    let snapshot = ClusterSnapshot {
        taken_at: now(),
        nodes: vec![node("idle", "i-idle", ZONE, 2000, 8)],
        ..ClusterSnapshot::default()
    };
    (cloud, FakeCluster::new(snapshot))
}

fn eager_scale_down() -> AutoscalerConfig {
    AutoscalerConfig {
        scale_down_unneeded_time: Duration::ZERO,
        scale_down_delay_after_add: Duration::ZERO,
        ..AutoscalerConfig::default()
    }
}

/// A controller over [`idle_cluster`] that scales down as soon as it may.
fn eager_idle_controller() -> (Controller<FakeCloud, FakeCluster>, Registry) {
    let (cloud, cluster) = idle_cluster();
    controller(eager_scale_down(), cloud, cluster)
}

#[tokio::test]
async fn a_failing_cloud_is_recorded_and_nothing_is_scaled_down() {
    let (mut c, registry) = eager_idle_controller();
    c.cloud.fail("node_groups");
    for _ in 0..3 {
        assert!(matches!(c.tick().await, Tick::Failed(_)));
    }
    assert_acted_on_nothing(&c);
    let text = exposition(&registry);
    assert!(
        text.contains(
            r#"tidal_cluster_autoscaler_errors_total{operation="node_groups",kind="api"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains("tidal_cluster_autoscaler_loop_duration_seconds_count 3"),
        "{text}"
    );
}

#[tokio::test]
async fn a_partly_failing_cloud_blocks_scale_down_that_a_healthy_one_allows() {
    // Healthy: the idle node is marked for deletion within a few loops.
    let (mut c, _) = eager_idle_controller();
    for _ in 0..3 {
        c.tick().await;
    }
    assert!(
        c.cluster
            .calls()
            .contains(&ClusterCall::Mark("idle".into())),
        "{:?}",
        c.cluster.calls()
    );

    // Failure scan failing: the cloud view is uncertain, so nothing is removed.
    let (mut c, registry) = eager_idle_controller();
    c.cloud.fail("scale_up_failures");
    for _ in 0..3 {
        assert!(matches!(c.tick().await, Tick::Ran(_)));
    }
    assert_acted_on_nothing(&c);
    let text = exposition(&registry);
    assert!(text.contains(r#"operation="scale_up_failures""#), "{text}");
}

#[tokio::test]
async fn dry_run_decides_a_scale_up_but_changes_nothing() {
    let cloud = DryRun::new(empty_group_cloud());
    let cluster = DryRun::new(FakeCluster::new(one_pending_pod()));
    // The autoscaler itself is not told: the wrapper alone must keep the world unchanged.
    let (mut c, registry) = controller(AutoscalerConfig::default(), cloud, cluster);
    let Tick::Ran(outcome) = c.tick().await else {
        panic!("loop failed")
    };
    let up = outcome.scale_ups.first().expect("a scale-up was decided");
    assert_eq!(up.group, NodeGroupId::new("default", ZONE));
    assert!(up.to > up.from);
    assert!(
        c.cloud.inner().calls().is_empty(),
        "{:?}",
        c.cloud.inner().calls()
    );
    assert_eq!(c.cloud.inner().desired(&up.group), Some(0));
    assert!(c.cluster.inner().calls().is_empty());
    assert!(c.cluster.inner().events().is_empty());
    assert!(c.cluster.inner().statuses.lock().unwrap().is_empty());
    assert!(exposition(&registry).contains("tidal_cluster_autoscaler_unschedulable_pods 1"));
}

#[tokio::test]
async fn invalid_pod_events_are_published_before_the_loop() {
    struct WithInvalid(FakeCluster, std::sync::Mutex<Vec<Event>>);
    impl ClusterSource for WithInvalid {
        fn snapshot(&self) -> Result<ClusterSnapshot, ClusterError> {
            self.0.snapshot()
        }
    }
    impl ClusterActions for WithInvalid {
        async fn evict_pod(&self, n: &str, p: &str) -> Result<(), ClusterError> {
            self.0.evict_pod(n, p).await
        }
        async fn pods_on_node(
            &self,
            n: &str,
        ) -> Result<Vec<crate::ports::ClusterPod>, ClusterError> {
            self.0.pods_on_node(n).await
        }
        async fn mark_for_deletion(&self, n: &str) -> Result<(), ClusterError> {
            self.0.mark_for_deletion(n).await
        }
        async fn unmark_for_deletion(&self, n: &str) -> Result<(), ClusterError> {
            self.0.unmark_for_deletion(n).await
        }
        async fn record_event(&self, e: &Event) -> Result<(), ClusterError> {
            self.0.record_event(e).await
        }
        async fn write_status(&self, s: &crate::ports::StatusReport) -> Result<(), ClusterError> {
            self.0.write_status(s).await
        }
    }
    impl WatchedCluster for WithInvalid {
        async fn wait_until_ready(&self) -> Result<(), ClusterError> {
            Ok(())
        }
        fn take_invalid_pod_events(&self) -> Vec<Event> {
            std::mem::take(&mut self.1.lock().unwrap())
        }
    }
    let invalid = Event {
        object: crate::ports::ObjectRef::Pod {
            namespace: "ns".into(),
            name: "broken".into(),
        },
        warning: true,
        reason: crate::ports::EventReason::InvalidPod,
        message: "spec.containers[app].resources.requests.cpu: bad".into(),
    };
    let cluster = WithInvalid(
        FakeCluster::default(),
        std::sync::Mutex::new(vec![invalid.clone()]),
    );
    let cloud = FakeCloud::new(Vec::new(), instance_types());
    let (mut c, _) = controller(AutoscalerConfig::default(), cloud, cluster);
    c.tick().await;
    c.tick().await;
    let events = c.cluster.0.events();
    assert_eq!(
        events.iter().filter(|e| **e == invalid).count(),
        1,
        "published once: {events:?}"
    );
}

#[tokio::test]
async fn a_replica_that_is_not_leader_does_not_act() {
    // An election whose API never answers: the handle never becomes leader.
    let (service, _handle) = tower_test::mock::pair::<
        http::Request<::kube::client::Body>,
        http::Response<::kube::client::Body>,
    >();
    let client = ::kube::Client::new(service, "default");
    let elector = tidal_runtime::LeaderElector::new(
        client,
        "kube-system",
        "tidal-ca",
        "me",
        Default::default(),
    )
    .unwrap();
    let (leader, task) = elector.spawn(std::future::pending());
    let (cloud, cluster) = idle_cluster();
    let (mut c, registry) = controller_led_by(eager_scale_down(), cloud, cluster, leader);
    for _ in 0..3 {
        assert!(matches!(c.tick().await, Tick::NotLeader));
    }
    assert_acted_on_nothing(&c);
    assert!(exposition(&registry).contains("tidal_cluster_autoscaler_leader 0"));
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn run_waits_for_the_cluster_then_loops_every_scan_interval_until_shutdown() {
    let (cloud, cluster) = idle_cluster();
    let readiness = Readiness::new();
    let (c, registry) = controller(AutoscalerConfig::default(), cloud, cluster);
    let c = c.with_readiness(readiness.clone());
    // Virtual time: ticks at 0, 10, 20 and 30 s, then shutdown at 35 s.
    let observed = readiness.clone();
    let shutdown = async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(observed.is_ready(), "ready once the cluster state is");
        tokio::time::sleep(Duration::from_secs(30)).await;
    };
    c.run(shutdown).await.unwrap();
    assert!(!readiness.is_ready(), "not ready after stopping");
    let text = exposition(&registry);
    assert!(
        text.contains("tidal_cluster_autoscaler_loop_duration_seconds_count 4"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn losing_leadership_mid_loop_stops_acting_and_forgets_the_term() {
    // The scale-up call hangs; meanwhile the lease goes to another replica.
    let cloud = empty_group_cloud();
    cloud.stall("set_desired_capacity");
    let cluster = FakeCluster::new(one_pending_pod());
    let far = tokio::time::Instant::now() + Duration::from_secs(3600);
    let (lease, rx) = tokio::sync::watch::channel(Some(far));
    let leader = LeaderHandle::following(rx);
    let (mut c, registry) = controller_led_by(AutoscalerConfig::default(), cloud, cluster, leader);
    let handover = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        lease.send_replace(None);
        lease
    });
    let started = tokio::time::Instant::now();
    assert!(matches!(c.tick().await, Tick::LostLeadership));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert!(c.cloud.calls().is_empty(), "{:?}", c.cloud.calls());
    assert!(
        c.cluster.statuses.lock().unwrap().is_empty(),
        "no status written after the loss"
    );
    assert!(exposition(&registry).contains("tidal_cluster_autoscaler_leader 0"));
    assert!(matches!(c.tick().await, Tick::NotLeader));

    // A new term starts from nothing remembered and acts again once the call answers.
    let lease = handover.await.unwrap();
    lease.send_replace(Some(
        tokio::time::Instant::now() + Duration::from_secs(3600),
    ));
    c.cloud.stalled.lock().unwrap().clear();
    let Tick::Ran(outcome) = c.tick().await else {
        panic!("loop did not run")
    };
    assert_eq!(outcome.scale_ups.len(), 1, "{outcome:?}");
    assert_eq!(c.cloud.calls().len(), 1, "{:?}", c.cloud.calls());
}

#[tokio::test(start_paused = true)]
async fn a_lease_taken_over_between_the_loop_start_and_its_write_stops_the_write() {
    // Leader when the loop starts; right after the loop reads the cloud (all fakes answer at
    // once, so no select gets a chance to notice) the lease goes to another replica.
    let far = tokio::time::Instant::now() + Duration::from_secs(3600);
    let (lease, rx) = tokio::sync::watch::channel(Some(far));
    let cloud = empty_group_cloud();
    cloud.after_next_read(move |_| {
        lease.send_replace(None);
    });
    let cluster = FakeCluster::new(one_pending_pod());
    let leader = LeaderHandle::following(rx);
    let (mut c, registry) = controller_led_by(AutoscalerConfig::default(), cloud, cluster, leader);
    assert!(matches!(c.tick().await, Tick::LostLeadership));
    assert!(
        c.cloud.calls().is_empty(),
        "no scale-up: {:?}",
        c.cloud.calls()
    );
    assert_acted_on_nothing(&c);
    assert!(
        c.cluster.statuses.lock().unwrap().is_empty(),
        "no status written by a replica that does not lead"
    );
    assert!(exposition(&registry).contains("tidal_cluster_autoscaler_leader 0"));
}

#[tokio::test(start_paused = true)]
async fn a_loop_that_overruns_its_deadline_is_stopped_and_acts_on_nothing() {
    // A read hangs after the loop observed pending pods: the scale-up it would make is based
    // on what it saw two scan intervals ago.
    let cloud = empty_group_cloud();
    cloud.stall("scale_up_failures");
    let (c, registry) = controller(
        AutoscalerConfig::default(),
        cloud,
        FakeCluster::new(one_pending_pod()),
    );
    let mut c = c.with_loop_deadline();
    let started = tokio::time::Instant::now();
    let tick = tokio::time::timeout(Duration::from_secs(600), c.tick())
        .await
        .expect("the loop hung: no deadline");
    assert!(matches!(tick, Tick::Overran), "{tick:?}");
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(20),
        "two scan intervals"
    );
    assert_acted_on_nothing(&c);
    assert!(c.cluster.statuses.lock().unwrap().is_empty());
    assert!(
        exposition(&registry).contains("tidal_cluster_autoscaler_loop_overruns_total 1"),
        "{}",
        exposition(&registry)
    );
}
