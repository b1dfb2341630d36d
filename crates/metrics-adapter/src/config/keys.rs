//! Reading and validating the config keys of one collector type.

use std::time::Duration;

use serde_json_path::JsonPath;

use super::error::ConfigError;
use super::{Aggregator, HttpTimeouts, JsonPathSpec, Scheme};
use crate::annotations::{ANNOTATION_PREFIX, MetricAnnotations, MetricKey, parse_duration};

/// Keys of `json-path` on pods.
pub(super) const PODS_JSON_PATH_KEYS: &[&str] = &[
    "json-key",
    "path",
    "port",
    "scheme",
    "aggregator",
    "raw-query",
    "request-timeout",
    "connect-timeout",
];
/// Keys of `json-path` on a URL.
pub(super) const URL_JSON_PATH_KEYS: &[&str] = &[
    "endpoint",
    "json-key",
    "aggregator",
    "request-timeout",
    "connect-timeout",
];
/// Keys of `prometheus`.
pub(super) const PROMETHEUS_KEYS: &[&str] = &["query", "prometheus-server"];
/// Keys of `requests-per-second` on an Ingress or RouteGroup.
pub(super) const RPS_OBJECT_KEYS: &[&str] = &["backend", "prometheus-server"];
/// Keys of `requests-per-second` by hostnames.
pub(super) const RPS_HOSTNAMES_KEYS: &[&str] = &["hostnames", "weight", "prometheus-server"];
/// Keys of `sqs-queue-length` (configured by matchLabels only).
pub(super) const SQS_KEYS: &[&str] = &[];

/// The config keys of one metric, read for one collector type.
pub(super) struct Keys<'a> {
    pub metric: &'a MetricKey,
    pub annotations: &'a MetricAnnotations,
    /// Collector type as it appears in annotation keys.
    pub collector: &'a str,
}

impl<'a> Keys<'a> {
    /// Rejects keys the collector does not read, naming the first one.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        match self
            .annotations
            .config
            .keys()
            .find(|k| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some(unknown) => Err(ConfigError::UnknownKey {
                key: self.annotation(unknown),
                config_key: unknown.clone(),
                collector: self.collector.to_string(),
                known: if known.is_empty() {
                    "none besides interval".to_string()
                } else {
                    known.join(", ")
                },
            }),
        }
    }

    /// The full annotation key of `config_key`.
    pub fn annotation(&self, config_key: &str) -> String {
        self.annotations
            .sources
            .get(config_key)
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "{ANNOTATION_PREFIX}{}.{}.{}/{config_key}",
                    self.metric.metric_type, self.metric.name, self.collector
                )
            })
    }

    pub fn optional(&self, config_key: &str) -> Option<&'a str> {
        self.annotations
            .config
            .get(config_key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, config_key: &str, hint: &'static str) -> Result<&'a str, ConfigError> {
        self.optional(config_key)
            .ok_or_else(|| ConfigError::MissingKey {
                metric: self.metric.clone(),
                key: self.annotation(config_key),
                hint,
            })
    }

    pub fn invalid(&self, config_key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            key: self.annotation(config_key),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub fn duration(&self, config_key: &str, default: Duration) -> Result<Duration, ConfigError> {
        let Some(value) = self.optional(config_key) else {
            return Ok(default);
        };
        let d = parse_duration(value).map_err(|e| self.invalid(config_key, value, e))?;
        if d.is_zero() {
            return Err(self.invalid(config_key, value, "must be greater than zero"));
        }
        Ok(d)
    }

    pub fn timeouts(&self, default: HttpTimeouts) -> Result<HttpTimeouts, ConfigError> {
        Ok(HttpTimeouts {
            connect: self.duration("connect-timeout", default.connect)?,
            request: self.duration("request-timeout", default.request)?,
        })
    }

    pub fn json_path(&self) -> Result<JsonPathSpec, ConfigError> {
        let json_key = self.required("json-key", "a JSONPath such as $.http_server.rps")?;
        JsonPath::parse(json_key).map_err(|e| {
            self.invalid(
                "json-key",
                json_key,
                format!("not an RFC 9535 JSONPath: {e}"),
            )
        })?;
        let aggregator = match self.optional("aggregator") {
            None => None,
            Some(v) => Some(match v.trim() {
                "avg" => Aggregator::Avg,
                "max" => Aggregator::Max,
                "min" => Aggregator::Min,
                "sum" => Aggregator::Sum,
                _ => return Err(self.invalid("aggregator", v, "expected avg, max, min or sum")),
            }),
        };
        Ok(JsonPathSpec {
            json_key: json_key.to_string(),
            aggregator,
        })
    }

    pub fn port(&self) -> Result<u16, ConfigError> {
        let value = self.required("port", "the pod's metrics port, e.g. \"9090\"")?;
        match value.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(self.invalid("port", value, "expected a port number 1-65535")),
        }
    }

    pub fn scheme(&self) -> Result<Scheme, ConfigError> {
        match self.optional("scheme").map(str::trim) {
            None | Some("http") => Ok(Scheme::Http),
            Some("https") => Ok(Scheme::Https),
            Some(other) => Err(self.invalid("scheme", other, "expected http or https")),
        }
    }

    /// A URL with an http or https scheme.
    pub fn url(&self, config_key: &str, value: &str) -> Result<String, ConfigError> {
        let url = reqwest::Url::parse(value.trim())
            .map_err(|e| self.invalid(config_key, value, format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.invalid(config_key, value, "expected an http:// or https:// URL"));
        }
        Ok(value.trim().to_string())
    }

    pub fn weight_percent(&self) -> Result<Option<f64>, ConfigError> {
        let Some(value) = self.optional("weight") else {
            return Ok(None);
        };
        match value.trim().parse::<f64>() {
            Ok(w) if w.is_finite() && w > 0.0 && w <= 100.0 => Ok(Some(w)),
            _ => Err(self.invalid("weight", value, "expected a percentage in (0, 100]")),
        }
    }

    pub fn hostnames(&self) -> Result<Vec<String>, ConfigError> {
        let value = self.required("hostnames", "comma-separated hostnames, e.g. a.example.com")?;
        let hosts: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        if hosts.is_empty() {
            return Err(self.invalid("hostnames", value, "no hostname given"));
        }
        if let Some(bad) = hosts.iter().find(|h| !valid_hostname(h)) {
            return Err(self.invalid(
                "hostnames",
                value,
                format!("{bad:?} is not a hostname (letters, digits, '-', '.')"),
            ));
        }
        Ok(hosts)
    }
}

/// Hostnames go into PromQL regexes, so only DNS characters are allowed.
pub(crate) fn valid_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}
