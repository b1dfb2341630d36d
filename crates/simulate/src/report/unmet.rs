//! The report's "Unmet demand" section, first on the page when a run left demand unmet: pods
//! that never scheduled with the autoscaler's reasons, and each HPA that reached its maximum
//! with its unclamped desired count drawn beside the clamped one.

use std::fmt::Write as _;

use super::svg::{self, Series, escape};
use crate::record::{Recording, TimelineRow};
use crate::summary::Summary;

/// Writes the section, or nothing when no pod went unscheduled and no HPA reached its maximum.
pub(super) fn section(
    out: &mut String,
    rec: &Recording,
    summary: &Summary,
    rows: &[TimelineRow],
    xs: &[f64],
) {
    let unmet = &summary.unmet_demand;
    if unmet.unscheduled.is_empty() && unmet.hpas_at_max.is_empty() {
        return;
    }
    out.push_str("<h2>Unmet demand</h2>");
    if !unmet.unscheduled.is_empty() {
        let _ = write!(
            out,
            "<p>{} pods were still pending at the end and never ran. The cluster autoscaler's \
             reasons (NotTriggerScaleUp):</p><table><tr><th>workload</th><th>pods</th>\
             <th>longest wait</th><th>reason</th></tr>",
            unmet.unscheduled_pods()
        );
        for u in &unmet.unscheduled {
            for (j, r) in u.reasons.iter().enumerate() {
                let (name, wait) = if j == 0 {
                    (
                        format!("{}/{}", u.namespace, u.workload),
                        format!("{:.0} min", u.longest_wait_seconds / 60.0),
                    )
                } else {
                    (String::new(), String::new())
                };
                let _ = write!(
                    out,
                    "<tr><td class=\"k\">{}</td><td>{}</td><td>{wait}</td><td>{}</td></tr>",
                    escape(&name),
                    r.pods,
                    escape(&r.reason)
                );
            }
        }
        out.push_str("</table>");
    }
    for h in &unmet.hpas_at_max {
        let Some(i) = rec.workloads.iter().position(|w| *w == h.workload) else {
            continue;
        };
        let _ = write!(
            out,
            "<h3>HPA {}: at max_replicas {} for {:.1} h, wanting more for {:.1} h (up to {})</h3>",
            escape(&h.workload),
            h.max_replicas,
            h.hours_at_max,
            h.hours_above_max,
            h.peak_desired_unclamped
        );
        let get = |v: &Vec<u32>| v.get(i).copied().map_or(0.0, f64::from);
        let max = f64::from(h.max_replicas);
        let series = [
            Series::new("desired (clamped)", column(rows, |r| get(&r.desired)), 2),
            Series::new(
                "desired without max_replicas",
                column(rows, |r| get(&r.desired_unclamped)),
                3,
            )
            .dashed(),
            Series::new("max_replicas", column(rows, |_| max), 5).dashed(),
        ];
        out.push_str(&svg::lines(xs, &series, "replicas", &[], None));
    }
}

/// One value per bucketed row.
fn column(rows: &[TimelineRow], f: impl Fn(&TimelineRow) -> f64) -> Vec<f64> {
    rows.iter().map(f).collect()
}
