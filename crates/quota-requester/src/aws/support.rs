//! AWS Support cases (`support:DescribeCases`, `support:CreateCase`): the older route for a
//! limit increase, used where Service Quotas cannot take the request.

use aws_config::SdkConfig;
use aws_sdk_support::Client;

use super::call_error;
use crate::ports::{CallError, SupportCases};

/// Which case to open: the Support API's codes (list them with `aws support describe-services`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseKind {
    /// `serviceCode`, e.g. `service-limit-increase`.
    pub service_code: String,
    /// `categoryCode`, e.g. `service-code-ec2-instances`.
    pub category_code: String,
    /// `severityCode`, e.g. `normal`.
    pub severity_code: String,
}

/// The Support client (the API lives in one region per partition, us-east-1 for `aws`).
#[derive(Clone, Debug)]
pub struct SupportClient {
    client: Client,
    kind: CaseKind,
}

impl SupportClient {
    /// A client from `config`, opening cases of `kind`.
    pub fn new(config: &SdkConfig, kind: CaseKind) -> Self {
        Self {
            client: Client::new(config),
            kind,
        }
    }
}

impl SupportCases for SupportClient {
    async fn open_case(&self, subject_prefix: &str) -> Result<Option<String>, CallError> {
        const ACTION: &str = "support:DescribeCases";
        let mut pages = self
            .client
            .describe_cases()
            .include_resolved_cases(false)
            .into_paginator()
            .items()
            .send();
        while let Some(case) = pages
            .try_next()
            .await
            .map_err(|e| call_error(ACTION, subject_prefix, e))?
        {
            let ours = case
                .subject()
                .is_some_and(|s| s.starts_with(subject_prefix));
            let resolved = case.status().is_some_and(|s| s == "resolved");
            if ours && !resolved {
                return Ok(Some(case.case_id().unwrap_or_default().to_owned()));
            }
        }
        Ok(None)
    }

    async fn create_case(&self, subject: &str, body: &str) -> Result<String, CallError> {
        const ACTION: &str = "support:CreateCase";
        let out = self
            .client
            .create_case()
            .subject(subject)
            .communication_body(body)
            .service_code(&self.kind.service_code)
            .category_code(&self.kind.category_code)
            .severity_code(&self.kind.severity_code)
            .send()
            .await
            .map_err(|e| call_error(ACTION, subject, e))?;
        Ok(out.case_id().unwrap_or_default().to_owned())
    }
}
