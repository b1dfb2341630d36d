//! Tidal's scaling math: quantities, the HPA algorithm, scheduling and bin-packing,
//! instance types and template nodes, expanders and backoff.
//!
//! Sans-IO: no Kubernetes or AWS clients, no runtime, no clock, no environment.
//! Callers pass the observed state and `now` in; functions return decisions.

pub mod hpa;
pub mod quantity;
pub mod quota;
pub mod time;

pub use time::Timestamp;
pub mod backoff;
pub mod balance;
pub mod control_plane;
pub mod expander;
pub mod instance;
pub mod resources;
pub mod scheduling;
pub mod sync;
pub mod vpa;
