//! `tidal metrics-adapter`: flags, validation, and wiring of store, collection, API, admin and
//! debug servers, with a graceful shutdown on SIGTERM.
//!
//! Ports: the API (`--secure-port`, TLS, front-proxy authentication and delegated
//! authorization), the admin port (`--admin-port`: `/metrics`, `/healthz`, `/readyz`, no
//! authentication, so nothing tenant-specific), and, only with `--enable-debug-collectors`,
//! `/debug/collectors` on `--debug-address` (loopback by default: it lists every namespace's
//! HPAs, sources and errors).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use futures::FutureExt;
use ipnet::IpNet;
use prometheus_client::registry::Registry;
use rustls::ServerConfig;
use tidal_runtime::{Clock, Readiness, admin};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::auth::RequestHeaderAuth;
use crate::authorization::{AuthorizationFlags, Authorizer, KubeAccessReview};
use crate::collection::Collection;
use crate::config::limits::{MAX_INTERVAL, MIN_INTERVAL};
use crate::config::{CollectionSettings, DEFAULT_BODY_BUDGET_BYTES, DEFAULT_MAX_BODY_BYTES};
use crate::debug_server::{self, DebugBody, DebugServer};
use crate::metrics::{Metrics, ValueAgeCollector};
use crate::outbound::OutboundPolicy;
use crate::redact::redact_userinfo;
use crate::server::{ConnectionFlags, ConnectionLimits, serve_tls};
use crate::store::MetricStore;
use crate::supervisor::{Shutdown, Supervisor};
use crate::tls;
use crate::tls_source::{Loaded, TlsSource};

/// How often expired values are dropped from memory (they are never served regardless).
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How often certificate files and the front-proxy CA are re-read.
const TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(60);
/// Default `--debug-address`: loopback, so only `kubectl port-forward` (or the pod) reaches it.
const DEFAULT_DEBUG_ADDRESS: &str = "127.0.0.1:8081";

/// Flags of `tidal metrics-adapter` (names follow Kubernetes API servers).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Port of the HTTPS metrics API that kube-apiserver proxies to.
    #[arg(long, default_value_t = 6443, env = "TIDAL_SECURE_PORT")]
    pub secure_port: u16,
    /// Address the HTTPS metrics API and the admin server listen on.
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
    /// Port of the admin server (`/metrics`, `/healthz`, `/readyz`).
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

    // API connections, delegated authorization, the debug endpoint and PromQL tenancy
    // (issue 10, points 4 to 7).
    /// Idle timeout and maximum age of API connections.
    #[command(flatten)]
    pub connections: ConnectionFlags,
    /// SubjectAccessReview of every API request.
    #[command(flatten)]
    pub authorization: AuthorizationFlags,
    /// Serve `/debug/collectors` (every HPA's collectors, sources, values and errors, across
    /// namespaces) on `--debug-address`.
    #[arg(long, env = "TIDAL_ENABLE_DEBUG_COLLECTORS")]
    pub enable_debug_collectors: bool,
    /// Listen address of `/debug/collectors`; loopback by default so other pods cannot reach it.
    #[arg(long, default_value = DEFAULT_DEBUG_ADDRESS, env = "TIDAL_DEBUG_ADDRESS")]
    pub debug_address: SocketAddr,
    /// Confine annotation PromQL queries to the HPA's namespace: a `namespace="<HPA
    /// namespace>"` matcher is added to every selector, and a query that cannot be rewritten
    /// (or selects another namespace) is refused with a Warning Event.
    #[arg(long, env = "TIDAL_PROMQL_NAMESPACE_ISOLATION")]
    pub promql_namespace_isolation: bool,
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
    /// Two listeners would share a port.
    #[error("--{0} and --{1} use the same port {2}; they must differ")]
    SamePort(&'static str, &'static str, u16),
    /// A duration flag is zero.
    #[error("--{0} must be longer than zero")]
    ZeroDuration(&'static str),
    /// No connection allowed.
    #[error("--max-connections must be at least 1")]
    ZeroConnections,
    /// A URL flag does not parse as an http(s) URL.
    #[error("--{flag} {value:?} is not an http:// or https:// URL")]
    BadUrl {
        /// The flag.
        flag: &'static str,
        /// The value given, credentials redacted.
        value: String,
    },
    /// An allowed name is empty (e.g. `a,,b`).
    #[error("--requestheader-allowed-names contains an empty name")]
    EmptyAllowedName,
    /// An always-allow path is malformed.
    #[error("--authorization-always-allow-paths: {0}")]
    AlwaysAllowPath(String),
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
            value: redact_userinfo(value).into_owned(),
        }),
    }
}

impl Args {
    /// Checks the flags that can be checked without touching files or the network.
    pub fn validate(&self) -> Result<(), ArgsError> {
        self.check_ports()?;
        let durations = [
            (
                "default-collection-interval",
                self.default_collection_interval,
            ),
            (
                "connection-idle-timeout",
                self.connections.connection_idle_timeout,
            ),
            ("max-connection-age", self.connections.max_connection_age),
        ];
        if let Some((flag, _)) = durations.iter().find(|(_, d)| d.is_zero()) {
            return Err(ArgsError::ZeroDuration(flag));
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
        self.authorization
            .always_allow()
            .map_err(ArgsError::AlwaysAllowPath)?;
        check_url("prometheus-server", self.prometheus_server.as_deref())?;
        check_url("aws-endpoint-url", self.aws_endpoint_url.as_deref())?;
        self.tenancy.validate(self.default_collection_interval)?;
        Ok(())
    }

    fn check_ports(&self) -> Result<(), ArgsError> {
        if self.secure_port == 0 {
            return Err(ArgsError::ZeroPort {
                flag: "secure-port",
            });
        }
        if self.admin_port == 0 {
            return Err(ArgsError::ZeroPort { flag: "admin-port" });
        }
        if self.secure_port == self.admin_port {
            return Err(ArgsError::SamePort(
                "secure-port",
                "admin-port",
                self.secure_port,
            ));
        }
        if self.enable_debug_collectors {
            let debug = self.debug_address.port();
            for (flag, port) in [
                ("secure-port", self.secure_port),
                ("admin-port", self.admin_port),
            ] {
                if debug == port {
                    return Err(ArgsError::SamePort(flag, "debug-address", port));
                }
            }
        }
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
            promql_namespace_isolation: self.promql_namespace_isolation,
            ..CollectionSettings::default()
        };
        self.tenancy.apply(&mut settings, configured_region);
        settings
    }

    /// The API port's connection limits these flags give.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            idle_timeout: self.connections.connection_idle_timeout,
            max_age: self.connections.max_connection_age,
            ..ConnectionLimits::default()
        }
    }

    /// The authorizer these flags ask for, reviewing through `client`.
    pub fn authorizer(&self, client: kube::Client) -> Result<Authorizer, ArgsError> {
        let flags = &self.authorization;
        if flags.disable_authorization {
            tracing::warn!("delegated authorization is off: every authenticated request is served");
            return Ok(Authorizer::disabled());
        }
        let always_allow = flags.always_allow().map_err(ArgsError::AlwaysAllowPath)?;
        Ok(Authorizer::delegated(
            Arc::new(KubeAccessReview::new(client)),
            always_allow,
            flags.cache(),
            tidal_runtime::Clock::system(),
        ))
    }
}

/// A background task and the name its failure is reported under.
type NamedTask = (&'static str, JoinHandle<()>);

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
        prepared.client.clone(),
        store.clone(),
        args.collection_settings(configured_region().await),
        metrics.clone(),
        clock.clone(),
    )?;
    let debug_body: DebugBody = {
        let (debug, clock) = (collection.debug(), clock.clone());
        Arc::new(move || debug.json(clock.now()))
    };
    let side = serve_side_ports(&args, registry, &readiness, debug_body, &shutdown).await?;
    let api_addr = SocketAddr::new(args.bind_address, args.secure_port);
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("cannot listen on {api_addr} (--secure-port)"))?;
    let authorizer = args.authorizer(prepared.client.clone())?;
    let auth = Arc::new(RequestHeaderAuth::new(
        prepared.loaded.ca.allowed_names.clone(),
    ));
    let background = Background {
        collection,
        store: store.clone(),
        clock: clock.clone(),
        supervisor: supervisor.clone(),
    };
    let (tls, tasks) = spawn_background(prepared, &auth, background, &shutdown);
    // A task that already died keeps the adapter unready until the grace period ends it.
    if supervisor.failure().is_none() {
        readiness.set_ready(true);
    }
    tracing::info!(addr = %api_addr, "metrics API listening");
    let state = ApiState {
        store,
        metrics,
        clock,
    };
    let limits = args.connection_limits();
    serve_api(listener, tls, state, auth, authorizer, limits, shutdown).await;
    readiness.set_ready(false);
    for (name, task) in tasks {
        task.await.with_context(|| format!("{name} task failed"))?;
    }
    side.stopped().await?;
    if let Some(task) = supervisor.failure() {
        anyhow::bail!(
            "the {task} task stopped unexpectedly; exiting so Kubernetes restarts the adapter"
        );
    }
    tracing::info!("metrics adapter stopped");
    Ok(())
}

/// The admin server and, when enabled, the debug server.
struct SidePorts {
    admin: admin::AdminServer,
    debug: Option<DebugServer>,
}

impl SidePorts {
    async fn stopped(self) -> anyhow::Result<()> {
        self.admin.stopped().await?;
        if let Some(debug) = self.debug {
            debug.task.await.context("debug server task failed")??;
        }
        Ok(())
    }
}

/// Starts the admin port (`/metrics`, `/healthz`, `/readyz`) and, with
/// `--enable-debug-collectors`, `/debug/collectors` on `--debug-address`.
async fn serve_side_ports(
    args: &Args,
    registry: Registry,
    readiness: &Readiness,
    debug_body: DebugBody,
    shutdown: &Shutdown,
) -> anyhow::Result<SidePorts> {
    let admin = admin::serve(
        SocketAddr::new(args.bind_address, args.admin_port),
        Arc::new(registry),
        readiness.clone(),
        Router::new(),
        shutdown.clone(),
    )
    .await?;
    let debug = if args.enable_debug_collectors {
        let addr = args.debug_address;
        Some(debug_server::serve(addr, debug_body, shutdown.clone()).await?)
    } else {
        None
    };
    Ok(SidePorts { admin, debug })
}

/// The supervised work beside the API: collection and purging of expired values.
struct Background {
    collection: Collection,
    store: MetricStore,
    clock: Clock,
    supervisor: Supervisor,
}

/// Starts what runs beside the API until shutdown: TLS reloading, collection and purging.
/// Returns the receiver of the current TLS configuration and the named tasks.
fn spawn_background(
    prepared: Prepared,
    auth: &Arc<RequestHeaderAuth>,
    background: Background,
    shutdown: &Shutdown,
) -> (watch::Receiver<Arc<ServerConfig>>, [NamedTask; 3]) {
    let (tls_tx, tls_rx) = watch::channel(prepared.loaded.config.clone());
    let reloading = tokio::spawn(prepared.source.reload_loop(
        prepared.loaded,
        tls_tx,
        Arc::clone(auth),
        TLS_RELOAD_INTERVAL,
        shutdown.clone(),
    ));
    let Background {
        collection,
        store,
        clock,
        supervisor,
    } = background;
    let collecting = tokio::spawn(collection.run(shutdown.clone(), supervisor.clone()));
    let purging = supervisor.spawn(
        "purge",
        shutdown,
        purge_loop(store, clock, shutdown.clone()),
    );
    let tasks = [
        ("collection", collecting),
        ("purge", purging),
        ("TLS reload", reloading),
    ];
    (tls_rx, tasks)
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
    authorizer: Authorizer,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let router = api::router(state, auth, authorizer);
    serve_tls(listener, tls, router, limits, shutdown).await;
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
}
