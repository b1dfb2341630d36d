//! Simulator throughput: the built-in default day (goal: < 10 s wall) and a 1,000-node day
//! (goal: < 60 s), both at 10 s ticks with the real HPA and cluster-autoscaler code.
//!
//! Run: `cargo bench --bench simulate`. Each iteration is a whole simulated day, so the
//! sample size is criterion's minimum.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_simulate::{Scenario, simulate};

fn days(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(30));

    let default_day = Scenario::default_day().expect("built-in scenario");
    group.bench_function("default_day", |b| {
        b.iter(|| {
            rt.block_on(simulate(default_day.clone()))
                .expect("simulation")
        })
    });

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios/thousand-nodes.yaml");
    let big_day = Scenario::load(&path).expect("thousand-nodes scenario");
    group.bench_function("thousand_node_day", |b| {
        b.iter(|| rt.block_on(simulate(big_day.clone())).expect("simulation"))
    });
    group.finish();
}

criterion_group!(benches, days);
criterion_main!(benches);
