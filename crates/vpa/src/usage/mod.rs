//! Usage adapters: Prometheus (live and history) and the metrics.k8s.io PodMetrics API (live).

mod metrics_api;
mod prometheus;

pub use metrics_api::MetricsApiUsage;
pub use prometheus::{PrometheusQueries, PrometheusUsage, WINDOW_PLACEHOLDER};
