//! The EKS actuator: provisioned control-plane tiers through `UpdateClusterConfig`
//! (`controlPlaneScalingConfig.tier`), followed with `DescribeUpdate` until it ends.
//!
//! The update in flight lives in EKS, not here: after a restart the first reconcile looks
//! through `ListUpdates` for a tier update still in progress and follows it. What AWS refuses
//! (an invalid tier, a tier that cannot be left while the etcd database is above 8 GB, another
//! update in progress) comes back as [`ActuatorError::Refused`] or [`ActuatorError::Busy`] with
//! AWS's message, and the controller backs off.

use std::sync::Mutex;
use tidal_core::sync;

use aws_sdk_eks::Client;
use aws_sdk_eks::types::{
    ControlPlaneScalingConfig, ProvisionedControlPlaneTier, Update, UpdateParamType, UpdateStatus,
    UpdateType,
};
use tidal_core::Timestamp;
use tracing::{debug, info};

use crate::aws_error::classify;
use crate::ports::{Actuator, ActuatorError, ActuatorState, Finished, Phase};

/// How many of the newest updates a restart looks through for one in progress.
const RESUME_LOOKBACK: usize = 20;

/// Resizes an EKS control plane between provisioned tiers.
#[derive(Debug)]
pub struct EksActuator {
    client: Client,
    cluster: String,
    /// The tier update being followed; `None` = none, or not yet looked for after a start.
    in_flight: Mutex<InFlight>,
}

#[derive(Debug, Default)]
enum InFlight {
    /// Not yet looked for (after a start or restart).
    #[default]
    Unknown,
    /// None in progress.
    None,
    /// This update.
    Update(String),
}

impl EksActuator {
    /// An actuator for cluster `cluster`.
    pub fn new(client: Client, cluster: impl Into<String>) -> Self {
        Self {
            client,
            cluster: cluster.into(),
            in_flight: Mutex::new(InFlight::Unknown),
        }
    }

    fn set_in_flight(&self, value: InFlight) {
        *sync::lock(&self.in_flight) = value;
    }

    fn in_flight_id(&self) -> Option<Option<String>> {
        match &*sync::lock(&self.in_flight) {
            InFlight::Unknown => None,
            InFlight::None => Some(None),
            InFlight::Update(id) => Some(Some(id.clone())),
        }
    }

    async fn tier(&self) -> Result<String, ActuatorError> {
        let out = self
            .client
            .describe_cluster()
            .name(&self.cluster)
            .send()
            .await
            .map_err(|e| classify("DescribeCluster", e))?;
        let tier = out
            .cluster()
            .and_then(|c| c.control_plane_scaling_config())
            .and_then(|c| c.tier())
            .map_or("standard", |t| t.as_str());
        Ok(tier.to_owned())
    }

    async fn describe_update(&self, id: &str) -> Result<Option<Update>, ActuatorError> {
        let out = self
            .client
            .describe_update()
            .name(&self.cluster)
            .update_id(id)
            .send()
            .await
            .map_err(|e| classify("DescribeUpdate", e))?;
        Ok(out.update().cloned())
    }

    /// After a restart: the newest tier update still in progress, if any.
    async fn find_in_progress(&self) -> Result<Option<String>, ActuatorError> {
        let out = self
            .client
            .list_updates()
            .name(&self.cluster)
            .send()
            .await
            .map_err(|e| classify("ListUpdates", e))?;
        for id in out.update_ids().iter().rev().take(RESUME_LOOKBACK) {
            if let Some(update) = self.describe_update(id).await?
                && is_tier_update(&update)
                && update.status() == Some(&UpdateStatus::InProgress)
            {
                info!(update = %id, "following a tier update started before this process");
                return Ok(Some(id.clone()));
            }
        }
        Ok(None)
    }
}

fn is_tier_update(update: &Update) -> bool {
    update.r#type() == Some(&UpdateType::ControlPlaneScalingConfigUpdate)
        || param(update, &UpdateParamType::UpdatedTier).is_some()
}

fn param<'a>(update: &'a Update, kind: &UpdateParamType) -> Option<&'a str> {
    update
        .params()
        .iter()
        .find(|p| p.r#type() == Some(kind))
        .and_then(|p| p.value())
}

impl Actuator for EksActuator {
    /// Following an update only reads (ListUpdates, DescribeUpdate, DescribeCluster).
    async fn observe(&self, now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        self.reconcile(now).await
    }

    async fn reconcile(&self, _now: Timestamp) -> Result<ActuatorState, ActuatorError> {
        let id = match self.in_flight_id() {
            Some(id) => id,
            None => {
                let found = self.find_in_progress().await?;
                self.set_in_flight(found.clone().map_or(InFlight::None, InFlight::Update));
                found
            }
        };
        let Some(id) = id else {
            return Ok(ActuatorState::idle(self.tier().await?));
        };
        let update = self.describe_update(&id).await?;
        let tier = self.tier().await?;
        let Some(update) = update else {
            self.set_in_flight(InFlight::None);
            return Ok(ActuatorState::idle(tier));
        };
        let from = param(&update, &UpdateParamType::PreviousTier)
            .unwrap_or(&tier)
            .to_owned();
        let to = param(&update, &UpdateParamType::UpdatedTier)
            .unwrap_or(&tier)
            .to_owned();
        let status = update.status().cloned().unwrap_or(UpdateStatus::InProgress);
        debug!(update = %id, status = status.as_str(), %from, %to, "tier update");
        let finished = match status {
            UpdateStatus::InProgress => {
                return Ok(ActuatorState {
                    size: from,
                    target: Some(to),
                    phase: Phase::Updating,
                    finished: None,
                    healthy: None,
                });
            }
            UpdateStatus::Successful => Finished::Succeeded {
                from,
                to: to.clone(),
            },
            other => {
                let errors: Vec<String> = update
                    .errors()
                    .iter()
                    .filter_map(|e| e.error_message().map(str::to_owned))
                    .collect();
                Finished::Failed {
                    from,
                    to,
                    reason: format!("update {} {}: {}", id, other.as_str(), errors.join("; ")),
                }
            }
        };
        self.set_in_flight(InFlight::None);
        Ok(ActuatorState {
            finished: Some(finished),
            ..ActuatorState::idle(tier)
        })
    }

    async fn start(&self, from: &str, to: &str, _now: Timestamp) -> Result<(), ActuatorError> {
        let config = ControlPlaneScalingConfig::builder()
            .tier(ProvisionedControlPlaneTier::from(to))
            .build();
        let out = self
            .client
            .update_cluster_config()
            .name(&self.cluster)
            .control_plane_scaling_config(config)
            .send()
            .await
            .map_err(|e| classify("UpdateClusterConfig", e))?;
        let id = out.update().and_then(|u| u.id()).ok_or_else(|| {
            ActuatorError::Invalid("UpdateClusterConfig returned no update id".into())
        })?;
        info!(cluster = %self.cluster, %from, %to, update = %id, "tier update started");
        self.set_in_flight(InFlight::Update(id.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
