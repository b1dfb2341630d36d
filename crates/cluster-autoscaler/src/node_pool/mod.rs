//! Node pools: the platform team's YAML (SPEC §3), parsed and validated once at start-up.
//!
//! ```yaml
//! node_pools:
//! - name: spot-c
//!   instance_types: [c6i.2xlarge, c5.2xlarge]
//!   spot: true
//!   max_size: 40
//!   priority: 10
//!   labels: {aws.amazon.com/spot: "true"}
//!   taints: ["aws.amazon.com/spot=true:NoSchedule"]
//!   zones: [eu-central-1a, eu-central-1b]
//!   scale_down_utilization_threshold: 0.4
//!   scale_down_unneeded_time: 15m
//! ```
//!
//! A pool maps to one node group (ASG) per availability zone. ASGs are found by tags
//! ([`TAG_ENABLED`], [`cluster_tag`], [`TAG_NODE_POOL`]); [`pool_from_tags`] is the rule.
//! The pool's min/max are split across its zones by [`NodePool::zone_bounds`]: evenly, with the
//! remainder going to the first zones in sorted order, so the split is the same on every replica.

mod names;

pub use names::region_of_zone;
#[cfg(feature = "aws")]
pub(crate) use names::{check_label_key, check_label_value};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use tidal_core::scheduling::{Labels, Taint, TaintEffect};

use crate::ports::NodeGroupId;

/// ASG tag (any value) marking a group as managed by a cluster autoscaler (upstream convention).
pub const TAG_ENABLED: &str = "k8s.io/cluster-autoscaler/enabled";
/// ASG tag naming the node pool a group belongs to.
pub const TAG_NODE_POOL: &str = "tidal.io/node-pool";

/// ASG tag key (any value) marking a group as belonging to `cluster_name`: `k8s.io/cluster-autoscaler/<name>`.
pub fn cluster_tag(cluster_name: &str) -> String {
    format!("k8s.io/cluster-autoscaler/{cluster_name}")
}

/// The pool an ASG belongs to, from its tags: it must carry [`TAG_ENABLED`], the [`cluster_tag`] of
/// `cluster_name` and a non-empty [`TAG_NODE_POOL`]. `None` means the ASG is not ours.
pub fn pool_from_tags<'a, I>(tags: I, cluster_name: &str) -> Option<String>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let cluster = cluster_tag(cluster_name);
    let (mut enabled, mut ours, mut pool) = (false, false, None);
    for (key, value) in tags {
        if key == TAG_ENABLED {
            enabled = true;
        } else if key == cluster {
            ours = true;
        } else if key == TAG_NODE_POOL && !value.is_empty() {
            pool = Some(value.to_owned());
        }
    }
    pool.filter(|_| enabled && ours)
}

/// Errors from loading a node-pool file. Every variant names the file, the position and the field.
#[derive(Debug, thiserror::Error)]
pub enum NodePoolError {
    /// The YAML is malformed, has an unknown field, a wrong type or a value that fails validation.
    #[error("{origin}:{line}:{column}: {field}: {message}")]
    Invalid {
        /// File (or other origin) the text came from.
        origin: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// Path of the offending field, e.g. `node_pools[2].taints[0]`.
        field: String,
        /// What is wrong.
        message: String,
        /// The YAML parser's error, when it found the problem.
        #[source]
        source: Option<serde_yaml_ng::Error>,
    },
}

/// One node pool, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePool {
    /// Pool name (a DNS label: also an ASG tag value and a metrics label).
    pub name: String,
    /// EC2 instance types; mixed pools use the smallest of each resource for their template.
    pub instance_types: Vec<String>,
    /// Spot instances.
    pub spot: bool,
    /// Minimum nodes over all zones.
    pub min_size: u32,
    /// Maximum nodes over all zones.
    pub max_size: u32,
    /// Expander priority: higher wins.
    pub priority: i32,
    /// Labels the pool's nodes carry.
    pub labels: Labels,
    /// Taints the pool's nodes carry.
    pub taints: Vec<Taint>,
    /// Zones the pool may use; `None` = every zone it has an ASG in.
    pub zones: Option<Vec<String>>,
    /// Override of the scale-down utilization threshold (0..=1).
    pub scale_down_utilization_threshold: Option<f64>,
    /// Override of the time a node must be unneeded before removal.
    pub scale_down_unneeded_time: Option<Duration>,
}

/// The pool file as written: only field types are checked here; [`NodePool`]'s `TryFrom` validates.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    name: String,
    instance_types: Vec<String>,
    #[serde(default)]
    spot: bool,
    #[serde(default)]
    min_size: u32,
    max_size: u32,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    taints: Vec<String>,
    #[serde(default)]
    zones: Option<Vec<String>>,
    #[serde(default)]
    scale_down_utilization_threshold: Option<f64>,
    #[serde(default)]
    scale_down_unneeded_time: Option<String>,
}

/// Validates inside the mapping's visitor, so the parser pins a failure on the pool's own
/// line (a `try_from` conversion runs after the visitor and would get the list's position).
impl<'de> Deserialize<'de> for NodePool {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PoolVisitor;
        impl<'de> serde::de::Visitor<'de> for PoolVisitor {
            type Value = NodePool;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a node pool mapping")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<NodePool, A::Error> {
                let raw = RawPool::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                NodePool::try_from(raw).map_err(serde::de::Error::custom)
            }
        }
        deserializer.deserialize_map(PoolVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    node_pools: Vec<NodePool>,
}

impl TryFrom<RawPool> for NodePool {
    type Error = String;

    fn try_from(raw: RawPool) -> Result<Self, String> {
        let field = |f: &str, e: String| format!("`{f}`: {e}");
        names::check_pool_name(&raw.name).map_err(|e| field("name", e))?;
        check_instance_types(&raw.instance_types)?;
        if raw.min_size > raw.max_size {
            return Err(field(
                "min_size",
                format!(
                    "min_size {} is greater than max_size {}",
                    raw.min_size, raw.max_size
                ),
            ));
        }
        check_labels(&raw.labels)?;
        let taints = raw
            .taints
            .iter()
            .enumerate()
            .map(|(i, t)| parse_taint(t).map_err(|e| field(&format!("taints[{i}]"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(zones) = &raw.zones {
            check_zones(zones)?;
        }
        if let Some(t) = raw.scale_down_utilization_threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(field(
                "scale_down_utilization_threshold",
                format!("{t} is not between 0 and 1"),
            ));
        }
        let unneeded = raw
            .scale_down_unneeded_time
            .as_deref()
            .map(|s| {
                let d = humantime::parse_duration(s).map_err(|e| {
                    field(
                        "scale_down_unneeded_time",
                        format!("{s:?} is not a duration like 10m: {e}"),
                    )
                })?;
                crate::config::check_duration("scale_down_unneeded_time", d).map_err(|_| {
                    field(
                        "scale_down_unneeded_time",
                        format!(
                            "{s:?} is longer than the maximum of {}",
                            humantime::format_duration(crate::config::MAX_DURATION)
                        ),
                    )
                })
            })
            .transpose()?;
        Ok(NodePool {
            name: raw.name,
            instance_types: raw.instance_types,
            spot: raw.spot,
            min_size: raw.min_size,
            max_size: raw.max_size,
            priority: raw.priority,
            labels: raw.labels,
            taints,
            zones: raw.zones,
            scale_down_utilization_threshold: raw.scale_down_utilization_threshold,
            scale_down_unneeded_time: unneeded,
        })
    }
}

fn check_instance_types(types: &[String]) -> Result<(), String> {
    if types.is_empty() {
        return Err("`instance_types`: must list at least one instance type".into());
    }
    let mut seen = BTreeSet::new();
    for (i, t) in types.iter().enumerate() {
        names::check_instance_type(t).map_err(|e| format!("`instance_types[{i}]`: {e}"))?;
        if !seen.insert(t) {
            return Err(format!(
                "`instance_types[{i}]`: duplicate instance type {t:?}"
            ));
        }
    }
    Ok(())
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in labels {
        names::check_label_key(key).map_err(|e| format!("`labels.{key}`: {e}"))?;
        names::check_label_value(value).map_err(|e| format!("`labels.{key}`: {e}"))?;
    }
    Ok(())
}

fn check_zones(zones: &[String]) -> Result<(), String> {
    if zones.is_empty() {
        return Err("`zones`: must list at least one zone when given".into());
    }
    let mut seen = BTreeSet::new();
    for (i, z) in zones.iter().enumerate() {
        names::check_zone(z).map_err(|e| format!("`zones[{i}]`: {e}"))?;
        if !seen.insert(z) {
            return Err(format!("`zones[{i}]`: duplicate zone {z:?}"));
        }
    }
    Ok(())
}

/// Parses a taint written `key=value:Effect` or `key:Effect`.
pub fn parse_taint(text: &str) -> Result<Taint, String> {
    let (kv, effect) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("taint {text:?} is not key=value:Effect"))?;
    let effect = match effect {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        other => {
            return Err(format!(
                "taint {text:?} has effect {other:?}; expected NoSchedule, PreferNoSchedule or NoExecute"
            ));
        }
    };
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    names::check_label_key(key).map_err(|e| format!("taint {text:?}: key {e}"))?;
    names::check_label_value(value).map_err(|e| format!("taint {text:?}: value {e}"))?;
    Ok(Taint::new(key, value, effect))
}

impl NodePool {
    /// The (min, max) of the zone at `zone_index` (in sorted zone order) when the pool spans
    /// `zone_count` zones: the pool's bounds divided evenly, the remainder one each to the first zones.
    pub fn zone_bounds(&self, zone_index: usize, zone_count: usize) -> (u32, u32) {
        (
            split(self.min_size, zone_index, zone_count),
            split(self.max_size, zone_index, zone_count),
        )
    }

    /// Whether the pool may use `zone` (always, when no zones are configured).
    pub fn allows_zone(&self, zone: &str) -> bool {
        self.zones
            .as_ref()
            .is_none_or(|zs| zs.iter().any(|z| z == zone))
    }
}

fn split(total: u32, index: usize, count: usize) -> u32 {
    let Ok(count) = u32::try_from(count) else {
        return 0;
    };
    if count == 0 {
        return 0;
    }
    let extra = u32::try_from(index).is_ok_and(|i| i < total % count);
    total / count + u32::from(extra)
}

/// All node pools of a cluster, validated: names unique, bounds consistent, taints and labels well formed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodePools {
    pools: Vec<NodePool>,
}

impl NodePools {
    /// Parses and validates a node-pool file. `origin` (usually the file path) is named in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<NodePools, NodePoolError> {
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawFile = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let (line, column) = inner.location().map_or((0, 0), |l| (l.line(), l.column()));
            let (field, message) = split_field(&path, bare_message(&inner, &path));
            NodePoolError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                field,
                message,
                source: Some(inner),
            }
        })?;
        if raw.node_pools.is_empty() {
            // A truncated ConfigMap must not start an autoscaler that manages nothing.
            let (line, column) = locate_key(text, "node_pools");
            return Err(NodePoolError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                field: "node_pools".to_owned(),
                message: "must list at least one node pool".to_owned(),
                source: None,
            });
        }
        let mut first: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, pool) in raw.node_pools.iter().enumerate() {
            if let Some(j) = first.insert(&pool.name, i) {
                let (line, column) = locate_name(text, &pool.name, 2);
                return Err(NodePoolError::Invalid {
                    origin: origin.to_owned(),
                    line,
                    column,
                    field: format!("node_pools[{i}].name"),
                    message: format!(
                        "duplicate pool name {:?} (already used by node_pools[{j}])",
                        pool.name
                    ),
                    source: None,
                });
            }
        }
        Ok(NodePools {
            pools: raw.node_pools,
        })
    }

    /// Builds from already-validated pools (tests, the simulator); rejects duplicate names
    /// and an empty list.
    pub fn new(pools: Vec<NodePool>) -> Result<NodePools, NodePoolError> {
        if pools.is_empty() {
            return Err(NodePoolError::Invalid {
                origin: "<code>".into(),
                line: 0,
                column: 0,
                field: "node_pools".into(),
                message: "must list at least one node pool".into(),
                source: None,
            });
        }
        let mut seen = BTreeSet::new();
        for (i, p) in pools.iter().enumerate() {
            if !seen.insert(p.name.clone()) {
                return Err(NodePoolError::Invalid {
                    origin: "<code>".into(),
                    line: 0,
                    column: 0,
                    field: format!("node_pools[{i}].name"),
                    message: format!("duplicate pool name {:?}", p.name),
                    source: None,
                });
            }
        }
        Ok(NodePools { pools })
    }

    /// The pools in file order.
    pub fn pools(&self) -> &[NodePool] {
        &self.pools
    }

    /// The pool named `name`.
    pub fn get(&self, name: &str) -> Option<&NodePool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// The pool a node group belongs to, if the pool exists and allows the group's zone.
    pub fn pool_for_group(&self, group: &NodeGroupId) -> Option<&NodePool> {
        self.get(&group.pool).filter(|p| p.allows_zone(&group.zone))
    }
}

/// The parser's message without its position and leading path (both are reported separately).
fn bare_message(err: &serde_yaml_ng::Error, field: &str) -> String {
    let full = err.to_string();
    let without_mark = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    let is_path = |head: &str| {
        !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.[]-".contains(c))
    };
    let stripped = without_mark
        .strip_prefix(field)
        .and_then(|rest| rest.strip_prefix(": "));
    let stripped = stripped.or_else(|| {
        without_mark
            .split_once(": ")
            .and_then(|(head, rest)| is_path(head).then_some(rest))
    });
    stripped.unwrap_or(without_mark).to_owned()
}

/// Validation messages start with "`sub.field`: "; join that to the path serde reported.
fn split_field(path: &str, message: String) -> (String, String) {
    let parsed = message
        .strip_prefix('`')
        .and_then(|rest| rest.split_once("`: "))
        .map(|(sub, msg)| (format!("{path}.{sub}"), msg.to_owned()));
    parsed.unwrap_or_else(|| (path.to_owned(), message))
}

/// Line and column of the top-level `key:`, (0, 0) when it cannot be found.
fn locate_key(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or((0, 0), |i| (i + 1, 1))
}

/// Line and column of the `nth` (1-based) `name: <name>` entry, for errors found after parsing.
fn locate_name(text: &str, name: &str, nth: usize) -> (usize, usize) {
    let mut found = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start().trim_start_matches('-').trim_start();
        let Some(value) = trimmed.strip_prefix("name:") else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if value == name {
            found += 1;
            if found == nth {
                return (i + 1, line.len() - trimmed.len() + 1);
            }
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests;
