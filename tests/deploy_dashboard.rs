//! The Grafana dashboard draws only what exists: every panel query parses as PromQL (with a
//! real parser), and every metric it names is registered by a Tidal component or comes from an
//! exporter the dashboard names as a dependency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use promql_parser::parser::{self, Expr};
use serde_json::Value;
use tidal_core::Timestamp;
use tidal_runtime::Clock;

/// Exporters the dashboard depends on besides Tidal (named in deploy/grafana/README.md), by the
/// prefix of their metric names.
const EXTERNAL_EXPORTERS: &[(&str, &str)] = &[
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
fn registered_names() -> BTreeSet<String> {
    let mut registry = Registry::default();
    tidal_cluster_autoscaler::metrics::Metrics::register(&mut registry);
    tidal_vpa::metrics::Metrics::register(&mut registry);
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

/// Every `expr` of every panel (rows included), with the panel's title.
fn panel_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((title.clone(), expr.to_owned()));
                }
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Grafana substitutes these before Prometheus sees the query.
fn substitute_variables(expr: &str) -> String {
    let mut out = expr
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    // Template variables ($cluster, $namespace, $pool, ${pool}): any label value will do.
    while let Some(start) = out.find('$') {
        let rest = &out[start + 1..];
        let (len, skip) = if let Some(inner) = rest.strip_prefix('{') {
            (inner.find('}').map_or(inner.len(), |i| i + 2), 0)
        } else {
            (
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len()),
                0,
            )
        };
        out.replace_range(start..start + 1 + len + skip, "x");
    }
    out
}

fn metric_names(expr: &Expr, out: &mut BTreeSet<String>) {
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

#[test]
fn every_dashboard_query_parses_and_names_only_metrics_that_exist() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/tidal-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let registered = registered_names();
    let queries = panel_queries(&dashboard);
    assert!(!queries.is_empty(), "{}: no panel queries", path.display());

    let mut problems = Vec::new();
    for (title, expr) in &queries {
        let parsed = match parser::parse(&substitute_variables(expr)) {
            Ok(parsed) => parsed,
            Err(e) => {
                problems.push(format!("panel {title:?}: {expr:?} does not parse: {e}"));
                continue;
            }
        };
        let mut names = BTreeSet::new();
        metric_names(&parsed, &mut names);
        for name in names {
            let external = EXTERNAL_EXPORTERS.iter().any(|(p, _)| name.starts_with(p));
            if !registered.contains(&name) && !external {
                problems.push(format!(
                    "panel {title:?}: {name} is registered by no Tidal component and comes \
                     from no named exporter"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}:\n{}",
        path.display(),
        problems.join("\n")
    );
}

#[test]
fn the_check_catches_a_metric_nobody_registers() {
    let registered = registered_names();
    assert!(registered.contains("tidal_cluster_autoscaler_scale_ups_total"));
    assert!(registered.contains("tidal_metrics_adapter_value_age_seconds"));
    let mut names = BTreeSet::new();
    let expr = substitute_variables(
        "sum(rate(tidal_cluster_autoscaler_scale_upz_total[$__rate_interval]))",
    );
    metric_names(&parser::parse(&expr).unwrap(), &mut names);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["tidal_cluster_autoscaler_scale_upz_total"]
    );
    assert!(!registered.contains("tidal_cluster_autoscaler_scale_upz_total"));
}

#[test]
fn grafana_variables_become_valid_promql() {
    assert_eq!(
        substitute_variables("x{pool=~\"$pool\", ns=\"${namespace}\"}[$__rate_interval]"),
        "x{pool=~\"x\", ns=\"x\"}[5m]"
    );
}
