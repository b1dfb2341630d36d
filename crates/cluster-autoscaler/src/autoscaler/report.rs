//! Report: the status report, and the parts of the outcome derived from the plan.

use tidal_core::Timestamp;
use tidal_core::resources::Resources;
use tidal_core::scheduling::fits;

use super::Autoscaler;
use super::decide::LoopPlan;
use crate::outcome::{
    Effect, FailureDetected, Fallback, GroupBackoff, NoScaleUp, PodRef, PortError, ScaleUp,
    ScaleUpReason,
};
use crate::ports::ClusterSnapshot;
use crate::state::AutoscalerState;
use crate::status::{GroupStatus, Health, StatusReport};

/// Scale-ups this loop that took pods a group failed this loop could have run.
pub(super) fn fallbacks(failures: &[FailureDetected], plan: &LoopPlan) -> Vec<Fallback> {
    let mut out = Vec::new();
    for f in failures {
        let Some(template) = plan.group(&f.group).and_then(|g| g.template.as_ref()) else {
            continue;
        };
        for s in &plan.scale_up.scale_ups {
            if s.group == f.group || s.reason != ScaleUpReason::PendingPods {
                continue;
            }
            let pods = s
                .pods
                .iter()
                .filter_map(|i| plan.pending.get(*i))
                .filter(|p| fits(&p.spec, template, &Resources::zero()).is_ok())
                .count();
            if pods > 0 {
                out.push(Fallback {
                    from: f.group.clone(),
                    to: s.group.clone(),
                    pods,
                });
            }
        }
    }
    out
}

/// The unhelped pods as outcome values.
pub(super) fn no_scale_up(plan: &LoopPlan) -> Vec<NoScaleUp> {
    plan.scale_up
        .unhelped
        .iter()
        .map(|u| NoScaleUp {
            pods: u
                .pods
                .iter()
                .filter_map(|i| plan.pending.get(*i))
                .map(|p| PodRef {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                })
                .collect(),
            reason: u.reason.clone(),
        })
        .collect()
}

/// Groups in backoff at `now`.
pub(super) fn backoffs(state: &AutoscalerState, now: Timestamp) -> Vec<GroupBackoff> {
    state
        .backoff
        .entries()
        .filter(|(_, e)| e.until > now)
        .map(|(g, e)| GroupBackoff {
            group: g.clone(),
            until: e.until,
        })
        .collect()
}

impl Autoscaler {
    /// The status report of this loop.
    pub(super) fn status_report(
        &mut self,
        plan: &LoopPlan,
        scale_ups: &[ScaleUp],
        snapshot: &ClusterSnapshot,
        errors: &[PortError],
        fresh: bool,
        now: Timestamp,
    ) -> StatusReport {
        self.state.backoff.prune(now);
        let health = if !fresh {
            Health::Unhealthy(format!(
                "cluster state is {}s old",
                now.since(snapshot.taken_at).as_secs()
            ))
        } else if let Some(e) = errors
            .iter()
            .find(|e| e.operation.effect() != Effect::RecordsOnly)
        {
            Health::Unhealthy(format!("{} failed: {}", e.operation, e.message))
        } else {
            Health::Healthy
        };
        let node_groups = plan
            .groups
            .iter()
            .map(|g| {
                let history = self.state.history.get(&g.id).cloned().unwrap_or_default();
                let desired = scale_ups
                    .iter()
                    .find(|s| s.group == g.id && s.applied)
                    .map_or(g.desired, |s| s.to);
                GroupStatus {
                    group: g.id.clone(),
                    asg_name: g.asg_name.clone(),
                    health: self
                        .state
                        .backoff
                        .backed_off_until(&g.id, now)
                        .map_or(Health::Healthy, Health::BackedOff),
                    min_size: g.min_size,
                    max_size: g.max_size,
                    desired,
                    instances: g.instances,
                    registered: g.registered,
                    ready: g.ready,
                    last_scale_up: history.last_scale_up,
                    last_scale_down: history.last_scale_down,
                    last_failure: history.last_failure,
                }
            })
            .collect();
        StatusReport {
            time: now,
            health: Some(health),
            unschedulable_pods: plan.pending.len(),
            last_scale_up: self.state.last_scale_up,
            last_scale_down: self.state.last_scale_down,
            node_groups,
            template_problems: Vec::new(),
            unreadable: Vec::new(),
        }
    }
}
