#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde_json::{Value, json};

use super::*;
use crate::config::{Aggregator, CollectorType, Scheme};

fn settings() -> CollectionSettings {
    CollectionSettings {
        prometheus_server: Some("http://prometheus.monitoring:9090".to_string()),
        allowed_prometheus_servers: vec!["http://other:9090".to_string()],
        aws_regions: vec!["eu-central-1".to_string()],
        ..CollectionSettings::default()
    }
}

fn hpa(annotations: Value, metrics: Value) -> HorizontalPodAutoscaler {
    serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": metrics,
        }
    }))
    .unwrap()
}

fn external(name: &str, labels: Value) -> Value {
    json!({"type": "External", "external": {
        "metric": {"name": name, "selector": {"matchLabels": labels}},
        "target": {"type": "AverageValue", "averageValue": "10"}
    }})
}

fn pods(name: &str) -> Value {
    json!({"type": "Pods", "pods": {
        "metric": {"name": name},
        "target": {"type": "AverageValue", "averageValue": "10"}
    }})
}

fn object(name: &str, kind: &str, api_version: &str, object_name: &str) -> Value {
    json!({"type": "Object", "object": {
        "describedObject": {"apiVersion": api_version, "kind": kind, "name": object_name},
        "metric": {"name": name},
        "target": {"type": "Value", "value": "100"}
    }})
}

fn only_config(built: &HpaCollectors) -> &CollectorConfig {
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    assert_eq!(built.configs.len(), 1);
    &built.configs[0]
}

fn only_error(built: &HpaCollectors) -> String {
    assert_eq!(built.errors.len(), 1, "{:?}", built.errors);
    built.errors[0].error.to_string()
}

#[test]
fn pods_metric_with_dotted_name_becomes_json_path_on_pods() {
    let built = build_hpa_collectors(
        &hpa(
            json!({
                "metric-config.pods.http.rps.json-path/json-key": "$.http_server.rps",
                "metric-config.pods.http.rps.json-path/path": "/metrics",
                "metric-config.pods.http.rps.json-path/port": "9090",
                "metric-config.pods.http.rps.json-path/scheme": "https",
                "metric-config.pods.http.rps.json-path/aggregator": "max",
                "metric-config.pods.http.rps.json-path/request-timeout": "2s",
                "metric-config.pods.http.rps.json-path/min-pod-ready-age": "30s",
                "metric-config.pods.http.rps.json-path/interval": "15s",
            }),
            json!([pods("http.rps"), {"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}]),
        ),
        &settings(),
    );
    let config = only_config(&built);
    assert_eq!(config.id.0, "shop/web/pods/http.rps");
    assert_eq!(config.interval, Duration::from_secs(15));
    assert_eq!(config.collector_type(), CollectorType::JsonPathPods);
    let Source::PodsJsonPath(source) = &config.source else {
        panic!("{:?}", config.source)
    };
    assert_eq!(source.scale_target.kind, "Deployment");
    assert_eq!(source.port, 9090);
    assert_eq!(source.scheme, Scheme::Https);
    assert_eq!(source.json.aggregator, Some(Aggregator::Max));
    assert_eq!(source.timeouts.request, Duration::from_secs(2));
    assert_eq!(source.timeouts.connect, Duration::from_secs(5));
    assert_eq!(source.min_pod_ready_age, Duration::from_secs(30));
    assert_eq!(
        config.output.target,
        OutputTarget::Pods {
            namespace: "shop".to_string(),
            metric: "http.rps".to_string()
        }
    );
}

#[test]
fn external_metrics_by_type_label() {
    let built = build_hpa_collectors(
        &hpa(
            json!({
                "metric-config.external.events.prometheus/query": "scalar(sum(rate(events_total[1m])))",
                "metric-config.external.events.prometheus/prometheus-server": "http://other:9090",
                "metric-config.external.rps.requests-per-second/hostnames": "a.example.com, b.example.com",
                "metric-config.external.rps.requests-per-second/weight": "42",
                "metric-config.external.json.json-path/endpoint": "http://svc.ns:8080/stats",
                "metric-config.external.json.json-path/json-key": "$.queue[*].depth",
                "metric-config.external.json.json-path/aggregator": "sum",
            }),
            json!([
                external("events", json!({"type": "prometheus"})),
                external(
                    "jobs",
                    json!({"type": "sqs-queue-length", "queue-name": "jobs", "region": "eu-central-1"})
                ),
                external("rps", json!({"type": "requests-per-second"})),
                external("json", json!({"type": "json-path"})),
            ]),
        ),
        &settings(),
    );
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let by_name = |name: &str| {
        built
            .configs
            .iter()
            .find(|c| c.metric.name == name)
            .unwrap()
    };
    assert_eq!(
        by_name("events").source,
        Source::Prometheus(PrometheusQuery {
            server: "http://other:9090".to_string(),
            query: "scalar(sum(rate(events_total[1m])))".to_string()
        })
    );
    assert_eq!(
        by_name("jobs").source,
        Source::SqsQueueLength(SqsQueue {
            region: "eu-central-1".to_string(),
            queue_name: "jobs".to_string()
        })
    );
    let OutputTarget::External { labels, .. } = &by_name("jobs").output.target else {
        panic!()
    };
    assert_eq!(labels["queue-name"], "jobs");
    let rps = by_name("rps");
    assert_eq!(rps.output.weight_percent, Some(42.0));
    assert_eq!(
        rps.source,
        Source::RequestsPerSecond(RequestsPerSecond {
            server: "http://prometheus.monitoring:9090".to_string(),
            target: RpsTarget::Hostnames(vec!["a.example.com".into(), "b.example.com".into()])
        })
    );
    assert_eq!(by_name("json").collector_type(), CollectorType::JsonPathUrl);
}

#[test]
fn object_metrics_by_kind_then_collector_type() {
    let built = build_hpa_collectors(
        &hpa(
            json!({
                "metric-config.object.requests-per-second.requests-per-second/backend": "web-canary",
                "metric-config.object.lag.prometheus/query": "sum(lag)",
                "metric-config.object.lag.prometheus/per-replica": "true",
            }),
            json!([
                object(
                    "requests-per-second",
                    "Ingress",
                    "networking.k8s.io/v1",
                    "web"
                ),
                object("rg-rps", "RouteGroup", "zalando.org/v1", "web-rg"),
                object("lag", "Deployment", "apps/v1", "consumer"),
            ]),
        ),
        &settings(),
    );
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let ingress = &built.configs[0];
    assert_eq!(
        ingress.source,
        Source::RequestsPerSecond(RequestsPerSecond {
            server: "http://prometheus.monitoring:9090".to_string(),
            target: RpsTarget::Object {
                namespace: "shop".into(),
                kind: RoutingKind::Ingress,
                name: "web".into(),
                backend: Some("web-canary".into())
            }
        })
    );
    let OutputTarget::Object { object, .. } = &ingress.output.target else {
        panic!()
    };
    assert_eq!(object.resource, "ingresses.networking.k8s.io");
    let OutputTarget::Object { object, .. } = &built.configs[1].output.target else {
        panic!()
    };
    assert_eq!(object.resource, "routegroups.zalando.org");
    let lag = &built.configs[2];
    assert!(lag.output.per_replica);
    let OutputTarget::Object { object, .. } = &lag.output.target else {
        panic!()
    };
    assert_eq!(object.resource, "deployments.apps");
    assert_eq!(object.name, "consumer");
}

#[test]
fn errors_name_what_is_wrong_and_spare_other_metrics() {
    struct Case {
        annotations: Value,
        metric: Value,
        fragments: &'static [&'static str],
    }
    let cases = [
        Case {
            annotations: json!({"metric-config.external.x.influxdb/query": "q"}),
            metric: external("x", json!({})),
            fragments: &["unknown collector type \"influxdb\"", "prometheus"],
        },
        Case {
            annotations: json!({}),
            metric: external("x", json!({"type": "zmon"})),
            fragments: &["unknown collector type \"zmon\""],
        },
        Case {
            annotations: json!({}),
            metric: external("x", json!({})),
            fragments: &["matchLabels needs \"type\""],
        },
        Case {
            annotations: json!({}),
            metric: external(
                "x",
                json!({"type": "sqs-queue-length", "region": "eu-central-1"}),
            ),
            fragments: &["\"queue-name\""],
        },
        Case {
            annotations: json!({}),
            metric: external(
                "x",
                json!({"type": "sqs-queue-length", "queue-name": "q", "region": "us-east-1"}),
            ),
            fragments: &["\"us-east-1\" is not configured", "eu-central-1"],
        },
        Case {
            annotations: json!({}),
            metric: external("x", json!({"type": "prometheus"})),
            fragments: &["missing annotation \"metric-config.external.x.prometheus/query\""],
        },
        Case {
            annotations: json!({"metric-config.pods.p.json-path/json-key": "$.a", "metric-config.pods.p.json-path/path": "/m"}),
            metric: pods("p"),
            fragments: &["metric-config.pods.p.json-path/port"],
        },
        Case {
            annotations: json!({"metric-config.pods.p.json-path/json-key": "$[", "metric-config.pods.p.json-path/path": "/m",
                "metric-config.pods.p.json-path/port": "80"}),
            metric: pods("p"),
            fragments: &["metric-config.pods.p.json-path/json-key", "RFC 9535"],
        },
        Case {
            annotations: json!({"metric-config.pods.p.json-path/json_key": "$.a"}),
            metric: pods("p"),
            fragments: &["unknown key \"json_key\"", "json-key"],
        },
        Case {
            annotations: json!({"metric-config.pods.p.json-path/json-key": "$.a", "metric-config.pods.p.json-path/path": "/m",
                "metric-config.pods.p.json-path/port": "http"}),
            metric: pods("p"),
            fragments: &["port", "\"http\"", "1-65535"],
        },
        Case {
            annotations: json!({}),
            metric: pods("p"),
            fragments: &[
                "no collector configured",
                "metric-config.pods.p.json-path/json-key",
            ],
        },
        Case {
            annotations: json!({"metric-config.external.x.prometheus/query": "q"}),
            metric: external("x", json!({"type": "json-path"})),
            fragments: &["disagrees"],
        },
        Case {
            annotations: json!({"metric-config.external.x.requests-per-second/hostnames": "a.com\"}) or vector(1"}),
            metric: external("x", json!({"type": "requests-per-second"})),
            fragments: &["is not a hostname"],
        },
        Case {
            annotations: json!({"metric-config.external.x.requests-per-second/hostnames": "a.com",
                "metric-config.external.x.requests-per-second/weight": "150"}),
            metric: external("x", json!({"type": "requests-per-second"})),
            fragments: &["weight", "(0, 100]"],
        },
        Case {
            annotations: json!({"metric-config.object.x.requests-per-second/backend": "b"}),
            metric: object("x", "Service", "v1", "svc"),
            fragments: &["requests-per-second needs kind Ingress or RouteGroup"],
        },
        Case {
            annotations: json!({"metric-config.external.x.prometheus/query": "q",
                "metric-config.external.x.prometheus/min-pod-ready-age": "1m"}),
            metric: external("x", json!({"type": "prometheus"})),
            fragments: &["min-pod-ready-age applies to pods metrics only"],
        },
    ];
    for case in cases {
        let mut annotations = case.annotations.clone();
        annotations["metric-config.external.ok.prometheus/query"] = json!("sum(ok)");
        let built = build_hpa_collectors(
            &hpa(
                annotations,
                json!([case.metric, external("ok", json!({"type": "prometheus"}))]),
            ),
            &settings(),
        );
        let message = only_error(&built);
        for fragment in case.fragments {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        assert!(!message.contains("format ''"), "{message}");
        assert_eq!(
            built.configs.len(),
            1,
            "the healthy metric must survive: {message}"
        );
        assert_eq!(built.configs[0].metric.name, "ok");
    }
}

#[test]
fn no_prometheus_server_anywhere_is_reported() {
    let built = build_hpa_collectors(
        &hpa(
            json!({"metric-config.external.x.prometheus/query": "sum(x)"}),
            json!([external("x", json!({"type": "prometheus"}))]),
        ),
        &CollectionSettings::default(),
    );
    let message = only_error(&built);
    assert!(message.contains("--prometheus-server"), "{message}");
    assert_eq!(
        built.errors[0].id.as_ref().unwrap().0,
        "shop/web/external/x"
    );
}

#[test]
fn annotations_for_metrics_not_in_the_spec_are_reported() {
    let built = build_hpa_collectors(
        &hpa(
            json!({"metric-config.external.typo.prometheus/query": "sum(x)"}),
            json!([]),
        ),
        &settings(),
    );
    let message = only_error(&built);
    assert!(
        message.contains("no external metric named \"typo\""),
        "{message}"
    );
}

#[test]
fn repeated_metric_names_get_distinct_ids() {
    let built = build_hpa_collectors(
        &hpa(
            json!({}),
            json!([
                external(
                    "q",
                    json!({"type": "sqs-queue-length", "queue-name": "a", "region": "eu-central-1"})
                ),
                external(
                    "q",
                    json!({"type": "sqs-queue-length", "queue-name": "b", "region": "eu-central-1"})
                ),
            ]),
        ),
        &settings(),
    );
    let ids: Vec<&str> = built.configs.iter().map(|c| c.id.0.as_str()).collect();
    assert_eq!(ids, ["shop/web/external/q", "shop/web/external/q#2"]);
}

#[test]
fn resource_names_follow_kubernetes_plurals() {
    assert_eq!(
        resource_name("networking.k8s.io/v1", "Ingress"),
        "ingresses.networking.k8s.io"
    );
    assert_eq!(resource_name("apps/v1", "Deployment"), "deployments.apps");
    assert_eq!(resource_name("v1", "Service"), "services");
    assert_eq!(resource_name("v1", "Pod"), "pods");
    assert_eq!(resource_name("policy/v1", "Policy"), "policies.policy");
    assert_eq!(resource_name("v1", "Endpoints"), "endpoints");
}

#[test]
fn prometheus_server_annotations_must_name_an_allowed_server() {
    let hpa_with = |server: &str| {
        hpa(
            json!({
                "metric-config.external.x.prometheus/query": "sum(x)",
                "metric-config.external.x.prometheus/prometheus-server": server,
            }),
            json!([external("x", json!({"type": "prometheus"}))]),
        )
    };
    let built = build_hpa_collectors(&hpa_with("http://elsewhere:9090"), &settings());
    let message = only_error(&built);
    assert!(
        message.contains("metric-config.external.x.prometheus/prometheus-server")
            && message.contains("\"http://elsewhere:9090\" is not allowed")
            && message.contains("http://prometheus.monitoring:9090"),
        "{message}"
    );
    assert_eq!(
        built.errors[0].error.reason(),
        "prometheus_server_not_allowed"
    );
    // The default server and the allowed ones may be named, with or without a trailing slash.
    for server in ["http://prometheus.monitoring:9090/", "http://other:9090"] {
        let built = build_hpa_collectors(&hpa_with(server), &settings());
        assert!(built.errors.is_empty(), "{server}: {:?}", built.errors);
    }
}

#[test]
fn sqs_regions_are_an_allow_list_even_when_empty() {
    let built = build_hpa_collectors(
        &hpa(
            json!({}),
            json!([external(
                "jobs",
                json!({"type": "sqs-queue-length", "queue-name": "jobs", "region": "eu-central-1"})
            )]),
        ),
        &CollectionSettings::default(),
    );
    let message = only_error(&built);
    assert!(
        message.contains("\"eu-central-1\" is not configured")
            && message.contains("start the adapter with --aws-region"),
        "{message}"
    );
}

#[test]
fn intervals_and_timeouts_out_of_bounds_are_clamped_and_reported() {
    let built = build_hpa_collectors(
        &hpa(
            json!({
                "metric-config.external.fast.json-path/endpoint": "http://svc.ns:8080/stats",
                "metric-config.external.fast.json-path/json-key": "$.x",
                "metric-config.external.fast.json-path/interval": "1s",
                "metric-config.external.fast.json-path/request-timeout": "5m",
                "metric-config.external.slow.prometheus/query": "sum(x)",
                "metric-config.external.slow.prometheus/interval": "1000d",
            }),
            json!([
                external("fast", json!({"type": "json-path"})),
                external("slow", json!({"type": "prometheus"})),
            ]),
        ),
        &settings(),
    );
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let config = |name: &str| {
        built
            .configs
            .iter()
            .find(|c| c.metric.name == name)
            .unwrap()
    };
    assert_eq!(config("fast").interval, Duration::from_secs(5));
    assert_eq!(config("slow").interval, Duration::from_secs(600));
    let Source::UrlJsonPath(fast) = &config("fast").source else {
        panic!("json-path source expected")
    };
    assert_eq!(fast.timeouts.request, Duration::from_secs(30));
    let adjusted: Vec<String> = built.adjusted.iter().map(|c| c.to_string()).collect();
    assert_eq!(adjusted.len(), 3, "{adjusted:?}");
    assert!(
        adjusted.iter().any(
            |a| a.contains("interval 1s is not allowed (must be between 5s and 10m); using 5s")
        ),
        "{adjusted:?}"
    );
    assert!(
        adjusted.iter().any(|a| a.contains("request-timeout 5m")),
        "{adjusted:?}"
    );
    assert!(
        adjusted
            .iter()
            .any(|a| a.contains("\"slow\": interval") && a.ends_with("using 10m")),
        "{adjusted:?}"
    );
}

#[test]
fn promql_namespace_isolation_rewrites_annotation_queries_or_refuses_them() {
    let annotations = json!({
        "metric-config.external.events.prometheus/query": "scalar(sum(rate(events_total[1m])))",
        "metric-config.external.theirs.prometheus/query": "sum(x{namespace=\"kube-system\"})",
        "metric-config.object.lag.prometheus/query": "sum(lag",
    });
    let metrics = json!([
        external("events", json!({"type": "prometheus"})),
        external("theirs", json!({"type": "prometheus"})),
        object("lag", "Service", "v1", "worker"),
    ]);
    let query_of = |built: &HpaCollectors, name: &str| {
        built
            .configs
            .iter()
            .find(|c| c.metric.name == name)
            .map(|c| match &c.source {
                Source::Prometheus(p) => p.query.clone(),
                other => panic!("{other:?}"),
            })
    };
    // Off (the default): queries are used as written.
    let built = build_hpa_collectors(&hpa(annotations.clone(), metrics.clone()), &settings());
    assert_eq!(
        query_of(&built, "theirs").as_deref(),
        Some("sum(x{namespace=\"kube-system\"})")
    );
    let isolated = CollectionSettings {
        promql_namespace_isolation: true,
        ..settings()
    };
    let built = build_hpa_collectors(&hpa(annotations, metrics), &isolated);
    assert_eq!(
        query_of(&built, "events").as_deref(),
        Some("scalar(sum(rate(events_total{namespace=\"shop\"}[1m])))")
    );
    assert_eq!(query_of(&built, "theirs"), None);
    assert_eq!(built.errors.len(), 2, "{:?}", built.errors);
    let messages: Vec<String> = built.errors.iter().map(|e| e.error.to_string()).collect();
    assert!(
        messages[0].contains("metric-config.external.theirs.prometheus/query")
            && messages[0].contains("namespace=\"kube-system\""),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("metric-config.object.lag.prometheus/query")
            && messages[1].contains("does not parse as PromQL"),
        "{messages:?}"
    );
}
