//! SubjectAccessReviews answered from the test's rules.

use serde_json::{Value, json};

use super::Http;
use crate::kube_api::{AccessRule, KubeApi};

const REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

fn review(user: &str, groups: &[&str], attributes: Value) -> Value {
    let mut spec = json!({"user": user, "groups": groups});
    let key = if attributes.get("path").is_some() {
        "nonResourceAttributes"
    } else {
        "resourceAttributes"
    };
    spec[key] = attributes;
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
}

fn pods_metric(namespace: &str) -> Value {
    json!({"verb": "get", "group": "custom.metrics.k8s.io", "version": "v1beta2",
        "resource": "pods", "subresource": "rps", "namespace": namespace, "name": "*"})
}

async fn allowed(http: &Http, body: Value) -> bool {
    let (code, answer) = http.post(REVIEWS, body.clone()).await;
    assert_eq!(code, 201, "{answer}");
    assert_eq!(answer["spec"], body["spec"], "the question is echoed");
    answer["status"]["allowed"].as_bool().unwrap()
}

#[tokio::test]
async fn reviews_are_allowed_only_by_a_matching_rule() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let hpa = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
    assert!(!allowed(&http, review(hpa, &[], pods_metric("shop"))).await);
    api.allow(AccessRule {
        user: Some(hpa.into()),
        verb: Some("get".into()),
        api_group: Some("custom.metrics.k8s.io".into()),
        resource: Some("pods/rps".into()),
        ..AccessRule::default()
    });
    api.allow(AccessRule {
        group: Some("team-a".into()),
        namespace: Some("team-a".into()),
        ..AccessRule::default()
    });
    api.allow(AccessRule {
        path: Some("/apis".into()),
        ..AccessRule::default()
    });
    assert!(allowed(&http, review(hpa, &[], pods_metric("shop"))).await);
    assert!(!allowed(&http, review("alice", &["team-a"], pods_metric("shop"))).await);
    assert!(allowed(&http, review("alice", &["team-a"], pods_metric("team-a"))).await);
    assert!(!allowed(&http, review("bob", &["team-b"], pods_metric("team-a"))).await);
    let discovery = json!({"verb": "get", "path": "/apis"});
    assert!(allowed(&http, review("bob", &[], discovery)).await);
    let other_path = json!({"verb": "get", "path": "/apis/x"});
    assert!(!allowed(&http, review("bob", &[], other_path)).await);
    // The stand-in keeps nothing.
    let (code, list) = http.get(REVIEWS).await;
    assert_eq!((code, list["items"].clone()), (200, json!([])));
}

#[tokio::test]
async fn a_review_without_exactly_one_kind_of_attributes_is_invalid() {
    let api = KubeApi::start().await.unwrap();
    let http = Http::new(&api);
    let (code, status) = http
        .post(
            REVIEWS,
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": "alice"}}),
        )
        .await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
}
