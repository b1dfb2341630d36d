//! The scenario's `vpa:` section: the VPA'd workloads and their memory models.
//!
//! ```yaml
//! vpa:
//!   history: 8d                  # samples before 00:00, at the cluster's size at 00:00 (1h–8d)
//!   workloads:
//!   - name: prometheus
//!     memory: {base: 600Mi, per_node: 12Mi, per_pod: 1Mi}
//!     cpu: 500m                  # CPU in use (default 100m)
//!     limit_ratio: 1             # limit ÷ request, kept by the admission controller (1–100)
//!     max_allowed_memory: 32Gi   # the VPA's maxAllowed.memory (default: none)
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

use super::VpaWorkload;
use crate::scenario::fields::{CpuAmount, HumanDuration, MemoryQuantity};

/// The longest history: the recommender keeps 8 daily memory peaks.
const MAX_HISTORY: Duration = Duration::from_secs(8 * 86_400);
const MIN_HISTORY: Duration = Duration::from_secs(3600);

/// `vpa:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVpa {
    /// Samples before 00:00.
    #[serde(default = "RawVpa::history")]
    pub history: HumanDuration,
    /// The VPA'd workloads.
    pub workloads: Vec<RawVpaWorkload>,
}

impl RawVpa {
    fn history() -> HumanDuration {
        HumanDuration(MAX_HISTORY)
    }
}

/// One VPA'd workload as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVpaWorkload {
    /// Name.
    pub name: String,
    /// Its memory model.
    pub memory: RawVpaMemory,
    /// CPU in use.
    #[serde(default = "RawVpaWorkload::cpu")]
    pub cpu: CpuAmount,
    /// Limit ÷ request.
    #[serde(default = "RawVpaWorkload::limit_ratio")]
    pub limit_ratio: f64,
    /// `maxAllowed.memory`.
    #[serde(default)]
    pub max_allowed_memory: Option<MemoryQuantity>,
}

impl RawVpaWorkload {
    fn cpu() -> CpuAmount {
        CpuAmount(0.1)
    }
    fn limit_ratio() -> f64 {
        1.0
    }
}

/// Memory = base + per node × nodes + per pod × pods.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVpaMemory {
    /// With an empty cluster.
    pub base: MemoryQuantity,
    /// Per registered node.
    #[serde(default)]
    pub per_node: MemoryQuantity,
    /// Per pod.
    #[serde(default)]
    pub per_pod: MemoryQuantity,
}

/// The validated `vpa:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct VpaSettings {
    /// Samples before 00:00.
    pub history: Duration,
    /// The VPA'd workloads.
    pub workloads: Vec<VpaWorkload>,
}

/// A value of the `vpa:` or `control_plane:` section that is out of range (the scenario
/// reports it with the field's line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// Path of the field, e.g. `vpa.workloads[0].limit_ratio`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn error(field: String, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field,
        message: message.into(),
    }
}

impl RawVpa {
    /// Checks the section and builds the workloads.
    pub fn validate(&self) -> Result<VpaSettings, SettingsError> {
        let history = self.history.0;
        if !(MIN_HISTORY..=MAX_HISTORY).contains(&history) {
            return Err(error(
                "vpa.history".into(),
                format!("{} is outside 1h–8d", self.history),
            ));
        }
        if self.workloads.is_empty() {
            return Err(error(
                "vpa.workloads".into(),
                "must list at least one workload",
            ));
        }
        let mut names = BTreeSet::new();
        let mut workloads = Vec::with_capacity(self.workloads.len());
        for (i, w) in self.workloads.iter().enumerate() {
            let field = |f: &str| format!("vpa.workloads[{i}].{f}");
            if w.name.trim().is_empty() {
                return Err(error(field("name"), "must not be empty"));
            }
            if !names.insert(w.name.as_str()) {
                return Err(error(field("name"), format!("duplicate name {:?}", w.name)));
            }
            if w.memory.base.0 <= 0 {
                return Err(error(field("memory.base"), "must be greater than zero"));
            }
            if !(w.limit_ratio.is_finite() && (1.0..=100.0).contains(&w.limit_ratio)) {
                return Err(error(
                    field("limit_ratio"),
                    format!("{} is outside 1–100", w.limit_ratio),
                ));
            }
            if w.max_allowed_memory.is_some_and(|m| m.0 <= 0) {
                return Err(error(
                    field("max_allowed_memory"),
                    "must be greater than zero",
                ));
            }
            workloads.push(VpaWorkload {
                name: w.name.clone(),
                base_bytes: w.memory.base.0 as f64,
                bytes_per_node: w.memory.per_node.0 as f64,
                bytes_per_pod: w.memory.per_pod.0 as f64,
                cpu_cores: w.cpu.0,
                limit_ratio: w.limit_ratio,
                max_allowed_bytes: w.max_allowed_memory.map(|m| m.0),
            });
        }
        Ok(VpaSettings { history, workloads })
    }
}
