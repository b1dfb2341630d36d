//! `tidal simulate compare A B [C …]`: runs side by side. Each input is a scenario file (run
//! here, its outputs kept in a subdirectory) or a finished run directory (its `summary.json`
//! is read). Writes `compare.json` and `compare.html` and prints the same table: every
//! figure of the summaries, with each run's difference to the first (A).

pub mod command;
mod figures;
mod html;

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

pub use figures::{Better, GROUPS, flatten, meaning};

/// One side of the comparison: a finished run's summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Short label (`A`, `B`, …).
    pub label: String,
    /// What the user named: a scenario file or a run directory.
    pub source: String,
    /// The run's `summary.json`.
    pub summary: Value,
}

/// Who is compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputInfo {
    /// Short label.
    pub label: String,
    /// Scenario file or run directory as given.
    pub source: String,
    /// Scenario title.
    pub scenario: String,
    /// Scenario file the run came from.
    pub scenario_path: String,
    /// SHA-256 of the scenario text.
    pub scenario_sha256: String,
    /// Seed.
    pub seed: Option<u64>,
    /// Recorded span, hours.
    pub duration_hours: Option<f64>,
}

/// One figure across the inputs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FigureRow {
    /// Key in the summary, e.g. `pools[spot].cost`.
    pub key: String,
    /// Section.
    pub group: &'static str,
    /// Human label.
    pub label: String,
    /// Which way is better.
    pub better: Better,
    /// Value per input (absent when that summary lacks the figure).
    pub values: Vec<Option<f64>>,
    /// Value minus the first input's value.
    pub differences: Vec<Option<f64>>,
    /// Difference relative to the first input's value (absent when that is 0).
    pub relative: Vec<Option<f64>>,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The inputs, in the order given.
    pub inputs: Vec<InputInfo>,
    /// Every figure found in any input.
    pub figures: Vec<FigureRow>,
}

/// `A`, `B`, … `Z`, then `#27`, …
pub fn label(i: usize) -> String {
    match u8::try_from(i) {
        Ok(n) if n < 26 => char::from(b'A' + n).to_string(),
        _ => format!("#{}", i + 1),
    }
}

impl Comparison {
    /// Lines up the figures of `inputs` (the first is the baseline).
    pub fn new(inputs: &[Input]) -> Comparison {
        let flat: Vec<Vec<(String, f64)>> = inputs.iter().map(|i| flatten(&i.summary)).collect();
        let mut keys: Vec<String> = Vec::new();
        for (k, _) in flat.iter().flatten() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        let first_of_entry = |k: &str| {
            let e = figures::entry(k);
            keys.iter()
                .position(|x| figures::entry(x) == e)
                .unwrap_or(0)
        };
        let mut order: Vec<(usize, String)> = keys
            .iter()
            .map(|k| (first_of_entry(k), k.clone()))
            .collect();
        order.sort_by_key(|(seen, k)| figures::sort_key(k, *seen));
        let figures = order
            .into_iter()
            .map(|(_, key)| {
                let values: Vec<Option<f64>> = flat
                    .iter()
                    .map(|f| f.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
                    .collect();
                let base = values.first().copied().flatten();
                let differences = values.iter().map(|v| Some(v.as_ref()? - base?)).collect();
                let relative = values
                    .iter()
                    .map(|v| {
                        let b = base.filter(|b| *b != 0.0)?;
                        Some((v.as_ref()? - b) / b.abs())
                    })
                    .collect();
                let m = meaning(&key);
                FigureRow {
                    key,
                    group: m.group,
                    label: m.label,
                    better: m.better,
                    values,
                    differences,
                    relative,
                }
            })
            .collect();
        Comparison {
            inputs: inputs.iter().map(info).collect(),
            figures,
        }
    }

    /// Pretty JSON (`compare.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The table printed on the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for i in &self.inputs {
            let _ = writeln!(
                out,
                "{}: {} — {} (seed {}, sha256 {})",
                i.label,
                i.source,
                i.scenario,
                i.seed.map_or("?".to_owned(), |s| s.to_string()),
                short_hash(&i.scenario_sha256)
            );
        }
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut header = vec!["figure".to_owned()];
        header.extend(self.inputs.iter().map(|i| i.label.clone()));
        rows.push(header);
        let mut group = "";
        for f in &self.figures {
            if f.group != group {
                group = f.group;
                rows.push(vec![format!("[{group}]")]);
            }
            let mut row = vec![f.label.clone()];
            for (i, v) in f.values.iter().enumerate() {
                let mut cell = v.map_or("—".to_owned(), |v| format_value(&f.key, v));
                if i > 0
                    && let Some(d) = difference_text(f, i)
                {
                    let _ = write!(cell, " ({d})");
                }
                row.push(cell);
            }
            rows.push(row);
        }
        out.push_str(&align(&rows));
        out
    }
}

fn info(input: &Input) -> InputInfo {
    let s = &input.summary;
    let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    InputInfo {
        label: input.label.clone(),
        source: input.source.clone(),
        scenario: text("scenario"),
        scenario_path: text("scenario_path"),
        scenario_sha256: text("scenario_sha256"),
        seed: s.get("seed").and_then(Value::as_u64),
        duration_hours: s.get("duration_hours").and_then(Value::as_f64),
    }
}

fn short_hash(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

/// A value as shown: utilizations in percent, whole numbers without decimals.
pub fn format_value(key: &str, v: f64) -> String {
    // -0.0 (in a summary from before the simulator stopped writing it) shows as 0.
    let v = if v == 0.0 { 0.0 } else { v };
    if key.ends_with("utilization") {
        format!("{:.1} %", v * 100.0)
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `+3.5, +12 %` for input `i` against the first; `None` when equal or unknown.
pub fn difference_text(f: &FigureRow, i: usize) -> Option<String> {
    let d = f.differences.get(i).copied().flatten()?;
    if d == 0.0 {
        return Some("=".to_owned());
    }
    let abs = if f.key.ends_with("utilization") {
        format!("{:+.1} pt", d * 100.0)
    } else {
        let v = format_value(&f.key, d.abs());
        format!("{}{v}", if d > 0.0 { "+" } else { "-" })
    };
    Some(match f.relative.get(i).copied().flatten() {
        Some(r) if !f.key.ends_with("utilization") => format!("{abs}, {:+.0} %", r * 100.0),
        _ => abs,
    })
}

/// Left-aligned first column, right-aligned others; one-cell rows are section headings.
fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| {
        rows.iter()
            .filter(|r| r.len() > 1)
            .filter_map(|r| r.get(c))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..cols).map(width).collect();
    let mut out = String::new();
    for row in rows {
        if row.len() == 1 {
            let _ = writeln!(out, "{}", row[0]);
            continue;
        }
        for (c, cell) in row.iter().enumerate() {
            let w = widths[c];
            let _ = if c == 0 {
                write!(out, "  {cell:<w$}")
            } else {
                write!(out, "  {cell:>w$}")
            };
        }
        out.push('\n');
    }
    out
}

/// Writes `compare.json` and `compare.html` into `dir` (which must exist).
pub fn write(dir: &Path, comparison: &Comparison) -> io::Result<()> {
    std::fs::write(dir.join("compare.json"), comparison.to_json() + "\n")?;
    std::fs::write(dir.join("compare.html"), html::render(comparison))
}

#[cfg(test)]
mod tests;
