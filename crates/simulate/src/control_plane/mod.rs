//! The control-plane autoscaler in the loop: a load model of the API servers driven by the
//! run's cluster (nodes, pods, pod churn), the cp-autoscaler's decision
//! (`tidal_core::control_plane::decide`, as `tidal cp-autoscaler` calls it) once a minute,
//! and the same day at a fixed size to compare with.
//!
//! - Load ([`load`]): CPU of the whole control plane spread over its nodes, memory per node,
//!   API seats; each linear in nodes, pods and pod changes per second.
//! - Decision: the crate's defaults (up window 15 min on the mean, down window 2 h on the
//!   peak, cooldowns 30 min after up and 2 h after down, high threshold (n−1)/n, or 0.8 on
//!   EKS, kube-up's size by node count as a floor for self-managed control planes), with one
//!   sample a minute; before 00:00 the controller has seen a down window of the load of 00:00.
//! - Acting: a decision starts a resize that is in service `resize_time` later (a roll of
//!   the instances, or an EKS tier update); the old size carries the load until then and no
//!   other decision is made meanwhile.
//! - Figures: per minute the size and the utilisation of it (the highest over the signals
//!   the size states a capacity for); minutes above the high threshold; the changes with
//!   their reasons; for self-managed control planes the instance cost (nodes × list price).

pub mod load;
mod run;
mod settings;
#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::record::Recording;
pub use run::{run, utilisation};
pub use settings::{ControlPlaneKind, ControlPlaneSettings, RawControlPlane};

/// One minute of a control plane's day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpMinute {
    /// The rung in service.
    pub rung: usize,
    /// Its utilisation (highest over the signals).
    pub utilisation: f64,
    /// The cluster's nodes.
    pub nodes: u32,
}

/// A size change the autoscaler decided.
#[derive(Clone, Debug, PartialEq)]
pub struct CpChange {
    /// Minutes since 00:00.
    pub minute: u32,
    /// Rung before.
    pub from: usize,
    /// Rung decided.
    pub to: usize,
    /// The cluster's nodes then.
    pub nodes: u32,
    /// The reason's label.
    pub reason: &'static str,
    /// The reason, for people.
    pub message: String,
}

/// One control plane's day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpRun {
    /// One entry per minute.
    pub minutes: Vec<CpMinute>,
    /// Decided changes (none at a fixed size).
    pub changes: Vec<CpChange>,
    /// Minutes with the utilisation above the high threshold.
    pub minutes_above_high: u32,
}

/// The day autoscaled and at the fixed starting size.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlaneDay {
    /// The settings (ladder, threshold).
    pub settings: ControlPlaneSettings,
    /// Sized by the cp-autoscaler's decision.
    pub autoscaled: CpRun,
    /// At the starting size all day.
    pub fixed: CpRun,
    /// On-demand USD per hour of each rung in the scenario's region (`None`: no built-in price).
    pub hourly_usd: Vec<Option<f64>>,
}

/// The figures of one run (`summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CpRunFigures {
    /// Size at 00:00.
    pub size_start: String,
    /// Size at the end.
    pub size_end: String,
    /// Largest size in service.
    pub size_largest: String,
    /// Changes decided.
    pub changes: usize,
    /// Minutes above the high threshold.
    pub minutes_above_high: u32,
    /// Highest utilisation of a minute.
    pub peak_utilisation: f64,
    /// Mean utilisation.
    pub mean_utilisation: f64,
    /// Instance cost, USD (self-managed control planes).
    pub cost_usd: Option<f64>,
}

/// `summary.json`'s `control_plane`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ControlPlaneFigures {
    /// Which control plane.
    pub kind: ControlPlaneKind,
    /// The high threshold.
    pub high_threshold: f64,
    /// Autoscaled.
    pub autoscaled: CpRunFigures,
    /// At the fixed starting size.
    pub fixed: CpRunFigures,
}

impl ControlPlaneDay {
    /// Name of a rung.
    pub fn size_name(&self, rung: usize) -> &str {
        self.settings
            .ladder
            .get(rung)
            .map_or("?", |r| r.name.as_str())
    }

    /// The figures of both runs.
    pub fn figures(&self) -> ControlPlaneFigures {
        ControlPlaneFigures {
            kind: self.settings.kind,
            high_threshold: round3(self.settings.decision.high_threshold),
            autoscaled: self.run_figures(&self.autoscaled),
            fixed: self.run_figures(&self.fixed),
        }
    }

    fn run_figures(&self, run: &CpRun) -> CpRunFigures {
        let rung_at = |m: Option<&CpMinute>| m.map_or(self.settings.start, |m| m.rung);
        let largest = run.minutes.iter().map(|m| m.rung).max();
        let n = run.minutes.len().max(1) as f64;
        let cost = (self.settings.kind == ControlPlaneKind::SelfManaged).then(|| {
            let per_minute: f64 = run
                .minutes
                .iter()
                .map(|m| self.hourly_usd.get(m.rung).copied().flatten())
                .map(|p| p.unwrap_or(0.0) / 60.0)
                .sum();
            (per_minute * f64::from(self.settings.nodes) * 100.0).round() / 100.0
        });
        CpRunFigures {
            size_start: self.size_name(rung_at(run.minutes.first())).to_owned(),
            size_end: self.size_name(rung_at(run.minutes.last())).to_owned(),
            size_largest: self
                .size_name(largest.unwrap_or(self.settings.start))
                .to_owned(),
            changes: run.changes.len(),
            minutes_above_high: run.minutes_above_high,
            peak_utilisation: round3(
                run.minutes
                    .iter()
                    .map(|m| m.utilisation)
                    .fold(0.0, f64::max),
            ),
            mean_utilisation: round3(run.minutes.iter().map(|m| m.utilisation).sum::<f64>() / n),
            cost_usd: cost,
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The scenario's control plane through the day a run recorded (`None` without one).
pub fn simulate(
    settings: Option<&ControlPlaneSettings>,
    recording: &Recording,
    daemonsets: usize,
    region: &str,
) -> Option<ControlPlaneDay> {
    let settings = settings?;
    let hourly_usd = settings
        .ladder
        .rungs()
        .iter()
        .map(|r| crate::prices::built_in_on_demand(region, &r.name))
        .collect();
    let daemonsets = u32::try_from(daemonsets).unwrap_or(u32::MAX);
    let minutes = load::per_minute(recording, daemonsets);
    Some(ControlPlaneDay {
        autoscaled: run(settings, &minutes, true),
        fixed: run(settings, &minutes, false),
        settings: settings.clone(),
        hourly_usd,
    })
}
