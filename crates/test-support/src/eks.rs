//! A stand-in for the Amazon EKS API, for the calls the control-plane autoscaler makes.
//!
//! **A stand-in, not EKS**: moto does not implement provisioned control-plane tiers, so this
//! small server speaks the EKS REST-JSON protocol (paths, JSON bodies, `x-amzn-errortype`
//! errors, epoch-second timestamps) for exactly these operations, so the real `aws-sdk-eks`
//! client can be tested against it:
//!
//! - `DescribeCluster` (`GET /clusters/{name}`): status and `controlPlaneScalingConfig.tier`;
//! - `UpdateClusterConfig` (`POST /clusters/{name}/update-config`) with
//!   `controlPlaneScalingConfig.tier`: returns a `ControlPlaneScalingConfigUpdate` InProgress
//!   with `PreviousTier`/`UpdatedTier` params;
//! - `DescribeUpdate` (`GET /clusters/{name}/updates/{id}`): the update finishes after a set
//!   number of polls, Successful (the tier changes) or Failed (with an error detail);
//! - `ListUpdates` (`GET /clusters/{name}/updates`).
//!
//! Refusals modelled on what AWS documents: an unknown tier (`InvalidParameterException`),
//! another update in progress (`ResourceInUseException`), leaving a provisioned tier while the
//! etcd database is above 8 GB (`InvalidRequestException`), an unknown cluster
//! (`ResourceNotFoundException`). Binds 127.0.0.1 only.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tidal_core::sync::lock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::HarnessError;

/// The tiers EKS accepts.
const TIERS: [&str; 5] = ["standard", "tier-xl", "tier-2xl", "tier-4xl", "tier-8xl"];
/// Above this etcd database size a provisioned tier cannot be left (AWS documents 8 GB).
const LEAVE_TIER_DB_LIMIT: u64 = 8_000_000_000;

#[derive(Debug, Clone)]
struct Update {
    id: String,
    status: &'static str,
    previous: String,
    updated: String,
    created_at: f64,
    polls: u32,
    error: Option<String>,
}

#[derive(Debug)]
struct Cluster {
    name: String,
    tier: String,
    database_bytes: u64,
    polls_to_finish: u32,
    fail_with: Option<String>,
    updates: Vec<Update>,
    calls: Vec<String>,
}

type Shared = Arc<Mutex<Cluster>>;

/// The EKS stand-in: one cluster, served on an ephemeral loopback port; stopped when dropped.
pub struct EksStandIn {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl EksStandIn {
    /// Serves cluster `name` at `tier` (needs a tokio runtime). Updates finish after 2 polls.
    pub async fn start(name: &str, tier: &str) -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding the EKS stand-in to 127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the EKS stand-in's address", e))?;
        let state = Arc::new(Mutex::new(Cluster {
            name: name.to_owned(),
            tier: tier.to_owned(),
            database_bytes: 0,
            polls_to_finish: 2,
            fail_with: None,
            updates: Vec::new(),
            calls: Vec::new(),
        }));
        let app = Router::new()
            .route("/clusters/{name}", get(describe_cluster))
            .route("/clusters/{name}/update-config", post(update_config))
            .route("/clusters/{name}/updates", get(list_updates))
            .route("/clusters/{name}/updates/{id}", get(describe_update))
            .with_state(state.clone());
        let (shutdown, task) = crate::serve::serve_until_stopped("EKS stand-in", listener, app);
        Ok(Self {
            addr,
            state,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The endpoint to give the EKS client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK config pointed at this stand-in with static test credentials.
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        crate::moto::loopback_sdk_config(self.endpoint_url(), region).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cluster> {
        lock(&self.state)
    }

    /// The cluster's tier now.
    pub fn tier(&self) -> String {
        self.lock().tier.clone()
    }

    /// Sets the etcd database size (above 8 GB a provisioned tier cannot be left).
    pub fn set_database_bytes(&self, bytes: u64) {
        self.lock().database_bytes = bytes;
    }

    /// Updates started from now on fail with `message` (`None`: they succeed).
    pub fn fail_updates(&self, message: Option<&str>) {
        self.lock().fail_with = message.map(str::to_owned);
    }

    /// How many `DescribeUpdate` calls an update takes to finish.
    pub fn set_polls_to_finish(&self, polls: u32) {
        self.lock().polls_to_finish = polls;
    }

    /// Every call received, as `OPERATION tier-or-id`, oldest first.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }
}

impl Drop for EksStandIn {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/json"),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The stand-in's one cluster, or the 404 EKS answers for another name (boxed: a `Response`
/// is large and this is the only error).
fn find<'a>(
    state: &'a Shared,
    name: &str,
) -> Result<std::sync::MutexGuard<'a, Cluster>, Box<Response>> {
    let guard = lock(state);
    if guard.name == name {
        Ok(guard)
    } else {
        Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("No cluster found for name: {name}."),
        )))
    }
}

fn update_json(u: &Update) -> Value {
    let errors: Vec<Value> = u
        .error
        .iter()
        .map(|m| json!({ "errorCode": "Unknown", "errorMessage": m, "resourceIds": [] }))
        .collect();
    json!({
        "id": u.id,
        "status": u.status,
        "type": "ControlPlaneScalingConfigUpdate",
        "params": [
            { "type": "PreviousTier", "value": u.previous },
            { "type": "UpdatedTier", "value": u.updated },
        ],
        "createdAt": u.created_at,
        "errors": errors,
    })
}

async fn describe_cluster(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let mut c = match find(&state, &name) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    c.calls.push("DescribeCluster".to_owned());
    let busy = c.updates.iter().any(|u| u.status == "InProgress");
    ok(json!({ "cluster": {
        "name": c.name,
        "arn": format!("arn:aws:eks:us-east-1:123456789012:cluster/{}", c.name),
        "status": if busy { "UPDATING" } else { "ACTIVE" },
        "version": "1.33",
        "controlPlaneScalingConfig": { "tier": c.tier },
    }}))
}

async fn update_config(
    State(state): State<Shared>,
    Path(name): Path<String>,
    body: String,
) -> Response {
    let mut c = match find(&state, &name) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let Some(tier) = body
        .pointer("/controlPlaneScalingConfig/tier")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            "this stand-in only implements controlPlaneScalingConfig updates",
        );
    };
    c.calls.push(format!("UpdateClusterConfig {tier}"));
    if !TIERS.contains(&tier.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            &format!("Invalid tier: {tier}"),
        );
    }
    if c.updates.iter().any(|u| u.status == "InProgress") {
        return error(
            StatusCode::CONFLICT,
            "ResourceInUseException",
            "Cluster has an update in progress",
        );
    }
    if tier == c.tier {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterException",
            &format!("The cluster is already at tier {tier}"),
        );
    }
    if c.tier != "standard" && c.database_bytes > LEAVE_TIER_DB_LIMIT {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            &format!(
                "Cannot leave tier {} while the cluster database is above 8 GB",
                c.tier
            ),
        );
    }
    let update = Update {
        id: format!("00000000-0000-4000-8000-{:012}", c.updates.len() + 1),
        status: "InProgress",
        previous: c.tier.clone(),
        updated: tier,
        created_at: now_secs(),
        polls: 0,
        error: None,
    };
    let response = ok(json!({ "update": update_json(&update) }));
    c.updates.push(update);
    response
}

async fn list_updates(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let mut c = match find(&state, &name) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    c.calls.push("ListUpdates".to_owned());
    let ids: Vec<&str> = c.updates.iter().map(|u| u.id.as_str()).collect();
    ok(json!({ "updateIds": ids }))
}

async fn describe_update(
    State(state): State<Shared>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let mut c = match find(&state, &name) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    c.calls.push(format!("DescribeUpdate {id}"));
    let polls_to_finish = c.polls_to_finish;
    let fail_with = c.fail_with.clone();
    let Some(index) = c.updates.iter().position(|u| u.id == id) else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("No update found for ID: {id}."),
        );
    };
    let mut new_tier = None;
    {
        let u = &mut c.updates[index];
        if u.status == "InProgress" {
            u.polls += 1;
            if u.polls >= polls_to_finish {
                match fail_with {
                    Some(message) => {
                        u.status = "Failed";
                        u.error = Some(message);
                    }
                    None => {
                        u.status = "Successful";
                        new_tier = Some(u.updated.clone());
                    }
                }
            }
        }
    }
    if let Some(tier) = new_tier {
        c.tier = tier;
    }
    ok(json!({ "update": update_json(&c.updates[index]) }))
}
