//! The scenario's `control_plane:` section.
//!
//! ```yaml
//! control_plane:
//!   kind: self_managed          # or eks (the provisioned tiers, judged by API seats)
//!   nodes: 3                    # control-plane instances (self_managed; 1–9)
//!   sizes: [m6i.large, m6i.xlarge, m6i.2xlarge, m6i.4xlarge]  # the ladder (self_managed)
//!   size: m6i.xlarge            # at 00:00, and the fixed size it is compared with
//!   min_size: m6i.large         # bounds (default: the whole ladder)
//!   max_size: m6i.4xlarge
//!   resize_time: 15m            # decision to new size in service (a roll; an EKS update)
//!   high_threshold: 0.667       # default (n−1)/n self_managed, 0.8 eks
//!   node_floor: true            # kube-up's size by node count (default: self_managed only)
//!   load:                       # the load model; absent coefficients keep the defaults
//!     cpu: {base: 500m, per_node: 10m, per_pod: 1m, per_pod_change_per_second: 200m}
//!     memory_mib: {base: 1536, per_node: 6, per_pod: 0.3}
//!     seats: {base: 10, per_node: 0.5, per_pod: 0.02, per_pod_change_per_second: 20}
//! ```

use std::time::Duration;

use serde::Deserialize;
use tidal_core::control_plane::{
    Bounds, DecisionConfig, Ladder, LadderCandidate, LadderFilter, NodeFloor,
};

use super::load::{LoadModel, RawLoadModel};
use crate::scenario::fields::HumanDuration;
use crate::vpa::SettingsError;

/// Which control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlPlaneKind {
    /// Instances in an ASG, sized by instance type (CPU and memory per node).
    SelfManaged,
    /// EKS provisioned tiers (API concurrency seats).
    Eks,
}

/// `control_plane:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControlPlane {
    /// Which control plane.
    pub kind: ControlPlaneKind,
    /// Control-plane instances.
    #[serde(default = "RawControlPlane::nodes")]
    pub nodes: u32,
    /// The ladder's instance types (self-managed).
    #[serde(default)]
    pub sizes: Vec<String>,
    /// The size at 00:00 (and the fixed size).
    pub size: String,
    /// Smallest allowed size.
    #[serde(default)]
    pub min_size: Option<String>,
    /// Largest allowed size.
    #[serde(default)]
    pub max_size: Option<String>,
    /// From a decision to the new size in service.
    #[serde(default = "RawControlPlane::resize_time")]
    pub resize_time: HumanDuration,
    /// The high threshold.
    #[serde(default)]
    pub high_threshold: Option<f64>,
    /// kube-up's size by node count as a floor.
    #[serde(default)]
    pub node_floor: Option<bool>,
    /// The load model.
    #[serde(default)]
    pub load: RawLoadModel,
}

impl RawControlPlane {
    fn nodes() -> u32 {
        3
    }
    fn resize_time() -> HumanDuration {
        HumanDuration(Duration::from_secs(15 * 60))
    }
}

/// The validated `control_plane:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlaneSettings {
    /// Which control plane.
    pub kind: ControlPlaneKind,
    /// The sizes.
    pub ladder: Ladder,
    /// Allowed sizes.
    pub bounds: Bounds,
    /// Rung at 00:00 (and the fixed size).
    pub start: usize,
    /// Control-plane instances (CPU is spread over them).
    pub nodes: u32,
    /// From a decision to the new size in service.
    pub resize_time: Duration,
    /// The decision's settings.
    pub decision: DecisionConfig,
    /// The load model.
    pub load: LoadModel,
}

fn error(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field: format!("control_plane.{field}"),
        message: message.into(),
    }
}

impl RawControlPlane {
    /// Checks the section and builds the ladder and the decision's settings.
    pub fn validate(&self) -> Result<ControlPlaneSettings, SettingsError> {
        if !(1..=9).contains(&self.nodes) {
            return Err(error("nodes", format!("{} is outside 1–9", self.nodes)));
        }
        if self.resize_time.0 > Duration::from_secs(86_400) {
            return Err(error("resize_time", "must be at most 24h"));
        }
        let ladder = self.ladder()?;
        let start = ladder
            .require("control_plane.size", &self.size)
            .map_err(|e| error("size", e.to_string()))?;
        let bounds = ladder
            .bounds(
                self.min_size.as_deref().map(|s| ("min_size", s)),
                self.max_size.as_deref().map(|s| ("max_size", s)),
            )
            .map_err(|e| error("min_size", e.to_string()))?;
        let mut decision = DecisionConfig::for_nodes(self.nodes);
        let eks = self.kind == ControlPlaneKind::Eks;
        if eks {
            decision.high_threshold = 0.8;
        }
        if let Some(h) = self.high_threshold {
            decision.high_threshold = h;
        }
        if !self.node_floor.unwrap_or(!eks) {
            decision.node_floor = NodeFloor::none();
        }
        decision
            .validate()
            .map_err(|e| error("high_threshold", e.to_string()))?;
        let load = self
            .load
            .build()
            .map_err(|signal| error(&format!("load.{signal}"), "coefficients must be ≥ 0"))?;
        Ok(ControlPlaneSettings {
            kind: self.kind,
            ladder,
            bounds,
            start,
            nodes: self.nodes,
            resize_time: self.resize_time.0,
            decision,
            load,
        })
    }

    fn ladder(&self) -> Result<Ladder, SettingsError> {
        if self.kind == ControlPlaneKind::Eks {
            if !self.sizes.is_empty() {
                return Err(error(
                    "sizes",
                    "eks sizes are the fixed tiers; leave it out",
                ));
            }
            return Ok(Ladder::eks_tiers());
        }
        if self.sizes.is_empty() {
            return Err(error(
                "sizes",
                "self_managed needs the ladder's instance types",
            ));
        }
        let mut candidates = Vec::with_capacity(self.sizes.len());
        for (i, name) in self.sizes.iter().enumerate() {
            let known = crate::instances::instance_type(name);
            let Some(t) = known else {
                let known: Vec<&str> = crate::instances::known_types().collect();
                return Err(error(
                    &format!("sizes[{i}]"),
                    format!(
                        "unknown instance type {name:?} (known: {})",
                        known.join(", ")
                    ),
                ));
            };
            candidates.push(LadderCandidate::from(t));
        }
        let filter = LadderFilter {
            allow_previous_generation: true,
            ..LadderFilter::default()
        };
        Ladder::from_instance_types(candidates, &filter, "control_plane.sizes")
            .map_err(|e| error("sizes", e.to_string()))
    }
}
