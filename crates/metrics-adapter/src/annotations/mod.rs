//! HPA annotations in kube-metrics-adapter's format:
//! `metric-config.<metricType>.<metricName>.<collectorType>/<configKey>: <value>`.
//!
//! The metric name may contain dots (kube-metrics-adapter silently ignored such metrics): the
//! metric type is the first dot-separated segment, the collector type the last one before the
//! `/`, and everything in between is the name. Parsing never fails as a whole: each problem is
//! reported with the annotation key that caused it, attributed to its metric when the key names
//! one, so the HPA's other metrics keep working.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Prefix of every annotation this module reads; other annotations are ignored.
pub const ANNOTATION_PREFIX: &str = "metric-config.";

/// Config key: collection interval of the metric (Go-style duration such as `30s`, `1m`).
pub const KEY_INTERVAL: &str = "interval";
/// Config key: divide the value by the HPA's current replica count.
pub const KEY_PER_REPLICA: &str = "per-replica";
/// Config key: pods that became Ready more recently than this are left out.
pub const KEY_MIN_POD_READY_AGE: &str = "min-pod-ready-age";

/// The kind of HPA metric an annotation configures (`spec.metrics[].type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    /// A `Pods` metric: one value per pod of the scale target.
    Pods,
    /// An `Object` metric: one value describing a Kubernetes object.
    Object,
    /// An `External` metric: a value from outside the cluster.
    External,
}

impl MetricType {
    /// The lowercase name used in annotations and collector ids.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Pods => "pods",
            MetricType::Object => "object",
            MetricType::External => "external",
        }
    }

    /// Parses the annotation spelling (`pods`, `object`, `external`).
    pub fn from_annotation(s: &str) -> Option<Self> {
        match s {
            "pods" => Some(MetricType::Pods),
            "object" => Some(MetricType::Object),
            "external" => Some(MetricType::External),
            _ => None,
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one HPA metric: its type and its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    /// The metric type.
    pub metric_type: MetricType,
    /// The metric name as the HPA spells it (dots allowed).
    pub name: String,
}

impl fmt::Display for MetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} metric {:?}", self.metric_type, self.name)
    }
}

/// Everything the annotations say about one HPA metric.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricAnnotations {
    /// The collector type named in the keys, e.g. `json-path` or `prometheus`.
    pub collector_type: String,
    /// `interval`, if set.
    pub interval: Option<Duration>,
    /// `per-replica`, false unless set.
    pub per_replica: bool,
    /// `min-pod-ready-age`, if set.
    pub min_pod_ready_age: Option<Duration>,
    /// Every other config key with its raw value, keyed by config key.
    pub config: BTreeMap<String, String>,
    /// The full annotation key of each config key, so later errors can name it.
    pub sources: BTreeMap<String, String>,
}

impl MetricAnnotations {
    /// The annotation key that set `config_key`, or a reconstructed one for messages.
    pub fn annotation_key(&self, key: &MetricKey, config_key: &str) -> String {
        self.sources.get(config_key).cloned().unwrap_or_else(|| {
            format!(
                "{ANNOTATION_PREFIX}{}.{}.{}/{config_key}",
                key.metric_type, key.name, self.collector_type
            )
        })
    }
}

/// What is wrong with one annotation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// The key does not have the `metric-config.<type>.<name>.<collector>/<key>` shape.
    #[error(
        "annotation {key:?}: {problem} (expected metric-config.<metricType>.<metricName>.<collectorType>/<configKey>)"
    )]
    Malformed {
        /// The annotation key.
        key: String,
        /// Which part is missing or empty.
        problem: &'static str,
    },
    /// The metric type segment is not `pods`, `object` or `external`.
    #[error(
        "annotation {key:?}: unknown metric type {found:?} (expected pods, object or external)"
    )]
    UnknownMetricType {
        /// The annotation key.
        key: String,
        /// The metric type segment found.
        found: String,
    },
    /// Two annotations of the same metric name different collector types.
    #[error(
        "annotation {key:?}: collector type {found:?} conflicts with {existing:?} set by another annotation of the same metric"
    )]
    ConflictingCollectorType {
        /// The annotation key naming the second collector type.
        key: String,
        /// The collector type in this key.
        found: String,
        /// The collector type seen first.
        existing: String,
    },
    /// A special key (`interval`, `per-replica`, `min-pod-ready-age`) has an unusable value.
    #[error("annotation {key:?}: invalid value {value:?}: {reason}")]
    InvalidValue {
        /// The annotation key.
        key: String,
        /// The rejected value.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
}

/// The result of parsing all annotations of one HPA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedAnnotations {
    /// Settings per metric, for metrics whose annotations parsed without error.
    pub metrics: BTreeMap<MetricKey, MetricAnnotations>,
    /// Errors attributable to one metric: that metric cannot be collected.
    pub metric_errors: BTreeMap<MetricKey, Vec<AnnotationError>>,
    /// Errors in keys that name no usable metric (e.g. an unknown metric type).
    pub other_errors: Vec<AnnotationError>,
}

impl ParsedAnnotations {
    /// True when no annotation had a problem.
    pub fn is_clean(&self) -> bool {
        self.metric_errors.is_empty() && self.other_errors.is_empty()
    }
}

/// One annotation key split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotationKey {
    /// The metric the key is about.
    pub metric: MetricKey,
    /// The collector type segment.
    pub collector_type: String,
    /// The config key after the `/`.
    pub config_key: String,
}

/// Splits one annotation key; `Ok(None)` for keys without the `metric-config.` prefix.
pub fn parse_key(key: &str) -> Result<Option<AnnotationKey>, AnnotationError> {
    let Some(rest) = key.strip_prefix(ANNOTATION_PREFIX) else {
        return Ok(None);
    };
    let malformed = |problem| AnnotationError::Malformed {
        key: key.to_string(),
        problem,
    };
    let (path, config_key) = rest
        .split_once('/')
        .ok_or_else(|| malformed("missing \"/<configKey>\""))?;
    if config_key.is_empty() {
        return Err(malformed("empty config key after \"/\""));
    }
    if config_key.contains('/') {
        return Err(malformed("more than one \"/\""));
    }
    let (type_segment, after_type) = path
        .split_once('.')
        .ok_or_else(|| malformed("missing metric name and collector type"))?;
    let (name, collector_type) = after_type
        .rsplit_once('.')
        .ok_or_else(|| malformed("missing metric name or collector type"))?;
    if type_segment.is_empty() {
        return Err(malformed("empty metric type"));
    }
    if name.is_empty() {
        return Err(malformed("empty metric name"));
    }
    if collector_type.is_empty() {
        return Err(malformed("empty collector type"));
    }
    let metric_type = MetricType::from_annotation(type_segment).ok_or_else(|| {
        AnnotationError::UnknownMetricType {
            key: key.to_string(),
            found: type_segment.to_string(),
        }
    })?;
    Ok(Some(AnnotationKey {
        metric: MetricKey {
            metric_type,
            name: name.to_string(),
        },
        collector_type: collector_type.to_string(),
        config_key: config_key.to_string(),
    }))
}

/// Parses a Go-style duration (`30s`, `1m`, `1m30s`, `500ms`) as annotations use them.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("empty duration (use e.g. 30s, 1m or 1m30s)".to_string());
    }
    humantime::parse_duration(trimmed)
        .map_err(|e| format!("{e} (use a duration such as 30s, 1m or 1m30s)"))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        // kube-metrics-adapter switched per-replica on by the key's presence alone.
        "" | "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected \"true\" or \"false\"".to_string()),
    }
}

/// Applies one special or plain config key to `entry`.
fn apply_value(
    entry: &mut MetricAnnotations,
    annotation: &str,
    parsed: &AnnotationKey,
    value: &str,
) -> Result<(), AnnotationError> {
    let invalid = |reason: String| AnnotationError::InvalidValue {
        key: annotation.to_string(),
        value: value.to_string(),
        reason,
    };
    match parsed.config_key.as_str() {
        KEY_INTERVAL => {
            let interval = parse_duration(value).map_err(invalid)?;
            if interval < Duration::from_secs(1) {
                return Err(invalid("the interval must be at least 1s".to_string()));
            }
            entry.interval = Some(interval);
        }
        KEY_PER_REPLICA => entry.per_replica = parse_bool(value).map_err(invalid)?,
        KEY_MIN_POD_READY_AGE => {
            entry.min_pod_ready_age = Some(parse_duration(value).map_err(invalid)?);
        }
        other => {
            entry.config.insert(other.to_string(), value.to_string());
        }
    }
    entry
        .sources
        .insert(parsed.config_key.clone(), annotation.to_string());
    Ok(())
}

/// Parses every `metric-config.` annotation of one HPA; other annotations are ignored.
pub fn parse_annotations(annotations: &BTreeMap<String, String>) -> ParsedAnnotations {
    let mut out = ParsedAnnotations::default();
    for (annotation, value) in annotations {
        let parsed = match parse_key(annotation) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => continue,
            Err(e) => {
                out.other_errors.push(e);
                continue;
            }
        };
        let entry = out
            .metrics
            .entry(parsed.metric.clone())
            .or_insert_with(|| MetricAnnotations {
                collector_type: parsed.collector_type.clone(),
                ..MetricAnnotations::default()
            });
        let result = if entry.collector_type != parsed.collector_type {
            Err(AnnotationError::ConflictingCollectorType {
                key: annotation.clone(),
                found: parsed.collector_type.clone(),
                existing: entry.collector_type.clone(),
            })
        } else {
            apply_value(entry, annotation, &parsed, value)
        };
        if let Err(e) = result {
            out.metric_errors
                .entry(parsed.metric.clone())
                .or_default()
                .push(e);
        }
    }
    // A metric with any broken annotation is not collected: a half-understood config could
    // otherwise produce a value the team did not ask for.
    for key in out.metric_errors.keys() {
        out.metrics.remove(key);
    }
    out
}

#[cfg(test)]
mod tests;
