//! Aggregates to and from `VerticalPodAutoscalerCheckpoint` objects (upstream's v3 format: a
//! checkpoint written by either recommender restores in the other).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use tidal_core::Timestamp;
use tidal_core::vpa::{self as core, AggregationConfig, ContainerAggregate};

use crate::crd::{
    HistogramCheckpoint, VerticalPodAutoscalerCheckpoint, VerticalPodAutoscalerCheckpointSpec,
    VerticalPodAutoscalerCheckpointStatus,
};
use crate::kube::convert::{time, timestamp};
use crate::ports::ObjectKey;
use crate::state::ContainerKey;

/// The name of the checkpoint of `key`: `<vpa>-<container>`, as upstream names it.
pub fn checkpoint_name(key: &ContainerKey) -> String {
    format!("{}-{}", key.vpa.name, key.container)
}

/// The checkpoint object of one aggregate, written at `now`.
pub fn to_object(
    key: &ContainerKey,
    aggregate: &ContainerAggregate,
    now: Timestamp,
) -> VerticalPodAutoscalerCheckpoint {
    let c = aggregate.to_checkpoint();
    let mut object = VerticalPodAutoscalerCheckpoint::new(
        &checkpoint_name(key),
        VerticalPodAutoscalerCheckpointSpec {
            vpa_object_name: key.vpa.name.clone(),
            container_name: key.container.clone(),
        },
    );
    object.metadata = ObjectMeta {
        name: Some(checkpoint_name(key)),
        namespace: Some(key.vpa.namespace.clone()),
        ..ObjectMeta::default()
    };
    object.status = Some(VerticalPodAutoscalerCheckpointStatus {
        last_update_time: Some(time(now)),
        version: c.version,
        cpu_histogram: histogram_to_crd(c.cpu_histogram),
        memory_histogram: histogram_to_crd(c.memory_histogram),
        first_sample_start: c.first_sample_start.map(time),
        last_sample_start: c.last_sample_start.map(time),
        total_samples_count: c.total_samples_count,
    });
    object
}

/// The key and aggregate a checkpoint object holds, or why it cannot be read.
pub fn from_object(
    object: &VerticalPodAutoscalerCheckpoint,
    now: Timestamp,
    config: AggregationConfig,
) -> Result<(ContainerKey, ContainerAggregate), String> {
    let key = ContainerKey {
        vpa: ObjectKey::new(
            object.metadata.namespace.clone().unwrap_or_default(),
            object.spec.vpa_object_name.clone(),
        ),
        container: object.spec.container_name.clone(),
    };
    if key.vpa.name.is_empty() || key.container.is_empty() {
        return Err("spec.vpaObjectName or spec.containerName is empty".to_owned());
    }
    let status = object.status.clone().unwrap_or_default();
    let checkpoint = core::ContainerCheckpoint {
        version: status.version,
        cpu_histogram: histogram_to_core(status.cpu_histogram),
        memory_histogram: histogram_to_core(status.memory_histogram),
        first_sample_start: set_time(status.first_sample_start.as_ref()),
        last_sample_start: set_time(status.last_sample_start.as_ref()),
        total_samples_count: status.total_samples_count,
    };
    let aggregate =
        ContainerAggregate::from_checkpoint(&checkpoint, now, config).map_err(|e| e.to_string())?;
    Ok((key, aggregate))
}

fn histogram_to_crd(h: core::HistogramCheckpoint) -> HistogramCheckpoint {
    HistogramCheckpoint {
        reference_timestamp: h.reference_timestamp.map(time),
        bucket_weights: h.bucket_weights,
        total_weight: h.total_weight,
    }
}

fn histogram_to_core(h: HistogramCheckpoint) -> core::HistogramCheckpoint {
    core::HistogramCheckpoint {
        reference_timestamp: set_time(h.reference_timestamp.as_ref()),
        bucket_weights: h.bucket_weights,
        total_weight: h.total_weight,
    }
}

/// A time that is set: Go writes an unset time as null or as year 1, both `None` here.
fn set_time(t: Option<&Time>) -> Option<Timestamp> {
    t.map(timestamp).filter(|t| t.as_millis() > 0)
}
