//! The report's charts over time: nodes, pending pods, CPU and memory, spend and utilization
//! by pool, cost, and replicas vs load per workload. Every chart shades the outage and
//! back-off windows and marks spot interruptions.

use std::fmt::Write as _;

use super::svg::{self, Series, Shade, escape};
use crate::record::{PoolTick, Recording, TimelineRow, WindowKind};

/// Colours of the shaded windows, and what they mean (for the key above the charts).
pub const SHADE_KEY: &[(WindowKind, &str, &str)] = &[
    (
        WindowKind::Outage,
        "#cc3311",
        "capacity outage (from the scenario)",
    ),
    (
        WindowKind::Backoff,
        "#ee7733",
        "node group backed off after a failed scale-up",
    ),
    (
        WindowKind::SpotInterruption,
        "#aa3377",
        "spot instances reclaimed",
    ),
];

/// The recording's windows in chart terms (hours).
pub fn shades(rec: &Recording) -> Vec<Shade> {
    rec.windows
        .iter()
        .map(|w| Shade {
            from: w.from / 3600.0,
            until: w.until / 3600.0,
            color: SHADE_KEY
                .iter()
                .find(|(k, ..)| *k == w.kind)
                .map_or("#888888", |(_, c, _)| c),
            label: w.label.clone(),
        })
        .collect()
}

/// One chart's data: the bucketed rows, their x values (hours) and the shaded windows.
pub struct Frame<'a> {
    /// Bucketed timeline rows.
    pub rows: &'a [TimelineRow],
    /// Hours of each row.
    pub xs: &'a [f64],
    /// Shaded windows.
    pub shades: &'a [Shade],
}

impl Frame<'_> {
    fn column(&self, f: impl Fn(&TimelineRow) -> f64) -> Vec<f64> {
        self.rows.iter().map(f).collect()
    }

    fn pool_column(&self, i: usize, f: impl Fn(&PoolTick) -> f64) -> Vec<f64> {
        self.column(|r| r.pools.get(i).map_or(0.0, &f))
    }

    fn lines(&self, left: &[Series], y: &str, right: &[Series], y2: Option<&str>) -> String {
        svg::lines_shaded(self.xs, left, y, right, y2, self.shades)
    }
}

/// Nodes by pool, pending pods, CPU, memory, spend and utilization by pool, cost.
pub fn cluster(out: &mut String, rec: &Recording, f: &Frame<'_>) {
    out.push_str("<h2>Nodes by pool</h2>");
    let pools: Vec<Series> = (rec.pools.iter().enumerate())
        .map(|(i, p)| {
            let nodes = f.column(|r| r.nodes_by_pool.get(i).copied().map_or(0.0, f64::from));
            Series::new(p, nodes, i)
        })
        .collect();
    out.push_str(&svg::stacked_area_shaded(
        f.xs,
        &pools,
        "registered nodes",
        f.shades,
    ));
    out.push_str("<h2>Pending pods</h2>");
    let pending = Series::new("pending pods", f.column(|r| f64::from(r.pending_pods)), 1);
    let bound = f.column(|r| r.nodes_lower_bound);
    let bound = Series::new("lower bound of nodes needed", bound, 0).dashed();
    out.push_str(&f.lines(&[pending], "pods (max per point)", &[bound], Some("nodes")));
    requested_vs_allocatable(out, f);
    by_pool(out, rec, f);
    out.push_str("<h2>Cost so far</h2>");
    let cost = Series::new("cumulative cost", f.column(|r| r.cost), 5);
    out.push_str(&f.lines(&[cost], "USD", &[], None));
}

fn requested_vs_allocatable(out: &mut String, f: &Frame<'_>) {
    for (title, unit, req, alloc) in [
        (
            "CPU",
            "cores",
            f.column(|r| r.requested_cpu),
            f.column(|r| r.allocatable_cpu),
        ),
        (
            "Memory",
            "GiB",
            f.column(|r| r.requested_memory_gib),
            f.column(|r| r.allocatable_memory_gib),
        ),
    ] {
        let _ = write!(out, "<h2>{title}: requested vs allocatable</h2>");
        let series = [
            Series::new("requested (workload pods)", req, 0),
            Series::new("allocatable (registered nodes)", alloc, 2),
        ];
        out.push_str(&f.lines(&series, unit, &[], None));
    }
}

/// Spend rate (stacked) and CPU / memory utilization per pool.
fn by_pool(out: &mut String, rec: &Recording, f: &Frame<'_>) {
    out.push_str("<h2>Cost per hour by pool</h2>");
    let spend: Vec<Series> = (0..rec.pools.len())
        .map(|i| Series::new(&rec.pools[i], f.pool_column(i, |p| p.usd_per_hour), i))
        .collect();
    out.push_str(&svg::stacked_area_shaded(
        f.xs,
        &spend,
        "USD per hour",
        f.shades,
    ));
    out.push_str(
        "<h2>Utilization by pool</h2><div class=\"sub\">requests of the pods on the pool's \
         nodes ÷ their allocatable; solid CPU, dashed memory</div>",
    );
    let ratio = |used: f64, of: f64| if of > 0.0 { 100.0 * used / of } else { 0.0 };
    let mut series = Vec::new();
    for (i, p) in rec.pools.iter().enumerate() {
        let cpu = f.pool_column(i, |t| ratio(t.requested_cpu, t.allocatable_cpu));
        let mem = f.pool_column(i, |t| {
            ratio(t.requested_memory_gib, t.allocatable_memory_gib)
        });
        series.push(Series::new(format!("{p} CPU"), cpu, i));
        series.push(Series::new(format!("{p} memory"), mem, i).dashed());
    }
    out.push_str(&f.lines(&series, "% of allocatable", &[], None));
}

/// Replicas vs load, one chart per workload.
pub fn workloads(out: &mut String, rec: &Recording, f: &Frame<'_>) {
    out.push_str("<h2>Replicas vs load</h2>");
    for (i, w) in rec.workloads.iter().enumerate() {
        let _ = write!(out, "<h3>{}</h3>", escape(w));
        let get = |v: &Vec<u32>| v.get(i).copied().map_or(0.0, f64::from);
        let load = f.column(|r| r.load.get(i).copied().unwrap_or(0.0));
        let left = [
            Series::new("pods", f.column(|r| get(&r.replicas)), 0),
            Series::new("desired (HPA)", f.column(|r| get(&r.desired)), 2).dashed(),
            Series::new(
                "wanted without max_replicas",
                f.column(|r| get(&r.desired_unclamped)),
                3,
            )
            .dashed(),
        ];
        let right = [Series::new("load", load, 1)];
        out.push_str(&f.lines(&left, "replicas", &right, Some("load")));
    }
}
