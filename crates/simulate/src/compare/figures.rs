//! The figures of a `summary.json`, read generically: every number in it (top-level, per pool,
//! per workload, and fields added later) becomes a figure with a stable key such as
//! `cost`, `pools[spot].cost` or `workloads[web].pending_pod_seconds_p95`. Known keys get a
//! label, a group and the direction that is better; unknown ones are still compared, under
//! "Other figures", labelled by their key.

use serde::Serialize;
use serde_json::Value;

/// Which way a figure should move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Less is better (cost, waits, failures).
    Lower,
    /// More is better (utilization).
    Higher,
    /// Neither: a count that describes the run.
    Neither,
}

/// What a figure key means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meaning {
    /// Section of the comparison.
    pub group: &'static str,
    /// Human label.
    pub label: String,
    /// Better direction.
    pub better: Better,
    /// Position in the comparison (known figures first, in table order).
    pub order: usize,
}

use Better::{Higher, Lower, Neither};

/// Sections, in order.
pub const GROUPS: &[&str] = &[
    "Capacity",
    "Cost",
    "Pod wait",
    "Unmet demand",
    "Autoscaler and cloud",
    "Per pool",
    "Per workload",
    "Other figures",
];

/// Top-level figures of `summary.json`, in display order.
const TOP: &[(&str, &str, &str, Better)] = &[
    ("node_hours", "Capacity", "node-hours", Lower),
    (
        "node_hours_lower_bound",
        "Capacity",
        "node-hours lower bound",
        Neither,
    ),
    ("nodes_min", "Capacity", "nodes min", Neither),
    ("nodes_max", "Capacity", "nodes max", Neither),
    (
        "nodes_at_lowest_load",
        "Capacity",
        "nodes at lowest load",
        Neither,
    ),
    (
        "nodes_at_highest_load",
        "Capacity",
        "nodes at highest load",
        Neither,
    ),
    ("cost", "Cost", "cost total (USD)", Lower),
    (
        "pending_pod_seconds_p50",
        "Pod wait",
        "pod wait p50 (s)",
        Lower,
    ),
    (
        "pending_pod_seconds_p95",
        "Pod wait",
        "pod wait p95 (s)",
        Lower,
    ),
    (
        "pending_pod_seconds_max",
        "Pod wait",
        "pod wait max (s)",
        Lower,
    ),
    ("pods_counted", "Pod wait", "pods counted", Neither),
    // Unmet demand: the single place to label the summary's unmet-demand figures. Fields
    // not listed here are still compared, under "Other figures".
    (
        "pods_pending_at_end",
        "Unmet demand",
        "pods pending at the end",
        Lower,
    ),
    (
        "pods_never_scheduled",
        "Unmet demand",
        "pods never scheduled",
        Lower,
    ),
    (
        "hpa_hours_above_max",
        "Unmet demand",
        "HPA hours wanting more than max_replicas",
        Lower,
    ),
    ("scale_ups", "Autoscaler and cloud", "scale-ups", Neither),
    (
        "nodes_requested",
        "Autoscaler and cloud",
        "nodes requested",
        Neither,
    ),
    (
        "scale_downs",
        "Autoscaler and cloud",
        "nodes removed",
        Neither,
    ),
    (
        "failed_scale_ups",
        "Autoscaler and cloud",
        "failed scale-ups",
        Lower,
    ),
    ("fallbacks", "Autoscaler and cloud", "fallbacks", Lower),
    (
        "failed_launches",
        "Autoscaler and cloud",
        "failed launches",
        Lower,
    ),
    (
        "spot_interruptions",
        "Autoscaler and cloud",
        "spot instances reclaimed",
        Lower,
    ),
    ("evictions", "Autoscaler and cloud", "evictions", Lower),
];

/// Fields of `pools[]` entries: (field, group, label suffix, better).
const POOL: &[(&str, &str, &str, Better)] = &[
    ("cost", "Cost", "cost (USD)", Lower),
    ("node_hours", "Per pool", "node-hours", Lower),
    ("cpu_utilization", "Per pool", "CPU utilization", Higher),
    (
        "memory_utilization",
        "Per pool",
        "memory utilization",
        Higher,
    ),
];

/// Fields of `workloads[]` entries.
const WORKLOAD: &[(&str, &str, &str, Better)] = &[
    (
        "pods_pending_at_end",
        "Unmet demand",
        "pods pending at the end",
        Lower,
    ),
    (
        "pending_pod_seconds_p50",
        "Per workload",
        "wait p50 (s)",
        Lower,
    ),
    (
        "pending_pod_seconds_p95",
        "Per workload",
        "wait p95 (s)",
        Lower,
    ),
    (
        "pending_pod_seconds_max",
        "Per workload",
        "wait max (s)",
        Lower,
    ),
    ("pods_counted", "Per workload", "pods counted", Neither),
];

/// Settings and bookkeeping rather than outcomes: not compared.
const NOT_FIGURES: &[&str] = &[
    "seed",
    "tick_seconds",
    "duration_hours",
    "wall_time_seconds",
];

/// Every number of a summary, by key, in document order.
pub fn flatten(summary: &Value) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    walk(summary, String::new(), &mut out);
    out.retain(|(k, _)| !NOT_FIGURES.contains(&k.as_str()));
    out
}

fn walk(v: &Value, path: String, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push((path, f));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // Entries with a name are keyed by it, so pools and workloads line up by name.
                let id = ["name", "workload", "pool"]
                    .iter()
                    .find_map(|f| item.get(f).and_then(Value::as_str))
                    .map_or_else(|| i.to_string(), str::to_owned);
                walk(item, format!("{path}[{id}]"), out);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// What a key means (its label, section and direction).
pub fn meaning(key: &str) -> Meaning {
    if let Some(i) = TOP.iter().position(|(k, ..)| *k == key) {
        let (_, group, label, better) = TOP[i];
        return Meaning {
            group,
            label: label.to_owned(),
            better,
            order: i,
        };
    }
    for (prefix, table, base) in [("pools[", POOL, 1000), ("workloads[", WORKLOAD, 2000)] {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let Some((name, field)) = rest.rsplit_once("].") else {
            continue;
        };
        if let Some(i) = table.iter().position(|(f, ..)| *f == field) {
            let (_, group, label, better) = table[i];
            let what = if prefix == "pools[" {
                "pool"
            } else {
                "workload"
            };
            return Meaning {
                group,
                label: format!("{what} {name}: {label}"),
                better,
                order: base + i,
            };
        }
    }
    Meaning {
        group: "Other figures",
        label: key.to_owned(),
        better: Neither,
        order: usize::MAX,
    }
}

/// Sort key of a figure: its group; then top-level figures in table order before per-pool,
/// per-workload and unknown ones, which keep the order their entry (`seen`: where its pool or
/// workload first appeared) and fields have in the tables.
pub fn sort_key(key: &str, seen: usize) -> (usize, usize, usize, usize) {
    let m = meaning(key);
    let group = GROUPS
        .iter()
        .position(|g| *g == m.group)
        .unwrap_or(GROUPS.len());
    match m.order {
        o if o < 1000 => (group, 0, o, 0),
        o if o < 2000 => (group, 1, seen, o),
        o if o < usize::MAX => (group, 2, seen, o),
        _ => (group, 3, seen, 0),
    }
}

/// The part of a key that names its entry: `pools[spot]` of `pools[spot].cost`.
pub fn entry(key: &str) -> &str {
    key.rsplit_once("].").map_or(key, |(e, _)| e)
}
