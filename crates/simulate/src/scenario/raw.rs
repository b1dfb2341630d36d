//! The scenario file as written: field names, types and defaults. Values that can be checked
//! on their own are checked while reading (so errors carry a line); cross-field rules are in
//! [`super::Scenario::from_yaml`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tidal_cluster_autoscaler::node_pool::NodePool;

use super::fields::{CpuAmount, CpuQuantity, HumanDuration, MemoryQuantity};
use crate::load::LoadSpec;

fn secs(s: u64) -> HumanDuration {
    HumanDuration(Duration::from_secs(s))
}

fn default_duration() -> HumanDuration {
    secs(86_400)
}

fn default_tick() -> HumanDuration {
    secs(10)
}

fn default_warmup() -> HumanDuration {
    secs(1_800)
}

fn default_seed() -> u64 {
    1
}

fn default_region() -> String {
    "eu-central-1".to_owned()
}

fn default_zones() -> Vec<String> {
    ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
        .map(str::to_owned)
        .to_vec()
}

fn default_namespace() -> String {
    "default".to_owned()
}

fn default_startup() -> HumanDuration {
    secs(30)
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Free-form title for the report.
    #[serde(default)]
    pub name: Option<String>,
    /// Simulated time span (the day starts at 00:00).
    #[serde(default = "default_duration")]
    pub duration: HumanDuration,
    /// Recording step.
    #[serde(default = "default_tick")]
    pub tick: HumanDuration,
    /// Simulated time before 00:00 to let the cluster settle; not recorded.
    #[serde(default = "default_warmup")]
    pub warmup: HumanDuration,
    /// Seed of every random choice.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// AWS region.
    #[serde(default = "default_region")]
    pub region: String,
    /// Availability zones.
    #[serde(default = "default_zones")]
    pub zones: Vec<String>,
    /// Cloud timing.
    #[serde(default)]
    pub cloud: RawCloud,
    /// Node pools, in the cluster autoscaler's format.
    pub node_pools: Vec<NodePool>,
    /// Autoscaler settings that differ from its defaults.
    #[serde(default)]
    pub autoscaler: RawAutoscaler,
    /// Price overrides.
    #[serde(default)]
    pub prices: RawPrices,
    /// Deployments.
    pub workloads: Vec<RawWorkload>,
    /// Injected failures.
    #[serde(default)]
    pub failures: Vec<RawFailure>,
    /// DaemonSets (one pod on every node they tolerate).
    #[serde(default)]
    pub daemonsets: Vec<RawDaemonSet>,
    /// VPA'd workloads whose memory follows the cluster's size.
    #[serde(default)]
    pub vpa: Option<crate::vpa::RawVpa>,
    /// The control plane and its autoscaler.
    #[serde(default)]
    pub control_plane: Option<crate::control_plane::RawControlPlane>,
    /// Seeded variability (load noise, boot times, random spot interruptions).
    #[serde(default)]
    pub noise: crate::noise::RawNoise,
}

/// Cloud timing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloud {
    /// Launch to Ready.
    #[serde(default = "RawCloud::boot")]
    pub boot_time: HumanDuration,
    /// Failed launch to failed scaling activity visible.
    #[serde(default = "RawCloud::detection")]
    pub failure_detection_delay: HumanDuration,
    /// Wait of an ASG before retrying a failed launch.
    #[serde(default = "RawCloud::retry")]
    pub launch_retry_interval: HumanDuration,
}

impl RawCloud {
    fn boot() -> HumanDuration {
        secs(90)
    }
    fn detection() -> HumanDuration {
        secs(30)
    }
    fn retry() -> HumanDuration {
        secs(60)
    }
}

impl Default for RawCloud {
    fn default() -> Self {
        Self {
            boot_time: Self::boot(),
            failure_detection_delay: Self::detection(),
            launch_retry_interval: Self::retry(),
        }
    }
}

/// Price overrides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrices {
    /// On-demand USD per hour by instance type, in the scenario's region.
    #[serde(default)]
    pub on_demand: BTreeMap<String, f64>,
    /// Spot price discount off on-demand, 0 ≤ d < 1.
    #[serde(default)]
    pub spot_discount: Option<f64>,
}

/// Expander names as written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RawExpander {
    /// Highest pool priority.
    Priority,
    /// Least waste (upstream spelling `least-waste` accepted).
    #[serde(alias = "least-waste")]
    LeastWaste,
    /// Random (seeded).
    Random,
}

/// Autoscaler overrides; absent fields keep the autoscaler's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoscaler {
    /// Loop period.
    #[serde(alias = "scan-interval")]
    pub scan_interval: Option<HumanDuration>,
    /// Scale-down utilization threshold (0..=1).
    #[serde(alias = "scale-down-utilization-threshold")]
    pub scale_down_utilization_threshold: Option<f64>,
    /// Time a node must be unneeded before removal.
    #[serde(alias = "scale-down-unneeded-time")]
    pub scale_down_unneeded_time: Option<HumanDuration>,
    /// No scale-down this long after a scale-up.
    #[serde(alias = "scale-down-delay-after-add")]
    pub scale_down_delay_after_add: Option<HumanDuration>,
    /// Requested nodes not registered after this count as failed.
    #[serde(alias = "max-node-provision-time")]
    pub max_node_provision_time: Option<HumanDuration>,
    /// Nodes removed at once.
    #[serde(alias = "max-scale-down-parallelism")]
    pub max_scale_down_parallelism: Option<u32>,
    /// Abandon a drain after this.
    pub max_drain_time: Option<HumanDuration>,
    /// Whether to remove nodes at all.
    #[serde(alias = "scale-down-enabled")]
    pub scale_down_enabled: Option<bool>,
    /// Expander chain: a list, or the upstream `--expander` form `priority,least-waste`.
    #[serde(default, alias = "expander", deserialize_with = "expander_chain")]
    pub expanders: Option<Vec<RawExpander>>,
    /// Cluster-wide node limit.
    #[serde(alias = "max-nodes-total")]
    pub cluster_node_limit: Option<u32>,
    /// Pods per node.
    pub max_pods: Option<u32>,
    /// First backoff after a failed scale-up.
    #[serde(alias = "initial-node-group-backoff-duration")]
    pub backoff_initial: Option<HumanDuration>,
    /// Longest backoff.
    #[serde(alias = "max-node-group-backoff-duration")]
    pub backoff_max: Option<HumanDuration>,
    /// Backoff forgotten after this long without failure.
    #[serde(alias = "node-group-backoff-reset-timeout")]
    pub backoff_reset_after: Option<HumanDuration>,
}

/// Container requests of a pod (summed).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequests {
    /// CPU request, e.g. `500m`.
    pub cpu: CpuQuantity,
    /// Memory request, e.g. `1Gi`.
    pub memory: MemoryQuantity,
}

/// A toleration in the Kubernetes shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToleration {
    /// Taint key (empty with `Exists`: every taint).
    #[serde(default)]
    pub key: String,
    /// `Equal` (default) or `Exists`.
    #[serde(default)]
    pub operator: RawTolerationOperator,
    /// Value for `Equal`.
    #[serde(default)]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`; absent: all effects.
    #[serde(default)]
    pub effect: Option<RawTaintEffect>,
}

/// Toleration operators as written.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum RawTolerationOperator {
    /// Key and value equal.
    #[default]
    Equal,
    /// Any value.
    Exists,
}

/// Taint effects as written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RawTaintEffect {
    /// NoSchedule.
    NoSchedule,
    /// PreferNoSchedule.
    PreferNoSchedule,
    /// NoExecute.
    NoExecute,
}

/// The HPA of a workload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHpa {
    /// Target average CPU utilization in percent of the request (autoscaling/v1 spelling
    /// `targetCPUUtilizationPercentage` accepted).
    #[serde(alias = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization: u32,
    /// autoscaling/v2 `behavior`, as in a HorizontalPodAutoscaler manifest.
    #[serde(default)]
    pub behavior: Option<tidal_core::hpa::HpaBehavior>,
}

/// A PodDisruptionBudget of a workload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPdb {
    /// Pods that must stay available during voluntary disruptions.
    #[serde(alias = "minAvailable")]
    pub min_available: u32,
}

/// One Deployment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// Name (also the `app` label).
    pub name: String,
    /// Namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Replicas at the start.
    pub replicas: u32,
    /// HPA minimum (default: 1).
    #[serde(default, alias = "minReplicas")]
    pub min_replicas: Option<u32>,
    /// HPA maximum (required with an HPA).
    #[serde(default, alias = "maxReplicas")]
    pub max_replicas: Option<u32>,
    /// Requests of one pod.
    pub requests: RawRequests,
    /// `nodeSelector`.
    #[serde(default, alias = "nodeSelector")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    #[serde(default)]
    pub tolerations: Vec<RawToleration>,
    /// Horizontal autoscaling; without it the replica count stays fixed.
    #[serde(default)]
    pub hpa: Option<RawHpa>,
    /// Traffic over time: a one-key map such as `daily_sine: {…}`.
    #[serde(with = "serde_yaml_ng::with::singleton_map")]
    pub load: LoadSpec,
    /// CPU used per unit of load (spread over the Ready pods).
    pub cpu_per_unit: CpuAmount,
    /// CPU a Ready pod uses with no load at all.
    #[serde(default)]
    pub idle_cpu: Option<CpuAmount>,
    /// From binding to Ready.
    #[serde(default = "default_startup")]
    pub startup: HumanDuration,
    /// Disruption budget.
    #[serde(default)]
    pub pdb: Option<RawPdb>,
    /// Spread the pods over zones (`topologySpreadConstraints` on the zone, DoNotSchedule).
    #[serde(default)]
    pub zone_spread: Option<RawZoneSpread>,
}

/// A zone topology spread constraint over the workload's own pods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZoneSpread {
    /// Largest allowed difference of pod counts between zones.
    #[serde(alias = "maxSkew")]
    pub max_skew: u32,
}

/// One injected failure.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawFailure {
    /// No capacity of an instance type in a zone for a while: launches fail.
    Capacity {
        /// The instance type.
        instance_type: String,
        /// The zone.
        zone: String,
        /// Start (offset from 00:00).
        from: HumanDuration,
        /// End (offset from 00:00).
        until: HumanDuration,
    },
    /// Spot instances of a pool are reclaimed at once.
    SpotInterruption {
        /// The pool.
        pool: String,
        /// When (offset from 00:00).
        at: HumanDuration,
        /// How many instances.
        count: u32,
    },
}

/// One DaemonSet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemonSet {
    /// Name.
    pub name: String,
    /// Namespace.
    #[serde(default = "RawDaemonSet::namespace")]
    pub namespace: String,
    /// Requests of its pod.
    pub requests: RawRequests,
    /// Tolerations; absent: tolerates every taint, as node agents usually do.
    #[serde(default)]
    pub tolerations: Option<Vec<RawToleration>>,
    /// `nodeSelector`.
    #[serde(default, alias = "nodeSelector")]
    pub node_selector: BTreeMap<String, String>,
}

/// The expander chain as a list (`[priority, least_waste]`) or as the cluster autoscaler's
/// `--expander` flag writes it (`priority,least-waste`).
fn expander_chain<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<RawExpander>>, D::Error> {
    use serde::de::{self, SeqAccess, Visitor};
    struct Chain;
    impl<'de> Visitor<'de> for Chain {
        type Value = Vec<RawExpander>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of expanders, or their names separated by commas")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            text.split(',')
                .map(|name| RawExpander::deserialize(de::value::StrDeserializer::new(name.trim())))
                .collect()
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(e) = seq.next_element()? {
                out.push(e);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Chain).map(Some)
}

impl RawDaemonSet {
    fn namespace() -> String {
        "kube-system".to_owned()
    }
}
