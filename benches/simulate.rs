//! Simulator throughput: the built-in default day (goal: < 3 s wall), a 1,000-node day
//! (goal: < 15 s), both at 10 s ticks with the real HPA and cluster-autoscaler code, and eight
//! seeds of the default day in parallel on all cores (`--runs 8`; goal on 2 cores: < 5 × one
//! run).
//!
//! Run: `cargo bench --bench simulate`. Each iteration is a whole simulated day, so the
//! sample size is criterion's minimum.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_simulate::runs::{cores, run_all};
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

    let seeds: Vec<Scenario> = (0..8)
        .map(|i| default_day.clone().with_seed(default_day.seed + i))
        .collect();
    group.bench_function("default_day_runs_8", |b| {
        b.iter(|| {
            // Each run's result is dropped on its worker, as the CLI writes it there.
            for r in run_all(&seeds, cores(), |_, r| r.map(drop)) {
                r.expect("simulation");
            }
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
