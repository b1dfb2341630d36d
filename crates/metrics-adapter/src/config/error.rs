//! Why one HPA metric cannot be collected.

use crate::annotations::{AnnotationError, MetricKey};

/// A config problem of one HPA metric; the message names the annotation or field at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// An annotation of this metric did not parse.
    #[error(transparent)]
    Annotation(#[from] AnnotationError),
    /// The collector type (from annotations or `matchLabels.type`) is not one Tidal has.
    #[error("{metric}: unknown collector type {found:?} (supported here: {supported})")]
    UnknownCollectorType {
        /// The metric.
        metric: MetricKey,
        /// The collector type asked for.
        found: String,
        /// Collector types valid for this kind of metric.
        supported: &'static str,
    },
    /// The metric needs annotations and has none.
    #[error("{metric}: no collector configured; add annotations such as {example:?}")]
    NotConfigured {
        /// The metric.
        metric: MetricKey,
        /// An example annotation key.
        example: String,
    },
    /// A required config key is missing.
    #[error("{metric}: missing annotation {key:?} ({hint})")]
    MissingKey {
        /// The metric.
        metric: MetricKey,
        /// The full annotation key to add.
        key: String,
        /// What its value looks like.
        hint: &'static str,
    },
    /// A config key has a value that cannot be used.
    #[error("annotation {key:?}: invalid value {value:?}: {reason}")]
    InvalidValue {
        /// The annotation key.
        key: String,
        /// The value.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// A config key this collector does not know (likely a typo).
    #[error(
        "annotation {key:?}: unknown key {config_key:?} for collector {collector} (known: {known})"
    )]
    UnknownKey {
        /// The full annotation key.
        key: String,
        /// The config key after `/`.
        config_key: String,
        /// The collector type.
        collector: String,
        /// The keys this collector reads.
        known: String,
    },
    /// `spec.metrics[].selector.matchLabels` lacks a label the collector needs.
    #[error("{metric}: metric selector matchLabels needs {label:?} ({hint})")]
    MissingLabel {
        /// The metric.
        metric: MetricKey,
        /// The missing label.
        label: &'static str,
        /// What it should hold.
        hint: &'static str,
    },
    /// The annotations and `matchLabels.type` name different collectors.
    #[error(
        "{metric}: matchLabels type {label:?} disagrees with the annotations' collector type {annotation:?}"
    )]
    CollectorTypeMismatch {
        /// The metric.
        metric: MetricKey,
        /// `matchLabels.type`.
        label: String,
        /// The collector type in the annotation keys.
        annotation: String,
    },
    /// No Prometheus URL from the annotation or `--prometheus-server`.
    #[error("{metric}: no Prometheus server; set --prometheus-server or annotation {annotation:?}")]
    NoPrometheusServer {
        /// The metric.
        metric: MetricKey,
        /// The annotation that would name one.
        annotation: String,
    },
    /// SQS region not among `--aws-region`.
    #[error("{metric}: region {region:?} is not configured (--aws-region {configured})")]
    RegionNotConfigured {
        /// The metric.
        metric: MetricKey,
        /// The region asked for.
        region: String,
        /// The configured regions.
        configured: String,
    },
    /// `prometheus-server` names a server the adapter is not allowed to query.
    #[error(
        "{annotation}: Prometheus server {server:?} is not allowed (allowed: {allowed}; the operator lists more with --allowed-prometheus-server)"
    )]
    PrometheusServerNotAllowed {
        /// The annotation.
        annotation: String,
        /// The server asked for.
        server: String,
        /// The allowed servers.
        allowed: String,
    },
    /// The HPA spec itself is incomplete for this metric.
    #[error("{what}: {problem}")]
    InvalidSpec {
        /// Which metric or field (e.g. `spec.metrics[2]`).
        what: String,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    /// A bounded label for metrics: the kind of problem, never free text.
    pub fn reason(&self) -> &'static str {
        match self {
            ConfigError::Annotation(_) => "annotation",
            ConfigError::UnknownCollectorType { .. } => "unknown_collector_type",
            ConfigError::NotConfigured { .. } => "not_configured",
            ConfigError::MissingKey { .. } => "missing_key",
            ConfigError::InvalidValue { .. } => "invalid_value",
            ConfigError::UnknownKey { .. } => "unknown_key",
            ConfigError::MissingLabel { .. } => "missing_label",
            ConfigError::CollectorTypeMismatch { .. } => "collector_type_mismatch",
            ConfigError::NoPrometheusServer { .. } => "no_prometheus_server",
            ConfigError::RegionNotConfigured { .. } => "region_not_configured",
            ConfigError::PrometheusServerNotAllowed { .. } => "prometheus_server_not_allowed",
            ConfigError::InvalidSpec { .. } => "invalid_spec",
        }
    }
}
