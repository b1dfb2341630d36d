//! Bounds on what one HPA's annotations may ask of the shared collectors: how often to collect
//! and how long to wait. Values outside are clamped (the metric is still collected) and each
//! clamp is reported, so the HPA's author gets a Warning Event naming it.

use std::fmt;
use std::time::Duration;

use super::{CollectorConfig, HttpTimeouts, Source};
use crate::annotations::MetricKey;

/// Shortest collection interval: more often would poll backends for no gain (the HPA controller
/// reads metrics every 15 s).
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Longest collection interval; values live 3 intervals, so this also bounds the TTL.
pub const MAX_INTERVAL: Duration = Duration::from_secs(600);
/// Longest connect or request timeout, and longest a collection may run.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// One value an annotation asked for that was out of bounds, and what is used instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clamped {
    /// The metric.
    pub metric: MetricKey,
    /// The config key (`interval`, `request-timeout`, `connect-timeout`).
    pub key: &'static str,
    /// What was asked.
    pub asked: Duration,
    /// What is used.
    pub used: Duration,
}

impl fmt::Display for Clamped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bounds = if self.key == "interval" {
            format!(
                "between {} and {}",
                humantime::format_duration(MIN_INTERVAL),
                humantime::format_duration(MAX_INTERVAL)
            )
        } else {
            format!("at most {}", humantime::format_duration(MAX_TIMEOUT))
        };
        write!(
            f,
            "{}: {} {} is not allowed (must be {bounds}); using {}",
            self.metric,
            self.key,
            humantime::format_duration(self.asked),
            humantime::format_duration(self.used)
        )
    }
}

fn clamp(
    out: &mut Vec<Clamped>,
    metric: &MetricKey,
    key: &'static str,
    value: &mut Duration,
    min: Duration,
    max: Duration,
) {
    let used = (*value).clamp(min, max);
    if used != *value {
        out.push(Clamped {
            metric: metric.clone(),
            key,
            asked: *value,
            used,
        });
        *value = used;
    }
}

fn clamp_timeouts(out: &mut Vec<Clamped>, metric: &MetricKey, timeouts: &mut HttpTimeouts) {
    clamp(
        out,
        metric,
        "connect-timeout",
        &mut timeouts.connect,
        Duration::ZERO,
        MAX_TIMEOUT,
    );
    clamp(
        out,
        metric,
        "request-timeout",
        &mut timeouts.request,
        Duration::ZERO,
        MAX_TIMEOUT,
    );
}

/// Clamps the interval and timeouts of `config` into bounds; returns what was changed.
pub fn clamp_config(config: &mut CollectorConfig) -> Vec<Clamped> {
    let mut out = Vec::new();
    let metric = config.metric.clone();
    clamp(
        &mut out,
        &metric,
        "interval",
        &mut config.interval,
        MIN_INTERVAL,
        MAX_INTERVAL,
    );
    match &mut config.source {
        Source::PodsJsonPath(s) => clamp_timeouts(&mut out, &metric, &mut s.timeouts),
        Source::UrlJsonPath(s) => clamp_timeouts(&mut out, &metric, &mut s.timeouts),
        Source::Prometheus(_) | Source::RequestsPerSecond(_) | Source::SqsQueueLength(_) => {}
    }
    out
}
