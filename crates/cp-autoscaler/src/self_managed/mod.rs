//! The self-managed actuator: the control-plane Auto Scaling Group rolled to a new instance type.
//!
//! A change creates a launch-template version with the new type (from the version the group
//! uses), records the roll in an ASG tag ([`ROLL_TAG`], a [`RollRecord`]), points the group at
//! the new version, and then, one loop at a time, follows [`next_step`]: add one instance, wait
//! until its node is Ready and its API server answers `/readyz` ([`NodeHealth`]), remove an old
//! one. Everything the roll needs is in the group and its tag, so a restarted controller (or a
//! new leader) carries on where the last one stopped.
//!
//! A replacement that is not healthy in time, or a launch AWS rejects, stops the roll: the
//! unhealthy replacements are removed, the previous launch-template version, desired capacity
//! and maximum size are restored, the tag is removed, and the failure is reported once
//! ([`Finished::Failed`]) so the controller raises an Event and backs off. Old instances are
//! never removed on the way out.

pub mod instance_types;

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use aws_sdk_ec2::types::RequestLaunchTemplateData;
use tidal_core::Timestamp;
use tidal_core::control_plane::{
    RollInstance, RollRecord, RollSettings, RollStep, RollView, next_step,
};
use tracing::{info, warn};

use crate::aws_error::classify;
use crate::ports::{Actuator, ActuatorError, ActuatorState, Finished, NodeHealth, Phase};

/// The ASG tag holding the roll in progress.
pub const ROLL_TAG: &str = "tidal.io/control-plane-roll";

/// Lifecycle states of instances that are leaving the group.
fn leaving(state: &str) -> bool {
    state.starts_with("Terminat") || state.starts_with("Detach") || state.starts_with("Standby")
}

/// The group as read now.
#[derive(Debug)]
struct Group {
    desired: u32,
    max: u32,
    /// Launch template id.
    template_id: String,
    /// The version the group launches from, resolved to a number.
    version: i64,
    /// The instance type of that version.
    instance_type: String,
    /// (id, type) of the instances not leaving the group.
    instances: Vec<(String, String)>,
    roll: Option<RollRecord>,
}

/// Resizes a self-managed control plane by rolling its Auto Scaling Group.
#[derive(Debug)]
pub struct AsgActuator<H> {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    group: String,
    health: H,
    settings: RollSettings,
}

impl<H: NodeHealth> AsgActuator<H> {
    /// An actuator for the control-plane group `group`, judging health with `health`.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        group: impl Into<String>,
        health: H,
        settings: RollSettings,
    ) -> Self {
        Self {
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            group: group.into(),
            health,
            settings,
        }
    }

    async fn read(&self) -> Result<Group, ActuatorError> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .map_err(|e| classify("DescribeAutoScalingGroups", e))?;
        let g = out.auto_scaling_groups().first().ok_or_else(|| {
            ActuatorError::Invalid(format!("no Auto Scaling Group {:?}", self.group))
        })?;
        let spec = g.launch_template().ok_or_else(|| {
            ActuatorError::Invalid(format!(
                "Auto Scaling Group {:?} has no launch template (launch configurations and mixed instances policies are not rolled)",
                self.group
            ))
        })?;
        let (template_id, version, instance_type) = self.resolve(spec).await?;
        let instances = g
            .instances()
            .iter()
            .filter(|i| !leaving(i.lifecycle_state().map_or("", |s| s.as_str())))
            .filter_map(|i| {
                Some((
                    i.instance_id()?.to_owned(),
                    i.instance_type().unwrap_or_default().to_owned(),
                ))
            })
            .collect();
        let roll = g
            .tags()
            .iter()
            .find(|t| t.key() == Some(ROLL_TAG))
            .and_then(|t| t.value())
            .map(|v| {
                v.parse::<RollRecord>()
                    .map_err(|e| ActuatorError::Invalid(format!("tag {ROLL_TAG}: {e}")))
            })
            .transpose()?;
        let count = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        Ok(Group {
            desired: count(g.desired_capacity()),
            max: count(g.max_size()),
            template_id,
            version,
            instance_type,
            instances,
            roll,
        })
    }

    /// The template id, version number and instance type a launch-template spec points at.
    async fn resolve(
        &self,
        spec: &LaunchTemplateSpecification,
    ) -> Result<(String, i64, String), ActuatorError> {
        let mut request = self
            .ec2
            .describe_launch_template_versions()
            .versions(spec.version().unwrap_or("$Default"));
        request = match (spec.launch_template_id(), spec.launch_template_name()) {
            (Some(id), _) => request.launch_template_id(id),
            (None, Some(name)) => request.launch_template_name(name),
            (None, None) => {
                return Err(ActuatorError::Invalid(
                    "launch template without id or name".into(),
                ));
            }
        };
        let out = request
            .send()
            .await
            .map_err(|e| classify("DescribeLaunchTemplateVersions", e))?;
        let v = out.launch_template_versions().first().ok_or_else(|| {
            ActuatorError::Invalid(format!("launch template version {spec:?} not found"))
        })?;
        let instance_type = v
            .launch_template_data()
            .and_then(|d| d.instance_type())
            .map(|t| t.as_str().to_owned())
            .ok_or_else(|| {
                ActuatorError::Invalid("the launch template version sets no instance type".into())
            })?;
        let id = v.launch_template_id().unwrap_or_default().to_owned();
        Ok((id, v.version_number().unwrap_or_default(), instance_type))
    }

    async fn healthy_view(&self, g: &Group) -> Result<RollView, ActuatorError> {
        let ids: Vec<String> = g.instances.iter().map(|(id, _)| id.clone()).collect();
        let healthy = self
            .health
            .healthy(&ids)
            .await
            .map_err(|e| ActuatorError::Api {
                operation: "node health",
                source: Box::new(e),
            })?;
        Ok(RollView {
            group_version: g.version,
            instances: g
                .instances
                .iter()
                .map(|(id, ty)| RollInstance {
                    healthy: healthy.contains(id),
                    id: id.clone(),
                    instance_type: ty.clone(),
                })
                .collect(),
        })
    }

    async fn write_record(&self, record: &RollRecord) -> Result<(), ActuatorError> {
        let tag = Tag::builder()
            .resource_id(&self.group)
            .resource_type("auto-scaling-group")
            .key(ROLL_TAG)
            .value(record.to_string())
            .propagate_at_launch(false)
            .build();
        self.autoscaling
            .create_or_update_tags()
            .tags(tag)
            .send()
            .await
            .map_err(|e| classify("CreateOrUpdateTags", e))?;
        Ok(())
    }

    async fn delete_record(&self) -> Result<(), ActuatorError> {
        let tag = Tag::builder()
            .resource_id(&self.group)
            .resource_type("auto-scaling-group")
            .key(ROLL_TAG)
            .build();
        self.autoscaling
            .delete_tags()
            .tags(tag)
            .send()
            .await
            .map_err(|e| classify("DeleteTags", e))?;
        Ok(())
    }

    /// Points the group at `version` of its template, with optional desired and max.
    async fn update_group(
        &self,
        template_id: &str,
        version: Option<i64>,
        desired: Option<u32>,
        max: Option<u32>,
    ) -> Result<(), ActuatorError> {
        let mut request = self
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.group);
        if let Some(version) = version {
            request = request.launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(template_id)
                    .version(version.to_string())
                    .build(),
            );
        }
        let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        if let Some(max) = max {
            request = request.max_size(int(max));
        }
        if let Some(desired) = desired {
            request = request.desired_capacity(int(desired));
        }
        request
            .send()
            .await
            .map_err(|e| classify("UpdateAutoScalingGroup", e))?;
        Ok(())
    }

    async fn terminate(&self, instance: &str) -> Result<(), ActuatorError> {
        self.autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(|e| classify("TerminateInstanceInAutoScalingGroup", e))?;
        Ok(())
    }

    /// Stops the roll: removes `remove`, restores version, desired and max, forgets the record.
    async fn roll_back(
        &self,
        g: &Group,
        record: &RollRecord,
        remove: &[String],
        reason: String,
    ) -> Result<ActuatorState, ActuatorError> {
        warn!(group = %self.group, from = %record.from, to = %record.to, %reason, "roll stopped; rolling back");
        for id in remove {
            self.terminate(id).await?;
        }
        self.update_group(
            &g.template_id,
            Some(record.previous_version),
            Some(record.desired),
            Some(record.max),
        )
        .await?;
        self.delete_record().await?;
        Ok(ActuatorState {
            finished: Some(Finished::Failed {
                from: record.from.clone(),
                to: record.to.clone(),
                reason,
            }),
            ..ActuatorState::idle(record.from.clone())
        })
    }

    /// One step of the roll `record`.
    async fn step(
        &self,
        g: &Group,
        record: &RollRecord,
        now: Timestamp,
    ) -> Result<ActuatorState, ActuatorError> {
        let view = self.healthy_view(g).await?;
        let healthy = healthy_count(&view);
        let step = next_step(record, &view, self.settings, now);
        info!(group = %self.group, to = %record.to, step = step.label(), "roll step");
        match step {
            RollStep::PointGroupAtNewVersion => {
                self.update_group(&g.template_id, Some(record.new_version), None, None)
                    .await?;
                Ok(rolling(record, Phase::Launching, healthy))
            }
            RollStep::LaunchReplacement => self.launch_replacement(g, record, healthy, now).await,
            RollStep::WaitForReplacement { .. } => {
                Ok(rolling(record, Phase::WaitingHealthy, healthy))
            }
            RollStep::RemoveOld { instance } => {
                self.terminate(&instance).await?;
                self.write_record(&RollRecord {
                    launched_at: None,
                    ..record.clone()
                })
                .await?;
                Ok(rolling(record, Phase::Removing, healthy))
            }
            RollStep::Finish => self.finish(g, record, healthy).await,
            RollStep::RollBack { remove, reason } => {
                self.roll_back(g, record, &remove, reason).await
            }
        }
    }

    /// Asks the group for one more instance (the replacement on the new version); a launch
    /// AWS refuses rolls the change back.
    async fn launch_replacement(
        &self,
        g: &Group,
        record: &RollRecord,
        healthy: Option<u32>,
        now: Timestamp,
    ) -> Result<ActuatorState, ActuatorError> {
        let launched = RollRecord {
            launched_at: Some(now),
            ..record.clone()
        };
        // Remembered first: after a crash the timeout still counts from the request.
        self.write_record(&launched).await?;
        let desired = record.desired.saturating_add(1);
        match self
            .update_group(&g.template_id, None, Some(desired), None)
            .await
        {
            Ok(()) => Ok(rolling(record, Phase::Launching, healthy)),
            Err(ActuatorError::Refused { reason }) => {
                self.roll_back(g, record, &[], format!("AWS refused the launch: {reason}"))
                    .await
            }
            Err(e) => Err(e),
        }
    }

    /// Every instance runs the new version: the group gets its size and maximum back and
    /// the roll record goes.
    async fn finish(
        &self,
        g: &Group,
        record: &RollRecord,
        healthy: Option<u32>,
    ) -> Result<ActuatorState, ActuatorError> {
        self.update_group(&g.template_id, None, Some(record.desired), Some(record.max))
            .await?;
        self.delete_record().await?;
        info!(group = %self.group, from = %record.from, to = %record.to, "roll finished");
        Ok(ActuatorState {
            finished: Some(Finished::Succeeded {
                from: record.from.clone(),
                to: record.to.clone(),
            }),
            healthy,
            ..ActuatorState::idle(record.to.clone())
        })
    }
}

/// The state while `record` rolls on, in `phase`.
fn rolling(record: &RollRecord, phase: Phase, healthy: Option<u32>) -> ActuatorState {
    ActuatorState {
        size: record.from.clone(),
        target: Some(record.to.clone()),
        phase,
        finished: None,
        healthy,
    }
}

/// Healthy instances in `view`.
fn healthy_count(view: &RollView) -> Option<u32> {
    u32::try_from(view.instances.iter().filter(|i| i.healthy).count()).ok()
}

/// The phase a roll is in when `step` is its next step.
fn phase_of(step: &RollStep) -> Phase {
    match step {
        RollStep::PointGroupAtNewVersion | RollStep::LaunchReplacement => Phase::Launching,
        RollStep::WaitForReplacement { .. } => Phase::WaitingHealthy,
        RollStep::RemoveOld { .. } | RollStep::Finish | RollStep::RollBack { .. } => {
            Phase::Removing
        }
    }
}

impl<H: NodeHealth> Actuator for AsgActuator<H> {
    async fn observe(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        let g = self.read().await?;
        let view = self.healthy_view(&g).await?;
        let Some(record) = &g.roll else {
            return Ok(ActuatorState {
                healthy: healthy_count(&view),
                ..ActuatorState::idle(g.instance_type.clone())
            });
        };
        let step = next_step(record, &view, self.settings, now);
        Ok(ActuatorState {
            size: record.from.clone(),
            target: Some(record.to.clone()),
            phase: phase_of(&step),
            finished: None,
            healthy: healthy_count(&view),
        })
    }

    async fn reconcile(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        let g = self.read().await?;
        match &g.roll {
            Some(record) => self.step(&g, record, now).await,
            None => {
                let view = self.healthy_view(&g).await?;
                Ok(ActuatorState {
                    healthy: healthy_count(&view),
                    ..ActuatorState::idle(g.instance_type.clone())
                })
            }
        }
    }

    async fn start(&self, from: &str, to: &str, _now: Timestamp) -> Result<(), ActuatorError> {
        let g = self.read().await?;
        if let Some(roll) = &g.roll {
            return Err(ActuatorError::Busy(format!(
                "a roll is in progress: {roll}"
            )));
        }
        if g.instance_type != from {
            return Err(ActuatorError::Invalid(format!(
                "the group launches {}, not {from}",
                g.instance_type
            )));
        }
        let view = self.healthy_view(&g).await?;
        let healthy =
            u32::try_from(view.instances.iter().filter(|i| i.healthy).count()).unwrap_or(0);
        let needed = self.settings.min_healthy.min(g.desired);
        if healthy < needed {
            return Err(ActuatorError::Busy(format!(
                "only {healthy} control-plane instances are healthy; a roll needs {needed}"
            )));
        }
        let data = RequestLaunchTemplateData::builder()
            .instance_type(aws_sdk_ec2::types::InstanceType::from(to))
            .build();
        let out = self
            .ec2
            .create_launch_template_version()
            .launch_template_id(&g.template_id)
            .source_version(g.version.to_string())
            .version_description(format!("tidal cp-autoscaler: {from} -> {to}"))
            .launch_template_data(data)
            .send()
            .await
            .map_err(|e| classify("CreateLaunchTemplateVersion", e))?;
        let new_version = out
            .launch_template_version()
            .and_then(|v| v.version_number())
            .ok_or_else(|| {
                ActuatorError::Invalid("CreateLaunchTemplateVersion returned no version".into())
            })?;
        let record = RollRecord {
            from: from.to_owned(),
            to: to.to_owned(),
            previous_version: g.version,
            new_version,
            desired: g.desired,
            max: g.max,
            launched_at: None,
        };
        self.write_record(&record).await?;
        let max = (g.max < g.desired.saturating_add(1)).then(|| g.desired.saturating_add(1));
        if let Err(e) = self
            .update_group(&g.template_id, Some(new_version), None, max)
            .await
        {
            self.delete_record().await?;
            return Err(e);
        }
        info!(group = %self.group, %from, %to, version = new_version, "roll started");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
