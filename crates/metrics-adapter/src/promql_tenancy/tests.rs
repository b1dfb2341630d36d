#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn every_selector_gets_the_namespace_matcher() {
    let cases = [
        ("up", r#"up{namespace="shop"}"#),
        (
            r#"http_requests_total{job="api"}"#,
            r#"http_requests_total{job="api",namespace="shop"}"#,
        ),
        (
            "sum(rate(http_requests_total[5m]))",
            r#"sum(rate(http_requests_total{namespace="shop"}[5m]))"#,
        ),
        (
            r#"scalar(sum(rate(events_total{queue="jobs"}[1m])))"#,
            r#"scalar(sum(rate(events_total{namespace="shop",queue="jobs"}[1m])))"#,
        ),
        (
            "sum by (pod) (a) / on (pod) group_left b",
            r#"sum by (pod) (a{namespace="shop"}) / on (pod) group_left () b{namespace="shop"}"#,
        ),
        (
            "max_over_time(rate(x[1m])[10m:1m])",
            r#"max_over_time(rate(x{namespace="shop"}[1m])[10m:1m])"#,
        ),
        (
            "topk(3, x offset 5m)",
            r#"topk(3, x{namespace="shop"} offset 5m)"#,
        ),
        (
            r#"quantile(0.9, histogram_quantile(0.99, rate(h_bucket[5m])))"#,
            r#"quantile(0.9, histogram_quantile(0.99, rate(h_bucket{namespace="shop"}[5m])))"#,
        ),
        (
            r#"label_replace(x, "namespace", "other", "", "")"#,
            r#"label_replace(x{namespace="shop"}, "namespace", "other", "", "")"#,
        ),
        (r#"{__name__="up"}"#, r#"{__name__="up",namespace="shop"}"#),
        (
            "-(x) + 2 * y",
            r#"-(x{namespace="shop"}) + 2 * y{namespace="shop"}"#,
        ),
        ("vector(1)", "vector(1)"),
        ("42", "42"),
        // Already confined to this namespace: kept as it is.
        (r#"x{namespace="shop"}"#, r#"x{namespace="shop"}"#),
        // Each alternative of an `or` group is confined.
        (
            r#"x{a="1" or b="2"}"#,
            r#"x{a="1", namespace="shop" or b="2", namespace="shop"}"#,
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(query, want)| {
            let got = confine_to_namespace(query, "shop");
            (got.as_deref() != Ok(*want)).then(|| format!("{query}\n  got  {got:?}\n  want {want}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn label_values_are_escaped_in_the_matcher() {
    let rewritten = confine_to_namespace("x", r#"we"ird\ns"#).unwrap();
    assert_eq!(rewritten, r#"x{namespace="we\"ird\\ns"}"#);
}

#[test]
fn queries_that_cannot_be_confined_are_refused_with_a_reason() {
    let foreign =
        |query: &str, matcher: &str| match confine_to_namespace(query, "shop").unwrap_err() {
            TenancyError::ForeignNamespace {
                matcher: found,
                namespace,
                ..
            } => assert_eq!(
                (found.as_str(), namespace.as_str()),
                (matcher, "shop"),
                "{query}"
            ),
            other => panic!("{query}: {other}"),
        };
    foreign(r#"x{namespace="other"}"#, r#"namespace="other""#);
    foreign(
        r#"sum(rate(x{namespace!="shop"}[1m]))"#,
        r#"namespace!="shop""#,
    );
    foreign(
        r#"x{namespace=~"shop|other"}"#,
        r#"namespace=~"shop|other""#,
    );
    foreign(r#"x{namespace=~"shop"}"#, r#"namespace=~"shop""#);
    foreign(
        r#"a / b{namespace="kube-system"}"#,
        r#"namespace="kube-system""#,
    );
    foreign(r#"x{a="1" or namespace="other"}"#, r#"namespace="other""#);

    for broken in ["sum(", "rate(x)", "x{", ""] {
        assert!(
            matches!(
                confine_to_namespace(broken, "shop"),
                Err(TenancyError::Parse(_))
            ),
            "{broken:?}"
        );
    }
    let message = confine_to_namespace(r#"x{namespace="other"}"#, "shop")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("PromQL namespace isolation") && message.contains("\"shop\""),
        "{message}"
    );
}
