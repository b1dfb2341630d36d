//! [`VpaWriter`] over the Kubernetes API.
//!
//! A status is written with a merge patch of the `status` subresource (only status changes; a
//! spec edited meanwhile is kept). A checkpoint is written with server-side apply: one request
//! creates or replaces it.

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, Error, ResourceExt};
use serde_json::json;

use crate::crd::{
    VerticalPodAutoscaler, VerticalPodAutoscalerCheckpoint, VerticalPodAutoscalerStatus,
};
use crate::ports::{ObjectKey, VpaWriter, WriteError};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "tidal-vpa";

/// Writes through a kube client.
#[derive(Clone)]
pub struct KubeWriter {
    client: Client,
}

impl KubeWriter {
    /// A writer over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn write_error(key: &ObjectKey, e: Error) -> WriteError {
    match e {
        Error::Api(s) if s.code == 404 => WriteError::NotFound(key.clone()),
        Error::Api(s) if s.code < 500 && s.code != 429 => WriteError::Refused {
            key: key.clone(),
            message: s.message,
        },
        e => WriteError::Api {
            key: key.clone(),
            source: Box::new(e),
        },
    }
}

impl VpaWriter for KubeWriter {
    async fn write_status(
        &self,
        key: &ObjectKey,
        status: &VerticalPodAutoscalerStatus,
    ) -> Result<(), WriteError> {
        let api = Api::<VerticalPodAutoscaler>::namespaced(self.client.clone(), &key.namespace);
        let patch = json!({ "status": status });
        api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop)
            .map_err(|e| write_error(key, e))
    }

    async fn write_checkpoint(
        &self,
        checkpoint: &VerticalPodAutoscalerCheckpoint,
    ) -> Result<(), WriteError> {
        let key = ObjectKey::new(
            checkpoint.namespace().unwrap_or_default(),
            checkpoint.name_any(),
        );
        let api =
            Api::<VerticalPodAutoscalerCheckpoint>::namespaced(self.client.clone(), &key.namespace);
        let mut object = checkpoint.clone();
        // Apply must not carry server-owned fields.
        object.metadata.resource_version = None;
        object.metadata.managed_fields = None;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&key.name, &params, &Patch::Apply(&object))
            .await
            .map(drop)
            .map_err(|e| write_error(&key, e))
    }

    async fn delete_checkpoint(&self, key: &ObjectKey) -> Result<(), WriteError> {
        let api =
            Api::<VerticalPodAutoscalerCheckpoint>::namespaced(self.client.clone(), &key.namespace);
        match api.delete(&key.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(write_error(key, e)),
        }
    }

    async fn checkpoints(&self) -> Result<Vec<VerticalPodAutoscalerCheckpoint>, WriteError> {
        let api = Api::<VerticalPodAutoscalerCheckpoint>::all(self.client.clone());
        api.list(&ListParams::default())
            .await
            .map(|l| l.items)
            .map_err(|e| write_error(&ObjectKey::new("*", "verticalpodautoscalercheckpoints"), e))
    }
}
