#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::{Value, json};

/// A VPA as upstream's tools write it, every field the v1 API has.
fn upstream_vpa() -> Value {
    json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "prometheus", "namespace": "monitoring"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "prometheus"},
            "recommenders": [{"name": "tidal"}],
            "updatePolicy": {
                "updateMode": "Recreate",
                "minReplicas": 1,
                "evictionRequirements": [
                    {"resources": ["memory"], "changeRequirement": "TargetHigherThanRequests"}
                ]
            },
            "resourcePolicy": {"containerPolicies": [
                {
                    "containerName": "prometheus",
                    "mode": "Auto",
                    "minAllowed": {"cpu": "100m", "memory": "512Mi"},
                    "maxAllowed": {"cpu": "4", "memory": "32Gi"},
                    "controlledResources": ["cpu", "memory"],
                    "controlledValues": "RequestsAndLimits",
                    "oomBumpUpRatio": "1.5",
                    "oomMinBumpUp": "200Mi"
                },
                {"containerName": "*", "mode": "Off"}
            ]},
            "startupBoost": {"cpu": {"type": "Factor", "factor": 2}}
        },
        "status": {
            "recommendation": {"containerRecommendations": [{
                "containerName": "prometheus",
                "target": {"cpu": "587m", "memory": "2Gi"},
                "lowerBound": {"cpu": "300m", "memory": "1Gi"},
                "upperBound": {"cpu": "2", "memory": "8Gi"},
                "uncappedTarget": {"cpu": "587m", "memory": "2Gi"}
            }]},
            "conditions": [{
                "type": "RecommendationProvided",
                "status": "True",
                "lastTransitionTime": "2026-11-30T10:00:00Z"
            }, {
                "type": "LowConfidence",
                "status": "False",
                "lastTransitionTime": "2026-11-30T10:00:00Z",
                "reason": "EnoughHistory",
                "message": "8 days of samples"
            }]
        }
    })
}

/// A checkpoint as upstream's recommender writes it (Go writes zero times as null).
fn upstream_checkpoint() -> Value {
    json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscalerCheckpoint",
        "metadata": {"name": "prometheus-prometheus", "namespace": "monitoring"},
        "spec": {"vpaObjectName": "prometheus", "containerName": "prometheus"},
        "status": {
            "lastUpdateTime": "2026-11-30T10:00:47Z",
            "version": "v3",
            "cpuHistogram": {
                "referenceTimestamp": "2026-11-30T00:00:00Z",
                "bucketWeights": {"0": 10000, "12": 37},
                "totalWeight": 0.25
            },
            "memoryHistogram": {
                "referenceTimestamp": "2026-12-01T00:00:00Z",
                "bucketWeights": {"2": 38, "41": 10000},
                "totalWeight": 6.673685189638553
            },
            "firstSampleStart": "2026-11-22T04:46:22Z",
            "lastSampleStart": "2026-11-30T10:00:24Z",
            "totalSamplesCount": 650223
        }
    })
}

#[test]
fn an_upstream_vpa_round_trips_unchanged() {
    let vpa: VerticalPodAutoscaler = serde_json::from_value(upstream_vpa()).unwrap();
    assert_eq!(vpa.recommender_names().collect::<Vec<_>>(), ["tidal"]);
    let policies = &vpa
        .spec
        .resource_policy
        .as_ref()
        .unwrap()
        .container_policies;
    assert_eq!(
        policies[0].max_allowed.as_ref().unwrap()["memory"].0,
        "32Gi"
    );
    assert_eq!(policies[1].mode, Some(ContainerScalingMode::Off));
    let status = vpa.status.as_ref().unwrap();
    assert_eq!(
        status
            .recommendation
            .as_ref()
            .unwrap()
            .container_recommendations[0]
            .target["cpu"]
            .0,
        "587m"
    );
    assert_eq!(serde_json::to_value(&vpa).unwrap(), upstream_vpa());
}

#[test]
fn an_upstream_checkpoint_round_trips_unchanged() {
    let cp: VerticalPodAutoscalerCheckpoint =
        serde_json::from_value(upstream_checkpoint()).unwrap();
    let status = cp.status.as_ref().unwrap();
    assert_eq!(status.version, CHECKPOINT_VERSION);
    assert_eq!(status.memory_histogram.bucket_weights[&41], 10_000);
    assert_eq!(status.total_samples_count, 650_223);
    assert_eq!(serde_json::to_value(&cp).unwrap(), upstream_checkpoint());
}

#[test]
fn null_times_and_a_bare_vpa_are_read() {
    let mut cp = upstream_checkpoint();
    cp["status"]["lastUpdateTime"] = Value::Null;
    cp["status"]["cpuHistogram"]["referenceTimestamp"] = Value::Null;
    let cp: VerticalPodAutoscalerCheckpoint = serde_json::from_value(cp).unwrap();
    assert!(cp.status.unwrap().last_update_time.is_none());

    let bare = json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "x"},
        "spec": {"targetRef": {"kind": "Deployment", "name": "x"}, "someFutureField": 1}
    });
    let vpa: VerticalPodAutoscaler = serde_json::from_value(bare).unwrap();
    assert_eq!(vpa.recommender_names().count(), 0);
    assert!(vpa.status.is_none());
}

#[test]
fn the_printed_crds_match_upstreams_names_scope_and_subresources() {
    let crds = crds();
    assert_eq!(crds.len(), 2);
    let vpa = &crds[0];
    assert_eq!(
        vpa.metadata.name.as_deref(),
        Some("verticalpodautoscalers.autoscaling.k8s.io")
    );
    assert_eq!(vpa.spec.scope, "Namespaced");
    assert_eq!(
        vpa.spec.names.short_names.as_deref(),
        Some(&["vpa".to_owned()][..])
    );
    let version = &vpa.spec.versions[0];
    assert_eq!(
        (version.name.as_str(), version.served, version.storage),
        ("v1", true, true)
    );
    assert!(version.subresources.as_ref().unwrap().status.is_some());

    let cp = &crds[1];
    assert_eq!(
        cp.metadata.name.as_deref(),
        Some("verticalpodautoscalercheckpoints.autoscaling.k8s.io")
    );
    assert_eq!(
        cp.spec.names.short_names.as_deref(),
        Some(&["vpacheckpoint".to_owned()][..])
    );
    assert!(
        cp.spec.versions[0].subresources.is_none(),
        "upstream writes checkpoint status with the object"
    );
}

#[test]
fn the_printed_schemas_keep_every_field_the_updater_and_admission_controller_read() {
    let crds = crds();
    let schema = |i: usize| {
        serde_json::to_value(
            &crds[i].spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema,
        )
        .unwrap()
    };
    let vpa = schema(0);
    let spec = &vpa["properties"]["spec"]["properties"];
    for field in [
        "targetRef",
        "updatePolicy",
        "resourcePolicy",
        "recommenders",
        "startupBoost",
    ] {
        assert!(spec.get(field).is_some(), "spec.{field} missing: {spec}");
    }
    assert!(
        spec["updatePolicy"]["properties"]
            .get("minReplicas")
            .is_some()
    );
    assert!(
        spec["updatePolicy"]["properties"]
            .get("evictionRequirements")
            .is_some()
    );
    let container =
        &spec["resourcePolicy"]["properties"]["containerPolicies"]["items"]["properties"];
    assert_eq!(
        container["maxAllowed"]["additionalProperties"]["x-kubernetes-int-or-string"],
        true
    );
    let rec = &vpa["properties"]["status"]["properties"]["recommendation"]["properties"]["containerRecommendations"]
        ["items"]["properties"];
    for field in ["target", "lowerBound", "upperBound", "uncappedTarget"] {
        assert!(rec.get(field).is_some(), "{field} missing: {rec}");
    }

    let cp = schema(1);
    let weights =
        &cp["properties"]["status"]["properties"]["memoryHistogram"]["properties"]["bucketWeights"];
    assert_eq!(
        weights["x-kubernetes-preserve-unknown-fields"], true,
        "{weights}"
    );

    let yaml = crds_yaml().unwrap();
    assert_eq!(yaml.matches("kind: CustomResourceDefinition").count(), 2);
    assert!(yaml.contains("api-approved.kubernetes.io"));
}

#[test]
fn the_deployed_crds_are_what_tidal_vpa_crds_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/vpa/crds.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let deployed: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        deployed,
        crds_yaml().unwrap(),
        "regenerate with `tidal vpa crds > deploy/vpa/crds.yaml`"
    );
}
