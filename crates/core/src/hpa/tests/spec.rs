//! The spec reads Kubernetes' own JSON/YAML shape and is validated like the API server does.

use super::*;

const HPA_SPEC: &str = r#"{
  "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
  "minReplicas": 2,
  "maxReplicas": 20,
  "metrics": [
    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
    {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app",
      "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "100"}}},
    {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "web"},
      "metric": {"name": "requests", "selector": {"matchLabels": {"path": "/"}}},
      "target": {"type": "Value", "value": "2k"}}},
    {"type": "External", "external": {"metric": {"name": "queue_length"}, "target": {"type": "AverageValue", "averageValue": 30}}}
  ],
  "behavior": {
    "scaleDown": {"stabilizationWindowSeconds": 120, "selectPolicy": "Min",
      "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}, {"type": "Percent", "value": 10, "periodSeconds": 60}]},
    "scaleUp": {"tolerance": "0.05"}
  }
}"#;

#[test]
fn reads_the_kubernetes_shape() {
    let spec: HpaSpec = serde_json::from_str(HPA_SPEC).unwrap();
    spec.validate().unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (2, 20));
    assert_eq!(spec.metrics[0], cpu_utilization(60));
    assert_eq!(
        spec.metrics[1],
        MetricSpec::container_resource("memory", "app", MetricTarget::average_value(q("512Mi")))
    );
    assert_eq!(spec.metrics[2], MetricSpec::pods("rps", q("100")));
    assert_eq!(
        spec.metrics[4],
        MetricSpec::external("queue_length", MetricTarget::average_value(q("30")))
    );
    let down = spec.behavior.as_ref().unwrap().scale_down.as_ref().unwrap();
    assert_eq!(down.select_policy, Some(SelectPolicy::Min));
    assert_eq!(
        down.policies.as_ref().unwrap()[1],
        HpaScalingPolicy::percent(10, 60)
    );
    let descriptions: Vec<String> = spec.metrics.iter().map(MetricSpec::describe).collect();
    assert_eq!(descriptions[3], "Ingress metric requests");
    // Round trip.
    let again: HpaSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(again, spec);
    // minReplicas defaults to 1.
    let minimal: HpaSpec = serde_json::from_str(r#"{"maxReplicas": 3}"#).unwrap();
    assert_eq!(minimal.min_replicas, 1);
    assert_eq!(minimal.effective_metrics(), vec![cpu_utilization(80)]);
}

#[test]
fn unknown_fields_and_bad_values_are_rejected_with_their_name() {
    let typo = HPA_SPEC.replace("\"maxReplicas\"", "\"maxReplica\"");
    let err = serde_json::from_str::<HpaSpec>(&typo)
        .unwrap_err()
        .to_string();
    assert!(err.contains("maxReplica"), "{err}");
    let bad_target = r#"{"maxReplicas": 3, "metrics": [{"type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageValue": "1"}}}]}"#;
    assert!(serde_json::from_str::<HpaSpec>(bad_target).is_err());
    let bad_quantity = HPA_SPEC.replace("\"512Mi\"", "\"512 MB\"");
    let err = serde_json::from_str::<HpaSpec>(&bad_quantity)
        .unwrap_err()
        .to_string();
    assert!(err.contains("512 MB"), "{err}");
}

#[test]
fn validation_names_the_field() {
    let field_of = |spec: HpaSpec| match spec.validate() {
        Err(HpaError::InvalidSpec { field, .. }) => field,
        other => panic!("expected an invalid spec, got {other:?}"),
    };
    assert_eq!(field_of(HpaSpec::new(-1, 3, vec![])), "minReplicas");
    assert_eq!(field_of(HpaSpec::new(0, 0, vec![])), "maxReplicas");
    assert_eq!(field_of(HpaSpec::new(4, 3, vec![])), "maxReplicas");
    assert_eq!(
        field_of(HpaSpec::new(1, 3, vec![cpu_utilization(0)])),
        "metrics[0].resource.target.averageUtilization"
    );
    assert_eq!(
        field_of(HpaSpec::new(
            1,
            3,
            vec![
                demand(),
                MetricSpec::resource("cpu", MetricTarget::value(q("1")))
            ]
        )),
        "metrics[1].resource.target.type"
    );
    assert_eq!(
        field_of(HpaSpec::new(1, 3, vec![MetricSpec::pods("rps", q("0"))])),
        "metrics[0].pods.target.averageValue"
    );
    assert_eq!(
        field_of(HpaSpec::new(
            1,
            3,
            vec![MetricSpec::external("", MetricTarget::value(q("1")))]
        )),
        "metrics[0].external.metric.name"
    );
    assert_eq!(
        field_of(HpaSpec::new(
            1,
            3,
            vec![MetricSpec::container_resource(
                "cpu",
                "",
                MetricTarget::utilization(50)
            )]
        )),
        "metrics[0].containerResource.container"
    );
    let with = |rules: HpaScalingRules| {
        demand_spec(1, 3).with_behavior(HpaBehavior {
            scale_up: None,
            scale_down: Some(rules),
        })
    };
    assert_eq!(
        field_of(with(HpaScalingRules {
            stabilization_window_seconds: Some(3601),
            ..Default::default()
        })),
        "behavior.scaleDown.stabilizationWindowSeconds"
    );
    assert_eq!(
        field_of(with(HpaScalingRules {
            policies: Some(vec![]),
            ..Default::default()
        })),
        "behavior.scaleDown.policies"
    );
    assert_eq!(
        field_of(with(HpaScalingRules {
            policies: Some(vec![HpaScalingPolicy::pods(1, 1801)]),
            ..Default::default()
        })),
        "behavior.scaleDown.policies[0].periodSeconds"
    );
    assert_eq!(
        field_of(with(HpaScalingRules {
            policies: Some(vec![HpaScalingPolicy::percent(0, 60)]),
            ..Default::default()
        })),
        "behavior.scaleDown.policies[0].value"
    );
    assert_eq!(
        field_of(with(HpaScalingRules {
            tolerance: Some(q("-0.1")),
            ..Default::default()
        })),
        "behavior.scaleDown.tolerance"
    );
    let message = HpaSpec::new(4, 3, vec![])
        .validate()
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "invalid HPA spec: maxReplicas: must be greater than or equal to minReplicas (4)"
    );
}
