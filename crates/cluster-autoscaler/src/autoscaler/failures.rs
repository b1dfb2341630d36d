//! Failed scale-ups: reported by the cloud or timed out. The group is backed off and its
//! in-flight scale-up cancelled, so the same loop plans the pods onto another group.

use std::collections::BTreeMap;
use std::sync::Arc;

use tidal_core::Timestamp;
use tracing::warn;

use super::Autoscaler;
use crate::act::cloud_error;
use crate::groups::{GroupView, live};
use crate::outcome::{FailureDetected, FailureKind, Operation, PortError};
use crate::ports::{CloudProvider, NodeGroupId, ScaleUpFailure};

impl Autoscaler {
    /// Finds failures (reported or provision timeouts), clears finished scale-ups, backs failed
    /// groups off and cancels what they still wait for. `groups` is updated in place.
    pub(super) async fn handle_failures<P: CloudProvider>(
        &mut self,
        cloud: &P,
        groups: &mut [GroupView],
        reported: Vec<ScaleUpFailure>,
        fresh: bool,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Vec<FailureDetected> {
        let found = self.detect(groups, reported, now);
        let mut detected = Vec::with_capacity(found.len());
        for (id, (kind, at)) in found {
            let reason = match &kind {
                FailureKind::Reported(r) => r.clone(),
                FailureKind::ProvisionTimeout => {
                    "nodes did not register within the max node provision time".to_owned()
                }
            };
            let until = self.state.record_failure(&id, &reason, at, now);
            let Some(group) = groups.iter_mut().find(|g| g.id == id) else {
                continue;
            };
            group.backed_off_until = Some(until);
            let cancelled_to = self.cancel(cloud, group, errors).await;
            if kind == FailureKind::ProvisionTimeout && fresh {
                self.terminate_unregistered(cloud, group, now, errors).await;
            }
            detected.push(FailureDetected {
                group: id,
                kind,
                backoff_until: until,
                cancelled_to,
            });
        }
        detected
    }

    /// New reported failures, finished scale-ups (recorded as successes) and timed-out ones.
    fn detect(
        &mut self,
        groups: &[GroupView],
        reported: Vec<ScaleUpFailure>,
        now: Timestamp,
    ) -> BTreeMap<NodeGroupId, (FailureKind, Timestamp)> {
        let mut found: BTreeMap<NodeGroupId, (FailureKind, Timestamp)> = BTreeMap::new();
        for f in reported {
            let known = groups.iter().any(|g| g.id == f.group);
            let newer = found.get(&f.group).is_none_or(|(_, at)| f.at > *at);
            if known && newer && self.state.is_new_failure(&f.group, f.at) {
                found.insert(f.group, (FailureKind::Reported(f.reason), f.at));
            }
        }
        let requests: Vec<_> = self
            .state
            .scale_ups
            .iter()
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect();
        for (id, request) in requests {
            let Some(group) = groups.iter().find(|g| g.id == id) else {
                self.state.scale_ups.remove(&id);
                continue;
            };
            if group.registered >= request.target.min(group.desired) {
                self.state.scale_ups.remove(&id);
                self.state.backoff.record_success(&id);
            } else if now.since(request.requested_at) >= self.config.max_node_provision_time
                && !found.contains_key(&id)
            {
                found.insert(id, (FailureKind::ProvisionTimeout, now));
            }
        }
        found
    }

    /// Lowers desired by the requests the ASG has not launched, as it is right now (never below
    /// the ASG minimum). The ASG is read again just before the write: an instance launched since
    /// the loop started must not be the one AWS removes to meet a lower desired capacity. If
    /// that read fails nothing is lowered (the failure is recorded; the next loop tries again).
    async fn cancel<P: CloudProvider>(
        &mut self,
        cloud: &P,
        group: &mut GroupView,
        errors: &mut Vec<PortError>,
    ) -> Option<u32> {
        if group.desired <= group.instances.max(group.asg_min_size) {
            return None;
        }
        let current = match cloud.node_groups().await {
            Ok(groups) => groups.into_iter().find(|g| g.id == group.id)?,
            Err(e) => {
                warn!(group = %group.id, error = %e, "not cancelling the scale-up: the group could not be read again");
                errors.push(cloud_error(
                    Operation::NodeGroups,
                    &group.id.to_string(),
                    &e,
                ));
                return None;
            }
        };
        let launched = u32::try_from(live(&current).count()).unwrap_or(u32::MAX);
        group.desired = current.desired;
        group.instances = launched;
        let target = launched.max(current.min_size);
        if current.desired <= target {
            return None;
        }
        match cloud.set_desired_capacity(&group.id, target).await {
            Ok(()) => {
                group.desired = target;
                Some(target)
            }
            Err(e) => {
                errors.push(cloud_error(
                    Operation::SetDesiredCapacity,
                    &group.id.to_string(),
                    &e,
                ));
                None
            }
        }
    }

    /// Terminates instances launched longer than the provision time ago whose node never registered.
    async fn terminate_unregistered<P: CloudProvider>(
        &mut self,
        cloud: &P,
        group: &mut GroupView,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) {
        let limit = self.config.max_node_provision_time;
        let stuck: Vec<Arc<str>> = group
            .live_instances
            .iter()
            .filter(|i| !i.registered && i.launched_at.is_some_and(|t| now.since(t) >= limit))
            .map(|i| i.id.clone())
            .collect();
        for id in stuck {
            if group.desired <= group.asg_min_size {
                break;
            }
            match cloud.terminate_instance(&group.id, &id).await {
                Ok(()) => {
                    group.desired = group.desired.saturating_sub(1);
                    group.instances = group.instances.saturating_sub(1);
                    group.live_instances.retain(|i| i.id != id);
                }
                Err(e) => errors.push(cloud_error(Operation::TerminateInstance, &id, &e)),
            }
        }
    }
}
