//! Scenario messages in the author's terms: suggestions for near misses, upstream spellings
//! accepted, plain words for expected values, one message per error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::error::Error as _;
use std::path::Path;

use tidal_cluster_autoscaler::config::ExpanderKind;
use tidal_simulate::Scenario;

use common::{error, small_with};

#[test]
fn near_misses_get_a_did_you_mean() {
    let err = error(&small_with(
        "  cpu_per_unit: 10m\n",
        "  cpu_per_unti: 10m\n",
    ));
    assert!(err.contains("did you mean `cpu_per_unit`"), "{err}");
    let err = error(&small_with("[m6i.xlarge]", "[m6i.xlarg]"));
    assert!(err.contains("node_pools[0].instance_types[0]"), "{err}");
    assert!(err.contains("did you mean `m6i.xlarge`"), "{err}");
    let err = error(&format!(
        "{}failures:\n- {{kind: spot_interruption, pool: fallbak, at: 1h, count: 1}}\n",
        common::SMALL
    ));
    assert!(
        err.contains("no node pool \"fallbak\" (did you mean `fallback`?)"),
        "{err}"
    );
    let err = error(&small_with(
        "scale_down_unneeded_time: 5m",
        "expanders: [least-wast]",
    ));
    assert!(err.contains("did you mean `least-waste`?"), "{err}");
}

#[test]
fn upstream_spellings_are_accepted() {
    let text = small_with(
        "  scale_down_unneeded_time: 5m\n",
        "  scale-down-unneeded-time: 5m\n  expander: priority,least-waste\n  max-nodes-total: 30\n",
    )
    .replace("min_replicas: 2", "minReplicas: 2")
    .replace("max_replicas: 60", "maxReplicas: 60")
    .replace(
        "target_cpu_utilization: 70",
        "targetCPUUtilizationPercentage: 70",
    )
    .replace("min_available: 2", "minAvailable: 2");
    let s = Scenario::from_yaml(&text, "ok.yaml", Path::new(".")).unwrap();
    assert_eq!(
        s.autoscaler.expanders,
        vec![ExpanderKind::Priority, ExpanderKind::LeastWaste]
    );
    assert_eq!(s.autoscaler.cluster_node_limit, Some(30));
    assert_eq!(s.autoscaler.scale_down_unneeded_time.as_secs(), 300);
    assert_eq!(
        (s.workloads[0].min_replicas, s.workloads[0].max_replicas),
        (2, 60)
    );
    assert_eq!(s.workloads[0].pdb_min_available, Some(2));
    let list = small_with(
        "scale_down_unneeded_time: 5m",
        "expanders: [random, least-waste]",
    );
    let s = Scenario::from_yaml(&list, "ok.yaml", Path::new(".")).unwrap();
    assert_eq!(
        s.autoscaler.expanders,
        vec![ExpanderKind::Random, ExpanderKind::LeastWaste]
    );
}

#[test]
fn expected_values_are_said_in_the_authors_terms() {
    let err = error(&small_with("  replicas: 4\n", "  replicas: -4\n"));
    assert!(err.contains("a whole number ≥ 0"), "{err}");
    assert!(!err.contains("u32"), "{err}");
    let err = error(&small_with(
        "{cpu: 500m, memory: 1Gi}",
        "{cpu: 1Gi, memory: 1Gi}",
    ));
    assert!(
        err.contains("CPU as cores or millicores, e.g. 2 or 500m"),
        "{err}"
    );
    assert!(
        !err.contains("Mi,") && !err.contains("512Mi"),
        "no memory units for CPU: {err}"
    );
    let err = error(&small_with(
        "{cpu: 500m, memory: 1Gi}",
        "{cpu: 500m, memory: lots}",
    ));
    assert!(err.contains("e.g. 512Mi or 2Gi"), "{err}");
}

#[test]
fn each_error_is_one_message_with_one_position() {
    let text = small_with("  replicas: 4\n", "  replicas: many\n");
    let err = Scenario::from_yaml(&text, "bad.yaml", Path::new(".")).unwrap_err();
    assert!(
        err.source().is_none(),
        "no second message: {:?}",
        err.source()
    );
    let text = err.to_string();
    assert_eq!(text.matches("line").count(), 0, "{text}");
    assert_eq!(text.matches("bad.yaml:").count(), 1, "{text}");
}
