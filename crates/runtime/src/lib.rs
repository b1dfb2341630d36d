//! Glue shared by Tidal binaries: telemetry, admin HTTP server, the one clock, AWS client
//! config, leader election and the shutdown signal.
//!
//! Features (all on by default): `kube` (the Kubernetes client and Lease leader election),
//! `aws` (AWS SDK configuration), `admin` (the admin HTTP server). Without them the crate
//! still has what a controller's logic needs: the [`Clock`], the [`LeaderHandle`] and
//! [`Readiness`], so the simulator runs controllers without linking kube-rs, the AWS SDK or
//! axum.

pub mod access;
#[cfg(feature = "admin")]
pub mod admin;
#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
#[cfg(feature = "kube")]
pub mod kube_client;
#[cfg(feature = "kube")]
pub mod leader;
pub mod leader_handle;
pub mod readiness;
pub mod shutdown;
pub mod stdout;
pub mod telemetry;

#[cfg(feature = "admin")]
pub use admin::{AdminError, AdminServer};
pub use clock::Clock;
#[cfg(feature = "kube")]
pub use kube_client::{
    KubeClientError, kube_client, kube_client_for, kube_client_from, kube_config_for,
};
#[cfg(feature = "kube")]
pub use leader::{LeaderElector, LeaderError, LeaseTiming, pod_identity};
pub use leader_handle::LeaderHandle;
pub use readiness::Readiness;
pub use shutdown::shutdown_signal;
pub use telemetry::{LogFormat, TelemetryError};
