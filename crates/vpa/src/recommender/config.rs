//! Settings of the recommender loop (the flags fill them; defaults are upstream's where it
//! has one).

use std::time::Duration;

use tidal_core::vpa::{AggregationConfig, RecommenderConfig};

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct LoopConfig {
    /// The name VPAs give in `spec.recommenders` to be handled by this recommender.
    pub recommender_name: String,
    /// Also handle VPAs that name no recommender (what upstream's default recommender does).
    pub handle_unnamed: bool,
    /// Time between loops (upstream: 1 min).
    pub interval: Duration,
    /// Writes in flight at once (upstream: 10 workers).
    pub workers: usize,
    /// A status is rewritten only when a value moved by more than this fraction (or a
    /// condition or container changed).
    pub status_change_threshold: f64,
    /// Time each loop may spend writing checkpoints (upstream: 1 min).
    pub checkpoint_budget: Duration,
    /// A checkpoint is rewritten at most this often.
    pub checkpoint_interval: Duration,
    /// Time between orphan-checkpoint collections (upstream: 10 min).
    pub gc_interval: Duration,
    /// Orphan checkpoints deleted per loop at most (the rest wait for the next loop).
    pub gc_batch: usize,
    /// How far back history is loaded (upstream: 8 days).
    pub history_length: Duration,
    /// First and longest wait between attempts to load history.
    pub history_retry: (Duration, Duration),
    /// Live samples kept while history loads (beyond that, the oldest are dropped).
    pub max_buffered_samples: usize,
    /// Below this many days of history a container's recommendation has low confidence.
    pub low_confidence_days: f64,
    /// The core's recommendation settings.
    pub recommendation: RecommenderConfig,
    /// The core's aggregation settings.
    pub aggregation: AggregationConfig,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            recommender_name: "tidal".to_owned(),
            handle_unnamed: false,
            interval: Duration::from_secs(60),
            workers: 10,
            status_change_threshold: 0.01,
            checkpoint_budget: Duration::from_secs(60),
            checkpoint_interval: Duration::from_secs(600),
            gc_interval: Duration::from_secs(600),
            gc_batch: 500,
            history_length: Duration::from_secs(8 * 24 * 3600),
            history_retry: (Duration::from_secs(10), Duration::from_secs(300)),
            max_buffered_samples: 1_000_000,
            low_confidence_days: 1.0,
            recommendation: RecommenderConfig::default(),
            aggregation: AggregationConfig::default(),
        }
    }
}
