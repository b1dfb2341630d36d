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

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tidal_core::instance::{max_pods_for_node_cidr, node_limit_for_cluster_cidr};
use tidal_runtime::aws::AwsArgs;
use tidal_runtime::{Clock, LeaderElector, LeaderHandle, LeaseTiming, Readiness, shutdown_signal};
use tracing::info;

use crate::autoscaler::Autoscaler;
use crate::aws::AwsCloudProvider;
use crate::config::AutoscalerConfig;
use crate::controller::{Controller, DryRun};
use crate::kube::{KubeCluster, STATUS_CONFIGMAP, StatusLocation, WatchHealth, liveness};
use crate::metrics::Metrics;
use crate::node_pool::NodePools;
use crate::ports::{CloudProvider, WatchedCluster};

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
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub scan_interval: Duration,
    /// Decide and log, but change nothing in AWS or Kubernetes. A dry run competes for its
    /// own Lease, `<lease-name>-dry-run`, never the production one, so it can run next to
    /// the real autoscaler without taking over.
    #[arg(long)]
    pub dry_run: bool,
    /// Port of the admin server (`/metrics`, `/healthz`, `/readyz`).
    #[arg(long, default_value_t = 8085)]
    pub admin_port: u16,
    /// A node is unneeded below this max(cpu, memory) request ratio.
    #[arg(long, default_value_t = 0.5)]
    pub scale_down_utilization_threshold: f64,
    /// How long a node must stay unneeded before it is removed.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub scale_down_unneeded_time: Duration,
    /// How long a node that is not Ready must stay unneeded before it is removed.
    #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
    pub scale_down_unready_time: Duration,
    /// Scale-down stops while more than this percentage of the nodes is not Ready…
    #[arg(long, default_value_t = 45.0)]
    pub max_total_unready_percentage: f64,
    /// …and more than this many nodes are not Ready.
    #[arg(long, default_value_t = 3)]
    pub ok_total_unready_count: usize,
    /// Requested nodes that have not registered after this are a failed scale-up.
    #[arg(long, default_value = "7m", value_parser = humantime::parse_duration)]
    pub max_node_provision_time: Duration,
    /// Most nodes being removed at once.
    #[arg(long, default_value_t = 10)]
    pub max_scale_down_parallelism: u32,
    /// Cluster pod CIDR (`a.b.c.d/len`), or `none` for no node limit.
    #[arg(long, default_value = "10.0.0.0/16")]
    pub cluster_cidr: String,
    /// Prefix length of each node's pod CIDR block.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// Namespace of the leader-election Lease and of the status ConfigMap.
    #[arg(long, default_value = "kube-system")]
    pub leader_election_namespace: String,
    /// Name of the leader-election Lease (with `--dry-run`: this name + `-dry-run`).
    #[arg(long, default_value = "tidal-cluster-autoscaler")]
    pub lease_name: String,
    /// Act without leader election (a single replica only).
    #[arg(long)]
    pub no_leader_election: bool,
    /// This replica's identity for the Lease and Events: the pod name, from the downward API
    /// (`fieldRef: metadata.name`). Required with leader election.
    #[arg(long, env = "TIDAL_POD_NAME")]
    pub pod_name: Option<String>,
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
    let kube_config = kube::Config::infer().await.context(
        "finding the Kubernetes configuration (in-cluster, KUBECONFIG or ~/.kube/config)",
    )?;
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
    let admin_addr = SocketAddr::from(([0, 0, 0, 0], args.admin_port));
    let admin = tidal_runtime::admin::serve(
        admin_addr,
        Arc::new(registry),
        readiness.clone(),
        axum::Router::new(),
        shutdown_signal(),
    )
    .await?;

    let leader = match election {
        None => LeaderHandle::always(),
        Some(election) => {
            info!(lease = %election.lease_name, identity = %election.identity, "leader election");
            let elector = LeaderElector::new(
                client,
                &args.leader_election_namespace,
                &election.lease_name,
                &election.identity,
                LeaseTiming::default(),
            )?;
            elector.spawn(shutdown_signal()).0
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;
    use std::io::Write;

    /// Parses `extra`, adding `--node-pools` and `--cluster-name` when it does not give them.
    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["cluster-autoscaler"];
        for (flag, default) in [
            ("--node-pools", "/nonexistent.yaml"),
            ("--cluster-name", "prod"),
        ] {
            if !extra.contains(&flag) {
                argv.extend([flag, default]);
            }
        }
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_follow_upstream_and_the_spec() {
        let a = args(&[]);
        assert_eq!(a.scan_interval, Duration::from_secs(10));
        assert_eq!(a.admin_port, 8085);
        assert_eq!(a.scale_down_unneeded_time, Duration::from_secs(600));
        assert_eq!(a.max_node_provision_time, Duration::from_secs(420));
        let c = a.autoscaler_config().unwrap();
        assert_eq!(c.scale_down_utilization_threshold, 0.5);
        assert_eq!(c.max_scale_down_parallelism, 10);
        assert_eq!(
            c.cluster_node_limit,
            Some(256),
            "10.0.0.0/16 split into /24 blocks"
        );
        assert_eq!(c.template.max_pods, 110);
        assert!(!c.dry_run);
        assert_eq!(c.scale_down_unready_time, Duration::from_secs(1200));
        assert_eq!(
            (c.max_total_unready_percentage, c.ok_total_unready_count),
            (45.0, 3)
        );
    }

    #[test]
    fn cidr_flags_set_the_node_limit_and_max_pods() {
        let c = args(&[
            "--cluster-cidr",
            "100.64.0.0/14",
            "--node-cidr-mask-size",
            "26",
        ])
        .autoscaler_config()
        .unwrap();
        assert_eq!(c.cluster_node_limit, Some(4096));
        assert_eq!(c.template.max_pods, 32);
        let c = args(&["--cluster-cidr", "none"])
            .autoscaler_config()
            .unwrap();
        assert_eq!(c.cluster_node_limit, None);
        for bad in ["10.0.0.0", "10.0.0/16", "10.0.0.0/40", "ten/8"] {
            let err = args(&["--cluster-cidr", bad])
                .autoscaler_config()
                .unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn durations_are_humantime() {
        let a = args(&[
            "--scan-interval",
            "30s",
            "--scale-down-unneeded-time",
            "1h 5m",
            "--dry-run",
        ]);
        assert_eq!(a.scan_interval, Duration::from_secs(30));
        assert_eq!(a.scale_down_unneeded_time, Duration::from_secs(3900));
        assert!(a.autoscaler_config().unwrap().dry_run);
        assert!(
            Args::try_parse_from([
                "x",
                "--node-pools",
                "f",
                "--cluster-name",
                "c",
                "--scan-interval",
                "10"
            ])
            .is_err()
        );
    }

    // `run` must fail on the pool file before it builds any client: with no kubeconfig and no
    // AWS here, reaching the network would give a different error (or hang), not this one.
    #[tokio::test]
    async fn a_broken_pool_file_stops_run_before_any_network_call() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n  colour: blue\n").unwrap();
        let path = file.path().display().to_string();
        let a = args(&["--node-pools", &path]);
        let err = run(a).await.unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(&path), "names the file: {text}");
        assert!(text.contains(":5:"), "names the line: {text}");
        assert!(text.contains("colour"), "names the field: {text}");
    }

    #[tokio::test]
    async fn a_missing_pool_file_is_named() {
        let err = run(args(&["--node-pools", "/nonexistent/pools.yaml"]))
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/pools.yaml"),
            "{err:#}"
        );
    }

    /// A node-pool file with one valid pool (deleted when dropped).
    fn valid_pool_file() -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "node_pools:\n- name: default\n  instance_types: [m5.large]\n  max_size: 10\n"
        )
        .unwrap();
        file
    }

    #[test]
    fn invalid_settings_fail_load() {
        let file = valid_pool_file();
        let path = file.path().display().to_string();
        assert!(load(&args(&["--node-pools", &path])).is_ok());
        let err = load(&args(&[
            "--node-pools",
            &path,
            "--scale-down-utilization-threshold",
            "1.5",
        ]))
        .unwrap_err();
        assert!(format!("{err:#}").contains("1.5"), "{err:#}");
        let err = load(&args(&["--node-pools", &path, "--cluster-name", " "])).unwrap_err();
        assert!(format!("{err:#}").contains("--cluster-name"), "{err:#}");
        // A duration that parses but would overflow the loop's arithmetic.
        let err = load(&args(&[
            "--node-pools",
            &path,
            "--scan-interval",
            "500000000000y",
        ]))
        .unwrap_err();
        assert!(format!("{err:#}").contains("scan_interval"), "{err:#}");
    }

    #[test]
    fn election_needs_the_pod_name_and_a_dry_run_takes_its_own_lease() {
        let err = args(&[]).election().unwrap_err();
        assert!(err.to_string().contains("TIDAL_POD_NAME"), "{err}");
        let err = args(&["--pod-name", " "]).election().unwrap_err();
        assert!(err.to_string().contains("stable identity"), "{err}");
        assert_eq!(
            args(&["--pod-name", "ca-0"]).election().unwrap(),
            Some(Election {
                lease_name: "tidal-cluster-autoscaler".into(),
                identity: "ca-0".into()
            })
        );
        assert_eq!(
            args(&["--pod-name", "ca-0", "--dry-run"])
                .election()
                .unwrap(),
            Some(Election {
                lease_name: "tidal-cluster-autoscaler-dry-run".into(),
                identity: "ca-0".into()
            })
        );
        assert_eq!(args(&["--no-leader-election"]).election().unwrap(), None);
    }

    // Without a pod name `run` stops before any network call (no kubeconfig or AWS here).
    #[tokio::test]
    async fn run_refuses_to_start_without_a_stable_identity() {
        let file = valid_pool_file();
        let path = file.path().display().to_string();
        let err = run(args(&["--node-pools", &path])).await.unwrap_err();
        assert!(format!("{err:#}").contains("stable identity"), "{err:#}");
    }

    fn deploy_file(name: &str) -> String {
        let path = format!(
            "{}/../../deploy/cluster-autoscaler/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_deployed_example_pools_and_flags_are_valid() {
        let cm: k8s_openapi::api::core::v1::ConfigMap =
            serde_yaml_ng::from_str(&deploy_file("node-pools.yaml")).unwrap();
        let pools = cm.data.unwrap()["node-pools.yaml"].clone();
        let pools =
            NodePools::from_yaml(&pools, "deploy/cluster-autoscaler/node-pools.yaml").unwrap();
        assert_eq!(pools.pools().len(), 4);

        let deployment: k8s_openapi::api::apps::v1::Deployment =
            serde_yaml_ng::from_str(&deploy_file("deployment.yaml")).unwrap();
        let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
        let mut argv = container.args.clone().unwrap();
        assert_eq!(argv[0], "cluster-autoscaler", "the subcommand");
        // The cluster name comes from the tidal-settings ConfigMap (TIDAL_CLUSTER_NAME).
        argv.push("--cluster-name=example".to_owned());
        let parsed = Args::try_parse_from(&argv).unwrap();
        assert_eq!(
            parsed.node_pools,
            PathBuf::from("/etc/tidal/node-pools.yaml")
        );
        assert!(parsed.autoscaler_config().is_ok());
        let env = container.env.clone().unwrap_or_default();
        let cluster_name = env.iter().find(|e| e.name == "TIDAL_CLUSTER_NAME");
        let key = cluster_name
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.config_map_key_ref.as_ref())
            .map(|k| (k.name.as_str(), k.key.as_str()));
        assert_eq!(key, Some(("tidal-settings", "cluster-name")));
        // The identity comes from the downward API.
        let pod_name = env.iter().find(|e| e.name == "TIDAL_POD_NAME");
        let field = pod_name
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str());
        assert_eq!(
            field,
            Some("metadata.name"),
            "TIDAL_POD_NAME from metadata.name"
        );
    }

    #[test]
    fn the_iam_policy_allows_writes_only_to_this_clusters_pool_groups() {
        use crate::node_pool::{TAG_ENABLED, TAG_NODE_POOL, cluster_tag};
        // The policy names the cluster as CLUSTER_NAME, which the installer replaces with the
        // tidal-settings cluster-name (docs/deploy.md).
        let cluster = "CLUSTER_NAME";
        let policy: serde_json::Value =
            serde_json::from_str(&deploy_file("iam-policy.json")).unwrap();
        let mut writes = Vec::new();
        for statement in policy["Statement"].as_array().unwrap() {
            let actions: Vec<&str> = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            if actions.iter().all(|a| a.contains(":Describe")) {
                continue;
            }
            // The discovery tags (`pool_from_tags`): enabled, this cluster's, and a pool.
            for tag in [
                TAG_ENABLED.to_owned(),
                cluster_tag(cluster),
                TAG_NODE_POOL.to_owned(),
            ] {
                assert_eq!(
                    statement["Condition"]["Null"][format!("aws:ResourceTag/{tag}")],
                    "false",
                    "{actions:?} must require the tag {tag}"
                );
            }
            writes.extend(actions);
        }
        writes.sort_unstable();
        assert_eq!(
            writes,
            [
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup"
            ]
        );
    }
}
