//! The report's control-plane section: the size the cp-autoscaler chose over the day, the
//! utilisation of it and the minutes above the high threshold, next to the same day at the
//! fixed starting size.

use std::fmt::Write as _;

use super::svg::{self, Series, escape};
use crate::control_plane::{ControlPlaneDay, ControlPlaneKind, CpMinute, CpRunFigures};
use crate::record::clock;

/// Minutes per chart point (a day is 288 points).
const BUCKET_MINUTES: usize = 5;

/// Appends the section (nothing when the scenario has no control plane).
pub(super) fn section(out: &mut String, day: Option<&ControlPlaneDay>) {
    let Some(day) = day else { return };
    let f = day.figures();
    let (kind, unit) = match day.settings.kind {
        ControlPlaneKind::SelfManaged => (
            format!("{} self-managed control-plane nodes", day.settings.nodes),
            "vCPU per node",
        ),
        ControlPlaneKind::Eks => ("EKS provisioned tiers".to_owned(), "API seats"),
    };
    let _ = write!(
        out,
        "<h2>Control plane: autoscaled vs fixed size</h2><div class=\"sub\">{kind}; the load \
         model follows the cluster's nodes, pods and pod churn; the cp-autoscaler's decision \
         (<code>tidal_core::control_plane</code>) runs once a minute and a resize is in service \
         {} min after it is decided. High threshold {:.0} %; utilisation is the highest over \
         the signals the size is judged on.</div>\
         <table><tr><th>control plane</th><th>size at 00:00</th><th>largest size</th>\
         <th>size at the end</th><th>changes</th><th>minutes above the high threshold</th>\
         <th>peak utilisation</th><th>mean utilisation</th><th>instance cost</th></tr>",
        day.settings.resize_time.as_secs() / 60,
        f.high_threshold * 100.0,
    );
    figures_row(out, "autoscaled", &f.autoscaled);
    figures_row(out, "fixed size", &f.fixed);
    out.push_str("</table>");
    chart(out, day, unit);
    changes(out, day);
}

fn figures_row(out: &mut String, name: &str, r: &CpRunFigures) {
    let cost = r.cost_usd.map_or("–".to_owned(), |c| format!("${c:.2}"));
    let _ = write!(
        out,
        "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{:.0} %</td><td>{:.0} %</td><td>{cost}</td></tr>",
        escape(&r.size_start),
        escape(&r.size_largest),
        escape(&r.size_end),
        r.changes,
        r.minutes_above_high,
        r.peak_utilisation * 100.0,
        r.mean_utilisation * 100.0,
    );
}

/// Utilisation of both runs and the threshold (percent, left), the autoscaled size (right).
fn chart(out: &mut String, day: &ControlPlaneDay, unit: &str) {
    let xs: Vec<f64> = (0..day.autoscaled.minutes.len())
        .step_by(BUCKET_MINUTES)
        .map(|m| (m + BUCKET_MINUTES - 1) as f64 / 60.0)
        .collect();
    let peak = |minutes: &[CpMinute]| -> Vec<f64> {
        minutes
            .chunks(BUCKET_MINUTES)
            .map(|c| c.iter().map(|m| m.utilisation * 100.0).fold(0.0, f64::max))
            .collect()
    };
    let size = |rung: usize| {
        day.settings.ladder.get(rung).map_or(0.0, |r| {
            let c = r.capacity;
            match day.settings.kind {
                ControlPlaneKind::SelfManaged => c.vcpus.map_or(0.0, f64::from),
                ControlPlaneKind::Eks => c.seats.map_or(0.0, |s| s as f64),
            }
        })
    };
    let sizes: Vec<f64> = day
        .autoscaled
        .minutes
        .chunks(BUCKET_MINUTES)
        .map(|c| c.last().map_or(0.0, |m| size(m.rung)))
        .collect();
    let threshold = vec![day.settings.decision.high_threshold * 100.0; xs.len()];
    let left = [
        Series::new("utilisation, autoscaled", peak(&day.autoscaled.minutes), 2),
        Series::new("utilisation, fixed size", peak(&day.fixed.minutes), 1),
        Series::new("high threshold", threshold, 6).dashed(),
    ];
    let right = [Series::new(format!("autoscaled size ({unit})"), sizes, 0).dashed()];
    out.push_str(&svg::lines(&xs, &left, "% of the size", &right, Some(unit)));
}

fn changes(out: &mut String, day: &ControlPlaneDay) {
    if day.autoscaled.changes.is_empty() {
        out.push_str("<p class=\"sub\">The autoscaler kept the starting size all day.</p>");
        return;
    }
    out.push_str("<table><tr><th>time</th><th>change</th><th>cluster nodes</th><th>why</th></tr>");
    for c in &day.autoscaled.changes {
        let _ = write!(
            out,
            "<tr><td class=\"t\">{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            clock(f64::from(c.minute) * 60.0),
            escape(day.size_name(c.from)),
            escape(day.size_name(c.to)),
            c.nodes,
            escape(&c.message)
        );
    }
    out.push_str("</table>");
}
