//! The whole Tidal platform on a simulated cluster and cloud, in virtual time.
//!
//! `tidal simulate [SCENARIO.yaml]` runs the real controllers — the HPA algorithm from
//! `tidal_core::hpa` and the cluster autoscaler's `Controller` (leadership, the loop, its
//! metrics) — with a manual `tidal_runtime::Clock` as virtual time, against an
//! in-memory cloud ([`cloud::SimCloud`]) and cluster ([`cluster::SimCluster`]) that implement
//! the same ports as the AWS and Kubernetes adapters. A simulated day takes seconds and
//! produces `summary.json`, `timeline.csv` and a self-contained `report.html`.
//!
//! Library use: [`scenario::Scenario`] → [`engine::Simulation`] → [`engine::SimResult`] →
//! [`cli::write_outputs`].

pub mod cli;
pub mod cloud;
pub mod cluster;
pub mod compare;
pub mod control_plane;
pub mod engine;
pub mod instances;
pub mod load;
pub mod noise;
pub mod prices;
pub mod progress;
pub mod record;
pub mod report;
pub mod runs;
pub mod scenario;
pub mod scheduler;
pub mod summary;
pub mod unmet;
pub mod vpa;
pub mod workloads;

pub use cli::{Args, run};
pub use engine::{SimError, SimResult, Simulation};
pub use scenario::Scenario;

/// Runs `scenario` to the end without a progress bar.
pub async fn simulate(scenario: Scenario) -> Result<SimResult, SimError> {
    Simulation::new(scenario)?
        .run(&progress::Progress::hidden())
        .await
}
