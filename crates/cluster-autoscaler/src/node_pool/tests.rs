#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tidal_core::scheduling::{Taint, TaintEffect};

use super::*;

const SPEC_EXAMPLE: &str = r#"
node_pools:
- name: default
  instance_types: [m6i.2xlarge]
  min_size: 3
  max_size: 60
  priority: 0
- name: default-fallback
  instance_types: [m5.2xlarge, m5a.2xlarge]
  max_size: 60
  priority: -10
- name: spot-c
  instance_types: [c6i.2xlarge, c5.2xlarge, c5a.2xlarge]
  spot: true
  max_size: 40
  priority: 10
  labels: {aws.amazon.com/spot: "true"}
  taints: ["aws.amazon.com/spot=true:NoSchedule"]
- name: local-ssd
  instance_types: [i3.2xlarge]
  max_size: 10
  labels: {zalando.org/dedicated: local-storage}
  taints: ["dedicated=local-storage:NoSchedule"]
  zones: [eu-central-1a, eu-central-1b]
  scale_down_utilization_threshold: 0.3
  scale_down_unneeded_time: 15m
"#;

/// (displayed error, line, column, field) of a file that must fail.
fn invalid(text: &str) -> (String, usize, usize, String) {
    let e = NodePools::from_yaml(text, "pools.yaml").unwrap_err();
    let shown = e.to_string();
    let NodePoolError::Invalid {
        line,
        column,
        field,
        ..
    } = e;
    (shown, line, column, field)
}

#[test]
fn parses_the_spec_example() {
    let pools = NodePools::from_yaml(SPEC_EXAMPLE, "pools.yaml").unwrap();
    let names: Vec<&str> = pools.pools().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["default", "default-fallback", "spot-c", "local-ssd"]
    );
    let default = pools.get("default").unwrap();
    assert_eq!(
        (default.min_size, default.max_size, default.priority),
        (3, 60, 0)
    );
    assert!(!default.spot);
    assert_eq!(default.zones, None);
    let fallback = pools.get("default-fallback").unwrap();
    assert_eq!((fallback.min_size, fallback.priority), (0, -10));
    let spot = pools.get("spot-c").unwrap();
    assert!(spot.spot);
    assert_eq!(
        spot.labels.get("aws.amazon.com/spot").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        spot.taints,
        vec![Taint::new(
            "aws.amazon.com/spot",
            "true",
            TaintEffect::NoSchedule
        )]
    );
    let ssd = pools.get("local-ssd").unwrap();
    assert_eq!(
        ssd.zones.as_deref(),
        Some(&["eu-central-1a".to_owned(), "eu-central-1b".to_owned()][..])
    );
    assert_eq!(ssd.scale_down_utilization_threshold, Some(0.3));
    assert_eq!(ssd.scale_down_unneeded_time, Some(Duration::from_secs(900)));
    assert!(ssd.allows_zone("eu-central-1a"));
    assert!(!ssd.allows_zone("eu-central-1c"));
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let text =
        "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  max_nodes: 4\n";
    let (shown, line, column, field) = invalid(text);
    assert_eq!(line, 5, "{shown}");
    assert!(column > 0, "{shown}");
    assert_eq!(field, "node_pools[0].max_nodes", "{shown}");
    assert!(shown.starts_with("pools.yaml:5:"), "{shown}");
    assert!(shown.contains("unknown field `max_nodes`"), "{shown}");
}

#[test]
fn wrong_type_names_the_field() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: lots\n";
    let (shown, line, _, field) = invalid(text);
    assert_eq!(line, 4, "{shown}");
    assert_eq!(field, "node_pools[0].max_size", "{shown}");
}

#[test]
fn missing_required_field_is_reported() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n";
    let (shown, line, _, field) = invalid(text);
    assert!(shown.contains("missing field `max_size`"), "{shown}");
    assert_eq!(line, 2, "{shown}");
    assert_eq!(field, "node_pools[0]", "{shown}");
}

#[test]
fn min_above_max_is_rejected_with_the_pool_position() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n- name: b\n  instance_types: [m5.large]\n  min_size: 5\n  max_size: 3\n";
    let (shown, line, _, field) = invalid(text);
    assert_eq!(field, "node_pools[1].min_size", "{shown}");
    assert_eq!(line, 5, "{shown}");
    assert!(
        shown.contains("min_size 5 is greater than max_size 3"),
        "{shown}"
    );
}

#[test]
fn bad_taint_effect_names_the_taint() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  taints: [\"a=b:NoSchedule\", \"x=y:Sometimes\"]\n";
    let (shown, _, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].taints[1]", "{shown}");
    assert!(shown.contains("Sometimes"), "{shown}");
}

#[test]
fn empty_instance_types_and_bad_names_are_rejected() {
    let (shown, _, _, field) =
        invalid("node_pools:\n- name: a\n  instance_types: []\n  max_size: 3\n");
    assert_eq!(field, "node_pools[0].instance_types", "{shown}");
    let (shown, _, _, field) =
        invalid("node_pools:\n- name: a\n  instance_types: [large]\n  max_size: 3\n");
    assert_eq!(field, "node_pools[0].instance_types[0]", "{shown}");
    let (shown, _, _, field) =
        invalid("node_pools:\n- name: Bad_Name\n  instance_types: [m5.large]\n  max_size: 3\n");
    assert_eq!(field, "node_pools[0].name", "{shown}");
}

#[test]
fn invalid_label_key_and_zone_are_rejected() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  labels: {\"bad key\": x}\n";
    let (shown, _, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].labels.bad key", "{shown}");
    let text =
        "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  zones: [moon-1]\n";
    let (shown, _, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].zones[0]", "{shown}");
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  zones: []\n";
    let (shown, _, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].zones", "{shown}");
}

#[test]
fn threshold_and_duration_overrides_are_checked() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  scale_down_utilization_threshold: 1.5\n";
    let (_, _, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].scale_down_utilization_threshold");
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  scale_down_unneeded_time: soon\n";
    let (shown, _, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].scale_down_unneeded_time", "{shown}");
}

#[test]
fn durations_are_bounded() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n  scale_down_unneeded_time: 500000000000y\n";
    let (shown, line, _, field) = invalid(text);
    assert_eq!(field, "node_pools[0].scale_down_unneeded_time", "{shown}");
    assert_eq!(line, 2, "{shown}");
    assert!(
        shown.contains("longer than the maximum of 7days"),
        "{shown}"
    );
    let text = text.replace("500000000000y", "7days");
    assert!(NodePools::from_yaml(&text, "pools.yaml").is_ok());
}

#[test]
fn an_empty_pool_list_is_rejected() {
    // A truncated ConfigMap must not start an autoscaler that manages nothing.
    let (shown, line, column, field) = invalid("# pools\nnode_pools: []\n");
    assert_eq!(field, "node_pools", "{shown}");
    assert_eq!((line, column), (2, 1), "{shown}");
    assert!(shown.contains("at least one node pool"), "{shown}");
    assert!(NodePools::new(Vec::new()).is_err());
}

#[test]
fn duplicate_pool_names_point_at_the_second() {
    let text = "node_pools:\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n- name: a\n  instance_types: [m5.large]\n  max_size: 3\n";
    let (shown, line, column, field) = invalid(text);
    assert_eq!(field, "node_pools[1].name");
    assert_eq!((line, column), (5, 3), "{shown}");
    assert!(shown.contains("duplicate pool name"), "{shown}");
}

#[test]
fn malformed_yaml_has_a_position() {
    let (shown, line, _, _) = invalid("node_pools:\n- name: [a\n");
    assert!(line > 0, "{shown}");
    assert!(shown.starts_with("pools.yaml:"), "{shown}");
}

#[test]
fn bounds_split_evenly_with_the_remainder_to_the_first_zones() {
    let pools = NodePools::from_yaml(SPEC_EXAMPLE, "p").unwrap();
    let default = pools.get("default").unwrap(); // min 3, max 60
    assert_eq!(default.zone_bounds(0, 3), (1, 20));
    assert_eq!(default.zone_bounds(2, 3), (1, 20));
    let spot = pools.get("spot-c").unwrap(); // min 0, max 40
    let maxes: Vec<u32> = (0..3).map(|z| spot.zone_bounds(z, 3).1).collect();
    assert_eq!(maxes, [14, 13, 13]);
    assert_eq!(maxes.iter().sum::<u32>(), 40);
    let one = pools.get("local-ssd").unwrap(); // max 10 over 2 zones
    assert_eq!(one.zone_bounds(0, 2), (0, 5));
    assert_eq!(default.zone_bounds(0, 0), (0, 0));
}

#[test]
fn groups_map_to_pools_by_tags() {
    let tags = [
        ("k8s.io/cluster-autoscaler/enabled", "true"),
        ("k8s.io/cluster-autoscaler/prod", "owned"),
        ("tidal.io/node-pool", "spot-c"),
    ];
    assert_eq!(pool_from_tags(tags, "prod").as_deref(), Some("spot-c"));
    assert_eq!(pool_from_tags(tags, "staging"), None);
    assert_eq!(pool_from_tags(tags[1..].iter().copied(), "prod"), None);
    let pools = NodePools::from_yaml(SPEC_EXAMPLE, "p").unwrap();
    assert!(
        pools
            .pool_for_group(&NodeGroupId::new("local-ssd", "eu-central-1b"))
            .is_some()
    );
    assert!(
        pools
            .pool_for_group(&NodeGroupId::new("local-ssd", "eu-central-1c"))
            .is_none()
    );
    assert!(
        pools
            .pool_for_group(&NodeGroupId::new("unknown", "eu-central-1a"))
            .is_none()
    );
}

#[test]
fn taint_strings_parse() {
    assert_eq!(
        parse_taint("a=b:NoExecute").unwrap(),
        Taint::new("a", "b", TaintEffect::NoExecute)
    );
    assert_eq!(
        parse_taint("gpu:NoSchedule").unwrap(),
        Taint::new("gpu", "", TaintEffect::NoSchedule)
    );
    assert!(parse_taint("a=b").is_err());
    assert!(parse_taint("=b:NoSchedule").is_err());
}
