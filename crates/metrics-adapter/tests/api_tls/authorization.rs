//! Delegated authorization end to end: the API over TLS asks the Kubernetes API stand-in (over
//! loopback HTTP, through kube-rs) a SubjectAccessReview for each request's user.

use std::sync::Arc;

use tidal_metrics_adapter::authorization::{
    AlwaysAllow, Authorizer, CacheSettings, DEFAULT_ALWAYS_ALLOW_PATHS, KubeAccessReview,
};
use tidal_metrics_adapter::testing::Access;
use tidal_runtime::Clock;
use tidal_test_support::{AccessRule, KubeApi};

use crate::fixture::*;

const HPA: &str = "system:serviceaccount:kube-system:horizontal-pod-autoscaler";
const SHOP_QUEUE: &str = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/queue-length";
const SHOP_PODS: &str = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/requests-per-second?labelSelector=app%3Dweb";
const OTHER_QUEUE: &str = "/apis/external.metrics.k8s.io/v1beta1/namespaces/other/queue-length";

fn client(api: &KubeApi) -> kube::Client {
    let config = kube::Config::new(api.url().parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

/// The HPA controller may read every metric; alice only namespace shop's.
fn rules(api: &KubeApi) {
    for group in ["custom.metrics.k8s.io", "external.metrics.k8s.io"] {
        api.allow(AccessRule {
            user: Some(HPA.into()),
            api_group: Some(group.into()),
            ..AccessRule::default()
        });
    }
    api.allow(AccessRule {
        user: Some("alice".into()),
        namespace: Some("shop".into()),
        ..AccessRule::default()
    });
}

fn reviews(api: &KubeApi) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.starts_with("POST /apis/authorization.k8s.io/v1/subjectaccessreviews"))
        .count()
}

async fn start_reviewed_by(api: &KubeApi) -> Fixture {
    let always_allow = DEFAULT_ALWAYS_ALLOW_PATHS.split(',');
    let authorizer = Authorizer::delegated(
        Arc::new(KubeAccessReview::new(client(api))),
        AlwaysAllow::new(always_allow),
        CacheSettings::default(),
        Clock::system(),
    );
    start_with(Access {
        authorizer,
        ..Access::new(&[PROXY_CN])
    })
    .await
}

#[tokio::test]
async fn requests_are_served_only_to_users_rbac_allows() {
    let api = KubeApi::start().await.unwrap();
    rules(&api);
    let f = start_reviewed_by(&api).await;
    let proxy = f.proxy();
    let get = |path: &'static str, user: &'static str| {
        let (f, proxy) = (&f, &proxy);
        async move { f.get_with(proxy, path, Some(user)).await.unwrap() }
    };
    assert_eq!(get(SHOP_PODS, HPA).await.0, 200);
    assert_eq!(get(SHOP_QUEUE, "alice").await.0, 200);
    let (code, body) = get(OTHER_QUEUE, "alice").await;
    assert_status(
        &body,
        403,
        "Forbidden",
        "User \"alice\" cannot list resource \"queue-length\" in API group \"external.metrics.k8s.io\" in the namespace \"other\"",
    );
    assert_eq!(code, 403);
    let (code, body) = get(SHOP_PODS, "mallory").await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(reviews(&api), 4);
    // Discovery is always allowed, without a review.
    assert_eq!(get("/apis", "mallory").await.0, 200);
    assert_eq!(
        get("/apis/external.metrics.k8s.io/v1beta1", "mallory")
            .await
            .0,
        200
    );
    // Answers are reused: allowed and denied alike.
    assert_eq!(get(SHOP_QUEUE, "alice").await.0, 200);
    assert_eq!(get(OTHER_QUEUE, "alice").await.0, 403);
    assert_eq!(reviews(&api), 4);
    // Denials are counted as answers (200: alice twice and the discovery document).
    let count = |code| {
        f.metrics
            .requests_count("external.metrics.k8s.io", "v1beta1", code)
    };
    assert_eq!((count(200), count(403)), (3, 2));
    f.server.stop().await;
}

#[tokio::test]
async fn when_kube_apiserver_cannot_be_asked_nothing_is_served() {
    let api = KubeApi::start().await.unwrap();
    rules(&api);
    let f = start_reviewed_by(&api).await;
    let proxy = f.proxy();
    assert_eq!(
        f.get_with(&proxy, SHOP_QUEUE, Some("alice"))
            .await
            .unwrap()
            .0,
        200
    );
    drop(api);
    // Not cached (another user): the review fails, and that is no allow.
    let (code, body) = f.get_with(&proxy, SHOP_QUEUE, Some(HPA)).await.unwrap();
    assert_status(&body, 500, "InternalError", "authorization check failed");
    assert_eq!(code, 500);
    f.server.stop().await;
}
