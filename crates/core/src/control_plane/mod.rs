//! Control-plane sizing (SPEC §4): which size the control plane should run at, decided from its
//! load, its node count and the last change.
//!
//! - [`Ladder`]: the sizes in order, from EC2 instance-type data (self-managed clusters) or the
//!   EKS provisioned tiers; next up, next down, bounds.
//! - [`decide`]: a pure function of (ladder, config, signals, node count, now, last change)
//!   returning a [`Decision`] with its [`Reason`].
//! - [`next_step`]: the next step of a self-managed roll to a new instance type.
//!
//! Load is passed in absolute units (CPU cores and memory in use per control-plane node, API
//! concurrency seats executing in the whole control plane), so the same samples can be compared
//! with any size of the ladder, including the size they were measured on before a change.

mod config;
mod decision;
mod floor;
mod ladder;
mod roll;
mod signals;

pub use config::{DecisionConfig, DecisionConfigError, ha_threshold};
pub use decision::{Action, Change, Decision, Direction, Reason, decide};
pub use floor::NodeFloor;
pub use ladder::{
    Bounds, Capacity, EKS_TIERS, Ladder, LadderCandidate, LadderError, LadderFilter, Rung,
    instance_family,
};
pub use roll::{
    RollInstance, RollRecord, RollRecordError, RollSettings, RollStep, RollView, next_step,
};
pub use signals::{Series, Signal, Signals, Window};

#[cfg(test)]
mod tests;
