//! Aggregation: memory peaks per interval, sample counts, expiry.

use super::super::aggregate::{ContainerAggregate, SampleOutcome};
use super::super::histogram::HistogramOptions;
use super::*;

#[test]
fn cpu_samples_set_first_last_and_count() {
    let mut s = ContainerAggregate::new(T0);
    assert_eq!(s.add_cpu_sample(T0 + mins(5), 0.5), SampleOutcome::Added);
    assert_eq!(s.add_cpu_sample(T0 + mins(1), 0.5), SampleOutcome::Added);
    assert_eq!(s.add_cpu_sample(T0, f64::NAN), SampleOutcome::Invalid);
    assert_eq!(s.add_cpu_sample(T0, -1.0), SampleOutcome::Invalid);
    assert_eq!(s.first_sample(), Some(T0 + mins(1)));
    assert_eq!(s.last_sample(), Some(T0 + mins(5)));
    assert_eq!(s.total_samples(), 2);
    // Memory samples do not count, as upstream.
    s.add_memory_sample(T0 + mins(6), 1e9);
    assert_eq!(s.total_samples(), 2);
}

/// Buckets holding a memory peak.
fn peak_buckets(s: &ContainerAggregate) -> Vec<usize> {
    s.memory_histogram()
        .buckets()
        .filter(|(_, w)| *w > 1e-9)
        .map(|(b, _)| b)
        .collect()
}

#[test]
fn one_memory_peak_per_interval() {
    let mut s = ContainerAggregate::new(T0);
    let m = HistogramOptions::memory();
    assert_eq!(s.add_memory_sample(T0, 100e6), SampleOutcome::Added);
    // A larger sample in the same interval replaces the peak.
    assert_eq!(
        s.add_memory_sample(T0 + hours(1), 200e6),
        SampleOutcome::Added
    );
    // A smaller one changes nothing.
    assert_eq!(
        s.add_memory_sample(T0 + hours(2), 150e6),
        SampleOutcome::BelowPeak
    );
    let peaks = peak_buckets(&s);
    assert_eq!(peaks, vec![m.find_bucket(200e6)]);
    assert!(
        (s.memory_histogram().total_weight() - s.memory_histogram().weight(m.find_bucket(200e6)))
            .abs()
            < 1e-9
    );
    // The next interval opens a new peak, even if smaller.
    assert_eq!(
        s.add_memory_sample(T0 + hours(25), 50e6),
        SampleOutcome::Added
    );
    let peaks = peak_buckets(&s);
    assert_eq!(peaks, vec![m.find_bucket(50e6), m.find_bucket(200e6)]);
    // A sample from before the current interval is refused.
    assert_eq!(
        s.add_memory_sample(T0 + hours(2), 900e6),
        SampleOutcome::TooOld
    );
    // Skipping intervals jumps to the interval the sample falls in.
    assert_eq!(
        s.add_memory_sample(T0 + hours(24 * 5 + 3), 60e6),
        SampleOutcome::Added
    );
    assert_eq!(
        s.add_memory_sample(T0 + hours(24 * 5 + 20), 70e6),
        SampleOutcome::Added
    );
    assert_eq!(
        s.add_memory_sample(T0 + hours(24 * 6 + 1), 10e6),
        SampleOutcome::Added
    );
}

#[test]
fn expires_after_eight_days_without_samples_or_kills() {
    let mut s = ContainerAggregate::new(T0);
    assert!(!s.is_expired(T0 + hours(24 * 8 - 1)));
    assert!(s.is_expired(T0 + hours(24 * 8)));
    s.add_cpu_sample(T0 + hours(24), 0.1);
    assert!(!s.is_expired(T0 + hours(24 * 9 - 1)));
    assert!(s.is_expired(T0 + hours(24 * 9)));
    s.record_oom(T0 + hours(24 * 3), 1e9, 1e9);
    assert!(!s.is_expired(T0 + hours(24 * 11 - 1)));
    assert!(s.is_expired(T0 + hours(24 * 11)));
}

#[test]
fn confidence_is_the_smaller_of_lifespan_and_sample_days() {
    let mut s = ContainerAggregate::new(T0);
    assert_eq!(s.confidence(), 0.0);
    // 9 samples 2 minutes apart: 9/1440 samples-days, as upstream's example (0.00625).
    for i in 0..9 {
        s.add_cpu_sample(T0 + mins(2 * i), 1.0);
    }
    assert_eq!(s.confidence(), 0.00625);
    // Two samples two days apart: lifespan 2 days, but only 2/1440 of sample-days.
    let mut s = ContainerAggregate::new(T0);
    s.add_cpu_sample(T0, 1.0);
    s.add_cpu_sample(T0 + hours(48), 1.0);
    assert_eq!(s.confidence(), 2.0 / 1440.0);
}
