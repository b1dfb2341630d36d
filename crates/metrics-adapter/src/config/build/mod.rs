//! HPA (autoscaling/v2) + its annotations → one [`CollectorConfig`] per metric.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::autoscaling::v2::{
    ExternalMetricSource, HorizontalPodAutoscaler, MetricSpec, ObjectMetricSource, PodsMetricSource,
};

use super::error::ConfigError;
use super::keys::{self, Keys};
use super::limits::{Clamped, clamp_config};
use super::{
    CollectionSettings, CollectorConfig, HpaKey, HttpTimeouts, Output, OutputTarget, PodsJsonPath,
    PrometheusQuery, RequestsPerSecond, RoutingKind, RpsTarget, ScaleTarget, Source, SqsQueue,
    UrlJsonPath, collector_id, resource_name,
};
use crate::annotations::{
    MetricAnnotations, MetricKey, MetricType, ParsedAnnotations, parse_annotations,
};
use crate::promql_tenancy::confine_to_namespace;
use crate::store::{CollectorId, DescribedObject};

/// A metric (or annotation) of an HPA that cannot be collected, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricConfigError {
    /// The metric's collector id, when the error belongs to a metric of `spec.metrics`.
    pub id: Option<CollectorId>,
    /// The metric, when known.
    pub metric: Option<MetricKey>,
    /// What is wrong.
    pub error: ConfigError,
}

/// Everything built from one HPA: collectors for the metrics that are fine, errors for the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaCollectors {
    /// The HPA.
    pub hpa: HpaKey,
    /// One config per collectable metric.
    pub configs: Vec<CollectorConfig>,
    /// One entry per problem; other metrics are unaffected.
    pub errors: Vec<MetricConfigError>,
    /// Values out of bounds that were clamped (those metrics are collected with the bound).
    pub adjusted: Vec<Clamped>,
}

struct Ctx<'a> {
    hpa: &'a HpaKey,
    parsed: &'a ParsedAnnotations,
    settings: &'a CollectionSettings,
    scale_target: Option<ScaleTarget>,
}

/// Builds the collector configs of `hpa`. Never fails as a whole: each metric succeeds or
/// contributes an error naming the annotation or field at fault.
pub fn build_hpa_collectors(
    hpa: &HorizontalPodAutoscaler,
    settings: &CollectionSettings,
) -> HpaCollectors {
    let key = HpaKey {
        namespace: hpa
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string()),
        name: hpa.metadata.name.clone().unwrap_or_default(),
    };
    let parsed = parse_annotations(&hpa.metadata.annotations.clone().unwrap_or_default());
    let spec = hpa.spec.as_ref();
    let ctx = Ctx {
        hpa: &key,
        parsed: &parsed,
        settings,
        scale_target: spec.map(|s| ScaleTarget {
            api_version: s
                .scale_target_ref
                .api_version
                .clone()
                .unwrap_or_else(|| "apps/v1".to_string()),
            kind: s.scale_target_ref.kind.clone(),
            name: s.scale_target_ref.name.clone(),
        }),
    };
    let mut out = HpaCollectors {
        hpa: key.clone(),
        configs: Vec::new(),
        errors: parsed
            .other_errors
            .iter()
            .map(|e| MetricConfigError {
                id: None,
                metric: None,
                error: e.clone().into(),
            })
            .collect(),
        adjusted: Vec::new(),
    };
    let metrics = spec.and_then(|s| s.metrics.as_deref()).unwrap_or_default();
    let seen = ctx.build_metrics(metrics, &mut out);
    out.errors.extend(orphan_annotations(&parsed, &seen));
    for config in &mut out.configs {
        out.adjusted.extend(clamp_config(config));
    }
    out
}

/// The metric's key for Pods/Object/External metrics; `None` for resource metrics (served by
/// metrics-server, not us) and malformed entries.
fn metric_key_of(metric: &MetricSpec) -> Option<MetricKey> {
    let (metric_type, name) = match metric.type_.as_str() {
        "Pods" => (MetricType::Pods, &metric.pods.as_ref()?.metric.name),
        "Object" => (MetricType::Object, &metric.object.as_ref()?.metric.name),
        "External" => (MetricType::External, &metric.external.as_ref()?.metric.name),
        _ => return None,
    };
    Some(MetricKey {
        metric_type,
        name: name.clone(),
    })
}

fn incomplete_spec(index: usize, metric: &MetricSpec) -> Option<MetricConfigError> {
    let field = match metric.type_.as_str() {
        "Pods" => "pods",
        "Object" => "object",
        "External" => "external",
        _ => return None,
    };
    Some(MetricConfigError {
        id: None,
        metric: None,
        error: ConfigError::InvalidSpec {
            what: format!("spec.metrics[{index}]"),
            problem: format!("type {} without a {field:?} block", metric.type_),
        },
    })
}

/// Annotations naming a metric the HPA does not have: usually a typo in the metric name.
fn orphan_annotations(
    parsed: &ParsedAnnotations,
    seen: &BTreeMap<MetricKey, usize>,
) -> Vec<MetricConfigError> {
    let configured: BTreeSet<&MetricKey> = parsed
        .metrics
        .keys()
        .chain(parsed.metric_errors.keys())
        .collect();
    configured
        .into_iter()
        .filter(|k| !seen.contains_key(*k))
        .map(|k| MetricConfigError {
            id: None,
            metric: Some(k.clone()),
            error: ConfigError::InvalidSpec {
                what: format!("annotations of {k}"),
                problem: format!(
                    "spec.metrics has no {} metric named {:?}",
                    k.metric_type, k.name
                ),
            },
        })
        .collect()
}

impl Ctx<'_> {
    /// Builds every metric of `spec.metrics` into `out`; returns how often each metric occurs.
    fn build_metrics(
        &self,
        metrics: &[MetricSpec],
        out: &mut HpaCollectors,
    ) -> BTreeMap<MetricKey, usize> {
        let mut seen: BTreeMap<MetricKey, usize> = BTreeMap::new();
        for (index, metric) in metrics.iter().enumerate() {
            let Some(metric_key) = metric_key_of(metric) else {
                out.errors.extend(incomplete_spec(index, metric));
                continue;
            };
            let occurrence = seen.entry(metric_key.clone()).or_default();
            *occurrence += 1;
            let id = collector_id(self.hpa, &metric_key, *occurrence);
            if let Some(errors) = self.parsed.metric_errors.get(&metric_key) {
                out.errors.extend(errors.iter().map(|e| MetricConfigError {
                    id: Some(id.clone()),
                    metric: Some(metric_key.clone()),
                    error: e.clone().into(),
                }));
                continue;
            }
            match self.build_metric(metric, &metric_key, id.clone()) {
                Ok(config) => out.configs.push(config),
                Err(error) => out.errors.push(MetricConfigError {
                    id: Some(id),
                    metric: Some(metric_key),
                    error,
                }),
            }
        }
        seen
    }

    fn build_metric(
        &self,
        metric: &MetricSpec,
        key: &MetricKey,
        id: CollectorId,
    ) -> Result<CollectorConfig, ConfigError> {
        let empty = MetricAnnotations::default();
        let annotations = self.parsed.metrics.get(key).unwrap_or(&empty);
        let (source, target) = match (&metric.pods, &metric.object, &metric.external) {
            (Some(pods), _, _) if key.metric_type == MetricType::Pods => {
                self.pods(key, annotations, pods)?
            }
            (_, Some(object), _) if key.metric_type == MetricType::Object => {
                self.object(key, annotations, object)?
            }
            (_, _, Some(external)) => self.external(key, annotations, external)?,
            _ => {
                return Err(ConfigError::InvalidSpec {
                    what: key.to_string(),
                    problem: "metric block missing".to_string(),
                });
            }
        };
        check_special_keys(key, annotations)?;
        Ok(CollectorConfig {
            id,
            hpa: self.hpa.clone(),
            metric: key.clone(),
            interval: annotations
                .interval
                .unwrap_or(self.settings.default_interval),
            output: Output {
                target,
                per_replica: annotations.per_replica,
                weight_percent: match &source {
                    Source::RequestsPerSecond(RequestsPerSecond {
                        target: RpsTarget::Hostnames(_),
                        ..
                    }) => self.keys(key, annotations).weight_percent()?,
                    _ => None,
                },
            },
            source,
        })
    }

    fn keys<'a>(&self, key: &'a MetricKey, annotations: &'a MetricAnnotations) -> Keys<'a> {
        Keys {
            metric: key,
            annotations,
            collector: &annotations.collector_type,
        }
    }

    fn default_timeouts(&self) -> HttpTimeouts {
        HttpTimeouts {
            connect: self.settings.default_connect_timeout,
            request: self.settings.default_request_timeout,
        }
    }

    fn prometheus_server(&self, keys: &Keys<'_>) -> Result<String, ConfigError> {
        if let Some(value) = keys.optional("prometheus-server") {
            let server = keys.url("prometheus-server", value)?;
            let allowed: Vec<&str> = self.settings.allowed_prometheus_servers().collect();
            if !allowed.contains(&server.trim_end_matches('/')) {
                return Err(ConfigError::PrometheusServerNotAllowed {
                    annotation: keys.annotation("prometheus-server"),
                    server,
                    allowed: if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    },
                });
            }
            return Ok(server);
        }
        self.settings
            .prometheus_server
            .clone()
            .ok_or_else(|| ConfigError::NoPrometheusServer {
                metric: keys.metric.clone(),
                annotation: keys.annotation("prometheus-server"),
            })
    }

    fn pods(
        &self,
        key: &MetricKey,
        annotations: &MetricAnnotations,
        _source: &PodsMetricSource,
    ) -> Result<(Source, OutputTarget), ConfigError> {
        match annotations.collector_type.as_str() {
            "" => {
                return Err(ConfigError::NotConfigured {
                    metric: key.clone(),
                    example: format!("metric-config.pods.{}.json-path/json-key", key.name),
                });
            }
            "json-path" => {}
            other => return Err(unknown_collector(key, other, "json-path")),
        }
        let keys = self.keys(key, annotations);
        keys.reject_unknown(keys::PODS_JSON_PATH_KEYS)?;
        let scale_target = self.scale_target.clone().ok_or_else(|| no_spec(key))?;
        if !matches!(scale_target.kind.as_str(), "Deployment" | "StatefulSet") {
            return Err(ConfigError::InvalidSpec {
                what: format!("{key}: spec.scaleTargetRef"),
                problem: format!(
                    "kind {:?} is not supported for pods metrics (Deployment or StatefulSet)",
                    scale_target.kind
                ),
            });
        }
        let path = keys.required("path", "the metrics path, e.g. /metrics")?;
        if !path.starts_with('/') {
            return Err(keys.invalid("path", path, "must start with '/'"));
        }
        let source = PodsJsonPath {
            namespace: self.hpa.namespace.clone(),
            scale_target,
            scheme: keys.scheme()?,
            port: keys.port()?,
            path: path.to_string(),
            raw_query: keys.optional("raw-query").map(str::to_string),
            json: keys.json_path()?,
            timeouts: keys.timeouts(self.default_timeouts())?,
            min_pod_ready_age: annotations.min_pod_ready_age.unwrap_or_default(),
        };
        let target = OutputTarget::Pods {
            namespace: self.hpa.namespace.clone(),
            metric: key.name.clone(),
        };
        Ok((Source::PodsJsonPath(source), target))
    }

    fn object(
        &self,
        key: &MetricKey,
        annotations: &MetricAnnotations,
        source: &ObjectMetricSource,
    ) -> Result<(Source, OutputTarget), ConfigError> {
        let described = &source.described_object;
        let routing = match described.kind.as_str() {
            "Ingress" => Some((RoutingKind::Ingress, "networking.k8s.io/v1")),
            "RouteGroup" => Some((RoutingKind::RouteGroup, "zalando.org/v1")),
            _ => None,
        };
        let api_version = described
            .api_version
            .clone()
            .unwrap_or_else(|| routing.map_or("v1", |r| r.1).to_string());
        let target = OutputTarget::Object {
            object: DescribedObject {
                resource: resource_name(&api_version, &described.kind),
                api_version,
                kind: described.kind.clone(),
                namespace: Some(self.hpa.namespace.clone()),
                name: described.name.clone(),
                labels: BTreeMap::new(),
            },
            metric: key.name.clone(),
        };
        let source = self.object_source(
            key,
            annotations,
            routing.map(|r| r.0),
            &described.name,
            &described.kind,
        )?;
        Ok((source, target))
    }

    /// Ingress/RouteGroup → requests-per-second (unless annotated otherwise), then by
    /// collector type.
    fn object_source(
        &self,
        key: &MetricKey,
        annotations: &MetricAnnotations,
        routing: Option<RoutingKind>,
        name: &str,
        kind: &str,
    ) -> Result<Source, ConfigError> {
        let keys = self.keys(key, annotations);
        match (routing, annotations.collector_type.as_str()) {
            (Some(kind), "" | "requests-per-second") => {
                keys.reject_unknown(keys::RPS_OBJECT_KEYS)?;
                Ok(Source::RequestsPerSecond(RequestsPerSecond {
                    server: self.prometheus_server(&keys)?,
                    target: RpsTarget::Object {
                        namespace: self.hpa.namespace.clone(),
                        kind,
                        name: name.to_string(),
                        backend: keys.optional("backend").map(|b| b.trim().to_string()),
                    },
                }))
            }
            (_, "prometheus") => self.prometheus(&keys),
            (None, "") => Err(ConfigError::NotConfigured {
                metric: key.clone(),
                example: format!("metric-config.object.{}.prometheus/query", key.name),
            }),
            (None, "requests-per-second") => Err(ConfigError::InvalidSpec {
                what: format!("{key}: describedObject"),
                problem: format!(
                    "requests-per-second needs kind Ingress or RouteGroup, not {kind:?}"
                ),
            }),
            (_, other) => Err(unknown_collector(
                key,
                other,
                "prometheus; requests-per-second for Ingress and RouteGroup",
            )),
        }
    }

    fn prometheus(&self, keys: &Keys<'_>) -> Result<Source, ConfigError> {
        keys.reject_unknown(keys::PROMETHEUS_KEYS)?;
        let query = keys
            .required("query", "a PromQL expression returning one value")?
            .trim();
        let query = if self.settings.promql_namespace_isolation {
            confine_to_namespace(query, &self.hpa.namespace)
                .map_err(|e| keys.invalid("query", query, e.to_string()))?
        } else {
            query.to_string()
        };
        Ok(Source::Prometheus(PrometheusQuery {
            server: self.prometheus_server(keys)?,
            query,
        }))
    }

    fn external(
        &self,
        key: &MetricKey,
        annotations: &MetricAnnotations,
        source: &ExternalMetricSource,
    ) -> Result<(Source, OutputTarget), ConfigError> {
        let labels = source
            .metric
            .selector
            .as_ref()
            .and_then(|s| s.match_labels.clone())
            .unwrap_or_default();
        let collector = external_collector_type(key, &labels, annotations.collector_type.as_str())?;
        let keys = Keys {
            metric: key,
            annotations,
            collector,
        };
        let built = match collector {
            "prometheus" => self.prometheus(&keys)?,
            "sqs-queue-length" => self.sqs(&keys, &labels)?,
            "json-path" => {
                keys.reject_unknown(keys::URL_JSON_PATH_KEYS)?;
                let endpoint = keys.required("endpoint", "an http(s) URL returning JSON")?;
                Source::UrlJsonPath(UrlJsonPath {
                    url: keys.url("endpoint", endpoint)?,
                    json: keys.json_path()?,
                    timeouts: keys.timeouts(self.default_timeouts())?,
                })
            }
            "requests-per-second" => {
                keys.reject_unknown(keys::RPS_HOSTNAMES_KEYS)?;
                Source::RequestsPerSecond(RequestsPerSecond {
                    server: self.prometheus_server(&keys)?,
                    target: RpsTarget::Hostnames(keys.hostnames()?),
                })
            }
            other => {
                return Err(unknown_collector(
                    key,
                    other,
                    "prometheus, sqs-queue-length, json-path, requests-per-second",
                ));
            }
        };
        let target = OutputTarget::External {
            namespace: self.hpa.namespace.clone(),
            metric: key.name.clone(),
            labels,
        };
        Ok((built, target))
    }

    fn sqs(
        &self,
        keys: &Keys<'_>,
        labels: &BTreeMap<String, String>,
    ) -> Result<Source, ConfigError> {
        keys.reject_unknown(keys::SQS_KEYS)?;
        let label = |name: &'static str, hint: &'static str| {
            labels
                .get(name)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| ConfigError::MissingLabel {
                    metric: keys.metric.clone(),
                    label: name,
                    hint,
                })
        };
        let queue_name = label("queue-name", "the SQS queue name")?;
        let region = label("region", "the queue's AWS region, e.g. eu-central-1")?;
        // An allow-list, so a label cannot make the adapter build clients for any region.
        let allowed = &self.settings.aws_regions;
        if !allowed.contains(&region) {
            return Err(ConfigError::RegionNotConfigured {
                metric: keys.metric.clone(),
                region,
                configured: if allowed.is_empty() {
                    "none; start the adapter with --aws-region".to_string()
                } else {
                    allowed.join(", ")
                },
            });
        }
        Ok(Source::SqsQueueLength(SqsQueue { region, queue_name }))
    }
}

/// `matchLabels.type` picks the collector; annotations may name it too but must agree.
fn external_collector_type<'a>(
    key: &MetricKey,
    labels: &'a BTreeMap<String, String>,
    annotated: &'a str,
) -> Result<&'a str, ConfigError> {
    match (labels.get("type").map(String::as_str), annotated) {
        (Some(label), a) if !a.is_empty() && a != label => {
            Err(ConfigError::CollectorTypeMismatch {
                metric: key.clone(),
                label: label.to_string(),
                annotation: a.to_string(),
            })
        }
        (Some(label), _) => Ok(label),
        (None, a) if !a.is_empty() => Ok(a),
        (None, _) => Err(ConfigError::MissingLabel {
            metric: key.clone(),
            label: "type",
            hint: "prometheus, sqs-queue-length, json-path or requests-per-second",
        }),
    }
}

fn unknown_collector(key: &MetricKey, found: &str, supported: &'static str) -> ConfigError {
    ConfigError::UnknownCollectorType {
        metric: key.clone(),
        found: found.to_string(),
        supported,
    }
}

fn no_spec(key: &MetricKey) -> ConfigError {
    ConfigError::InvalidSpec {
        what: key.to_string(),
        problem: "HPA has no spec".to_string(),
    }
}

/// `per-replica` and `min-pod-ready-age` only mean something for some metric types; saying so
/// beats ignoring them.
fn check_special_keys(key: &MetricKey, annotations: &MetricAnnotations) -> Result<(), ConfigError> {
    let wrong = |config_key: &str, value: String, reason: &str| ConfigError::InvalidValue {
        key: annotations.annotation_key(key, config_key),
        value,
        reason: reason.to_string(),
    };
    if key.metric_type == MetricType::Pods && annotations.per_replica {
        return Err(wrong(
            "per-replica",
            "true".to_string(),
            "per-replica applies to object and external metrics; pods metrics are per pod already",
        ));
    }
    if let Some(age) = annotations.min_pod_ready_age
        && key.metric_type != MetricType::Pods
    {
        return Err(wrong(
            "min-pod-ready-age",
            humantime::format_duration(age).to_string(),
            "min-pod-ready-age applies to pods metrics only",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
