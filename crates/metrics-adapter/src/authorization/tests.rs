#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use tidal_core::Timestamp;

use super::*;

fn resource(
    verb: &'static str,
    group: &str,
    version: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
    name: &str,
) -> Action {
    Action::Resource {
        verb,
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

const CUSTOM: &str = "custom.metrics.k8s.io";
const EXTERNAL: &str = "external.metrics.k8s.io";

#[test]
fn paths_map_to_the_attributes_kube_apiserver_would_review() {
    let cases = [
        (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/requests-per-second",
            resource(
                "get",
                CUSTOM,
                "v1beta2",
                "pods",
                "requests-per-second",
                "shop",
                "*",
            ),
        ),
        (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/%2A/rps",
            resource("get", CUSTOM, "v1beta2", "pods", "rps", "shop", "*"),
        ),
        (
            "/apis/custom.metrics.k8s.io/v1beta1/namespaces/shop/ingresses.networking.k8s.io/front/rps",
            resource(
                "get",
                CUSTOM,
                "v1beta1",
                "ingresses.networking.k8s.io",
                "rps",
                "shop",
                "front",
            ),
        ),
        (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/metrics/budget",
            resource("get", CUSTOM, "v1beta2", "metrics", "", "shop", "budget"),
        ),
        (
            "/apis/custom.metrics.k8s.io/v1beta2/nodes/n1/load",
            resource("get", CUSTOM, "v1beta2", "nodes", "load", "", "n1"),
        ),
        (
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/queue-length",
            resource("list", EXTERNAL, "v1beta1", "queue-length", "", "shop", ""),
        ),
        (
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop",
            resource("get", CUSTOM, "v1beta2", "namespaces", "", "shop", "shop"),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(Action::of_read(path), want, "{path}");
    }
    for path in [
        "/apis",
        "/apis/custom.metrics.k8s.io",
        "/apis/custom.metrics.k8s.io/v1beta2",
        "/healthz",
        "/openapi/v2",
    ] {
        assert_eq!(
            Action::of_read(path),
            Action::NonResource {
                verb: "get",
                path: path.into()
            }
        );
    }
}

fn user(name: &str) -> RemoteUser {
    RemoteUser {
        name: name.into(),
        groups: vec!["system:authenticated".into()],
        extra: BTreeMap::new(),
    }
}

/// Answers from a fixed rule, counting the questions.
struct FakeReview {
    calls: AtomicUsize,
    answer: fn(&AccessRequest) -> Result<Decision, ReviewError>,
}

impl FakeReview {
    fn new(answer: fn(&AccessRequest) -> Result<Decision, ReviewError>) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            answer,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl AccessReview for FakeReview {
    fn review<'a>(
        &'a self,
        request: &'a AccessRequest,
    ) -> BoxFuture<'a, Result<Decision, ReviewError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = (self.answer)(request);
        Box::pin(async move { answer })
    }
}

/// Alice may read namespace shop; every other question is denied.
fn alice_reads_shop(request: &AccessRequest) -> Result<Decision, ReviewError> {
    let in_shop =
        matches!(&request.action, Action::Resource { namespace, .. } if namespace == "shop");
    Ok(if request.user == "alice" && in_shop {
        Decision::Allowed
    } else {
        Decision::Denied {
            reason: "no RBAC policy matched".into(),
        }
    })
}

fn authorizer(review: Arc<FakeReview>, clock: &Clock) -> Authorizer {
    Authorizer::delegated(
        review,
        AlwaysAllow::new(["/healthz", "/apis", "/apis/custom.metrics.k8s.io/*"]),
        CacheSettings::default(),
        clock.clone(),
    )
}

const SHOP_RPS: &str = "/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/rps";
const OTHER_RPS: &str = "/apis/external.metrics.k8s.io/v1beta1/namespaces/other/rps";

#[tokio::test]
async fn decisions_follow_the_review_and_denials_name_user_and_action() {
    let clock = Clock::manual(Timestamp::from_secs(1_800_000_000));
    let review = FakeReview::new(alice_reads_shop);
    let authz = authorizer(review.clone(), &clock);
    let get = Method::GET;
    authz
        .check(Some(&user("alice")), &get, SHOP_RPS)
        .await
        .unwrap();
    let denied = authz
        .check(Some(&user("alice")), &get, OTHER_RPS)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), 403);
    assert_eq!(
        denied.to_string(),
        "forbidden: User \"alice\" cannot list resource \"rps\" in API group \
         \"external.metrics.k8s.io\" in the namespace \"other\": no RBAC policy matched"
    );
    let denied = authz.check(Some(&user("bob")), &get, SHOP_RPS).await;
    assert_eq!(denied.unwrap_err().code(), 403);
    assert_eq!(review.calls(), 3);
    // Without a user there is nothing to ask about.
    let err = authz.check(None, &get, SHOP_RPS).await.unwrap_err();
    assert_eq!(err.code(), 401);
}

#[tokio::test]
async fn always_allowed_paths_other_methods_and_disabled_mode_skip_the_review() {
    let clock = Clock::manual(Timestamp::from_secs(1_800_000_000));
    let review = FakeReview::new(alice_reads_shop);
    let authz = authorizer(review.clone(), &clock);
    let bob = user("bob");
    for path in [
        "/healthz",
        "/apis",
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/x/pods/*/m",
    ] {
        authz.check(Some(&bob), &Method::GET, path).await.unwrap();
    }
    // "/apis" is exact: a path below it is reviewed.
    assert!(
        authz
            .check(Some(&bob), &Method::GET, "/apis/external.metrics.k8s.io")
            .await
            .is_err()
    );
    // A write is refused by the router (405) without a review.
    authz
        .check(Some(&bob), &Method::POST, OTHER_RPS)
        .await
        .unwrap();
    assert_eq!(review.calls(), 1);
    Authorizer::disabled()
        .check(None, &Method::GET, OTHER_RPS)
        .await
        .unwrap();
}

#[tokio::test]
async fn answers_are_cached_allowed_for_5_minutes_denied_for_30_seconds() {
    let clock = Clock::manual(Timestamp::from_secs(1_800_000_000));
    let review = FakeReview::new(alice_reads_shop);
    let authz = authorizer(review.clone(), &clock);
    let (alice, get) = (user("alice"), Method::GET);
    let ask = |path| authz.check(Some(&alice), &get, path);
    ask(SHOP_RPS).await.unwrap();
    ask(OTHER_RPS).await.unwrap_err();
    assert_eq!(review.calls(), 2);
    clock.advance(Duration::from_secs(29));
    ask(SHOP_RPS).await.unwrap();
    ask(OTHER_RPS).await.unwrap_err();
    assert_eq!(review.calls(), 2, "both answers reused within 30 s");
    clock.advance(Duration::from_secs(1));
    ask(OTHER_RPS).await.unwrap_err();
    assert_eq!(review.calls(), 3, "a denial is asked again after 30 s");
    ask(SHOP_RPS).await.unwrap();
    assert_eq!(review.calls(), 3);
    clock.advance(Duration::from_secs(270));
    ask(SHOP_RPS).await.unwrap();
    assert_eq!(review.calls(), 4, "an allow is asked again after 5 minutes");
    // Another group membership is another question.
    let mut admin = user("alice");
    admin.groups.push("admins".into());
    authz.check(Some(&admin), &get, SHOP_RPS).await.unwrap();
    assert_eq!(review.calls(), 5);
}

#[tokio::test]
async fn a_failed_review_is_an_error_answer_never_an_allow_and_is_not_cached() {
    let clock = Clock::manual(Timestamp::from_secs(1_800_000_000));
    let review = FakeReview::new(|_| Err(ReviewError::Failed("connection refused".into())));
    let authz = authorizer(review.clone(), &clock);
    for _ in 0..2 {
        let err = authz
            .check(Some(&user("alice")), &Method::GET, SHOP_RPS)
            .await
            .unwrap_err();
        assert_eq!((err.code().as_u16(), err.reason()), (500, "InternalError"));
        assert!(err.to_string().contains("connection refused"), "{err}");
    }
    assert_eq!(review.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_review_that_hangs_times_out_as_an_error() {
    struct Hang;
    impl AccessReview for Hang {
        fn review<'a>(
            &'a self,
            _: &'a AccessRequest,
        ) -> BoxFuture<'a, Result<Decision, ReviewError>> {
            Box::pin(std::future::pending())
        }
    }
    let authz = Authorizer::delegated(
        Arc::new(Hang),
        AlwaysAllow::default(),
        CacheSettings::default(),
        Clock::manual(Timestamp::from_secs(1)),
    );
    let err = authz
        .check(Some(&user("alice")), &Method::GET, SHOP_RPS)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 500);
    assert!(err.to_string().contains("did not answer"), "{err}");
}

#[test]
fn the_cache_is_bounded_and_drops_the_answer_closest_to_expiry() {
    let mut cache = cache::DecisionCache::new(CacheSettings {
        capacity: 2,
        ..CacheSettings::default()
    });
    let now = Timestamp::from_secs(1_000);
    let ask = |name: &str| AccessRequest::read(&user(name), SHOP_RPS);
    let denied = Decision::Denied {
        reason: String::new(),
    };
    cache.put(ask("a"), Decision::Allowed, now);
    cache.put(ask("b"), denied.clone(), now);
    cache.put(ask("c"), Decision::Allowed, now);
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache.get(&ask("b"), now),
        None,
        "the denial expired soonest"
    );
    assert_eq!(cache.get(&ask("a"), now), Some(Decision::Allowed));
    assert_eq!(cache.get(&ask("c"), now), Some(Decision::Allowed));
}

#[test]
fn always_allow_paths_are_checked() {
    let flags = |paths: &[&str]| AuthorizationFlags {
        disable_authorization: false,
        authorization_always_allow_paths: paths.iter().map(|p| p.to_string()).collect(),
        authorization_cache_allowed_ttl: Duration::from_secs(300),
        authorization_cache_denied_ttl: Duration::from_secs(30),
    };
    assert_eq!(
        flags(&["/healthz", " ", "/apis/*"]).always_allow().unwrap(),
        AlwaysAllow::new(["/healthz", "/apis/*"])
    );
    assert!(flags(&["healthz"]).always_allow().is_err());
    assert!(flags(&["/a*b"]).always_allow().is_err());
}

type ApiHandle =
    tower_test::mock::Handle<http::Request<kube::client::Body>, http::Response<kube::client::Body>>;

fn mock_client() -> (kube::Client, ApiHandle) {
    let (service, handle) = tower_test::mock::pair();
    (kube::Client::new(service, "default"), handle)
}

/// Answers the next request with `status` and `body`; returns the request's body as JSON.
async fn answer(handle: &mut ApiHandle, status: u16, body: serde_json::Value) -> serde_json::Value {
    use http_body_util::BodyExt;
    let (request, send) = handle.next_request().await.expect("a request");
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri().path(),
        "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    );
    let sent = request.into_body().collect().await.unwrap().to_bytes();
    let response = http::Response::builder()
        .status(status)
        .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    send.send_response(response);
    serde_json::from_slice(&sent).unwrap()
}

#[tokio::test]
async fn kube_access_review_sends_the_question_and_reads_the_answer() {
    let (client, mut handle) = mock_client();
    let review = KubeAccessReview::new(client);
    let mut alice = user("alice");
    alice
        .extra
        .insert("scopes".into(), vec!["a".into(), "b".into()]);
    let request = AccessRequest::read(
        &alice,
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/rps",
    );
    let server = async {
        let sent = answer(
            &mut handle,
            201,
            serde_json::json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {}, "status": {"allowed": true},
            }),
        )
        .await;
        let denied = answer(
            &mut handle,
            201,
            serde_json::json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {}, "status": {"allowed": false, "reason": "no rule", "evaluationError": "x"},
            }),
        );
        (sent, denied.await)
    };
    let (answers, (sent, _)) = tokio::join!(
        async { (review.review(&request).await, review.review(&request).await) },
        server
    );
    assert_eq!(
        sent["spec"],
        serde_json::json!({
            "user": "alice",
            "groups": ["system:authenticated"],
            "extra": {"scopes": ["a", "b"]},
            "resourceAttributes": {
                "verb": "get", "group": "custom.metrics.k8s.io", "version": "v1beta2",
                "resource": "pods", "subresource": "rps", "namespace": "shop", "name": "*",
            },
        })
    );
    assert_eq!(answers.0.unwrap(), Decision::Allowed);
    assert_eq!(
        answers.1.unwrap(),
        Decision::Denied {
            reason: "no rule; x".into()
        }
    );
}

#[tokio::test]
async fn kube_access_review_errors_are_failures() {
    let (client, mut handle) = mock_client();
    let review = KubeAccessReview::new(client);
    let request = AccessRequest::read(&user("alice"), "/apis");
    let status = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": "subjectaccessreviews.authorization.k8s.io is forbidden", "reason": "Forbidden",
        "code": 403,
    });
    let no_status = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {},
    });
    let server = async {
        let sent = answer(&mut handle, 403, status).await;
        answer(&mut handle, 201, no_status).await;
        sent
    };
    let (answers, sent) = tokio::join!(
        async { (review.review(&request).await, review.review(&request).await) },
        server
    );
    assert_eq!(
        sent["spec"]["nonResourceAttributes"],
        serde_json::json!({"verb": "get", "path": "/apis"})
    );
    let forbidden = answers.0.unwrap_err();
    assert!(
        forbidden.to_string().contains("is forbidden"),
        "{forbidden}"
    );
    assert_eq!(forbidden.label(), "failed");
    assert!(
        answers
            .1
            .unwrap_err()
            .to_string()
            .contains("without a status")
    );
}
