//! Kubernetes adapters: the node count, Events, and the health of control-plane nodes.
//!
//! Health of a control-plane instance = its Node (found by `spec.providerID`, which ends with the
//! EC2 instance id) has condition Ready=True, and its own API server answers `/readyz` with
//! `ok` on the node's InternalIP, checked with this pod's credentials and the cluster CA.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::api::{Api, ListParams};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::{Client, Config};
use tracing::debug;

use crate::ports::{
    Event, EventError, EventSink, HealthError, NodeCountError, NodeCounter, NodeHealth,
};

/// The controller's name in Events and logs.
pub const CONTROLLER_NAME: &str = "tidal-cp-autoscaler";

/// Label of control-plane nodes (kubeadm's).
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// Counts the cluster's nodes, a page at a time (metadata only).
#[derive(Clone)]
pub struct KubeNodes {
    api: Api<Node>,
}

impl KubeNodes {
    /// Counts the nodes through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            api: Api::all(client),
        }
    }
}

impl NodeCounter for KubeNodes {
    async fn node_count(&self) -> Result<u32, NodeCountError> {
        let mut count: usize = 0;
        let mut params = ListParams::default().limit(500);
        loop {
            let page = self
                .api
                .list_metadata(&params)
                .await
                .map_err(|e| NodeCountError::Api(Box::new(e)))?;
            count += page.items.len();
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }
}

/// Events on one object (the leader-election Lease: it exists while the controller runs).
pub struct KubeEvents {
    recorder: Recorder,
    reference: ObjectReference,
}

impl KubeEvents {
    /// Events from `instance` (the pod name) about `reference`.
    pub fn new(client: Client, instance: Option<String>, reference: ObjectReference) -> Self {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.to_owned(),
            instance,
        };
        Self {
            recorder: Recorder::new(client, reporter),
            reference,
        }
    }

    /// A reference to the Lease `namespace/name`.
    pub fn lease_reference(namespace: &str, name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("coordination.k8s.io/v1".to_owned()),
            kind: Some("Lease".to_owned()),
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            ..ObjectReference::default()
        }
    }
}

impl EventSink for KubeEvents {
    async fn record(&self, event: &Event) -> Result<(), EventError> {
        let kube_event = KubeEvent {
            type_: if event.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: event.reason.as_str().to_owned(),
            note: Some(event.message.chars().take(1000).collect()),
            action: "Resize".to_owned(),
            secondary: None,
        };
        self.recorder
            .publish(&kube_event, &self.reference)
            .await
            .map_err(|e| EventError(Box::new(e)))
    }
}

/// Node Ready and API server `/readyz` of control-plane instances.
#[derive(Clone)]
pub struct KubeNodeHealth {
    nodes: Api<Node>,
    /// This pod's client configuration; each check replaces only the URL.
    config: Config,
    readyz_port: u16,
    timeout: Duration,
}

impl KubeNodeHealth {
    /// Checks nodes through `client`, and API servers on `readyz_port` with `config`'s
    /// credentials and CA.
    pub fn new(client: Client, config: Config, readyz_port: u16, timeout: Duration) -> Self {
        Self {
            nodes: Api::all(client),
            config,
            readyz_port,
            timeout,
        }
    }

    async fn readyz(&self, url: String) -> bool {
        let mut config = self.config.clone();
        let Ok(uri) = url.parse() else {
            return false;
        };
        config.cluster_url = uri;
        config.connect_timeout = Some(self.timeout);
        config.read_timeout = Some(self.timeout);
        let Ok(client) = Client::try_from(config) else {
            return false;
        };
        let request = http::Request::get("/readyz").body(Vec::new());
        let Ok(request) = request else {
            return false;
        };
        match tokio::time::timeout(self.timeout, client.request_text(request)).await {
            Ok(Ok(body)) => body.trim() == "ok",
            Ok(Err(e)) => {
                debug!(%url, error = %e, "readyz failed");
                false
            }
            Err(_) => false,
        }
    }
}

/// Instance id → InternalIP of the Ready nodes among `nodes` whose provider id names one of `ids`.
pub fn ready_instances(nodes: &[Node], ids: &[String]) -> BTreeMap<String, Option<String>> {
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let mut out = BTreeMap::new();
    for node in nodes {
        let Some(spec) = &node.spec else { continue };
        let Some(instance) = spec
            .provider_id
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .filter(|id| wanted.contains(id))
        else {
            continue;
        };
        let status = node.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !ready {
            continue;
        }
        let ip = status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map(|a| a.address.clone());
        out.insert(instance.to_owned(), ip);
    }
    out
}

impl NodeHealth for KubeNodeHealth {
    async fn healthy(&self, ids: &[String]) -> Result<BTreeSet<String>, HealthError> {
        let nodes = self
            .nodes
            .list(&ListParams::default().labels(CONTROL_PLANE_LABEL))
            .await
            .map_err(|e| HealthError::Api(Box::new(e)))?;
        let mut healthy = BTreeSet::new();
        for (instance, ip) in ready_instances(&nodes.items, ids) {
            let Some(ip) = ip else { continue };
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip
            };
            if self
                .readyz(format!("https://{host}:{}", self.readyz_port))
                .await
            {
                healthy.insert(instance);
            }
        }
        Ok(healthy)
    }
}

#[cfg(test)]
mod tests;
