//! A stand-in for AWS Service Quotas, because moto does not serve EC2 quotas.
//!
//! **This is not AWS.** It speaks the real wire protocol (AWS JSON 1.1: `POST /` with
//! `X-Amz-Target: ServiceQuotasV20190624.<Operation>`, JSON bodies, errors as `__type`) for
//! the four calls Tidal's quota-requester makes, so the real `aws-sdk-servicequotas` client
//! talks to it unchanged:
//!
//! - `GetServiceQuota`: the applied value set with [`ServiceQuotas::set_quota`];
//!   `NoSuchResourceException` when none is set (as AWS answers for some quotas never changed);
//! - `ListAWSDefaultServiceQuotas`: the defaults set with [`ServiceQuotas::set_default`],
//!   paginated by `MaxResults`/`NextToken`;
//! - `RequestServiceQuotaIncrease`: records a PENDING request; like AWS it answers
//!   `ResourceAlreadyExistsException` while a request for the quota is PENDING or CASE_OPENED,
//!   and refuses (`IllegalArgumentException`) a desired value not above the applied one;
//! - `ListRequestedServiceQuotaChangeHistoryByQuota`: the quota's requests, newest first,
//!   paginated.
//!
//! Tests set quotas and history, move requests between statuses, and inject errors per
//! operation ([`Injected`]: throttling, access denied, missing resource, …) for a number of
//! calls. Binds 127.0.0.1 on an ephemeral port; stops when dropped.

mod protocol;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use tidal_core::sync;

use axum::Router;
use tokio::sync::oneshot;

use crate::HarnessError;

/// An error the stand-in answers with instead of serving a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// `TooManyRequestsException` (throttling; the SDK retries it).
    TooManyRequests,
    /// `AccessDeniedException` (the caller lacks the IAM permission).
    AccessDenied,
    /// `DependencyAccessDeniedException` (a dependent service's permission is missing).
    DependencyAccessDenied,
    /// `NoSuchResourceException`.
    NoSuchResource,
    /// `ResourceAlreadyExistsException`.
    ResourceAlreadyExists,
    /// `QuotaExceededException` (too many open requests).
    QuotaExceeded,
    /// `ServiceException` with HTTP 500.
    ServiceFailure,
}

impl Injected {
    /// The `__type` and HTTP status AWS uses for it.
    fn wire(self) -> (&'static str, u16) {
        match self {
            Injected::TooManyRequests => ("TooManyRequestsException", 400),
            Injected::AccessDenied => ("AccessDeniedException", 400),
            Injected::DependencyAccessDenied => ("DependencyAccessDeniedException", 400),
            Injected::NoSuchResource => ("NoSuchResourceException", 400),
            Injected::ResourceAlreadyExists => ("ResourceAlreadyExistsException", 400),
            Injected::QuotaExceeded => ("QuotaExceededException", 400),
            Injected::ServiceFailure => ("ServiceException", 500),
        }
    }
}

/// One quota increase request as the stand-in keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestedQuota {
    /// Request id.
    pub id: String,
    /// Service code, e.g. `ec2`.
    pub service_code: String,
    /// Quota code, e.g. `L-1216C47A`.
    pub quota_code: String,
    /// The value asked for.
    pub desired_value: f64,
    /// Status, e.g. `PENDING`.
    pub status: String,
    /// When it was filed.
    pub created: SystemTime,
    /// When its status last changed.
    pub last_updated: SystemTime,
    /// Whether the caller allowed a support case.
    pub support_case_allowed: Option<bool>,
}

#[derive(Default)]
struct State {
    region: String,
    applied: BTreeMap<(String, String), f64>,
    defaults: BTreeMap<(String, String), f64>,
    requests: Vec<RequestedQuota>,
    injected: BTreeMap<String, (Injected, usize)>,
    calls: BTreeMap<String, usize>,
    next_id: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panicking test thread poisons the lock; the data is still what the test set.
    sync::lock(state)
}

/// The Service Quotas stand-in on 127.0.0.1; see the module doc.
pub struct ServiceQuotas {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServiceQuotas {
    /// Starts it on an ephemeral loopback port, answering as region `region` (in quota ARNs).
    pub async fn start(region: &str) -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| {
                HarnessError::io("binding the Service Quotas stand-in to 127.0.0.1:0", e)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the Service Quotas stand-in's address", e))?;
        let state = Shared::default();
        lock(&state).region = region.to_owned();
        let app = Router::new()
            .fallback(protocol::handle)
            .with_state(state.clone());
        let (shutdown, task) =
            crate::serve::serve_until_stopped("Service Quotas stand-in", listener, app);
        Ok(Self {
            addr,
            state,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The endpoint to give the Service Quotas client, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the applied value `GetServiceQuota` returns.
    pub fn set_quota(&self, service_code: &str, quota_code: &str, value: f64) {
        lock(&self.state)
            .applied
            .insert((service_code.into(), quota_code.into()), value);
    }

    /// Sets the default value `ListAWSDefaultServiceQuotas` returns.
    pub fn set_default(&self, service_code: &str, quota_code: &str, value: f64) {
        lock(&self.state)
            .defaults
            .insert((service_code.into(), quota_code.into()), value);
    }

    /// Adds a request to the history (as if filed earlier), returning its id.
    pub fn add_request(
        &self,
        service_code: &str,
        quota_code: &str,
        desired_value: f64,
        status: &str,
        at: SystemTime,
    ) -> String {
        let mut state = lock(&self.state);
        let id = state.new_id();
        state.requests.push(RequestedQuota {
            id: id.clone(),
            service_code: service_code.into(),
            quota_code: quota_code.into(),
            desired_value,
            status: status.into(),
            created: at,
            last_updated: at,
            support_case_allowed: None,
        });
        id
    }

    /// Moves request `id` to `status` at `at`; false when there is no such request.
    pub fn set_status(&self, id: &str, status: &str, at: SystemTime) -> bool {
        let mut state = lock(&self.state);
        let Some(request) = state.requests.iter_mut().find(|r| r.id == id) else {
            return false;
        };
        request.status = status.into();
        request.last_updated = at;
        true
    }

    /// Every request, in the order filed or added.
    pub fn requests(&self) -> Vec<RequestedQuota> {
        lock(&self.state).requests.clone()
    }

    /// Answers the next `times` calls of `operation` (e.g. `RequestServiceQuotaIncrease`) with
    /// `error`; `usize::MAX` for every call.
    pub fn inject(&self, operation: &str, error: Injected, times: usize) {
        lock(&self.state)
            .injected
            .insert(operation.into(), (error, times));
    }

    /// How many calls of `operation` arrived (served or failed).
    pub fn calls(&self, operation: &str) -> usize {
        lock(&self.state).calls.get(operation).copied().unwrap_or(0)
    }
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("standin-{:08x}", self.next_id)
    }
}

impl Drop for ServiceQuotas {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

#[cfg(test)]
mod tests;
