//! What `kubectl apply -k` would install: every kustomization in `deploy/` renders offline, and
//! every object it renders parses into its typed Kubernetes API object with no field left over
//! (a misspelt or misplaced field is an error naming the kustomization, the object and the
//! field, instead of being dropped silently by the API server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Types of the objects of other projects' APIs the kustomizations use (cert-manager,
/// Prometheus Operator).
mod manifest_types;

/// Every kustomization a user may apply: the base and each overlay.
const KUSTOMIZATIONS: &[&str] = &[
    "deploy",
    "deploy/overlays/eks",
    "deploy/overlays/self-managed",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `kubectl kustomize DIR`, as JSON values, one per object.
fn render(dir: &str) -> Vec<Value> {
    let kubectl = tidal_test_support::kubectl().unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new(&kubectl)
        .arg("kustomize")
        .arg(root().join(dir))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kubectl.display()));
    assert!(
        output.status.success(),
        "kubectl kustomize {dir} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let value: serde_yaml_ng::Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{dir}: rendered YAML does not parse: {e}"));
            serde_json::to_value(value).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// Parses `object` as `T` and reports the fields `T` does not know (they would be dropped).
fn typed<T: DeserializeOwned + Serialize>(object: &Value) -> Result<(), String> {
    let parsed: T = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    dropped_fields(object, &back, String::new(), &mut unknown);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("unknown fields: {}", unknown.join(", ")))
    }
}

/// Paths present in `original` but missing from `reparsed`.
fn dropped_fields(original: &Value, reparsed: &Value, path: String, out: &mut Vec<String>) {
    match (original, reparsed) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match b.get(key) {
                    Some(again) => dropped_fields(value, again, here, out),
                    None if value.is_null() => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, value) in a.iter().enumerate() {
                match b.get(i) {
                    Some(again) => dropped_fields(value, again, format!("{path}[{i}]"), out),
                    None => out.push(format!("{path}[{i}]")),
                }
            }
        }
        _ => {}
    }
}

/// Checks one rendered object against the type of its kind.
fn check(object: &Value) -> Result<(), String> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    match (api_version, kind) {
        ("v1", "ConfigMap") => typed::<ConfigMap>(object),
        ("v1", "Secret") => typed::<Secret>(object),
        ("v1", "Service") => typed::<Service>(object),
        ("v1", "ServiceAccount") => typed::<ServiceAccount>(object),
        ("apps/v1", "Deployment") => typed::<Deployment>(object),
        ("batch/v1", "CronJob") => typed::<CronJob>(object),
        ("networking.k8s.io/v1", "NetworkPolicy") => typed::<NetworkPolicy>(object),
        ("policy/v1", "PodDisruptionBudget") => typed::<PodDisruptionBudget>(object),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => typed::<ClusterRole>(object),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            typed::<ClusterRoleBinding>(object)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => typed::<Role>(object),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => typed::<RoleBinding>(object),
        ("apiregistration.k8s.io/v1", "APIService") => typed::<APIService>(object),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            typed::<CustomResourceDefinition>(object)
        }
        _ => manifest_types::check(api_version, kind, object),
    }
}

fn describe(object: &Value) -> String {
    format!(
        "{} {}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["namespace"].as_str().unwrap_or("-"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

#[test]
fn every_kustomization_renders_objects_that_parse_into_their_types() {
    let mut problems = Vec::new();
    for dir in KUSTOMIZATIONS {
        let objects = render(dir);
        assert!(!objects.is_empty(), "{dir} renders nothing");
        for object in &objects {
            if let Err(e) = check(object) {
                problems.push(format!("{dir}: {}: {e}", describe(object)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_misspelt_field_is_reported_with_its_path() {
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "imagePullPolicyy": "Always"}]}}
        }
    });
    let error = check(&deployment).unwrap_err();
    assert!(
        error.contains("spec.template.spec.containers[0].imagePullPolicyy"),
        "{error}"
    );
}

#[test]
fn no_rendered_object_carries_a_placeholder() {
    let mut found = Vec::new();
    for dir in KUSTOMIZATIONS {
        for object in render(dir) {
            let text = serde_json::to_string(&object).unwrap();
            for marker in [
                "placeholder",
                "CA_BUNDLE",
                "ACCOUNT_ID",
                "=CLUSTER_NAME",
                "APISERVER_CIDR",
            ] {
                if text.contains(marker) {
                    found.push(format!("{dir}: {}: contains {marker}", describe(&object)));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_container_runs_locked_down() {
    let mut problems = Vec::new();
    for dir in KUSTOMIZATIONS {
        for object in render(dir) {
            let pod = match object["kind"].as_str() {
                Some("Deployment") => &object["spec"]["template"]["spec"],
                Some("CronJob") => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                _ => continue,
            };
            let what = format!("{dir}: {}", describe(&object));
            if pod["securityContext"]["runAsNonRoot"] != Value::Bool(true) {
                problems.push(format!(
                    "{what}: pod securityContext.runAsNonRoot is not true"
                ));
            }
            if pod["securityContext"]["seccompProfile"]["type"] != "RuntimeDefault" {
                problems.push(format!("{what}: pod seccompProfile is not RuntimeDefault"));
            }
            for container in pod["containers"].as_array().into_iter().flatten() {
                let sc = &container["securityContext"];
                let name = container["name"].as_str().unwrap_or("?");
                if sc["allowPrivilegeEscalation"] != Value::Bool(false)
                    || sc["readOnlyRootFilesystem"] != Value::Bool(true)
                    || sc["capabilities"]["drop"] != serde_json::json!(["ALL"])
                {
                    problems.push(format!(
                        "{what}: container {name} must set allowPrivilegeEscalation: false, \
                         readOnlyRootFilesystem: true, capabilities.drop: [ALL]"
                    ));
                }
                if container["resources"]["requests"].is_null()
                    || container["resources"]["limits"]["memory"].is_null()
                {
                    problems.push(format!(
                        "{what}: container {name} needs resource requests and a memory limit"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
