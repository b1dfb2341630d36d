//! The decision log: one table, grouped by hour of simulated time, with a checkbox per kind
//! of entry and a text filter. Without scripts every entry shows; a few lines of inline
//! script hide what the filters leave out and count what is shown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::svg::escape;
use crate::record::{Decision, Recording, clock};

/// At most this many decision-log rows in the page (the rest are counted).
pub const MAX_DECISIONS: usize = 5_000;

/// Filters the log: kinds by checkbox, text by the search box; hides empty hour groups.
/// Sets `data-log-ready` on the body when it has run.
const SCRIPT: &str = "(function(){var boxes=[].slice.call(document.querySelectorAll(\
'#log-filters input[data-kind]'));var q=document.getElementById('log-search');\
var shown=document.getElementById('log-shown');function apply(){var on={};\
boxes.forEach(function(b){on[b.dataset.kind]=b.checked;});var t=q.value.toLowerCase();var n=0;\
document.querySelectorAll('#log tbody').forEach(function(g){var k=0;\
g.querySelectorAll('tr[data-kind]').forEach(function(r){var v=on[r.dataset.kind]&&\
(!t||r.textContent.toLowerCase().indexOf(t)>=0);r.hidden=!v;if(v){k++;}});g.hidden=k===0;\
n+=k;});shown.textContent=n+' shown';}boxes.forEach(function(b){\
b.addEventListener('change',apply);});q.addEventListener('input',apply);apply();\
document.body.setAttribute('data-log-ready','1');})();";

/// Writes the decision log section.
pub fn render(out: &mut String, rec: &Recording) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &rec.decisions {
        *counts.entry(d.kind.as_str()).or_default() += 1;
    }
    let _ = write!(
        out,
        "<h2>Decision log</h2><div class=\"sub\">{} entries; times are simulated clock time, \
         negative during warm-up. Untick a kind or type to filter.</div>\
         <div class=\"filters\" id=\"log-filters\">",
        rec.decisions.len(),
    );
    for (kind, n) in &counts {
        let _ = write!(
            out,
            "<label class=\"{kind}\"><input type=\"checkbox\" data-kind=\"{kind}\" checked> \
             {kind} ({n})</label>"
        );
    }
    out.push_str(
        "<input type=\"search\" id=\"log-search\" placeholder=\"filter text\" \
         aria-label=\"filter the decision log\"><span id=\"log-shown\" class=\"sub\"></span>\
         </div><table id=\"log\"><colgroup><col class=\"ct\"><col class=\"ck\"><col></colgroup>",
    );
    let shown = &rec.decisions[..rec.decisions.len().min(MAX_DECISIONS)];
    for group in shown.chunk_by(|a, b| hour(a) == hour(b)) {
        let h = hour(&group[0]);
        let _ = write!(
            out,
            "<tbody><tr class=\"hour\"><th colspan=\"3\">{} – {} · {} entries</th></tr>",
            clock(h * 3600.0),
            clock((h + 1.0) * 3600.0),
            group.len()
        );
        for d in group {
            let kind = d.kind.as_str();
            let _ = write!(
                out,
                "<tr data-kind=\"{kind}\"><td class=\"t\">{}</td><td class=\"k {kind}\">{kind}</td>\
                 <td>{}</td></tr>",
                clock(d.t),
                escape(&d.message)
            );
        }
        out.push_str("</tbody>");
    }
    out.push_str("</table>");
    if rec.decisions.len() > MAX_DECISIONS {
        let _ = write!(
            out,
            "<p class=\"sub\">… and {} more entries not shown.</p>",
            rec.decisions.len() - MAX_DECISIONS
        );
    }
    let _ = write!(out, "<script>{SCRIPT}</script>");
}

/// The hour an entry falls in (negative during warm-up).
fn hour(d: &Decision) -> f64 {
    (d.t / 3600.0).floor()
}
