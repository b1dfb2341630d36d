//! What a run did, per quota: the table on stdout, `--output json`, and the Pushgateway summary.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use tidal_core::Timestamp;

use crate::ports::ValueSource;

/// What the run did about a quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The quota covers the need.
    None,
    /// A request is open, recently approved, or recently refused: nothing filed this time.
    Wait,
    /// An increase request was filed.
    Requested,
    /// Dry run: a request would have been filed.
    WouldRequest,
    /// A support case was opened (Service Quotas could not take the request).
    SupportCase,
    /// Something failed; the reason says what.
    Error,
}

impl Action {
    /// Every action, for metrics.
    pub const ALL: [Action; 6] = [
        Action::None,
        Action::Wait,
        Action::Requested,
        Action::WouldRequest,
        Action::SupportCase,
        Action::Error,
    ];

    /// The name in the table, the JSON and the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Wait => "wait",
            Action::Requested => "requested",
            Action::WouldRequest => "would-request",
            Action::SupportCase => "support-case",
            Action::Error => "error",
        }
    }
}

/// A request of the quota's history, as reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestRef {
    /// Request (or support case) id.
    pub id: String,
    /// Its status.
    pub status: String,
    /// The value it asks for.
    pub desired: f64,
}

/// One quota's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaRow {
    /// AWS region.
    pub region: String,
    /// Quota code, e.g. `L-1216C47A`.
    pub quota_code: String,
    /// Quota name.
    pub quota_name: String,
    /// Current value in vCPUs, when it could be read.
    pub value: Option<f64>,
    /// Where the value came from.
    pub value_source: Option<ValueSource>,
    /// vCPUs the pools may use at their max sizes.
    pub pools_vcpus: u64,
    /// `pools_vcpus` plus headroom.
    pub need: u64,
    /// The request that blocks a new one (open, recently approved or refused), if any.
    pub open_request: Option<RequestRef>,
    /// What was done.
    pub action: Action,
    /// The value asked for (or that would be, in a dry run).
    pub requested: Option<u64>,
    /// Why.
    pub reason: String,
}

/// Instance types that count against no quota the requester knows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UncoveredRow {
    /// Instance type.
    pub instance_type: String,
    /// Bought as Spot.
    pub spot: bool,
    /// `file: pool` of each pool using it.
    pub pools: Vec<String>,
}

/// The whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The region handled.
    pub region: String,
    /// Whether this was a dry run (nothing filed).
    pub dry_run: bool,
    /// One row per quota the pools use in the region.
    pub quotas: Vec<QuotaRow>,
    /// Instance types no known quota covers.
    pub uncovered: Vec<UncoveredRow>,
    /// Other regions the pools run in: run the job there too.
    pub other_regions: Vec<String>,
}

impl Report {
    /// Rows whose action is [`Action::Error`].
    pub fn errors(&self) -> usize {
        self.quotas
            .iter()
            .filter(|r| r.action == Action::Error)
            .count()
    }

    /// The human-readable table, then the notes.
    pub fn table(&self) -> String {
        let header = [
            "REGION",
            "QUOTA",
            "VALUE",
            "NEED",
            "POOLS",
            "OPEN REQUEST",
            "ACTION",
            "REASON",
        ];
        let rows: Vec<[String; 8]> = self.quotas.iter().map(row_cells).collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<w$}  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&header.map(str::to_owned));
        for row in &rows {
            line(row);
        }
        if self.dry_run {
            out.push_str("dry run: nothing was filed\n");
        }
        for u in &self.uncovered {
            let kind = if u.spot { "Spot" } else { "On-Demand" };
            let _ = writeln!(
                out,
                "warning: {} ({kind}) counts against no quota this tool manages; used by {}",
                u.instance_type,
                u.pools.join(", ")
            );
        }
        for region in &self.other_regions {
            let _ = writeln!(
                out,
                "note: pools also run in {region}; run the job with --aws-region {region} for it"
            );
        }
        out
    }
}

fn row_cells(r: &QuotaRow) -> [String; 8] {
    let value = match (r.value, r.value_source) {
        (Some(v), Some(ValueSource::Default)) => format!("{v} (default)"),
        (Some(v), _) => v.to_string(),
        (None, _) => "-".to_owned(),
    };
    let open = r.open_request.as_ref().map_or_else(
        || "-".to_owned(),
        |o| format!("{} {} {}", o.id, o.status, o.desired),
    );
    [
        r.region.clone(),
        r.quota_code.clone(),
        value,
        r.need.to_string(),
        r.pools_vcpus.to_string(),
        open,
        r.action.as_str().to_owned(),
        r.reason.clone(),
    ]
}

/// RFC 3339 (seconds) for reasons and logs.
pub fn rfc3339(t: Timestamp) -> String {
    let ms = u64::try_from(t.as_millis()).unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}
