//! The usage history of one container of one VPA: what the recommender remembers.

use std::time::Duration;

use super::histogram::{DecayingHistogram, HistogramOptions};
use super::oom::{OomMemory, OomOutcome, OomPolicy};
use crate::Timestamp;

/// Weight of every CPU sample (upstream's minimum sample weight; Tidal does not weight
/// CPU samples by the request, see the module doc).
pub const CPU_SAMPLE_WEIGHT: f64 = 0.1;
/// Weight of every memory peak.
pub const MEMORY_PEAK_WEIGHT: f64 = 1.0;

/// How history is aggregated. Defaults are upstream's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AggregationConfig {
    /// One memory peak is kept per interval of this length (24 h).
    pub memory_interval: Duration,
    /// Intervals of history (8): a state without samples for this many intervals expires,
    /// and OOM kills older than one interval before the current one are refused.
    pub memory_interval_count: u32,
    /// Half-life of CPU samples (24 h).
    pub cpu_half_life: Duration,
    /// Half-life of memory peaks (24 h).
    pub memory_half_life: Duration,
    /// Tidal's OOM recovery rule.
    pub oom: OomPolicy,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        Self {
            memory_interval: Duration::from_secs(24 * 3600),
            memory_interval_count: 8,
            cpu_half_life: Duration::from_secs(24 * 3600),
            memory_half_life: Duration::from_secs(24 * 3600),
            oom: OomPolicy::default(),
        }
    }
}

impl AggregationConfig {
    /// The whole history window: interval × count (8 days).
    pub fn history_window(&self) -> Duration {
        self.memory_interval
            .saturating_mul(self.memory_interval_count)
    }
}

/// What became of a sample offered to a [`ContainerAggregate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleOutcome {
    /// Added to the history (for memory: it is the current interval's new peak).
    Added,
    /// A memory sample within the current interval, not above its peak: nothing changes.
    BelowPeak,
    /// Not a finite, non-negative number: ignored.
    Invalid,
    /// Older than the current memory interval: that interval's peak is final; ignored.
    TooOld,
}

/// Aggregated usage of one container name of one VPA, across its pods: a decaying CPU
/// histogram, one memory peak per interval in a decaying histogram, the OOM memory,
/// first and last (CPU) sample and the sample count.
///
/// Feed every pod's samples of that container into the same aggregate. Upstream keeps one
/// memory peak per pod per interval; Tidal keeps one per container name per interval (the
/// largest across pods), which is the same for one replica and more conservative for many.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerAggregate {
    pub(crate) config: AggregationConfig,
    pub(crate) cpu: DecayingHistogram,
    pub(crate) memory: DecayingHistogram,
    pub(crate) created: Timestamp,
    pub(crate) first_sample: Option<Timestamp>,
    pub(crate) last_sample: Option<Timestamp>,
    pub(crate) total_samples: u64,
    /// End (exclusive) of the current memory interval; `None` before the first peak.
    pub(crate) window_end: Option<Timestamp>,
    /// Largest usage seen in the current interval (bytes, 0 = none).
    pub(crate) interval_usage_peak: f64,
    /// Largest OOM-derived peak in the current interval (upstream's rule only).
    pub(crate) interval_oom_peak: f64,
    pub(crate) oom: OomMemory,
}

impl ContainerAggregate {
    /// An empty aggregate with upstream's defaults, created at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self::with_config(now, AggregationConfig::default())
    }

    /// An empty aggregate with the given settings, created at `now`.
    pub fn with_config(now: Timestamp, config: AggregationConfig) -> Self {
        Self {
            config,
            cpu: DecayingHistogram::new(HistogramOptions::cpu(), config.cpu_half_life),
            memory: DecayingHistogram::new(HistogramOptions::memory(), config.memory_half_life),
            created: now,
            first_sample: None,
            last_sample: None,
            total_samples: 0,
            window_end: None,
            interval_usage_peak: 0.0,
            interval_oom_peak: 0.0,
            oom: OomMemory::default(),
        }
    }

    /// Records a CPU usage sample (`cores`, e.g. a 1-minute rate) measured at `now`.
    pub fn add_cpu_sample(&mut self, now: Timestamp, cores: f64) -> SampleOutcome {
        if !(cores >= 0.0 && cores.is_finite()) {
            return SampleOutcome::Invalid;
        }
        self.cpu.add_sample(cores, CPU_SAMPLE_WEIGHT, now);
        self.first_sample = Some(self.first_sample.map_or(now, |f| f.min(now)));
        self.last_sample = Some(self.last_sample.map_or(now, |l| l.max(now)));
        self.total_samples += 1;
        SampleOutcome::Added
    }

    /// Records a memory usage sample (working set, `bytes`) measured at `now`: it becomes
    /// the current interval's peak if it is the largest so far.
    pub fn add_memory_sample(&mut self, now: Timestamp, bytes: f64) -> SampleOutcome {
        if !(bytes >= 0.0 && bytes.is_finite()) {
            return SampleOutcome::Invalid;
        }
        self.add_memory_peak(now, bytes, false)
    }

    /// Records an OOM kill at `now`: the container used `used_bytes` when killed (its
    /// limit, or the last working set seen) with a memory request of `request_bytes`.
    /// Applies Tidal's rule (see [`super::oom`]). The kill is not added to the memory
    /// histogram: the floor carries it, and decays gradually, where a peak in the
    /// histogram would leave the p90 in one step days later.
    pub fn record_oom(
        &mut self,
        now: Timestamp,
        used_bytes: f64,
        request_bytes: f64,
    ) -> OomOutcome {
        let used = if used_bytes.is_finite() {
            used_bytes.max(0.0)
        } else {
            0.0
        };
        let request = if request_bytes.is_finite() {
            request_bytes.max(0.0)
        } else {
            0.0
        };
        self.oom.record(&self.config.oom, now, used, request)
    }

    /// Samples since creation or the last checkpoint load (CPU samples, as upstream).
    pub fn total_samples(&self) -> u64 {
        self.total_samples
    }

    /// Time of the first CPU sample.
    pub fn first_sample(&self) -> Option<Timestamp> {
        self.first_sample
    }

    /// Time of the last CPU sample.
    pub fn last_sample(&self) -> Option<Timestamp> {
        self.last_sample
    }

    /// The CPU histogram (cores).
    pub fn cpu_histogram(&self) -> &DecayingHistogram {
        &self.cpu
    }

    /// The memory-peaks histogram (bytes).
    pub fn memory_histogram(&self) -> &DecayingHistogram {
        &self.memory
    }

    /// The OOM memory (Tidal's rule).
    pub fn oom(&self) -> &OomMemory {
        &self.oom
    }

    /// The settings this aggregate was created with.
    pub fn config(&self) -> &AggregationConfig {
        &self.config
    }

    /// True when nothing was seen for the whole history window (8 days): no sample and
    /// no OOM kill since then (or since creation, when there never was one). The caller
    /// drops expired aggregates (upstream's garbage collection).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        let last = [self.last_sample, self.oom.last_kill()]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.created);
        now.since(last) >= self.config.history_window()
    }

    /// Confidence in the history, in days: min(lifespan, samples / 1,440).
    pub fn confidence(&self) -> f64 {
        let lifespan_days = match (self.first_sample, self.last_sample) {
            (Some(f), Some(l)) => (l.0 - f.0) as f64 / 86_400_000.0,
            _ => 0.0,
        };
        lifespan_days.min(self.total_samples as f64 / 1440.0)
    }

    /// Approximate heap bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.cpu.heap_bytes() + self.memory.heap_bytes()
    }

    /// One peak per interval: a larger sample within the current interval replaces the
    /// interval's peak (subtract the old, add the new, both at the interval's end); a
    /// sample past the interval opens the interval it falls in.
    pub(crate) fn add_memory_peak(
        &mut self,
        now: Timestamp,
        bytes: f64,
        is_oom: bool,
    ) -> SampleOutcome {
        let interval = self.config.memory_interval;
        let window_end = *self.window_end.get_or_insert(now);
        if now < window_end - interval && !is_oom {
            return SampleOutcome::TooOld;
        }
        let mut add = false;
        if now < window_end {
            let old = self.interval_usage_peak.max(self.interval_oom_peak);
            if old != 0.0 && bytes > old {
                self.memory
                    .subtract_sample(old, MEMORY_PEAK_WEIGHT, window_end);
                add = true;
            }
        } else {
            let interval_ms = interval.as_millis().max(1) as i64;
            let behind = now.0 - window_end.0;
            let shift = behind - behind % interval_ms + interval_ms;
            self.window_end = Some(Timestamp(window_end.0.saturating_add(shift)));
            self.interval_usage_peak = 0.0;
            self.interval_oom_peak = 0.0;
            add = true;
        }
        if !add {
            return SampleOutcome::BelowPeak;
        }
        let at = self.window_end.unwrap_or(now);
        self.memory.add_sample(bytes, MEMORY_PEAK_WEIGHT, at);
        if is_oom {
            self.interval_oom_peak = bytes;
        } else {
            self.interval_usage_peak = bytes;
        }
        SampleOutcome::Added
    }
}
