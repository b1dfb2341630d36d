//! Flags of `tidal cluster-autoscaler` under the names of the upstream Kubernetes
//! cluster-autoscaler, and the autoscaler settings the simulator's `autoscaler:` section offers
//! (so a configuration tuned in simulation deploys one to one).
//!
//! Every setting of the autoscaler is a flag: the node-pool file holds pools only (with their
//! per-pool scale-down overrides). Upstream flags for behaviour Tidal always has
//! (`--skip-nodes-with-local-storage`, `--balance-similar-node-groups`) are accepted with the
//! value that matches Tidal, and the other value is refused at start-up rather than silently
//! ignored.

use std::time::Duration;

use tidal_core::backoff::{BackoffConfig, BackoffError};

use crate::config::{AutoscalerConfig, ExpanderKind};

/// An expander stage, as upstream's `--expander` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpanderFlag {
    /// Keep the options of the highest pool priority (the pools' `priority` field).
    Priority,
    /// Keep the options wasting the least CPU and memory.
    LeastWaste,
    /// Keep one option at random.
    Random,
}

impl From<ExpanderFlag> for ExpanderKind {
    fn from(flag: ExpanderFlag) -> Self {
        match flag {
            ExpanderFlag::Priority => ExpanderKind::Priority,
            ExpanderFlag::LeastWaste => ExpanderKind::LeastWaste,
            ExpanderFlag::Random => ExpanderKind::Random,
        }
    }
}

/// Autoscaler settings under upstream's flag names (and the simulator's knobs).
#[derive(Debug, Clone, clap::Args)]
pub struct TuningArgs {
    /// Expander chain, applied in order (comma-separated), e.g. `priority,least-waste`.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "priority,least-waste",
        env = "TIDAL_EXPANDER"
    )]
    pub expander: Vec<ExpanderFlag>,
    /// Whether to remove unneeded nodes at all (`--scale-down-enabled=false` to stop).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", env = "TIDAL_SCALE_DOWN_ENABLED")]
    pub scale_down_enabled: bool,
    /// No scale-down this long after a scale-up.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_SCALE_DOWN_DELAY_AFTER_ADD")]
    pub scale_down_delay_after_add: Duration,
    /// Most nodes in the cluster; 0 means no limit besides the one the CIDR flags give (the
    /// lower of the two applies).
    #[arg(long, default_value_t = 0, env = "TIDAL_MAX_NODES_TOTAL")]
    pub max_nodes_total: u32,
    /// A drain still not done after this is abandoned and the node unmarked.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, env = "TIDAL_MAX_DRAIN_TIME")]
    pub max_drain_time: Duration,
    /// Pods per template node [default: from --node-cidr-mask-size, at most 110].
    #[arg(long, env = "TIDAL_MAX_PODS")]
    pub max_pods: Option<u32>,
    /// Backoff of a pool's group after its first failed scale-up.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, env = "TIDAL_INITIAL_NODE_GROUP_BACKOFF_DURATION")]
    pub initial_node_group_backoff_duration: Duration,
    /// Longest backoff (the backoff doubles on each failure up to this).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration, env = "TIDAL_MAX_NODE_GROUP_BACKOFF_DURATION")]
    pub max_node_group_backoff_duration: Duration,
    /// A group's backoff is forgotten after this long without a failure.
    #[arg(long, default_value = "3h", value_parser = humantime::parse_duration, env = "TIDAL_NODE_GROUP_BACKOFF_RESET_TIMEOUT")]
    pub node_group_backoff_reset_timeout: Duration,
    /// Upstream's flag, accepted for migration: Tidal always spreads a scale-up over the
    /// pool's zones where its pods can run (the similar groups of a pool are its zones), so
    /// only `true` is accepted.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", env = "TIDAL_BALANCE_SIMILAR_NODE_GROUPS")]
    pub balance_similar_node_groups: bool,
    /// Upstream's flag, accepted for migration: Tidal never removes a node running a pod with
    /// local storage (emptyDir on disk, hostPath) unless the pod is marked safe to evict, so
    /// only `true` is accepted.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", env = "TIDAL_SKIP_NODES_WITH_LOCAL_STORAGE")]
    pub skip_nodes_with_local_storage: bool,
}

/// A tuning flag value Tidal cannot honour.
#[derive(Debug, thiserror::Error)]
pub enum TuningError {
    /// The backoff flags do not form a valid backoff.
    #[error(
        "--initial-node-group-backoff-duration/--max-node-group-backoff-duration/--node-group-backoff-reset-timeout: {0}"
    )]
    Backoff(#[from] BackoffError),
    /// `--balance-similar-node-groups=false`.
    #[error(
        "--balance-similar-node-groups=false is not supported: Tidal always spreads a pool's scale-ups \
         over its zones; to keep nodes in one zone, give that pool only that zone (docs/cluster-autoscaler.md)"
    )]
    BalanceSimilarNodeGroups,
    /// `--skip-nodes-with-local-storage=false`.
    #[error(
        "--skip-nodes-with-local-storage=false is not supported: Tidal always keeps nodes whose pods use \
         local storage; annotate such pods cluster-autoscaler.kubernetes.io/safe-to-evict=true instead"
    )]
    LocalStorage,
    /// `--expander` with no stage.
    #[error("--expander must name at least one expander")]
    NoExpander,
}

impl TuningArgs {
    /// Applies these flags to `config`; `config.cluster_node_limit` already holds the limit
    /// the CIDR flags give, and `--max-nodes-total` can only lower it.
    pub fn apply(&self, config: &mut AutoscalerConfig) -> Result<(), TuningError> {
        if !self.balance_similar_node_groups {
            return Err(TuningError::BalanceSimilarNodeGroups);
        }
        if !self.skip_nodes_with_local_storage {
            return Err(TuningError::LocalStorage);
        }
        if self.expander.is_empty() {
            return Err(TuningError::NoExpander);
        }
        config.expanders = self.expander.iter().map(|&e| e.into()).collect();
        config.scale_down_enabled = self.scale_down_enabled;
        config.scale_down_delay_after_add = self.scale_down_delay_after_add;
        config.max_drain_time = self.max_drain_time;
        config.backoff = BackoffConfig::try_new(
            self.initial_node_group_backoff_duration,
            self.max_node_group_backoff_duration,
            self.node_group_backoff_reset_timeout,
        )?;
        if let Some(max_pods) = self.max_pods {
            config.template.max_pods = max_pods;
        }
        if self.max_nodes_total > 0 {
            let limit = config
                .cluster_node_limit
                .map_or(self.max_nodes_total, |l| l.min(self.max_nodes_total));
            config.cluster_node_limit = Some(limit);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
