//! The [`AccessReview`] port against kube-apiserver: one `authorization.k8s.io/v1`
//! SubjectAccessReview per question (the service account needs `system:auth-delegator`, which
//! grants `create` on subjectaccessreviews).

use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;

use super::attributes::{AccessRequest, Action};
use super::{AccessReview, Decision, ReviewError};

/// Asks kube-apiserver.
#[derive(Clone)]
pub struct KubeAccessReview {
    api: kube::Api<SubjectAccessReview>,
}

impl KubeAccessReview {
    /// Reviews through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            api: kube::Api::all(client),
        }
    }
}

impl std::fmt::Debug for KubeAccessReview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeAccessReview")
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The SubjectAccessReview asking `request`.
pub fn review_of(request: &AccessRequest) -> SubjectAccessReview {
    let (resource_attributes, non_resource_attributes) = match &request.action {
        Action::Resource {
            verb,
            group,
            version,
            resource,
            subresource,
            namespace,
            name,
        } => (
            Some(ResourceAttributes {
                verb: Some((*verb).to_string()),
                group: Some(group.clone()),
                version: non_empty(version),
                resource: Some(resource.clone()),
                subresource: non_empty(subresource),
                namespace: non_empty(namespace),
                name: non_empty(name),
                ..ResourceAttributes::default()
            }),
            None,
        ),
        Action::NonResource { verb, path } => (
            None,
            Some(NonResourceAttributes {
                verb: Some((*verb).to_string()),
                path: Some(path.clone()),
            }),
        ),
    };
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(request.user.clone()),
            groups: Some(request.groups.clone()),
            extra: (!request.extra.is_empty()).then(|| request.extra.clone()),
            resource_attributes,
            non_resource_attributes,
            uid: None,
        },
        ..SubjectAccessReview::default()
    }
}

impl AccessReview for KubeAccessReview {
    fn review<'a>(
        &'a self,
        request: &'a AccessRequest,
    ) -> BoxFuture<'a, Result<Decision, ReviewError>> {
        Box::pin(async move {
            let created = self
                .api
                .create(&PostParams::default(), &review_of(request))
                .await
                .map_err(|e| ReviewError::Failed(e.to_string()))?;
            let status = created.status.ok_or_else(|| {
                ReviewError::Failed("the SubjectAccessReview came back without a status".into())
            })?;
            Ok(if status.allowed {
                Decision::Allowed
            } else {
                let reason = [status.reason, status.evaluation_error]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                Decision::Denied { reason }
            })
        })
    }
}
