//! `tidal cp-autoscaler`: flags, start-up order and wiring; `tidal cp-autoscaler plan`.
//!
//! Start-up order: every flag is validated first ([`Args::settings`]), then the ladder is built
//! (EKS: the tiers; self-managed: DescribeInstanceTypes, a read) and `--min-size`/`--max-size`
//! checked against it, so bad configuration exits non-zero naming the flag before anything is
//! changed. Then the clients, the admin server, leader election and the loop.

use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tidal_core::backoff::BackoffConfig;
use tidal_core::control_plane::{
    DecisionConfig, Ladder, LadderFilter, NodeFloor, RollSettings, ha_threshold,
};
use tidal_core::instance::Architecture;
use tidal_runtime::aws::AwsArgs;
use tidal_runtime::{Clock, LeaderElector, LeaderHandle, Readiness, shutdown_signal};
use tracing::info;

use crate::autoscaler::{Autoscaler, Settings};
use crate::controller::{Controller, DryRun, Ports};
use crate::eks::EksActuator;
use crate::kube::{KubeEvents, KubeNodeHealth, KubeNodes};
use crate::metrics::Metrics;
use crate::ports::{Actuator, EventSink, NodeCounter, SignalSource};
use crate::prometheus::{PrometheusSignals, Queries};
use crate::self_managed::{AsgActuator, instance_types};

mod plan;

/// Which kind of control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// EKS provisioned control-plane tiers.
    Eks,
    /// Control-plane instances in an Auto Scaling Group.
    SelfManaged,
}

/// `tidal cp-autoscaler [plan]`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    about = "Vertical control-plane resizer: EC2 instance types or EKS provisioned tiers",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// `plan`: print what would be done now and why, and change nothing.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The controller's flags.
    #[command(flatten)]
    pub flags: Flags,
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print the current size, the decision and its reason, and change nothing.
    Plan(Flags),
}

/// Every flag of `tidal cp-autoscaler`.
#[derive(Debug, Clone, clap::Args)]
pub struct Flags {
    /// EKS tiers or a self-managed Auto Scaling Group (required).
    #[arg(long, value_enum, env = "TIDAL_CP_MODE")]
    pub mode: Option<Mode>,
    /// EKS cluster name (eks mode).
    #[arg(long, env = "TIDAL_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Name of the control-plane Auto Scaling Group (self-managed mode).
    #[arg(long, env = "TIDAL_CP_ASG_NAME")]
    pub asg_name: Option<String>,
    /// Instance families of the ladder, in order of preference (self-managed), e.g. `m7i,m6i`.
    #[arg(long, value_delimiter = ',', env = "TIDAL_CP_FAMILIES")]
    pub families: Vec<String>,
    /// The architecture of the control-plane image.
    #[arg(
        long,
        value_enum,
        default_value = "amd64",
        env = "TIDAL_CP_ARCHITECTURE"
    )]
    pub architecture: ArchArg,
    /// Allow burstable (T) types on the ladder.
    #[arg(long, env = "TIDAL_CP_ALLOW_BURSTABLE")]
    pub allow_burstable: bool,
    /// Allow bare-metal types on the ladder.
    #[arg(long, env = "TIDAL_CP_ALLOW_BARE_METAL")]
    pub allow_bare_metal: bool,
    /// Allow GPU and accelerator types on the ladder.
    #[arg(long, env = "TIDAL_CP_ALLOW_ACCELERATORS")]
    pub allow_accelerators: bool,
    /// Allow previous-generation types on the ladder.
    #[arg(long, env = "TIDAL_CP_ALLOW_PREVIOUS_GENERATION")]
    pub allow_previous_generation: bool,
    /// Smallest size allowed (an instance type or tier on the ladder).
    #[arg(long, env = "TIDAL_CP_MIN_SIZE")]
    pub min_size: Option<String>,
    /// Largest size allowed.
    #[arg(long, env = "TIDAL_CP_MAX_SIZE")]
    pub max_size: Option<String>,
    /// Prometheus base URL (required).
    #[arg(long, env = "TIDAL_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// PromQL label matchers selecting control-plane nodes in the default CPU and memory queries.
    #[arg(
        long,
        default_value = r#"role="control-plane""#,
        env = "TIDAL_CP_NODE_SELECTOR"
    )]
    pub node_selector: String,
    /// CPU cores in use per control-plane node (default: from node-exporter).
    #[arg(long, env = "TIDAL_CP_CPU_QUERY")]
    pub cpu_query: Option<String>,
    /// Memory MiB in use per control-plane node (default: from node-exporter).
    #[arg(long, env = "TIDAL_CP_MEMORY_QUERY")]
    pub memory_query: Option<String>,
    /// API concurrency seats executing (eks mode).
    #[arg(long, default_value = Queries::DEFAULT_SEATS, env = "TIDAL_CP_SEATS_QUERY")]
    pub seats_query: String,
    /// API request latency p99 in seconds (read when --latency-p99-high is set).
    #[arg(long, default_value = Queries::DEFAULT_LATENCY_P99, env = "TIDAL_CP_LATENCY_QUERY")]
    pub latency_query: String,
    /// Step up when p99 latency (seconds) stays above this; unset = latency is not judged.
    #[arg(long, env = "TIDAL_CP_LATENCY_P99_HIGH")]
    pub latency_p99_high: Option<f64>,
    /// Control-plane nodes, for the default high threshold (n−1)/n (self-managed).
    #[arg(long, default_value_t = 3, env = "TIDAL_CP_CONTROL_PLANE_NODES")]
    pub control_plane_nodes: u32,
    /// High threshold (fraction of capacity); default (n−1)/n self-managed, 0.8 on EKS.
    #[arg(long, env = "TIDAL_CP_HIGH_THRESHOLD")]
    pub high_threshold: Option<f64>,
    /// A step down keeps the load below high × (1 − margin) on the smaller size.
    #[arg(long, default_value_t = 0.2, env = "TIDAL_CP_DOWN_MARGIN")]
    pub down_margin: f64,
    /// Utilisation from which the size jumps to the one that fits instead of one step.
    #[arg(long, default_value_t = 0.9, env = "TIDAL_CP_JUMP_THRESHOLD")]
    pub jump_threshold: f64,
    /// Sustained-load window before a step up.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration, env = "TIDAL_CP_UP_WINDOW")]
    pub up_window: Duration,
    /// Low-load window before a step down.
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration, env = "TIDAL_CP_DOWN_WINDOW")]
    pub down_window: Duration,
    /// No change for this long after a step up.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration, env = "TIDAL_CP_UP_COOLDOWN")]
    pub up_cooldown: Duration,
    /// No change for this long after a step down.
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration, env = "TIDAL_CP_DOWN_COOLDOWN")]
    pub down_cooldown: Duration,
    /// Share of a window the samples must cover.
    #[arg(long, default_value_t = 0.8, env = "TIDAL_CP_COVERAGE")]
    pub coverage: f64,
    /// The newest sample must be at most this old.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, env = "TIDAL_CP_MAX_SAMPLE_AGE")]
    pub max_sample_age: Duration,
    /// Never step up.
    #[arg(long, env = "TIDAL_CP_NO_SCALE_UP")]
    pub no_scale_up: bool,
    /// Never step down.
    #[arg(long, env = "TIDAL_CP_NO_SCALE_DOWN")]
    pub no_scale_down: bool,
    /// No minimum size by node count (self-managed has kube-up's table by default).
    #[arg(long, env = "TIDAL_CP_NO_NODE_FLOOR")]
    pub no_node_floor: bool,
    /// Never fewer healthy control-plane instances during a roll.
    #[arg(long, default_value_t = 2, env = "TIDAL_CP_MIN_HEALTHY")]
    pub min_healthy: u32,
    /// A replacement not healthy within this stops the roll.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration, env = "TIDAL_CP_REPLACEMENT_TIMEOUT")]
    pub replacement_timeout: Duration,
    /// Port of the control-plane API servers' `/readyz`.
    #[arg(long, default_value_t = 6443, env = "TIDAL_CP_READYZ_PORT")]
    pub readyz_port: u16,
    /// First backoff of a refused or failed size (doubling).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration, env = "TIDAL_CP_BACKOFF_INITIAL")]
    pub backoff_initial: Duration,
    /// Longest backoff.
    #[arg(long, default_value = "4h", value_parser = humantime::parse_duration, env = "TIDAL_CP_BACKOFF_MAX")]
    pub backoff_max: Duration,
    /// Time between loops.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration, env = "TIDAL_CP_INTERVAL")]
    pub interval: Duration,
    /// Resolution of the Prometheus range queries.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration, env = "TIDAL_CP_QUERY_STEP")]
    pub query_step: Duration,
    /// Timeout of each Prometheus query.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "TIDAL_CP_QUERY_TIMEOUT")]
    pub query_timeout: Duration,
    /// AWS region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Decide and log, but change nothing.
    #[arg(long, env = "TIDAL_DRY_RUN")]
    pub dry_run: bool,
    /// Port of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[arg(long, default_value_t = 8086, env = "TIDAL_ADMIN_PORT")]
    pub admin_port: u16,
    /// Namespace of the leader-election Lease (Events are recorded on it).
    #[arg(
        long,
        default_value = "kube-system",
        env = "TIDAL_LEADER_ELECTION_NAMESPACE"
    )]
    pub leader_election_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "tidal-cp-autoscaler", env = "TIDAL_LEASE_NAME")]
    pub lease_name: String,
    /// Act without leader election (a single replica only).
    #[arg(long, env = "TIDAL_NO_LEADER_ELECTION")]
    pub no_leader_election: bool,
    /// This replica's identity for the Lease and Events (the pod name).
    #[arg(long, env = "TIDAL_POD_NAME")]
    pub pod_name: Option<String>,
}

/// The image architecture flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// x86-64.
    Amd64,
    /// 64-bit ARM.
    Arm64,
}

/// A flag that is missing or out of range; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// A flag the mode needs is missing or empty.
    #[error("{flag} is required ({mode})")]
    Missing {
        /// The flag.
        flag: &'static str,
        /// When it is required.
        mode: &'static str,
    },
    /// A setting of the decision is out of range.
    #[error(transparent)]
    Decision(#[from] tidal_core::control_plane::DecisionConfigError),
    /// The backoff is invalid.
    #[error("--backoff-initial/--backoff-max: {0}")]
    Backoff(#[from] tidal_core::backoff::BackoffError),
    /// Another setting is out of range.
    #[error("{flag}: {problem}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
}

fn required<'a>(
    value: &'a Option<String>,
    flag: &'static str,
    mode: &'static str,
) -> Result<&'a str, FlagError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or(FlagError::Missing { flag, mode })
}

impl Flags {
    /// `--mode`; required (checked here rather than by clap so `plan` can take the same flags).
    pub fn mode(&self) -> Result<Mode, FlagError> {
        self.mode.ok_or(FlagError::Missing {
            flag: "--mode",
            mode: "eks or self-managed",
        })
    }

    /// `--prometheus-url`; required.
    pub fn prometheus_url(&self) -> Result<&str, FlagError> {
        self.prometheus_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or(FlagError::Invalid {
                flag: "--prometheus-url",
                problem: "is required",
            })
    }

    /// The ladder filter these flags describe.
    pub fn filter(&self) -> LadderFilter {
        LadderFilter {
            families: self
                .families
                .iter()
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
                .collect(),
            architecture: match self.architecture {
                ArchArg::Amd64 => Architecture::Amd64,
                ArchArg::Arm64 => Architecture::Arm64,
            },
            allow_burstable: self.allow_burstable,
            allow_bare_metal: self.allow_bare_metal,
            allow_accelerators: self.allow_accelerators,
            allow_previous_generation: self.allow_previous_generation,
        }
    }

    /// The decision settings, validated.
    pub fn decision(&self) -> Result<DecisionConfig, FlagError> {
        let (high, floor) = match self.mode()? {
            Mode::Eks => (self.high_threshold.unwrap_or(0.8), NodeFloor::none()),
            Mode::SelfManaged => (
                self.high_threshold
                    .unwrap_or_else(|| ha_threshold(self.control_plane_nodes)),
                NodeFloor::kube_up(),
            ),
        };
        let config = DecisionConfig {
            high_threshold: high,
            down_margin: self.down_margin,
            jump_threshold: self.jump_threshold,
            up_window: self.up_window,
            down_window: self.down_window,
            up_cooldown: self.up_cooldown,
            down_cooldown: self.down_cooldown,
            coverage: self.coverage,
            max_sample_age: self.max_sample_age,
            latency_p99_high: self.latency_p99_high,
            node_floor: if self.no_node_floor {
                NodeFloor::none()
            } else {
                floor
            },
            scale_up: !self.no_scale_up,
            scale_down: !self.no_scale_down,
        };
        config.validate()?;
        Ok(config)
    }

    /// The queries the mode reads.
    pub fn queries(&self) -> Queries {
        let latency = self.latency_p99_high.map(|_| self.latency_query.clone());
        match self.mode.unwrap_or(Mode::SelfManaged) {
            Mode::Eks => Queries {
                seats: Some(self.seats_query.clone()),
                latency_p99: latency,
                ..Queries::default()
            },
            Mode::SelfManaged => Queries {
                cpu: Some(
                    self.cpu_query
                        .clone()
                        .unwrap_or_else(|| Queries::default_cpu(&self.node_selector)),
                ),
                memory: Some(
                    self.memory_query
                        .clone()
                        .unwrap_or_else(|| Queries::default_memory(&self.node_selector)),
                ),
                seats: None,
                latency_p99: latency,
            },
        }
    }

    /// Checks everything that needs no network; returns the decision and backoff settings.
    pub fn validate(&self) -> Result<(DecisionConfig, BackoffConfig), FlagError> {
        match self.mode()? {
            Mode::Eks => {
                required(&self.cluster_name, "--cluster-name", "with --mode eks")?;
            }
            Mode::SelfManaged => {
                required(&self.asg_name, "--asg-name", "with --mode self-managed")?;
            }
        }
        self.prometheus_url()?;
        if self.min_healthy == 0 {
            return Err(FlagError::Invalid {
                flag: "--min-healthy",
                problem: "must be at least 1",
            });
        }
        for (flag, d) in [
            ("--interval", self.interval),
            ("--query-step", self.query_step),
            ("--query-timeout", self.query_timeout),
            ("--replacement-timeout", self.replacement_timeout),
        ] {
            if d.is_zero() {
                return Err(FlagError::Invalid {
                    flag,
                    problem: "must be longer than zero",
                });
            }
        }
        let decision = self.decision()?;
        // Forgotten after a day without failure.
        let backoff = BackoffConfig::try_new(
            self.backoff_initial,
            self.backoff_max,
            Duration::from_secs(24 * 3600),
        )?;
        Ok((decision, backoff))
    }

    /// The roll settings.
    pub fn roll(&self) -> RollSettings {
        RollSettings {
            min_healthy: self.min_healthy,
            replacement_timeout: self.replacement_timeout,
        }
    }
}

/// Builds the ladder (a read of EC2 instance types in self-managed mode) and the settings;
/// every error names the flag.
pub async fn settings(flags: &Flags, sdk: &aws_config::SdkConfig) -> anyhow::Result<Settings> {
    let (decision, backoff) = flags.validate()?;
    let ladder = match flags.mode()? {
        Mode::Eks => Ladder::eks_tiers(),
        Mode::SelfManaged => {
            let ec2 = aws_sdk_ec2::Client::new(sdk);
            let candidates = instance_types::describe_all(&ec2)
                .await
                .context("reading EC2 instance types for the ladder")?;
            Ladder::from_instance_types(candidates, &flags.filter(), "--families")?
        }
    };
    let bounds = ladder.bounds(
        flags.min_size.as_deref().map(|s| ("--min-size", s)),
        flags.max_size.as_deref().map(|s| ("--max-size", s)),
    )?;
    Ok(Settings {
        ladder,
        bounds,
        decision,
        backoff,
    })
}

/// Runs `tidal cp-autoscaler` (or `plan`).
pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(Command::Plan(flags)) => plan::run(flags).await,
        None => run_controller(args.flags).await,
    }
}

async fn run_controller(flags: Flags) -> anyhow::Result<()> {
    flags.validate()?;
    let sdk = flags.aws.sdk_config().await;
    let settings = settings(&flags, &sdk).await?;
    info!(mode = ?flags.mode, ladder = %settings.ladder, dry_run = flags.dry_run, "starting");
    let signals = PrometheusSignals::new(
        flags.prometheus_url()?,
        flags.queries(),
        flags.query_step,
        flags.query_timeout,
    )?;
    let config = kube::Config::infer()
        .await
        .context("loading the Kubernetes client configuration")?;
    let client = tidal_runtime::kube_client_from(config.clone())?;
    let nodes = KubeNodes::new(client.clone());
    let events = KubeEvents::new(
        client.clone(),
        flags.pod_name.clone(),
        KubeEvents::lease_reference(&flags.leader_election_namespace, &flags.lease_name),
    );

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::new();
    let admin =
        tidal_runtime::admin::serve_controller(flags.admin_port, registry, readiness.clone())
            .await?;
    let leader = if flags.no_leader_election {
        LeaderHandle::always()
    } else {
        // The pod name, never a made-up one: two replicas that are both PID 1 would both lead.
        let identity = tidal_runtime::pod_identity(flags.pod_name.as_deref())?;
        LeaderElector::start(
            client.clone(),
            &flags.leader_election_namespace,
            &flags.lease_name,
            &identity,
        )?
    };
    let autoscaler = Autoscaler::new(settings);
    let wiring = Wiring {
        autoscaler,
        metrics,
        leader,
        readiness,
        interval: flags.interval,
    };
    match flags.mode()? {
        Mode::Eks => {
            let cluster = required(&flags.cluster_name, "--cluster-name", "with --mode eks")?;
            let actuator = EksActuator::new(aws_sdk_eks::Client::new(&sdk), cluster);
            wiring
                .drive(signals, nodes, actuator, events, flags.dry_run)
                .await;
        }
        Mode::SelfManaged => {
            let group = required(&flags.asg_name, "--asg-name", "with --mode self-managed")?;
            let health =
                KubeNodeHealth::new(client, config, flags.readyz_port, Duration::from_secs(5));
            let actuator = AsgActuator::new(&sdk, group, health, flags.roll());
            wiring
                .drive(signals, nodes, actuator, events, flags.dry_run)
                .await;
        }
    }
    admin.stopped().await?;
    Ok(())
}

/// What every mode's loop is built from.
struct Wiring {
    autoscaler: Autoscaler,
    metrics: Metrics,
    leader: LeaderHandle,
    readiness: Readiness,
    interval: Duration,
}

impl Wiring {
    async fn drive<S, N, A, E>(self, signals: S, nodes: N, actuator: A, events: E, dry_run: bool)
    where
        S: SignalSource,
        N: NodeCounter,
        A: Actuator,
        E: EventSink,
    {
        if dry_run {
            let (actuator, events) = (DryRun::new(actuator), DryRun::new(events));
            self.run(Ports {
                signals,
                nodes,
                actuator,
                events,
            })
            .await;
        } else {
            self.run(Ports {
                signals,
                nodes,
                actuator,
                events,
            })
            .await;
        }
    }

    async fn run<S, N, A, E>(self, ports: Ports<S, N, A, E>)
    where
        S: SignalSource,
        N: NodeCounter,
        A: Actuator,
        E: EventSink,
    {
        Controller::new(
            self.autoscaler,
            ports,
            self.metrics,
            self.leader,
            Clock::system(),
        )
        .with_readiness(self.readiness)
        .run(self.interval, shutdown_signal())
        .await;
    }
}

#[cfg(test)]
mod tests;
