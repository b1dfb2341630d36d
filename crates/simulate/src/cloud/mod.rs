//! The simulated cloud: one Auto Scaling Group per pool and zone, instances that take time to
//! boot, capacity outages and spot interruptions. Implements the autoscaler's [`CloudProvider`].
//!
//! Like AWS, an ASG below its desired capacity keeps trying to launch; a launch that finds no
//! capacity for any of the pool's instance types fails and is visible as a failed scaling
//! activity only after a detection delay (what DescribeScalingActivities shows), and the ASG
//! retries after a while. Failed launches never create instances, so desired stays above the
//! instance count until someone lowers it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;
use tidal_core::sync::lock;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tidal_cluster_autoscaler::ports::{
    CloudError, CloudInstance, CloudProvider, InstanceState, NodeGroup, NodeGroupId, NodeTemplate,
    ScaleUpFailure,
};
use tidal_core::Timestamp;
use tidal_core::instance::InstanceType;

use crate::instances;
use crate::noise::BootTimes;

mod billing;

pub use billing::{Billing, Ledger};

/// Timing of the simulated cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloudTiming {
    /// From launch to the node registering Ready.
    pub boot_time: Duration,
    /// From a failed launch to the failure being visible in the scaling activities.
    pub failure_detection_delay: Duration,
    /// How long an ASG waits after a failed launch before trying again.
    pub launch_retry_interval: Duration,
}

impl Default for CloudTiming {
    fn default() -> Self {
        Self {
            boot_time: Duration::from_secs(90),
            failure_detection_delay: Duration::from_secs(30),
            launch_retry_interval: Duration::from_secs(60),
        }
    }
}

/// What one simulated ASG is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct AsgSpec {
    /// Pool and zone.
    pub id: NodeGroupId,
    /// The ASG's minimum size.
    pub min_size: u32,
    /// The ASG's maximum size.
    pub max_size: u32,
    /// Instance types in the order the ASG tries them.
    pub instance_types: Vec<String>,
    /// Spot instances.
    pub spot: bool,
    /// What each instance type costs per hour in this group (spot discount applied).
    pub usd_per_hour: BTreeMap<String, f64>,
}

/// A window in which the cloud has no capacity of one instance type in one zone.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityOutage {
    /// The instance type that is unavailable.
    pub instance_type: String,
    /// The zone where it is unavailable.
    pub zone: String,
    /// Start of the outage (inclusive).
    pub from: Timestamp,
    /// End of the outage (exclusive).
    pub until: Timestamp,
}

/// One simulated instance.
#[derive(Clone, Debug, PartialEq)]
pub struct SimInstance {
    /// Instance id, `i-…`.
    pub id: Arc<str>,
    /// Instance type.
    pub instance_type: Arc<str>,
    /// Spot or on-demand.
    pub spot: bool,
    /// Lifecycle state.
    pub state: InstanceState,
    /// Launch time (billing starts here).
    pub launched_at: Timestamp,
    /// When it finishes booting and registers its node.
    pub ready_at: Timestamp,
    /// What it costs per hour.
    pub usd_per_hour: f64,
}

/// Something that happened in the cloud during a step, for the engine to act on.
#[derive(Clone, Debug, PartialEq)]
pub enum CloudEvent {
    /// An instance finished booting: its node registers.
    Booted {
        /// Its group.
        group: NodeGroupId,
        /// The instance.
        instance: SimInstance,
    },
    /// An instance is gone (terminated by request or reclaimed): its node disappears.
    Gone {
        /// Its group.
        group: NodeGroupId,
        /// Instance id.
        instance_id: String,
        /// Reclaimed as a spot interruption rather than terminated on request.
        interrupted: bool,
    },
    /// A launch found no capacity.
    LaunchFailed {
        /// The group that tried.
        group: NodeGroupId,
        /// How many instances it could not launch.
        count: u32,
        /// The reason AWS would report.
        reason: String,
    },
}

#[derive(Debug)]
struct Asg {
    spec: AsgSpec,
    desired: u32,
    instances: Vec<SimInstance>,
    next_launch_attempt: Timestamp,
}

impl Asg {
    /// No capacity for any of the pool's instance types: the launch of `missing` instances
    /// fails as AWS reports it, and is retried after the retry interval.
    fn launch_failed(
        &mut self,
        missing: u32,
        now: Timestamp,
        timing: CloudTiming,
    ) -> (ScaleUpFailure, CloudEvent) {
        let id = &self.spec.id;
        let types = self.spec.instance_types.join(", ");
        let reason = format!(
            "InsufficientInstanceCapacity: We currently do not have sufficient {types} \
             capacity in the Availability Zone you requested ({}). Launching {missing} EC2 \
             instance(s) failed.",
            id.zone
        );
        self.next_launch_attempt = now + timing.launch_retry_interval;
        let failure = ScaleUpFailure {
            group: id.clone(),
            reason: reason.clone(),
            at: now + timing.failure_detection_delay,
        };
        let event = CloudEvent::LaunchFailed {
            group: id.clone(),
            count: missing,
            reason,
        };
        (failure, event)
    }

    fn active(&self) -> u32 {
        let n = self
            .instances
            .iter()
            .filter(|i| i.state != InstanceState::Terminating)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

#[derive(Debug)]
struct CloudState {
    now: Timestamp,
    billing: Ledger,
    timing: CloudTiming,
    asgs: BTreeMap<NodeGroupId, Asg>,
    outages: Vec<CapacityOutage>,
    failures: Vec<ScaleUpFailure>,
    events: Vec<CloudEvent>,
    next_seq: u64,
    boot: BootTimes,
}

/// The simulated cloud. Interior mutability because the ports take `&self`.
#[derive(Debug)]
pub struct SimCloud {
    state: Mutex<CloudState>,
}

impl SimCloud {
    /// A cloud with the given ASGs, each starting at its minimum size with no instances yet.
    pub fn new(
        asgs: Vec<AsgSpec>,
        outages: Vec<CapacityOutage>,
        timing: CloudTiming,
        start: Timestamp,
    ) -> Self {
        let asgs = asgs
            .into_iter()
            .map(|spec| {
                let asg = Asg {
                    desired: spec.min_size,
                    spec,
                    instances: Vec::new(),
                    next_launch_attempt: start,
                };
                (asg.spec.id.clone(), asg)
            })
            .collect();
        let state = CloudState {
            now: start,
            billing: Ledger::default(),
            timing,
            asgs,
            outages,
            failures: Vec::new(),
            events: Vec::new(),
            next_seq: 1,
            boot: BootTimes::new(timing.boot_time, None, 0),
        };
        Self {
            state: Mutex::new(state),
        }
    }

    /// The same cloud with boot times drawn from `boot` (instead of always the boot time).
    pub fn with_boot_times(self, boot: BootTimes) -> Self {
        self.lock().boot = boot;
        self
    }

    /// Running spot instances of `pool`.
    pub fn running_spot(&self, pool: &str) -> u32 {
        let st = self.lock();
        let n = (st.asgs.values())
            .filter(|a| a.spec.id.pool == pool)
            .flat_map(|a| &a.instances)
            .filter(|i| i.spot && i.state == InstanceState::Running)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, CloudState> {
        lock(&self.state)
    }

    /// Advances the cloud to `now`: removes terminated instances, launches towards desired
    /// capacity (or fails to), finishes boots. Returns what happened, in order.
    pub fn step(&self, now: Timestamp) -> Vec<CloudEvent> {
        let mut st = self.lock();
        let dt = now.since(st.now);
        st.billing.integrate(dt);
        st.now = now;
        st.step();
        std::mem::take(&mut st.events)
    }

    /// Reclaims up to `count` running spot instances of `pool` (chosen with `rng`); their ASGs
    /// keep their desired capacity and launch replacements. Returns how many were reclaimed.
    pub fn interrupt_spot(&self, pool: &str, count: u32, rng: &mut ChaCha8Rng) -> u32 {
        let mut st = self.lock();
        let mut victims: Vec<(NodeGroupId, Arc<str>)> = st
            .asgs
            .values()
            .filter(|a| a.spec.id.pool == pool)
            .flat_map(|a| {
                a.instances
                    .iter()
                    .filter(|i| i.spot && i.state == InstanceState::Running)
                    .map(|i| (a.spec.id.clone(), i.id.clone()))
            })
            .collect();
        victims.shuffle(rng);
        victims.truncate(usize::try_from(count).unwrap_or(usize::MAX));
        for (group, id) in &victims {
            let mut rate = 0.0;
            if let Some(asg) = st.asgs.get_mut(group) {
                asg.instances.retain(|i| {
                    let keep = &i.id != id;
                    if !keep {
                        rate = i.usd_per_hour;
                    }
                    keep
                });
            }
            st.billing.remove(&group.pool, rate);
            st.events.push(CloudEvent::Gone {
                group: group.clone(),
                instance_id: id.to_string(),
                interrupted: true,
            });
        }
        u32::try_from(victims.len()).unwrap_or(u32::MAX)
    }

    /// What has been billed so far and the current rate.
    pub fn billing(&self) -> Billing {
        self.lock().billing.total
    }

    /// What has been billed so far, in total and per pool.
    pub fn ledger(&self) -> Ledger {
        self.lock().billing.clone()
    }

    /// Desired capacity and the ASG bounds per group, for invariant checks.
    pub fn sizes(&self) -> Vec<(NodeGroupId, u32, u32, u32)> {
        let st = self.lock();
        st.asgs
            .values()
            .map(|a| {
                (
                    a.spec.id.clone(),
                    a.desired,
                    a.spec.min_size,
                    a.spec.max_size,
                )
            })
            .collect()
    }
}

impl CloudState {
    fn step(&mut self) {
        let now = self.now;
        let timing = self.timing;
        let mut events = Vec::new();
        let mut failures = Vec::new();
        let ids: Vec<NodeGroupId> = self.asgs.keys().cloned().collect();
        for id in ids {
            let Some(asg) = self.asgs.get_mut(&id) else {
                continue;
            };
            // Termination requested at the previous step completes now (taken out in place:
            // most steps have none, and the list is not rebuilt for them).
            let terminating = |i: &mut SimInstance| i.state == InstanceState::Terminating;
            for i in asg.instances.extract_if(.., terminating) {
                events.push(CloudEvent::Gone {
                    group: id.clone(),
                    instance_id: i.id.to_string(),
                    interrupted: false,
                });
            }
            for i in asg.instances.iter_mut() {
                if i.state == InstanceState::Pending && i.ready_at <= now {
                    i.state = InstanceState::Running;
                    events.push(CloudEvent::Booted {
                        group: id.clone(),
                        instance: i.clone(),
                    });
                }
            }
        }
        let ids: Vec<NodeGroupId> = self.asgs.keys().cloned().collect();
        for id in ids {
            self.reconcile(&id, now, timing, &mut events, &mut failures);
        }
        self.events.extend(events);
        self.failures.extend(failures);
    }

    /// Brings one ASG towards its desired capacity: launches missing instances or, when
    /// desired was lowered, terminates the newest extra ones (pending first).
    fn reconcile(
        &mut self,
        id: &NodeGroupId,
        now: Timestamp,
        timing: CloudTiming,
        events: &mut Vec<CloudEvent>,
        failures: &mut Vec<ScaleUpFailure>,
    ) {
        let Some(asg) = self.asgs.get_mut(id) else {
            return;
        };
        let active = asg.active();
        if active > asg.desired {
            asg.scale_in(active - asg.desired, &mut self.billing);
            return;
        }
        if active == asg.desired || now < asg.next_launch_attempt {
            return;
        }
        let missing = asg.desired - active;
        let in_outage = |t: &String| {
            self.outages.iter().any(|o| {
                &o.instance_type == t && o.zone == id.zone && o.from <= now && now < o.until
            })
        };
        match asg
            .spec
            .instance_types
            .iter()
            .find(|t| !in_outage(t))
            .cloned()
        {
            Some(instance_type) => {
                asg.launch(
                    &instance_type,
                    missing,
                    now,
                    &mut self.billing,
                    &mut self.next_seq,
                    &mut self.boot,
                );
            }
            None => {
                let (failure, event) = asg.launch_failed(missing, now, timing);
                failures.push(failure);
                events.push(event);
            }
        }
    }
}

impl Asg {
    /// Marks `extra` instances for termination: newest first, pending (not yet useful) first.
    fn scale_in(&mut self, mut extra: u32, billing: &mut Ledger) {
        let mut order: Vec<usize> = (0..self.instances.len()).collect();
        order.sort_by_key(|&i| {
            let inst = &self.instances[i];
            (
                inst.state == InstanceState::Running,
                std::cmp::Reverse(inst.launched_at),
            )
        });
        for i in order {
            if extra == 0 {
                break;
            }
            let inst = &mut self.instances[i];
            if inst.state != InstanceState::Terminating {
                inst.state = InstanceState::Terminating;
                billing.remove(&self.spec.id.pool, inst.usd_per_hour);
                extra -= 1;
            }
        }
    }

    /// Launches `count` instances of `instance_type`; each boots after a boot time from `boot`.
    fn launch(
        &mut self,
        instance_type: &str,
        count: u32,
        now: Timestamp,
        billing: &mut Ledger,
        next_seq: &mut u64,
        boot: &mut BootTimes,
    ) {
        // Every pool type is priced at load time; an unpriced one cannot reach here.
        let usd_per_hour = self
            .spec
            .usd_per_hour
            .get(instance_type)
            .copied()
            .unwrap_or(0.0);
        let instance_type: Arc<str> = instance_type.into();
        for _ in 0..count {
            billing.add(&self.spec.id.pool, usd_per_hour);
            let seq = *next_seq;
            *next_seq += 1;
            self.instances.push(SimInstance {
                id: format!("i-{seq:017x}").into(),
                instance_type: Arc::clone(&instance_type),
                spot: self.spec.spot,
                state: InstanceState::Pending,
                launched_at: now,
                ready_at: now + boot.sample(),
                usd_per_hour,
            });
        }
    }
}

fn to_cloud_instance(i: &SimInstance) -> CloudInstance {
    CloudInstance {
        id: i.id.clone(),
        instance_type: i.instance_type.clone(),
        state: i.state,
        launched_at: Some(i.launched_at),
    }
}

impl CloudProvider for SimCloud {
    async fn node_groups(&self) -> Result<Vec<NodeGroup>, CloudError> {
        let st = self.lock();
        Ok(st
            .asgs
            .values()
            .map(|a| NodeGroup {
                id: a.spec.id.clone(),
                asg_name: format!("tidal-{}-{}", a.spec.id.pool, a.spec.id.zone),
                min_size: a.spec.min_size,
                max_size: a.spec.max_size,
                desired: a.desired,
                instances: a.instances.iter().map(to_cloud_instance).collect(),
                // Simulated ASGs carry no node-template tags: pools alone describe their nodes.
                template: NodeTemplate::default(),
            })
            .collect())
    }

    async fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceType>, CloudError> {
        names
            .iter()
            .map(|n| {
                instances::instance_type(n)
                    .ok_or_else(|| CloudError::UnknownInstanceType(n.clone()))
            })
            .collect()
    }

    async fn set_desired_capacity(
        &self,
        group: &NodeGroupId,
        desired: u32,
    ) -> Result<(), CloudError> {
        let mut st = self.lock();
        let asg = st
            .asgs
            .get_mut(group)
            .ok_or_else(|| CloudError::UnknownGroup(group.clone()))?;
        if desired < asg.spec.min_size || desired > asg.spec.max_size {
            return Err(CloudError::Invalid(format!(
                "ValidationError: desired capacity {desired} of {group} is outside [{}, {}]",
                asg.spec.min_size, asg.spec.max_size
            )));
        }
        asg.desired = desired;
        Ok(())
    }

    async fn terminate_instance(
        &self,
        group: &NodeGroupId,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        let mut st = self.lock();
        let asg = st
            .asgs
            .get_mut(group)
            .ok_or_else(|| CloudError::UnknownGroup(group.clone()))?;
        let min = asg.spec.min_size;
        let desired = asg.desired;
        let inst = asg
            .instances
            .iter_mut()
            .find(|i| &*i.id == instance_id && i.state != InstanceState::Terminating)
            .ok_or_else(|| {
                CloudError::Invalid(format!("instance {instance_id} is not in {group}"))
            })?;
        if desired <= min {
            // TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity refuses this.
            return Err(CloudError::Invalid(format!(
                "ValidationError: terminating {instance_id} would take {group} below its minimum size {min}"
            )));
        }
        inst.state = InstanceState::Terminating;
        let rate = inst.usd_per_hour;
        asg.desired = desired - 1;
        st.billing.remove(&group.pool, rate);
        Ok(())
    }

    async fn scale_up_failures(&self, since: Timestamp) -> Result<Vec<ScaleUpFailure>, CloudError> {
        let st = self.lock();
        Ok(st
            .failures
            .iter()
            .filter(|f| f.at >= since && f.at <= st.now)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests;
