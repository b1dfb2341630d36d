//! Act on the scale-up plan: raise desired capacities, then tell the pods (events).

use futures::StreamExt;
use tidal_core::Timestamp;

use super::Autoscaler;
use super::decide::LoopPlan;
use super::report::{cloud_error, cluster_error};
use crate::outcome::{PortError, ScaleUp};
use crate::ports::{CloudProvider, ClusterActions, ClusterPod, Event, EventReason, ObjectRef};
use crate::scale_up::PlannedScaleUp;

/// Events sent at once (the Kubernetes adapter makes one API call per event).
const EVENT_CONCURRENCY: usize = 16;

fn pod_object(p: &ClusterPod) -> ObjectRef {
    ObjectRef::Pod {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
    }
}

impl Autoscaler {
    /// Applies the planned raises. A failed call backs the group off (its pods go elsewhere
    /// next loop) and leaves the other groups' raises standing.
    pub(super) async fn act_scale_up<P: CloudProvider, C: ClusterActions>(
        &mut self,
        cloud: &P,
        cluster: &C,
        plan: &LoopPlan,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Vec<ScaleUp> {
        let mut done = Vec::with_capacity(plan.scale_up.scale_ups.len());
        let mut events = Vec::new();
        for s in &plan.scale_up.scale_ups {
            let applied = self.apply(cloud, s, now, errors).await;
            if applied {
                let max = plan.group(&s.group).map_or(s.to, |g| g.max_size);
                let message = format!(
                    "pod triggered scale-up: [{} {}->{} (max: {max})]",
                    s.group, s.from, s.to
                );
                events.extend(
                    s.pods
                        .iter()
                        .filter_map(|i| plan.pending.get(*i))
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
        // A dry run changes nothing in the cluster, events included.
        if !self.config.dry_run {
            events.extend(self.no_scale_up_events(plan, now));
            send_events(cluster, events, errors).await;
        }
        done
    }

    /// Sets one group's desired capacity (not in a dry run); a failure backs the group off.
    async fn apply<P: CloudProvider>(
        &mut self,
        cloud: &P,
        s: &PlannedScaleUp,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> bool {
        if self.config.dry_run {
            return false;
        }
        match cloud.set_desired_capacity(&s.group, s.to).await {
            Ok(()) => {
                self.state.record_scale_up(&s.group, s.to, now);
                true
            }
            Err(e) => {
                self.state
                    .record_failure(&s.group, &e.to_string(), now, now);
                errors.push(cloud_error(
                    "set_desired_capacity",
                    &s.group.to_string(),
                    &e,
                ));
                false
            }
        }
    }

    /// NotTriggerScaleUp events, at most one per pod per configured interval.
    fn no_scale_up_events(&mut self, plan: &LoopPlan, now: Timestamp) -> Vec<Event> {
        let pending: std::collections::HashSet<crate::outcome::PodRef> = plan
            .pending
            .iter()
            .map(|p| crate::outcome::PodRef {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
            })
            .collect();
        self.state
            .no_scale_up_events
            .retain(|pod, _| pending.contains(pod));
        let interval = self.config.no_scale_up_event_interval;
        let mut events = Vec::new();
        for u in &plan.scale_up.unhelped {
            for p in u.pods.iter().filter_map(|i| plan.pending.get(*i)) {
                let key = crate::outcome::PodRef {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                };
                if self.state.allow_no_scale_up_event(&key, now, interval) {
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
}

/// Records events a few at a time; failures are reported, never fatal.
pub(super) async fn send_events<C: ClusterActions>(
    cluster: &C,
    events: Vec<Event>,
    errors: &mut Vec<PortError>,
) {
    let results: Vec<(ObjectRef, Result<(), crate::ports::ClusterError>)> =
        futures::stream::iter(events)
            .map(|e| async move {
                let r = cluster.record_event(&e).await;
                (e.object, r)
            })
            .buffered(EVENT_CONCURRENCY)
            .collect()
            .await;
    for (object, r) in results {
        if let Err(e) = r {
            errors.push(cluster_error("record_event", &object.to_string(), &e));
        }
    }
}
