//! `prometheus`: one PromQL instant query whose answer must be a scalar or a single series.
//!
//! The HTTP API is called directly (`GET /api/v1/query`, typed decoding of the answer) rather
//! than through prometheus-http-query, so the body is read within the same size and memory
//! limits as every other response a tenant can trigger ([`super::fetch`]).

use futures::future::BoxFuture;
use serde::Deserialize;
use serde::de::IgnoredAny;
use tidal_core::Timestamp;

use super::fetch::Fetcher;
use super::{CollectError, Collected, Collector, finite};
use crate::config::PrometheusQuery;

/// The query API of one Prometheus server.
#[derive(Clone, Debug)]
pub(crate) struct PrometheusApi {
    fetcher: Fetcher,
    server: String,
    query_url: String,
}

/// `/api/v1/query`'s answer; series labels are skipped without being stored.
#[derive(Deserialize)]
struct QueryResponse {
    status: String,
    data: Option<QueryData>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Scalar(SampleValue),
    Vector(Vec<Series>),
    Matrix(IgnoredAny),
    String(IgnoredAny),
}

#[derive(Deserialize)]
struct Series {
    value: SampleValue,
}

/// `[unix time, "value"]`.
#[derive(Deserialize)]
struct SampleValue(IgnoredAny, String);

/// Prometheus's documented error types; anything else is reported as `unknown`, so a server
/// cannot put free text into Events this way.
fn error_type(raw: Option<&str>) -> &'static str {
    const KNOWN: &[&str] = &[
        "bad_data",
        "execution",
        "timeout",
        "canceled",
        "internal",
        "unavailable",
        "not_found",
    ];
    raw.and_then(|r| KNOWN.iter().find(|k| **k == r).copied())
        .unwrap_or("unknown")
}

impl PrometheusApi {
    /// The API of the Prometheus at `server` (a base URL), fetched through `fetcher`.
    pub(crate) fn new(fetcher: Fetcher, server: &str) -> Self {
        Self {
            fetcher,
            server: server.to_string(),
            query_url: format!("{}/api/v1/query", server.trim_end_matches('/')),
        }
    }

    /// Runs `query` and returns its one value. An empty result, several series, a range
    /// vector, NaN or an infinity are errors, never zero.
    pub(crate) async fn instant_value(&self, query: &str) -> Result<f64, CollectError> {
        let failed = |failure: String| CollectError::Prometheus {
            server: self.server.clone(),
            query: query.to_string(),
            failure,
        };
        let body = match self.fetcher.get(&self.query_url, &[("query", query)]).await {
            Ok(body) => body,
            Err(CollectError::Http { source, .. }) => {
                return Err(failed(format!("request failed: {source}")));
            }
            Err(other) => return Err(other),
        };
        let response: QueryResponse = match self.fetcher.parse(&self.query_url, &body).await {
            Ok(response) => response,
            Err(CollectError::Json { problem, .. }) => {
                return Err(failed(format!(
                    "HTTP status {}; the body {problem}",
                    body.status
                )));
            }
            Err(other) => return Err(other),
        };
        let status = body.status;
        drop(body);
        let data = match (response.status.as_str(), response.data) {
            ("success", Some(data)) => data,
            _ => {
                return Err(failed(format!(
                    "the query was rejected (HTTP status {status}, {})",
                    error_type(response.error_type.as_deref())
                )));
            }
        };
        let not_one = |found: String| CollectError::NotOneValue {
            server: self.server.clone(),
            query: query.to_string(),
            found,
        };
        let sample = match data {
            QueryData::Scalar(sample) => sample,
            QueryData::Vector(mut series) => match series.len() {
                0 => {
                    return Err(CollectError::EmptyResult {
                        server: self.server.clone(),
                        query: query.to_string(),
                    });
                }
                1 => series.swap_remove(0).value,
                many => return Err(not_one(format!("{many} series"))),
            },
            QueryData::Matrix(_) => return Err(not_one("a range vector".to_string())),
            QueryData::String(_) => return Err(not_one("a string".to_string())),
        };
        let value: f64 = sample
            .1
            .parse()
            .map_err(|_| failed("a sample value is not a number".to_string()))?;
        finite(&format!("Prometheus query {query:?}"), value)
    }
}

/// `prometheus`: a PromQL query against the HPA's or the default Prometheus.
pub struct PrometheusCollector {
    api: PrometheusApi,
    source: PrometheusQuery,
}

impl PrometheusCollector {
    /// A collector for `source`, fetching through `fetcher`.
    pub fn new(fetcher: Fetcher, source: PrometheusQuery) -> Self {
        Self {
            api: PrometheusApi::new(fetcher, &source.server),
            source,
        }
    }
}

impl Collector for PrometheusCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            let value = self.api.instant_value(&self.source.query).await?;
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
    use crate::test_fixtures::loopback_fetcher;

    fn collector(server: &str, query: &str) -> PrometheusCollector {
        PrometheusCollector::new(
            loopback_fetcher(),
            PrometheusQuery {
                server: server.to_string(),
                query: query.to_string(),
            },
        )
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
