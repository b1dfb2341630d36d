//! Every AWS API call this component makes (it makes no Kubernetes API call: the node-pool
//! files are mounted). `deploy/quota-requester/iam-policy.json` must grant exactly these
//! (`tests/deploy_access.rs`).

/// IAM actions (the `aws` module).
pub const IAM_ACTIONS: &[&str] = &[
    "servicequotas:GetServiceQuota",
    "servicequotas:ListAWSDefaultServiceQuotas",
    "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
    "servicequotas:RequestServiceQuotaIncrease",
    "ec2:DescribeInstanceTypes",
    // Only with --support-case-fallback.
    "support:DescribeCases",
    "support:CreateCase",
];
