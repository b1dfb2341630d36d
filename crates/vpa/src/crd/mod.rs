//! The VPA custom resources as Rust types (kube's `CustomResource` derive), compatible with the
//! upstream CRDs, and the definitions `tidal vpa crds` prints for clusters that have none.

mod checkpoint;
mod schema;
mod vpa;

pub use checkpoint::{
    CHECKPOINT_VERSION, HistogramCheckpoint, VerticalPodAutoscalerCheckpoint,
    VerticalPodAutoscalerCheckpointSpec, VerticalPodAutoscalerCheckpointStatus,
};
pub use vpa::{
    ContainerResourcePolicy, ContainerScalingMode, ControlledValues, CrossVersionObjectReference,
    EvictionRequirement, PodResourcePolicy, PodUpdatePolicy, RecommendedContainerResources,
    RecommendedPodResources, RecommenderSelector, ResourceList, UpdateMode, VerticalPodAutoscaler,
    VerticalPodAutoscalerCondition, VerticalPodAutoscalerSpec, VerticalPodAutoscalerStatus,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The two definitions, VerticalPodAutoscaler first.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut checkpoint = VerticalPodAutoscalerCheckpoint::crd();
    // Upstream's checkpoint kind has no status subresource: clients write status with the
    // object. Declaring one would make writes to the main resource drop the status.
    for version in &mut checkpoint.spec.versions {
        version.subresources = None;
    }
    vec![VerticalPodAutoscaler::crd(), checkpoint]
}

/// [`crds`] as one multi-document YAML stream, ready for `kubectl apply -f -`.
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
