//! EC2 vCPU quotas and node pools (SPEC §6), sans IO: what the pools may need, and whether to
//! ask AWS for more.
//!
//! - [`family`]: which quota an instance type counts against (On-Demand and Spot, per family
//!   group), with the Service Quotas codes.
//! - [`compute_needs`]: per region and quota, Σ `max_size × vCPUs` of each pool's largest
//!   instance type, several clusters' pools summed, plus headroom.
//! - [`decide`]: given the quota's current value, its request history and `now`, whether to
//!   file an increase request, and why not when not. The caller observes and acts; nothing here
//!   reads a clock or talks to AWS.

mod decision;
pub mod family;
mod need;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use decision::{Decision, PastRequest, RequestStatus, decide};
pub use family::{Ec2Quota, FamilyGroup, Uncovered};
pub use need::{Contribution, Needs, PoolDemand, QuotaNeed, compute_needs};

/// Errors of the quota math.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// A pool names an instance type whose vCPUs are unknown (EC2 does not list it).
    #[error(
        "{source_file}: pool {pool:?}: instance type {instance_type:?} is unknown to EC2 in this region"
    )]
    UnknownInstanceType {
        /// The instance type.
        instance_type: String,
        /// The node-pool file.
        source_file: String,
        /// The pool.
        pool: String,
    },
    /// The rounding step must be at least 1 vCPU.
    #[error("the request step must be at least 1 vCPU")]
    ZeroStep,
}

/// How much to ask for and how often: validated on construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaPolicy {
    headroom_percent: u32,
    step: u64,
    quiet_period: Duration,
}

impl QuotaPolicy {
    /// Headroom 20 %, requests rounded up to 32 vCPUs, 7 days between a refused request and
    /// the next.
    pub const DEFAULT: QuotaPolicy = QuotaPolicy {
        headroom_percent: 20,
        step: 32,
        quiet_period: Duration::from_secs(7 * 24 * 3600),
    };

    /// Validates: `step ≥ 1`.
    pub fn try_new(
        headroom_percent: u32,
        step: u64,
        quiet_period: Duration,
    ) -> Result<Self, QuotaError> {
        if step == 0 {
            return Err(QuotaError::ZeroStep);
        }
        Ok(Self {
            headroom_percent,
            step,
            quiet_period,
        })
    }

    /// `vcpus` plus the headroom, rounded up to a whole vCPU.
    pub fn with_headroom(&self, vcpus: u64) -> u64 {
        let total = u128::from(vcpus) * (100 + u128::from(self.headroom_percent));
        u64::try_from(total.div_ceil(100)).unwrap_or(u64::MAX)
    }

    /// `need` rounded up to a multiple of the step.
    pub fn round_up(&self, need: u64) -> u64 {
        need.div_ceil(self.step).saturating_mul(self.step)
    }

    /// Headroom in percent of the pools' vCPUs.
    pub fn headroom_percent(&self) -> u32 {
        self.headroom_percent
    }

    /// The step requests are rounded up to.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// How long after a refused (or short-granted) request to wait before asking again.
    pub fn quiet_period(&self) -> Duration {
        self.quiet_period
    }
}

impl Default for QuotaPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}
