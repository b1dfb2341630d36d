//! Histograms against upstream's `histogram_test.go` and `decaying_histogram_test.go`.

use super::super::histogram::{DecayingHistogram, HistogramOptions};
use super::*;

/// Upstream's test options: linear buckets of 1 up to 10, epsilon 1e-15.
fn linear() -> HistogramOptions {
    HistogramOptions::linear(10.0, 1.0, 1e-15).unwrap()
}

/// A histogram that does not decay: every sample at the epoch, a multiple of the half-life.
fn plain(options: HistogramOptions) -> DecayingHistogram {
    DecayingHistogram::new(options, hours(1))
}

const AT: Timestamp = Timestamp(0);

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn upstream_default_options_have_176_buckets_growing_5_percent() {
    let computed = HistogramOptions::exponential(1000.0, 0.01, 1.05, 0.0001).unwrap();
    assert_eq!(computed, HistogramOptions::cpu());
    let computed = HistogramOptions::exponential(1e12, 1e7, 1.05, 0.0001).unwrap();
    assert_eq!(computed, HistogramOptions::memory());
    let cpu = HistogramOptions::cpu();
    assert_eq!(cpu.num_buckets(), 176);
    assert!(close(cpu.bucket_start(1), 0.01));
    assert!(close(cpu.bucket_start(2), 0.01 + 0.0105));
    assert!(cpu.bucket_start(175) >= 1000.0 && cpu.bucket_start(174) < 1000.0);
    // Each value falls in the bucket whose range holds it.
    for v in [0.0, 0.005, 0.01, 0.021, 0.1, 1.0, 3.7, 999.0] {
        let b = cpu.find_bucket(v);
        assert!(cpu.bucket_start(b) <= v * (1.0 + 1e-12), "{v} in {b}");
        assert!(
            b == 175 || v < cpu.bucket_start(b + 1),
            "{v} below end of {b}"
        );
    }
    assert_eq!(cpu.find_bucket(1e9), 175);
    assert_eq!(cpu.find_bucket(f64::NAN), 0);
    assert!(HistogramOptions::exponential(1.0, 0.1, 1.0, 0.1).is_none());
    assert!(HistogramOptions::exponential(-1.0, 0.1, 1.05, 0.1).is_none());
}

#[test]
fn percentiles_are_bucket_ends_as_upstream() {
    let mut h = plain(linear());
    for p in [-0.5, 0.0, 0.5, 1.0, 1.5] {
        assert_eq!(h.percentile(p), 0.0);
    }
    for i in 1..=4 {
        h.add_sample(f64::from(i), f64::from(i), AT);
    }
    let expected = [
        (0.0, 2.0),
        (0.1, 2.0),
        (0.2, 3.0),
        (0.3, 3.0),
        (0.4, 4.0),
        (0.5, 4.0),
        (0.6, 4.0),
        (0.7, 5.0),
        (0.8, 5.0),
        (0.9, 5.0),
        (1.0, 5.0),
    ];
    for (p, v) in expected {
        assert!(close(h.percentile(p), v), "p{p}: {}", h.percentile(p));
    }
}

#[test]
fn percentiles_out_of_bounds_as_upstream() {
    let mut h = plain(HistogramOptions::linear(1.0, 0.1, 1e-15).unwrap());
    h.add_sample(0.1, 0.1, AT);
    h.add_sample(0.2, 0.2, AT);
    assert!(close(h.percentile(-0.1), 0.2));
    assert!(close(h.percentile(1.1), 0.3));
    h.add_sample(0.0, 0.1, AT);
    h.add_sample(1.0, 0.2, AT);
    assert!(close(h.percentile(-0.1), 0.1));
    // The last bucket has no end: its start.
    assert!(close(h.percentile(1.1), 1.0));
}

#[test]
fn emptiness_follows_epsilon_as_upstream() {
    let eps = 1e-15;
    let mut h = plain(HistogramOptions::linear(1.0, 0.1, eps).unwrap());
    assert!(h.is_empty());
    h.add_sample(0.1, eps * 2.5, AT);
    assert!(!h.is_empty());
    h.subtract_sample(0.1, eps, AT);
    assert!(!h.is_empty());
    h.subtract_sample(0.1, eps, AT);
    assert!(h.is_empty());

    let mut h = plain(HistogramOptions::linear(1.0, 0.1, eps).unwrap());
    h.add_sample(9.9, eps * 3.0, AT);
    h.add_sample(0.1, eps * 0.3, AT);
    assert!(!h.is_empty());
    h.add_sample(999.9, eps * 0.3, AT);
    assert!(!h.is_empty());
}

#[test]
fn decay_halves_weight_per_half_life_as_upstream() {
    let start = Timestamp::from_secs(1_234_567_890);
    // A heavy sample is almost, not entirely, forgotten 20 half-lives later.
    let mut h = DecayingHistogram::new(linear(), hours(1));
    h.add_sample(2.0, 1000.0, start);
    h.add_sample(1.0, 1.0, start + hours(20));
    assert!(close(h.percentile(0.999), 2.0));
    assert!(close(h.percentile(1.0), 3.0));

    // Past 2^100 the reference moves forward and the old sample vanishes.
    let mut h = DecayingHistogram::new(linear(), hours(1));
    h.add_sample(2.0, 1.0, start);
    h.add_sample(1.0, 1.0, start + hours(101));
    assert!(close(h.percentile(1.0), 2.0));

    // Four samples 1..4 with weights 1..4, one half-life apart.
    let mut h = DecayingHistogram::new(linear(), hours(1));
    let mut t = start;
    for i in 1..=4 {
        h.add_sample(f64::from(i), f64::from(i), t);
        t = t + hours(1);
    }
    for (p, v) in [
        (0.0, 2.0),
        (0.02, 2.0),
        (0.03, 3.0),
        (0.10, 3.0),
        (0.11, 4.0),
        (0.34, 4.0),
        (0.35, 5.0),
        (1.0, 5.0),
    ] {
        assert!(close(h.percentile(p), v), "p{p}: {}", h.percentile(p));
    }
}

#[test]
fn reference_is_a_multiple_of_the_half_life() {
    let mut h = DecayingHistogram::new(HistogramOptions::cpu(), hours(24));
    h.add_sample(1.0, 0.1, T0);
    let r = h.reference().unwrap();
    assert_eq!(r.0 % (24 * 3600 * 1000), 0);
    // T0 is 6 h into a day: rounds down.
    assert_eq!(r, T0 - hours(6));
}

#[test]
fn sparse_storage_grows_both_ways_and_keeps_weights() {
    let mut h = plain(HistogramOptions::cpu());
    h.add_sample(1.0, 1.0, AT);
    h.add_sample(0.02, 1.0, AT);
    h.add_sample(50.0, 2.0, AT);
    let buckets: Vec<(usize, f64)> = h.buckets().filter(|(_, w)| *w > 0.0).collect();
    let o = HistogramOptions::cpu();
    assert_eq!(
        buckets,
        vec![
            (o.find_bucket(0.02), 1.0),
            (o.find_bucket(1.0), 1.0),
            (o.find_bucket(50.0), 2.0)
        ]
    );
    assert_eq!(h.total_weight(), 4.0);
    assert!(h.heap_bytes() < 176 * 8);
}
