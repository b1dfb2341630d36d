#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_servicequotas::Client;
use aws_sdk_servicequotas::error::ProvideErrorMetadata;

use super::*;

async fn client(standin: &ServiceQuotas) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(standin.endpoint_url())
        .test_credentials()
        // The stand-in's injected errors are asserted as such, not retried away.
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    Client::new(&config)
}

#[tokio::test]
async fn the_real_sdk_reads_applied_and_default_values() {
    let standin = ServiceQuotas::start("eu-west-1").await.unwrap();
    standin.set_quota("ec2", "L-1216C47A", 640.0);
    for code in ["L-A", "L-B", "L-C"] {
        standin.set_default("ec2", code, 5.0);
    }
    let sq = client(&standin).await;
    let out = sq
        .get_service_quota()
        .service_code("ec2")
        .quota_code("L-1216C47A")
        .send()
        .await
        .unwrap();
    assert_eq!(out.quota().unwrap().value(), Some(640.0));
    assert_eq!(
        out.quota().unwrap().quota_arn(),
        Some("arn:aws:servicequotas:eu-west-1::ec2/L-1216C47A")
    );
    let err = sq
        .get_service_quota()
        .service_code("ec2")
        .quota_code("L-34B43A08")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchResourceException"));
    // Pages of two, followed by the SDK's paginator.
    let defaults: Vec<_> = sq
        .list_aws_default_service_quotas()
        .service_code("ec2")
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let codes: Vec<_> = defaults.iter().map(|q| q.quota_code().unwrap()).collect();
    assert_eq!(codes, ["L-A", "L-B", "L-C"]);
    assert_eq!(standin.calls("ListAWSDefaultServiceQuotas"), 2);
}

#[tokio::test]
async fn requests_are_recorded_listed_newest_first_and_refused_while_open() {
    let standin = ServiceQuotas::start("eu-west-1").await.unwrap();
    standin.set_quota("ec2", "L-1216C47A", 64.0);
    let long_ago = SystemTime::now() - Duration::from_secs(30 * 86_400);
    let old = standin.add_request("ec2", "L-1216C47A", 128.0, "DENIED", long_ago);
    let sq = client(&standin).await;
    let filed = sq
        .request_service_quota_increase()
        .service_code("ec2")
        .quota_code("L-1216C47A")
        .desired_value(256.0)
        .support_case_allowed(false)
        .send()
        .await
        .unwrap();
    let filed = filed.requested_quota().unwrap();
    assert_eq!(filed.status().unwrap().as_str(), "PENDING");
    assert_eq!(filed.desired_value(), Some(256.0));
    let again = sq
        .request_service_quota_increase()
        .service_code("ec2")
        .quota_code("L-1216C47A")
        .desired_value(512.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ResourceAlreadyExistsException"));
    let history = sq
        .list_requested_service_quota_change_history_by_quota()
        .service_code("ec2")
        .quota_code("L-1216C47A")
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = history
        .requested_quotas()
        .iter()
        .map(|r| r.id().unwrap())
        .collect();
    assert_eq!(ids, [filed.id().unwrap(), old.as_str()]);
    let created = history.requested_quotas()[1].created().unwrap();
    let expected = long_ago
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(created.secs(), expected);
    assert_eq!(standin.requests()[1].support_case_allowed, Some(false));
    // Closing the open one lets a new request in; asking for no more than the value does not.
    assert!(standin.set_status(filed.id().unwrap(), "APPROVED", SystemTime::now()));
    let low = sq
        .request_service_quota_increase()
        .service_code("ec2")
        .quota_code("L-1216C47A")
        .desired_value(64.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(low.code(), Some("IllegalArgumentException"));
}

#[tokio::test]
async fn injected_errors_answer_the_given_number_of_calls() {
    let standin = ServiceQuotas::start("eu-west-1").await.unwrap();
    standin.set_quota("ec2", "L-1216C47A", 5.0);
    let sq = client(&standin).await;
    let get = || {
        sq.get_service_quota()
            .service_code("ec2")
            .quota_code("L-1216C47A")
            .send()
    };
    for (injected, code) in [
        (Injected::TooManyRequests, "TooManyRequestsException"),
        (Injected::AccessDenied, "AccessDeniedException"),
        (
            Injected::DependencyAccessDenied,
            "DependencyAccessDeniedException",
        ),
        (Injected::NoSuchResource, "NoSuchResourceException"),
        (
            Injected::ResourceAlreadyExists,
            "ResourceAlreadyExistsException",
        ),
        (Injected::QuotaExceeded, "QuotaExceededException"),
        (Injected::ServiceFailure, "ServiceException"),
    ] {
        standin.inject("GetServiceQuota", injected, 1);
        assert_eq!(get().await.unwrap_err().code(), Some(code));
        assert!(get().await.is_ok(), "only one call fails");
    }
    standin.inject("GetServiceQuota", Injected::AccessDenied, usize::MAX);
    for _ in 0..3 {
        assert!(get().await.is_err());
    }
    assert_eq!(standin.calls("GetServiceQuota"), 17);
}
