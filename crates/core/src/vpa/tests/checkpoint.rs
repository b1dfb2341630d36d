//! Checkpoints in upstream's v3 shape.

use std::collections::BTreeMap;

use super::super::aggregate::{AggregationConfig, ContainerAggregate};
use super::super::checkpoint::{
    CHECKPOINT_VERSION, CheckpointError, ContainerCheckpoint, HistogramCheckpoint,
};
use super::super::histogram::{DecayingHistogram, HistogramOptions};
use super::super::policy::ResourcePolicy;
use super::super::recommender::{RecommenderConfig, recommend};
use super::*;

fn linear() -> HistogramOptions {
    HistogramOptions::linear(10.0, 1.0, 1e-15).unwrap()
}

#[test]
fn save_scales_the_heaviest_bucket_to_10000_as_upstream() {
    let at = Timestamp(0);
    let empty = DecayingHistogram::new(linear(), hours(1));
    let cp = HistogramCheckpoint::save(&empty);
    assert_eq!(cp.total_weight, 0.0);
    assert!(cp.bucket_weights.is_empty());

    let mut h = DecayingHistogram::new(linear(), hours(1));
    h.add_sample(1.0, 1.0, at);
    let cp = HistogramCheckpoint::save(&h);
    assert_eq!(cp.total_weight, 1.0);
    assert_eq!(cp.bucket_weights, BTreeMap::from([(1, 10_000)]));

    // A bucket below half a unit after scaling is dropped.
    let mut h = DecayingHistogram::new(linear(), hours(1));
    h.add_sample(1.0, 1.0, at);
    h.add_sample(2.0, 100_000.0, at);
    let cp = HistogramCheckpoint::save(&h);
    assert_eq!(cp.total_weight, 100_001.0);
    assert_eq!(cp.bucket_weights, BTreeMap::from([(2, 10_000)]));

    let mut h = DecayingHistogram::new(linear(), hours(1));
    h.add_sample(1.0, 1.0, at);
    h.add_sample(2.0, 10_000.0, at);
    h.add_sample(3.0, 50.0, at);
    let cp = HistogramCheckpoint::save(&h);
    assert_eq!(cp.total_weight, 10_051.0);
    assert_eq!(
        cp.bucket_weights,
        BTreeMap::from([(1, 1), (2, 10_000), (3, 50)])
    );
}

fn checkpoint_with(cpu: HistogramCheckpoint) -> ContainerCheckpoint {
    ContainerCheckpoint {
        version: CHECKPOINT_VERSION.to_string(),
        cpu_histogram: cpu,
        memory_histogram: HistogramCheckpoint::default(),
        first_sample_start: Some(T0),
        last_sample_start: Some(T0 + hours(30)),
        total_samples_count: 1800,
    }
}

#[test]
fn load_spreads_the_total_weight_over_the_buckets() {
    let cp = checkpoint_with(HistogramCheckpoint {
        reference_timestamp: Some(T0 - hours(6)),
        bucket_weights: BTreeMap::from([(0, 1), (1, 2)]),
        total_weight: 6.0,
    });
    let s = ContainerAggregate::from_checkpoint(&cp, T0, AggregationConfig::default()).unwrap();
    assert_eq!(s.cpu_histogram().weight(0), 2.0);
    assert_eq!(s.cpu_histogram().weight(1), 4.0);
    assert_eq!(s.cpu_histogram().total_weight(), 6.0);
    assert_eq!(s.cpu_histogram().reference(), Some(T0 - hours(6)));
    assert_eq!(s.total_samples(), 1800);
    assert_eq!(s.first_sample(), Some(T0));
    assert_eq!(s.last_sample(), Some(T0 + hours(30)));
}

#[test]
fn bad_checkpoints_are_refused_with_the_reason() {
    let mut cp = checkpoint_with(HistogramCheckpoint::default());
    cp.version = "v2".into();
    assert_eq!(
        ContainerAggregate::from_checkpoint(&cp, T0, AggregationConfig::default()),
        Err(CheckpointError::Version("v2".into()))
    );
    let cp = checkpoint_with(HistogramCheckpoint {
        reference_timestamp: None,
        bucket_weights: BTreeMap::from([(176, 1)]),
        total_weight: 1.0,
    });
    assert_eq!(
        ContainerAggregate::from_checkpoint(&cp, T0, AggregationConfig::default()),
        Err(CheckpointError::Bucket {
            histogram: "cpu",
            bucket: 176,
            last: 175
        })
    );
    for total in [-1.0, f64::NAN, f64::INFINITY] {
        let cp = checkpoint_with(HistogramCheckpoint {
            reference_timestamp: None,
            bucket_weights: BTreeMap::new(),
            total_weight: total,
        });
        assert!(matches!(
            ContainerAggregate::from_checkpoint(&cp, T0, AggregationConfig::default()),
            Err(CheckpointError::TotalWeight {
                histogram: "cpu",
                ..
            })
        ));
    }
}

/// Two days of steady use, saved and restored: the same recommendation (up to the
/// rounding of bucket weights), and the current interval's memory peak left out.
#[test]
fn a_restart_through_a_checkpoint_keeps_the_recommendation() {
    let mut s = ContainerAggregate::new(T0);
    for m in 0..(2 * 1440) {
        let t = T0 + mins(m);
        s.add_cpu_sample(t, 0.2 + 0.3 * ((m % 10) as f64 / 10.0));
        s.add_memory_sample(t, 300.0 * MIB + (m % 7) as f64 * MIB);
    }
    let cp = s.to_checkpoint();
    assert_eq!(cp.version, "v3");
    assert_eq!(cp.total_samples_count, 2880);
    assert_eq!(
        cp.cpu_histogram.bucket_weights.values().max(),
        Some(&10_000)
    );
    // Two intervals of peaks; the current (second) one is left out.
    let mem_total = s.memory_histogram().total_weight();
    assert!(cp.memory_histogram.total_weight < mem_total);
    assert!(cp.memory_histogram.total_weight > 0.0);

    let now = T0 + mins(2 * 1440);
    let restored =
        ContainerAggregate::from_checkpoint(&cp, now, AggregationConfig::default()).unwrap();
    let policy = ResourcePolicy::default();
    let config = RecommenderConfig::default();
    let before = recommend([("app", &s)], &policy, &config, now);
    let after = recommend([("app", &restored)], &policy, &config, now);
    assert_eq!(before.containers[0].target, after.containers[0].target);
    assert_eq!(
        before.containers[0].lower_bound,
        after.containers[0].lower_bound
    );
    assert_eq!(
        before.containers[0].upper_bound,
        after.containers[0].upper_bound
    );
}
