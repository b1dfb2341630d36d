//! `tidal vpa`: flags, start-up order and wiring; `tidal vpa crds` prints the CRDs.
//!
//! Start-up order: every flag is validated first (a bad flag exits non-zero before any
//! network call); then the Kubernetes client, the VPA reflector and pod watcher, the usage
//! source, the admin server (`/metrics`, `/healthz`, `/readyz`), leader election, and the loop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tidal_core::vpa::{AggregationConfig, RecommenderConfig};
use tidal_runtime::{Clock, LeaderElector, LeaderHandle, Readiness, shutdown_signal};
use tracing::info;

use crate::dry_run::DryRun;
use crate::kube::{KubePods, KubeTargets, KubeVpas, KubeWriter};
use crate::metrics::Metrics;
use crate::ports::{UsageSource, VpaWriter};
use crate::recommender::{LoopConfig, Ports, Recommender};
use crate::usage::{MetricsApiUsage, PrometheusQueries, PrometheusUsage, WINDOW_PLACEHOLDER};

/// Where usage comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UsageSourceKind {
    /// Prometheus (cAdvisor metrics): live samples and history.
    Prometheus,
    /// The metrics.k8s.io PodMetrics API (metrics-server): live samples only.
    MetricsApi,
}

/// `tidal vpa` and its subcommands.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    about = "OOM-aware vertical pod autoscaler recommender (autoscaling.k8s.io/v1 VPAs)",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// `crds` prints the CRDs instead of running.
    #[command(subcommand)]
    pub command: Option<VpaCommand>,
    /// Flags of the recommender.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands of `tidal vpa`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum VpaCommand {
    /// Print the VerticalPodAutoscaler and VerticalPodAutoscalerCheckpoint CRDs (YAML), for
    /// clusters without upstream's.
    Crds,
}

/// Flags of the recommender.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Handle VPAs whose `spec.recommenders` names this recommender.
    #[arg(long, default_value = "tidal", env = "TIDAL_VPA_RECOMMENDER_NAME")]
    pub recommender_name: String,
    /// Also handle VPAs that name no recommender (as upstream's default recommender does; do
    /// not set while upstream's runs too).
    #[arg(long, env = "TIDAL_VPA_HANDLE_UNNAMED")]
    pub handle_unnamed: bool,
    /// Time between loops.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration, env = "TIDAL_VPA_INTERVAL")]
    pub interval: Duration,
    /// Writes (statuses, checkpoints) in flight at once.
    #[arg(long, default_value_t = 10, env = "TIDAL_VPA_WORKERS")]
    pub workers: usize,
    /// A status is rewritten when a value moved by more than this fraction (or a condition
    /// or container changed).
    #[arg(
        long,
        default_value_t = 0.01,
        env = "TIDAL_VPA_STATUS_CHANGE_THRESHOLD"
    )]
    pub status_change_threshold: f64,
    /// Time each loop may spend writing checkpoints.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration, env = "TIDAL_VPA_CHECKPOINT_BUDGET")]
    pub checkpoint_budget: Duration,
    /// A checkpoint is rewritten at most this often.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_VPA_CHECKPOINT_INTERVAL")]
    pub checkpoint_interval: Duration,
    /// Time between orphan-checkpoint collections.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_VPA_GC_INTERVAL")]
    pub gc_interval: Duration,
    /// Orphan checkpoints deleted per loop at most.
    #[arg(long, default_value_t = 500, env = "TIDAL_VPA_GC_BATCH")]
    pub gc_batch: usize,
    /// How long a target's selector is cached (failures: a tenth of it).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_VPA_TARGET_CACHE_TTL")]
    pub target_cache_ttl: Duration,
    /// Minimum CPU per pod in millicores, split across its containers.
    #[arg(long, default_value_t = 25.0, env = "TIDAL_VPA_POD_MIN_CPU_MILLICORES")]
    pub pod_min_cpu_millicores: f64,
    /// Minimum memory per pod in MiB, split across its containers.
    #[arg(long, default_value_t = 250.0, env = "TIDAL_VPA_POD_MIN_MEMORY_MIB")]
    pub pod_min_memory_mib: f64,
    /// Round CPU recommendations up to a multiple of this many millicores.
    #[arg(long, env = "TIDAL_VPA_CPU_ROUNDING_MILLICORES")]
    pub cpu_rounding_millicores: Option<i64>,
    /// Round memory recommendations up to a multiple of this many MiB.
    #[arg(long, env = "TIDAL_VPA_MEMORY_ROUNDING_MIB")]
    pub memory_rounding_mib: Option<i64>,
    /// Where usage comes from.
    #[arg(long, value_enum, default_value_t = UsageSourceKind::Prometheus, env = "TIDAL_VPA_USAGE_SOURCE")]
    pub usage_source: UsageSourceKind,
    /// Prometheus base URL (with `--usage-source prometheus`).
    #[arg(long, env = "TIDAL_VPA_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// Timeout of one Prometheus request.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "TIDAL_VPA_PROMETHEUS_TIMEOUT")]
    pub prometheus_timeout: Duration,
    /// CPU cores per container; must keep the `namespace`, `pod` and `container` labels;
    /// `$window` becomes the rate window.
    #[arg(long, default_value_t = PrometheusQueries::default().cpu, env = "TIDAL_VPA_PROMETHEUS_CPU_QUERY")]
    pub prometheus_cpu_query: String,
    /// Memory working-set bytes per container; same labels.
    #[arg(long, default_value_t = PrometheusQueries::default().memory, env = "TIDAL_VPA_PROMETHEUS_MEMORY_QUERY")]
    pub prometheus_memory_query: String,
    /// Labels of pods (to attribute the history of pods that are gone); empty to skip.
    #[arg(long, default_value_t = PrometheusQueries::default().pod_labels, env = "TIDAL_VPA_PROMETHEUS_POD_LABELS_QUERY")]
    pub prometheus_pod_labels_query: String,
    /// Prefix of pod labels in the labels query's series.
    #[arg(long, default_value_t = PrometheusQueries::default().pod_label_prefix, env = "TIDAL_VPA_PROMETHEUS_POD_LABEL_PREFIX")]
    pub prometheus_pod_label_prefix: String,
    /// Rate window of live CPU samples.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, env = "TIDAL_VPA_PROMETHEUS_RATE_WINDOW")]
    pub prometheus_rate_window: Duration,
    /// History loaded at start.
    #[arg(long, default_value = "8d", value_parser = humantime::parse_duration, env = "TIDAL_VPA_HISTORY_LENGTH")]
    pub history_length: Duration,
    /// Resolution (and CPU rate window) of history.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, env = "TIDAL_VPA_HISTORY_STEP")]
    pub history_step: Duration,
    /// Decide and log, but write nothing.
    #[arg(long, env = "TIDAL_VPA_DRY_RUN")]
    pub dry_run: bool,
    /// Port of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[arg(long, default_value_t = 8942, env = "TIDAL_VPA_ADMIN_PORT")]
    pub admin_port: u16,
    /// Namespace of the leader-election Lease.
    #[arg(
        long,
        default_value = "kube-system",
        env = "TIDAL_VPA_LEADER_ELECTION_NAMESPACE"
    )]
    pub leader_election_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "tidal-vpa", env = "TIDAL_VPA_LEASE_NAME")]
    pub lease_name: String,
    /// Act without leader election (a single replica only).
    #[arg(long, env = "TIDAL_VPA_NO_LEADER_ELECTION")]
    pub no_leader_election: bool,
    /// This replica's identity for the Lease (the pod name).
    #[arg(long, env = "TIDAL_POD_NAME")]
    pub pod_name: Option<String>,
}

/// Invalid flags.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// A flag is out of range.
    #[error("--{flag}: {why}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        why: String,
    },
}

fn invalid(flag: &'static str, why: impl Into<String>) -> ArgsError {
    ArgsError::Invalid {
        flag,
        why: why.into(),
    }
}

impl RunArgs {
    /// The loop settings these flags describe.
    pub fn loop_config(&self) -> Result<LoopConfig, ArgsError> {
        if self.recommender_name.trim().is_empty() {
            return Err(invalid("recommender-name", "must not be empty"));
        }
        if self.interval < Duration::from_secs(1) {
            return Err(invalid("interval", "must be at least 1s"));
        }
        if self.workers == 0 || self.workers > 1000 {
            return Err(invalid("workers", "must be between 1 and 1000"));
        }
        if !(0.0..1.0).contains(&self.status_change_threshold) {
            return Err(invalid("status-change-threshold", "must be in [0, 1)"));
        }
        if self.gc_batch == 0 {
            return Err(invalid("gc-batch", "must be at least 1"));
        }
        if !(self.pod_min_cpu_millicores >= 0.0 && self.pod_min_memory_mib >= 0.0) {
            return Err(invalid(
                "pod-min-cpu-millicores/--pod-min-memory-mib",
                "must not be negative",
            ));
        }
        for (flag, v) in [
            ("cpu-rounding-millicores", self.cpu_rounding_millicores),
            ("memory-rounding-mib", self.memory_rounding_mib),
        ] {
            if v.is_some_and(|v| v <= 0) {
                return Err(invalid(flag, "must be positive"));
            }
        }
        if self.history_step < Duration::from_secs(60) || self.history_step > self.history_length {
            return Err(invalid(
                "history-step",
                "must be at least 1m and at most --history-length",
            ));
        }
        let recommendation = RecommenderConfig {
            pod_min_cpu_millis: self.pod_min_cpu_millicores,
            pod_min_memory_bytes: self.pod_min_memory_mib * 1024.0 * 1024.0,
            cpu_rounding_millis: self.cpu_rounding_millicores,
            memory_rounding_bytes: self
                .memory_rounding_mib
                .map(|m| m.saturating_mul(1024 * 1024)),
            ..RecommenderConfig::default()
        };
        Ok(LoopConfig {
            recommender_name: self.recommender_name.clone(),
            handle_unnamed: self.handle_unnamed,
            interval: self.interval,
            workers: self.workers,
            status_change_threshold: self.status_change_threshold,
            checkpoint_budget: self.checkpoint_budget,
            checkpoint_interval: self.checkpoint_interval,
            gc_interval: self.gc_interval,
            gc_batch: self.gc_batch,
            history_length: self.history_length,
            recommendation,
            aggregation: AggregationConfig::default(),
            ..LoopConfig::default()
        })
    }

    /// The Prometheus queries these flags describe.
    pub fn prometheus_queries(&self) -> Result<PrometheusQueries, ArgsError> {
        if !self.prometheus_cpu_query.contains(WINDOW_PLACEHOLDER) {
            return Err(invalid(
                "prometheus-cpu-query",
                format!("must contain {WINDOW_PLACEHOLDER} (the rate window)"),
            ));
        }
        for (flag, q) in [
            ("prometheus-cpu-query", &self.prometheus_cpu_query),
            ("prometheus-memory-query", &self.prometheus_memory_query),
        ] {
            if q.trim().is_empty() {
                return Err(invalid(flag, "must not be empty"));
            }
        }
        Ok(PrometheusQueries {
            cpu: self.prometheus_cpu_query.clone(),
            memory: self.prometheus_memory_query.clone(),
            pod_labels: self.prometheus_pod_labels_query.clone(),
            pod_label_prefix: self.prometheus_pod_label_prefix.clone(),
            live_window: self.prometheus_rate_window,
            history_step: self.history_step,
        })
    }
}

/// Runs `tidal vpa` (or prints the CRDs) until SIGTERM/SIGINT.
pub async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(VpaCommand::Crds) = args.command {
        let crds = crate::crd::crds_yaml().context("rendering the CRDs")?;
        return Ok(tidal_runtime::stdout::print(&crds)?);
    }
    let args = args.run;
    let config = args.loop_config()?;
    let prometheus = match args.usage_source {
        UsageSourceKind::Prometheus => {
            let url = args
                .prometheus_url
                .as_deref()
                .context("--prometheus-url is required with --usage-source prometheus")?;
            let queries = args.prometheus_queries()?;
            Some(
                PrometheusUsage::new(url, args.prometheus_timeout, queries)
                    .map_err(anyhow::Error::msg)?,
            )
        }
        UsageSourceKind::MetricsApi => None,
    };
    info!(recommender = %config.recommender_name, handle_unnamed = config.handle_unnamed, dry_run = args.dry_run, source = ?args.usage_source, "starting");

    let client = tidal_runtime::kube_client().await?;
    let clock = Clock::system();
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::new();
    let admin =
        tidal_runtime::admin::serve_controller(args.admin_port, registry, readiness.clone())
            .await?;
    let leader = if args.no_leader_election {
        LeaderHandle::always()
    } else {
        // The pod name, never a made-up one: two replicas that are both PID 1 would both lead.
        let identity = tidal_runtime::pod_identity(args.pod_name.as_deref())?;
        LeaderElector::start(
            client.clone(),
            &args.leader_election_namespace,
            &args.lease_name,
            &identity,
        )?
    };
    let writer = KubeWriter::new(client.clone());
    let parts = Parts {
        client,
        clock,
        config,
        metrics,
        leader,
        readiness,
        target_ttl: args.target_cache_ttl,
    };
    match (prometheus, args.dry_run) {
        (Some(p), false) => parts.drive(Arc::new(p), writer).await,
        (Some(p), true) => parts.drive(Arc::new(p), DryRun::new(writer)).await,
        (None, dry) => {
            let usage = Arc::new(MetricsApiUsage::new(parts.client.clone()));
            if dry {
                parts.drive(usage, DryRun::new(writer)).await
            } else {
                parts.drive(usage, writer).await
            }
        }
    }
    admin.stopped().await?;
    Ok(())
}

struct Parts {
    client: kube::Client,
    clock: Clock,
    config: LoopConfig,
    metrics: Metrics,
    leader: LeaderHandle,
    readiness: Readiness,
    target_ttl: Duration,
}

impl Parts {
    async fn drive<U: UsageSource + 'static, W: VpaWriter>(self, usage: Arc<U>, writer: W) {
        let ports = Ports {
            vpas: KubeVpas::start(self.client.clone()),
            targets: KubeTargets::new(self.client.clone(), self.clock.clone(), self.target_ttl),
            pods: KubePods::start(self.client),
            usage,
            writer,
        };
        Recommender::new(ports, self.config, self.metrics, self.clock)
            .run(self.leader, self.readiness, shutdown_signal())
            .await;
    }
}

#[cfg(test)]
mod tests;
