//! `prometheus`: one PromQL instant query whose answer must be a scalar or a single series.

use futures::future::BoxFuture;
use prometheus_http_query::response::Data;
use tidal_core::Timestamp;

use super::{CollectError, Collected, Collector, finite};
use crate::config::PrometheusQuery;

/// A client for the Prometheus at `server`.
pub(crate) fn client(
    http: reqwest::Client,
    server: &str,
    query: &str,
) -> Result<prometheus_http_query::Client, CollectError> {
    prometheus_http_query::Client::from(http, server).map_err(|source| CollectError::Prometheus {
        server: server.to_string(),
        query: query.to_string(),
        source,
    })
}

/// Runs `query` and returns its one value. An empty result, several series, a range vector,
/// NaN or an infinity are errors, never zero.
pub(crate) async fn instant_value(
    client: &prometheus_http_query::Client,
    server: &str,
    query: &str,
) -> Result<f64, CollectError> {
    let result = client
        .query(query)
        .get()
        .await
        .map_err(|source| CollectError::Prometheus {
            server: server.to_string(),
            query: query.to_string(),
            source,
        })?;
    let not_one = |found: String| CollectError::NotOneValue {
        server: server.to_string(),
        query: query.to_string(),
        found,
    };
    let value = match result.data() {
        Data::Scalar(sample) => sample.value(),
        Data::Vector(series) => match series.as_slice() {
            [] => {
                return Err(CollectError::EmptyResult {
                    server: server.to_string(),
                    query: query.to_string(),
                });
            }
            [one] => one.sample().value(),
            many => return Err(not_one(format!("{} series", many.len()))),
        },
        Data::Matrix(_) => return Err(not_one("a range vector".to_string())),
    };
    finite(&format!("Prometheus query {query:?}"), value)
}

/// `prometheus`: a PromQL query against the HPA's or the default Prometheus.
pub struct PrometheusCollector {
    client: prometheus_http_query::Client,
    source: PrometheusQuery,
}

impl PrometheusCollector {
    /// A collector for `source` using `http` for requests.
    pub fn new(http: reqwest::Client, source: PrometheusQuery) -> Result<Self, CollectError> {
        Ok(Self {
            client: client(http, &source.server, &source.query)?,
            source,
        })
    }
}

impl Collector for PrometheusCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            let value =
                instant_value(&self.client, &self.source.server, &self.source.query).await?;
            Ok(Collected::Value(value))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use tidal_test_support::{Prometheus, TestExporter};

    use super::*;

    fn collector(server: &str, query: &str) -> PrometheusCollector {
        PrometheusCollector::new(
            reqwest::Client::new(),
            PrometheusQuery {
                server: server.to_string(),
                query: query.to_string(),
            },
        )
        .unwrap()
    }

    async fn collect(server: &str, query: &str) -> Result<Collected, CollectError> {
        collector(server, query)
            .collect(Timestamp::from_secs(0))
            .await
    }

    /// One real Prometheus scraping a test exporter serves all cases (starting it is the slow
    /// part).
    #[tokio::test]
    async fn queries_a_real_prometheus() {
        let exporter = TestExporter::start().await.expect("start test exporter");
        exporter.set("queue_depth", &[("queue", "a")], 7.0).unwrap();
        exporter.set("queue_depth", &[("queue", "b")], 5.0).unwrap();
        let prometheus = Prometheus::start(&[exporter.addr()], Duration::from_secs(1))
            .await
            .expect("start Prometheus (see tidal-test-support for how to install it)");
        prometheus
            .wait_for_series("queue_depth", Duration::from_secs(60))
            .await
            .unwrap();
        let url = prometheus.url();

        assert_eq!(
            collect(&url, "sum(queue_depth)").await.unwrap(),
            Collected::Value(12.0)
        );
        assert_eq!(
            collect(&url, "scalar(sum(queue_depth))").await.unwrap(),
            Collected::Value(12.0)
        );
        assert_eq!(
            collect(&url, "vector(2.5)").await.unwrap(),
            Collected::Value(2.5)
        );

        let err = collect(&url, "queue_depth{queue=\"missing\"}")
            .await
            .unwrap_err();
        assert!(matches!(err, CollectError::EmptyResult { .. }), "{err}");
        let err = collect(&url, "queue_depth").await.unwrap_err();
        assert!(err.to_string().contains("2 series"), "{err}");
        let err = collect(&url, "scalar(queue_depth)").await.unwrap_err();
        assert!(
            matches!(err, CollectError::NotFinite { .. }),
            "scalar() of 2 series is NaN: {err}"
        );
        let err = collect(&url, "sum(queue_depth) / 0").await.unwrap_err();
        assert!(matches!(err, CollectError::NotFinite { .. }), "{err}");
        let err = collect(&url, "queue_depth[1m]").await.unwrap_err();
        assert!(err.to_string().contains("range vector"), "{err}");
        let err = collect(&url, "sum(").await.unwrap_err();
        assert!(matches!(err, CollectError::Prometheus { .. }), "{err}");
        assert_eq!(err.reason(), "backend");
    }

    #[tokio::test]
    async fn unreachable_server_is_an_error() {
        // A port that was free a moment ago: nothing listens there.
        let port = tidal_test_support::free_port().unwrap();
        let err = collect(&format!("http://127.0.0.1:{port}"), "vector(1)")
            .await
            .unwrap_err();
        assert!(matches!(err, CollectError::Prometheus { .. }), "{err}");
        assert!(err.to_string().contains(&port.to_string()), "{err}");
    }
}
