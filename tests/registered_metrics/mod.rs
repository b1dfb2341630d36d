//! Which metric names exist: every name a Tidal component registers, the exporters the
//! dashboard and alerts may also use, and the metric names a PromQL expression reads. Shared by
//! the dashboard and alert-rule tests, so both check against the same list.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use promql_parser::parser::Expr;
use tidal_core::Timestamp;
use tidal_runtime::Clock;

/// Exporters the dashboard depends on besides Tidal (named in deploy/grafana/README.md), by the
/// prefix of their metric names.
pub const EXTERNAL_EXPORTERS: &[(&str, &str)] = &[
    ("kube_", "kube-state-metrics"),
    ("container_", "cAdvisor (kubelet)"),
    ("apiserver_", "kube-apiserver"),
    ("node_", "node-exporter"),
];

/// Every metric name a Tidal component registers, with the suffixes a scrape adds.
///
/// prometheus-client leaves a labelled family out of a scrape until it has a child, so the
/// names are read from each registry's descriptors (its `Debug` form lists every registered
/// metric with its prefix) rather than from an encoded scrape.
pub fn registered_names() -> BTreeSet<String> {
    let mut registry = Registry::default();
    tidal_cluster_autoscaler::metrics::Metrics::register(&mut registry);
    tidal_vpa::metrics::Metrics::register(&mut registry);
    tidal_cp_autoscaler::metrics::Metrics::register(&mut registry);
    let mut adapter = Registry::with_prefix("tidal_metrics_adapter");
    tidal_metrics_adapter::metrics::Metrics::new(&mut adapter);

    let mut names = BTreeSet::new();
    for registry in [&registry, &adapter] {
        for name in descriptor_names(&format!("{registry:?}")) {
            for suffix in ["", "_total", "_created", "_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }

    // The value-age gauge is a collector computed at scrape time: encode one value.
    let mut ages = Registry::with_prefix("tidal_metrics_adapter");
    let store = tidal_metrics_adapter::store::MetricStore::new();
    let now = Timestamp::from_secs(1_800_000_000);
    tidal_metrics_adapter::testing::fill_synthetic(&store, 1, 1, now, Duration::from_secs(60));
    tidal_metrics_adapter::metrics::ValueAgeCollector::register(
        &mut ages,
        store,
        Clock::manual(now),
    );
    let mut text = String::new();
    encode(&mut text, &ages).unwrap();
    // The quota requester pushes one run's summary: encode a run with one quota.
    text.push_str(&quota_requester_push());
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|r| r.split_whitespace().next())
        {
            names.insert(name.to_owned());
        }
    }
    names
}

/// `prefix_name` for every descriptor in a registry's `Debug` text. A registry prints its
/// prefix, then its metrics, then its sub-registries (with their full prefixes), so the
/// prefix in force for a descriptor is the last one printed before it.
fn descriptor_names(debug: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut prefix: Option<String> = None;
    let mut rest = debug;
    loop {
        let next_prefix = rest.find("prefix: ");
        let next_name = rest.find("Descriptor { name: \"");
        match (next_prefix, next_name) {
            (Some(p), n) if n.is_none_or(|n| p < n) => {
                let after = &rest[p + "prefix: ".len()..];
                prefix = after
                    .strip_prefix("Some(Prefix(\"")
                    .and_then(|a| a.split('"').next())
                    .map(str::to_owned);
                rest = after;
            }
            (_, Some(n)) => {
                let after = &rest[n + "Descriptor { name: \"".len()..];
                let name = after.split('"').next().unwrap_or_default();
                names.push(match &prefix {
                    Some(p) => format!("{p}_{name}"),
                    None => name.to_owned(),
                });
                rest = after;
            }
            _ => break,
        }
    }
    names
}

/// Every metric name `expr` reads.
pub fn metric_names(expr: &Expr, out: &mut BTreeSet<String>) {
    match expr {
        Expr::Aggregate(a) => {
            metric_names(&a.expr, out);
            if let Some(p) = &a.param {
                metric_names(p, out);
            }
        }
        Expr::Unary(u) => metric_names(&u.expr, out),
        Expr::Binary(b) => {
            metric_names(&b.lhs, out);
            metric_names(&b.rhs, out);
        }
        Expr::Paren(p) => metric_names(&p.expr, out),
        Expr::Subquery(s) => metric_names(&s.expr, out),
        Expr::VectorSelector(vs) => selector_name(vs, out),
        Expr::MatrixSelector(ms) => selector_name(&ms.vs, out),
        Expr::Call(call) => {
            for arg in &call.args.args {
                metric_names(arg, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn selector_name(vs: &promql_parser::parser::VectorSelector, out: &mut BTreeSet<String>) {
    let by_matcher = vs
        .matchers
        .matchers
        .iter()
        .find(|m| m.name == "__name__")
        .map(|m| m.value.clone());
    if let Some(name) = vs.name.clone().or(by_matcher) {
        out.insert(name);
    }
}

/// What the quota requester pushes for a run with one quota row.
fn quota_requester_push() -> String {
    use tidal_quota_requester::report::{Action, QuotaRow, Report};
    let report = Report {
        region: "eu-west-1".into(),
        dry_run: false,
        quotas: vec![QuotaRow {
            region: "eu-west-1".into(),
            quota_code: "L-1216C47A".into(),
            quota_name: "Running On-Demand Standard instances".into(),
            value: Some(640.0),
            value_source: None,
            pools_vcpus: 800,
            need: 960,
            open_request: None,
            action: Action::None,
            requested: None,
            reason: String::new(),
        }],
        uncovered: vec![],
        other_regions: vec![],
    };
    tidal_quota_requester::pushgateway::encode_report(&report, Timestamp::from_secs(1_800_000_000))
        .unwrap()
}
