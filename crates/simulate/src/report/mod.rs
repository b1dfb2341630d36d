//! `report.html`: one self-contained page (inline SVG, CSS and a few lines of script for the
//! log filters; nothing fetched) with unmet demand first when there is any, the key figures
//! and what they mean, charts over time (nodes, pending pods, CPU and memory, spend and
//! utilization by pool, cost, replicas vs load) with outages and back-offs shaded, and the
//! decision log, grouped by hour and filterable.

mod charts;
mod control_plane;
mod log;
pub mod svg;
mod unmet;
mod vpa;

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use tidal_cluster_autoscaler::ports::StatusReport;

use crate::record::{Recording, TimelineRow};
use crate::summary::Summary;
use svg::escape;

/// At most this many points per chart line (the timeline is bucketed down to it).
const MAX_POINTS: usize = 720;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;\
padding:0 16px;color:#222}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}\
h3{font-size:14px;margin:16px 0 2px}.sub{color:#666}\
.figs{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:8px;margin:16px 0}\
.fig{background:#f5f6f8;border-radius:6px;padding:8px 10px}.fig b{display:block;font-size:18px}\
.fig span{color:#666;font-size:12px}.ax{font-size:11px;fill:#555}\
.legend span{margin-right:14px;font-size:12px;white-space:nowrap;display:inline-block}\
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;border:1px solid #fff}\
dl.means{display:grid;grid-template-columns:minmax(0,12em) minmax(0,1fr);gap:2px 12px;font-size:13px}\
dl.means dt{font-weight:600}dl.means dd{margin:0;color:#444}\
.unmet{border:2px solid #cc3311;border-radius:6px;padding:4px 14px 10px;margin:16px 0}\
.unmet h2{color:#cc3311;margin-top:8px}\
table{border-collapse:collapse;width:100%;font-size:12.5px;table-layout:fixed}\
td,th{padding:3px 6px;border-bottom:1px solid #eee;text-align:left;vertical-align:top;\
overflow-wrap:anywhere}col.ct{width:6.5em}col.ck{width:7.5em}td.t{white-space:nowrap;\
font-variant-numeric:tabular-nums}tr.hour th{background:#f5f6f8;font-weight:600}\
.filters{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;margin:8px 0;font-size:12.5px}\
.filters input[type=search]{flex:1 1 12em;min-width:0;padding:3px 6px}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;background:#f5f6f8;padding:8px}\
.k{white-space:nowrap;font-weight:600}.scale-up{color:#228833}.scale-down{color:#4477aa}\
.failure,.error{color:#cc3311}.fallback{color:#ee7733}.cloud{color:#aa3377}.no-scale-up,.cluster{color:#666}";

/// Renders the page.
pub fn render(rec: &Recording, summary: &Summary, status: Option<&StatusReport>) -> String {
    let rows = bucket(&rec.timeline);
    let xs: Vec<f64> = rows.iter().map(|r| r.t / 3600.0).collect();
    let shades = charts::shades(rec);
    let frame = charts::Frame {
        rows: &rows,
        xs: &xs,
        shades: &shades,
    };
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Tidal simulation: {t}</title><style>{STYLE}</style></head><body>\
         <h1>Tidal simulation: {t}</h1><div class=\"sub\">seed {seed} · {h} h at {tick} s ticks · \
         the real HPA algorithm and cluster autoscaler against a simulated cluster and cloud</div>",
        t = escape(&summary.scenario),
        seed = summary.seed,
        h = summary.duration_hours,
        tick = summary.tick_seconds,
    );
    unmet::section(&mut out, rec, summary, &rows, &xs);
    figures(&mut out, summary);
    meanings(&mut out);
    charts::cluster(&mut out, rec, &frame);
    charts::workloads(&mut out, rec, &frame);
    vpa::section(&mut out, &rec.vpa);
    control_plane::section(&mut out, rec.control_plane.as_ref());
    log::render(&mut out, rec);
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

/// Writes `report.html` into `dir`.
pub fn write(
    dir: &Path,
    rec: &Recording,
    summary: &Summary,
    status: Option<&StatusReport>,
) -> io::Result<()> {
    std::fs::write(dir.join("report.html"), render(rec, summary, status))
}

/// Pods still pending at the end, per workload, in a box above everything else.
fn figures(out: &mut String, s: &Summary) {
    let waste = if s.node_hours > 0.0 {
        100.0 * (s.node_hours - s.node_hours_lower_bound).max(0.0) / s.node_hours
    } else {
        0.0
    };
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
        (format!("{waste:.0} %"), "above the lower bound"),
        (
            if s.cost < 100.0 {
                format!("${:.2}", s.cost)
            } else {
                format!("${:.0}", s.cost)
            },
            "cost (approx. list prices)",
        ),
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
            format!("{} / {}", s.counters.failed_scale_ups, s.counters.fallbacks),
            "failed scale-ups / fallbacks",
        ),
        (
            format!("{}", s.counters.spot_interruptions),
            "spot interruptions",
        ),
        (
            format!("{}", s.pods_pending_at_end),
            "pods pending at the end",
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

/// What the figures and charts mean.
fn meanings(out: &mut String) {
    const MEANINGS: &[(&str, &str)] = &[
        (
            "node-hours",
            "instance-hours billed from launch to termination, booting time included (as EC2 \
             bills), from 00:00 on; warm-up is not counted.",
        ),
        (
            "lower bound",
            "the node-hours the pods' requests need at the very least: at each tick, the \
             requested CPU or memory (whichever needs more) divided by the usable capacity of \
             the largest node any pool offers. It ignores selectors, taints and packing, so no \
             run can go below it.",
        ),
        (
            "above the lower bound",
            "(node-hours − lower bound) ÷ node-hours: the price of boot time, headroom, \
             scale-down delay and fragmentation. Not all of it can be saved.",
        ),
        (
            "waste (in the log)",
            "the least-waste expander's score of a scale-up: the share of the new nodes' CPU \
             plus the share of their memory the pending pods leave free (0 fills them exactly, \
             up to 2).",
        ),
        (
            "cost",
            "USD at approximate on-demand list prices, spot at a fixed discount.",
        ),
        (
            "pod wait",
            "per workload pod created from 00:00, creation to binding; pods still pending at the \
             end count with their wait so far.",
        ),
        (
            "utilization",
            "requests of the pods bound to a pool's nodes (daemonsets included) ÷ the nodes' \
             allocatable.",
        ),
        (
            "failed scale-ups, fallbacks",
            "scale-ups the autoscaler saw fail (and backed off from); pods then sent to another \
             pool.",
        ),
    ];
    out.push_str("<h2>What the figures mean</h2><dl class=\"means\">");
    for (term, meaning) in MEANINGS {
        let _ = write!(out, "<dt>{term}</dt><dd>{meaning}</dd>");
    }
    out.push_str("</dl><div class=\"legend\">Shaded on the charts: ");
    for (_, color, what) in charts::SHADE_KEY {
        let _ = write!(
            out,
            "<span><i style=\"background:{color};opacity:.5\"></i>{what}</span>"
        );
    }
    out.push_str("</div>");
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

#[cfg(test)]
mod tests;
