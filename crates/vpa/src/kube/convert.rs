//! Kubernetes objects to the ports' types.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use tidal_core::Timestamp;
use tidal_core::quantity::{parse_bytes, parse_cpu_millis};

use crate::ports::{ObjectKey, ObservedContainer, ObservedPod, OomKill};

/// The termination reason of a container killed for exceeding its memory limit.
const OOM_KILLED: &str = "OOMKilled";

/// A pod as the recommender sees it; `None` for a pod without a namespace or name.
pub fn observed_pod(pod: &Pod) -> Option<ObservedPod> {
    let namespace = pod.metadata.namespace.clone()?;
    let name = pod.metadata.name.clone()?;
    let spec = pod.spec.as_ref()?;
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let containers = spec
        .containers
        .iter()
        .map(|c| {
            let memory_request = request(c.resources.as_ref(), "memory", parse_bytes);
            ObservedContainer {
                name: c.name.clone(),
                cpu_request: request(c.resources.as_ref(), "cpu", parse_cpu_millis)
                    .map(|m| m / 1000.0),
                memory_request,
                last_oom: statuses
                    .iter()
                    .find(|s| s.name == c.name)
                    .and_then(oom_finished_at)
                    .map(|finished_at| OomKill {
                        finished_at,
                        memory_request,
                    }),
            }
        })
        .collect();
    Some(ObservedPod {
        key: ObjectKey::new(namespace, name),
        labels: pod.labels().clone(),
        start_time: pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(timestamp),
        containers,
    })
}

/// When the container was last OOM-killed: its current state if it is terminated by an OOM
/// kill (not restarted yet), else its last state.
fn oom_finished_at(status: &ContainerStatus) -> Option<Timestamp> {
    let terminated = |s: Option<&k8s_openapi::api::core::v1::ContainerState>| {
        s.and_then(|s| s.terminated.as_ref())
            .filter(|t| t.reason.as_deref() == Some(OOM_KILLED))
            .and_then(|t| t.finished_at.as_ref())
            .map(timestamp)
    };
    terminated(status.state.as_ref()).or_else(|| terminated(status.last_state.as_ref()))
}

fn request(
    resources: Option<&ResourceRequirements>,
    name: &str,
    parse: fn(&str) -> Result<i64, tidal_core::quantity::QuantityError>,
) -> Option<f64> {
    let q = resources?.requests.as_ref()?.get(name)?;
    // A request the API server accepted always parses; one that does not is treated as unset.
    parse(&q.0).ok().map(|v| v as f64)
}

/// A Kubernetes time as a core timestamp.
pub fn timestamp(time: &Time) -> Timestamp {
    Timestamp::from_millis(time.0.as_millisecond())
}

/// A core timestamp as a Kubernetes time (the epoch for one out of range).
pub fn time(at: Timestamp) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_millisecond(at.as_millis()).unwrap_or_default())
}
