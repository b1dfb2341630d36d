//! One run: observe → decide → act → report, for every EC2 vCPU quota the node pools use in
//! one region.
//!
//! - Observe: the pools' instance types' vCPUs (EC2), then per quota its value
//!   (`GetServiceQuota`; AWS's default when the account has no applied value) and its request
//!   history. The default is used only on `NoSuchResource`: on any other failure the applied
//!   value is unknown and could be above the default, and asking from the default could ask
//!   for less than the account already has.
//! - Decide: [`tidal_core::quota::decide`], pure, with `now` from the injected clock.
//! - Act: file the request, unless a dry run. `ResourceAlreadyExists` means a request is
//!   already open (filed by someone else since we looked); with the support-case fallback on,
//!   a request Service Quotas cannot take becomes a Support case, unless one is already open.
//! - Report: one row per quota, with the reason; a failed quota does not stop the others.

use std::collections::BTreeMap;

use tidal_core::quota::{
    Decision, Ec2Quota, PoolDemand, QuotaError, QuotaNeed, QuotaPolicy, compute_needs, decide,
};
use tidal_runtime::Clock;
use tokio::sync::OnceCell;

use crate::ports::{
    CallError, CallErrorKind, InstanceCatalog, QuotaService, SupportCases, ValueSource,
};
use crate::report::{Action, QuotaRow, Report, RequestRef, UncoveredRow, rfc3339};

/// Errors that stop a run before any quota is looked at.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The instance types' vCPUs could not be read.
    #[error("reading instance types: {0}")]
    InstanceTypes(#[source] CallError),
    /// The need could not be computed (an instance type EC2 does not know).
    #[error(transparent)]
    Need(#[from] QuotaError),
}

/// What a run is told.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The region whose quotas are handled.
    pub region: String,
    /// Headroom, step and quiet period.
    pub policy: QuotaPolicy,
    /// Decide and report, file nothing.
    pub dry_run: bool,
}

/// The requester with its ports.
pub struct Requester<Q, C, S> {
    quotas: Q,
    catalog: C,
    support: Option<S>,
    settings: Settings,
    clock: Clock,
    defaults: OnceCell<BTreeMap<String, f64>>,
}

/// A decision's outcome: action, reason, value asked, the request in the way.
struct Outcome {
    action: Action,
    reason: String,
    requested: Option<u64>,
    open_request: Option<RequestRef>,
}

impl Outcome {
    fn new(action: Action, reason: String) -> Self {
        Self {
            action,
            reason,
            requested: None,
            open_request: None,
        }
    }

    fn failed(err: &CallError) -> Self {
        Self::new(Action::Error, err.to_string())
    }
}

impl<Q: QuotaService, C: InstanceCatalog, S: SupportCases> Requester<Q, C, S> {
    /// A requester; `support` is the Support-case fallback, `None` when it is off.
    pub fn new(
        quotas: Q,
        catalog: C,
        support: Option<S>,
        settings: Settings,
        clock: Clock,
    ) -> Self {
        Self {
            quotas,
            catalog,
            support,
            settings,
            clock,
            defaults: OnceCell::new(),
        }
    }

    /// Runs once over `pools` (all the node-pool files, summed).
    #[tracing::instrument(skip_all, fields(region = %self.settings.region, dry_run = self.settings.dry_run))]
    pub async fn run(&self, pools: &[PoolDemand]) -> Result<Report, RunError> {
        let mut types: Vec<String> = pools
            .iter()
            .flat_map(|p| p.instance_types.clone())
            .collect();
        types.sort();
        types.dedup();
        let vcpus = self
            .catalog
            .vcpus(&types)
            .await
            .map_err(RunError::InstanceTypes)?;
        let region = &self.settings.region;
        let needs = compute_needs(
            pools,
            region,
            |t| vcpus.get(t).copied(),
            &self.settings.policy,
        )?;
        let mut quotas = Vec::new();
        for (quota, need) in needs.in_region(region) {
            let row = self.handle(quota, need).await;
            tracing::info!(quota = %row.quota_code, need = row.need, value = ?row.value, action = row.action.as_str(), reason = %row.reason, "quota");
            quotas.push(row);
        }
        let uncovered = needs
            .uncovered
            .iter()
            .map(|(u, pools)| UncoveredRow {
                instance_type: u.instance_type.clone(),
                spot: u.spot,
                pools: pools.clone(),
            })
            .collect();
        let other_regions = needs
            .regions()
            .into_iter()
            .filter(|r| r != region)
            .map(str::to_owned)
            .collect();
        Ok(Report {
            region: region.clone(),
            dry_run: self.settings.dry_run,
            quotas,
            uncovered,
            other_regions,
        })
    }

    async fn handle(&self, quota: Ec2Quota, need: &QuotaNeed) -> QuotaRow {
        let mut row = QuotaRow {
            region: self.settings.region.clone(),
            quota_code: quota.to_string(),
            quota_name: quota.name().to_owned(),
            value: None,
            value_source: None,
            pools_vcpus: need.pools_vcpus,
            need: need.need,
            open_request: None,
            action: Action::Error,
            requested: None,
            reason: String::new(),
        };
        let outcome = match self.observe(quota).await {
            Ok((value, source, history)) => {
                row.value = Some(value);
                row.value_source = Some(source);
                let decision = decide(
                    value,
                    need.need,
                    &history,
                    &self.settings.policy,
                    self.clock.now(),
                );
                self.act(quota, value, need.need, decision).await
            }
            Err(err) => Outcome::failed(&err),
        };
        row.action = outcome.action;
        row.reason = outcome.reason;
        row.requested = outcome.requested;
        row.open_request = outcome.open_request;
        row
    }

    async fn observe(
        &self,
        quota: Ec2Quota,
    ) -> Result<(f64, ValueSource, Vec<tidal_core::quota::PastRequest>), CallError> {
        let (value, source) = match self.quotas.applied_value(quota).await {
            Ok(value) => (value, ValueSource::Applied),
            Err(err) if err.kind == CallErrorKind::NoSuchResource => {
                let defaults = self
                    .defaults
                    .get_or_try_init(|| self.quotas.default_values())
                    .await?;
                let value = defaults.get(&quota.to_string()).copied().ok_or(err)?;
                (value, ValueSource::Default)
            }
            Err(err) => return Err(err),
        };
        let history = self.quotas.history(quota).await?;
        Ok((value, source, history))
    }

    async fn act(&self, quota: Ec2Quota, value: f64, need: u64, decision: Decision) -> Outcome {
        let blocking = |action, reason, request: &tidal_core::quota::PastRequest| Outcome {
            open_request: Some(RequestRef {
                id: request.id.clone(),
                status: request.status.as_str().to_owned(),
                desired: request.desired,
            }),
            ..Outcome::new(action, reason)
        };
        match decision {
            Decision::Enough => Outcome::new(
                Action::None,
                format!("the quota ({value}) covers the need ({need})"),
            ),
            Decision::Open { request } => {
                let reason = format!(
                    "request {} is {}; waiting for AWS",
                    request.id,
                    request.status.as_str()
                );
                blocking(Action::Wait, reason, &request)
            }
            Decision::Approved { request, until } => {
                let reason = format!(
                    "request {} was approved for {} but the quota is {value}; asking again after {} if still short",
                    request.id,
                    request.desired,
                    rfc3339(until)
                );
                blocking(Action::Wait, reason, &request)
            }
            Decision::Quiet { request, until } => {
                let reason = format!(
                    "request {} ended {}; quiet period until {}",
                    request.id,
                    request.status.as_str(),
                    rfc3339(until)
                );
                blocking(Action::Wait, reason, &request)
            }
            Decision::Request { desired } if self.settings.dry_run => Outcome {
                requested: Some(desired),
                ..Outcome::new(
                    Action::WouldRequest,
                    format!("dry run: would ask for {desired} (need {need} > quota {value})"),
                )
            },
            Decision::Request { desired } => self.file(quota, value, need, desired).await,
        }
    }

    async fn file(&self, quota: Ec2Quota, value: f64, need: u64, desired: u64) -> Outcome {
        match self.quotas.request_increase(quota, desired).await {
            Ok(filed) => Outcome {
                requested: Some(desired),
                ..Outcome::new(
                    Action::Requested,
                    format!(
                        "asked for {desired} (need {need} > quota {value}): request {} is {}",
                        filed.id, filed.status
                    ),
                )
            },
            Err(err) if err.kind == CallErrorKind::AlreadyExists => Outcome::new(
                Action::Wait,
                "a request for this quota is already open (ResourceAlreadyExists)".to_owned(),
            ),
            Err(err) => match &self.support {
                Some(support) if cannot_use_service_quotas(err.kind) => {
                    self.support_case(support, quota, desired, &err).await
                }
                _ => Outcome::failed(&err),
            },
        }
    }

    async fn support_case(
        &self,
        support: &S,
        quota: Ec2Quota,
        desired: u64,
        why: &CallError,
    ) -> Outcome {
        let region = &self.settings.region;
        let prefix = format!("[tidal quota-requester] {region} EC2 {quota}:");
        let result = match support.open_case(&prefix).await {
            Ok(Some(id)) => Ok(Outcome::new(
                Action::Wait,
                format!("support case {id} for this quota is already open"),
            )),
            Ok(None) => {
                let subject = format!("{prefix} raise to {desired} vCPUs");
                let body = format!(
                    "Please raise the EC2 quota {quota} ({}) in {region} to {desired} vCPUs.\n\
                     Our Kubernetes node pools may use this many at their maximum sizes.\n\
                     Service Quotas could not take the request: {why}\n\
                     (Filed by Tidal's quota-requester.)",
                    quota.name()
                );
                support.create_case(&subject, &body).await.map(|id| {
                    Outcome::new(
                        Action::SupportCase,
                        format!("Service Quotas could not take the request ({}); opened support case {id}", why.kind.label()),
                    )
                })
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(outcome) => Outcome {
                requested: Some(desired),
                ..outcome
            },
            Err(err) => Outcome::failed(&err),
        }
    }
}

/// Failures after which a Support case is the way left: the quota is not adjustable through
/// Service Quotas here, its request limit is reached, or it cannot open the case itself.
fn cannot_use_service_quotas(kind: CallErrorKind) -> bool {
    matches!(
        kind,
        CallErrorKind::NoSuchResource
            | CallErrorKind::QuotaExceeded
            | CallErrorKind::DependencyAccessDenied
    )
}
