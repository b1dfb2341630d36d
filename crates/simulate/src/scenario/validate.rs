//! Cross-field validation of a parsed scenario, and building the validated values.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tidal_cluster_autoscaler::config::{self, AutoscalerConfig, ConfigError, ExpanderKind};
use tidal_cluster_autoscaler::node_pool::{NodePoolError, NodePools};
use tidal_core::backoff::BackoffConfig;
use tidal_core::resources::Resources;
use tidal_core::scheduling::{
    LabelSelector, Labels, PodSpec, TaintEffect, Toleration, TolerationOperator, WhenUnsatisfiable,
};

use super::raw::{
    self, RawAutoscaler, RawDaemonSet, RawExpander, RawFailure, RawScenario, RawToleration,
    RawWorkload,
};
use super::{Failure, HpaSettings, MAX_TICKS, ScenarioError, Workload, fields, locate, messages};
use crate::load::LoadCurve;
use crate::prices::PriceBook;

/// Checks a parsed scenario against its own text (for error positions).
pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) origin: &'a str,
}

impl Validator<'_> {
    /// An error about the value at the path `field` (its line, if it can be found).
    pub(super) fn invalid(&self, field: String, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            origin: self.origin.to_owned(),
            line: locate::line_of(self.text, &field).unwrap_or(0),
            field,
            message,
        }
    }

    pub(super) fn check_basics(&self, raw: &RawScenario) -> Result<(), ScenarioError> {
        if raw.tick.0.is_zero() {
            return Err(self.invalid("tick".into(), "must be greater than zero".into()));
        }
        if raw.duration.0.is_zero() {
            return Err(self.invalid("duration".into(), "must be greater than zero".into()));
        }
        let span = raw.duration.0.saturating_add(raw.warmup.0);
        if span.as_millis() / raw.tick.0.as_millis().max(1) > MAX_TICKS {
            return Err(self.invalid(
                "duration".into(),
                format!(
                    "{} with tick {} is more than {MAX_TICKS} ticks",
                    raw.duration, raw.tick
                ),
            ));
        }
        if raw.zones.is_empty() {
            return Err(self.invalid("zones".into(), "must list at least one zone".into()));
        }
        let mut seen = BTreeSet::new();
        for (i, z) in raw.zones.iter().enumerate() {
            if !seen.insert(z) {
                return Err(self.invalid(format!("zones[{i}]"), format!("duplicate zone {z:?}")));
            }
            if !in_region(z, &raw.region) {
                return Err(self.invalid(
                    format!("zones[{i}]"),
                    format!(
                        "zone {z:?} is not in the scenario's region {:?} (a zone is the \
                         region's name and a letter, e.g. {}a)",
                        raw.region, raw.region
                    ),
                ));
            }
        }
        if raw.workloads.is_empty() {
            return Err(self.invalid("workloads".into(), "must list at least one workload".into()));
        }
        Ok(())
    }

    pub(super) fn node_pools(&self, raw: &RawScenario) -> Result<NodePools, ScenarioError> {
        for (i, pool) in raw.node_pools.iter().enumerate() {
            for (j, t) in pool.instance_types.iter().enumerate() {
                if crate::instances::instance_type(t).is_none() {
                    let hint = messages::suggestion(t, crate::instances::known_types());
                    return Err(self.invalid(
                        format!("node_pools[{i}].instance_types[{j}]"),
                        format!("the simulator's EC2 catalogue has no instance type {t:?}{hint}"),
                    ));
                }
            }
            for (j, z) in pool.zones.iter().flatten().enumerate() {
                if !raw.zones.contains(z) {
                    return Err(self.invalid(
                        format!("node_pools[{i}].zones[{j}]"),
                        format!(
                            "zone {z:?} is not one of the scenario's zones {:?}",
                            raw.zones
                        ),
                    ));
                }
            }
        }
        NodePools::new(raw.node_pools.clone()).map_err(|e| match e {
            NodePoolError::Invalid { field, message, .. } => self.invalid(field, message),
        })
    }

    /// The prices of every pool's instance types: the scenario's overrides, else built in.
    pub(super) fn prices(&self, raw: &RawScenario) -> Result<PriceBook, ScenarioError> {
        let p = &raw.prices;
        for (t, price) in &p.on_demand {
            if crate::instances::instance_type(t).is_none() {
                let hint = messages::suggestion(t, crate::instances::known_types());
                let message =
                    format!("the simulator's EC2 catalogue has no instance type {t:?}{hint}");
                return Err(self.invalid("prices.on_demand".into(), message));
            }
            if !(price.is_finite() && *price > 0.0) {
                let message = format!("{t}: {price} is not a price: expected USD per hour > 0");
                return Err(self.invalid("prices.on_demand".into(), message));
            }
        }
        let discount = p
            .spot_discount
            .unwrap_or(crate::prices::DEFAULT_SPOT_DISCOUNT);
        if !(0.0..1.0).contains(&discount) {
            let message =
                format!("{discount} is not a discount: expected a fraction 0 ≤ d < 1, e.g. 0.65");
            return Err(self.invalid("prices.spot_discount".into(), message));
        }
        let types = raw.node_pools.iter().flat_map(|p| p.instance_types.iter());
        PriceBook::resolve(
            &raw.region,
            types.map(String::as_str),
            &p.on_demand,
            discount,
        )
        .map_err(|e| {
            let (i, j) = raw
                .node_pools
                .iter()
                .enumerate()
                .find_map(|(i, p)| {
                    let j = p
                        .instance_types
                        .iter()
                        .position(|t| *t == e.instance_type)?;
                    Some((i, j))
                })
                .unwrap_or((0, 0));
            self.invalid(
                format!("node_pools[{i}].instance_types[{j}]"),
                e.to_string(),
            )
        })
    }

    pub(super) fn autoscaler(
        &self,
        raw: &RawAutoscaler,
        seed: u64,
    ) -> Result<AutoscalerConfig, ScenarioError> {
        let mut c = AutoscalerConfig {
            seed,
            ..AutoscalerConfig::default()
        };
        apply_overrides(&mut c, raw);
        if raw.backoff_initial.is_some()
            || raw.backoff_max.is_some()
            || raw.backoff_reset_after.is_some()
        {
            let d = BackoffConfig::default();
            let pick = |v: &Option<fields::HumanDuration>, dflt: Duration| v.map_or(dflt, |v| v.0);
            c.backoff = BackoffConfig::try_new(
                pick(&raw.backoff_initial, d.initial()),
                pick(&raw.backoff_max, d.max()),
                pick(&raw.backoff_reset_after, d.reset_after()),
            )
            .map_err(|e| self.invalid("autoscaler.backoff_initial".into(), e.to_string()))?;
        }
        c.validate().map_err(|e| match e {
            ConfigError::TooLong { field, value } => self.invalid(
                format!("autoscaler.{field}"),
                format!(
                    "{} is longer than the maximum of {}",
                    humantime::format_duration(value),
                    humantime::format_duration(config::MAX_DURATION)
                ),
            ),
            e => self.invalid("autoscaler".into(), e.to_string()),
        })?;
        Ok(c)
    }

    pub(super) fn workload(
        &self,
        i: usize,
        w: &RawWorkload,
        base_dir: &Path,
    ) -> Result<Workload, ScenarioError> {
        let field = |f: &str| format!("workloads[{i}].{f}");
        let (min, max) = self.replica_bounds(w, &field)?;
        let load =
            LoadCurve::from_spec(&w.load, base_dir).map_err(|reason| ScenarioError::Load {
                origin: self.origin.to_owned(),
                line: locate::line_of(self.text, &field("load")).unwrap_or(0),
                field: field("load"),
                reason,
            })?;
        let workload = Workload {
            name: w.name.clone(),
            replicas: w.replicas,
            min_replicas: min,
            max_replicas: max,
            pod: Arc::new(self.pod_template(w, &field)?),
            hpa: w.hpa.as_ref().map(|h| HpaSettings {
                target_cpu_utilization: h.target_cpu_utilization,
                behavior: h.behavior.clone(),
            }),
            load,
            cpu_per_unit: w.cpu_per_unit.0,
            idle_cpu: w.idle_cpu.map_or(0.0, |c| c.0),
            startup: w.startup.0,
            pdb_min_available: w.pdb.as_ref().map(|p| p.min_available),
        };
        if let Some(spec) = workload.hpa_spec() {
            spec.validate()
                .map_err(|e| self.invalid(field("hpa"), e.to_string()))?;
        }
        Ok(workload)
    }

    /// `(min_replicas, max_replicas)`, checked against the initial replicas and the HPA.
    fn replica_bounds(
        &self,
        w: &RawWorkload,
        field: &dyn Fn(&str) -> String,
    ) -> Result<(u32, u32), ScenarioError> {
        let min = w
            .min_replicas
            .unwrap_or(if w.hpa.is_some() { 1 } else { w.replicas });
        let max = match (w.max_replicas, &w.hpa) {
            (Some(m), _) => m,
            (None, None) => w.replicas,
            (None, Some(_)) => {
                let message = "max_replicas is required with an hpa".into();
                return Err(self.invalid(field("hpa"), message));
            }
        };
        if !(min <= w.replicas && w.replicas <= max) {
            let message = format!(
                "need min_replicas {min} <= replicas {} <= max_replicas {max}",
                w.replicas
            );
            return Err(self.invalid(field("replicas"), message));
        }
        if let Some(h) = &w.hpa
            && h.target_cpu_utilization == 0
        {
            return Err(self.invalid(field("hpa.target_cpu_utilization"), "must be > 0".into()));
        }
        if w.requests.cpu.0 == 0 && w.hpa.is_some() {
            let message = "an HPA on CPU needs a CPU request".into();
            return Err(self.invalid(field("requests.cpu"), message));
        }
        Ok((min, max))
    }

    /// The scheduling view of the workload's pods.
    fn pod_template(
        &self,
        w: &RawWorkload,
        field: &dyn Fn(&str) -> String,
    ) -> Result<PodSpec, ScenarioError> {
        let requests = Resources::pod(w.requests.cpu.0, w.requests.memory.0);
        let mut pod = PodSpec::new(&w.name, requests)
            .in_namespace(&w.namespace)
            .with_label("app", &w.name);
        pod.node_selector = w.node_selector.clone().into_iter().collect::<Labels>();
        pod.tolerations = w.tolerations.iter().map(toleration).collect();
        if let Some(spread) = &w.zone_spread {
            if spread.max_skew == 0 {
                return Err(self.invalid(field("zone_spread.max_skew"), "must be > 0".into()));
            }
            let own = LabelSelector::labels([("app", w.name.as_str())]);
            pod = pod.with_zone_spread(spread.max_skew, WhenUnsatisfiable::DoNotSchedule, own);
        }
        Ok(pod)
    }

    pub(super) fn failure(
        &self,
        i: usize,
        f: &RawFailure,
        raw: &RawScenario,
        pools: &NodePools,
    ) -> Result<Failure, ScenarioError> {
        let field = |f: &str| format!("failures[{i}].{f}");
        match f {
            RawFailure::Capacity {
                instance_type,
                zone,
                from,
                until,
            } => {
                self.capacity_target(&field, instance_type, zone, raw, pools)?;
                if from.0 >= until.0 {
                    return Err(
                        self.invalid(field("until"), format!("{until} is not after {from}"))
                    );
                }
                Ok(Failure::Capacity {
                    instance_type: instance_type.clone(),
                    zone: zone.clone(),
                    from: from.0,
                    until: until.0,
                })
            }
            RawFailure::SpotInterruption { pool, at, count } => {
                match pools.get(pool) {
                    Some(p) if p.spot => {}
                    Some(_) => {
                        return Err(self
                            .invalid(field("pool"), format!("pool {pool:?} is not a spot pool")));
                    }
                    None => {
                        let names = pools.pools().iter().map(|p| p.name.as_str());
                        let hint = messages::suggestion(pool, names);
                        let message = format!("no node pool {pool:?}{hint}");
                        return Err(self.invalid(field("pool"), message));
                    }
                }
                Ok(Failure::SpotInterruption {
                    pool: pool.clone(),
                    at: at.0,
                    count: *count,
                })
            }
        }
    }

    /// A capacity failure must name an instance type and a zone some pool uses: otherwise it
    /// would never take effect.
    fn capacity_target(
        &self,
        field: &dyn Fn(&str) -> String,
        instance_type: &str,
        zone: &str,
        raw: &RawScenario,
        pools: &NodePools,
    ) -> Result<(), ScenarioError> {
        if !raw.zones.iter().any(|z| z == zone) {
            let message = format!(
                "{zone:?} is not one of the scenario's zones {:?}",
                raw.zones
            );
            return Err(self.invalid(field("zone"), message));
        }
        let used_there = pools.pools().iter().any(|p| {
            p.instance_types.iter().any(|t| t == instance_type)
                && p.zones.as_ref().is_none_or(|z| z.iter().any(|z| z == zone))
        });
        if used_there {
            return Ok(());
        }
        let used: BTreeSet<&str> = pools
            .pools()
            .iter()
            .flat_map(|p| p.instance_types.iter().map(String::as_str))
            .collect();
        if !used.contains(instance_type) {
            let message = format!(
                "no node pool uses instance type {instance_type:?}, so this failure would never \
                 take effect; the pools use {}",
                used.into_iter().collect::<Vec<_>>().join(", ")
            );
            return Err(self.invalid(field("instance_type"), message));
        }
        let message = format!(
            "no node pool runs {instance_type} in zone {zone:?}, so this failure would never take \
             effect"
        );
        Err(self.invalid(field("zone"), message))
    }
}

/// Whether `zone` is an availability zone (or local zone) of `region`: the region's name
/// followed by a letter (`eu-central-1a`) or a suffix (`us-west-2-lax-1a`).
fn in_region(zone: &str, region: &str) -> bool {
    zone.strip_prefix(region).is_some_and(|rest| {
        rest.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            || rest.strip_prefix('-').is_some_and(|r| !r.is_empty())
    })
}

/// Applies the plain (unvalidated here) overrides; [`AutoscalerConfig::validate`] checks them.
fn apply_overrides(c: &mut AutoscalerConfig, raw: &RawAutoscaler) {
    let durations = [
        (&mut c.scan_interval, raw.scan_interval),
        (
            &mut c.scale_down_unneeded_time,
            raw.scale_down_unneeded_time,
        ),
        (
            &mut c.scale_down_delay_after_add,
            raw.scale_down_delay_after_add,
        ),
        (&mut c.max_node_provision_time, raw.max_node_provision_time),
        (&mut c.max_drain_time, raw.max_drain_time),
    ];
    for (target, value) in durations {
        if let Some(v) = value {
            *target = v.0;
        }
    }
    if let Some(t) = raw.scale_down_utilization_threshold {
        c.scale_down_utilization_threshold = t;
    }
    if let Some(n) = raw.max_scale_down_parallelism {
        c.max_scale_down_parallelism = n;
    }
    if let Some(e) = raw.scale_down_enabled {
        c.scale_down_enabled = e;
    }
    if let Some(list) = &raw.expanders {
        c.expanders = list
            .iter()
            .map(|e| match e {
                RawExpander::Priority => ExpanderKind::Priority,
                RawExpander::LeastWaste => ExpanderKind::LeastWaste,
                RawExpander::Random => ExpanderKind::Random,
            })
            .collect();
    }
    c.cluster_node_limit = raw.cluster_node_limit.or(c.cluster_node_limit);
    if let Some(m) = raw.max_pods {
        c.template.max_pods = m;
    }
}

pub(super) fn toleration(t: &RawToleration) -> Toleration {
    let effect = t.effect.map(|e| match e {
        raw::RawTaintEffect::NoSchedule => TaintEffect::NoSchedule,
        raw::RawTaintEffect::PreferNoSchedule => TaintEffect::PreferNoSchedule,
        raw::RawTaintEffect::NoExecute => TaintEffect::NoExecute,
    });
    Toleration {
        key: t.key.clone(),
        operator: match t.operator {
            raw::RawTolerationOperator::Equal => TolerationOperator::Equal,
            raw::RawTolerationOperator::Exists => TolerationOperator::Exists,
        },
        value: t.value.clone(),
        effect,
    }
}

pub(super) fn daemonset_pod(d: &RawDaemonSet) -> Arc<PodSpec> {
    let mut pod = PodSpec::new(
        &d.name,
        Resources::pod(d.requests.cpu.0, d.requests.memory.0),
    )
    .in_namespace(&d.namespace)
    .with_label("app", &d.name);
    pod.node_selector = d.node_selector.clone().into_iter().collect();
    pod.tolerations = match &d.tolerations {
        Some(list) => list.iter().map(toleration).collect(),
        None => vec![Toleration::exists("", None)],
    };
    Arc::new(pod)
}
