//! Deployments and their HPAs. A Deployment keeps its pod count at `desired` (recreating pods
//! that were evicted or lost with their node); its HPA is the real algorithm,
//! [`tidal_core::hpa::reconcile`], fed every sync with the pods and their CPU usage.
//!
//! Usage model: a workload's load × `cpu_per_unit` is spread evenly over its Ready pods, each
//! of which also burns `idle_cpu`; a pod is Ready `startup` after it is bound. Samples carry a
//! 30 s window, like metrics-server's. The observation is kept per HPA and updated in place
//! from the cluster's pod-change log, so a sync costs no allocation per pod.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tidal_core::Timestamp;
use tidal_core::hpa::{
    ConditionStatus, ContainerRequests, HpaControllerConfig, HpaObservation, HpaSpec, HpaState,
    MetricObservation, PodInfo, PodPhase, PodResourceSample, ReadyCondition, reconcile,
};

use crate::cluster::{ClusterWorld, Owner, PodRecord};
use crate::scenario::{Workload, clamp_i32};

/// Window of the simulated metrics-server samples.
const SAMPLE_WINDOW: Duration = Duration::from_secs(30);
const CONTAINER: &str = "app";

/// The Deployments of a scenario.
#[derive(Debug)]
pub struct Deployments {
    items: Vec<Deployment>,
    config: HpaControllerConfig,
}

#[derive(Debug)]
struct Deployment {
    desired: u32,
    /// The HPA's last recommendation before rate limits and min/max bounds.
    unclamped: u32,
    startup: Duration,
    hpa: Option<Hpa>,
}

/// One HPA's memory: its spec, the algorithm's state and the observation kept up to date.
#[derive(Debug)]
struct Hpa {
    spec: HpaSpec,
    state: HpaState,
    pods: Vec<PodInfo>,
    samples: Vec<PodResourceSample>,
    /// Pod uid at each position of `pods`/`samples`, and back.
    uids: Vec<u64>,
    position: HashMap<u64, usize>,
    bound_at: Vec<Option<Timestamp>>,
    /// The workload's one container and its CPU request, shared by all its pods.
    containers: Arc<[ContainerRequests]>,
    last_error: Option<String>,
}

/// An HPA could not decide (its message, per workload index); reported once per change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpaProblem {
    /// Workload index.
    pub workload: usize,
    /// What went wrong.
    pub message: String,
}

impl Deployments {
    /// Deployments at their initial replica counts; HPAs start with a fresh state.
    pub fn new(workloads: &[Workload]) -> Self {
        let items = workloads
            .iter()
            .map(|w| Deployment {
                desired: w.replicas,
                unclamped: w.replicas,
                startup: w.startup,
                hpa: w.hpa_spec().map(|spec| Hpa {
                    spec,
                    state: HpaState::new(),
                    pods: Vec::new(),
                    samples: Vec::new(),
                    uids: Vec::new(),
                    position: HashMap::new(),
                    bound_at: Vec::new(),
                    containers: Arc::new([ContainerRequests {
                        name: CONTAINER.to_owned(),
                        requests: [("cpu".to_owned(), w.pod.requests.cpu_millis)].into(),
                    }]),
                    last_error: None,
                }),
            })
            .collect();
        Self {
            items,
            config: HpaControllerConfig::default(),
        }
    }

    /// What workload `i` is scaled to.
    pub fn desired(&self, i: usize) -> u32 {
        self.items.get(i).map_or(0, |d| d.desired)
    }

    /// What workload `i`'s HPA recommended before rate limits and its min/max bounds (the
    /// desired count without an HPA, or before its first decision).
    pub fn desired_unclamped(&self, i: usize) -> u32 {
        self.items.get(i).map_or(0, |d| {
            if d.hpa.is_some() {
                d.unclamped
            } else {
                d.desired
            }
        })
    }

    /// One sync of every HPA at the world's `now` (`offset` from 00:00 for the load curves).
    /// Returns the HPAs whose error changed since the last sync.
    pub fn sync_hpas(
        &mut self,
        world: &mut ClusterWorld,
        workloads: &[Workload],
        offset: Duration,
    ) -> Vec<HpaProblem> {
        let now = world.now;
        let changes = std::mem::take(&mut world.pod_changes);
        for (w, uid) in changes {
            if let Some(hpa) = self.items.get_mut(w).and_then(|d| d.hpa.as_mut()) {
                hpa.apply_change(uid, world.pods.get(&uid));
            }
        }
        let mut problems = Vec::new();
        for (i, (d, w)) in self.items.iter_mut().zip(workloads).enumerate() {
            let Some(hpa) = d.hpa.as_mut() else { continue };
            let total_cpu = w.load.at(offset) * w.cpu_per_unit;
            hpa.refresh(now, d.startup, total_cpu, w.idle_cpu);
            let observed_pods = u32::try_from(hpa.pods.len()).unwrap_or(u32::MAX);
            match hpa.decide(d.desired, observed_pods, &self.config, now) {
                Ok((desired, unclamped)) => {
                    d.desired = desired;
                    d.unclamped = unclamped.unwrap_or(desired);
                    if hpa.last_error.take().is_some() {
                        problems.push(HpaProblem {
                            workload: i,
                            message: "metrics available again".into(),
                        });
                    }
                }
                Err(message) => {
                    if hpa.last_error.as_deref() != Some(message.as_str()) {
                        hpa.last_error = Some(message.clone());
                        problems.push(HpaProblem {
                            workload: i,
                            message,
                        });
                    }
                }
            }
        }
        problems
    }

    /// Creates or deletes pods so every Deployment has its desired count. Deletion order
    /// follows the ReplicaSet controller: unbound pods, then not-ready ones, then the newest.
    pub fn reconcile(&self, world: &mut ClusterWorld, workloads: &[Workload]) {
        for (i, (d, w)) in self.items.iter().zip(workloads).enumerate() {
            let owner = Owner::Workload(i);
            let count = world.by_owner.get(&owner).map_or(0, |s| s.len());
            let desired = usize::try_from(d.desired).unwrap_or(usize::MAX);
            if count < desired {
                for _ in count..desired {
                    world.create_pod(owner, Arc::clone(&w.pod));
                }
            } else if count > desired {
                for uid in victims(world, owner, d.startup, count - desired) {
                    world.delete_pod(uid);
                }
            }
        }
    }
}

/// The `n` pods of `owner` to delete first.
fn victims(world: &ClusterWorld, owner: Owner, startup: Duration, n: usize) -> Vec<u64> {
    let Some(uids) = world.by_owner.get(&owner) else {
        return Vec::new();
    };
    let now = world.now;
    let rank = |uid: &u64| match world.pods.get(uid).and_then(|p| p.bound_at) {
        None => 0,
        Some(b) if b + startup > now => 1,
        Some(_) => 2,
    };
    let mut out = Vec::with_capacity(n);
    for wanted in 0..3 {
        // Newest first within each rank (uids grow with creation).
        for uid in uids.iter().rev() {
            if out.len() == n {
                return out;
            }
            if rank(uid) == wanted {
                out.push(*uid);
            }
        }
    }
    out
}

impl Hpa {
    /// Brings the observation in line with one changed pod (created, bound or deleted).
    fn apply_change(&mut self, uid: u64, record: Option<&PodRecord>) {
        match (record, self.position.get(&uid).copied()) {
            (Some(r), Some(i)) => self.bound_at[i] = r.bound_at,
            (Some(r), None) => {
                self.position.insert(uid, self.pods.len());
                self.uids.push(uid);
                self.bound_at.push(r.bound_at);
                self.pods.push(PodInfo {
                    name: r.pod.name.clone(),
                    phase: PodPhase::Pending,
                    ready: None,
                    start_time: None,
                    deleting: false,
                    containers: Arc::clone(&self.containers),
                    pod_requests: Default::default(),
                });
                self.samples.push(PodResourceSample::single(
                    r.pod.name.clone(),
                    CONTAINER,
                    0,
                    Timestamp::default(),
                    SAMPLE_WINDOW,
                ));
            }
            (None, Some(i)) => {
                self.position.remove(&uid);
                self.pods.swap_remove(i);
                self.samples.swap_remove(i);
                self.uids.swap_remove(i);
                self.bound_at.swap_remove(i);
                if let Some(moved) = self.uids.get(i) {
                    self.position.insert(*moved, i);
                }
            }
            (None, None) => {}
        }
    }

    /// Updates phase, readiness and CPU samples of every pod for `now`.
    fn refresh(&mut self, now: Timestamp, startup: Duration, total_cpu: f64, idle_cpu: f64) {
        let ready = self
            .bound_at
            .iter()
            .flatten()
            .filter(|b| **b + startup <= now)
            .count();
        let per_ready = if ready > 0 {
            total_cpu / ready as f64
        } else {
            0.0
        };
        for (i, pod) in self.pods.iter_mut().enumerate() {
            let usage_cores = match self.bound_at[i] {
                None => {
                    pod.phase = PodPhase::Pending;
                    pod.ready = None;
                    pod.start_time = None;
                    0.0
                }
                Some(b) => {
                    let is_ready = b + startup <= now;
                    pod.phase = PodPhase::Running;
                    pod.start_time = Some(b);
                    pod.ready = Some(ReadyCondition {
                        status: if is_ready {
                            ConditionStatus::True
                        } else {
                            ConditionStatus::False
                        },
                        last_transition: if is_ready { b + startup } else { b },
                    });
                    if is_ready {
                        per_ready + idle_cpu
                    } else {
                        idle_cpu
                    }
                }
            };
            let sample = &mut self.samples[i];
            sample.timestamp = now;
            if let Some(c) = sample.containers.first_mut() {
                c.usage = (usage_cores * 1000.0).round() as i64;
            }
        }
    }

    /// Runs the HPA algorithm; the new desired replica count and the recommendation before
    /// rate limits and bounds (if metrics were consulted), or why it could not decide.
    fn decide(
        &mut self,
        current: u32,
        pods: u32,
        config: &HpaControllerConfig,
        now: Timestamp,
    ) -> Result<(u32, Option<u32>), String> {
        let mut observation = HpaObservation {
            current_replicas: clamp_i32(current),
            status_replicas: clamp_i32(pods),
            pods: std::mem::take(&mut self.pods),
            metrics: vec![MetricObservation::Resource(std::mem::take(
                &mut self.samples,
            ))],
        };
        let result = reconcile(&self.spec, &observation, &mut self.state, config, now);
        // Hand the vectors back so the next sync updates them in place.
        self.pods = std::mem::take(&mut observation.pods);
        if let Some(MetricObservation::Resource(samples)) = observation.metrics.pop() {
            self.samples = samples;
        }
        let decision = result.map_err(|e| e.to_string())?;
        let desired = u32::try_from(decision.desired_replicas.max(0)).unwrap_or(0);
        let unclamped = decision
            .stabilized_replicas
            .or(decision.metric_replicas)
            .map(|r| u32::try_from(r.max(0)).unwrap_or(0));
        match decision.first_metric_error() {
            // Metrics fail while no pod is Ready yet (e.g. right after start); the count stays.
            Some(e) if !decision.rescale => Err(e.to_string()),
            _ => Ok((desired, unclamped)),
        }
    }
}

#[cfg(test)]
mod tests;
