//! Why a collection produced no value.

use std::time::Duration;

use crate::outbound::AddressRefused;
use crate::ports::ClusterError;

/// A failed collection. No value is written for it: the old one expires by its TTL and the HPA
/// sees "no metric", which makes it hold instead of scaling on a made-up number.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// An HTTP client could not be built.
    #[error("cannot build the {what}: {source}")]
    ClientSetup {
        /// Which client.
        what: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP request failed (connect error, timeout, reset).
    #[error("GET {url}: {source}")]
    Http {
        /// The URL requested.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a non-success status.
    #[error("GET {url}: HTTP status {status}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body does not parse (as JSON, or into the expected structure).
    #[error("GET {url}: the body {problem}")]
    Json {
        /// The URL requested.
        url: String,
        /// What is wrong and where (never the body's content).
        problem: String,
    },
    /// A URL does not parse.
    #[error("{url:?} is not a valid URL")]
    BadUrl {
        /// The URL.
        url: String,
    },
    /// The outbound policy refused the address.
    #[error("GET {url}: {refused}")]
    Refused {
        /// The URL requested.
        url: String,
        /// Which address and why.
        #[source]
        refused: AddressRefused,
    },
    /// The server answered with a redirect, which is not followed.
    #[error("GET {url}: HTTP status {status} is a redirect; redirects are not followed")]
    Redirect {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is larger than the limit.
    #[error("GET {url}: the body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The URL requested.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body holds more JSON values than the limit.
    #[error("GET {url}: the body holds more than {limit} JSON values")]
    TooManyValues {
        /// The URL requested.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A shared resource (memory for bodies, a collection slot) was not free in time.
    #[error("no {what} became free within {waited:?}; the adapter is busy")]
    Overloaded {
        /// What was waited for.
        what: &'static str,
        /// How long.
        waited: Duration,
    },
    /// The JSONPath matched nothing.
    #[error("GET {url}: JSONPath {path} matched nothing")]
    NoMatch {
        /// The URL requested.
        url: String,
        /// The JSONPath.
        path: String,
    },
    /// The JSONPath matched a non-numeric value.
    #[error("GET {url}: JSONPath {path} matched {found}, not a number")]
    NotNumber {
        /// The URL requested.
        url: String,
        /// The JSONPath.
        path: String,
        /// What kind of value matched (its type and size, never its content).
        found: String,
    },
    /// The JSONPath matched several values and no aggregator was configured.
    #[error(
        "GET {url}: JSONPath {path} matched {count} values; set an aggregator (avg, max, min, sum)"
    )]
    Ambiguous {
        /// The URL requested.
        url: String,
        /// The JSONPath.
        path: String,
        /// How many values matched.
        count: usize,
    },
    /// Every selected pod failed.
    #[error("all {failed} ready pods failed; first error: {first}")]
    AllPodsFailed {
        /// How many pods were asked.
        failed: usize,
        /// The first pod's error.
        #[source]
        first: Box<CollectError>,
    },
    /// A value is NaN or infinite.
    #[error("{what}: value {value} is not a finite number")]
    NotFinite {
        /// Which query or path.
        what: String,
        /// The value as text.
        value: String,
    },
    /// The Prometheus query failed.
    #[error("Prometheus {server}: query {query:?}: {failure}")]
    Prometheus {
        /// The server.
        server: String,
        /// The query.
        query: String,
        /// What went wrong (status, error type, transport error; never the body).
        failure: String,
    },
    /// The query returned no series.
    #[error("Prometheus {server}: query {query:?} returned no data")]
    EmptyResult {
        /// The server.
        server: String,
        /// The query.
        query: String,
    },
    /// The query returned more than one series or a range vector.
    #[error(
        "Prometheus {server}: query {query:?} returned {found}; expected a scalar or one series"
    )]
    NotOneValue {
        /// The server.
        server: String,
        /// The query.
        query: String,
        /// What came back.
        found: String,
    },
    /// An Ingress or RouteGroup cannot be measured.
    #[error("{object}: {problem}")]
    Routing {
        /// `kind namespace/name`.
        object: String,
        /// What is wrong.
        problem: String,
    },
    /// The cluster could not answer (a workload's selector, an Ingress, a RouteGroup).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// An AWS call failed.
    #[error("SQS {region} queue {queue:?}: {operation}: {message}")]
    Aws {
        /// The region.
        region: String,
        /// The queue name.
        queue: String,
        /// The API operation.
        operation: &'static str,
        /// The SDK's error with its details.
        message: String,
    },
    /// The collection did not finish in time.
    #[error("collection did not finish within {after:?}")]
    Timeout {
        /// The deadline.
        after: Duration,
    },
    /// `per-replica` with zero current replicas.
    #[error("per-replica: the HPA reports no current replicas to divide by")]
    NoReplicas,
    /// The collector produced values of the wrong shape for the metric (a bug).
    #[error("collector produced {found} for a {expected} metric")]
    Shape {
        /// What the metric needs.
        expected: &'static str,
        /// What came.
        found: &'static str,
    },
}

impl CollectError {
    /// A bounded label for metrics: the kind of failure, never free text.
    pub fn reason(&self) -> &'static str {
        match self {
            CollectError::ClientSetup { .. } | CollectError::Shape { .. } => "internal",
            CollectError::Http { source, .. } if source.is_timeout() => "timeout",
            CollectError::Http { .. } => "connect",
            CollectError::HttpStatus { .. } => "http_status",
            CollectError::Refused { .. } => "refused",
            CollectError::Redirect { .. } => "redirect",
            CollectError::BodyTooLarge { .. } | CollectError::TooManyValues { .. } => "too_large",
            CollectError::Overloaded { .. } => "overload",
            CollectError::BadUrl { .. } => "config",
            CollectError::Json { .. }
            | CollectError::NoMatch { .. }
            | CollectError::NotNumber { .. }
            | CollectError::Ambiguous { .. } => "bad_response",
            CollectError::AllPodsFailed { first, .. } => first.reason(),
            CollectError::Routing { .. } => "config",
            CollectError::Cluster(e) => e.label(),
            CollectError::NotFinite { .. } => "not_finite",
            CollectError::Prometheus { .. } => "backend",
            CollectError::EmptyResult { .. } | CollectError::NotOneValue { .. } => "no_data",
            CollectError::Aws { .. } => "aws",
            CollectError::Timeout { .. } => "timeout",
            CollectError::NoReplicas => "no_replicas",
        }
    }
}
