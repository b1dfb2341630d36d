//! Flags of `tidal metrics-adapter` and their validation: every flag is checked, and every file
//! read, before the first network call.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::authorization::{AuthorizationFlags, Authorizer, KubeAccessReview};
use crate::config::limits::{MAX_INTERVAL, MIN_INTERVAL};
use crate::config::{CollectionSettings, DEFAULT_BODY_BUDGET_BYTES, DEFAULT_MAX_BODY_BYTES};
use crate::outbound::OutboundPolicy;
use crate::redact::redact_userinfo;
use crate::server::{ConnectionFlags, ConnectionLimits};

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
pub(super) async fn configured_region() -> Option<String> {
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
