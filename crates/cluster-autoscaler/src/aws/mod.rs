//! The AWS cloud provider: node groups are tagged Auto Scaling Groups, one per pool and zone.
//!
//! - Discovery: DescribeAutoScalingGroups filtered on the cluster tag, then
//!   [`discovery::discover`] checks every tag and the single zone. Launch times come from
//!   DescribeInstances, asked once per instance (they never change).
//! - Instance types: DescribeInstanceTypes, cached for the life of the process.
//! - Actions: SetDesiredCapacity (cooldowns ignored, as the autoscaler decides its own pace) and
//!   TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity, refused for an
//!   instance the last discovery did not show in that group.
//! - Failed scale-ups: DescribeScalingActivities ([`activities`]).
//!
//! The actions and the failure scan use the ASG names from the last [`CloudProvider::node_groups`]
//! call, which the autoscaler makes at the start of every loop.

mod activities;
mod discovery;
mod error;
mod instance_types;
mod node_template;

pub use activities::failure_from_activity;
pub use discovery::{Skipped, discover, instance_state};
pub use error::{AwsError, SdkFailure};
pub use instance_types::instance_type_from_info;
pub use node_template::{LABEL_PREFIX, RESOURCES_PREFIX, TAINT_PREFIX, parse_node_template};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tidal_core::sync::lock;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use tidal_core::Timestamp;
use tidal_core::instance::InstanceType;
use tracing::{debug, instrument, warn};

use crate::node_pool::cluster_tag;
use crate::ports::{CloudError, CloudProvider, NodeGroup, NodeGroupId, ScaleUpFailure};

/// DescribeInstanceTypes accepts at most this many names per request.
const INSTANCE_TYPES_PER_CALL: usize = 100;
/// Instance ids per DescribeInstances request (the API's documented page size limit).
const INSTANCES_PER_CALL: usize = 1000;
/// Upper bound on scaling-activity pages read per loop, so a very busy account cannot stall a loop.
const MAX_ACTIVITY_PAGES: usize = 20;

/// What the last discovery found, for the calls that need an ASG name or membership.
#[derive(Default)]
struct Known {
    groups: BTreeMap<NodeGroupId, KnownGroup>,
}

struct KnownGroup {
    asg_name: String,
    instances: BTreeSet<String>,
}

/// [`CloudProvider`] on AWS Auto Scaling and EC2.
pub struct AwsCloudProvider {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    cluster_name: String,
    known: Mutex<Known>,
    instance_types: Mutex<HashMap<String, InstanceType>>,
    launch_times: Mutex<HashMap<String, Timestamp>>,
}

/// How long one AWS call may take, retries included: a hung call must not hold the loop.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one attempt of an AWS call may take (a half-open connection answers nothing).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting to an AWS endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `config` with operation, attempt and connect timeouts on every call (the SDK sets none by
/// default except for connecting): `operation` for a call with its retries, `attempt` for each try.
pub fn with_timeouts(config: &SdkConfig, operation: Duration, attempt: Duration) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .operation_timeout(operation)
        .operation_attempt_timeout(attempt)
        .connect_timeout(CONNECT_TIMEOUT.min(attempt))
        .build();
    config.to_builder().timeout_config(timeouts).build()
}

impl AwsCloudProvider {
    /// A provider for the ASGs of `cluster_name`, with clients built from `config` and the
    /// autoscaler's call timeouts ([`OPERATION_TIMEOUT`], [`ATTEMPT_TIMEOUT`]).
    pub fn new(config: &SdkConfig, cluster_name: impl Into<String>) -> Self {
        let config = with_timeouts(config, OPERATION_TIMEOUT, ATTEMPT_TIMEOUT);
        Self::from_clients(
            aws_sdk_autoscaling::Client::new(&config),
            aws_sdk_ec2::Client::new(&config),
            cluster_name,
        )
    }

    /// A provider using the given clients.
    pub fn from_clients(
        autoscaling: aws_sdk_autoscaling::Client,
        ec2: aws_sdk_ec2::Client,
        cluster_name: impl Into<String>,
    ) -> Self {
        Self {
            autoscaling,
            ec2,
            cluster_name: cluster_name.into(),
            known: Mutex::default(),
            instance_types: Mutex::default(),
            launch_times: Mutex::default(),
        }
    }

    fn asg_name(&self, group: &NodeGroupId) -> Result<String, AwsError> {
        lock(&self.known)
            .groups
            .get(group)
            .map(|g| g.asg_name.clone())
            .ok_or_else(|| AwsError::UnknownGroup(group.clone()))
    }

    /// All ASGs carrying this cluster's tag.
    async fn describe_tagged_groups(&self) -> Result<Vec<AutoScalingGroup>, AwsError> {
        let filter = Filter::builder()
            .name("tag-key")
            .values(cluster_tag(&self.cluster_name))
            .build();
        let mut pages = self
            .autoscaling
            .describe_auto_scaling_groups()
            .filters(filter)
            .into_paginator()
            .send();
        let mut asgs = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::call("DescribeAutoScalingGroups", "all groups", e))?;
            asgs.extend(page.auto_scaling_groups().iter().cloned());
        }
        Ok(asgs)
    }

    /// Fills in launch times, asking EC2 only about instances not seen before. A failure only
    /// leaves launch times unknown: it must not hide the groups themselves.
    async fn fill_launch_times(&self, groups: &mut [NodeGroup]) {
        let wanted: Vec<String> = {
            let known = lock(&self.launch_times);
            groups
                .iter()
                .flat_map(|g| &g.instances)
                .filter(|i| !known.contains_key(&*i.id))
                .map(|i| i.id.to_string())
                .collect()
        };
        for chunk in wanted.chunks(INSTANCES_PER_CALL) {
            if let Err(e) = self.describe_launch_times(chunk).await {
                warn!(error = %e, instances = chunk.len(), "launch times unknown for new instances");
            }
        }
        let mut known = lock(&self.launch_times);
        let present: BTreeSet<&str> = groups
            .iter()
            .flat_map(|g| &g.instances)
            .map(|i| &*i.id)
            .collect();
        known.retain(|id, _| present.contains(id.as_str()));
        for instance in groups.iter_mut().flat_map(|g| g.instances.iter_mut()) {
            instance.launched_at = known.get(&*instance.id).copied();
        }
    }

    async fn describe_launch_times(&self, ids: &[String]) -> Result<(), AwsError> {
        let mut pages = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                AwsError::call("DescribeInstances", format!("{} instances", ids.len()), e)
            })?;
            let mut known = lock(&self.launch_times);
            for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                if let (Some(id), Some(t)) = (instance.instance_id(), instance.launch_time())
                    && let Ok(ms) = t.to_millis()
                {
                    known.insert(id.to_owned(), Timestamp::from_millis(ms));
                }
            }
        }
        Ok(())
    }

    /// Describes `names` (at most [`INSTANCE_TYPES_PER_CALL`]) into the cache.
    async fn describe_instance_types(&self, names: &[String]) -> Result<(), AwsError> {
        let types = names
            .iter()
            .map(|n| aws_sdk_ec2::types::InstanceType::from(n.as_str()))
            .collect();
        let mut pages = self
            .ec2
            .describe_instance_types()
            .set_instance_types(Some(types))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                // EC2 names the unknown types only in free text; the caller narrows it down.
                Err(e) if e.code() == Some("InvalidInstanceType") => {
                    return Err(AwsError::UnknownInstanceType(names.join(", ")));
                }
                Err(e) => return Err(AwsError::call("DescribeInstanceTypes", names.join(", "), e)),
            };
            let mut cache = lock(&self.instance_types);
            for info in page.instance_types() {
                let it = instance_type_from_info(info)?;
                cache.insert(it.name.clone(), it);
            }
        }
        Ok(())
    }

    /// Describes the missing names; when a batch names a type EC2 does not know, the names are
    /// asked one by one so the error says which one.
    async fn fetch_missing_types(&self, missing: &[String]) -> Result<(), AwsError> {
        for chunk in missing.chunks(INSTANCE_TYPES_PER_CALL) {
            match self.describe_instance_types(chunk).await {
                Err(AwsError::UnknownInstanceType(_)) if chunk.len() > 1 => {
                    for name in chunk {
                        self.describe_instance_types(std::slice::from_ref(name))
                            .await?;
                    }
                }
                other => other?,
            }
        }
        Ok(())
    }
}

/// Records what discovery found and returns the groups sorted by id; a second ASG claiming the
/// same pool and zone is ignored (deterministically: the first by ASG name wins).
fn dedupe_groups(found: Vec<NodeGroup>) -> (Vec<NodeGroup>, Vec<String>) {
    let mut by_id: BTreeMap<NodeGroupId, NodeGroup> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut sorted = found;
    sorted.sort_by(|a, b| a.asg_name.cmp(&b.asg_name));
    for g in sorted {
        if let Some(first) = by_id.get(&g.id) {
            problems.push(format!(
                "ASG {} is tagged as node group {} too; using ASG {}",
                g.asg_name, g.id, first.asg_name
            ));
        } else {
            by_id.insert(g.id.clone(), g);
        }
    }
    (by_id.into_values().collect(), problems)
}

impl CloudProvider for AwsCloudProvider {
    #[instrument(skip(self), fields(cluster = %self.cluster_name))]
    async fn node_groups(&self) -> Result<Vec<NodeGroup>, CloudError> {
        let asgs = self.describe_tagged_groups().await?;
        let mut found = Vec::new();
        for asg in &asgs {
            match discover(asg, &self.cluster_name) {
                Ok(g) => {
                    // The autoscaler reports these as template problems of the group (status,
                    // metric, a log line when they appear), so only debug here, every loop.
                    for problem in &g.template.problems {
                        debug!(group = %g.id, %problem, "ignoring a node-template tag");
                    }
                    found.push(g);
                }
                Err(Skipped::NotOurs) => {}
                Err(Skipped::Invalid(why)) => {
                    warn!(reason = %why, "ignoring an ASG tagged for this cluster")
                }
            }
        }
        let (mut groups, problems) = dedupe_groups(found);
        for problem in problems {
            warn!(%problem, "duplicate node group");
        }
        self.fill_launch_times(&mut groups).await;
        let known = groups
            .iter()
            .map(|g| {
                let entry = KnownGroup {
                    asg_name: g.asg_name.clone(),
                    instances: g.instances.iter().map(|i| i.id.to_string()).collect(),
                };
                (g.id.clone(), entry)
            })
            .collect();
        lock(&self.known).groups = known;
        debug!(groups = groups.len(), "discovered node groups");
        Ok(groups)
    }

    #[instrument(skip(self))]
    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, CloudError> {
        let unique: BTreeSet<&String> = names.iter().collect();
        let missing: Vec<String> = {
            let cache = lock(&self.instance_types);
            unique
                .iter()
                .filter(|n| !cache.contains_key(**n))
                .map(|n| (*n).clone())
                .collect()
        };
        self.fetch_missing_types(&missing).await?;
        let cache = lock(&self.instance_types);
        let mut out = Vec::with_capacity(unique.len());
        let mut seen = BTreeSet::new();
        for name in names {
            if !seen.insert(name) {
                continue;
            }
            let it = cache
                .get(name)
                .ok_or_else(|| AwsError::UnknownInstanceType(name.clone()))?;
            out.push(it.clone());
        }
        Ok(out)
    }

    #[instrument(skip(self), fields(group = %group))]
    async fn set_desired_capacity(
        &self,
        group: &NodeGroupId,
        desired: u32,
    ) -> Result<(), CloudError> {
        let asg = self.asg_name(group)?;
        let capacity = i32::try_from(desired).map_err(|_| AwsError::CapacityOutOfRange {
            group: group.clone(),
            desired,
        })?;
        self.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&asg)
            .desired_capacity(capacity)
            .honor_cooldown(false)
            .send()
            .await
            .map_err(|e| AwsError::call("SetDesiredCapacity", format!("{group} (ASG {asg})"), e))?;
        Ok(())
    }

    #[instrument(skip(self), fields(group = %group))]
    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        let asg = {
            let known = lock(&self.known);
            let g = known
                .groups
                .get(group)
                .ok_or_else(|| AwsError::UnknownGroup(group.clone()))?;
            if !g.instances.contains(instance_id) {
                return Err(AwsError::NotInGroup {
                    group: group.clone(),
                    asg: g.asg_name.clone(),
                    instance: instance_id.to_owned(),
                }
                .into());
            }
            g.asg_name.clone()
        };
        self.autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(|e| {
                AwsError::call(
                    "TerminateInstanceInAutoScalingGroup",
                    format!("{instance_id} in {group} (ASG {asg})"),
                    e,
                )
            })?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError> {
        let groups: HashMap<String, NodeGroupId> = lock(&self.known)
            .groups
            .iter()
            .map(|(id, g)| (g.asg_name.clone(), id.clone()))
            .collect();
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut pages = self
            .autoscaling
            .describe_scaling_activities()
            .max_records(100)
            .into_paginator()
            .send();
        let mut failures = Vec::new();
        for _ in 0..MAX_ACTIVITY_PAGES {
            let Some(page) = pages.next().await else {
                break;
            };
            let page =
                page.map_err(|e| AwsError::call("DescribeScalingActivities", "all groups", e))?;
            failures.extend(
                page.activities()
                    .iter()
                    .filter_map(|a| failure_from_activity(a, &groups, since)),
            );
            // Newest first (after the ones still in progress): once a page ends before `since`,
            // every later page does too.
            if page
                .activities()
                .last()
                .is_some_and(|a| activities::older_than(a, since))
            {
                break;
            }
        }
        Ok(failures)
    }
}
