#![allow(clippy::unwrap_used, clippy::expect_used)]
use serde_json::json;

use super::*;

fn summary(cost: f64, spot_cost: f64, wait_p95: f64, extra: Option<(&str, f64)>) -> Value {
    let mut v = json!({
        "scenario": "shop",
        "scenario_path": "shop.yaml",
        "scenario_sha256": "0123456789abcdef0123",
        "seed": 1,
        "duration_hours": 24.0,
        "tick_seconds": 10.0,
        "node_hours": 100.0,
        "cost": cost,
        "pending_pod_seconds_p95": wait_p95,
        "pods_pending_at_end": 0,
        "pods_never_scheduled": 3,
        "scale_ups": 4,
        "pools": [
            {"name": "default", "node_hours": 60.0, "cost": cost - spot_cost, "cpu_utilization": 0.5},
            {"name": "spot", "node_hours": 40.0, "cost": spot_cost, "cpu_utilization": 0.7}
        ],
        "workloads": [{"name": "web", "pending_pod_seconds_max": wait_p95,
                       "pending_pod_seconds_p95": wait_p95, "pods_pending_at_end": 0}],
        "wall_time_seconds": 2.5
    });
    if let Some((k, x)) = extra {
        v[k] = json!(x);
    }
    v
}

fn input(i: usize, summary: Value) -> Input {
    Input {
        label: label(i),
        source: format!("run-{i}"),
        summary,
    }
}

fn row<'a>(c: &'a Comparison, key: &str) -> &'a FigureRow {
    c.figures
        .iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("no figure {key}"))
}

#[test]
fn every_number_of_the_summaries_is_compared_against_the_first() {
    let c = Comparison::new(&[
        input(0, summary(200.0, 50.0, 90.0, None)),
        input(1, summary(150.0, 80.0, 120.0, None)),
    ]);
    let cost = row(&c, "cost");
    assert_eq!(cost.values, vec![Some(200.0), Some(150.0)]);
    assert_eq!(cost.differences, vec![Some(0.0), Some(-50.0)]);
    assert_eq!(cost.relative[1], Some(-0.25));
    assert_eq!(cost.group, "Cost");
    let spot = row(&c, "pools[spot].cost");
    assert_eq!(spot.values, vec![Some(50.0), Some(80.0)]);
    assert_eq!(spot.label, "pool spot: cost (USD)");
    let wait = row(&c, "workloads[web].pending_pod_seconds_p95");
    assert_eq!(wait.differences[1], Some(30.0));
    // Settings and wall time are not figures.
    for k in [
        "seed",
        "tick_seconds",
        "wall_time_seconds",
        "duration_hours",
    ] {
        assert!(c.figures.iter().all(|f| f.key != k), "{k} compared");
    }
    assert_eq!(c.inputs[1].label, "B");
    assert_eq!(c.inputs[0].scenario_sha256, "0123456789abcdef0123");
}

#[test]
fn figures_are_grouped_in_a_fixed_order_with_unknown_ones_last() {
    let c = Comparison::new(&[
        input(0, summary(1.0, 0.5, 1.0, Some(("some_future_figure", 8.0)))),
        input(1, summary(1.0, 0.5, 1.0, None)),
    ]);
    let groups: Vec<usize> = c
        .figures
        .iter()
        .map(|f| GROUPS.iter().position(|g| *g == f.group).unwrap())
        .collect();
    assert!(groups.windows(2).all(|w| w[0] <= w[1]), "{groups:?}");
    // The pool costs follow the total cost.
    let pos = |k: &str| c.figures.iter().position(|f| f.key == k).unwrap();
    assert!(pos("cost") < pos("pools[default].cost"));
    assert!(pos("pools[default].cost") < pos("pools[spot].cost"));
    // Fields of an entry keep the table's order, whatever order the JSON has them in.
    assert!(
        pos("workloads[web].pending_pod_seconds_p95")
            < pos("workloads[web].pending_pod_seconds_max")
    );
    // A field this module does not know (e.g. added by another part) is still compared.
    let unknown = row(&c, "some_future_figure");
    assert_eq!(unknown.group, "Other figures");
    // Unmet demand has its own group.
    assert_eq!(row(&c, "pods_never_scheduled").group, "Unmet demand");
    assert_eq!(unknown.values, vec![Some(8.0), None]);
    assert_eq!(unknown.differences, vec![Some(0.0), None]);
}

#[test]
fn the_text_table_shows_values_and_differences() {
    let c = Comparison::new(&[
        input(0, summary(200.0, 50.0, 90.0, None)),
        input(1, summary(150.0, 50.0, 90.0, None)),
    ]);
    let text = c.to_text();
    assert!(
        text.contains("A: run-0 — shop (seed 1, sha256 0123456789ab)"),
        "{text}"
    );
    let cost = text.lines().find(|l| l.contains("cost total")).unwrap();
    assert!(
        cost.contains("200") && cost.contains("150 (-50, -25 %)"),
        "{cost}"
    );
    let util = text
        .lines()
        .find(|l| l.contains("pool spot: CPU utilization"))
        .unwrap();
    assert!(util.contains("70.0 %") && util.contains("(=)"), "{util}");
    assert!(text.contains("[Unmet demand]"), "{text}");
}

#[test]
fn the_page_marks_better_and_worse_and_escapes_names() {
    let mut worse = summary(250.0, 50.0, 90.0, None);
    worse["scenario"] = json!("<b>shop</b>");
    let c = Comparison::new(&[input(0, summary(200.0, 50.0, 90.0, None)), input(1, worse)]);
    let page = html::render(&c);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("&lt;b&gt;shop&lt;/b&gt;"));
    assert!(
        page.contains("<span class=\"d worse\">+50, +25 %</span>"),
        "{page}"
    );
    assert!(!page.contains("<script"));
    let json: Value = serde_json::from_str(&c.to_json()).unwrap();
    assert_eq!(json["figures"][0]["key"], "node_hours");
    assert_eq!(json["inputs"][1]["label"], "B");
}
