//! `tidal cluster-autoscaler`: flags, start-up order and wiring.
//!
//! Start-up order matters: the node-pool file and every flag are validated first, so a bad file
//! stops the process with file, line and field before any Kubernetes or AWS call. Then the
//! clients, the reflectors, the admin server (`/metrics`, `/healthz`, `/readyz`), leader
//! election, and the loop.
//!
//! Node limit: the cluster CIDR is split into one block of `--node-cidr-mask-size` per node, so
//! the defaults 10.0.0.0/16 and /24 allow 256 nodes with 110 pods each (SPEC §3). Pass the
//! cluster's real values; `--cluster-cidr none` removes the limit (e.g. the AWS VPC CNI, where
//! pods take VPC addresses instead of a per-node block).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tidal_core::instance::{max_pods_for_node_cidr, node_limit_for_cluster_cidr};
use tidal_runtime::aws::AwsArgs;
use tidal_runtime::{Clock, LeaderElector, LeaderHandle, Readiness, shutdown_signal};
use tracing::info;

use crate::autoscaler::Autoscaler;
use crate::aws::AwsCloudProvider;
use crate::config::AutoscalerConfig;
use crate::controller::{Controller, DryRun};
use crate::kube::{KubeCluster, STATUS_CONFIGMAP, StatusLocation, WatchHealth, liveness};
use crate::metrics::Metrics;
use crate::node_pool::NodePools;
use crate::ports::{CloudProvider, WatchedCluster};
use crate::tuning::{TuningArgs, TuningError};

/// Flags of `tidal cluster-autoscaler`.
#[derive(Debug, Clone, clap::Parser)]
#[command(about = "Node-pool-aware cluster autoscaler on AWS Auto Scaling Groups")]
pub struct Args {
    /// Node-pool YAML file (SPEC §3).
    #[arg(long, env = "TIDAL_NODE_POOLS")]
    pub node_pools: PathBuf,
    /// Cluster name: ASGs tagged `k8s.io/cluster-autoscaler/<name>` belong to this cluster.
    #[arg(long, env = "TIDAL_CLUSTER_NAME")]
    pub cluster_name: String,
    /// AWS region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Time between loops.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, env = "TIDAL_SCAN_INTERVAL")]
    pub scan_interval: Duration,
    /// Decide and log, but change nothing in AWS or Kubernetes. A dry run competes for its
    /// own Lease, `<lease-name>-dry-run`, never the production one, so it can run next to
    /// the real autoscaler without taking over.
    #[arg(long, env = "TIDAL_DRY_RUN")]
    pub dry_run: bool,
    /// Port of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[arg(long, default_value_t = 8085, env = "TIDAL_ADMIN_PORT")]
    pub admin_port: u16,
    /// A node is unneeded below this max(cpu, memory) request ratio.
    #[arg(
        long,
        default_value_t = 0.5,
        env = "TIDAL_SCALE_DOWN_UTILIZATION_THRESHOLD"
    )]
    pub scale_down_utilization_threshold: f64,
    /// How long a node must stay unneeded before it is removed.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_SCALE_DOWN_UNNEEDED_TIME")]
    pub scale_down_unneeded_time: Duration,
    /// How long a node that is not Ready must stay unneeded before it is removed.
    #[arg(long, default_value = "20m", value_parser = humantime::parse_duration, env = "TIDAL_SCALE_DOWN_UNREADY_TIME")]
    pub scale_down_unready_time: Duration,
    /// Scale-down stops while more than this percentage of the nodes is not Ready…
    #[arg(
        long,
        default_value_t = 45.0,
        env = "TIDAL_MAX_TOTAL_UNREADY_PERCENTAGE"
    )]
    pub max_total_unready_percentage: f64,
    /// …and more than this many nodes are not Ready.
    #[arg(long, default_value_t = 3, env = "TIDAL_OK_TOTAL_UNREADY_COUNT")]
    pub ok_total_unready_count: usize,
    /// Requested nodes that have not registered after this are a failed scale-up.
    #[arg(long, default_value = "7m", value_parser = humantime::parse_duration, env = "TIDAL_MAX_NODE_PROVISION_TIME")]
    pub max_node_provision_time: Duration,
    /// Most nodes being removed at once.
    #[arg(long, default_value_t = 10, env = "TIDAL_MAX_SCALE_DOWN_PARALLELISM")]
    pub max_scale_down_parallelism: u32,
    /// Cluster pod CIDR (`a.b.c.d/len`), or `none` for no node limit.
    #[arg(long, default_value = "10.0.0.0/16", env = "TIDAL_CLUSTER_CIDR")]
    pub cluster_cidr: String,
    /// Prefix length of each node's pod CIDR block.
    #[arg(long, default_value_t = 24, env = "TIDAL_NODE_CIDR_MASK_SIZE")]
    pub node_cidr_mask_size: u8,
    /// Namespace of the leader-election Lease and of the status ConfigMap.
    #[arg(
        long,
        default_value = "kube-system",
        env = "TIDAL_LEADER_ELECTION_NAMESPACE"
    )]
    pub leader_election_namespace: String,
    /// Name of the leader-election Lease (with `--dry-run`: this name + `-dry-run`).
    #[arg(
        long,
        default_value = "tidal-cluster-autoscaler",
        env = "TIDAL_LEASE_NAME"
    )]
    pub lease_name: String,
    /// Act without leader election (a single replica only).
    #[arg(long, env = "TIDAL_NO_LEADER_ELECTION")]
    pub no_leader_election: bool,
    /// This replica's identity for the Lease and Events: the pod name, from the downward API
    /// (`fieldRef: metadata.name`). Required with leader election.
    #[arg(long, env = "TIDAL_POD_NAME")]
    pub pod_name: Option<String>,
    /// Kubeconfig file, instead of the in-cluster service account (or `KUBECONFIG`).
    #[arg(long, env = "TIDAL_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Settings under upstream's flag names, and the simulator's knobs (`crate::tuning`).
    #[command(flatten)]
    pub tuning: TuningArgs,
}

/// The Lease a replica competes for, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Election {
    /// The Lease's name.
    pub lease_name: String,
    /// The replica's identity (its pod name).
    pub identity: String,
}

/// Invalid flags (the node-pool file has its own error, which names file, line and field).
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// `--cluster-cidr` is not `a.b.c.d/len` or `none`.
    #[error("--cluster-cidr {0:?}: expected an IPv4 CIDR such as 10.0.0.0/16, or none")]
    ClusterCidr(String),
    /// The CIDR sizes do not give a usable node limit or pods per node.
    #[error("--cluster-cidr/--node-cidr-mask-size: {0}")]
    Cidr(#[from] tidal_core::instance::CidrError),
    /// `--cluster-name` is empty.
    #[error("--cluster-name must not be empty")]
    EmptyClusterName,
    /// A flag under upstream's name has a value Tidal cannot honour.
    #[error(transparent)]
    Tuning(#[from] TuningError),
    /// Leader election without a pod name.
    #[error(transparent)]
    Identity(#[from] tidal_runtime::LeaderError),
}

/// The prefix length of an IPv4 CIDR, `None` for `none`.
fn cluster_prefix(cidr: &str) -> Result<Option<u8>, ArgsError> {
    if cidr.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = || ArgsError::ClusterCidr(cidr.to_owned());
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    addr.parse::<Ipv4Addr>().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    (len <= 32).then_some(Some(len)).ok_or_else(bad)
}

impl Args {
    /// The autoscaler settings these flags describe.
    pub fn autoscaler_config(&self) -> Result<AutoscalerConfig, ArgsError> {
        if self.cluster_name.trim().is_empty() {
            return Err(ArgsError::EmptyClusterName);
        }
        let mut config = AutoscalerConfig {
            scan_interval: self.scan_interval,
            scale_down_utilization_threshold: self.scale_down_utilization_threshold,
            scale_down_unneeded_time: self.scale_down_unneeded_time,
            scale_down_unready_time: self.scale_down_unready_time,
            max_total_unready_percentage: self.max_total_unready_percentage,
            ok_total_unready_count: self.ok_total_unready_count,
            max_node_provision_time: self.max_node_provision_time,
            max_scale_down_parallelism: self.max_scale_down_parallelism,
            dry_run: self.dry_run,
            ..AutoscalerConfig::default()
        };
        config.template.max_pods = max_pods_for_node_cidr(self.node_cidr_mask_size)?;
        config.template.region = self.aws.region.clone();
        config.cluster_node_limit = match cluster_prefix(&self.cluster_cidr)? {
            Some(prefix) => Some(node_limit_for_cluster_cidr(
                prefix,
                self.node_cidr_mask_size,
            )?),
            None => None,
        };
        self.tuning.apply(&mut config)?;
        Ok(config)
    }
}

impl Args {
    /// The Lease and identity of leader election; `None` with `--no-leader-election`. A
    /// dry run takes its own Lease; a missing pod name is an error, never a made-up
    /// identity.
    pub fn election(&self) -> Result<Option<Election>, ArgsError> {
        if self.no_leader_election {
            return Ok(None);
        }
        let identity = tidal_runtime::pod_identity(self.pod_name.as_deref())?;
        let lease_name = if self.dry_run {
            format!("{}-dry-run", self.lease_name)
        } else {
            self.lease_name.clone()
        };
        Ok(Some(Election {
            lease_name,
            identity,
        }))
    }
}

/// Reads and validates the node-pool file and the flags: everything that can be checked
/// without the network.
pub fn load(args: &Args) -> anyhow::Result<Autoscaler> {
    let origin = args.node_pools.display().to_string();
    let text = std::fs::read_to_string(&args.node_pools)
        .with_context(|| format!("reading node pools from {origin}"))?;
    let pools = NodePools::from_yaml(&text, &origin)?;
    let config = args.autoscaler_config()?;
    Autoscaler::new(pools, config).context("invalid autoscaler settings")
}

/// Runs the cluster autoscaler until SIGTERM/SIGINT.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let autoscaler = load(&args)?;
    let election = args.election()?;
    info!(pools = autoscaler.pools().pools().len(), cluster = %args.cluster_name, dry_run = args.dry_run, "starting");

    // One clock for the loop and the adapter that stamps its snapshots.
    let clock = Clock::system();
    let health = Arc::new(WatchHealth::default());
    let kube_config = tidal_runtime::kube_config_for(args.kubeconfig.as_deref()).await?;
    let client = liveness::client(kube_config, health.clone(), clock.clone())
        .context("building the Kubernetes client")?;
    let sdk = args.aws.sdk_config().await;
    let cloud = AwsCloudProvider::new(&sdk, args.cluster_name.clone());
    let status = StatusLocation {
        namespace: args.leader_election_namespace.clone(),
        name: STATUS_CONFIGMAP.to_owned(),
    };
    let cluster = KubeCluster::start(
        client.clone(),
        health,
        status,
        args.pod_name.clone(),
        clock.clone(),
    );

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::new();
    let admin =
        tidal_runtime::admin::serve_controller(args.admin_port, registry, readiness.clone())
            .await?;

    let leader = match election {
        None => LeaderHandle::always(),
        Some(election) => {
            info!(lease = %election.lease_name, identity = %election.identity, "leader election");
            LeaderElector::start(
                client,
                &args.leader_election_namespace,
                &election.lease_name,
                &election.identity,
            )?
        }
    };

    if args.dry_run {
        drive(
            autoscaler,
            DryRun::new(cloud),
            DryRun::new(cluster),
            metrics,
            leader,
            readiness,
            clock,
        )
        .await?;
    } else {
        drive(
            autoscaler, cloud, cluster, metrics, leader, readiness, clock,
        )
        .await?;
    }
    admin.stopped().await?;
    Ok(())
}

async fn drive<P: CloudProvider, C: WatchedCluster>(
    autoscaler: Autoscaler,
    cloud: P,
    cluster: C,
    metrics: Metrics,
    leader: LeaderHandle,
    readiness: Readiness,
    clock: Clock,
) -> anyhow::Result<()> {
    Controller::new(autoscaler, cloud, cluster, metrics, leader)
        .with_readiness(readiness)
        .with_clock(clock)
        .with_loop_deadline()
        .run(shutdown_signal())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
