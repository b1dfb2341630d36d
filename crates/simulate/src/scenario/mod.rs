//! Scenario files: what to simulate (node pools, workloads with load curves and HPAs,
//! failures, duration), parsed and validated before anything runs.
//!
//! Unknown fields are rejected; errors name the file, line, column and field. Node pools use
//! the cluster autoscaler's own format and validation. Simulated time starts at
//! [`SIM_EPOCH`] (midnight), so offsets like `from: 7h` and `peak_at: "19:00"` agree.
//! The built-in default (an online shop's day) is `default_scenario.yaml`.
//!
//! Every field, with its type, unit, default and an example, is in `docs/simulate.md` (a test,
//! `tests/docs_reference.rs`, asks the loader for every field it accepts and checks the page
//! names it). Loading also checks that every workload fits some pool (`fit.rs`) and that every
//! pool type has a price (`crate::prices`); messages are put in the author's terms by
//! `messages.rs`. The optional `vpa:`, `control_plane:` and `noise:` sections are
//! validated by `crate::vpa`, `crate::control_plane` and `crate::noise`.

pub mod fields;
mod fit;
mod locate;
pub mod messages;
mod raw;
mod validate;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tidal_cluster_autoscaler::config::AutoscalerConfig;
use tidal_cluster_autoscaler::node_pool::{NodePoolError, NodePools};
use tidal_core::Timestamp;
use tidal_core::hpa::{HpaBehavior, HpaSpec, MetricSpec};
use tidal_core::scheduling::PodSpec;

use crate::cloud::CloudTiming;
use crate::load::{LoadCurve, LoadError};
use crate::prices::PriceBook;
use raw::RawScenario;

/// The built-in scenario: one day of an online shop's traffic.
pub const DEFAULT_SCENARIO: &str = include_str!("default_scenario.yaml");

/// Midnight at which every simulation starts: 2026-11-21T00:00:00Z.
pub const SIM_EPOCH: Timestamp = Timestamp::from_secs(1_795_219_200);

/// Most ticks a scenario may have (a year at 10 s), so a typo cannot run for days.
const MAX_TICKS: u128 = 3_153_600;

/// A scenario cannot be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown field or a bad value.
    #[error("{origin}:{line}:{column}: {field}: {message}")]
    Parse {
        /// File the text came from.
        origin: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// Path of the field, e.g. `workloads[1].requests.cpu`.
        field: String,
        /// What is wrong (the parser's own message, in the author's terms; it is not kept
        /// as a source so the error is said once, with one position).
        message: String,
    },
    /// A value is well-formed but inconsistent with the rest of the scenario.
    #[error("{origin}:{line}: {field}: {message}")]
    Invalid {
        /// File the text came from.
        origin: String,
        /// 1-based line of the entry, 0 when unknown.
        line: usize,
        /// Path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The node pools are invalid.
    #[error(transparent)]
    NodePools(#[from] NodePoolError),
    /// A load curve is invalid or its CSV cannot be read.
    #[error("{origin}:{line}: {field}: {reason}")]
    Load {
        /// File the text came from.
        origin: String,
        /// 1-based line of the field, 0 when unknown.
        line: usize,
        /// Path of the field.
        field: String,
        /// Why (in the message, not a separate source: the error is said once).
        reason: LoadError,
    },
}

/// A workload's horizontal autoscaler.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSettings {
    /// Target average CPU utilization, percent of the request.
    pub target_cpu_utilization: u32,
    /// autoscaling/v2 behavior; `None`: the legacy defaults.
    pub behavior: Option<HpaBehavior>,
}

/// One Deployment, validated.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name (`app` label, pod name prefix).
    pub name: String,
    /// Replicas at the start.
    pub replicas: u32,
    /// HPA lower bound.
    pub min_replicas: u32,
    /// HPA upper bound.
    pub max_replicas: u32,
    /// The pod template's scheduling view (shared by all its pods).
    pub pod: Arc<PodSpec>,
    /// Horizontal autoscaling, if any.
    pub hpa: Option<HpaSettings>,
    /// Load over time.
    pub load: LoadCurve,
    /// Cores used per unit of load, spread over the Ready pods.
    pub cpu_per_unit: f64,
    /// Cores a Ready pod uses at zero load.
    pub idle_cpu: f64,
    /// From binding to Ready.
    pub startup: Duration,
    /// PodDisruptionBudget `minAvailable`, if any.
    pub pdb_min_available: Option<u32>,
}

impl Workload {
    /// The HPA as the Kubernetes object would state it (CPU utilization target), if any.
    pub fn hpa_spec(&self) -> Option<HpaSpec> {
        let h = self.hpa.as_ref()?;
        let target = clamp_i32(h.target_cpu_utilization);
        let metric = MetricSpec::resource_utilization("cpu", target);
        let mut spec = HpaSpec::new(
            clamp_i32(self.min_replicas),
            clamp_i32(self.max_replicas),
            vec![metric],
        );
        spec.behavior = h.behavior.clone();
        Some(spec)
    }
}

/// `v` as an `i32`, saturating (replica counts beyond `i32` are not meaningful).
pub(crate) fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// An injected failure, at offsets from [`SIM_EPOCH`].
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// No capacity of `instance_type` in `zone` from `from` until `until`.
    Capacity {
        /// Instance type.
        instance_type: String,
        /// Zone.
        zone: String,
        /// Start offset.
        from: Duration,
        /// End offset.
        until: Duration,
    },
    /// `count` spot instances of `pool` reclaimed at `at`.
    SpotInterruption {
        /// Pool.
        pool: String,
        /// Offset.
        at: Duration,
        /// Instances.
        count: u32,
    },
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Title.
    pub name: String,
    /// Where it came from (file path or `built-in default`).
    pub origin: String,
    /// SHA-256 of the scenario text, hex (tells apart runs of edited files of one name).
    pub sha256: String,
    /// Recorded span, from 00:00.
    pub duration: Duration,
    /// Recording step.
    pub tick: Duration,
    /// Unrecorded settling time before 00:00.
    pub warmup: Duration,
    /// Seed of every random choice.
    pub seed: u64,
    /// Region.
    pub region: String,
    /// Zones.
    pub zones: Vec<String>,
    /// Cloud timing.
    pub cloud: CloudTiming,
    /// Node pools.
    pub node_pools: NodePools,
    /// Autoscaler settings (its seed is the scenario's).
    pub autoscaler: AutoscalerConfig,
    /// Deployments.
    pub workloads: Vec<Workload>,
    /// Injected failures.
    pub failures: Vec<Failure>,
    /// DaemonSet pod templates.
    pub daemonsets: Vec<Arc<PodSpec>>,
    /// On-demand prices of the pools' instance types and the spot discount.
    pub prices: PriceBook,
    /// VPA'd workloads (`vpa:`), if any.
    pub vpa: Option<crate::vpa::VpaSettings>,
    /// The control plane (`control_plane:`), if any.
    pub control_plane: Option<crate::control_plane::ControlPlaneSettings>,
    /// Seeded variability (none unless the scenario asks).
    pub noise: crate::noise::Noise,
}

impl Scenario {
    /// The built-in default day.
    pub fn default_day() -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml(
            DEFAULT_SCENARIO,
            "built-in default scenario",
            Path::new("."),
        )
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::from_yaml(&text, &path.display().to_string(), base)
    }

    /// Parses and validates scenario text; `origin` is named in errors, CSV paths are relative
    /// to `base_dir`.
    pub fn from_yaml(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        let raw = parse(text, origin)?;
        let v = validate::Validator { text, origin };
        v.check_basics(&raw)?;
        let node_pools = v.node_pools(&raw)?;
        let prices = v.prices(&raw)?;
        let autoscaler = v.autoscaler(&raw.autoscaler, raw.seed)?;
        let mut workloads = Vec::with_capacity(raw.workloads.len());
        let mut names = BTreeSet::new();
        for (i, w) in raw.workloads.iter().enumerate() {
            if !names.insert((w.namespace.as_str(), w.name.as_str())) {
                return Err(v.invalid(
                    format!("workloads[{i}].name"),
                    format!("duplicate workload name {:?}", w.name),
                ));
            }
            workloads.push(v.workload(i, w, base_dir)?);
        }
        let failures = raw
            .failures
            .iter()
            .enumerate()
            .map(|(i, f)| v.failure(i, f, &raw, &node_pools))
            .collect::<Result<Vec<_>, _>>()?;
        let daemonsets = raw.daemonsets.iter().map(validate::daemonset_pod).collect();
        let settings_error = |e: crate::vpa::SettingsError| v.invalid(e.field, e.message);
        let vpa = raw.vpa.as_ref().map(|r| r.validate()).transpose();
        let vpa = vpa.map_err(settings_error)?;
        let control_plane = raw.control_plane.as_ref().map(|r| r.validate()).transpose();
        let control_plane = control_plane.map_err(settings_error)?;
        let spot_pools: Vec<&str> = (node_pools.pools().iter())
            .filter(|p| p.spot)
            .map(|p| p.name.as_str())
            .collect();
        let noise = (raw.noise)
            .validate(&spot_pools, raw.cloud.boot_time.0)
            .map_err(|(field, message)| v.invalid(field, message))?;
        let scenario = Scenario {
            name: raw.name.clone().unwrap_or_else(|| origin.to_owned()),
            origin: origin.to_owned(),
            sha256: crate::summary::sha256_hex(text.as_bytes()),
            duration: raw.duration.0,
            tick: raw.tick.0,
            warmup: raw.warmup.0,
            seed: raw.seed,
            region: raw.region.clone(),
            zones: raw.zones.clone(),
            cloud: CloudTiming {
                boot_time: raw.cloud.boot_time.0,
                failure_detection_delay: raw.cloud.failure_detection_delay.0,
                launch_retry_interval: raw.cloud.launch_retry_interval.0,
            },
            node_pools,
            autoscaler,
            workloads,
            failures,
            daemonsets,
            prices,
            vpa,
            control_plane,
            noise,
        };
        fit::check_workloads(&v, &scenario)?;
        Ok(scenario)
    }

    /// The same scenario with another seed (the autoscaler's random expander follows it).
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.seed = seed;
        self.autoscaler.seed = seed;
        self
    }

    /// The same scenario cut to `duration` (for quick runs and tests).
    pub fn with_duration(mut self, duration: Duration) -> Scenario {
        self.duration = duration;
        self
    }
}

fn parse(text: &str, origin: &str) -> Result<RawScenario, ScenarioError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let field = err.path().to_string();
        let source = err.into_inner();
        let (mut line, mut column) = source.location().map_or((0, 0), |l| (l.line(), l.column()));
        // Conversion errors carry the enclosing mapping's position; the field's own is better.
        if let Some((l, c)) = locate::locate(text, &field)
            && l >= line
        {
            (line, column) = (l, c);
        }
        let full = source.to_string();
        // The parser's message repeats the path and position; keep only what is wrong.
        let message = full
            .rfind(" at line ")
            .map_or(full.as_str(), |i| &full[..i]);
        let message = message
            .strip_prefix(field.as_str())
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(message);
        ScenarioError::Parse {
            origin: origin.to_owned(),
            line,
            column,
            field,
            message: messages::rewrite(message),
        }
    })
}

#[cfg(test)]
mod tests;
