//! VPA recommender benchmark (issue 12, point 8, compute half): 50,000 containers (5,000
//! VPAs × 10 containers), each with 8 days of history; one loop = ingest one CPU and one
//! memory sample per container, then compute every VPA's recommendation. Goal: under 1 s.
//!
//! Before timing, it prints the resident memory (VmRSS from /proc/self/status) taken by
//! that state. Goal: under 256 MiB.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_core::Timestamp;
use tidal_core::vpa::{
    Amounts, ContainerAggregate, ContainerPolicy, RecommenderConfig, ResourcePolicy, recommend,
};

const VPAS: usize = 5_000;
const CONTAINERS: usize = 10;
const START: Timestamp = Timestamp::from_secs(1_700_000_000);
const HISTORY_MINUTES: u64 = 8 * 1440;
/// History is fed every 10 minutes (the bench measures the loop, not the warm-up).
const HISTORY_STEP: u64 = 10;

struct Vpa {
    names: Vec<String>,
    states: Vec<ContainerAggregate>,
    policy: ResourcePolicy,
}

/// A deterministic usage level per container, with a daily wave.
fn usage(vpa: usize, container: usize, minute: u64) -> (f64, f64) {
    let base_cpu = 0.05 + ((vpa * 7 + container * 13) % 40) as f64 * 0.05;
    let base_mem = 64e6 + ((vpa * 11 + container * 5) % 64) as f64 * 32e6;
    let wave = 1.0 + 0.2 * ((minute % 1440) as f64 / 1440.0 * std::f64::consts::TAU).sin();
    (base_cpu * wave, base_mem * wave)
}

fn build() -> Vec<Vpa> {
    (0..VPAS)
        .map(|v| {
            let names: Vec<String> = (0..CONTAINERS).map(|c| format!("container-{c}")).collect();
            let states = (0..CONTAINERS)
                .map(|c| {
                    let mut s = ContainerAggregate::new(START);
                    let mut m = 0;
                    while m < HISTORY_MINUTES {
                        let (cpu, mem) = usage(v, c, m);
                        let t = START + Duration::from_secs(m * 60);
                        s.add_cpu_sample(t, cpu);
                        s.add_memory_sample(t, mem);
                        m += HISTORY_STEP;
                    }
                    s
                })
                .collect();
            let mut p = ContainerPolicy::new("*");
            p.max_allowed = Amounts::new(4_000, 8 << 30);
            Vpa {
                names,
                states,
                policy: ResourcePolicy::new(vec![p]).unwrap(),
            }
        })
        .collect()
}

/// Resident memory in KiB, from /proc/self/status (Linux).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bench(c: &mut Criterion) {
    let before = rss_kib().unwrap_or(0);
    let mut vpas = build();
    let after = rss_kib().unwrap_or(0);
    let heap: usize = vpas
        .iter()
        .flat_map(|v| v.states.iter())
        .map(|s| std::mem::size_of::<ContainerAggregate>() + s.heap_bytes())
        .sum();
    eprintln!(
        "vpa state: {} containers with 8 days of history: VmRSS {:.1} MiB (process before: \
         {:.1} MiB, state: +{:.1} MiB); aggregates' own size {:.1} MiB",
        VPAS * CONTAINERS,
        after as f64 / 1024.0,
        before as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / 1024.0,
        heap as f64 / (1024.0 * 1024.0)
    );
    let config = RecommenderConfig::default();
    let mut minute = HISTORY_MINUTES;
    let mut group = c.benchmark_group("vpa");
    group.sample_size(10);
    group.bench_function("ingest_and_recommend_50k_containers", |b| {
        b.iter(|| {
            minute += 1;
            let now = START + Duration::from_secs(minute * 60);
            let mut recommended = 0;
            for (v, vpa) in vpas.iter_mut().enumerate() {
                for (c, s) in vpa.states.iter_mut().enumerate() {
                    let (cpu, mem) = usage(v, c, minute);
                    s.add_cpu_sample(now, cpu);
                    s.add_memory_sample(now, mem);
                }
                let r = recommend(
                    vpa.names.iter().map(String::as_str).zip(vpa.states.iter()),
                    &vpa.policy,
                    &config,
                    now,
                );
                recommended += r.containers.len();
            }
            black_box(recommended)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
