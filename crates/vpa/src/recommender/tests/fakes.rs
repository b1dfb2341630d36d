//! In-memory ports for the loop's tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tidal_core::Timestamp;
use tidal_core::scheduling::LabelSelector;

use crate::crd::{
    CrossVersionObjectReference, VerticalPodAutoscaler, VerticalPodAutoscalerCheckpoint,
    VerticalPodAutoscalerStatus,
};
use crate::ports::*;

#[derive(Default, Clone)]
pub struct Vpas(pub Arc<Mutex<Option<Vec<Arc<VerticalPodAutoscaler>>>>>);

impl Vpas {
    pub fn set(&self, vpas: Vec<VerticalPodAutoscaler>) {
        *self.0.lock().unwrap() = Some(vpas.into_iter().map(Arc::new).collect());
    }
}

impl VpaSource for Vpas {
    fn vpas(&self) -> Option<Vec<Arc<VerticalPodAutoscaler>>> {
        self.0.lock().unwrap().clone()
    }
}

/// A VPA `name` in `shop` for Deployment `name`, handled by `recommender` (none: unnamed).
pub fn vpa(
    name: &str,
    recommender: Option<&str>,
    policies: serde_json::Value,
) -> VerticalPodAutoscaler {
    let mut spec = json!({
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "resourcePolicy": {"containerPolicies": policies},
    });
    if let Some(r) = recommender {
        spec["recommenders"] = json!([{"name": r}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }))
    .unwrap()
}

/// Targets: Deployment `x` selects `app=x`; others as set.
#[derive(Default, Clone)]
pub struct Targets(pub Arc<Mutex<HashMap<String, Result<LabelSelector, String>>>>);

impl TargetResolver for Targets {
    async fn selector(
        &self,
        namespace: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<LabelSelector, TargetError> {
        match self.0.lock().unwrap().get(&target.name) {
            Some(Ok(s)) => Ok(s.clone()),
            Some(Err(why)) if why == "missing" => Err(TargetError::NotFound {
                kind: target.kind.clone(),
                namespace: namespace.to_owned(),
                name: target.name.clone(),
            }),
            Some(Err(why)) => Err(TargetError::Unsupported(why.clone())),
            None => Ok(LabelSelector::labels([("app", target.name.as_str())])),
        }
    }
}

#[derive(Default, Clone)]
pub struct Pods(pub Arc<Mutex<Vec<ObservedPod>>>);

impl Pods {
    pub fn set(&self, pods: Vec<ObservedPod>) {
        *self.0.lock().unwrap() = pods;
    }
}

impl PodSource for Pods {
    fn track(&self, _: &BTreeMap<String, Vec<LabelSelector>>) {}
    fn pods(&self) -> Result<Vec<ObservedPod>, PodError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// Pod `name` of app `app` with one container `app` requesting 1 GiB.
pub fn pod(app: &str, name: &str, oom_at: Option<Timestamp>) -> ObservedPod {
    ObservedPod {
        key: ObjectKey::new("shop", name),
        labels: [("app".to_owned(), app.to_owned())].into(),
        start_time: Some(Timestamp::from_secs(0)),
        containers: vec![ObservedContainer {
            name: "app".to_owned(),
            cpu_request: Some(0.5),
            memory_request: Some(GIB),
            last_oom: oom_at.map(|finished_at| OomKill {
                finished_at,
                memory_request: Some(GIB),
            }),
        }],
    }
}

pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Default)]
pub struct Usage {
    pub current: Mutex<Option<Vec<UsageSample>>>,
    pub history: Mutex<Option<UsageHistory>>,
    pub has_history: bool,
}

impl Usage {
    pub fn set(&self, samples: Option<Vec<UsageSample>>) {
        *self.current.lock().unwrap() = samples;
    }
}

impl UsageSource for Usage {
    async fn current(&self) -> Result<Vec<UsageSample>, UsageError> {
        self.current
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| UsageError::Unreachable("connection refused".into()))
    }
    async fn history(&self, _: Timestamp, _: Timestamp) -> Result<UsageHistory, UsageError> {
        self.history
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| UsageError::Unreachable("connection refused".into()))
    }
    fn has_history(&self) -> bool {
        self.has_history
    }
}

/// One sample of container `app` of pod `pod` at `at`.
pub fn sample(pod: &str, at: Timestamp, cores: f64, bytes: f64) -> UsageSample {
    UsageSample {
        pod: ObjectKey::new("shop", pod),
        container: "app".to_owned(),
        at,
        cpu_cores: Some(cores),
        memory_bytes: Some(bytes),
    }
}

/// Records writes; keeps checkpoints like a server would.
#[derive(Default, Clone)]
pub struct Writer {
    pub statuses: Arc<Mutex<Vec<(ObjectKey, VerticalPodAutoscalerStatus)>>>,
    pub checkpoints: Arc<Mutex<BTreeMap<ObjectKey, VerticalPodAutoscalerCheckpoint>>>,
    pub deleted: Arc<Mutex<Vec<ObjectKey>>>,
    pub fail: Arc<Mutex<bool>>,
}

impl Writer {
    pub fn last_status(&self, name: &str) -> Option<VerticalPodAutoscalerStatus> {
        self.statuses
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(k, _)| k.name == name)
            .map(|(_, s)| s.clone())
    }
}

impl VpaWriter for Writer {
    async fn write_status(
        &self,
        key: &ObjectKey,
        status: &VerticalPodAutoscalerStatus,
    ) -> Result<(), WriteError> {
        if *self.fail.lock().unwrap() {
            return Err(WriteError::Api {
                key: key.clone(),
                source: "timeout".into(),
            });
        }
        self.statuses
            .lock()
            .unwrap()
            .push((key.clone(), status.clone()));
        Ok(())
    }
    async fn write_checkpoint(
        &self,
        c: &VerticalPodAutoscalerCheckpoint,
    ) -> Result<(), WriteError> {
        let key = ObjectKey::new(
            c.metadata.namespace.clone().unwrap(),
            c.metadata.name.clone().unwrap(),
        );
        self.checkpoints.lock().unwrap().insert(key, c.clone());
        Ok(())
    }
    async fn delete_checkpoint(&self, key: &ObjectKey) -> Result<(), WriteError> {
        self.checkpoints.lock().unwrap().remove(key);
        self.deleted.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn checkpoints(&self) -> Result<Vec<VerticalPodAutoscalerCheckpoint>, WriteError> {
        Ok(self.checkpoints.lock().unwrap().values().cloned().collect())
    }
}
