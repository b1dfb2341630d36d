#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;

use super::*;
use crate::outbound::http_client;
use crate::test_fixtures::{Reply, serve};

fn fetcher(max_body_bytes: usize, budget: usize, policy: Option<OutboundPolicy>) -> Fetcher {
    let policy = policy.map(Arc::new);
    let http = http_client(
        policy.clone(),
        Duration::from_secs(2),
        Duration::from_secs(5),
    )
    .unwrap();
    Fetcher::new(
        http,
        policy,
        BodyLimits {
            max_body_bytes,
            budget: ByteBudget::new(budget),
        },
    )
}

fn allow_loopback() -> OutboundPolicy {
    OutboundPolicy {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..OutboundPolicy::default()
    }
}

#[test]
fn json_values_are_counted_without_parsing() {
    assert_eq!(
        count_json_values(br#"{"a": 1, "b": [true, null, "x,y]"]}"#),
        8
    );
    assert_eq!(count_json_values(br#""a \" quoted [string]""#), 1);
    assert_eq!(count_json_values(b"[1,2,3]"), 4);
    assert_eq!(count_json_values(b"  -12.5e3 "), 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_while_reading_and_its_memory_returned() {
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(4096));
    let (addr, _) = serve(Reply::Json(big)).await;
    let f = fetcher(1024, 1 << 20, Some(allow_loopback()));
    let url = format!("http://{addr}/metrics");
    let err = f.get(&url, &[]).await.unwrap_err();
    assert!(
        matches!(err, CollectError::BodyTooLarge { limit: 1024, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("1024 bytes"), "{err}");
    assert!(
        !err.to_string().contains("xxxx"),
        "no content echoed: {err}"
    );
    assert_eq!(err.reason(), "too_large");
    assert_eq!(f.limits.budget.available(), 1 << 20, "reservation returned");

    let small = fetcher(8192, 1 << 20, Some(allow_loopback()));
    let body = small.get(&url, &[]).await.unwrap();
    assert_eq!(body.status, 200);
    assert!(body.len() > 4096);
    assert!(
        small.limits.budget.available() < 1 << 20,
        "held while the body lives"
    );
    drop(body);
    assert_eq!(small.limits.budget.available(), 1 << 20);
}

#[tokio::test]
async fn a_body_with_too_many_values_is_not_parsed() {
    let many = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES));
    let (addr, _) = serve(Reply::Json(many)).await;
    let f = fetcher(1 << 20, 64 << 20, Some(allow_loopback()));
    let url = format!("http://{addr}/metrics");
    let body = f.get(&url, &[]).await.unwrap();
    let err = f.parse::<serde_json::Value>(&url, &body).await.unwrap_err();
    assert!(matches!(err, CollectError::TooManyValues { .. }), "{err}");
    assert!(err.to_string().contains("50000"), "{err}");
}

#[tokio::test]
async fn parse_errors_name_the_position_not_the_content() {
    let (addr, _) = serve(Reply::Json(r#"{"secret": "hunter2""#.into())).await;
    let f = fetcher(1 << 20, 1 << 20, Some(allow_loopback()));
    let url = format!("http://{addr}/metrics");
    let body = f.get(&url, &[]).await.unwrap();
    let err = f.parse::<serde_json::Value>(&url, &body).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 1"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("secret"),
        "{text}"
    );
    let err = f.parse::<Vec<u32>>(&url, &body).await.unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn when_the_budget_is_spent_a_reservation_waits_then_gives_up() {
    let budget = ByteBudget::new(1024);
    let held = budget.reserve(1000).await.unwrap();
    let err = budget.reserve(100).await.unwrap_err();
    assert!(matches!(err, CollectError::Overloaded { .. }), "{err}");
    assert_eq!(err.reason(), "overload");
    let waiting = tokio::spawn({
        let budget = budget.clone();
        async move { budget.reserve(100).await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    drop(held);
    assert!(
        waiting.await.unwrap().is_ok(),
        "released bytes are handed on"
    );
    assert_eq!(budget.available(), 1024);
}

#[tokio::test]
async fn a_refused_address_gets_no_request() {
    let (addr, hits) = serve(Reply::Json("{}".into())).await;
    let f = fetcher(1024, 1 << 20, Some(OutboundPolicy::default()));
    for url in [
        format!("http://{addr}/metrics"),
        format!("http://localhost:{}/metrics", addr.port()),
    ] {
        let err = f.get(&url, &[]).await.unwrap_err();
        assert!(matches!(err, CollectError::Refused { .. }), "{url}: {err}");
        assert!(err.to_string().contains("not allowed"), "{err}");
        assert_eq!(err.reason(), "refused");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the target got no request");
}

#[tokio::test]
async fn redirects_are_refused_not_followed() {
    let (target, target_hits) = serve(Reply::Json("{}".into())).await;
    let (redirector, _) = serve(Reply::Redirect(format!("http://{target}/metrics"))).await;
    let f = fetcher(1024, 1 << 20, Some(allow_loopback()));
    let err = f
        .get(&format!("http://{redirector}/metrics"), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, CollectError::Redirect { status: 307, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("redirects are not followed"),
        "{err}"
    );
    assert_eq!(target_hits.load(Ordering::SeqCst), 0);
}
