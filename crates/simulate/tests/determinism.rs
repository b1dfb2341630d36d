//! Same scenario and seed → the same run, apart from wall time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[test]
fn same_scenario_and_seed_give_identical_summaries_and_decisions() {
    let a = common::run(common::scenario(common::SMALL));
    let b = common::run(common::scenario(common::SMALL));
    let strip = |s: &tidal_simulate::summary::Summary| {
        let mut s = s.clone();
        s.wall_time_seconds = 0.0;
        s.to_json()
    };
    assert_eq!(strip(&a.summary), strip(&b.summary));
    assert_eq!(a.recording.decisions, b.recording.decisions);
    assert_eq!(a.recording.timeline_csv(), b.recording.timeline_csv());
    // The run did something worth comparing.
    assert!(a.summary.counters.scale_ups > 0, "{}", a.summary.to_json());
    assert!(!a.recording.decisions.is_empty());
}

#[test]
fn a_different_seed_is_recorded_in_the_summary() {
    let a = common::run(common::scenario(common::SMALL).with_seed(99));
    assert_eq!(a.summary.seed, 99);
}
