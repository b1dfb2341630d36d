//! The spread of outcomes over runs of one scenario with different seeds: per figure of the
//! summaries, the median, 95th percentile, minimum and maximum across runs.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::compare::{flatten, format_value, meaning};
use crate::summary::quantile;

/// One figure across runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpreadRow {
    /// Key in the summary.
    pub key: String,
    /// Human label.
    pub label: String,
    /// Median across runs (nearest rank).
    pub median: f64,
    /// 95th percentile across runs (nearest rank).
    pub p95: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Figures across runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// Scenario title.
    pub scenario: String,
    /// The seeds, one per run.
    pub seeds: Vec<u64>,
    /// Every figure found in the summaries (in the first summary's order).
    pub figures: Vec<SpreadRow>,
}

impl Spread {
    /// The spread of `summaries` (one per run, as in `summary.json`).
    pub fn new(summaries: &[Value]) -> Spread {
        let flat: Vec<Vec<(String, f64)>> = summaries.iter().map(flatten).collect();
        let mut keys: Vec<&String> = Vec::new();
        for (k, _) in flat.iter().flatten() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let figures = keys
            .into_iter()
            .map(|key| {
                let mut values: Vec<f64> = flat
                    .iter()
                    .filter_map(|f| f.iter().find(|(k, _)| k == key).map(|(_, v)| *v))
                    .collect();
                values.sort_by(f64::total_cmp);
                SpreadRow {
                    key: key.clone(),
                    label: meaning(key).label,
                    median: quantile(&values, 0.5),
                    p95: quantile(&values, 0.95),
                    min: values.first().copied().unwrap_or(0.0),
                    max: values.last().copied().unwrap_or(0.0),
                }
            })
            .collect();
        let scenario = summaries
            .first()
            .and_then(|s| s.get("scenario"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Spread {
            scenario,
            seeds: summaries
                .iter()
                .filter_map(|s| s.get("seed").and_then(Value::as_u64))
                .collect(),
            figures,
        }
    }

    /// Pretty JSON (`spread.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The table printed on the terminal.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} runs of {:?} (seeds {}):\n",
            self.seeds.len(),
            self.scenario,
            seed_range(&self.seeds)
        );
        let width = self
            .figures
            .iter()
            .map(|f| f.label.chars().count())
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>12}  {:>12}  {:>12}  {:>12}",
            "figure", "median", "p95", "min", "max"
        );
        for f in &self.figures {
            let v = |x: f64| format_value(&f.key, x);
            let _ = writeln!(
                out,
                "  {:<width$}  {:>12}  {:>12}  {:>12}  {:>12}",
                f.label,
                v(f.median),
                v(f.p95),
                v(f.min),
                v(f.max)
            );
        }
        out
    }

    /// Writes `spread.json` into `dir`.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("spread.json"), self.to_json() + "\n")
    }
}

fn seed_range(seeds: &[u64]) -> String {
    match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if seeds.len() > 1 => format!("{a}–{b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    }
}
