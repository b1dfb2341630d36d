//! Service Quotas (`servicequotas:*`) for EC2 quotas in one region.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_servicequotas::Client;
use aws_sdk_servicequotas::primitives::DateTime;
use aws_sdk_servicequotas::types::RequestedServiceQuotaChange;
use tidal_core::Timestamp;
use tidal_core::quota::{Ec2Quota, PastRequest, RequestStatus};

use super::call_error;
use crate::ports::{CallError, CallErrorKind, FiledRequest, QuotaService};

/// The Service Quotas client of one region.
#[derive(Clone, Debug)]
pub struct ServiceQuotasClient {
    client: Client,
    /// Whether AWS may open a support case for a request it cannot approve automatically.
    support_case_allowed: bool,
}

impl ServiceQuotasClient {
    /// A client from `config` (region, credentials, endpoint, retries).
    pub fn new(config: &SdkConfig, support_case_allowed: bool) -> Self {
        Self {
            client: Client::new(config),
            support_case_allowed,
        }
    }
}

fn target(quota: Ec2Quota) -> String {
    format!("{}/{quota}", Ec2Quota::SERVICE_CODE)
}

fn code(quota: Ec2Quota) -> &'static str {
    // Every quota the need produces has a code; "none" would be refused by AWS, not guessed.
    quota.code().unwrap_or("none")
}

fn timestamp(t: Option<&DateTime>) -> Option<Timestamp> {
    t.and_then(|t| t.to_millis().ok())
        .map(Timestamp::from_millis)
}

fn past_request(change: &RequestedServiceQuotaChange) -> PastRequest {
    let created = timestamp(change.created()).unwrap_or_default();
    PastRequest {
        id: change.id().unwrap_or_default().to_owned(),
        status: RequestStatus::parse(change.status().map(|s| s.as_str()).unwrap_or_default()),
        desired: change.desired_value().unwrap_or_default(),
        created,
        last_updated: timestamp(change.last_updated()),
    }
}

fn missing(action: &'static str, quota: Ec2Quota, what: &str) -> CallError {
    CallError {
        action,
        target: target(quota),
        kind: CallErrorKind::Other,
        message: format!("the answer has no {what}"),
        source: None,
    }
}

impl QuotaService for ServiceQuotasClient {
    async fn applied_value(&self, quota: Ec2Quota) -> Result<f64, CallError> {
        const ACTION: &str = "servicequotas:GetServiceQuota";
        let out = self
            .client
            .get_service_quota()
            .service_code(Ec2Quota::SERVICE_CODE)
            .quota_code(code(quota))
            .send()
            .await
            .map_err(|e| call_error(ACTION, target(quota), e))?;
        out.quota()
            .and_then(|q| q.value())
            .ok_or_else(|| missing(ACTION, quota, "quota value"))
    }

    async fn default_values(&self) -> Result<BTreeMap<String, f64>, CallError> {
        const ACTION: &str = "servicequotas:ListAWSDefaultServiceQuotas";
        let mut pages = self
            .client
            .list_aws_default_service_quotas()
            .service_code(Ec2Quota::SERVICE_CODE)
            .into_paginator()
            .items()
            .send();
        let mut values = BTreeMap::new();
        while let Some(quota) = pages
            .try_next()
            .await
            .map_err(|e| call_error(ACTION, Ec2Quota::SERVICE_CODE, e))?
        {
            if let (Some(code), Some(value)) = (quota.quota_code(), quota.value()) {
                values.insert(code.to_owned(), value);
            }
        }
        Ok(values)
    }

    async fn history(&self, quota: Ec2Quota) -> Result<Vec<PastRequest>, CallError> {
        const ACTION: &str = "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota";
        let mut pages = self
            .client
            .list_requested_service_quota_change_history_by_quota()
            .service_code(Ec2Quota::SERVICE_CODE)
            .quota_code(code(quota))
            .into_paginator()
            .items()
            .send();
        let mut requests = Vec::new();
        while let Some(change) = pages
            .try_next()
            .await
            .map_err(|e| call_error(ACTION, target(quota), e))?
        {
            requests.push(past_request(&change));
        }
        Ok(requests)
    }

    async fn request_increase(
        &self,
        quota: Ec2Quota,
        desired: u64,
    ) -> Result<FiledRequest, CallError> {
        const ACTION: &str = "servicequotas:RequestServiceQuotaIncrease";
        let out = self
            .client
            .request_service_quota_increase()
            .service_code(Ec2Quota::SERVICE_CODE)
            .quota_code(code(quota))
            .desired_value(desired as f64)
            .support_case_allowed(self.support_case_allowed)
            .send()
            .await
            .map_err(|e| call_error(ACTION, target(quota), e))?;
        let requested = out
            .requested_quota()
            .ok_or_else(|| missing(ACTION, quota, "requested quota"))?;
        Ok(FiledRequest {
            id: requested.id().unwrap_or_default().to_owned(),
            status: requested
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        })
    }
}
