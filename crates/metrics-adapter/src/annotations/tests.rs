#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn key(metric_type: MetricType, name: &str) -> MetricKey {
    MetricKey {
        metric_type,
        name: name.to_string(),
    }
}

#[test]
fn parse_key_table() {
    struct Case {
        key: &'static str,
        want: Result<Option<(MetricType, &'static str, &'static str, &'static str)>, &'static str>,
    }
    let cases = [
        Case {
            key: "metric-config.pods.requests-per-second.json-path/json-key",
            want: Ok(Some((
                MetricType::Pods,
                "requests-per-second",
                "json-path",
                "json-key",
            ))),
        },
        Case {
            key: "metric-config.external.processed-events.prometheus/query",
            want: Ok(Some((
                MetricType::External,
                "processed-events",
                "prometheus",
                "query",
            ))),
        },
        // Dots in the metric name: everything between type and collector is the name.
        Case {
            key: "metric-config.pods.http.server.rps.json-path/path",
            want: Ok(Some((
                MetricType::Pods,
                "http.server.rps",
                "json-path",
                "path",
            ))),
        },
        Case {
            key: "metric-config.object.a.b.requests-per-second/backend",
            want: Ok(Some((
                MetricType::Object,
                "a.b",
                "requests-per-second",
                "backend",
            ))),
        },
        Case {
            key: "kubectl.kubernetes.io/last-applied-configuration",
            want: Ok(None),
        },
        Case {
            key: "metric-config.pods.rps.json-path",
            want: Err("missing \"/<configKey>\""),
        },
        Case {
            key: "metric-config.pods.rps.json-path/",
            want: Err("empty config key"),
        },
        Case {
            key: "metric-config.pods.json-path/json-key",
            want: Err("missing metric name or collector type"),
        },
        Case {
            key: "metric-config.pods/json-key",
            want: Err("missing metric name and collector type"),
        },
        Case {
            key: "metric-config.pods..json-path/json-key",
            want: Err("empty metric name"),
        },
        Case {
            key: "metric-config.pods.rps./json-key",
            want: Err("empty collector type"),
        },
        Case {
            key: "metric-config.resource.cpu.json-path/json-key",
            want: Err("unknown metric type \"resource\""),
        },
    ];
    for case in cases {
        let got = parse_key(case.key);
        match (case.want, got) {
            (Ok(None), Ok(None)) => {}
            (Ok(Some((t, name, collector, config))), Ok(Some(parsed))) => {
                assert_eq!(parsed.metric, key(t, name), "{}", case.key);
                assert_eq!(parsed.collector_type, collector, "{}", case.key);
                assert_eq!(parsed.config_key, config, "{}", case.key);
            }
            (Err(fragment), Err(e)) => {
                let message = e.to_string();
                assert!(message.contains(fragment), "{}: {message}", case.key);
                assert!(
                    message.contains(case.key),
                    "error must name the key: {message}"
                );
            }
            (want, got) => panic!("{}: want {want:?}, got {got:?}", case.key),
        }
    }
}

#[test]
fn groups_keys_by_metric_and_parses_special_keys() {
    let parsed = parse_annotations(&annotations(&[
        (
            "metric-config.pods.rps.json-path/json-key",
            "$.http_server.rps",
        ),
        ("metric-config.pods.rps.json-path/path", "/metrics"),
        ("metric-config.pods.rps.json-path/port", "9090"),
        ("metric-config.pods.rps.json-path/interval", "30s"),
        (
            "metric-config.pods.rps.json-path/min-pod-ready-age",
            "1m30s",
        ),
        (
            "metric-config.object.queue.v2.prometheus/per-replica",
            "true",
        ),
        ("metric-config.object.queue.v2.prometheus/query", "sum(x)"),
        ("unrelated", "value"),
    ]));
    assert!(parsed.is_clean(), "{parsed:?}");
    assert_eq!(parsed.metrics.len(), 2);
    let rps = &parsed.metrics[&key(MetricType::Pods, "rps")];
    assert_eq!(rps.collector_type, "json-path");
    assert_eq!(rps.interval, Some(Duration::from_secs(30)));
    assert_eq!(rps.min_pod_ready_age, Some(Duration::from_secs(90)));
    assert!(!rps.per_replica);
    assert_eq!(rps.config.len(), 3);
    assert_eq!(rps.config["json-key"], "$.http_server.rps");
    assert!(!rps.config.contains_key("interval"));
    let queue = &parsed.metrics[&key(MetricType::Object, "queue.v2")];
    assert!(queue.per_replica);
    assert_eq!(queue.config["query"], "sum(x)");
    assert_eq!(
        queue.annotation_key(&key(MetricType::Object, "queue.v2"), "query"),
        "metric-config.object.queue.v2.prometheus/query"
    );
}

#[test]
fn bad_special_values_fail_only_their_metric_with_the_key_named() {
    let cases = [
        ("interval", "soon", "use a duration"),
        ("interval", "", "empty duration"),
        ("interval", "10ms", "at least 1s"),
        ("per-replica", "yes", "\"true\" or \"false\""),
        ("min-pod-ready-age", "-5s", "use a duration"),
    ];
    for (config_key, value, fragment) in cases {
        let bad_key = format!("metric-config.external.bad.prometheus/{config_key}");
        let parsed = parse_annotations(&annotations(&[
            (&bad_key, value),
            ("metric-config.external.bad.prometheus/query", "sum(x)"),
            ("metric-config.external.good.prometheus/query", "sum(y)"),
        ]));
        let bad = key(MetricType::External, "bad");
        assert!(!parsed.metrics.contains_key(&bad), "{config_key}={value}");
        assert!(
            parsed
                .metrics
                .contains_key(&key(MetricType::External, "good"))
        );
        let errors = &parsed.metric_errors[&bad];
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(message.contains(&bad_key), "{message}");
        assert!(message.contains(fragment), "{message}");
    }
}

#[test]
fn per_replica_by_presence_and_false_is_respected() {
    for (value, want) in [("", true), ("True", true), ("false", false)] {
        let parsed = parse_annotations(&annotations(&[(
            "metric-config.object.q.prometheus/per-replica",
            value,
        )]));
        assert_eq!(
            parsed.metrics[&key(MetricType::Object, "q")].per_replica,
            want
        );
    }
}

#[test]
fn conflicting_collector_types_fail_the_metric() {
    let parsed = parse_annotations(&annotations(&[
        ("metric-config.external.x.prometheus/query", "sum(x)"),
        ("metric-config.external.x.json-path/json-key", "$.x"),
    ]));
    let x = key(MetricType::External, "x");
    assert!(parsed.metrics.is_empty());
    let message = parsed.metric_errors[&x][0].to_string();
    assert!(
        message.contains("metric-config.external.x.prometheus/query"),
        "{message}"
    );
    assert!(message.contains("conflicts"), "{message}");
}

#[test]
fn unattributable_errors_do_not_touch_valid_metrics() {
    let parsed = parse_annotations(&annotations(&[
        ("metric-config.typo", "1"),
        ("metric-config.pods.rps.json-path/json-key", "$.rps"),
    ]));
    assert_eq!(parsed.other_errors.len(), 1);
    assert!(parsed.metric_errors.is_empty());
    assert!(parsed.metrics.contains_key(&key(MetricType::Pods, "rps")));
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_annotations(
        pairs in proptest::collection::btree_map(
            prop_oneof![
                any::<String>(),
                "metric-config\\.[a-z.]{0,12}(/[a-z-]{0,8})?",
                "metric-config\\.(pods|object|external)\\.[a-z.]{0,10}\\.[a-z-]{0,10}/[a-z-/]{0,20}",
            ],
            any::<String>(),
            0..8,
        )
    ) {
        let parsed = parse_annotations(&pairs);
        // Every metric-config key is accounted for: configured, or reported with its key.
        for key in pairs.keys().filter(|k| k.starts_with(ANNOTATION_PREFIX)) {
            let configured = parsed.metrics.values().any(|m| m.sources.values().any(|s| s == key));
            let reported = parsed
                .other_errors
                .iter()
                .chain(parsed.metric_errors.values().flatten())
                .any(|e| e.to_string().contains(&format!("{key:?}")));
            let in_failed_metric = parse_key(key)
                .ok()
                .flatten()
                .is_some_and(|k| parsed.metric_errors.contains_key(&k.metric));
            prop_assert!(configured || reported || in_failed_metric, "{key:?} lost");
        }
    }
}
