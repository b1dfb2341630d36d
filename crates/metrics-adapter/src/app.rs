//! `tidal metrics-adapter`: flags, validation, and wiring of store, collection, API and admin
//! servers, with a graceful shutdown on SIGTERM.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use futures::FutureExt;
use ipnet::IpNet;
use prometheus_client::registry::Registry;
use rustls::ServerConfig;
use tidal_runtime::{Clock, Readiness, admin};
use tokio::sync::watch;

use crate::api::{self, ApiState};
use crate::auth::RequestHeaderAuth;
use crate::collection::{Collection, DebugCollectors};
use crate::config::limits::{MAX_INTERVAL, MIN_INTERVAL};
use crate::config::{CollectionSettings, DEFAULT_BODY_BUDGET_BYTES, DEFAULT_MAX_BODY_BYTES};
use crate::metrics::{Metrics, ValueAgeCollector};
use crate::outbound::OutboundPolicy;
use crate::server::{ConnectionLimits, serve_tls};
use crate::store::MetricStore;
use crate::supervisor::{Shutdown, Supervisor};
use crate::tls;
use crate::tls_source::{Loaded, TlsSource};

/// How often expired values are dropped from memory (they are never served regardless).
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How often certificate files and the front-proxy CA are re-read.
const TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Flags of `tidal metrics-adapter` (names follow Kubernetes API servers).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Port of the HTTPS metrics API that kube-apiserver proxies to.
    #[arg(long, default_value_t = 6443, env = "TIDAL_SECURE_PORT")]
    pub secure_port: u16,
    /// Address the HTTPS metrics API listens on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED), env = "TIDAL_BIND_ADDRESS")]
    pub bind_address: IpAddr,
    /// PEM file with the serving certificate (chain) of the metrics API.
    #[arg(long, env = "TIDAL_TLS_CERT_FILE")]
    pub tls_cert_file: PathBuf,
    /// PEM file with the private key of the serving certificate.
    #[arg(long, env = "TIDAL_TLS_PRIVATE_KEY_FILE")]
    pub tls_private_key_file: PathBuf,
    /// PEM bundle of the front-proxy (requestheader) client CA; read from the
    /// kube-system/extension-apiserver-authentication ConfigMap when not given.
    #[arg(long, env = "TIDAL_REQUESTHEADER_CLIENT_CA_FILE")]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// Client certificate CNs allowed to proxy (comma-separated); empty allows any CN the CA
    /// signed. Without the CA flag, defaults to the ConfigMap's list.
    #[arg(long, value_delimiter = ',', env = "TIDAL_REQUESTHEADER_ALLOWED_NAMES")]
    pub requestheader_allowed_names: Vec<String>,
    /// Port of the admin server (`/metrics`, `/healthz`, `/readyz`, `/debug/collectors`).
    #[arg(long, default_value_t = 8080, env = "TIDAL_ADMIN_PORT")]
    pub admin_port: u16,
    /// Prometheus used by HPAs that name none (e.g. `http://prometheus.monitoring:9090`).
    #[arg(long, env = "TIDAL_PROMETHEUS_SERVER")]
    pub prometheus_server: Option<String>,
    /// AWS region SQS queues may be in; repeat for several. Default: the region the adapter
    /// runs in (`AWS_REGION`); without one, SQS metrics are refused.
    #[arg(long = "aws-region", env = "TIDAL_AWS_REGION", value_delimiter = ',')]
    pub aws_regions: Vec<String>,
    /// Endpoint override for AWS clients (tests against moto).
    #[arg(long, env = "TIDAL_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// Most connections the metrics API keeps open at once; more clients wait until one closes.
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections, env = "TIDAL_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Collection interval of metrics without an `interval` annotation (e.g. `60s`, `2m`).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, env = "TIDAL_DEFAULT_COLLECTION_INTERVAL")]
    pub default_collection_interval: Duration,

    /// Bounds on what HPA annotations can make the collectors do (outbound policy, memory,
    /// fairness, supervision).
    #[command(flatten)]
    pub tenancy: TenancyArgs,
}

/// Flags bounding what HPA annotations (untrusted tenants) can make the collectors do.
#[derive(Debug, Clone, clap::Args)]
pub struct TenancyArgs {
    /// CIDR a json-path endpoint or Prometheus may resolve to although a default refuses it
    /// (loopback, link-local, metadata); repeat or comma-separate. Never lifts --pod-ip.
    #[arg(long, value_delimiter = ',', env = "TIDAL_OUTBOUND_ALLOW_CIDR")]
    pub outbound_allow_cidr: Vec<IpNet>,
    /// CIDR collectors must never connect to (besides the defaults); repeat or comma-separate.
    #[arg(long, value_delimiter = ',', env = "TIDAL_OUTBOUND_DENY_CIDR")]
    pub outbound_deny_cidr: Vec<IpNet>,
    /// The adapter's own pod IP(s) (from the downward API), which collectors never connect to.
    #[arg(long, value_delimiter = ',', env = "TIDAL_POD_IP")]
    pub pod_ip: Vec<IpAddr>,
    /// Prometheus server an HPA may name in `prometheus-server` besides --prometheus-server;
    /// repeat for several.
    #[arg(long, value_delimiter = ',', env = "TIDAL_ALLOWED_PROMETHEUS_SERVER")]
    pub allowed_prometheus_server: Vec<String>,
    /// Largest response body a collector reads, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES, env = "TIDAL_MAX_RESPONSE_BYTES")]
    pub max_response_bytes: usize,
    /// Bytes of response bodies (and their parsed form) held at once across all collections.
    #[arg(long, default_value_t = DEFAULT_BODY_BUDGET_BYTES, env = "TIDAL_RESPONSE_MEMORY_BUDGET_BYTES")]
    pub response_memory_budget_bytes: usize,
    /// Collections running at once.
    #[arg(long, default_value_t = CollectionSettings::default().max_concurrent_collections, env = "TIDAL_MAX_CONCURRENT_COLLECTIONS")]
    pub max_concurrent_collections: usize,
    /// Collections of one namespace running at once.
    #[arg(long, default_value_t = CollectionSettings::default().max_concurrent_per_namespace, env = "TIDAL_MAX_CONCURRENT_COLLECTIONS_PER_NAMESPACE")]
    pub max_concurrent_collections_per_namespace: usize,
    /// How long the adapter reports not-ready after a background task died before it exits.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "TIDAL_TASK_FAILURE_GRACE")]
    pub task_failure_grace: Duration,
}

impl TenancyArgs {
    /// Checks the flags; returns the first problem.
    fn validate(&self, default_interval: Duration) -> Result<(), ArgsError> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&default_interval) {
            return Err(ArgsError::IntervalOutOfBounds(default_interval));
        }
        let zero = [
            ("max-response-bytes", self.max_response_bytes),
            (
                "response-memory-budget-bytes",
                self.response_memory_budget_bytes,
            ),
            (
                "max-concurrent-collections",
                self.max_concurrent_collections,
            ),
            (
                "max-concurrent-collections-per-namespace",
                self.max_concurrent_collections_per_namespace,
            ),
        ];
        if let Some((flag, _)) = zero.iter().find(|(_, v)| *v == 0) {
            return Err(ArgsError::Zero { flag });
        }
        if self.response_memory_budget_bytes < self.max_response_bytes {
            return Err(ArgsError::BudgetBelowBody);
        }
        for server in &self.allowed_prometheus_server {
            check_url("allowed-prometheus-server", Some(server))?;
        }
        Ok(())
    }

    /// Applies these flags to `settings`; `configured_region` is the region the adapter runs
    /// in, the SQS allow-list when `--aws-region` is not given.
    fn apply(&self, settings: &mut CollectionSettings, configured_region: Option<String>) {
        settings.outbound = OutboundPolicy {
            allow: self.outbound_allow_cidr.clone(),
            deny: self.outbound_deny_cidr.clone(),
            own_ips: self.pod_ip.clone(),
        };
        settings.allowed_prometheus_servers = self.allowed_prometheus_server.clone();
        settings.max_body_bytes = self.max_response_bytes;
        settings.body_budget_bytes = self.response_memory_budget_bytes;
        settings.max_concurrent_collections = self.max_concurrent_collections;
        settings.max_concurrent_per_namespace = self.max_concurrent_collections_per_namespace;
        if settings.aws_regions.is_empty() {
            settings.aws_regions.extend(configured_region);
        }
    }
}

/// The region the adapter runs in, from the environment only (`AWS_REGION`,
/// `AWS_DEFAULT_REGION`): no network call, so it is also safe where no metadata service exists.
async fn configured_region() -> Option<String> {
    use aws_config::meta::region::ProvideRegion;
    aws_config::environment::region::EnvironmentVariableRegionProvider::new()
        .region()
        .await
        .map(|r| r.to_string())
}

/// A flag value that cannot work, found before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// A port flag is 0.
    #[error("--{flag} must be a port between 1 and 65535")]
    ZeroPort {
        /// The flag.
        flag: &'static str,
    },
    /// The API and admin ports collide.
    #[error("--secure-port and --admin-port are both {0}; they must differ")]
    SamePort(u16),
    /// The default interval is zero.
    #[error("--default-collection-interval must be longer than zero")]
    ZeroInterval,
    /// No connection allowed.
    #[error("--max-connections must be at least 1")]
    ZeroConnections,
    /// A URL flag does not parse as an http(s) URL.
    #[error("--{flag} {value:?} is not an http:// or https:// URL")]
    BadUrl {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
    },
    /// An allowed name is empty (e.g. `a,,b`).
    #[error("--requestheader-allowed-names contains an empty name")]
    EmptyAllowedName,
    /// The default interval is outside the bounds every interval is clamped to.
    #[error("--default-collection-interval {0:?} must be between 5s and 10m")]
    IntervalOutOfBounds(Duration),
    /// A size or count flag is 0.
    #[error("--{flag} must be at least 1")]
    Zero {
        /// The flag.
        flag: &'static str,
    },
    /// The memory budget cannot hold one body.
    #[error("--response-memory-budget-bytes must be at least --max-response-bytes")]
    BudgetBelowBody,
}

fn check_url(flag: &'static str, value: Option<&str>) -> Result<(), ArgsError> {
    let Some(value) = value else { return Ok(()) };
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(ArgsError::BadUrl {
            flag,
            value: value.to_string(),
        }),
    }
}

impl Args {
    /// Checks the flags that can be checked without touching files or the network.
    pub fn validate(&self) -> Result<(), ArgsError> {
        if self.secure_port == 0 {
            return Err(ArgsError::ZeroPort {
                flag: "secure-port",
            });
        }
        if self.admin_port == 0 {
            return Err(ArgsError::ZeroPort { flag: "admin-port" });
        }
        if self.secure_port == self.admin_port {
            return Err(ArgsError::SamePort(self.secure_port));
        }
        if self.default_collection_interval.is_zero() {
            return Err(ArgsError::ZeroInterval);
        }
        if self.max_connections == 0 {
            return Err(ArgsError::ZeroConnections);
        }
        if self
            .requestheader_allowed_names
            .iter()
            .any(|n| n.trim().is_empty())
        {
            return Err(ArgsError::EmptyAllowedName);
        }
        check_url("prometheus-server", self.prometheus_server.as_deref())?;
        check_url("aws-endpoint-url", self.aws_endpoint_url.as_deref())?;
        self.tenancy.validate(self.default_collection_interval)?;
        Ok(())
    }

    /// The collection settings these flags give (other settings keep their defaults);
    /// `configured_region` is the region the adapter runs in.
    pub fn collection_settings(&self, configured_region: Option<String>) -> CollectionSettings {
        let mut settings = CollectionSettings {
            default_interval: self.default_collection_interval,
            prometheus_server: self.prometheus_server.clone(),
            aws_regions: self.aws_regions.clone(),
            aws_endpoint_url: self.aws_endpoint_url.clone(),
            ..CollectionSettings::default()
        };
        self.tenancy.apply(&mut settings, configured_region);
        settings
    }
}

/// What startup loads and checks before anything is served.
struct Prepared {
    client: kube::Client,
    source: TlsSource,
    loaded: Loaded,
}

/// Loads certificates and the requestheader CA: every file is read before the first network call.
async fn prepare(args: &Args) -> anyhow::Result<Prepared> {
    args.validate()?;
    let mut source = TlsSource {
        cert_file: args.tls_cert_file.clone(),
        key_file: args.tls_private_key_file.clone(),
        ca_file: args.requestheader_client_ca_file.clone(),
        client: None,
        allowed_names_flag: args.requestheader_allowed_names.clone(),
    };
    if source.ca_file.is_some() {
        // Fail on unreadable files before talking to the cluster.
        source.load().await?;
    } else {
        tls::certificates_from_file(&source.cert_file, "serving certificate")?;
        tls::private_key_from_file(&source.key_file)?;
    }
    let client = tidal_runtime::kube_client().await?;
    source.client = Some(client.clone());
    let loaded = source.load().await?;
    tracing::info!(client_ca = %loaded.ca.origin, allowed_names = ?loaded.ca.allowed_names, "front-proxy authentication configured");
    Ok(Prepared {
        client,
        source,
        loaded,
    })
}

/// Runs the metrics adapter until SIGTERM/SIGINT: validates flags and files first, then serves.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let prepared = prepare(&args).await?;
    let readiness = Readiness::new();
    let supervisor = Supervisor::new(readiness.clone());
    let shutdown = shutdown_on_signal_or_failure(&supervisor, args.tenancy.task_failure_grace);
    let clock = Clock::system();
    let store = MetricStore::new();
    let mut registry = Registry::with_prefix("tidal_metrics_adapter");
    let metrics = Metrics::new(&mut registry);
    ValueAgeCollector::register(&mut registry, store.clone(), clock.clone());
    let collection = Collection::new(
        prepared.client,
        store.clone(),
        args.collection_settings(configured_region().await),
        metrics.clone(),
        clock.clone(),
    )?;

    let admin = admin::serve(
        SocketAddr::new(args.bind_address, args.admin_port),
        Arc::new(registry),
        readiness.clone(),
        debug_router(collection.debug(), clock.clone()),
        shutdown.clone(),
    )
    .await?;
    let api_addr = SocketAddr::new(args.bind_address, args.secure_port);
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("cannot listen on {api_addr} (--secure-port)"))?;
    let state = ApiState {
        store: store.clone(),
        metrics,
        clock: clock.clone(),
    };
    let auth = Arc::new(RequestHeaderAuth::new(
        prepared.loaded.ca.allowed_names.clone(),
    ));
    let (tls_tx, tls_rx) = watch::channel(prepared.loaded.config.clone());
    let reloading = tokio::spawn(prepared.source.reload_loop(
        prepared.loaded,
        tls_tx,
        Arc::clone(&auth),
        TLS_RELOAD_INTERVAL,
        shutdown.clone(),
    ));
    let collecting = tokio::spawn(collection.run(shutdown.clone(), supervisor.clone()));
    let purging = supervisor.spawn(
        "purge",
        &shutdown,
        purge_loop(store, clock, shutdown.clone()),
    );
    if supervisor.failure().is_none() {
        readiness.set_ready(true);
    }
    tracing::info!(addr = %api_addr, "metrics API listening");
    let limits = ConnectionLimits {
        max_connections: args.max_connections,
        ..ConnectionLimits::default()
    };
    serve_api(listener, tls_rx, state, auth, limits, shutdown).await;
    readiness.set_ready(false);
    for (name, task) in [
        ("collection", collecting),
        ("purge", purging),
        ("TLS reload", reloading),
    ] {
        task.await.with_context(|| format!("{name} task failed"))?;
    }
    admin.stopped().await?;
    if let Some(task) = supervisor.failure() {
        anyhow::bail!(
            "the {task} task stopped unexpectedly; exiting so Kubernetes restarts the adapter"
        );
    }
    tracing::info!("metrics adapter stopped");
    Ok(())
}

/// Resolves on SIGTERM/SIGINT, or `grace` after a supervised task stopped.
fn shutdown_on_signal_or_failure(supervisor: &Supervisor, grace: Duration) -> Shutdown {
    let signal = tidal_runtime::shutdown_signal();
    let failed = supervisor.failed(grace);
    async move {
        tokio::select! {
            () = signal => {}
            _ = failed => {}
        }
    }
    .boxed()
    .shared()
}

/// Serves the metrics API on `listener` within `limits` until `shutdown` resolves (used by
/// [`run`], the tests and the load-test server).
pub async fn serve_api(
    listener: tokio::net::TcpListener,
    tls: watch::Receiver<Arc<ServerConfig>>,
    state: ApiState,
    auth: Arc<RequestHeaderAuth>,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    serve_tls(listener, tls, api::router(state, auth), limits, shutdown).await;
}

async fn debug_collectors(
    State((debug, clock)): State<(DebugCollectors, Clock)>,
) -> axum::Json<serde_json::Value> {
    axum::Json(debug.json(clock.now()))
}

fn debug_router(debug: DebugCollectors, clock: Clock) -> Router {
    Router::new()
        .route("/debug/collectors", get(debug_collectors))
        .with_state((debug, clock))
}

async fn purge_loop(store: MetricStore, clock: Clock, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let dropped = store.purge_expired(clock.now());
                if dropped > 0 {
                    tracing::debug!(dropped, "dropped expired metric values");
                }
            }
            () = shutdown.clone() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

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

    #[tokio::test]
    async fn admin_routes_serve_debug_collectors_and_value_age() {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let (mock, _api) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = kube::Client::new(mock, "default");
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
        let metrics = Metrics::new(&mut registry);
        ValueAgeCollector::register(&mut registry, store.clone(), clock.clone());
        let collection = Collection::new(
            client,
            store,
            CollectionSettings::default(),
            metrics,
            clock.clone(),
        )
        .unwrap();
        let app = admin::router(
            Arc::new(registry),
            Readiness::new(),
            debug_router(collection.debug(), clock),
        );
        let get = |path: &str| {
            let request = http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await.unwrap();
                let status = response.status();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        };
        let (status, body) = get("/debug/collectors").await;
        assert_eq!(status, 200);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["collectors"], serde_json::json!([]));
        let (status, body) = get("/metrics").await;
        assert_eq!(status, 200);
        let age = "tidal_metrics_adapter_value_age_seconds{namespace=\"team-0\",hpa=\"app-0\",metric_type=\"pods\",metric=\"requests-per-second\"} 30.0";
        assert!(body.contains(age), "{body}");
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
        ];
        for (flags, needle) in cases {
            let err = parse(flags).unwrap().validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{flags:?}: {err}");
        }
        assert!(parse(&["--default-collection-interval", "soon"]).is_err());
        assert!(
            Cli::try_parse_from(["tidal"]).is_err(),
            "certificate flags are required"
        );
    }
}
