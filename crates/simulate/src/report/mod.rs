//! `report.html`: one self-contained page (inline SVG and CSS, no scripts, nothing fetched)
//! with the key figures, charts of nodes, pending pods, replicas vs load, cost, and the
//! decision log.

pub mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use tidal_cluster_autoscaler::ports::StatusReport;

use crate::record::{Recording, TimelineRow, clock};
use crate::summary::Summary;
use svg::{Series, escape};

/// At most this many points per chart line (the timeline is bucketed down to it).
const MAX_POINTS: usize = 720;
/// At most this many decision-log rows in the page (the rest are counted).
const MAX_DECISIONS: usize = 5_000;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}h3{font-size:14px;margin:16px 0 2px}\
.sub{color:#666}.figs{display:grid;grid-template-columns:repeat(4,1fr);gap:8px;margin:16px 0}\
.fig{background:#f5f6f8;border-radius:6px;padding:8px 10px}.fig b{display:block;font-size:18px}\
.fig span{color:#666;font-size:12px}.ax{font-size:11px;fill:#555}\
.legend span{margin-right:14px;font-size:12px;white-space:nowrap}\
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;border:1px solid #fff}\
table{border-collapse:collapse;width:100%;font-size:12.5px}td,th{padding:3px 6px;border-bottom:1px solid #eee;\
text-align:left;vertical-align:top}td.t{white-space:nowrap;font-variant-numeric:tabular-nums}\
.k{white-space:nowrap;font-weight:600}.scale-up{color:#228833}.scale-down{color:#4477aa}\
.failure,.error{color:#cc3311}.fallback{color:#ee7733}.cloud{color:#aa3377}.no-scale-up,.cluster{color:#666}";

/// Renders the page.
pub fn render(rec: &Recording, summary: &Summary, status: Option<&StatusReport>) -> String {
    let rows = bucket(&rec.timeline);
    let xs: Vec<f64> = rows.iter().map(|r| r.t / 3600.0).collect();
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Tidal simulation: {t}</title><style>{STYLE}</style></head><body>\
         <h1>Tidal simulation: {t}</h1><div class=\"sub\">seed {seed} · {h} h at {tick} s ticks · \
         the real HPA algorithm and cluster autoscaler against a simulated cluster and cloud</div>",
        t = escape(&summary.scenario),
        seed = summary.seed,
        h = summary.duration_hours,
        tick = summary.tick_seconds,
    );
    figures(&mut out, summary);
    cluster_charts(&mut out, rec, &rows, &xs);
    out.push_str("<h2>Replicas vs load</h2>");
    for (i, w) in rec.workloads.iter().enumerate() {
        let _ = write!(out, "<h3>{}</h3>", escape(w));
        let get = |v: &Vec<u32>| v.get(i).copied().map_or(0.0, f64::from);
        let load = column(&rows, |r| r.load.get(i).copied().unwrap_or(0.0));
        let left = [
            Series::new("pods", column(&rows, |r| get(&r.replicas)), 0),
            Series::new("desired (HPA)", column(&rows, |r| get(&r.desired)), 2).dashed(),
        ];
        let right = [Series::new("load", load, 1)];
        out.push_str(&svg::lines(&xs, &left, "replicas", &right, Some("load")));
    }
    decision_log(&mut out, rec);
    if let Some(status) = status {
        let _ = write!(
            out,
            "<h2>Cluster autoscaler status at the end</h2><pre>{}</pre>",
            escape(&status.to_text())
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// Nodes by pool, pending pods, CPU and cost over time.
fn cluster_charts(out: &mut String, rec: &Recording, rows: &[TimelineRow], xs: &[f64]) {
    out.push_str("<h2>Nodes by pool</h2>");
    let pools: Vec<Series> = rec
        .pools
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let nodes = column(rows, |r| {
                r.nodes_by_pool.get(i).copied().map_or(0.0, f64::from)
            });
            Series::new(p, nodes, i)
        })
        .collect();
    out.push_str(&svg::stacked_area(xs, &pools, "registered nodes"));
    out.push_str("<h2>Pending pods</h2>");
    let pending = Series::new(
        "pending pods",
        column(rows, |r| f64::from(r.pending_pods)),
        1,
    );
    let bound = column(rows, |r| r.nodes_lower_bound);
    let bound = Series::new("lower bound of nodes needed", bound, 0).dashed();
    out.push_str(&svg::lines(
        xs,
        &[pending],
        "pods (max per point)",
        &[bound],
        Some("nodes"),
    ));
    out.push_str("<h2>CPU: requested vs allocatable</h2>");
    let cpu = [
        Series::new(
            "requested (workload pods)",
            column(rows, |r| r.requested_cpu),
            0,
        ),
        Series::new(
            "allocatable (registered nodes)",
            column(rows, |r| r.allocatable_cpu),
            2,
        ),
    ];
    out.push_str(&svg::lines(xs, &cpu, "cores", &[], None));
    out.push_str("<h2>Cost</h2>");
    let cost = Series::new("cumulative cost", column(rows, |r| r.cost), 5);
    out.push_str(&svg::lines(xs, &[cost], "USD", &[], None));
}

/// Writes `report.html` into `dir`.
pub fn write(
    dir: &Path,
    rec: &Recording,
    summary: &Summary,
    status: Option<&StatusReport>,
) -> io::Result<()> {
    std::fs::write(dir.join("report.html"), render(rec, summary, status))
}

fn figures(out: &mut String, s: &Summary) {
    let figs = [
        (
            format!("{} → {}", s.nodes_at_lowest_load, s.nodes_at_highest_load),
            "nodes at lowest → highest load",
        ),
        (format!("{:.0}", s.node_hours), "node-hours"),
        (
            format!("{:.0}", s.node_hours_lower_bound),
            "node-hours lower bound",
        ),
        (format!("${:.0}", s.cost), "cost (approx. list prices)"),
        (
            format!("{:.0} s", s.pending_pod_seconds_p50),
            "pod wait p50",
        ),
        (
            format!("{:.0} s", s.pending_pod_seconds_p95),
            "pod wait p95",
        ),
        (
            format!("{:.0} s", s.pending_pod_seconds_max),
            "pod wait max",
        ),
        (
            format!("{} / {}", s.counters.scale_ups, s.counters.scale_downs),
            "scale-ups / nodes removed",
        ),
        (
            format!("{}", s.counters.failed_scale_ups),
            "failed scale-ups detected",
        ),
        (format!("{}", s.counters.fallbacks), "fallbacks"),
        (
            format!("{}", s.counters.spot_interruptions),
            "spot interruptions",
        ),
        (
            format!("{} – {}", s.nodes_min, s.nodes_max),
            "nodes min – max",
        ),
    ];
    out.push_str("<div class=\"figs\">");
    for (value, label) in figs {
        let _ = write!(
            out,
            "<div class=\"fig\"><b>{}</b><span>{label}</span></div>",
            escape(&value)
        );
    }
    out.push_str("</div>");
}

fn decision_log(out: &mut String, rec: &Recording) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &rec.decisions {
        *counts.entry(d.kind.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    let _ = write!(
        out,
        "<h2>Decision log</h2><div class=\"sub\">{} entries ({}); times are simulated clock time, \
         negative during warm-up</div><table><tr><th>time</th><th>kind</th><th>what</th></tr>",
        rec.decisions.len(),
        escape(&counts.join(", "))
    );
    for d in rec.decisions.iter().take(MAX_DECISIONS) {
        let kind = d.kind.as_str();
        let _ = write!(
            out,
            "<tr><td class=\"t\">{}</td><td class=\"k {kind}\">{kind}</td><td>{}</td></tr>",
            clock(d.t),
            escape(&d.message)
        );
    }
    out.push_str("</table>");
    if rec.decisions.len() > MAX_DECISIONS {
        let _ = write!(
            out,
            "<p class=\"sub\">… and {} more entries not shown.</p>",
            rec.decisions.len() - MAX_DECISIONS
        );
    }
}

/// Buckets the timeline down to at most [`MAX_POINTS`] rows: each bucket keeps its last row,
/// with the bucket's maximum of pending pods (short spikes must stay visible).
fn bucket(timeline: &[TimelineRow]) -> Vec<TimelineRow> {
    let size = timeline.len().div_ceil(MAX_POINTS).max(1);
    timeline
        .chunks(size)
        .filter_map(|chunk| {
            let mut row = chunk.last()?.clone();
            row.pending_pods = chunk.iter().map(|r| r.pending_pods).max().unwrap_or(0);
            Some(row)
        })
        .collect()
}

fn column(rows: &[TimelineRow], f: impl Fn(&TimelineRow) -> f64) -> Vec<f64> {
    rows.iter().map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: f64, pending: u32) -> TimelineRow {
        TimelineRow {
            t,
            nodes_by_pool: vec![1],
            instances: 1,
            pending_pods: pending,
            replicas: vec![2],
            desired: vec![2],
            load: vec![1.0],
            requested_cpu: 1.0,
            allocatable_cpu: 2.0,
            requested_memory_gib: 1.0,
            allocatable_memory_gib: 2.0,
            cost: 0.0,
            nodes_lower_bound: 0.5,
            pools: Vec::new(),
        }
    }

    #[test]
    fn bucketing_keeps_pending_spikes() {
        let mut rows: Vec<TimelineRow> = (0..2000).map(|i| row(f64::from(i), 0)).collect();
        rows[1001].pending_pods = 40;
        let b = bucket(&rows);
        assert!(b.len() <= MAX_POINTS);
        assert_eq!(b.iter().map(|r| r.pending_pods).max(), Some(40));
        assert_eq!(b.last().map(|r| r.t), Some(1999.0));
    }
}
