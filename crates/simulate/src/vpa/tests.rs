#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const MIB: f64 = 1024.0 * 1024.0;
const HISTORY: Duration = Duration::from_secs(8 * 86_400);

/// The components: a Prometheus (Guaranteed), an ingress controller (limit 1.5×)
/// and external-dns (limit 2×).
fn workloads() -> Vec<VpaWorkload> {
    let w = |name: &str, base, per_node, per_pod, cpu_cores, limit_ratio| VpaWorkload {
        name: name.into(),
        base_bytes: base * MIB,
        bytes_per_node: per_node * MIB,
        bytes_per_pod: per_pod * MIB,
        cpu_cores,
        limit_ratio,
        max_allowed_bytes: None,
    };
    vec![
        w("prometheus", 600.0, 60.0, 3.0, 0.5, 1.0),
        w("ingress-nginx", 150.0, 8.0, 1.5, 0.2, 1.5),
        w("external-dns", 40.0, 0.5, 0.8, 0.02, 2.0),
    ]
}

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
    assert_eq!(s.at(-5.0), size(20));
    assert_eq!(s.end(), 86_400.0);
    assert_eq!(SizeSeries::default().at(10.0), ClusterSize::default());
}

#[test]
fn tidal_rule_kills_less_and_crash_loops_less_than_upstream() {
    let runs = compare(&workloads(), &growing_day(), HISTORY);
    assert_eq!(runs.len(), 6);
    let total = |rule: OomRuleKind, f: fn(&VpaRow) -> u32| -> u32 {
        runs.iter()
            .map(|r| &r.row)
            .filter(|r| r.oom_rule == rule)
            .map(f)
            .sum()
    };
    for pair in runs.chunks(2) {
        let (ours, upstream) = (&pair[0].row, &pair[1].row);
        eprintln!("{ours:?}\n{upstream:?}");
        assert_eq!(
            (ours.oom_rule, upstream.oom_rule),
            (OomRuleKind::Tidal, OomRuleKind::Upstream)
        );
        assert!(ours.peak_usage_bytes > 0.0);
        assert!(
            ours.oom_kills <= upstream.oom_kills,
            "{ours:?} vs {upstream:?}"
        );
        assert!(
            ours.crash_loop_minutes <= upstream.crash_loop_minutes,
            "{ours:?} vs {upstream:?}"
        );
        // The day ends with a request that covers the usage.
        assert!(
            ours.final_request_bytes >= ours.peak_usage_bytes * 0.97,
            "{ours:?}"
        );
        assert_eq!(
            pair[0].points.len(),
            1441,
            "one point a minute, 00:00 to 24:00"
        );
    }
    assert!(
        total(OomRuleKind::Tidal, |r| r.oom_kills) < total(OomRuleKind::Upstream, |r| r.oom_kills)
    );
    assert!(
        total(OomRuleKind::Tidal, |r| r.crash_loop_minutes)
            < total(OomRuleKind::Upstream, |r| r.crash_loop_minutes)
    );
}

/// 20 nodes until 06:00, 40 after: the need of a node-bound workload doubles at once.
fn doubling_day() -> SizeSeries {
    let size = |nodes| ClusterSize { nodes, pods: 0 };
    SizeSeries(vec![
        (0.0, size(20)),
        (6.0 * 3600.0, size(40)),
        (86_400.0, size(40)),
    ])
}

fn node_bound(limit_ratio: f64, max_allowed_bytes: Option<i64>) -> VpaWorkload {
    VpaWorkload {
        name: "prometheus".into(),
        base_bytes: 200.0 * MIB,
        bytes_per_node: 50.0 * MIB,
        bytes_per_pod: 0.0,
        cpu_cores: 0.5,
        limit_ratio,
        max_allowed_bytes,
    }
}

#[test]
fn a_kill_restarts_after_back_off_and_the_updater_recreates_the_pod_bigger() {
    let w = node_bound(1.0, None);
    let ours = run(&w, &doubling_day(), OomRuleKind::Tidal, HISTORY);
    let upstream = run(&w, &doubling_day(), OomRuleKind::Upstream, HISTORY);
    let at_six = &ours.points[360];
    assert!(
        at_six.killed,
        "the doubled need passes the settled limit at 06:00"
    );
    // Tidal's floor lifts the lower bound above the request: the pod is recreated at once,
    // ×1.2 first and escalating within the hour, until the doubled need fits.
    let after = &ours.points[361];
    assert!(
        after.request_bytes >= at_six.request_bytes * 1.2,
        "{at_six:?} → {after:?}"
    );
    assert!(ours.row.oom_kills <= 2, "{:?}", ours.row);
    assert!(
        upstream.row.oom_kills >= ours.row.oom_kills,
        "{:?}",
        upstream.row
    );
    assert!(
        ours.points[400..]
            .iter()
            .all(|p| !p.killed && p.request_bytes >= p.usage_bytes)
    );
    // Before 06:00 the settled request held: no kill, no eviction.
    assert!(ours.points[..360].iter().all(|p| !p.killed));
    assert!(ours.row.crash_loop_minutes >= ours.row.oom_kills);
}

#[test]
fn max_allowed_below_the_need_caps_the_request_and_the_kills_go_on() {
    let cap = (1.2 * 1024.0 * MIB) as i64;
    let w = node_bound(1.0, Some(cap));
    let r = run(&w, &doubling_day(), OomRuleKind::Tidal, HISTORY);
    assert!(
        r.points.iter().all(|p| p.request_bytes <= cap as f64),
        "never above maxAllowed"
    );
    assert!(
        r.row.oom_kills > 5,
        "the need stays above the cap: {:?}",
        r.row
    );
    assert!(r.points.iter().any(|p| p.target_bytes == cap as f64));
}

#[test]
fn bad_settings_name_the_field() {
    let err = |yaml: &str| {
        serde_yaml_ng::from_str::<RawVpa>(yaml)
            .unwrap()
            .validate()
            .unwrap_err()
    };
    let one = |extra: &str| format!("workloads:\n- name: p\n  memory: {{base: 1Gi}}\n{extra}");
    assert_eq!(
        err(&one("  limit_ratio: 0.5\n")).field,
        "vpa.workloads[0].limit_ratio"
    );
    assert_eq!(
        err(&one("  max_allowed_memory: 0\n")).field,
        "vpa.workloads[0].max_allowed_memory"
    );
    assert_eq!(
        err(&format!("history: 9d\n{}", one(""))).field,
        "vpa.history"
    );
    assert_eq!(err("workloads: []\n").field, "vpa.workloads");
    let twice = format!("{}- name: p\n  memory: {{base: 1Gi}}\n", one(""));
    assert_eq!(err(&twice).field, "vpa.workloads[1].name");
    assert_eq!(
        err("workloads:\n- name: p\n  memory: {base: 0}\n").field,
        "vpa.workloads[0].memory.base"
    );
    assert!(serde_yaml_ng::from_str::<RawVpa>(&one("  colour: red\n")).is_err());
    let ok = serde_yaml_ng::from_str::<RawVpa>(&one("  limit_ratio: 2\n"))
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(ok.history, HISTORY);
    assert_eq!(ok.workloads[0].limit_ratio, 2.0);
    assert_eq!(ok.workloads[0].cpu_cores, 0.1);
}
