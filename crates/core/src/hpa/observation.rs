//! What the caller observed for one HPA in one loop: the target's pods and one
//! observation per metric. Plain data, so the simulator and the real adapters (Kubernetes
//! pod lister, metrics APIs) can both fill it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Everything the HPA algorithm reads in one loop.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HpaObservation {
    /// Replicas the target's scale subresource asks for (`scale.spec.replicas`).
    pub current_replicas: i32,
    /// Replicas the workload reports (`scale.status.replicas`); Object and External
    /// `AverageValue` targets divide by this one, as Kubernetes does.
    pub status_replicas: i32,
    /// The pods matching the target's selector.
    pub pods: Vec<PodInfo>,
    /// One observation per metric of the spec, in the same order.
    pub metrics: Vec<MetricObservation>,
}

impl HpaObservation {
    /// An observation where the workload has caught up (`status_replicas == current`).
    pub fn new(current_replicas: i32, pods: Vec<PodInfo>, metrics: Vec<MetricObservation>) -> Self {
        Self {
            current_replicas,
            status_replicas: current_replicas,
            pods,
            metrics,
        }
    }
}

/// The lifecycle phase of a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    /// Accepted but not all containers are running yet.
    Pending,
    /// Bound to a node with at least one container running.
    Running,
    /// All containers terminated successfully.
    Succeeded,
    /// All containers terminated and at least one failed.
    Failed,
    /// The phase could not be obtained.
    Unknown,
}

/// Status of a pod condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Nobody knows.
    Unknown,
}

/// A pod's `Ready` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyCondition {
    /// Whether the pod is ready.
    pub status: ConditionStatus,
    /// When the status last changed.
    pub last_transition: Timestamp,
}

/// Requests of one container; app containers and restartable init (sidecar) containers
/// count, plain init containers do not (leave them out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRequests {
    /// The container's name.
    pub name: String,
    /// Requests by resource name (`cpu`, `memory`, …) as milli-values
    /// (Kubernetes `MilliValue`: 250m CPU → 250, 1Ki memory → 1_024_000).
    pub requests: BTreeMap<String, i64>,
}

/// A pod as the HPA sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    /// The pod's name; samples are matched to pods by it.
    pub name: String,
    /// The pod's phase.
    pub phase: PodPhase,
    /// The `Ready` condition; `None` when the pod has none yet.
    pub ready: Option<ReadyCondition>,
    /// When the kubelet started the pod; `None` before that.
    pub start_time: Option<Timestamp>,
    /// Whether the pod has a deletion timestamp.
    pub deleting: bool,
    /// Per-container requests. Shared: the pods of one workload usually have the same, and
    /// reading them then costs no cache miss per pod.
    #[serde(with = "shared_list")]
    pub containers: Arc<[ContainerRequests]>,
    /// Pod-level requests (`spec.resources.requests`, milli-values); empty when unset.
    /// When set they replace the container sum for `Resource` metrics.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_requests: BTreeMap<String, i64>,
}

impl PodInfo {
    /// A Running pod that started at `started` and has been Ready since then.
    pub fn running(name: impl Into<String>, started: Timestamp) -> Self {
        Self {
            name: name.into(),
            phase: PodPhase::Running,
            ready: Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: started,
            }),
            start_time: Some(started),
            deleting: false,
            containers: Arc::new([]),
            pod_requests: BTreeMap::new(),
        }
    }

    /// The same pod with `container` requesting `milli` of `resource` (adds the container
    /// if it is new).
    pub fn with_request(
        mut self,
        container: impl Into<String>,
        resource: impl Into<String>,
        milli: i64,
    ) -> Self {
        let container = container.into();
        let resource = resource.into();
        let mut containers = self.containers.to_vec();
        match containers.iter_mut().find(|c| c.name == container) {
            Some(c) => {
                c.requests.insert(resource, milli);
            }
            None => containers.push(ContainerRequests {
                name: container,
                requests: BTreeMap::from([(resource, milli)]),
            }),
        }
        self.containers = containers.into();
        self
    }

    /// The same pod in `phase`.
    pub fn with_phase(mut self, phase: PodPhase) -> Self {
        self.phase = phase;
        self
    }

    /// The same pod with its `Ready` condition set to `status` since `since`.
    pub fn with_ready(mut self, status: ConditionStatus, since: Timestamp) -> Self {
        self.ready = Some(ReadyCondition {
            status,
            last_transition: since,
        });
        self
    }

    /// The same pod, being deleted.
    pub fn deleting(mut self) -> Self {
        self.deleting = true;
        self
    }

    /// Ready condition True and phase Running: what Kubernetes counts as a ready pod for
    /// Object and External `Value` targets.
    pub fn is_running_and_ready(&self) -> bool {
        self.phase == PodPhase::Running
            && self
                .ready
                .is_some_and(|r| r.status == ConditionStatus::True)
    }
}

/// Serde for a shared slice: written and read as a plain list.
mod shared_list {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        list: &Arc<[T]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        list.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Arc<[T]>, D::Error> {
        Vec::<T>::deserialize(d).map(Arc::from)
    }
}

/// One metric's observation, matching the metric's type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MetricObservation {
    /// Resource usage per pod and container (resource metrics API), for `Resource` and
    /// `ContainerResource` metrics, in milli-values of the metric's resource.
    Resource(Vec<PodResourceSample>),
    /// Custom metric value per pod (custom metrics API), milli-values.
    Pods(Vec<PodMetricSample>),
    /// The object's metric value (custom metrics API), milli-value.
    Object(i64),
    /// All series of the external metric (external metrics API), milli-values; summed.
    External(Vec<i64>),
    /// Fetching failed; the reason is shown in the decision.
    Unavailable(String),
}

impl MetricObservation {
    /// `Resource`, `Pods`, `Object`, `External` or `Unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Resource(_) => "Resource",
            Self::Pods(_) => "Pods",
            Self::Object(_) => "Object",
            Self::External(_) => "External",
            Self::Unavailable(_) => "Unavailable",
        }
    }
}

/// One pod's resource usage sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodResourceSample {
    /// The pod.
    pub pod: String,
    /// When the sample window ended.
    pub timestamp: Timestamp,
    /// How long the sample window was (metrics-server: typically 15–60 s).
    pub window: Duration,
    /// Usage per container. A pod whose usage of the resource is unknown for some
    /// container should be left out, as the resource metrics API leaves it out.
    pub containers: Vec<ContainerUsage>,
}

/// One container's usage of the metric's resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerUsage {
    /// The container.
    pub name: String,
    /// Usage as a milli-value (CPU: millicores; memory: milli-bytes).
    pub usage: i64,
}

impl PodResourceSample {
    /// A sample of one container `container` of `pod` using `usage` milli-units.
    pub fn single(
        pod: impl Into<String>,
        container: impl Into<String>,
        usage: i64,
        timestamp: Timestamp,
        window: Duration,
    ) -> Self {
        Self {
            pod: pod.into(),
            timestamp,
            window,
            containers: vec![ContainerUsage {
                name: container.into(),
                usage,
            }],
        }
    }
}

/// One pod's custom metric value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodMetricSample {
    /// The pod.
    pub pod: String,
    /// The value as a milli-value.
    pub value: i64,
}
