#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use clap::Parser;
use std::net::IpAddr;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
    let base = [
        "tidal",
        "--tls-cert-file",
        "c.pem",
        "--tls-private-key-file",
        "k.pem",
    ];
    Cli::try_parse_from(base.iter().chain(extra)).map(|c| c.args)
}

#[test]
fn defaults_match_kubernetes_api_servers() {
    let args = parse(&[]).unwrap();
    assert_eq!(args.secure_port, 6443);
    assert_eq!(args.admin_port, 8080);
    assert_eq!(args.default_collection_interval, Duration::from_secs(60));
    assert!(args.requestheader_allowed_names.is_empty());
    assert!(args.validate().is_ok());
    let limits = args.connection_limits();
    assert_eq!(limits.idle_timeout, Duration::from_secs(90));
    assert_eq!(limits.max_age, Duration::from_secs(600));
    assert!(!args.authorization.disable_authorization);
    assert_eq!(
        args.authorization.cache().allowed_ttl,
        Duration::from_secs(300)
    );
    assert_eq!(
        args.authorization.cache().denied_ttl,
        Duration::from_secs(30)
    );
    let always = &args.authorization.authorization_always_allow_paths;
    assert!(always.contains(&"/healthz".to_string()), "{always:?}");
    assert!(always.contains(&"/apis/external.metrics.k8s.io/v1beta1".to_string()));
    assert!(!args.promql_namespace_isolation);
    assert!(!args.collection_settings(None).promql_namespace_isolation);
}

#[test]
fn repeatable_and_list_flags_parse() {
    let args = parse(&[
        "--aws-region",
        "eu-central-1",
        "--aws-region",
        "eu-west-1",
        "--requestheader-allowed-names",
        "front-proxy-client,aggregator",
        "--default-collection-interval",
        "2m",
    ])
    .unwrap();
    assert_eq!(args.aws_regions, ["eu-central-1", "eu-west-1"]);
    assert_eq!(
        args.requestheader_allowed_names,
        ["front-proxy-client", "aggregator"]
    );
    let settings = args.collection_settings(None);
    assert_eq!(settings.default_interval, Duration::from_secs(120));
    assert_eq!(settings.aws_regions, ["eu-central-1", "eu-west-1"]);
}

#[test]
fn tenancy_flags_become_collection_settings_and_bad_ones_are_refused() {
    let args = parse(&[
        "--outbound-allow-cidr",
        "127.0.0.0/8",
        "--pod-ip",
        "127.0.0.2",
        "--allowed-prometheus-server",
        "http://prom-a:9090,http://prom-b:9090",
        "--max-concurrent-collections-per-namespace",
        "4",
    ])
    .unwrap();
    assert!(args.validate().is_ok());
    let settings = args.collection_settings(Some("eu-west-1".into()));
    assert_eq!(settings.outbound.allow, ["127.0.0.0/8".parse().unwrap()]);
    assert_eq!(
        settings.outbound.own_ips,
        ["127.0.0.2".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(settings.allowed_prometheus_servers.len(), 2);
    assert_eq!(settings.max_concurrent_per_namespace, 4);
    assert_eq!(settings.max_body_bytes, 1 << 20);
    assert_eq!(
        settings.aws_regions,
        ["eu-west-1"],
        "the configured region by default"
    );
    let explicit = parse(&["--aws-region", "eu-central-1"]).unwrap();
    assert_eq!(
        explicit
            .collection_settings(Some("eu-west-1".into()))
            .aws_regions,
        ["eu-central-1"]
    );
    assert!(
        parse(&[])
            .unwrap()
            .collection_settings(None)
            .aws_regions
            .is_empty()
    );

    assert!(parse(&["--outbound-deny-cidr", "not-a-cidr"]).is_err());
    for bad in [
        &["--default-collection-interval", "1s"][..],
        &["--max-response-bytes", "0"],
        &["--response-memory-budget-bytes", "1000"],
        &["--allowed-prometheus-server", "prom:9090"],
    ] {
        let args = parse(bad).unwrap();
        assert!(args.validate().is_err(), "{bad:?} must be refused");
    }
}

async fn get(app: &Router, path: &str) -> (http::StatusCode, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_admin_port_serves_value_age_but_not_debug_collectors() {
    let store = MetricStore::new();
    let now = tidal_core::Timestamp::from_secs(1_800_000_000);
    let clock = Clock::manual(now);
    crate::testing::fill_synthetic(
        &store,
        1,
        1,
        now - Duration::from_secs(30),
        Duration::from_secs(180),
    );
    let mut registry = Registry::with_prefix("tidal_metrics_adapter");
    Metrics::new(&mut registry);
    ValueAgeCollector::register(&mut registry, store, clock);
    let app = admin::router(Arc::new(registry), Readiness::new(), Router::new());
    let (status, body) = get(&app, "/metrics").await;
    assert_eq!(status, 200);
    let age = "tidal_metrics_adapter_value_age_seconds{namespace=\"team-0\",hpa=\"app-0\",metric_type=\"pods\",metric=\"requests-per-second\"} 30.0";
    assert!(body.contains(age), "{body}");
    assert_eq!(get(&app, "/debug/collectors").await.0, 404);
}

#[test]
fn debug_collectors_is_off_by_default_and_on_loopback_when_enabled() {
    let args = parse(&[]).unwrap();
    assert!(!args.enable_debug_collectors);
    assert_eq!(args.debug_address, "127.0.0.1:8081".parse().unwrap());
    let args = parse(&["--enable-debug-collectors"]).unwrap();
    assert!(args.enable_debug_collectors && args.debug_address.ip().is_loopback());
}

#[test]
fn bad_flags_are_rejected_with_the_flag_named() {
    let cases: &[(&[&str], &str)] = &[
        (&["--secure-port", "0"], "--secure-port"),
        (&["--admin-port", "6443"], "--secure-port and --admin-port"),
        (
            &["--default-collection-interval", "0s"],
            "--default-collection-interval",
        ),
        (
            &["--prometheus-server", "prometheus:9090"],
            "--prometheus-server",
        ),
        (&["--aws-endpoint-url", "ftp://x"], "--aws-endpoint-url"),
        (
            &["--requestheader-allowed-names", "a,,b"],
            "--requestheader-allowed-names",
        ),
        (
            &[
                "--enable-debug-collectors",
                "--debug-address",
                "127.0.0.1:8080",
            ],
            "--admin-port and --debug-address",
        ),
        (
            &["--connection-idle-timeout", "0s"],
            "--connection-idle-timeout",
        ),
        (&["--max-connection-age", "0s"], "--max-connection-age"),
        (
            &["--authorization-always-allow-paths", "/healthz,apis"],
            "--authorization-always-allow-paths",
        ),
    ];
    for (flags, needle) in cases {
        let err = parse(flags).unwrap().validate().unwrap_err().to_string();
        assert!(err.contains(needle), "{flags:?}: {err}");
    }
    assert!(parse(&["--default-collection-interval", "soon"]).is_err());
    // The debug port only matters when the endpoint is on.
    assert!(
        parse(&["--debug-address", "127.0.0.1:8080"])
            .unwrap()
            .validate()
            .is_ok()
    );
    let err = parse(&[
        "--prometheus-server",
        "ftp://scraper:hunter2@prometheus:9090",
    ])
    .unwrap()
    .validate()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("ftp://***@prometheus:9090") && !err.contains("hunter2"),
        "{err}"
    );
    assert!(
        Cli::try_parse_from(["tidal"]).is_err(),
        "certificate flags are required"
    );
}
