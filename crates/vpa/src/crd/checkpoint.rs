//! `autoscaling.k8s.io/v1` VerticalPodAutoscalerCheckpoint: one per (VPA, container), named
//! `<vpa>-<container>`, holding the aggregated usage histograms so a restarted recommender (this
//! one or upstream's) resumes with its history. Field names and the `v3` format are upstream's.
//!
//! The kind has no status subresource upstream: the whole object, status included, is written
//! with one request. kube's derive always declares the subresource when a type has a status,
//! so [`super::crds`] takes it out of the printed definition.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;

/// The checkpoint format this recommender reads and writes (upstream's current one).
pub const CHECKPOINT_VERSION: &str = "v3";

/// Which VPA and container a checkpoint belongs to.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "autoscaling.k8s.io",
    version = "v1",
    kind = "VerticalPodAutoscalerCheckpoint",
    plural = "verticalpodautoscalercheckpoints",
    shortname = "vpacheckpoint",
    namespaced,
    status = "VerticalPodAutoscalerCheckpointStatus",
    doc = "The checkpoint of a recommender's internal state for one VPA container, used to recover after a restart.",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes/kubernetes/pull/63797"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerCheckpointSpec {
    /// Name of the VPA this checkpoint belongs to (same namespace).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vpa_object_name: String,
    /// Name of the checkpointed container.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_name: String,
}

/// The data of a checkpoint (a top-level field, since the kind has no status subresource).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerCheckpointStatus {
    /// When the checkpoint was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::nullable_date_time")]
    pub last_update_time: Option<Time>,
    /// Format of the stored data (`v3`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The CPU usage histogram.
    #[serde(default)]
    pub cpu_histogram: HistogramCheckpoint,
    /// The memory peaks histogram.
    #[serde(default)]
    pub memory_histogram: HistogramCheckpoint,
    /// Start of the first sample in the histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::nullable_date_time")]
    pub first_sample_start: Option<Time>,
    /// Start of the last sample in the histograms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::nullable_date_time")]
    pub last_sample_start: Option<Time>,
    /// Samples aggregated so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total_samples_count: u64,
}

/// A histogram as stored: bucket index → weight (the largest scaled to 10,000), and the total
/// weight the bucket weights are a share of.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistogramCheckpoint {
    /// The instant the weights are decayed relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::nullable_date_time")]
    pub reference_timestamp: Option<Time>,
    /// Bucket index → relative weight.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "schema::preserved_object")]
    pub bucket_weights: BTreeMap<u32, u32>,
    /// Sum of the samples' weights.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub total_weight: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}
