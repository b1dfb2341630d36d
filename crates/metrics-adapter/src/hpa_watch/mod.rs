//! HPA discovery: a kube-rs watcher on autoscaling/v2 HPAs in all namespaces. An HPA's
//! collectors are rebuilt only when its metrics, scale target or `metric-config.` annotations
//! change (status updates every 15 s only refresh the replica count); a deleted HPA's
//! collectors and values are dropped.
//!
//! [`HpaWatchHandler::handle`] turns watch events into [`HpaAction`]s (values, easy to test);
//! [`apply_actions`] carries them out on the poller and the event sink.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures::{StreamExt, pin_mut};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::annotations::ANNOTATION_PREFIX;
use crate::config::{CollectionSettings, HpaCollectors, HpaKey, build_hpa_collectors};
use crate::events::{ConfigWarnings, EventSink, Warning, adjusted_warning, config_warning};
use crate::poller::Poller;
use crate::redact::shown;

/// What to do after one watch event.
// Actions live for one watch event and are consumed at once; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum HpaAction {
    /// (Re)build an HPA's collectors.
    Sync {
        /// The collectors and config errors.
        built: HpaCollectors,
        /// The HPA's uid.
        uid: Option<String>,
        /// `status.currentReplicas`.
        replicas: Option<u32>,
        /// A Warning Event to publish, at most once per change.
        warning: Option<Warning>,
        /// A Warning Event naming clamped values, at most once per change.
        adjusted: Option<Warning>,
    },
    /// Only the replica count changed.
    Replicas {
        /// The HPA.
        hpa: HpaKey,
        /// `status.currentReplicas`.
        replicas: Option<u32>,
    },
    /// The HPA is gone.
    Remove(HpaKey),
}

/// Namespace and name of an HPA object.
pub fn hpa_key(hpa: &HorizontalPodAutoscaler) -> HpaKey {
    HpaKey {
        namespace: hpa
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string()),
        name: hpa.metadata.name.clone().unwrap_or_default(),
    }
}

/// Hash of everything collectors are built from: uid, scale target, metrics and the
/// `metric-config.` annotations.
pub fn fingerprint(hpa: &HorizontalPodAutoscaler) -> u64 {
    let mut hasher = DefaultHasher::new();
    hpa.metadata.uid.hash(&mut hasher);
    let annotations: BTreeMap<&String, &String> = hpa
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(ANNOTATION_PREFIX))
        .collect();
    annotations.hash(&mut hasher);
    if let Some(spec) = &hpa.spec {
        // The k8s-openapi types do not implement Hash; their JSON is canonical enough.
        serde_json::to_string(&spec.scale_target_ref)
            .unwrap_or_default()
            .hash(&mut hasher);
        serde_json::to_string(&spec.metrics)
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    hasher.finish()
}

fn current_replicas(hpa: &HorizontalPodAutoscaler) -> Option<u32> {
    hpa.status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .and_then(|r| u32::try_from(r).ok())
}

/// Turns HPA watch events into actions; remembers what was built.
#[derive(Debug)]
pub struct HpaWatchHandler {
    settings: CollectionSettings,
    known: HashMap<HpaKey, u64>,
    relist: Option<HashSet<HpaKey>>,
    warnings: ConfigWarnings,
}

impl HpaWatchHandler {
    /// A handler building collectors with `settings`.
    pub fn new(settings: CollectionSettings) -> Self {
        Self {
            settings,
            known: HashMap::new(),
            relist: None,
            warnings: ConfigWarnings::default(),
        }
    }

    fn apply(&mut self, hpa: &HorizontalPodAutoscaler) -> HpaAction {
        let key = hpa_key(hpa);
        let print = fingerprint(hpa);
        let replicas = current_replicas(hpa);
        if self.known.get(&key) == Some(&print) {
            return HpaAction::Replicas { hpa: key, replicas };
        }
        self.known.insert(key.clone(), print);
        let built = build_hpa_collectors(hpa, &self.settings);
        let uid = hpa.metadata.uid.clone();
        let problems = !built.errors.is_empty() || !built.adjusted.is_empty();
        let (warning, adjusted) = if self.warnings.should_warn(&key, print, problems) {
            (
                config_warning(&key, uid.clone(), &built.errors),
                adjusted_warning(&key, uid.clone(), &built.adjusted),
            )
        } else {
            (None, None)
        };
        HpaAction::Sync {
            built,
            uid,
            replicas,
            warning,
            adjusted,
        }
    }

    fn remove(&mut self, key: HpaKey) -> HpaAction {
        self.known.remove(&key);
        self.warnings.forget(&key);
        HpaAction::Remove(key)
    }

    /// The actions one watch event calls for.
    pub fn handle(&mut self, event: Event<HorizontalPodAutoscaler>) -> Vec<HpaAction> {
        match event {
            Event::Apply(hpa) => vec![self.apply(&hpa)],
            Event::InitApply(hpa) => {
                if let Some(seen) = self.relist.as_mut() {
                    seen.insert(hpa_key(&hpa));
                }
                vec![self.apply(&hpa)]
            }
            Event::Delete(hpa) => vec![self.remove(hpa_key(&hpa))],
            Event::Init => {
                self.relist = Some(HashSet::new());
                Vec::new()
            }
            Event::InitDone => {
                // HPAs deleted while the watch was down never got a Delete event.
                let seen = self.relist.take().unwrap_or_default();
                let gone: Vec<HpaKey> = self
                    .known
                    .keys()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                gone.into_iter().map(|k| self.remove(k)).collect()
            }
        }
    }
}

/// Carries out `actions` on the poller and the event sink.
pub fn apply_actions(actions: Vec<HpaAction>, poller: &Poller, events: &dyn EventSink) {
    for action in actions {
        match action {
            HpaAction::Sync {
                built,
                uid,
                replicas,
                warning,
                adjusted,
            } => {
                for error in &built.errors {
                    tracing::warn!(hpa = %built.hpa, error = %shown(&error.error), "metric config error");
                }
                tracing::info!(hpa = %built.hpa, collectors = built.configs.len(), errors = built.errors.len(), "HPA collectors built");
                poller.sync_hpa(built, uid, replicas);
                for warning in warning.into_iter().chain(adjusted) {
                    events.warn(warning);
                }
            }
            HpaAction::Replicas { hpa, replicas } => poller.set_replicas(&hpa, replicas),
            HpaAction::Remove(hpa) => {
                tracing::info!(hpa = %hpa, "HPA gone; collectors removed");
                poller.remove_hpa(&hpa);
            }
        }
    }
}

/// Watches HPAs in all namespaces until `shutdown` resolves.
pub async fn run_hpa_watch(
    client: kube::Client,
    poller: Poller,
    events: std::sync::Arc<dyn EventSink>,
    settings: CollectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let api: Api<HorizontalPodAutoscaler> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    pin_mut!(stream);
    pin_mut!(shutdown);
    let mut handler = HpaWatchHandler::new(settings);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            next = stream.next() => match next {
                Some(Ok(event)) => apply_actions(handler.handle(event), &poller, events.as_ref()),
                Some(Err(e)) => tracing::warn!(error = %e, "HPA watch error; retrying with backoff"),
                None => return,
            },
        }
    }
}

#[cfg(test)]
mod tests;
