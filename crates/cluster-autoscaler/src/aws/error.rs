//! Errors of the AWS provider, each naming the call and the node group or ASG it was about.

use aws_sdk_autoscaling::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::ports::{BoxError, CloudError, NodeGroupId};

/// What went wrong talking to Auto Scaling or EC2.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS API call failed (network, throttling, permissions, validation, server error).
    #[error("{operation} for {target} failed: {source}")]
    Call {
        /// The AWS operation, e.g. `SetDesiredCapacity`.
        operation: &'static str,
        /// What the call was about: a node group and its ASG, an instance, or `all groups`.
        target: String,
        /// The SDK error.
        #[source]
        source: SdkFailure,
    },
    /// The node group has not been discovered (no ASG carries its tags), so there is no ASG to act on.
    #[error("node group {0} has no ASG: it was not found by the last discovery")]
    UnknownGroup(NodeGroupId),
    /// Refused to terminate an instance that the last discovery did not show in the group's ASG.
    #[error(
        "instance {instance} is not a member of node group {group} (ASG {asg}); not terminating it"
    )]
    NotInGroup {
        /// The group the caller named.
        group: NodeGroupId,
        /// Its ASG.
        asg: String,
        /// The instance id the caller named.
        instance: String,
    },
    /// EC2 does not know this instance type (in this region).
    #[error("instance type {0} is not known to EC2")]
    UnknownInstanceType(String),
    /// EC2 described an instance type without a field the template needs.
    #[error("instance type {name}: {reason}")]
    InvalidInstanceType {
        /// Instance type name.
        name: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// A desired capacity that does not fit the AWS API's 32-bit integer.
    #[error("desired capacity {desired} for node group {group} is out of range")]
    CapacityOutOfRange {
        /// The group.
        group: NodeGroupId,
        /// The requested capacity.
        desired: u32,
    },
}

/// An SDK error with its full text: the SDK's own `Display` only says "service error", so the
/// message (error code and text from AWS) is rendered once, here, and the SDK error kept as source.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SdkFailure {
    /// The error code and message, e.g. `ValidationError: New SetDesiredCapacity value 6 is above max value 5`.
    pub message: String,
    /// The SDK error.
    #[source]
    pub source: BoxError,
}

impl AwsError {
    /// Wraps an SDK error from `operation` about `target`.
    pub(crate) fn call<E, R>(
        operation: &'static str,
        target: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        // AWS answered: its error code and message say it all. Otherwise (timeout, connection,
        // credentials) the whole cause chain does.
        let message = match (err.code(), err.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&err).to_string(),
        };
        AwsError::Call {
            operation,
            target: target.into(),
            source: SdkFailure {
                message,
                source: Box::new(err),
            },
        }
    }
}

impl From<AwsError> for CloudError {
    fn from(err: AwsError) -> Self {
        match err {
            AwsError::UnknownGroup(group) => CloudError::UnknownGroup(group),
            AwsError::UnknownInstanceType(name) => CloudError::UnknownInstanceType(name),
            AwsError::InvalidInstanceType { .. }
            | AwsError::NotInGroup { .. }
            | AwsError::CapacityOutOfRange { .. } => CloudError::Invalid(err.to_string()),
            AwsError::Call {
                operation,
                target,
                source,
            } => CloudError::Api {
                operation: format!("{operation} for {target}"),
                source: Box::new(source),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn call_errors_name_the_operation_the_group_and_the_aws_message() {
        let err = AwsError::Call {
            operation: "SetDesiredCapacity",
            target: "default/eu-central-1a (ASG asg-a)".into(),
            source: SdkFailure {
                message: "ValidationError: New SetDesiredCapacity value 6 is above max value 5"
                    .into(),
                source: Box::new(std::io::Error::other("sdk")),
            },
        };
        let cloud = CloudError::from(err);
        assert_eq!(cloud.label(), "api");
        assert_eq!(
            cloud.to_string(),
            "cloud call SetDesiredCapacity for default/eu-central-1a (ASG asg-a) failed: \
             ValidationError: New SetDesiredCapacity value 6 is above max value 5"
        );
    }

    #[test]
    fn typed_errors_keep_their_cloud_kind() {
        let group = NodeGroupId::new("gpu", "eu-central-1b");
        assert!(
            matches!(CloudError::from(AwsError::UnknownGroup(group.clone())), CloudError::UnknownGroup(g) if g == group)
        );
        assert!(matches!(
            CloudError::from(AwsError::UnknownInstanceType("x1.nope".into())),
            CloudError::UnknownInstanceType(n) if n == "x1.nope"
        ));
        let refused = CloudError::from(AwsError::NotInGroup {
            group,
            asg: "asg-b".into(),
            instance: "i-1".into(),
        });
        assert_eq!(refused.label(), "invalid");
        assert!(refused.to_string().contains("i-1"), "{refused}");
    }
}
