//! Decaying histograms of usage, with upstream's exponential buckets.
//!
//! Bucket `n ≥ 1` starts at `first_bucket_size × (ratio^n − 1) / (ratio − 1)`; bucket 0
//! starts at 0; the last bucket starts at or above `max_value` and has no upper end. A
//! sample's weight is multiplied by `2^((t − reference) / half_life)`, so a sample one
//! half-life older counts half as much. The reference timestamp moves forward (and every
//! weight is rescaled) when the exponent would pass [`MAX_DECAY_EXPONENT`].
//!
//! Storage is sparse: only the span of buckets between the lowest and the highest bucket
//! ever written is allocated (a steady container touches a handful of the 176 buckets),
//! which keeps 50,000 containers in a few tens of megabytes.

use std::time::Duration;

use crate::Timestamp;

/// The reference timestamp is shifted when a sample's decay exponent would pass this.
pub const MAX_DECAY_EXPONENT: i64 = 100;
/// Largest weight of one bucket in a checkpoint (the heaviest bucket is scaled to it).
pub const MAX_CHECKPOINT_WEIGHT: u32 = 10_000;

/// Bucketing scheme of a histogram: exponentially growing buckets (the recommender's),
/// or fixed-size ones (for tests against upstream's examples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistogramOptions {
    first_bucket_size: f64,
    /// Growth of each bucket over the previous one; 1 for fixed-size buckets.
    ratio: f64,
    num_buckets: usize,
    epsilon: f64,
}

impl HistogramOptions {
    /// Buckets from 0 to `max_value`, the first `first_bucket_size` wide, each next one
    /// `ratio` times wider; a bucket lighter than `epsilon` counts as empty. `None` when a
    /// parameter is out of range (`max_value`, `first_bucket_size`, `epsilon` must be
    /// positive, `ratio` above 1).
    pub fn exponential(
        max_value: f64,
        first_bucket_size: f64,
        ratio: f64,
        epsilon: f64,
    ) -> Option<Self> {
        let valid = max_value > 0.0 && first_bucket_size > 0.0 && ratio > 1.0 && epsilon > 0.0;
        if !(valid && max_value.is_finite() && ratio.is_finite()) {
            return None;
        }
        let n = ((max_value * (ratio - 1.0) / first_bucket_size + 1.0).ln() / ratio.ln()).ceil();
        // Bounded by the checks above for any sane input; refuse absurd bucket counts.
        if !(1.0..=100_000.0).contains(&n) {
            return None;
        }
        Some(Self {
            first_bucket_size,
            ratio,
            num_buckets: n as usize + 1,
            epsilon,
        })
    }

    /// Fixed-size buckets of `bucket_size` from 0, the last starting at or above
    /// `max_value`. `None` when a parameter is not positive.
    pub fn linear(max_value: f64, bucket_size: f64, epsilon: f64) -> Option<Self> {
        if !(max_value > 0.0 && bucket_size > 0.0 && epsilon > 0.0) {
            return None;
        }
        let n = (max_value / bucket_size).ceil();
        if !(1.0..=100_000.0).contains(&n) {
            return None;
        }
        Some(Self {
            first_bucket_size: bucket_size,
            ratio: 1.0,
            num_buckets: n as usize + 1,
            epsilon,
        })
    }

    /// Upstream's CPU histogram: 0.01 core first bucket, up to 1,000 cores, 5 % growth.
    pub fn cpu() -> Self {
        Self {
            first_bucket_size: 0.01,
            ratio: 1.05,
            num_buckets: 176,
            epsilon: EPSILON,
        }
    }

    /// Upstream's memory histogram: 10 MB first bucket, up to 1 TB, 5 % growth.
    pub fn memory() -> Self {
        Self {
            first_bucket_size: 1e7,
            ratio: 1.05,
            num_buckets: 176,
            epsilon: EPSILON,
        }
    }

    /// Number of buckets.
    pub fn num_buckets(&self) -> usize {
        self.num_buckets
    }

    /// Weight below which a bucket counts as empty.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The bucket a value falls in (values outside the range go to the first or last).
    pub fn find_bucket(&self, value: f64) -> usize {
        if value.is_nan() || value < self.first_bucket_size {
            return 0;
        }
        let b = if self.ratio == 1.0 {
            (value / self.first_bucket_size).floor()
        } else {
            ((value * (self.ratio - 1.0) / self.first_bucket_size + 1.0).ln() / self.ratio.ln())
                .floor()
        };
        if b >= (self.num_buckets - 1) as f64 {
            self.num_buckets - 1
        } else {
            b as usize
        }
    }

    /// Where bucket `bucket` starts (bucket 0 starts at 0).
    pub fn bucket_start(&self, bucket: usize) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        if self.ratio == 1.0 {
            return bucket as f64 * self.first_bucket_size;
        }
        self.first_bucket_size * (self.ratio.powi(bucket as i32) - 1.0) / (self.ratio - 1.0)
    }
}

/// Upstream's empty-bucket threshold: 0.001 × the minimum sample weight 0.1.
pub const EPSILON: f64 = 0.0001;

/// A histogram whose samples lose half their weight every `half_life`.
#[derive(Clone, Debug, PartialEq)]
pub struct DecayingHistogram {
    options: HistogramOptions,
    half_life_ms: i64,
    /// `None` until the first sample; then a multiple of the half-life.
    reference: Option<Timestamp>,
    /// Index of `weights[0]`.
    offset: u16,
    weights: Vec<f64>,
    total_weight: f64,
    /// First and last non-empty buckets, `None` when empty.
    span: Option<(u16, u16)>,
}

impl DecayingHistogram {
    /// An empty histogram.
    pub fn new(options: HistogramOptions, half_life: Duration) -> Self {
        let half_life_ms = i64::try_from(half_life.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        Self {
            options,
            half_life_ms,
            reference: None,
            offset: 0,
            weights: Vec::new(),
            total_weight: 0.0,
            span: None,
        }
    }

    /// The bucketing scheme.
    pub fn options(&self) -> &HistogramOptions {
        &self.options
    }

    /// True when no bucket holds at least epsilon.
    pub fn is_empty(&self) -> bool {
        self.span.is_none()
    }

    /// Sum of all (decayed) weights, relative to the reference timestamp.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The reference timestamp weights are relative to (`None` before the first sample).
    pub fn reference(&self) -> Option<Timestamp> {
        self.reference
    }

    /// Adds `value` with `weight` as of time `t`.
    pub fn add_sample(&mut self, value: f64, weight: f64, t: Timestamp) {
        if !(weight >= 0.0 && weight.is_finite()) {
            return;
        }
        let w = weight * self.decay_factor(t);
        let bucket = self.options.find_bucket(value);
        let slot = self.slot_mut(bucket);
        *slot += w;
        let now_weight = *slot;
        self.total_weight += w;
        if now_weight >= self.options.epsilon {
            let b = bucket as u16;
            self.span = Some(match self.span {
                None => (b, b),
                Some((lo, hi)) => (lo.min(b), hi.max(b)),
            });
        }
    }

    /// Removes `value` with `weight` as of time `t` (never below zero in its bucket).
    pub fn subtract_sample(&mut self, value: f64, weight: f64, t: Timestamp) {
        if !(weight >= 0.0 && weight.is_finite()) {
            return;
        }
        let mut w = weight * self.decay_factor(t);
        let bucket = self.options.find_bucket(value);
        let current = self.weight(bucket);
        if w > current - self.options.epsilon {
            w = current;
        }
        if w == 0.0 {
            return;
        }
        *self.slot_mut(bucket) -= w;
        self.total_weight -= w;
        self.update_span();
    }

    /// The value below which `percentile` (0..=1) of the weight lies: the upper end of the
    /// bucket where the running sum reaches it (the start of the last bucket, which has no
    /// end). 0 when empty.
    pub fn percentile(&self, percentile: f64) -> f64 {
        let Some((lo, hi)) = self.span else {
            return 0.0;
        };
        let threshold = percentile * self.total_weight;
        let mut partial = 0.0;
        let mut bucket = lo as usize;
        while bucket < hi as usize {
            partial += self.weight(bucket);
            if partial >= threshold {
                break;
            }
            bucket += 1;
        }
        if bucket < self.options.num_buckets - 1 {
            self.options.bucket_start(bucket + 1)
        } else {
            self.options.bucket_start(bucket)
        }
    }

    /// The weight held by `bucket`.
    pub fn weight(&self, bucket: usize) -> f64 {
        bucket
            .checked_sub(self.offset as usize)
            .and_then(|i| self.weights.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// Non-empty buckets with their weights, lowest first.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (lo, hi) = self
            .span
            .map_or((1, 0), |(lo, hi)| (lo as usize, hi as usize + 1));
        (lo..hi).map(|b| (b, self.weight(b)))
    }

    /// Bytes allocated by this histogram beyond its inline size.
    pub fn heap_bytes(&self) -> usize {
        self.weights.capacity() * std::mem::size_of::<f64>()
    }

    /// Replaces the content with a checkpoint's: bucket weights scaled so they sum to
    /// `total_weight`, relative to `reference`.
    pub(crate) fn load(
        &mut self,
        reference: Option<Timestamp>,
        buckets: &[(usize, f64)],
        total_weight: f64,
    ) {
        *self = Self {
            options: self.options,
            half_life_ms: self.half_life_ms,
            reference,
            offset: 0,
            weights: Vec::new(),
            total_weight: 0.0,
            span: None,
        };
        for &(bucket, w) in buckets {
            *self.slot_mut(bucket) += w;
            let b = bucket as u16;
            self.span = Some(match self.span {
                None => (b, b),
                Some((lo, hi)) => (lo.min(b), hi.max(b)),
            });
        }
        self.total_weight = total_weight;
    }

    /// `2^((t − reference) / half_life)`, shifting the reference first when the exponent
    /// would pass [`MAX_DECAY_EXPONENT`].
    fn decay_factor(&mut self, t: Timestamp) -> f64 {
        let reference = match self.reference {
            None => {
                let r = self.round_to_half_life(t);
                self.reference = Some(r);
                r
            }
            Some(r) => {
                let max_allowed =
                    r.0.saturating_add(self.half_life_ms.saturating_mul(MAX_DECAY_EXPONENT));
                if t.0 > max_allowed {
                    self.shift_reference(t)
                } else {
                    r
                }
            }
        };
        ((t.0 - reference.0) as f64 / self.half_life_ms as f64).exp2()
    }

    /// Moves the reference to `t` rounded to a multiple of the half-life and rescales
    /// every weight so percentiles stay the same.
    fn shift_reference(&mut self, t: Timestamp) -> Timestamp {
        let new_ref = self.round_to_half_life(t);
        let old_ref = self.reference.unwrap_or(new_ref);
        let exponent =
            ((old_ref.0 - new_ref.0) as f64 / self.half_life_ms as f64 + 0.5).floor() as i32;
        let factor = 2f64.powi(exponent);
        for w in &mut self.weights {
            *w *= factor;
        }
        self.total_weight *= factor;
        self.reference = Some(new_ref);
        self.update_span();
        new_ref
    }

    /// `t` rounded to the nearest multiple of the half-life (halves away from zero, as Go's
    /// `Time.Round`; the Unix epoch is a whole number of days after Go's zero time).
    fn round_to_half_life(&self, t: Timestamp) -> Timestamp {
        let h = self.half_life_ms;
        let r = t.0.rem_euclid(h);
        let down = t.0 - r;
        if r * 2 >= h {
            Timestamp(down.saturating_add(h))
        } else {
            Timestamp(down)
        }
    }

    fn slot_mut(&mut self, bucket: usize) -> &mut f64 {
        let bucket = bucket.min(self.options.num_buckets - 1);
        if self.weights.is_empty() {
            self.offset = bucket as u16;
            self.weights.push(0.0);
        } else if bucket < self.offset as usize {
            let grow = self.offset as usize - bucket;
            self.weights.splice(0..0, std::iter::repeat_n(0.0, grow));
            self.offset = bucket as u16;
        } else if bucket >= self.offset as usize + self.weights.len() {
            self.weights.resize(bucket - self.offset as usize + 1, 0.0);
        }
        &mut self.weights[bucket - self.offset as usize]
    }

    fn update_span(&mut self) {
        let eps = self.options.epsilon;
        let first = self.weights.iter().position(|&w| w >= eps);
        let last = self.weights.iter().rposition(|&w| w >= eps);
        self.span = match (first, last) {
            (Some(f), Some(l)) => Some((self.offset + f as u16, self.offset + l as u16)),
            _ => None,
        };
    }
}
