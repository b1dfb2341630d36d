//! `compare.html`: the comparison as one self-contained page (no scripts, nothing fetched).

use std::fmt::Write as _;

use super::{Better, Comparison, FigureRow, difference_text, format_value, short_hash};
use crate::report::svg::escape;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;\
padding:0 12px;color:#222}h1{font-size:22px;margin:0 0 8px}table{border-collapse:collapse;\
width:100%;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;\
font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}\
tr.g th{background:#f5f6f8;text-align:left;padding-top:10px}.d{display:block;font-size:11.5px;\
color:#666}.better{color:#228833}.worse{color:#cc3311}.inputs td{text-align:left}\
.sub{color:#666}";

/// Renders the page.
pub fn render(c: &Comparison) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Tidal simulation comparison</title><style>{STYLE}</style></head><body>\
         <h1>Tidal simulation comparison</h1><table class=\"inputs\">\
         <tr><th>run</th><th>scenario</th><th>source</th><th>seed</th><th>hours</th>\
         <th>scenario sha256</th></tr>"
    );
    for i in &c.inputs {
        let _ = write!(
            out,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td title=\"{}\"><code>{}</code></td></tr>",
            escape(&i.label),
            escape(&i.scenario),
            escape(&i.source),
            i.seed.map_or("?".to_owned(), |s| s.to_string()),
            i.duration_hours.map_or("?".to_owned(), |h| format!("{h}")),
            escape(&i.scenario_sha256),
            escape(short_hash(&i.scenario_sha256)),
        );
    }
    out.push_str(
        "</table><p class=\"sub\">Differences are against the first run (A); green is better, \
         red is worse where a direction applies.</p><table><tr><th>figure</th>",
    );
    for i in &c.inputs {
        let _ = write!(out, "<th>{}</th>", escape(&i.label));
    }
    out.push_str("</tr>");
    let mut group = "";
    for f in &c.figures {
        if f.group != group {
            group = f.group;
            let _ = write!(
                out,
                "<tr class=\"g\"><th colspan=\"{}\">{}</th></tr>",
                c.inputs.len() + 1,
                escape(group)
            );
        }
        row(&mut out, f);
    }
    out.push_str("</table></body></html>\n");
    out
}

fn row(out: &mut String, f: &FigureRow) {
    let _ = write!(
        out,
        "<tr><td title=\"{}\">{}</td>",
        escape(&f.key),
        escape(&f.label)
    );
    for (i, v) in f.values.iter().enumerate() {
        let value = v.map_or("—".to_owned(), |v| format_value(&f.key, v));
        let _ = write!(out, "<td>{}", escape(&value));
        if i > 0
            && let Some(d) = difference_text(f, i)
        {
            let class = verdict(f.better, f.differences.get(i).copied().flatten());
            let _ = write!(out, "<span class=\"d {class}\">{}</span>", escape(&d));
        }
        out.push_str("</td>");
    }
    out.push_str("</tr>");
}

/// `better`, `worse` or nothing, for a difference against the baseline.
fn verdict(better: Better, d: Option<f64>) -> &'static str {
    match (better, d) {
        (Better::Lower, Some(d)) if d < 0.0 => "better",
        (Better::Lower, Some(d)) if d > 0.0 => "worse",
        (Better::Higher, Some(d)) if d > 0.0 => "better",
        (Better::Higher, Some(d)) if d < 0.0 => "worse",
        _ => "",
    }
}
