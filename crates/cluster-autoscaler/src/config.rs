//! The autoscaler's settings, validated when the [`crate::autoscaler::Autoscaler`] is built.

use std::time::Duration;

use tidal_core::backoff::BackoffConfig;
use tidal_core::instance::ReservedConfig;

/// One stage of the expander chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpanderKind {
    /// Keep the options of the highest pool priority.
    Priority,
    /// Keep the options wasting the least CPU and memory after packing.
    LeastWaste,
    /// Keep one option at random (seeded by [`AutoscalerConfig::seed`], so runs are repeatable).
    Random,
}

/// How template nodes are built from instance types.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateSettings {
    /// Pods per node (from the node CIDR, see `tidal_core::instance::max_pods_for_node_cidr`).
    pub max_pods: u32,
    /// Region for the region label; derived from the zone name when `None`.
    pub region: Option<String>,
    /// What the kubelet and system reserve on every node (Karpenter's arithmetic by default).
    pub reserved: ReservedConfig,
}

impl Default for TemplateSettings {
    fn default() -> Self {
        Self {
            max_pods: tidal_core::instance::MAX_PODS_CAP,
            region: None,
            reserved: ReservedConfig::default(),
        }
    }
}

/// Settings of the autoscaler. Defaults follow upstream except where noted.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerConfig {
    /// Loop period (upstream 10 s). A snapshot older than two of these is stale.
    pub scan_interval: Duration,
    /// A node is unneeded below this max(cpu, memory) request ratio (0.5; pools may override).
    pub scale_down_utilization_threshold: f64,
    /// How long a node must stay unneeded before it is removed (10 min; pools may override).
    pub scale_down_unneeded_time: Duration,
    /// How long a node that is not Ready must stay unneeded before it is removed (upstream
    /// `scale-down-unready-time`, 20 min); its utilization does not matter.
    pub scale_down_unready_time: Duration,
    /// Scale-down stops while more than this share of the nodes (percent) is not Ready…
    /// (upstream `max-total-unready-percentage`, 45).
    pub max_total_unready_percentage: f64,
    /// …and more than this many are (upstream `ok-total-unready-count`, 3).
    pub ok_total_unready_count: usize,
    /// No scale-down this long after a scale-up (upstream `scale-down-delay-after-add`, 10 min).
    pub scale_down_delay_after_add: Duration,
    /// Requested nodes that have not registered after this are a failed scale-up (Zalando: 7 min).
    pub max_node_provision_time: Duration,
    /// Nodes removed (draining or terminating) at once (10).
    pub max_scale_down_parallelism: u32,
    /// A drain still not done after this is abandoned and the node unmarked (upstream 10 min).
    pub max_drain_time: Duration,
    /// Backoff of groups whose scale-up failed (5 min doubling to 30 min, reset after 3 h).
    pub backoff: BackoffConfig,
    /// Most nodes the cluster may have (from the cluster and node CIDRs); `None` = no limit.
    pub cluster_node_limit: Option<u32>,
    /// Expander chain, applied in order; a deterministic tie-break (fewest nodes, then group id) ends it.
    pub expanders: Vec<ExpanderKind>,
    /// Seed of the random expander.
    pub seed: u64,
    /// Whether to remove nodes at all.
    pub scale_down_enabled: bool,
    /// Decide and report, but call no acting port (set desired, terminate, mark, evict).
    pub dry_run: bool,
    /// A pod gets at most one NotTriggerScaleUp event per this interval.
    pub no_scale_up_event_interval: Duration,
    /// Template node settings.
    pub template: TemplateSettings,
}

impl Default for AutoscalerConfig {
    fn default() -> Self {
        Self {
            scan_interval: Duration::from_secs(10),
            scale_down_utilization_threshold: 0.5,
            scale_down_unneeded_time: Duration::from_secs(600),
            scale_down_unready_time: Duration::from_secs(1200),
            max_total_unready_percentage: 45.0,
            ok_total_unready_count: 3,
            scale_down_delay_after_add: Duration::from_secs(600),
            max_node_provision_time: Duration::from_secs(420),
            max_scale_down_parallelism: 10,
            max_drain_time: Duration::from_secs(600),
            backoff: BackoffConfig::default(),
            cluster_node_limit: None,
            expanders: vec![ExpanderKind::Priority, ExpanderKind::LeastWaste],
            seed: 0,
            scale_down_enabled: true,
            dry_run: false,
            no_scale_up_event_interval: Duration::from_secs(300),
            template: TemplateSettings::default(),
        }
    }
}

/// The longest duration any setting may have (7 days). Settings are added to timestamps
/// and to each other; a bound keeps that arithmetic far from overflow, and nothing in the
/// autoscaler needs a longer period.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Invalid [`AutoscalerConfig`] values.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// The scan interval is zero.
    #[error("scan interval must be greater than zero")]
    ZeroScanInterval,
    /// The utilization threshold is outside 0..=1.
    #[error("scale-down utilization threshold {0} is not between 0 and 1")]
    Threshold(f64),
    /// The unready percentage is outside 0..=100.
    #[error("max total unready percentage {0} is not between 0 and 100")]
    UnreadyPercentage(f64),
    /// No expander configured.
    #[error("the expander chain is empty")]
    NoExpander,
    /// Max pods per template node is zero.
    #[error("max pods per node must be greater than zero")]
    ZeroMaxPods,
    /// A duration setting is longer than [`MAX_DURATION`].
    #[error("{field}: {} is longer than the maximum of {}", humantime::format_duration(*.value), humantime::format_duration(MAX_DURATION))]
    TooLong {
        /// The setting, as the config field is named (e.g. `scan_interval`).
        field: &'static str,
        /// Its value.
        value: Duration,
    },
}

impl AutoscalerConfig {
    /// Checks the values that have no meaningful interpretation.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.scan_interval.is_zero() {
            return Err(ConfigError::ZeroScanInterval);
        }
        if !(0.0..=1.0).contains(&self.scale_down_utilization_threshold) {
            return Err(ConfigError::Threshold(
                self.scale_down_utilization_threshold,
            ));
        }
        if !(0.0..=100.0).contains(&self.max_total_unready_percentage) {
            return Err(ConfigError::UnreadyPercentage(
                self.max_total_unready_percentage,
            ));
        }
        if self.expanders.is_empty() {
            return Err(ConfigError::NoExpander);
        }
        if self.template.max_pods == 0 {
            return Err(ConfigError::ZeroMaxPods);
        }
        for (field, value) in self.durations() {
            check_duration(field, value)?;
        }
        Ok(())
    }

    /// Every duration setting with its field name.
    fn durations(&self) -> [(&'static str, Duration); 10] {
        [
            ("scan_interval", self.scan_interval),
            ("scale_down_unneeded_time", self.scale_down_unneeded_time),
            ("scale_down_unready_time", self.scale_down_unready_time),
            (
                "scale_down_delay_after_add",
                self.scale_down_delay_after_add,
            ),
            ("max_node_provision_time", self.max_node_provision_time),
            ("max_drain_time", self.max_drain_time),
            (
                "no_scale_up_event_interval",
                self.no_scale_up_event_interval,
            ),
            ("backoff_initial", self.backoff.initial()),
            ("backoff_max", self.backoff.max()),
            ("backoff_reset_after", self.backoff.reset_after()),
        ]
    }
}

/// `value` of setting `field`, refused when longer than [`MAX_DURATION`].
pub fn check_duration(field: &'static str, value: Duration) -> Result<Duration, ConfigError> {
    if value > MAX_DURATION {
        return Err(ConfigError::TooLong { field, value });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_duration_is_bounded() {
        assert_eq!(AutoscalerConfig::default().validate(), Ok(()));
        let huge = humantime::parse_duration("500000000000y").unwrap();
        let config = AutoscalerConfig {
            scan_interval: huge,
            ..AutoscalerConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(
            err,
            ConfigError::TooLong {
                field: "scan_interval",
                value: huge
            }
        );
        assert!(err.to_string().starts_with("scan_interval: "), "{err}");
        let config = AutoscalerConfig {
            max_drain_time: MAX_DURATION + Duration::from_secs(1),
            ..AutoscalerConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::TooLong {
                field: "max_drain_time",
                ..
            })
        ));
        let config = AutoscalerConfig {
            backoff: BackoffConfig::try_new(Duration::from_secs(60), MAX_DURATION * 2, huge)
                .unwrap(),
            ..AutoscalerConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::TooLong {
                field: "backoff_max",
                ..
            })
        ));
        let config = AutoscalerConfig {
            scale_down_unneeded_time: MAX_DURATION,
            ..AutoscalerConfig::default()
        };
        assert_eq!(config.validate(), Ok(()), "the bound itself is allowed");
    }
}
