//! The one error type of the harness: every variant says what failed and how to fix it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while starting or talking to a test server.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The server's binary was found nowhere; the message says where we looked and how to install it.
    #[error("{program} not found (looked at: {searched}). {install_hint}")]
    BinaryNotFound {
        /// The program looked for, e.g. `moto_server`.
        program: &'static str,
        /// Every place that was looked at, in order.
        searched: String,
        /// How to install the program.
        install_hint: &'static str,
    },
    /// The binary exists but could not be started.
    #[error("could not start {program} at {}", path.display())]
    Spawn {
        /// The program started.
        program: &'static str,
        /// The binary's path.
        path: PathBuf,
        /// Why the operating system refused.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before it became ready.
    #[error("{program} exited before it was ready ({status}); its output:\n{log}")]
    ExitedEarly {
        /// The program started.
        program: &'static str,
        /// Its exit status.
        status: String,
        /// The end of what it printed.
        log: String,
    },
    /// The server did not answer within the start-up deadline.
    #[error("{program} did not become ready within {waited:?}; its output:\n{log}")]
    NotReady {
        /// The program started.
        program: &'static str,
        /// How long we waited.
        waited: Duration,
        /// The end of what it printed.
        log: String,
    },
    /// A local file or socket operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A scrape target that is not a loopback address: tests may only send traffic to 127.0.0.0/8 or ::1.
    #[error("scrape target {0} is not a loopback address; tests may only target 127.0.0.1/::1")]
    NonLoopbackTarget(SocketAddr),
    /// A scrape interval below Prometheus' 1 ms resolution.
    #[error("scrape interval {0:?} is below Prometheus' 1 ms resolution")]
    InvalidScrapeInterval(Duration),
    /// A metric or label name that the Prometheus text format does not allow.
    #[error("invalid Prometheus {kind} name {name:?}")]
    InvalidName {
        /// `metric` or `label`.
        kind: &'static str,
        /// The rejected name.
        name: String,
    },
    /// An HTTP request to a test server failed.
    #[error("HTTP request to {url} failed")]
    Http {
        /// The requested URL.
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus answered a query with an error or a shape we do not read.
    #[error("Prometheus query {query:?} failed: {message}")]
    Query {
        /// The PromQL query.
        query: String,
        /// What Prometheus (or the response parser) said.
        message: String,
    },
    /// A query returned no series before the deadline.
    #[error("Prometheus query {query:?} returned no data within {waited:?}")]
    NoSeries {
        /// The PromQL query.
        query: String,
        /// How long we polled.
        waited: Duration,
    },
    /// Setting up an AWS fixture on moto failed.
    #[error("{action} on moto failed: {message}")]
    Aws {
        /// What was being created, e.g. `creating launch template tidal-default`.
        action: String,
        /// The SDK's error, with its cause chain.
        message: String,
    },
}

impl HarnessError {
    /// Wraps an IO error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
