//! Conversion to and from upstream's `VerticalPodAutoscalerCheckpoint` status (v3).
//!
//! Plain structs with the status's fields; the vpa crate maps them to its CRD types
//! (timestamps to RFC 3339, bucket indices to the string keys of a JSON map). A
//! histogram is stored as bucket → weight with the heaviest bucket scaled to 10,000 and
//! lighter ones rounded (zero weights dropped), plus the total weight and the reference
//! timestamp; loading spreads the total weight over the buckets in proportion. As
//! upstream's checkpoint writer does, the current interval's memory peak is left out:
//! the samples after a restart open that interval again.

use std::collections::BTreeMap;

use super::aggregate::{AggregationConfig, ContainerAggregate, MEMORY_PEAK_WEIGHT};
use super::histogram::{DecayingHistogram, MAX_CHECKPOINT_WEIGHT};
use crate::Timestamp;

/// The checkpoint format version upstream writes and reads.
pub const CHECKPOINT_VERSION: &str = "v3";

/// `status.cpuHistogram` / `status.memoryHistogram` of a checkpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramCheckpoint {
    /// `referenceTimestamp` (`None` = never set, upstream's zero time).
    pub reference_timestamp: Option<Timestamp>,
    /// `bucketWeights`: bucket index → weight (1..=10,000).
    pub bucket_weights: BTreeMap<u32, u32>,
    /// `totalWeight`.
    pub total_weight: f64,
}

/// `status` of a `VerticalPodAutoscalerCheckpoint` (one VPA, one container).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerCheckpoint {
    /// `version` ("v3").
    pub version: String,
    /// `cpuHistogram`.
    pub cpu_histogram: HistogramCheckpoint,
    /// `memoryHistogram`.
    pub memory_histogram: HistogramCheckpoint,
    /// `firstSampleStart`.
    pub first_sample_start: Option<Timestamp>,
    /// `lastSampleStart`.
    pub last_sample_start: Option<Timestamp>,
    /// `totalSamplesCount`.
    pub total_samples_count: u64,
}

/// Why a checkpoint could not be loaded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    /// Another format version.
    #[error("unsupported checkpoint version {0:?} (expected {CHECKPOINT_VERSION:?})")]
    Version(String),
    /// A bucket index beyond the histogram.
    #[error("{histogram} histogram: bucket {bucket} is beyond the last bucket {last}")]
    Bucket {
        /// `cpu` or `memory`.
        histogram: &'static str,
        /// The index.
        bucket: u32,
        /// The last valid index.
        last: usize,
    },
    /// A negative, infinite or NaN total weight.
    #[error("{histogram} histogram: invalid total weight {total}")]
    TotalWeight {
        /// `cpu` or `memory`.
        histogram: &'static str,
        /// The value.
        total: f64,
    },
}

impl HistogramCheckpoint {
    /// Saves a histogram.
    pub fn save(h: &DecayingHistogram) -> Self {
        let max = h.buckets().map(|(_, w)| w).fold(0.0, f64::max);
        let mut bucket_weights = BTreeMap::new();
        if max > 0.0 {
            let ratio = f64::from(MAX_CHECKPOINT_WEIGHT) / max;
            for (bucket, w) in h.buckets() {
                let scaled = (w * ratio + 0.5).floor();
                if scaled >= 1.0 {
                    bucket_weights.insert(bucket as u32, scaled.min(f64::from(u32::MAX)) as u32);
                }
            }
        }
        Self {
            reference_timestamp: h.reference(),
            bucket_weights,
            total_weight: h.total_weight(),
        }
    }

    /// Loads into `h` (replacing its content), after checking every bucket and the total.
    fn load_into(
        &self,
        h: &mut DecayingHistogram,
        name: &'static str,
    ) -> Result<(), CheckpointError> {
        if !(self.total_weight >= 0.0 && self.total_weight.is_finite()) {
            return Err(CheckpointError::TotalWeight {
                histogram: name,
                total: self.total_weight,
            });
        }
        let last = h.options().num_buckets() - 1;
        if let Some((&bucket, _)) = self.bucket_weights.range(last as u32 + 1..).next() {
            return Err(CheckpointError::Bucket {
                histogram: name,
                bucket,
                last,
            });
        }
        let sum: u64 = self.bucket_weights.values().map(|&w| u64::from(w)).sum();
        if sum == 0 {
            h.load(self.reference_timestamp, &[], 0.0);
            return Ok(());
        }
        let ratio = self.total_weight / sum as f64;
        let buckets: Vec<(usize, f64)> = self
            .bucket_weights
            .iter()
            .filter(|(_, w)| **w > 0)
            .map(|(&b, &w)| (b as usize, f64::from(w) * ratio))
            .collect();
        h.load(self.reference_timestamp, &buckets, self.total_weight);
        Ok(())
    }
}

impl ContainerAggregate {
    /// The checkpoint of this aggregate (without the current interval's memory peak).
    pub fn to_checkpoint(&self) -> ContainerCheckpoint {
        let mut memory = self.memory.clone();
        let peak = self.interval_usage_peak.max(self.interval_oom_peak);
        if let Some(end) = self.window_end
            && peak > 0.0
        {
            memory.subtract_sample(peak, MEMORY_PEAK_WEIGHT, end);
        }
        ContainerCheckpoint {
            version: CHECKPOINT_VERSION.to_string(),
            cpu_histogram: HistogramCheckpoint::save(&self.cpu),
            memory_histogram: HistogramCheckpoint::save(&memory),
            first_sample_start: self.first_sample,
            last_sample_start: self.last_sample,
            total_samples_count: self.total_samples,
        }
    }

    /// An aggregate restored from a checkpoint at `now` (upstream's or ours).
    pub fn from_checkpoint(
        checkpoint: &ContainerCheckpoint,
        now: Timestamp,
        config: AggregationConfig,
    ) -> Result<Self, CheckpointError> {
        if checkpoint.version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Version(
                checkpoint.version.chars().take(32).collect(),
            ));
        }
        let mut state = ContainerAggregate::with_config(now, config);
        checkpoint.cpu_histogram.load_into(&mut state.cpu, "cpu")?;
        checkpoint
            .memory_histogram
            .load_into(&mut state.memory, "memory")?;
        state.first_sample = checkpoint.first_sample_start;
        state.last_sample = checkpoint.last_sample_start;
        state.total_samples = checkpoint.total_samples_count;
        Ok(state)
    }
}
