//! Aggregates to and from `VerticalPodAutoscalerCheckpoint` objects (upstream's v3 format: a
//! checkpoint written by either recommender restores in the other).
//!
//! Tidal's OOM memory (the raised floor after OOM kills, see `tidal_core::vpa::oom`) has no
//! place in upstream's format, whose CRD schema would prune an unknown status field. It is
//! kept in the annotation [`OOM_ANNOTATION`] of the same object (JSON of
//! `tidal_core::vpa::OomMemory`): upstream's recommender ignores it, and a restarted Tidal
//! recommender keeps the bump even when the kill is no longer in the pods' `lastState`.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use tidal_core::Timestamp;
use tidal_core::vpa::{self as core, AggregationConfig, ContainerAggregate, OomMemory};
use tracing::warn;

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
    let annotations = (aggregate.oom().kills() > 0)
        .then(|| serde_json::to_string(aggregate.oom()).ok())
        .flatten()
        .map(|json| BTreeMap::from([(OOM_ANNOTATION.to_owned(), json)]));
    object.metadata = ObjectMeta {
        name: Some(checkpoint_name(key)),
        namespace: Some(key.vpa.namespace.clone()),
        annotations,
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
    let mut aggregate =
        ContainerAggregate::from_checkpoint(&checkpoint, now, config).map_err(|e| e.to_string())?;
    let annotation = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(OOM_ANNOTATION));
    if let Some(text) = annotation {
        match oom_memory(text, &config, now) {
            Ok(oom) => aggregate.restore_oom(oom),
            // The history is still good: keep it, without the bump.
            Err(e) => warn!(
                checkpoint = %checkpoint_name(&key),
                namespace = %key.vpa.namespace,
                error = %e,
                "ignoring the OOM memory annotation of a checkpoint"
            ),
        }
    }
    Ok((key, aggregate))
}

/// The annotation holding Tidal's OOM memory on a checkpoint object.
pub const OOM_ANNOTATION: &str = "vpa.tidal.io/oom-memory";

/// The most the OOM floor may be: the top of the memory histogram (1 TB).
const MAX_FLOOR_BYTES: f64 = 1e12;

/// Reads the OOM memory of the annotation; refuses a floor that is not a sane size and a
/// last kill in the future (the annotation is as untrusted as the rest of the object).
fn oom_memory(text: &str, config: &AggregationConfig, now: Timestamp) -> Result<OomMemory, String> {
    let oom: OomMemory = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let floor = oom.floor_at(&config.oom, now);
    if !(floor.is_finite() && (0.0..=MAX_FLOOR_BYTES).contains(&floor)) {
        return Err(format!("floor of {floor} bytes is out of range"));
    }
    if oom
        .last_kill()
        .is_some_and(|k| k > now + Duration::from_secs(3600))
    {
        return Err("last kill is in the future".to_owned());
    }
    Ok(oom)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const T0: Timestamp = Timestamp::from_secs(1_796_000_000);
    const GIB: f64 = (1u64 << 30) as f64;

    fn key() -> ContainerKey {
        ContainerKey {
            vpa: ObjectKey::new("shop", "web"),
            container: "app".to_owned(),
        }
    }

    fn killed_once() -> ContainerAggregate {
        let mut a = ContainerAggregate::new(T0);
        a.add_cpu_sample(T0, 0.5);
        a.add_memory_sample(T0, 0.5 * GIB);
        a.record_oom(T0 + Duration::from_secs(60), GIB, GIB);
        a
    }

    fn floor(a: &ContainerAggregate, now: Timestamp) -> f64 {
        a.oom().floor_at(&a.config().oom, now)
    }

    #[test]
    fn the_oom_memory_round_trips_through_the_annotation() {
        let a = killed_once();
        let now = T0 + Duration::from_secs(120);
        let object = to_object(&key(), &a, now);
        let (k, restored) = from_object(&object, now, AggregationConfig::default()).unwrap();
        assert_eq!(k, key());
        assert_eq!(restored.oom(), a.oom());
        assert!(floor(&restored, now) > GIB);
        // Without a kill there is no annotation: the object is upstream's shape exactly.
        let mut quiet = ContainerAggregate::new(T0);
        quiet.add_memory_sample(T0, GIB);
        assert_eq!(to_object(&key(), &quiet, now).metadata.annotations, None);
    }

    #[test]
    fn a_bad_annotation_keeps_the_history_without_a_bump() {
        let now = T0 + Duration::from_secs(120);
        let mut object = to_object(&key(), &killed_once(), now);
        let oom = |floor: &str, at: Timestamp| {
            format!(
                r#"{{"floorBytes":{floor},"lastKill":{},"streak":0,"kills":1,"killsBelowFloor":0}}"#,
                at.as_millis()
            )
        };
        let huge = oom("1e300", now - Duration::from_secs(60));
        let future = oom("2e9", now + Duration::from_secs(30 * 86_400));
        for bad in [
            "not json",
            huge.as_str(),
            r#"{"floorBytes":1e9,"unknown":1}"#,
            future.as_str(),
        ] {
            object.metadata.annotations = Some(BTreeMap::from([(
                OOM_ANNOTATION.to_owned(),
                bad.to_owned(),
            )]));
            let (_, restored) = from_object(&object, now, AggregationConfig::default()).unwrap();
            assert_eq!(restored.oom().kills(), 0, "{bad}");
            assert_eq!(floor(&restored, now), 0.0, "{bad}");
            assert_eq!(restored.total_samples(), 1, "{bad}: the history is kept");
        }
    }
}
