//! Glue shared by Tidal binaries: telemetry, admin HTTP server, the one clock, AWS client
//! config, leader election and the shutdown signal.

pub mod admin;
pub mod aws;
pub mod clock;
pub mod kube_client;
pub mod leader;
pub mod shutdown;
pub mod telemetry;

pub use admin::{AdminError, AdminServer, Readiness};
pub use clock::Clock;
pub use kube_client::{KubeClientError, kube_client, kube_client_from};
pub use leader::{LeaderElector, LeaderError, LeaderHandle, LeaseTiming, pod_identity};
pub use shutdown::shutdown_signal;
pub use telemetry::{LogFormat, TelemetryError};
