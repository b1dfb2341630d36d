//! Typed objects of the third-party APIs the kustomizations use, with unknown fields rejected:
//! cert-manager (`cert-manager.io/v1` Issuer, Certificate) and the Prometheus Operator
//! (`monitoring.coreos.com/v1` PrometheusRule, PodMonitor). Only the fields Tidal's manifests may
//! set are typed; a field outside them is an error to look at, not silently accepted.
#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Object<S> {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IssuerSpec {
    self_signed: Option<BTreeMap<String, Value>>,
    ca: Option<CaIssuer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CaIssuer {
    secret_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CertificateSpec {
    secret_name: String,
    common_name: Option<String>,
    #[serde(rename = "isCA")]
    is_ca: Option<bool>,
    duration: Option<String>,
    renew_before: Option<String>,
    dns_names: Option<Vec<String>>,
    private_key: Option<PrivateKey>,
    usages: Option<Vec<String>>,
    issuer_ref: IssuerRef,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PrivateKey {
    algorithm: String,
    size: Option<u32>,
    rotation_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IssuerRef {
    name: String,
    kind: Option<String>,
    group: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PrometheusRuleSpec {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleGroup {
    name: String,
    interval: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Rule {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PodMonitorSpec {
    selector: LabelSelector,
    namespace_selector: Option<Value>,
    pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PodMetricsEndpoint {
    port: String,
    path: Option<String>,
    interval: Option<String>,
    honor_labels: Option<bool>,
}

fn parse<S: DeserializeOwned>(object: &Value) -> Result<(), String> {
    serde_json::from_value::<Object<S>>(object.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks an object of a third-party API; an API no type here covers is an error.
pub fn check(api_version: &str, kind: &str, object: &Value) -> Result<(), String> {
    match (api_version, kind) {
        ("cert-manager.io/v1", "Issuer") => parse::<IssuerSpec>(object),
        ("cert-manager.io/v1", "Certificate") => parse::<CertificateSpec>(object),
        ("monitoring.coreos.com/v1", "PrometheusRule") => parse::<PrometheusRuleSpec>(object),
        ("monitoring.coreos.com/v1", "PodMonitor") => parse::<PodMonitorSpec>(object),
        _ => Err(format!(
            "no type for {api_version} {kind}: add it to tests/deploy_manifests.rs or \
             tests/manifest_types"
        )),
    }
}
