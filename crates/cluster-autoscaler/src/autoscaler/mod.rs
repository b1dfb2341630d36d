//! The autoscaler: one loop is observe (ports) → decide (pure planners) → act (ports) → report.
//!
//! ```text
//! observe  snapshot, node groups, failed scale-ups since the last loop, instance types (once per pool)
//! failures reported failures and provision timeouts back their group off; the in-flight
//!          scale-up is cancelled (desired set back to the instances that exist)
//! decide   scale-up plan (pods onto template nodes, expander), unneeded nodes, removals
//! act      set desired capacity; drain (mark, evict) then terminate; events
//! report   status report (written each loop) and the LoopOutcome value
//! ```
//!
//! Choice on failure: the group is *not* held at current+1 (Zalando's variant); desired goes
//! back to the number of instances that exist, so nothing is left asking for capacity AWS does
//! not have, and the same loop re-plans the pods onto the next group in priority order.

mod cluster_cache;
mod decide;
mod failures;
mod observe;
mod report;
#[cfg(test)]
mod tests;

use tidal_core::Timestamp;

use crate::act::{ActContext, cluster_error};
use crate::config::{AutoscalerConfig, ConfigError};
use crate::node_pool::NodePools;
use crate::outcome::{LoopOutcome, Operation, PortError, ScaleDown, ScaleDownSkip, ScaleUp};
use crate::ports::{
    CloudError, CloudProvider, ClusterActions, ClusterError, ClusterSnapshot, ClusterSource,
};
use crate::scale_down::act_scale_down;
use crate::scale_up::act_scale_up;
use crate::state::AutoscalerState;
use crate::templates::Templates;

pub use decide::{LoopPlan, cluster_state};

/// Errors that stop a loop before any decision (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The cluster state could not be read.
    #[error("reading the cluster state failed: {0}")]
    Cluster(#[source] ClusterError),
    /// The node groups could not be listed.
    #[error("listing the node groups failed: {0}")]
    Cloud(#[source] CloudError),
}

impl LoopError {
    /// Stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            LoopError::Cluster(_) => "cluster",
            LoopError::Cloud(_) => "cloud",
        }
    }
}

/// The cluster autoscaler: node pools, settings and the memory it keeps across loops.
#[derive(Debug)]
pub struct Autoscaler {
    pools: NodePools,
    config: AutoscalerConfig,
    state: AutoscalerState,
    templates: Templates,
    cache: cluster_cache::ClusterCache,
}

impl Autoscaler {
    /// An autoscaler for `pools`; fails if `config` is invalid.
    pub fn new(pools: NodePools, config: AutoscalerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            state: AutoscalerState::new(config.backoff),
            pools,
            config,
            templates: Templates::new(),
            cache: cluster_cache::ClusterCache::default(),
        })
    }

    /// The node pools.
    pub fn pools(&self) -> &NodePools {
        &self.pools
    }

    /// The settings.
    pub fn config(&self) -> &AutoscalerConfig {
        &self.config
    }

    /// What the autoscaler remembers across loops (read-only, for reports and tests).
    pub fn state(&self) -> &AutoscalerState {
        &self.state
    }

    /// One loop: observe → decide → act → report. Errors only when the cluster state or the
    /// node groups cannot be read (then nothing was changed); every other failure is in
    /// [`LoopOutcome::port_errors`] and the loop went on where that was safe.
    pub async fn run_once<P, C>(
        &mut self,
        cloud: &P,
        cluster: &C,
        now: Timestamp,
    ) -> Result<LoopOutcome, LoopError>
    where
        P: CloudProvider,
        C: ClusterSource + ClusterActions,
    {
        let snapshot = cluster
            .snapshot()
            .map_err(|e| self.unobserved(LoopError::Cluster(e)))?;
        let cloud_groups = match cloud.node_groups().await {
            Ok(groups) => groups,
            Err(e) => return Err(self.unobserved(LoopError::Cloud(e))),
        };
        let mut errors: Vec<PortError> = Vec::new();
        let reported = self.poll_failures(cloud, now, &mut errors).await;
        let mut problems = self.refresh_templates(cloud, &mut errors).await;
        let mut groups = self.group_views(&cloud_groups, &snapshot, now, &mut problems);
        let fresh = self.is_fresh(&snapshot, now);
        let failures = self
            .handle_failures(cloud, &mut groups, reported, fresh, now, &mut errors)
            .await;
        let plan = self.decide(&snapshot, groups, now, !errors.is_empty());
        let fallbacks = report::fallbacks(&failures, &plan);
        let mut act = ActContext {
            cloud,
            cluster,
            now,
            errors: &mut errors,
            state: &mut self.state,
            config: &self.config,
        };
        let (scale_ups, scale_downs) = act_on(&mut act, &snapshot, &plan, fresh).await;
        let mut status = self.status_report(&plan, &scale_ups, &snapshot, &errors, fresh, now);
        status.template_problems = problems.clone();
        status.unreadable = snapshot.unreadable.describe();
        if let Err(e) = cluster.write_status(&status).await {
            errors.push(cluster_error(Operation::WriteStatus, "", &e));
        }
        Ok(LoopOutcome {
            at: now,
            dry_run: self.config.dry_run,
            unschedulable_pods: plan.pending.len(),
            pods_awaiting_capacity: plan.scale_up.awaiting.len(),
            scale_ups,
            no_scale_up: report::no_scale_up(&plan),
            failures,
            fallbacks,
            backoffs: report::backoffs(&self.state, now),
            unneeded_nodes: plan.unneeded.nodes.len(),
            scale_downs,
            scale_down_skipped: plan.scale_down_skipped.clone(),
            port_errors: errors,
            template_problems: problems,
            unreadable: snapshot.unreadable,
            status,
        })
    }

    /// Forgets what was remembered across loops (drains in progress, unneeded timers,
    /// backoffs, the last scale-up): after a lost leadership term another replica may have
    /// acted, so the next term starts from what it observes. Instance-type data is kept.
    pub fn forget(&mut self) {
        self.state = AutoscalerState::new(self.config.backoff);
    }

    /// A loop that saw nothing breaks "continuously unneeded": the timers start over.
    fn unobserved(&mut self, e: LoopError) -> LoopError {
        self.state.unneeded_since.clear();
        e
    }

    /// Whether the snapshot is recent enough to act on (taken within two scan intervals).
    fn is_fresh(&self, snapshot: &ClusterSnapshot, now: Timestamp) -> bool {
        now.since(snapshot.taken_at) <= self.config.scan_interval * 2
    }
}

/// Act: the planned scale-ups, then scale-down. Drains finish (instances terminate) only on
/// fresh data, in a cluster that does not look broken, and in a loop without failed calls
/// (events do not count: they change nothing).
async fn act_on<P, C>(
    act: &mut ActContext<'_, P, C>,
    snapshot: &ClusterSnapshot,
    plan: &LoopPlan,
    fresh: bool,
) -> (Vec<ScaleUp>, Vec<ScaleDown>)
where
    P: CloudProvider,
    C: ClusterActions,
{
    let scale_ups = act_scale_up(act, &plan.scale_up, &plan.pending, &plan.groups).await;
    let broken = matches!(
        plan.scale_down_skipped,
        Some(ScaleDownSkip::TooManyUnready { .. })
    );
    let may_terminate = fresh && !broken && act.only_records_failed();
    let scale_downs =
        act_scale_down(act, snapshot, &plan.groups, &plan.removals, may_terminate).await;
    (scale_ups, scale_downs)
}
