//! What the recommender remembers between loops: one `tidal_core::vpa::ContainerAggregate` per
//! (VPA, container name), and per tracked pod container the last sample taken and the last OOM
//! kill recorded (so a sample or a kill seen again next loop is not counted twice).
//!
//! Memory follows the VPAs' containers and the pods they select now: per-pod entries are
//! dropped as soon as their pod is no longer tracked, aggregates when they expire (8 days
//! without samples, the core decides) or when their VPA is deleted.

use std::collections::HashMap;

use tidal_core::Timestamp;
use tidal_core::vpa::{AggregationConfig, ContainerAggregate};

use crate::ports::{ObjectKey, ObservedPod, UsageSample};

/// (VPA, container name): the key of an aggregate and of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerKey {
    /// The VPA.
    pub vpa: ObjectKey,
    /// The container name.
    pub container: String,
}

/// One aggregate and when its checkpoint was last written.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// The usage history.
    pub aggregate: ContainerAggregate,
    /// When its checkpoint was last written (`None`: never, by this process).
    pub checkpointed: Option<Timestamp>,
    /// OOM kills the aggregate had when its checkpoint was last written (a new kill makes
    /// the checkpoint due at once, so a restart keeps the bump).
    pub checkpointed_kills: u32,
}

/// Per pod container: what was already taken in.
#[derive(Clone, Copy, Debug, Default)]
struct PodContainerSeen {
    last_sample: Option<Timestamp>,
    last_memory: Option<f64>,
    last_oom: Option<Timestamp>,
}

/// What the recommender remembers.
#[derive(Debug, Default)]
pub struct State {
    config: AggregationConfig,
    aggregates: HashMap<ContainerKey, Tracked>,
    seen: HashMap<(ObjectKey, String), PodContainerSeen>,
}

/// What ingesting one loop's observations did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Samples added to aggregates.
    pub samples: usize,
    /// New OOM kills recorded.
    pub oom_kills: usize,
    /// Of those, kills that raised the memory floor.
    pub bumps: usize,
}

impl State {
    /// Empty state with the given aggregation settings.
    pub fn new(config: AggregationConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The aggregates.
    pub fn aggregates(&self) -> &HashMap<ContainerKey, Tracked> {
        &self.aggregates
    }

    /// Mutable access to the aggregates (checkpoint bookkeeping).
    pub fn aggregates_mut(&mut self) -> &mut HashMap<ContainerKey, Tracked> {
        &mut self.aggregates
    }

    /// Inserts a restored aggregate unless one is already known.
    pub fn restore(&mut self, key: ContainerKey, aggregate: ContainerAggregate, at: Timestamp) {
        let checkpointed_kills = aggregate.oom().kills();
        self.aggregates.entry(key).or_insert(Tracked {
            aggregate,
            checkpointed: Some(at),
            checkpointed_kills,
        });
    }

    fn aggregate(&mut self, key: ContainerKey, now: Timestamp) -> &mut ContainerAggregate {
        let config = self.config;
        &mut self
            .aggregates
            .entry(key)
            .or_insert_with(|| Tracked {
                aggregate: ContainerAggregate::with_config(now, config),
                checkpointed: None,
                checkpointed_kills: 0,
            })
            .aggregate
    }

    /// The samples of pods owned by a VPA not taken before (newer than the last one taken
    /// for their pod container), marked as taken.
    pub fn take_new(
        &mut self,
        samples: Vec<UsageSample>,
        owner: &dyn Fn(&ObjectKey) -> Option<ObjectKey>,
    ) -> Vec<(ObjectKey, UsageSample)> {
        let mut out = Vec::new();
        for s in samples {
            let Some(vpa) = owner(&s.pod) else { continue };
            let seen = self
                .seen
                .entry((s.pod.clone(), s.container.clone()))
                .or_default();
            if seen.last_sample.is_some_and(|last| s.at <= last) {
                continue;
            }
            seen.last_sample = Some(s.at);
            if s.memory_bytes.is_some() {
                seen.last_memory = s.memory_bytes;
            }
            out.push((vpa, s));
        }
        out
    }

    /// Adds samples (from [`State::take_new`]) to their VPA's aggregates.
    pub fn add_samples(&mut self, samples: Vec<(ObjectKey, UsageSample)>, now: Timestamp) -> usize {
        let added = samples.len();
        for (vpa, s) in samples {
            let key = ContainerKey {
                vpa,
                container: s.container,
            };
            let aggregate = self.aggregate(key, now);
            if let Some(cpu) = s.cpu_cores {
                aggregate.add_cpu_sample(s.at, cpu);
            }
            if let Some(memory) = s.memory_bytes {
                aggregate.add_memory_sample(s.at, memory);
            }
        }
        added
    }

    /// Adds history samples (in any order; they are sorted here). An aggregate that existed
    /// before (restored from a checkpoint) takes only samples after its last one, so history
    /// the checkpoint already holds is not counted twice.
    pub fn add_history(
        &mut self,
        mut samples: Vec<UsageSample>,
        owner: &dyn Fn(&ObjectKey) -> Option<ObjectKey>,
        now: Timestamp,
    ) -> usize {
        samples.sort_by_key(|s| s.at);
        let cutoff: HashMap<ContainerKey, Timestamp> = self
            .aggregates
            .iter()
            .filter_map(|(k, t)| Some((k.clone(), t.aggregate.last_sample()?)))
            .collect();
        let mut added = 0;
        for s in samples {
            let Some(vpa) = owner(&s.pod) else { continue };
            let key = ContainerKey {
                vpa,
                container: s.container,
            };
            if cutoff.get(&key).is_some_and(|last| s.at <= *last) {
                continue;
            }
            let aggregate = self.aggregate(key, now);
            if let Some(cpu) = s.cpu_cores {
                aggregate.add_cpu_sample(s.at, cpu);
            }
            if let Some(memory) = s.memory_bytes {
                aggregate.add_memory_sample(s.at, memory);
            }
            added += 1;
        }
        added
    }

    /// Records OOM kills not recorded before, of pods owned by a VPA.
    pub fn add_oom_kills(
        &mut self,
        pods: &[(&ObservedPod, ObjectKey)],
        now: Timestamp,
    ) -> Ingested {
        let mut out = Ingested::default();
        for (pod, vpa) in pods {
            for c in &pod.containers {
                let Some(kill) = c.last_oom else { continue };
                let seen = self
                    .seen
                    .entry((pod.key.clone(), c.name.clone()))
                    .or_default();
                if seen.last_oom.is_some_and(|last| kill.finished_at <= last) {
                    continue;
                }
                seen.last_oom = Some(kill.finished_at);
                let request = kill.memory_request.unwrap_or(0.0);
                // Upstream's "used": the larger of the request and the last working set seen.
                let used = seen.last_memory.unwrap_or(0.0).max(request);
                let key = ContainerKey {
                    vpa: vpa.clone(),
                    container: c.name.clone(),
                };
                let outcome = self
                    .aggregate(key, now)
                    .record_oom(kill.finished_at, used, request);
                out.oom_kills += 1;
                if outcome.escalated {
                    out.bumps += 1;
                }
            }
        }
        out
    }

    /// Forgets pod containers no longer tracked, aggregates of VPAs that are gone, and
    /// expired aggregates.
    pub fn prune(
        &mut self,
        tracked_pod: &dyn Fn(&ObjectKey) -> bool,
        vpa_exists: &dyn Fn(&ObjectKey) -> bool,
        now: Timestamp,
    ) {
        self.seen.retain(|(pod, _), _| tracked_pod(pod));
        self.aggregates
            .retain(|key, t| vpa_exists(&key.vpa) && !t.aggregate.is_expired(now));
    }

    /// Pod containers remembered (for a metric).
    pub fn tracked_pod_containers(&self) -> usize {
        self.seen.len()
    }
}
