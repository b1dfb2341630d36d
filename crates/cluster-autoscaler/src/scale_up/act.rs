//! Act on the scale-up plan: raise desired capacities, then tell the pods (events).

use std::collections::HashSet;
use std::sync::Arc;

use crate::act::ActContext;
use crate::groups::GroupView;
use crate::outcome::{Operation, PodRef, ScaleUp};
use crate::ports::{CloudProvider, ClusterActions, ClusterPod, Event, EventReason, ObjectRef};

use super::{PlannedScaleUp, ScaleUpPlan};

fn pod_object(p: &ClusterPod) -> ObjectRef {
    ObjectRef::Pod {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
    }
}

fn pod_ref(p: &ClusterPod) -> PodRef {
    PodRef {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
    }
}

/// Applies the planned raises (`pending`: the pods the plan's indexes point at; `groups`: the
/// groups as planned). A failed call backs the group off (its pods go elsewhere next loop)
/// and leaves the other groups' raises standing.
pub(crate) async fn act_scale_up<P: CloudProvider, C: ClusterActions>(
    ctx: &mut ActContext<'_, P, C>,
    plan: &ScaleUpPlan,
    pending: &[Arc<ClusterPod>],
    groups: &[GroupView],
) -> Vec<ScaleUp> {
    let mut done = Vec::with_capacity(plan.scale_ups.len());
    let mut events = Vec::new();
    for s in &plan.scale_ups {
        let applied = apply(ctx, s).await;
        if applied {
            let max = groups
                .iter()
                .find(|g| g.id == s.group)
                .map_or(s.to, |g| g.max_size);
            let message = format!(
                "pod triggered scale-up: [{} {}->{} (max: {max})]",
                s.group, s.from, s.to
            );
            events.extend(
                s.pods
                    .iter()
                    .filter_map(|i| pending.get(*i))
                    .map(|p| Event {
                        object: pod_object(p),
                        warning: false,
                        reason: EventReason::TriggeredScaleUp,
                        message: message.clone(),
                    }),
            );
        }
        done.push(ScaleUp {
            group: s.group.clone(),
            from: s.from,
            to: s.to,
            pods: s.pods.len(),
            reason: s.reason,
            waste: s.waste,
            applied,
        });
    }
    events.extend(no_scale_up_events(ctx, plan, pending));
    ctx.send_events(events).await;
    done
}

/// Sets one group's desired capacity; a failure backs the group off. Returns whether it
/// changed the cloud: in a dry run the port wrapper ([`crate::controller::DryRun`]) accepted
/// the call without making it, and the loop goes on as if it had been made.
async fn apply<P: CloudProvider, C>(ctx: &mut ActContext<'_, P, C>, s: &PlannedScaleUp) -> bool {
    let now = ctx.now;
    match ctx.cloud.set_desired_capacity(&s.group, s.to).await {
        Ok(()) => {
            ctx.state.record_scale_up(&s.group, s.to, now);
            !ctx.config.dry_run
        }
        Err(e) => {
            ctx.state.record_failure(&s.group, &e.to_string(), now, now);
            ctx.cloud_failed(Operation::SetDesiredCapacity, &s.group.to_string(), &e);
            false
        }
    }
}

/// NotTriggerScaleUp events, at most one per pod per configured interval.
fn no_scale_up_events<P, C>(
    ctx: &mut ActContext<'_, P, C>,
    plan: &ScaleUpPlan,
    pending: &[Arc<ClusterPod>],
) -> Vec<Event> {
    let still_pending: HashSet<PodRef> = pending.iter().map(|p| pod_ref(p)).collect();
    ctx.state
        .no_scale_up_events
        .retain(|pod, _| still_pending.contains(pod));
    let interval = ctx.config.no_scale_up_event_interval;
    let mut events = Vec::new();
    for u in &plan.unhelped {
        for p in u.pods.iter().filter_map(|i| pending.get(*i)) {
            if ctx
                .state
                .allow_no_scale_up_event(&pod_ref(p), ctx.now, interval)
            {
                events.push(Event {
                    object: pod_object(p),
                    warning: false,
                    reason: EventReason::NotTriggerScaleUp,
                    message: u.reason.clone(),
                });
            }
        }
    }
    events
}
