//! Load signals from Prometheus: one range query per configured signal, over the decision's
//! longest window, so a restarted controller has the whole history at once (nothing is kept
//! in memory between loops).
//!
//! Each query must return one series in absolute units: CPU cores and memory MiB in use per
//! control-plane node (averaged over the nodes), API concurrency seats executing in the whole
//! control plane, request latency p99 in seconds. An empty answer is an empty series (the
//! decision then holds); more than one series is an error, because which one to judge would be
//! a guess: aggregate it in the query.

use std::time::Duration;

use prometheus_http_query::Client;
use prometheus_http_query::response::Data;
use tidal_core::Timestamp;
use tidal_core::control_plane::{Series, Signal, Signals};

use crate::ports::{SignalError, SignalSource};

/// The PromQL per signal; `None` = not read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Queries {
    /// CPU cores in use per control-plane node.
    pub cpu: Option<String>,
    /// Memory in use per control-plane node, MiB.
    pub memory: Option<String>,
    /// API concurrency seats executing.
    pub seats: Option<String>,
    /// API request latency p99, seconds.
    pub latency_p99: Option<String>,
}

impl Queries {
    /// Default CPU query: non-idle cores per node from node-exporter, averaged over the nodes
    /// `selector` picks (PromQL label matchers, e.g. `role="control-plane"`).
    pub fn default_cpu(selector: &str) -> String {
        format!(
            r#"avg(sum by (instance) (rate(node_cpu_seconds_total{{mode!="idle",{selector}}}[5m])))"#
        )
    }

    /// Default memory query: MiB in use per node (total − available), averaged.
    pub fn default_memory(selector: &str) -> String {
        format!(
            "avg(node_memory_MemTotal_bytes{{{selector}}} - node_memory_MemAvailable_bytes{{{selector}}}) / 1048576"
        )
    }

    /// Default seats query: the signal AWS names for provisioned tiers.
    pub const DEFAULT_SEATS: &'static str =
        "sum(apiserver_flowcontrol_current_executing_seats_total)";

    /// Default latency query: p99 of API requests other than long-running WATCH/CONNECT.
    pub const DEFAULT_LATENCY_P99: &'static str = r#"histogram_quantile(0.99, sum by (le) (rate(apiserver_request_duration_seconds_bucket{verb!~"WATCH|CONNECT"}[5m])))"#;

    fn get(&self, signal: Signal) -> Option<&str> {
        match signal {
            Signal::Cpu => self.cpu.as_deref(),
            Signal::Memory => self.memory.as_deref(),
            Signal::Seats => self.seats.as_deref(),
            Signal::LatencyP99 => self.latency_p99.as_deref(),
        }
    }
}

/// Reads the signals from a Prometheus server.
#[derive(Clone)]
pub struct PrometheusSignals {
    client: Client,
    queries: Queries,
    step: Duration,
    timeout: Duration,
}

impl PrometheusSignals {
    /// A source querying `url` (e.g. `http://prometheus:9090`) every `step` of the range.
    pub fn new(
        url: &str,
        queries: Queries,
        step: Duration,
        timeout: Duration,
    ) -> Result<Self, SignalError> {
        let client = Client::try_from(url).map_err(|e| SignalError::Query {
            signal: "client",
            source: Box::new(e),
        })?;
        Ok(Self {
            client,
            queries,
            step,
            timeout,
        })
    }

    async fn series(
        &self,
        signal: Signal,
        query: &str,
        now: Timestamp,
        span: Duration,
    ) -> Result<Series, SignalError> {
        let label = signal.label();
        let end = now.as_millis() / 1000;
        let start = (now - span).as_millis() / 1000;
        let request = self
            .client
            .query_range(query, start, end, self.step.as_secs_f64().max(1.0))
            .get();
        let answer = tokio::time::timeout(self.timeout, request)
            .await
            .map_err(|elapsed| SignalError::Query {
                signal: label,
                source: Box::new(elapsed),
            })?
            .map_err(|e| SignalError::Query {
                signal: label,
                source: Box::new(e),
            })?;
        let Data::Matrix(matrix) = answer.data() else {
            return Err(SignalError::Unexpected {
                signal: label,
                detail: "not a range vector".to_owned(),
            });
        };
        match matrix.as_slice() {
            [] => Ok(Series::default()),
            [one] => Ok(Series::new(one.samples().iter().map(|s| {
                let ms = (s.timestamp() * 1000.0).round() as i64;
                (Timestamp::from_millis(ms), s.value())
            }))),
            many => Err(SignalError::Unexpected {
                signal: label,
                detail: format!("{} series; aggregate the query to one", many.len()),
            }),
        }
    }
}

impl SignalSource for PrometheusSignals {
    async fn signals(&self, now: Timestamp, span: Duration) -> Result<Signals, SignalError> {
        let mut signals = Signals::default();
        for signal in Signal::ALL {
            if let Some(query) = self.queries.get(signal) {
                *signals.get_mut(signal) = self.series(signal, query, now, span).await?;
            }
        }
        Ok(signals)
    }
}

#[cfg(test)]
mod tests;
