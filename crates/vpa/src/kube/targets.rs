//! [`TargetResolver`] over the Kubernetes API: the pod selector of a VPA's target.
//!
//! Well-known workloads give it in their spec (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//! Job: `spec.selector`; CronJob: the labels of its jobs' pod template, as upstream does); any
//! other kind through its scale subresource's `status.selector`, after discovery finds the kind.
//!
//! Answers are cached per target (selectors of workloads are immutable), successes for
//! `ttl`, failures for a tenth of it, so thousands of VPAs cost a few reads per loop, and a
//! tenant pointing many VPAs at unknown kinds cannot make the recommender hammer discovery.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tidal_core::sync;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::{Client, discovery};
use tidal_core::Timestamp;
use tidal_core::scheduling::LabelSelector;
use tidal_runtime::Clock;

use super::selector;
use crate::crd::CrossVersionObjectReference;
use crate::ports::{TargetError, TargetResolver};

/// Most targets cached (bounded whatever the tenants create).
const MAX_CACHED: usize = 100_000;

/// namespace, apiVersion, kind, name.
type CacheKey = (String, String, String, String);
/// When an answer was got, and the selector or why there is none.
type CachedAnswer = (Timestamp, Result<LabelSelector, String>);

/// Resolves targets with GETs, caching the answers.
pub struct KubeTargets {
    client: Client,
    clock: Clock,
    ttl: Duration,
    cache: Mutex<HashMap<CacheKey, CachedAnswer>>,
}

impl KubeTargets {
    /// A resolver whose answers last `ttl` (failures a tenth of it).
    pub fn new(client: Client, clock: Clock, ttl: Duration) -> Self {
        Self {
            client,
            clock,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &CacheKey) -> Option<Result<LabelSelector, String>> {
        let now = self.clock.now();
        let cache = sync::lock(&self.cache);
        let (at, answer) = cache.get(key)?;
        let ttl = if answer.is_ok() {
            self.ttl
        } else {
            self.ttl / 10
        };
        (now.since(*at) < ttl).then(|| answer.clone())
    }

    fn remember(&self, key: CacheKey, answer: Result<LabelSelector, String>) {
        let now = self.clock.now();
        let mut cache = sync::lock(&self.cache);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, (now, answer));
    }

    async fn fetch(
        &self,
        namespace: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<LabelSelector, TargetError> {
        let (group, version) = group_version(target);
        let name = target.name.as_str();
        let c = || self.client.clone();
        let spec_selector = match (group.as_str(), target.kind.as_str()) {
            ("apps", "Deployment") => get(Api::<Deployment>::namespaced(c(), namespace), name)
                .await?
                .and_then(|o| o.spec.map(|s| s.selector)),
            ("apps", "StatefulSet") => get(Api::<StatefulSet>::namespaced(c(), namespace), name)
                .await?
                .and_then(|o| o.spec.map(|s| s.selector)),
            ("apps", "DaemonSet") => get(Api::<DaemonSet>::namespaced(c(), namespace), name)
                .await?
                .and_then(|o| o.spec.map(|s| s.selector)),
            ("apps", "ReplicaSet") => get(Api::<ReplicaSet>::namespaced(c(), namespace), name)
                .await?
                .and_then(|o| o.spec.map(|s| s.selector)),
            ("batch", "Job") => get(Api::<Job>::namespaced(c(), namespace), name)
                .await?
                .and_then(|o| o.spec.and_then(|s| s.selector)),
            ("batch", "CronJob") => get(Api::<CronJob>::namespaced(c(), namespace), name)
                .await?
                .map(cron_job_selector),
            _ => {
                return self
                    .scale_selector(namespace, target, &group, &version)
                    .await;
            }
        };
        let Some(spec_selector) = spec_selector else {
            return Err(not_found(namespace, target));
        };
        selector::from_k8s(&spec_selector).map_err(|e| {
            TargetError::Unsupported(format!("{} {namespace}/{name}: {e}", target.kind))
        })
    }

    async fn scale_selector(
        &self,
        namespace: &str,
        target: &CrossVersionObjectReference,
        group: &str,
        version: &str,
    ) -> Result<LabelSelector, TargetError> {
        let gvk = GroupVersionKind::gvk(group, version, &target.kind);
        let unsupported = |why: &str| {
            TargetError::Unsupported(format!(
                "{} {namespace}/{} ({}): {why}",
                target.kind,
                target.name,
                target.api_version.as_deref().unwrap_or("no apiVersion")
            ))
        };
        let (resource, caps) = match discovery::pinned_kind(&self.client, &gvk).await {
            Ok(found) => found,
            Err(kube::Error::Api(e)) if e.code == 404 => return Err(unsupported("no such kind")),
            Err(kube::Error::Discovery(_)) => return Err(unsupported("no such kind")),
            Err(e) => return Err(TargetError::Api(Box::new(e))),
        };
        if !caps
            .subresources
            .iter()
            .any(|(sub, _)| sub.plural == "scale")
        {
            return Err(unsupported("the kind has no scale subresource"));
        }
        let api = Api::<DynamicObject>::namespaced_with(self.client.clone(), namespace, &resource);
        let scale = match api.get_scale(&target.name).await {
            Ok(scale) => scale,
            Err(kube::Error::Api(e)) if e.code == 404 => return Err(not_found(namespace, target)),
            Err(e) => return Err(TargetError::Api(Box::new(e))),
        };
        match scale.status.and_then(|s| s.selector) {
            Some(text) if !text.trim().is_empty() => {
                selector::parse(&text).map_err(|e| unsupported(&e))
            }
            _ => Err(unsupported("its scale subresource reports no selector")),
        }
    }
}

impl TargetResolver for KubeTargets {
    async fn selector(
        &self,
        namespace: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<LabelSelector, TargetError> {
        let key = (
            namespace.to_owned(),
            target.api_version.clone().unwrap_or_default(),
            target.kind.clone(),
            target.name.clone(),
        );
        if let Some(answer) = self.cached(&key) {
            return answer.map_err(TargetError::Unsupported);
        }
        let answer = match self.fetch(namespace, target).await {
            // An empty selector would make the VPA own every pod of its namespace.
            Ok(s) if s.match_labels.is_empty() && s.match_expressions.is_empty() => {
                Err(TargetError::Unsupported(format!(
                    "{} {namespace}/{} selects every pod (empty selector)",
                    target.kind, target.name
                )))
            }
            other => other,
        };
        match &answer {
            Ok(selector) => self.remember(key, Ok(selector.clone())),
            // Unsupported kinds stay unsupported for a while; a missing target or an API
            // failure is asked again next loop.
            Err(TargetError::Unsupported(why)) => self.remember(key, Err(why.clone())),
            Err(_) => {}
        }
        answer
    }
}

/// The group and version of a target (`apps/v1` → (`apps`, `v1`); a bare `v1` is the core group;
/// none: the group of the well-known kind).
fn group_version(target: &CrossVersionObjectReference) -> (String, String) {
    match target.api_version.as_deref() {
        Some(av) => match av.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), av.to_owned()),
        },
        None => match target.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
                ("apps".into(), "v1".into())
            }
            "Job" | "CronJob" => ("batch".into(), "v1".into()),
            _ => (String::new(), "v1".into()),
        },
    }
}

/// A CronJob's pods are selected by the labels of its jobs' pod template.
fn cron_job_selector(cron_job: CronJob) -> K8sLabelSelector {
    let labels = cron_job
        .spec
        .and_then(|s| s.job_template.spec)
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.labels);
    K8sLabelSelector {
        match_labels: labels,
        match_expressions: None,
    }
}

async fn get<K>(api: Api<K>, name: &str) -> Result<Option<K>, TargetError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name)
        .await
        .map_err(|e| TargetError::Api(Box::new(e)))
}

fn not_found(namespace: &str, target: &CrossVersionObjectReference) -> TargetError {
    TargetError::NotFound {
        kind: target.kind.clone(),
        namespace: namespace.to_owned(),
        name: target.name.clone(),
    }
}
