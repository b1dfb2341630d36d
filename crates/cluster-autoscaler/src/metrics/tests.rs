#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::outcome::{
    FailureDetected, FailureKind, Fallback, GroupBackoff, NoScaleUp, PodRef, ScaleDown,
    ScaleDownSkip, ScaleUp, ScaleUpReason,
};
use crate::ports::{CloudError, ClusterError};
use crate::status::{GroupStatus, Health, StatusReport};
use tidal_core::Timestamp;

fn group(pool: &str, zone: &str) -> NodeGroupId {
    NodeGroupId::new(pool, zone)
}

fn group_status(id: NodeGroupId, desired: u32, ready: u32) -> GroupStatus {
    GroupStatus {
        asg_name: format!("asg-{}", id.pool),
        group: id,
        health: Health::Healthy,
        min_size: 0,
        max_size: 10,
        desired,
        instances: desired,
        registered: ready,
        ready,
        last_scale_up: None,
        last_scale_down: None,
        last_failure: None,
    }
}

fn outcome() -> LoopOutcome {
    let at = Timestamp::from_secs(1_000);
    let spot = group("spot-c", "eu-central-1a");
    let default = group("default", "eu-central-1a");
    LoopOutcome {
        at,
        dry_run: false,
        unschedulable_pods: 7,
        pods_awaiting_capacity: 2,
        scale_ups: vec![
            ScaleUp {
                group: default.clone(),
                from: 3,
                to: 5,
                pods: 4,
                reason: ScaleUpReason::PendingPods,
                waste: 0.2,
                applied: true,
            },
            ScaleUp {
                group: spot.clone(),
                from: 1,
                to: 9,
                pods: 30,
                reason: ScaleUpReason::PendingPods,
                waste: 0.1,
                applied: false,
            },
        ],
        no_scale_up: vec![NoScaleUp {
            pods: vec![PodRef {
                namespace: "ml".into(),
                name: "train-0".into(),
            }],
            reason: "no pool has nvidia.com/gpu".into(),
        }],
        failures: vec![FailureDetected {
            group: spot.clone(),
            kind: FailureKind::Reported("Could not launch Spot Instances".into()),
            backoff_until: at + Duration::from_secs(300),
            cancelled_to: Some(1),
        }],
        fallbacks: vec![Fallback {
            from: spot.clone(),
            to: default.clone(),
            pods: 30,
        }],
        backoffs: vec![GroupBackoff {
            group: spot.clone(),
            until: at + Duration::from_secs(300),
        }],
        unneeded_nodes: 1,
        scale_downs: vec![
            ScaleDown {
                node: "ip-10-0-0-1".into(),
                group: default.clone(),
                instance_id: "i-1".into(),
                empty: true,
                utilization: 0.0,
                step: ScaleDownStep::Terminated,
            },
            ScaleDown {
                node: "ip-10-0-0-2".into(),
                group: default.clone(),
                instance_id: "i-2".into(),
                empty: false,
                utilization: 0.3,
                step: ScaleDownStep::Draining { evicted: 3 },
            },
        ],
        scale_down_skipped: Some(ScaleDownSkip::RecentScaleUp),
        port_errors: vec![crate::outcome::PortError {
            operation: crate::outcome::Operation::SetDesiredCapacity,
            target: "spot-c/eu-central-1a".into(),
            label: "api",
            message: "throttled".into(),
        }],
        template_problems: vec!["pool gpu: instance types unknown to the cloud: p9.huge".into()],
        unreadable: crate::ports::Unreadable {
            nodes_with_pods: ["node-a".to_owned(), "node-b".to_owned()].into(),
            node_instances: Default::default(),
        },
        status: StatusReport {
            time: at,
            health: Some(Health::Healthy),
            unschedulable_pods: 7,
            last_scale_up: Some(at),
            last_scale_down: Some(at),
            node_groups: vec![group_status(default, 5, 3), group_status(spot, 1, 1)],
            template_problems: Vec::new(),
            unreadable: Vec::new(),
        },
    }
}

fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in\n{text}"
    );
}

#[test]
fn recording_an_outcome_yields_the_expected_exposition_lines() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    metrics.record_outcome(&outcome(), Duration::from_millis(40));
    let text = exposition(&registry);
    let p = "tidal_cluster_autoscaler";
    // Only the applied scale-up counts (the spot one failed to apply).
    assert_line(
        &text,
        &format!(
            r#"{p}_scale_ups_total{{pool="default",zone="eu-central-1a",reason="pending_pods"}} 1"#
        ),
    );
    assert_line(
        &text,
        &format!(
            r#"{p}_scale_up_nodes_total{{pool="default",zone="eu-central-1a",reason="pending_pods"}} 2"#
        ),
    );
    assert!(
        !text.contains(r#"tidal_cluster_autoscaler_scale_ups_total{pool="spot-c""#),
        "{text}"
    );
    assert_line(
        &text,
        &format!(
            r#"{p}_scale_downs_total{{pool="default",zone="eu-central-1a",reason="empty"}} 1"#
        ),
    );
    assert_line(
        &text,
        &format!(
            r#"{p}_failed_scale_ups_total{{pool="spot-c",zone="eu-central-1a",reason="cloud_reported"}} 1"#
        ),
    );
    assert_line(
        &text,
        &format!(r#"{p}_fallbacks_total{{from_pool="spot-c",to_pool="default"}} 1"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_backoff{{pool="spot-c",zone="eu-central-1a"}} 1"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_backoff{{pool="default",zone="eu-central-1a"}} 0"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_backoff_remaining_seconds{{pool="spot-c",zone="eu-central-1a"}} 300.0"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_nodes{{pool="default",zone="eu-central-1a",state="desired"}} 5"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_nodes{{pool="default",zone="eu-central-1a",state="ready"}} 3"#),
    );
    assert_line(&text, &format!("{p}_unschedulable_pods 7"));
    assert_line(&text, &format!("{p}_pods_awaiting_capacity 2"));
    assert_line(&text, &format!("{p}_pods_without_scale_up 1"));
    assert_line(&text, &format!("{p}_unneeded_nodes 1"));
    assert_line(&text, &format!("{p}_pools_without_template 1"));
    assert_line(
        &text,
        &format!(r#"{p}_unreadable_holds{{reason="pod_unreadable"}} 2"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_unreadable_holds{{reason="node_unreadable"}} 0"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_scale_down_skipped_total{{reason="recent_scale_up"}} 1"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_errors_total{{operation="set_desired_capacity",kind="api"}} 1"#),
    );
    assert_line(&text, &format!("{p}_loop_duration_seconds_count 1"));
    assert_line(
        &text,
        &format!(r#"{p}_loop_duration_seconds_bucket{{le="0.04"}} 1"#),
    );
    assert_line(
        &text,
        &format!(r#"{p}_loop_duration_seconds_bucket{{le="0.02"}} 0"#),
    );
}

#[test]
fn backoff_gauges_fall_back_to_zero_when_the_backoff_ends() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let mut o = outcome();
    metrics.record_outcome(&o, Duration::from_millis(5));
    o.backoffs.clear();
    metrics.record_outcome(&o, Duration::from_millis(5));
    let text = exposition(&registry);
    assert_line(
        &text,
        r#"tidal_cluster_autoscaler_backoff{pool="spot-c",zone="eu-central-1a"} 0"#,
    );
    assert_line(
        &text,
        r#"tidal_cluster_autoscaler_scale_ups_total{pool="default",zone="eu-central-1a",reason="pending_pods"} 2"#,
    );
}

#[test]
fn group_series_follow_the_groups_reported_and_are_set_in_place() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let mut o = outcome();
    metrics.record_outcome(&o, Duration::from_millis(5));
    let p = "tidal_cluster_autoscaler";
    let group_lines = |text: &str, pool: &str| {
        let prefixes = ["nodes", "backoff", "backoff_remaining_seconds"]
            .map(|m| format!(r#"{p}_{m}{{pool="{pool}","#));
        (text.lines())
            .filter(|l| prefixes.iter().any(|pre| l.starts_with(pre.as_str())))
            .count()
    };
    assert_eq!(group_lines(&exposition(&registry), "spot-c"), 6);

    // The spot group is no longer reported: its series go; the default group's stay, updated.
    o.status.node_groups.retain(|g| g.group.pool == "default");
    o.status.node_groups[0].desired = 6;
    o.backoffs.clear();
    metrics.record_outcome(&o, Duration::from_millis(5));
    let text = exposition(&registry);
    assert_eq!(group_lines(&text, "spot-c"), 0, "{text}");
    assert_eq!(group_lines(&text, "default"), 6, "{text}");
    assert_line(
        &text,
        &format!(r#"{p}_nodes{{pool="default",zone="eu-central-1a",state="desired"}} 6"#),
    );

    // Reported again, it comes back with its current figures.
    metrics.record_outcome(&outcome(), Duration::from_millis(5));
    let text = exposition(&registry);
    assert_eq!(group_lines(&text, "spot-c"), 6, "{text}");
    for line in [
        r#"backoff{pool="spot-c",zone="eu-central-1a"} 1"#,
        r#"nodes{pool="default",zone="eu-central-1a",state="desired"} 5"#,
    ] {
        assert_line(&text, &format!("{p}_{line}"));
    }
}

#[test]
fn loop_errors_and_skipped_objects_use_fixed_labels() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    metrics.record_loop_error(
        &LoopError::Cluster(ClusterError::NotReady("pods".into())),
        Duration::ZERO,
    );
    metrics.record_loop_error(
        &LoopError::Cloud(CloudError::Invalid("x".into())),
        Duration::ZERO,
    );
    metrics.record_skipped(SkippedObjects {
        pods: 2,
        nodes: 0,
        pdbs: 1,
    });
    metrics.record_leader(true);
    let text = exposition(&registry);
    assert_line(
        &text,
        r#"tidal_cluster_autoscaler_errors_total{operation="snapshot",kind="not_ready"} 1"#,
    );
    assert_line(
        &text,
        r#"tidal_cluster_autoscaler_errors_total{operation="node_groups",kind="invalid"} 1"#,
    );
    assert_line(
        &text,
        r#"tidal_cluster_autoscaler_skipped_objects{kind="pod"} 2"#,
    );
    assert_line(
        &text,
        r#"tidal_cluster_autoscaler_skipped_objects{kind="poddisruptionbudget"} 1"#,
    );
    assert_line(&text, "tidal_cluster_autoscaler_leader 1");
}
