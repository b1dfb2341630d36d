//! Leader election against kube's mocked service: scripted exchanges for single attempts, and a
//! one-lease fake API server for the election loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};
use k8s_openapi::api::coordination::v1::Lease;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tower_test::mock::{Handle, SendResponse};

use super::*;

type MockHandle = Handle<Request<Body>, Response<Body>>;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/tidal";

fn elector(identity: &str) -> (LeaderElector, MockHandle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let elector =
        LeaderElector::new(client, "default", "tidal", identity, LeaseTiming::default()).unwrap();
    (elector, handle)
}

/// Waits for the next request: its method, path and JSON body (Null when empty).
async fn next(handle: &mut MockHandle) -> (Method, String, Value, SendResponse<Response<Body>>) {
    let (req, send) = handle
        .next_request()
        .await
        .expect("the elector sent no request");
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let bytes = req.into_body().collect_bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (method, path, body, send)
}

fn reply(send: SendResponse<Response<Body>>, status: u16, body: &Value) {
    let resp = Response::builder()
        .status(status)
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    send.send_response(resp);
}

fn status(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": reason, "reason": reason, "code": code})
}

fn lease(holder: &str, rv: &str, transitions: i32, renew: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "tidal", "namespace": "default", "resourceVersion": rv},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "leaseTransitions": transitions,
                 "acquireTime": "2020-01-01T00:00:00Z", "renewTime": renew}
    })
}

fn spec_of(body: &Value) -> LeaseSpec {
    serde_json::from_value::<Lease>(body.clone())
        .unwrap()
        .spec
        .unwrap()
}

#[tokio::test]
async fn acquires_an_absent_lease_by_creating_it() {
    let (mut elector, mut handle) = elector("me");
    let server = tokio::spawn(async move {
        let (method, path, _, send) = next(&mut handle).await;
        assert_eq!((method, path.as_str()), (Method::GET, LEASE));
        reply(send, 404, &status(404, "NotFound"));

        let (method, path, body, send) = next(&mut handle).await;
        assert_eq!((method, path.as_str()), (Method::POST, LEASES));
        assert_eq!(body["metadata"]["name"], "tidal");
        assert_eq!(body["metadata"]["namespace"], "default");
        let spec = spec_of(&body);
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.lease_transitions, Some(0));
        assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());
        let mut created = body.clone();
        created["metadata"]["resourceVersion"] = json!("1");
        reply(send, 201, &created);
    });
    assert!(elector.try_acquire_or_renew().await.unwrap());
    server.await.unwrap();
}

#[tokio::test]
async fn leaves_a_live_lease_of_another_holder_alone_then_takes_it_when_expired() {
    let (mut elector, mut handle) = elector("me");
    let t0 = Instant::now();
    let held = lease("other", "5", 2, "2020-01-01T00:00:05Z");
    let server = tokio::spawn(async move {
        // Seen at t0 and again 14 s later, unchanged: not expired yet, so no write.
        for _ in 0..2 {
            let (method, _, _, send) = next(&mut handle).await;
            assert_eq!(method, Method::GET);
            reply(send, 200, &held);
        }
        // 16 s after first seeing it unchanged, the lease has expired: take it over.
        let (method, _, _, send) = next(&mut handle).await;
        assert_eq!(method, Method::GET);
        reply(send, 200, &held);
        let (method, path, body, send) = next(&mut handle).await;
        assert_eq!((method, path.as_str()), (Method::PUT, LEASE));
        assert_eq!(
            body["metadata"]["resourceVersion"], "5",
            "write must be conditional"
        );
        let spec = spec_of(&body);
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(3));
        assert_ne!(spec.acquire_time, spec_of(&held).acquire_time);
        reply(send, 200, &body);
    });
    assert!(!elector.attempt(t0).await.unwrap());
    assert!(!elector.attempt(t0 + Duration::from_secs(14)).await.unwrap());
    assert!(elector.attempt(t0 + Duration::from_secs(16)).await.unwrap());
    server.await.unwrap();
}

#[tokio::test]
async fn a_lease_its_holder_keeps_renewing_never_expires() {
    let (mut elector, mut handle) = elector("me");
    let t0 = Instant::now();
    let server = tokio::spawn(async move {
        for (i, renew) in [
            "2020-01-01T00:00:05Z",
            "2020-01-01T00:00:15Z",
            "2020-01-01T00:00:25Z",
        ]
        .iter()
        .enumerate()
        {
            let (method, _, _, send) = next(&mut handle).await;
            assert_eq!(method, Method::GET);
            reply(send, 200, &lease("other", &format!("{}", 5 + i), 2, renew));
        }
        assert!(handle.next_request().await.is_none(), "no write expected");
    });
    for secs in [0, 10, 20] {
        assert!(
            !elector
                .attempt(t0 + Duration::from_secs(secs))
                .await
                .unwrap()
        );
    }
    drop(elector);
    server.await.unwrap();
}

#[tokio::test]
async fn renews_its_own_lease_keeping_acquire_time_and_transitions() {
    let (mut elector, mut handle) = elector("me");
    let mine = lease("me", "7", 1, "2020-01-01T00:00:05Z");
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut handle).await;
        reply(send, 200, &mine);
        let (method, _, body, send) = next(&mut handle).await;
        assert_eq!(method, Method::PUT);
        assert_eq!(body["metadata"]["resourceVersion"], "7");
        let (old, new) = (spec_of(&mine), spec_of(&body));
        assert_eq!(new.holder_identity.as_deref(), Some("me"));
        assert_eq!(new.acquire_time, old.acquire_time);
        assert_eq!(new.lease_transitions, Some(1));
        assert!(new.renew_time > old.renew_time);
        reply(send, 200, &body);
    });
    assert!(elector.try_acquire_or_renew().await.unwrap());
    server.await.unwrap();
}

#[tokio::test]
async fn loses_when_the_renewal_conflicts() {
    let (mut elector, mut handle) = elector("me");
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut handle).await;
        reply(send, 200, &lease("me", "7", 1, "2020-01-01T00:00:05Z"));
        let (method, _, _, send) = next(&mut handle).await;
        assert_eq!(method, Method::PUT);
        reply(send, 409, &status(409, "Conflict"));
    });
    assert!(!elector.try_acquire_or_renew().await.unwrap());
    server.await.unwrap();
}

#[tokio::test]
async fn loses_a_creation_race() {
    let (mut elector, mut handle) = elector("me");
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut handle).await;
        reply(send, 404, &status(404, "NotFound"));
        let (method, _, _, send) = next(&mut handle).await;
        assert_eq!(method, Method::POST);
        reply(send, 409, &status(409, "AlreadyExists"));
    });
    assert!(!elector.try_acquire_or_renew().await.unwrap());
    server.await.unwrap();
}

#[tokio::test]
async fn api_errors_name_the_lease() {
    let (mut elector, mut handle) = elector("me");
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut handle).await;
        reply(send, 500, &status(500, "InternalError"));
    });
    let err = elector.try_acquire_or_renew().await.unwrap_err();
    assert!(
        matches!(err, LeaderError::Kube { action: "get", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("default/tidal"), "{err}");
    server.await.unwrap();
}

#[tokio::test]
async fn timing_follows_client_go_rules() {
    let s = Duration::from_secs;
    assert_eq!(
        LeaseTiming::default(),
        LeaseTiming::try_new(s(15), s(10), s(2)).unwrap()
    );
    assert!(LeaseTiming::try_new(s(10), s(10), s(2)).is_err());
    assert!(LeaseTiming::try_new(s(15), s(10), s(10)).is_err());
    assert!(LeaseTiming::try_new(s(15), s(10), Duration::ZERO).is_err());
    assert!(
        LeaseTiming::try_new(
            Duration::from_millis(1500),
            s(1),
            Duration::from_millis(100)
        )
        .is_err()
    );
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let err = LeaderElector::new(client, "default", "tidal", "", LeaseTiming::default()).err();
    assert!(matches!(err, Some(LeaderError::Empty("identity"))));
}

#[test]
fn the_identity_is_the_pod_name_and_never_made_up() {
    assert_eq!(pod_identity(Some("ca-7d9f-x2")).unwrap(), "ca-7d9f-x2");
    assert_eq!(pod_identity(Some(" ca-1 \n")).unwrap(), "ca-1");
    for missing in [None, Some(""), Some("   ")] {
        let err = pod_identity(missing).unwrap_err();
        assert!(matches!(err, LeaderError::NoIdentity));
        let text = err.to_string();
        assert!(
            text.contains("TIDAL_POD_NAME") && text.contains("metadata.name"),
            "{text}"
        );
    }
}

#[test]
fn always_handle_is_leader() {
    assert!(LeaderHandle::always().is_leader());
}

#[tokio::test(start_paused = true)]
async fn lost_follows_renewals_and_resolves_at_the_deadline_or_handover() {
    let start = tokio::time::Instant::now();
    let (tx, rx) = watch::channel(Some(start + Duration::from_secs(10)));
    let mut handle = LeaderHandle::following(rx);
    // A renewal before the deadline pushes it out: lost only at the renewed deadline.
    let renew = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        renew.send_replace(Some(start + Duration::from_secs(15)));
    });
    handle.lost().await;
    assert_eq!(start.elapsed(), Duration::from_secs(15));
    assert!(!handle.is_leader());

    // Leader again, then the lease goes to another holder: lost at once.
    tx.send_replace(Some(tokio::time::Instant::now() + Duration::from_secs(10)));
    let at = tokio::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        tx.send_replace(None);
    });
    handle.lost().await;
    assert_eq!(at.elapsed(), Duration::from_secs(2));
}

/// A one-lease stand-in for the API server: get/create/replace with resourceVersion checks, and
/// a switch that makes every request fail.
#[derive(Default)]
struct FakeLease {
    stored: Option<Value>,
    version: u64,
    failing: bool,
}

fn serve_fake(mut handle: MockHandle, fake: Arc<Mutex<FakeLease>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let method = req.method().clone();
            let bytes = req.into_body().collect_bytes().await.unwrap();
            let mut fake = fake.lock().unwrap();
            if fake.failing {
                reply(send, 500, &status(500, "InternalError"));
                continue;
            }
            let (code, body) = match (method, fake.stored.clone()) {
                (Method::GET, Some(stored)) => (200, stored),
                (Method::GET, None) => (404, status(404, "NotFound")),
                (Method::POST, Some(_)) => (409, status(409, "AlreadyExists")),
                (Method::PUT, None) => (404, status(404, "NotFound")),
                (Method::POST | Method::PUT, stored) => {
                    let mut body: Value = serde_json::from_slice(&bytes).unwrap();
                    let expected = stored.map(|s| s["metadata"]["resourceVersion"].clone());
                    if expected.is_some_and(|rv| rv != body["metadata"]["resourceVersion"]) {
                        (409, status(409, "Conflict"))
                    } else {
                        fake.version += 1;
                        body["metadata"]["resourceVersion"] = json!(fake.version.to_string());
                        fake.stored = Some(body.clone());
                        (200, body)
                    }
                }
                (other, _) => panic!("unexpected {other}"),
            };
            reply(send, code, &body);
        }
    })
}

fn spawn_elector(
    identity: &str,
    fake: &Arc<Mutex<FakeLease>>,
) -> (LeaderHandle, oneshot::Sender<()>, JoinHandle<()>) {
    let (elector, handle) = elector(identity);
    serve_fake(handle, fake.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let (leader, task) = elector.spawn(async move {
        let _ = stopped.await;
    });
    (leader, stop, task)
}

#[tokio::test(start_paused = true)]
async fn one_leader_at_a_time_and_release_hands_over_at_once() {
    let fake = Arc::new(Mutex::new(FakeLease::default()));
    let (mut a, stop_a, task_a) = spawn_elector("a", &fake);
    assert!(a.changed().await, "a acquires the free lease");

    let (mut b, stop_b, task_b) = spawn_elector("b", &fake);
    // A minute of renewals by a: b never gets the lease.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(a.is_leader());
    assert!(!b.is_leader());

    let released_at = Instant::now();
    stop_a.send(()).unwrap();
    task_a.await.unwrap();
    assert!(!a.is_leader());
    let stored = fake.lock().unwrap().stored.clone().unwrap();
    assert_eq!(
        spec_of(&stored).holder_identity,
        None,
        "a released the lease"
    );

    while !b.changed().await {}
    // A released lease is free: b need not wait out the lease duration.
    assert!(Instant::now() - released_at < LeaseTiming::default().lease_duration());
    stop_b.send(()).unwrap();
    task_b.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn leadership_ends_when_renewals_fail_past_the_renew_deadline() {
    let fake = Arc::new(Mutex::new(FakeLease::default()));
    let (mut leader, stop, task) = spawn_elector("a", &fake);
    assert!(leader.changed().await);
    let last_renewal = Instant::now();
    fake.lock().unwrap().failing = true;

    while leader.changed().await {}
    assert!(!leader.is_leader());
    let held_for = Instant::now() - last_renewal;
    let timing = LeaseTiming::default();
    assert!(
        held_for >= timing.renew_deadline() - timing.retry_period(),
        "{held_for:?}"
    );
    assert!(
        held_for <= timing.renew_deadline() + timing.retry_period(),
        "{held_for:?}"
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}
