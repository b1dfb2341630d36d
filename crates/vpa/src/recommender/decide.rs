//! Recommend: per VPA, the core's recommendation merged with the last one, and the conditions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tidal_core::Timestamp;
use tidal_core::vpa::{self as core, NoteKind, ResourcePolicy, VpaResource};

use super::Recommender;
use super::observe::{Target, key_of};
use crate::crd::{VerticalPodAutoscaler, VerticalPodAutoscalerStatus};
use crate::metrics::RecommendationLabels;
use crate::policy::resource_policy;
use crate::ports::{
    ObjectKey, ObservedPod, PodSource, TargetResolver, UsageSource, VpaSource, VpaWriter,
};
use crate::status::{self, Condition, ConditionKind, Merge, changed_meaningfully};

/// Why a VPA gets no new recommendation this loop (its last one is kept).
enum Blocked {
    Unsupported(String),
    NoTarget(String),
}

impl<V, T, P, U, W> Recommender<V, T, P, U, W>
where
    V: VpaSource,
    T: TargetResolver,
    P: PodSource,
    U: UsageSource,
    W: VpaWriter,
{
    /// The statuses worth writing this loop.
    pub(super) fn decide(
        &mut self,
        handled: &[Arc<VerticalPodAutoscaler>],
        targets: &HashMap<ObjectKey, Target>,
        pods: &[ObservedPod],
        owners: &HashMap<ObjectKey, ObjectKey>,
        now: Timestamp,
    ) -> Vec<(ObjectKey, VerticalPodAutoscalerStatus)> {
        let running = running_per_vpa(pods, owners);
        let aggregates = self.aggregates_per_vpa();
        let mut out = Vec::new();
        let mut gauges = Vec::new();
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for vpa in handled {
            let key = key_of(vpa);
            let Some(target) = targets.get(&key) else {
                continue;
            };
            if *target == Target::Unknown {
                continue;
            }
            let previous = self.written.get(&key).or(vpa.status.as_ref());
            let new = self.status_of(
                vpa,
                target,
                previous,
                running.get(&key),
                aggregates.get(&key),
                now,
            );
            for c in new.conditions.iter().filter(|c| c.status == "True") {
                if let Some(kind) = CONDITION_NAMES.iter().find(|n| **n == c.type_) {
                    *counts.entry(kind).or_default() += 1;
                }
            }
            gauges.extend(recommendation_gauges(&key, &new));
            if changed_meaningfully(previous, &new, self.config.status_change_threshold) {
                out.push((key, new));
            }
        }
        self.metrics.set_recommendations(gauges);
        let counts: Vec<(&str, usize)> = CONDITION_NAMES
            .iter()
            .map(|n| (*n, counts.get(n).copied().unwrap_or(0)))
            .collect();
        self.metrics.set_conditions(&counts);
        out
    }

    /// The status `vpa` should have now: a new recommendation (or the last one, kept while
    /// it is blocked) and its conditions.
    fn status_of(
        &self,
        vpa: &VerticalPodAutoscaler,
        target: &Target,
        previous: Option<&VerticalPodAutoscalerStatus>,
        running: Option<&(usize, BTreeSet<String>)>,
        aggregates: Option<&Vec<(&str, &core::ContainerAggregate)>>,
        now: Timestamp,
    ) -> VerticalPodAutoscalerStatus {
        let none = BTreeSet::new();
        let (pod_count, containers) = running.map_or((0, &none), |(n, names)| (*n, names));
        let mut mine = aggregates.cloned().unwrap_or_default();
        mine.sort_by_key(|(name, _)| *name);
        let policy = resource_policy(vpa);
        let blocked = match (target, &policy) {
            (Target::Unsupported(why), _) => Some(Blocked::Unsupported(why.clone())),
            (_, Err(why)) => Some(Blocked::Unsupported(why.clone())),
            (Target::Missing(why), _) => Some(Blocked::NoTarget(why.clone())),
            _ => None,
        };
        let policy = policy.unwrap_or_default();
        let (recommendation, wanted) = match blocked {
            Some(blocked) => (
                previous.and_then(|p| p.recommendation.clone()),
                blocked_conditions(
                    blocked,
                    previous.is_some_and(|p| p.recommendation.is_some()),
                ),
            ),
            None => self.recommend_one(&mine, &policy, previous, pod_count, containers, now),
        };
        VerticalPodAutoscalerStatus {
            recommendation,
            conditions: status::conditions(
                previous.map_or(&[][..], |p| &p.conditions),
                wanted,
                now,
            ),
        }
    }

    fn recommend_one(
        &self,
        aggregates: &[(&str, &core::ContainerAggregate)],
        policy: &ResourcePolicy,
        previous: Option<&VerticalPodAutoscalerStatus>,
        pod_count: usize,
        running: &BTreeSet<String>,
        now: Timestamp,
    ) -> (Option<crate::crd::RecommendedPodResources>, Vec<Condition>) {
        let computed = core::recommend(
            aggregates.iter().copied(),
            policy,
            &self.config.recommendation,
            now,
        );
        let metrics_down = self.metrics_down_since.is_some();
        let no_pods = pod_count == 0;
        let merge = Merge {
            data_missing: metrics_down || self.history_pending || no_pods,
            running,
            policy,
        };
        let recommendation = status::merge(
            previous.and_then(|p| p.recommendation.as_ref()),
            &computed,
            &merge,
        );
        let wanted = self.conditions_for(&computed, recommendation.is_some(), no_pods);
        (recommendation, wanted)
    }

    /// The conditions of a VPA that got a recommendation computed this loop.
    fn conditions_for(
        &self,
        computed: &core::VpaRecommendation,
        provided: bool,
        no_pods: bool,
    ) -> Vec<Condition> {
        let mut wanted = vec![if provided {
            Condition {
                kind: ConditionKind::RecommendationProvided,
                status: true,
                reason: "",
                message: String::new(),
            }
        } else {
            Condition {
                kind: ConditionKind::RecommendationProvided,
                status: false,
                reason: "NoUsageYet",
                message: "no usage sample or OOM kill of the selected pods yet".to_owned(),
            }
        }];
        if no_pods {
            wanted.push(Condition::yes(
                ConditionKind::NoPodsMatched,
                "NoPodsMatched",
                "No pods match this VPA object",
            ));
        }
        if self.history_pending {
            wanted.push(Condition::yes(
                ConditionKind::FetchingHistory,
                "FetchingHistory",
                "loading usage history from Prometheus; recommendations do not go down until it is loaded",
            ));
        }
        if self.metrics_down_since.is_some() {
            wanted.push(Condition::yes(
                ConditionKind::MetricsUnavailable,
                "MetricsUnavailable",
                "usage metrics cannot be read; the last recommendation is kept",
            ));
        }
        wanted.extend(low_confidence(computed, self.config.low_confidence_days));
        wanted.extend(oom_capped(computed));
        wanted
    }

    /// This loop's usage aggregates, per VPA, as `(container, aggregate)`.
    fn aggregates_per_vpa(&self) -> HashMap<&ObjectKey, Vec<(&str, &core::ContainerAggregate)>> {
        let mut aggregates: HashMap<&ObjectKey, Vec<(&str, &core::ContainerAggregate)>> =
            HashMap::new();
        for (key, tracked) in self.state.aggregates() {
            aggregates
                .entry(&key.vpa)
                .or_default()
                .push((key.container.as_str(), &tracked.aggregate));
        }
        aggregates
    }
}

/// Per VPA: how many of its pods run, and the names of their containers.
fn running_per_vpa<'a>(
    pods: &[ObservedPod],
    owners: &'a HashMap<ObjectKey, ObjectKey>,
) -> HashMap<&'a ObjectKey, (usize, BTreeSet<String>)> {
    let mut running: HashMap<&ObjectKey, (usize, BTreeSet<String>)> = HashMap::new();
    for pod in pods {
        if let Some(vpa) = owners.get(&pod.key) {
            let entry = running.entry(vpa).or_default();
            entry.0 += 1;
            entry
                .1
                .extend(pod.containers.iter().map(|c| c.name.clone()));
        }
    }
    running
}

/// `LowConfidence` when a container has less usage history than `days`.
fn low_confidence(computed: &core::VpaRecommendation, days: f64) -> Option<Condition> {
    let low: Vec<&str> = computed
        .containers
        .iter()
        .filter(|c| c.confidence_days < days)
        .map(|c| c.container_name.as_str())
        .collect();
    (!low.is_empty()).then(|| {
        Condition::yes(
            ConditionKind::LowConfidence,
            "ShortHistory",
            format!(
                "less than {days} day(s) of usage history for: {}",
                low.join(", ")
            ),
        )
    })
}

/// `OOMCappedByMaxAllowed` when a container is OOM-killed at its `maxAllowed` memory.
fn oom_capped(computed: &core::VpaRecommendation) -> Option<Condition> {
    let capped: Vec<String> = computed
        .notes
        .iter()
        .filter_map(|n| match &n.kind {
            NoteKind::OomCappedByMaxAllowed { needed_bytes, max_allowed_bytes, kills_at_cap } => Some(format!(
                "container {} is OOM-killed ({kills_at_cap} kill(s) at the cap) and needs about {needed_bytes} bytes, above maxAllowed.memory {max_allowed_bytes}: raise maxAllowed",
                n.container_name
            )),
            _ => None,
        })
        .collect();
    (!capped.is_empty()).then(|| {
        Condition::yes(
            ConditionKind::OOMCappedByMaxAllowed,
            "OOMKilledAtMaxAllowed",
            capped.join("; "),
        )
    })
}

/// Every condition type, for the per-condition gauge.
const CONDITION_NAMES: [&str; 7] = [
    "RecommendationProvided",
    "LowConfidence",
    "NoPodsMatched",
    "FetchingHistory",
    "ConfigUnsupported",
    "MetricsUnavailable",
    "OOMCappedByMaxAllowed",
];

fn blocked_conditions(blocked: Blocked, has_recommendation: bool) -> Vec<Condition> {
    let provided = |reason: &'static str| Condition {
        kind: ConditionKind::RecommendationProvided,
        status: has_recommendation,
        reason: if has_recommendation { "" } else { reason },
        message: String::new(),
    };
    match blocked {
        Blocked::Unsupported(why) => vec![
            provided("ConfigUnsupported"),
            Condition::yes(ConditionKind::ConfigUnsupported, "ConfigUnsupported", why),
        ],
        Blocked::NoTarget(why) => vec![
            provided("NoPodsMatched"),
            Condition::yes(
                ConditionKind::NoPodsMatched,
                "NoPodsMatched",
                format!("No pods match this VPA object: {why}"),
            ),
        ],
    }
}

fn recommendation_gauges(
    key: &ObjectKey,
    status: &VerticalPodAutoscalerStatus,
) -> Vec<(RecommendationLabels, f64)> {
    let mut out = Vec::new();
    for c in status
        .recommendation
        .iter()
        .flat_map(|r| &r.container_recommendations)
    {
        for (kind, list) in [
            ("target", &c.target),
            ("lower_bound", &c.lower_bound),
            ("upper_bound", &c.upper_bound),
            ("uncapped_target", &c.uncapped_target),
        ] {
            for resource in VpaResource::ALL {
                let name = resource.as_str();
                let Some(value) = list.get(name).and_then(|q| status::amount(name, &q.0)) else {
                    continue;
                };
                let value = match resource {
                    VpaResource::Cpu => value as f64 / 1000.0,
                    VpaResource::Memory => value as f64,
                };
                out.push((
                    RecommendationLabels {
                        namespace: key.namespace.clone(),
                        vpa: key.name.clone(),
                        container: c.container_name.clone(),
                        resource: name.to_owned(),
                        kind: kind.to_owned(),
                    },
                    value,
                ));
            }
        }
    }
    out
}
