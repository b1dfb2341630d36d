//! Observe: which VPAs are ours, their targets' selectors, and which VPA owns each pod.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use kube::ResourceExt;
use tidal_core::scheduling::{LabelSelector, Labels};
use tracing::debug;

use super::Recommender;
use crate::crd::VerticalPodAutoscaler;
use crate::ports::{
    ObjectKey, ObservedPod, PodSource, TargetError, TargetResolver, UsageSource, VpaSource,
    VpaWriter,
};

/// What a VPA's target resolved to this loop.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Target {
    /// Its pods are those this selector matches.
    Selector(LabelSelector),
    /// The target does not exist (NoPodsMatched).
    Missing(String),
    /// The target cannot be served (ConfigUnsupported).
    Unsupported(String),
    /// The API did not answer and no earlier answer is known: nothing is decided.
    Unknown,
}

/// `namespace/name` of a VPA.
pub(super) fn key_of(vpa: &VerticalPodAutoscaler) -> ObjectKey {
    ObjectKey::new(vpa.namespace().unwrap_or_default(), vpa.name_any())
}

impl<V, T, P, U, W> Recommender<V, T, P, U, W>
where
    V: VpaSource,
    T: TargetResolver,
    P: PodSource,
    U: UsageSource,
    W: VpaWriter,
{
    /// The VPAs this recommender handles, in key order.
    pub(super) fn handled(
        &self,
        vpas: &[Arc<VerticalPodAutoscaler>],
    ) -> Vec<Arc<VerticalPodAutoscaler>> {
        let mut out: Vec<_> = vpas
            .iter()
            .filter(|v| {
                let mut names = v.recommender_names().peekable();
                if names.peek().is_none() {
                    self.config.handle_unnamed
                } else {
                    names.any(|n| n == self.config.recommender_name)
                }
            })
            .cloned()
            .collect();
        out.sort_by_key(|v| key_of(v));
        out
    }

    /// Resolves every handled VPA's target, `workers` at a time.
    pub(super) async fn resolve_targets(
        &mut self,
        handled: &[Arc<VerticalPodAutoscaler>],
    ) -> HashMap<ObjectKey, Target> {
        let resolver = &self.ports.targets;
        let answers: Vec<(ObjectKey, Result<LabelSelector, TargetError>)> =
            futures::stream::iter(handled.iter().cloned())
                .map(|vpa| async move {
                    let key = key_of(&vpa);
                    let answer = match &vpa.spec.target_ref {
                        Some(target) if !target.kind.is_empty() && !target.name.is_empty() => {
                            resolver.selector(&key.namespace, target).await
                        }
                        _ => Err(TargetError::Unsupported(
                            "spec.targetRef must name a kind and a name".to_owned(),
                        )),
                    };
                    (key, answer)
                })
                .buffer_unordered(self.config.workers.max(1))
                .collect()
                .await;
        let mut out = HashMap::with_capacity(answers.len());
        for (key, answer) in answers {
            let target = match answer {
                Ok(selector) => {
                    self.selectors.insert(key.clone(), selector.clone());
                    Target::Selector(selector)
                }
                Err(e @ TargetError::NotFound { .. }) => {
                    self.selectors.remove(&key);
                    Target::Missing(e.to_string())
                }
                Err(TargetError::Unsupported(why)) => {
                    self.selectors.remove(&key);
                    Target::Unsupported(why)
                }
                Err(e) => {
                    self.metrics.error("target", e.label());
                    debug!(vpa = %key, error = %e, "cannot read the target; using the last selector");
                    match self.selectors.get(&key) {
                        Some(s) => Target::Selector(s.clone()),
                        None => Target::Unknown,
                    }
                }
            };
            out.insert(key, target);
        }
        out
    }
}

/// The selectors of the resolved targets, by namespace (what the pod source keeps).
pub(super) fn selectors_by_namespace(
    handled: &[Arc<VerticalPodAutoscaler>],
    targets: &HashMap<ObjectKey, Target>,
) -> BTreeMap<String, Vec<LabelSelector>> {
    let mut out: BTreeMap<String, Vec<LabelSelector>> = BTreeMap::new();
    for vpa in handled {
        let key = key_of(vpa);
        if let Some(Target::Selector(s)) = targets.get(&key) {
            let list = out.entry(key.namespace).or_default();
            if !list.contains(s) {
                list.push(s.clone());
            }
        }
    }
    out
}

/// The VPA of each pod: the first (in key order) in its namespace whose selector matches.
pub(super) fn owners(
    handled: &[Arc<VerticalPodAutoscaler>],
    targets: &HashMap<ObjectKey, Target>,
    pods: &[ObservedPod],
) -> HashMap<ObjectKey, ObjectKey> {
    let selectors: HashMap<ObjectKey, LabelSelector> = handled
        .iter()
        .filter_map(|v| match targets.get(&key_of(v)) {
            Some(Target::Selector(s)) => Some((key_of(v), s.clone())),
            _ => None,
        })
        .collect();
    let labels: HashMap<ObjectKey, &Labels> =
        pods.iter().map(|p| (p.key.clone(), &p.labels)).collect();
    match_owners(&selectors, labels.into_iter())
}

/// The VPA of each pod seen in history: its labels from the backend, else from the pod if it
/// still runs.
pub(super) fn history_owners(
    handled: &[Arc<VerticalPodAutoscaler>],
    selectors: &HashMap<ObjectKey, LabelSelector>,
    pods: &[ObservedPod],
    history_labels: &HashMap<ObjectKey, Labels>,
) -> HashMap<ObjectKey, ObjectKey> {
    let handled: std::collections::HashSet<ObjectKey> = handled.iter().map(|v| key_of(v)).collect();
    let selectors: HashMap<ObjectKey, LabelSelector> = selectors
        .iter()
        .filter(|(k, _)| handled.contains(*k))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    let mut labels: HashMap<ObjectKey, &Labels> =
        history_labels.iter().map(|(k, l)| (k.clone(), l)).collect();
    for p in pods {
        labels.entry(p.key.clone()).or_insert(&p.labels);
    }
    match_owners(&selectors, labels.into_iter())
}

fn match_owners<'a>(
    selectors: &HashMap<ObjectKey, LabelSelector>,
    pods: impl Iterator<Item = (ObjectKey, &'a Labels)>,
) -> HashMap<ObjectKey, ObjectKey> {
    let mut by_namespace: HashMap<&str, Vec<(&ObjectKey, &LabelSelector)>> = HashMap::new();
    for (key, s) in selectors {
        by_namespace
            .entry(key.namespace.as_str())
            .or_default()
            .push((key, s));
    }
    for list in by_namespace.values_mut() {
        list.sort_by(|a, b| a.0.cmp(b.0));
    }
    let mut out = HashMap::new();
    for (pod, labels) in pods {
        let owner = by_namespace
            .get(pod.namespace.as_str())
            .and_then(|list| list.iter().find(|(_, s)| s.matches(labels)))
            .map(|(k, _)| (*k).clone());
        if let Some(owner) = owner {
            out.insert(pod, owner);
        }
    }
    out
}
