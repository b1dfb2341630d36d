#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// A cluster that triples in ten minutes at 09:00 (a batch of jobs lands): 20 nodes and
/// 400 pods, then 60 nodes and 1,200 pods until 21:00, then back to 20.
fn growing_day() -> SizeSeries {
    SizeSeries(
        (0..=(24 * 60 / 5))
            .map(|i| {
                let t = f64::from(i) * 300.0;
                let minute = t / 60.0;
                let nodes = if (540.0..1260.0).contains(&minute) {
                    20 + (((minute - 540.0) / 5.0 + 1.0) * 20.0).min(40.0) as u32
                } else {
                    20
                };
                (
                    t,
                    ClusterSize {
                        nodes,
                        pods: nodes * 20,
                    },
                )
            })
            .collect(),
    )
}

#[test]
fn size_series_is_a_step_function() {
    let s = growing_day();
    let size = |nodes| ClusterSize {
        nodes,
        pods: nodes * 20,
    };
    assert_eq!(s.at(0.0), size(20));
    assert_eq!(s.at(8.9 * 3600.0), size(20));
    assert_eq!(s.at(9.0 * 3600.0), size(40));
    assert_eq!(s.at(12.0 * 3600.0), size(60));
    assert_eq!(s.at(23.0 * 3600.0), size(20));
    assert_eq!(s.at(-5.0), ClusterSize::default());
    assert_eq!(s.end(), 86_400.0);
}

#[test]
fn tidal_rule_kills_less_and_crash_loops_less_than_upstream() {
    let rows = compare(&default_workloads(), &growing_day());
    eprintln!("{}", to_csv(&rows));
    assert_eq!(rows.len(), 6);
    let total = |rule: OomRuleKind, f: fn(&VpaRow) -> u32| -> u32 {
        rows.iter().filter(|r| r.rule == rule).map(f).sum()
    };
    for pair in rows.chunks(2) {
        let (ours, upstream) = (&pair[0], &pair[1]);
        assert_eq!(
            (ours.rule, upstream.rule),
            (OomRuleKind::Tidal, OomRuleKind::Upstream)
        );
        assert!(ours.peak_usage_bytes > 0.0);
        assert!(ours.kills <= upstream.kills, "{ours:?} vs {upstream:?}");
        assert!(
            ours.crash_loop_minutes <= upstream.crash_loop_minutes,
            "{ours:?} vs {upstream:?}"
        );
        // The day ends with a request that covers the usage.
        assert!(
            ours.final_request_bytes >= ours.peak_usage_bytes * 0.97,
            "{ours:?}"
        );
    }
    assert!(total(OomRuleKind::Tidal, |r| r.kills) < total(OomRuleKind::Upstream, |r| r.kills));
    let csv = to_csv(&rows);
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.starts_with("workload,oom_rule,oom_kills,"));
}
