//! `autoscaling.k8s.io/v1` VerticalPodAutoscaler, field for field as upstream defines it
//! (`vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1/types.go`), so the upstream updater
//! and admission controller read what this recommender writes unchanged.
//!
//! Fields only the updater or admission controller reads (minReplicas, evictionRequirements,
//! startupBoost, the per-container OOM settings) are in the types too, so the CRD that
//! `tidal vpa crds` prints does not prune them. Unknown fields are ignored on read: a newer
//! upstream field never makes an object unreadable, and the recommender writes only `status`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema;

/// Resource name → quantity, as a Kubernetes `ResourceList` (`cpu: 250m`, `memory: 1Gi`).
pub type ResourceList = BTreeMap<String, Quantity>;

/// Spec of a VerticalPodAutoscaler.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "autoscaling.k8s.io",
    version = "v1",
    kind = "VerticalPodAutoscaler",
    plural = "verticalpodautoscalers",
    shortname = "vpa",
    namespaced,
    status = "VerticalPodAutoscalerStatus",
    doc = "The configuration of a vertical pod autoscaler: which pods, how to apply, and within which bounds.",
    annotation(
        "api-approved.kubernetes.io",
        "https://github.com/kubernetes/kubernetes/pull/63797"
    ),
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.updatePolicy.updateMode"}"#,
    printcolumn = r#"{"name":"CPU","type":"string","jsonPath":".status.recommendation.containerRecommendations[0].target.cpu"}"#,
    printcolumn = r#"{"name":"Mem","type":"string","jsonPath":".status.recommendation.containerRecommendations[0].target.memory"}"#,
    printcolumn = r#"{"name":"Provided","type":"string","jsonPath":".status.conditions[?(@.type=='RecommendationProvided')].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerSpec {
    /// The controller managing the pods (Deployment, StatefulSet, … or any kind with a scale
    /// subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<CrossVersionObjectReference>,
    /// How recommendations are applied (read by the updater, not by the recommender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<PodUpdatePolicy>,
    /// Per-container bounds and switches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<PodResourcePolicy>,
    /// The recommender responsible: empty for the default recommender, or exactly one name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommenders: Option<Vec<RecommenderSelector>>,
    /// Startup boost policy (read by the admission controller; kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::preserved_object")]
    pub startup_boost: Option<Value>,
}

/// A reference to the target controller (`autoscaling/v1` CrossVersionObjectReference).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference {
    /// API version of the referent, e.g. `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent, e.g. `Deployment`.
    #[serde(default)]
    pub kind: String,
    /// Name of the referent, in the VPA's namespace.
    #[serde(default)]
    pub name: String,
}

/// One entry of `spec.recommenders`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecommenderSelector {
    /// Name of the recommender responsible for this object.
    #[serde(default)]
    pub name: String,
}

/// `spec.updatePolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodUpdatePolicy {
    /// Off, Initial, Recreate, InPlaceOrRecreate or (deprecated) Auto.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<UpdateMode>,
    /// Fewest live replicas for the updater to evict (overrides its `--min-replicas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Conditions the updater requires before it evicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_requirements: Option<Vec<EvictionRequirement>>,
}

/// One condition the updater requires before an eviction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvictionRequirement {
    /// Resources the requirement applies to.
    pub resources: Vec<String>,
    /// `TargetHigherThanRequests` or `TargetLowerThanRequests`.
    pub change_requirement: String,
}

/// When the updater applies recommendations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UpdateMode {
    /// Never change pods; only publish recommendations.
    Off,
    /// Only at pod creation.
    Initial,
    /// At creation and by evicting pods.
    Recreate,
    /// In place where possible, else by eviction.
    InPlaceOrRecreate,
    /// Deprecated alias of Recreate.
    Auto,
    /// A value this version does not know (read, so one tenant's typo cannot stop the list
    /// of every VPA; never written).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// `spec.resourcePolicy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodResourcePolicy {
    /// At most one policy per container name, plus an optional `*` default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_policies: Vec<ContainerResourcePolicy>,
}

/// The policy for one container (or `*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourcePolicy {
    /// The container's name, or `*` for containers without their own policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Auto (default) or Off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ContainerScalingMode>,
    /// Lowest recommended values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub min_allowed: Option<ResourceList>,
    /// Highest recommended values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::resource_list")]
    pub max_allowed: Option<ResourceList>,
    /// Resources to recommend (default cpu and memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_resources: Option<Vec<String>>,
    /// RequestsAndLimits (default) or RequestsOnly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled_values: Option<ControlledValues>,
    /// Upstream's per-container OOM bump ratio (Tidal's OOM rule has its own escalation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::quantity")]
    pub oom_bump_up_ratio: Option<Quantity>,
    /// Upstream's per-container minimum OOM bump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::quantity")]
    pub oom_min_bump_up: Option<Quantity>,
    /// Per-container startup boost policy (read by the admission controller; kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::preserved_object")]
    pub startup_boost: Option<Value>,
}

/// Whether a container is autoscaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ContainerScalingMode {
    /// Recommend for this container.
    Auto,
    /// Leave this container alone.
    Off,
    /// A value this version does not know (reported as ConfigUnsupported).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// Which values of a container the updater sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ControlledValues {
    /// Requests, and limits scaled in proportion.
    RequestsAndLimits,
    /// Requests only.
    RequestsOnly,
    /// A value this version does not know (reported as ConfigUnsupported).
    #[serde(other)]
    #[schemars(skip)]
    Unknown,
}

/// `status` of a VerticalPodAutoscaler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerStatus {
    /// The latest recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<RecommendedPodResources>,
    /// RecommendationProvided, LowConfidence, NoPodsMatched, FetchingHistory, ConfigUnsupported…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<VerticalPodAutoscalerCondition>,
}

/// `status.recommendation`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedPodResources {
    /// One entry per container that is not switched off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_recommendations: Vec<RecommendedContainerResources>,
}

/// The recommendation for one container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecommendedContainerResources {
    /// The container's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    /// What to request, within the policy.
    #[schemars(schema_with = "schema::resource_list")]
    pub target: ResourceList,
    /// The least that is likely enough, within the policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "schema::resource_list")]
    pub lower_bound: ResourceList,
    /// Beyond this is likely wasted, within the policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "schema::resource_list")]
    pub upper_bound: ResourceList,
    /// The target before minAllowed/maxAllowed were applied.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "schema::resource_list")]
    pub uncapped_target: ResourceList,
}

/// One condition of a VPA.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerticalPodAutoscalerCondition {
    /// The condition's type, e.g. `RecommendationProvided`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::date_time")]
    pub last_transition_time: Option<Time>,
    /// A CamelCase reason for the last transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a person should know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl VerticalPodAutoscaler {
    /// The recommender names in `spec.recommenders` (empty: the default recommender's).
    pub fn recommender_names(&self) -> impl Iterator<Item = &str> {
        self.spec
            .recommenders
            .iter()
            .flatten()
            .map(|r| r.name.as_str())
    }
}
