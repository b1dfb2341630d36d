//! Tests of the ladder and the decision: tables of cases, then properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::*;
use crate::instance::InstanceType;
use crate::time::Timestamp;

mod decision;
mod ladder;
mod props;
mod roll;

const MIN: Duration = Duration::from_secs(60);

/// `name` with `vcpus` and `gib` of memory, current generation, amd64.
fn it(name: &str, vcpus: u32, gib: u64) -> LadderCandidate {
    InstanceType::new(name, vcpus, gib * 1024).into()
}

/// m6i.large … m6i.8xlarge: (2, 8) … (32, 128).
fn m6i_ladder() -> Ladder {
    let sizes = [
        ("large", 2),
        ("xlarge", 4),
        ("2xlarge", 8),
        ("4xlarge", 16),
        ("8xlarge", 32),
    ];
    let filter = LadderFilter {
        families: vec!["m6i".into()],
        ..LadderFilter::default()
    };
    Ladder::from_instance_types(
        sizes
            .iter()
            .map(|(s, v)| it(&format!("m6i.{s}"), *v, u64::from(*v) * 4)),
        &filter,
        "--families",
    )
    .unwrap()
}

fn t0() -> Timestamp {
    Timestamp::from_secs(1_000_000)
}

/// Steady CPU (cores per node) and memory (GiB per node) for the last 3 h, sampled each minute.
fn steady(cpu: f64, mem_gib: f64, now: Timestamp) -> Signals {
    let span = Duration::from_secs(3 * 3600);
    Signals {
        cpu: Series::steady(cpu, now, span, MIN),
        memory: Series::steady(mem_gib * 1024.0, now, span, MIN),
        ..Signals::default()
    }
}
