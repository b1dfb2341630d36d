//! The `noise:` section makes the seed matter: a spread of outcomes over seeds, the same
//! outcome for the same seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use tidal_simulate::Scenario;

fn noisy() -> String {
    format!(
        "{}noise:\n  load: 0.15\n  load_correlation: 5m\n  boot_time_p95: 180s\n  \
         spot_interruptions: [{{pool: fallback, per_instance_hour: 0.5}}]\n",
        common::SMALL.replace(
            "- name: fallback\n  instance_types: [m5.xlarge]\n",
            "- name: fallback\n  instance_types: [m5.xlarge]\n  spot: true\n  min_size: 2\n"
        )
    )
}

fn strip(s: &tidal_simulate::summary::Summary) -> String {
    let mut s = s.clone();
    s.wall_time_seconds = 0.0;
    s.to_json()
}

#[test]
fn noise_gives_a_spread_over_seeds_and_repeats_for_one_seed() {
    let text = noisy();
    let a = common::run(common::scenario(&text).with_seed(1));
    let b = common::run(common::scenario(&text).with_seed(2));
    let a2 = common::run(common::scenario(&text).with_seed(1));
    assert_eq!(strip(&a.summary), strip(&a2.summary), "same seed, same run");
    assert_ne!(
        a.summary.cost, b.summary.cost,
        "another seed, another outcome"
    );
    let load = |r: &tidal_simulate::SimResult| -> Vec<f64> {
        r.recording.timeline.iter().map(|row| row.load[0]).collect()
    };
    assert_ne!(load(&a), load(&b), "the load itself varies");
    // Random interruptions happen on the spot pool.
    assert!(
        a.summary.counters.spot_interruptions + b.summary.counters.spot_interruptions > 0,
        "{}",
        a.summary.to_json()
    );
    // Without the section, seeds change nothing of the load.
    let plain = |seed| common::run(common::scenario(common::SMALL).with_seed(seed));
    assert_eq!(load(&plain(1)), load(&plain(2)));
}

#[test]
fn a_noise_pool_that_is_not_spot_is_an_error_with_its_line() {
    let text = format!(
        "{}noise:\n  spot_interruptions:\n  - {{pool: default, per_instance_hour: 0.1}}\n",
        common::SMALL
    );
    let err = Scenario::from_yaml(&text, "s.yaml", Path::new(".")).unwrap_err();
    let line = text
        .lines()
        .position(|l| l.contains("pool: default, per_instance_hour"))
        .unwrap()
        + 1;
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("s.yaml:{line}: noise.spot_interruptions[0].pool:")),
        "{msg}"
    );
    assert!(msg.contains("not a spot pool"), "{msg}");
}
