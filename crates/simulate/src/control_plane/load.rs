//! The control plane's load: what the API servers (and etcd beside them) use as the cluster
//! grows, from the run's timeline.
//!
//! Per minute of the recorded day the cluster has `nodes`, `pods` (the workloads' plus one
//! per node of every DaemonSet) and `churn`: pod creations and deletions per second (changes
//! of the workloads' pod counts between ticks, and DaemonSet pods of nodes that came or went).
//! Each signal is linear in the three:
//! - CPU of the whole control plane (cores): every node's kubelet and every pod's status
//!   updates are API requests, and each pod change is a burst of writes and watch events;
//!   spread evenly over the control-plane nodes (load-balanced API servers);
//! - memory per control-plane node (MiB): every API server caches every object in its watch
//!   cache, so it grows with nodes and pods and is not divided;
//! - API concurrency seats executing (EKS): requests in flight, for the tier judged by seats.

use serde::Deserialize;

use crate::record::Recording;
use crate::scenario::fields::CpuAmount;

/// The cluster's size in one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClusterLoad {
    /// Registered nodes.
    pub nodes: u32,
    /// Pods.
    pub pods: u32,
    /// Pod creations and deletions per second.
    pub churn: f64,
}

/// The cluster per minute of the recorded day (minute 0 = 00:00), from the timeline.
pub fn per_minute(recording: &Recording, daemonsets: u32) -> Vec<ClusterLoad> {
    let mut minutes: Vec<ClusterLoad> = Vec::new();
    let mut ticked: Vec<bool> = Vec::new();
    let mut previous: Option<(u32, &[u32])> = None;
    for row in recording.timeline.iter().filter(|r| r.t >= 0.0) {
        let nodes: u32 = row.nodes_by_pool.iter().sum();
        let workload_pods: u32 = row.replicas.iter().sum();
        let changes: u32 = previous.map_or(0, |(n, replicas)| {
            let pods: u32 = row
                .replicas
                .iter()
                .zip(replicas)
                .map(|(a, b)| a.abs_diff(*b))
                .sum();
            pods.saturating_add(nodes.abs_diff(n).saturating_mul(daemonsets))
        });
        previous = Some((nodes, &row.replicas));
        let minute = (row.t / 60.0).floor() as usize;
        if minutes.len() <= minute {
            minutes.resize(minute + 1, ClusterLoad::default());
            ticked.resize(minute + 1, false);
        }
        ticked[minute] = true;
        let m = &mut minutes[minute];
        m.nodes = nodes;
        m.pods = workload_pods.saturating_add(nodes.saturating_mul(daemonsets));
        m.churn += f64::from(changes) / 60.0;
    }
    // A minute without a tick (ticks longer than a minute) keeps the size before it.
    for i in 1..minutes.len() {
        if !ticked[i] {
            let before = minutes[i - 1];
            minutes[i] = ClusterLoad {
                churn: minutes[i].churn,
                ..before
            };
        }
    }
    minutes
}

/// A signal linear in nodes, pods and churn.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Linear {
    /// With an empty cluster.
    pub base: f64,
    /// Per registered node.
    pub per_node: f64,
    /// Per pod.
    pub per_pod: f64,
    /// Per pod creation or deletion per second.
    pub per_pod_change_per_second: f64,
}

impl Linear {
    /// The value for `load`.
    pub fn at(&self, load: ClusterLoad) -> f64 {
        self.base
            + self.per_node * f64::from(load.nodes)
            + self.per_pod * f64::from(load.pods)
            + self.per_pod_change_per_second * load.churn
    }
}

/// A [`Linear`] as written; absent coefficients keep the default's.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinear<T> {
    /// With an empty cluster.
    #[serde(default)]
    pub base: Option<T>,
    /// Per registered node.
    #[serde(default)]
    pub per_node: Option<T>,
    /// Per pod.
    #[serde(default)]
    pub per_pod: Option<T>,
    /// Per pod creation or deletion per second.
    #[serde(default)]
    pub per_pod_change_per_second: Option<T>,
}

impl<T: Copy> RawLinear<T> {
    /// `default` with the coefficients given here; `None` when one is negative or not finite.
    fn over(&self, default: Linear, value: impl Fn(T) -> f64) -> Option<Linear> {
        let pick = |v: Option<T>, d: f64| {
            let v = v.map_or(d, &value);
            (v.is_finite() && v >= 0.0).then_some(v)
        };
        Some(Linear {
            base: pick(self.base, default.base)?,
            per_node: pick(self.per_node, default.per_node)?,
            per_pod: pick(self.per_pod, default.per_pod)?,
            per_pod_change_per_second: pick(
                self.per_pod_change_per_second,
                default.per_pod_change_per_second,
            )?,
        })
    }
}

/// The load model: CPU (cores, whole control plane), memory (MiB per control-plane node),
/// seats (whole control plane).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadModel {
    /// Cores in use by the whole control plane.
    pub cpu: Linear,
    /// MiB in use on each control-plane node.
    pub memory_mib: Linear,
    /// API concurrency seats executing.
    pub seats: Linear,
}

impl Default for LoadModel {
    /// 0.5 core + 10m per node + 1m per pod + 200m per pod change a second (a 250-node,
    /// 5,000-pod cluster busy with 2 changes a second: 8.4 cores, 2.8 per node of three);
    /// 1.5 GiB + 6 MiB per node + 0.3 MiB per pod per API server; 10 seats + 0.5 per node +
    /// 0.02 per pod + 20 per change a second.
    fn default() -> Self {
        Self {
            cpu: Linear {
                base: 0.5,
                per_node: 0.01,
                per_pod: 0.001,
                per_pod_change_per_second: 0.2,
            },
            memory_mib: Linear {
                base: 1536.0,
                per_node: 6.0,
                per_pod: 0.3,
                per_pod_change_per_second: 0.0,
            },
            seats: Linear {
                base: 10.0,
                per_node: 0.5,
                per_pod: 0.02,
                per_pod_change_per_second: 20.0,
            },
        }
    }
}

/// `control_plane.load` as written; absent fields keep the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoadModel {
    /// CPU of the whole control plane (quantities: `500m`, `10m`).
    #[serde(default)]
    pub cpu: Option<RawLinear<CpuAmount>>,
    /// MiB per control-plane node.
    #[serde(default)]
    pub memory_mib: Option<RawLinear<f64>>,
    /// Seats executing.
    #[serde(default)]
    pub seats: Option<RawLinear<f64>>,
}

impl RawLoadModel {
    /// The model, or the name of the signal with a negative or non-finite coefficient.
    pub fn build(&self) -> Result<LoadModel, &'static str> {
        let d = LoadModel::default();
        let cpu = match &self.cpu {
            Some(raw) => raw.over(d.cpu, |c| c.0).ok_or("cpu")?,
            None => d.cpu,
        };
        let memory_mib = match &self.memory_mib {
            Some(raw) => raw.over(d.memory_mib, |v| v).ok_or("memory_mib")?,
            None => d.memory_mib,
        };
        let seats = match &self.seats {
            Some(raw) => raw.over(d.seats, |v| v).ok_or("seats")?,
            None => d.seats,
        };
        Ok(LoadModel {
            cpu,
            memory_mib,
            seats,
        })
    }
}
