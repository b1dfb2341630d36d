//! The report's VPA section: per VPA'd workload, the OOM kills and crash-looping minutes
//! under Tidal's and upstream's OOM rule, and memory usage against the requests each rule
//! led to.

use std::fmt::Write as _;

use super::svg::{self, Series, escape};
use crate::vpa::{VpaPoint, VpaRun};

const MIB: f64 = 1024.0 * 1024.0;
/// Minutes per chart point (a day is 288 points).
const BUCKET_MINUTES: usize = 5;

/// Appends the section (nothing when the scenario has no VPA'd workloads).
pub(super) fn section(out: &mut String, runs: &[VpaRun]) {
    if runs.is_empty() {
        return;
    }
    out.push_str(
        "<h2>VPA: memory recommendation vs usage</h2><div class=\"sub\">Workloads whose memory \
         follows the cluster's size, one replica each, sized by the recommender \
         (<code>tidal_core::vpa</code>) with Tidal's OOM rule and, on the same day, with \
         upstream's. A container whose usage passes its limit is OOM-killed and restarts after \
         the kubelet's back-off; crash-looping minutes are minutes with a kill or in back-off. \
         A request is the recommendation's target as the updater last applied it.</div>\
         <table><tr><th>workload</th><th>OOM rule</th><th>OOM kills</th>\
         <th>crash-looping minutes</th><th>evictions</th><th>peak usage</th>\
         <th>request at the end</th><th>mean request ÷ usage</th></tr>",
    );
    for r in runs.iter().map(|r| &r.row) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0} MiB</td>\
             <td>{:.0} MiB</td><td>{:.2}</td></tr>",
            escape(&r.workload),
            r.oom_rule.as_str(),
            r.oom_kills,
            r.crash_loop_minutes,
            r.evictions,
            r.peak_usage_bytes / MIB,
            r.final_request_bytes / MIB,
            r.mean_request_over_usage
        );
    }
    out.push_str("</table>");
    let mut i = 0;
    while i < runs.len() {
        let name = &runs[i].row.workload;
        let same: Vec<&VpaRun> = runs[i..]
            .iter()
            .take_while(|r| &r.row.workload == name)
            .collect();
        i += same.len();
        chart(out, name, &same);
    }
}

/// Usage and each rule's request (MiB, left) and cumulative OOM kills (right).
fn chart(out: &mut String, name: &str, runs: &[&VpaRun]) {
    let Some(first) = runs.first() else { return };
    let buckets = |f: &dyn Fn(&[VpaPoint]) -> f64, points: &[VpaPoint]| -> Vec<f64> {
        points.chunks(BUCKET_MINUTES).map(f).collect()
    };
    let xs: Vec<f64> = first
        .points
        .chunks(BUCKET_MINUTES)
        .filter_map(|c| c.last())
        .map(|p| f64::from(p.minute) / 60.0)
        .collect();
    let peak_usage = |c: &[VpaPoint]| c.iter().map(|p| p.usage_bytes).fold(0.0, f64::max) / MIB;
    let mut left = vec![Series::new("usage", buckets(&peak_usage, &first.points), 0)];
    let mut right = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        let rule = run.row.oom_rule.as_str();
        let request = |c: &[VpaPoint]| c.last().map_or(0.0, |p| p.request_bytes / MIB);
        left.push(Series::new(
            format!("request ({rule})"),
            buckets(&request, &run.points),
            2 + k,
        ));
        let mut kills = 0.0;
        let cumulative: Vec<f64> = run
            .points
            .chunks(BUCKET_MINUTES)
            .map(|c| {
                kills += c.iter().filter(|p| p.killed).count() as f64;
                kills
            })
            .collect();
        right.push(Series::new(format!("OOM kills ({rule})"), cumulative, 2 + k).dashed());
    }
    let _ = write!(out, "<h3>{}</h3>", escape(name));
    out.push_str(&svg::lines(
        &xs,
        &left,
        "MiB",
        &right,
        Some("OOM kills so far"),
    ));
}
