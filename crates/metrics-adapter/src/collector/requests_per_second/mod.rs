//! `requests-per-second`: traffic of hostnames from the ingress controller's request counter in
//! Prometheus. For an Ingress or RouteGroup the hosts come from the object and the value is
//! scaled by the share of the `backend` annotation's backend; for external metrics the hosts
//! come from the `hostnames` annotation (the `weight` annotation is applied per HPA).

use std::sync::Arc;

use futures::future::BoxFuture;
use tidal_core::Timestamp;

use super::fetch::Fetcher;
use super::prometheus::PrometheusApi;
use super::{CollectError, Collected, Collector};
use crate::config::valid_hostname;
use crate::config::{RequestsPerSecond, RpsTarget};
use crate::ports::{ClusterView, RoutingInfo};

/// Fills a query template: `{hosts}` with skipper's host labels (`a_example_com|b_example_com`),
/// `{hosts_regex}` with the hostnames as a regex, dots escaped for a PromQL string.
pub fn render_query(template: &str, hosts: &[String]) -> String {
    let skipper: Vec<String> = hosts
        .iter()
        .map(|h| {
            h.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    // `\\.` in a PromQL double-quoted string is the regex `\.`: a literal dot.
    let regex: Vec<String> = hosts.iter().map(|h| h.replace('.', "\\\\.")).collect();
    template
        .replace("{hosts}", &skipper.join("|"))
        .replace("{hosts_regex}", &regex.join("|"))
}

/// The share of traffic `backend` receives according to the object's backend weights.
pub fn backend_share(
    object: &str,
    routing: &RoutingInfo,
    backend: Option<&str>,
) -> Result<f64, CollectError> {
    let Some(backend) = backend else {
        return Ok(1.0);
    };
    if routing.backend_weights.is_empty() {
        // No weights: the object routes all of its traffic to its only backend.
        return Ok(1.0);
    }
    let total: f64 = routing.backend_weights.values().sum();
    let routing_err = |problem: String| CollectError::Routing {
        object: object.to_string(),
        problem,
    };
    let weight = routing.backend_weights.get(backend).ok_or_else(|| {
        routing_err(format!(
            "backend {backend:?} has no weight (known: {})",
            routing
                .backend_weights
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if !(total.is_finite() && total > 0.0 && *weight >= 0.0) {
        return Err(routing_err(format!(
            "backend weights must be non-negative and sum to more than 0, got {:?}",
            routing.backend_weights
        )));
    }
    Ok(weight / total)
}

/// `requests-per-second` against one Prometheus.
pub struct RequestsPerSecondCollector {
    api: PrometheusApi,
    source: RequestsPerSecond,
    template: String,
    cluster: Arc<dyn ClusterView>,
}

impl RequestsPerSecondCollector {
    /// A collector for `source`, with the query `template` (see [`render_query`]).
    pub fn new(
        fetcher: Fetcher,
        source: RequestsPerSecond,
        template: String,
        cluster: Arc<dyn ClusterView>,
    ) -> Self {
        Self {
            api: PrometheusApi::new(fetcher, &source.server),
            source,
            template,
            cluster,
        }
    }

    /// Hosts to measure and the factor to apply to their traffic.
    async fn hosts(&self) -> Result<(Vec<String>, f64), CollectError> {
        let (namespace, kind, name, backend) = match &self.source.target {
            RpsTarget::Hostnames(hosts) => return Ok((hosts.clone(), 1.0)),
            RpsTarget::Object {
                namespace,
                kind,
                name,
                backend,
            } => (namespace, *kind, name, backend),
        };
        let object = format!("{kind:?} {namespace}/{name}");
        let routing = self.cluster.routing(namespace, kind, name).await?;
        if routing.hosts.is_empty() {
            return Err(CollectError::Routing {
                object,
                problem: "no hosts to measure".to_string(),
            });
        }
        if let Some(bad) = routing.hosts.iter().find(|h| !valid_hostname(h)) {
            return Err(CollectError::Routing {
                object,
                problem: format!("host {bad:?} is not a hostname"),
            });
        }
        let share = backend_share(&object, &routing, backend.as_deref())?;
        Ok((routing.hosts, share))
    }
}

impl Collector for RequestsPerSecondCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            let (hosts, share) = self.hosts().await?;
            let query = render_query(&self.template, &hosts);
            let value = self.api.instant_value(&query).await?;
            Ok(Collected::Value(value * share))
        })
    }
}

#[cfg(test)]
mod tests;
