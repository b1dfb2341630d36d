//! Observe: failed scale-ups since the last loop, instance types, and the groups as planners see them.

use tidal_core::Timestamp;

use super::Autoscaler;
use crate::act::cloud_error;
use crate::groups::{GroupView, group_views, nodes_by_instance};
use crate::node_pool::NodePool;
use crate::outcome::{Operation, PortError};
use crate::ports::{CloudProvider, ClusterSnapshot, NodeGroup, ScaleUpFailure};
use crate::templates::TemplateError;

impl Autoscaler {
    /// Scale-up failures the cloud reported since the last successful poll (on the first loop:
    /// within the max node provision time).
    pub(super) async fn poll_failures<P: CloudProvider>(
        &mut self,
        cloud: &P,
        now: Timestamp,
        errors: &mut Vec<PortError>,
    ) -> Vec<ScaleUpFailure> {
        let since = self
            .state
            .last_failure_poll
            .unwrap_or(now - self.config.max_node_provision_time);
        match cloud.scale_up_failures(since).await {
            Ok(failures) => {
                self.state.last_failure_poll = Some(now);
                failures
            }
            Err(e) => {
                errors.push(cloud_error(Operation::ScaleUpFailures, "", &e));
                Vec::new()
            }
        }
    }

    /// Fetches instance types for pools that have none cached. Returns the pools whose types
    /// the cloud does not know (a configuration problem, not a failed call).
    pub(super) async fn refresh_templates<P: CloudProvider>(
        &mut self,
        cloud: &P,
        errors: &mut Vec<PortError>,
    ) -> Vec<String> {
        let missing: Vec<NodePool> = self
            .templates
            .missing(&self.pools)
            .into_iter()
            .cloned()
            .collect();
        let mut problems = Vec::new();
        for pool in missing {
            match cloud.instance_types(&pool.instance_types).await {
                Ok(types) => {
                    if let Err(e) = self.templates.set_types(&pool, types) {
                        problems.push(e.to_string());
                    }
                }
                Err(e) => errors.push(cloud_error(Operation::InstanceTypes, &pool.name, &e)),
            }
        }
        problems
    }

    /// The groups as planners see them: the cloud's groups joined with their pools, registered
    /// nodes, templates (with the groups' node-template data) and backoff state. Template
    /// problems (pools without a template node, malformed node-template tags) go to `problems`.
    pub fn group_views(
        &mut self,
        cloud_groups: &[NodeGroup],
        snapshot: &ClusterSnapshot,
        now: Timestamp,
        problems: &mut Vec<String>,
    ) -> Vec<GroupView> {
        let nodes = nodes_by_instance(&snapshot.nodes);
        let templates = &mut self.templates;
        let pools = &self.pools;
        let settings = &self.config.template;
        let backoff = &self.state.backoff;
        let unreadable = &snapshot.unreadable.node_instances;
        group_views(pools, cloud_groups, (&nodes, unreadable), |group| {
            let id = &group.id;
            let template = pools.pool_for_group(id).and_then(|pool| {
                match templates.template(pool, group, settings, problems) {
                    Ok(t) => Some(t),
                    Err(TemplateError::NotLoaded(_)) => None,
                    Err(e) => {
                        let text = e.to_string();
                        if !problems.contains(&text) {
                            problems.push(text);
                        }
                        None
                    }
                }
            });
            (template, backoff.backed_off_until(id, now))
        })
    }
}
