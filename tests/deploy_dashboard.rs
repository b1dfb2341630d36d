//! The Grafana dashboard draws only what exists: every panel query parses as PromQL (with a
//! real parser), and every metric it names is registered by a Tidal component or comes from an
//! exporter the dashboard names as a dependency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registered_metrics;

use std::collections::BTreeSet;
use std::path::Path;

use promql_parser::parser;
use registered_metrics::{EXTERNAL_EXPORTERS, metric_names, registered_names};
use serde_json::Value;

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
