//! The VPA'd workloads and the control plane in a whole run: the shipped launch-day scenario
//! (Tidal's OOM rule against upstream's, the autoscaled control plane against a fixed size),
//! their outputs, and their scenario errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use tidal_simulate::Scenario;
use tidal_simulate::vpa::OomRuleKind;

fn launch_day() -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/launch-day.yaml");
    Scenario::load(&path).unwrap()
}

#[test]
fn on_launch_day_tidal_kills_less_and_the_autoscaled_control_plane_is_less_overloaded() {
    let result = common::run(launch_day());
    let s = &result.summary;
    eprintln!("{}", s.to_json());
    assert_eq!(s.vpa.len(), 4, "two workloads under two rules");
    let row = |name: &str, rule| {
        s.vpa
            .iter()
            .find(|r| r.workload == name && r.oom_rule == rule)
            .unwrap()
    };
    let (ours, upstream) = (
        row("prometheus", OomRuleKind::Tidal),
        row("prometheus", OomRuleKind::Upstream),
    );
    assert!(
        upstream.oom_kills > 0,
        "the launch outgrows the settled request"
    );
    assert!(
        ours.oom_kills < upstream.oom_kills,
        "{ours:?} vs {upstream:?}"
    );
    assert!(ours.crash_loop_minutes <= upstream.crash_loop_minutes);
    for rule in [OomRuleKind::Tidal, OomRuleKind::Upstream] {
        let r = row("ingress-nginx", rule);
        assert!(r.final_request_bytes >= r.peak_usage_bytes * 0.97, "{r:?}");
    }

    let cp = s.control_plane.as_ref().unwrap();
    assert!(cp.fixed.minutes_above_high > 30, "{cp:?}");
    assert!(
        cp.autoscaled.minutes_above_high < cp.fixed.minutes_above_high,
        "{cp:?}"
    );
    assert!(
        cp.autoscaled.changes >= 1 && cp.fixed.changes == 0,
        "{cp:?}"
    );
    assert_eq!(cp.fixed.size_largest, "m6i.large");
    assert_ne!(cp.autoscaled.size_largest, "m6i.large");

    let dir = tempfile::tempdir().unwrap();
    tidal_simulate::cli::write_outputs(dir.path(), &result).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["vpa"][0]["oom_rule"], "tidal");
    assert!(json["control_plane"]["autoscaled"]["minutes_above_high"].is_number());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("VPA: memory recommendation vs usage"));
    assert!(html.contains("Control plane: autoscaled vs fixed size"));
    assert!(html.contains("request (upstream)"));
}

#[test]
fn without_the_sections_nothing_is_added() {
    let mut scenario = common::scenario(common::SMALL);
    scenario = scenario.with_duration(std::time::Duration::from_secs(600));
    let result = common::run(scenario);
    assert!(result.summary.vpa.is_empty() && result.summary.control_plane.is_none());
    assert!(!result.summary.to_json().contains("control_plane"));
}

#[test]
fn bad_sections_are_named_with_their_line() {
    let err = |extra: &str| {
        let text = format!("{}{extra}", common::SMALL);
        Scenario::from_yaml(&text, "test scenario", Path::new("."))
            .unwrap_err()
            .to_string()
    };
    let e = err("vpa:\n  workloads:\n  - name: p\n    memory: {base: 1Gi}\n    limit_ratio: 0.5\n");
    assert!(
        e.contains("vpa.workloads[0].limit_ratio") && e.contains("1–100"),
        "{e}"
    );
    // `limit_ratio` is the fifth line of the section appended to SMALL.
    let line = common::SMALL.lines().count() + 5;
    assert!(e.starts_with(&format!("test scenario:{line}: ")), "{e}");
    let e =
        err("control_plane:\n  kind: self_managed\n  sizes: [m6i.large]\n  size: m6i.8xlarge\n");
    assert!(
        e.contains("control_plane.size") && e.contains("m6i.8xlarge"),
        "{e}"
    );
    let e = err("vpa:\n  workloads: []\n");
    assert!(e.contains("vpa.workloads"), "{e}");
    let e = err("control_plane:\n  kind: self_managed\n  size: m6i.large\n  colour: red\n");
    assert!(e.contains("colour"), "{e}");
}
