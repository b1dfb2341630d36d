//! GETting JSON from tenant-chosen endpoints within memory bounds.
//!
//! - A body may be at most `max_body_bytes` (default 1 MiB), enforced while reading: a
//!   declared `Content-Length` above it is refused before reading, an undeclared one is cut off
//!   at the limit.
//! - Every body is read under a reservation from one [`ByteBudget`] shared by all collections:
//!   the declared length (or the limit) before reading, then what parsing may allocate. When the
//!   budget is spent, collections wait for it (briefly) instead of adding to memory.
//! - Parsing builds one value per JSON node; a body with more than [`MAX_JSON_VALUES`] is
//!   refused before parsing, so a small body cannot multiply into a large tree.
//! - Errors say what was wrong (status, size, type, position), never what the body contained.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::CollectError;
use crate::outbound::{OutboundPolicy, refusal_of};

/// JSON values (objects, arrays, strings, numbers, literals) a body may hold.
pub const MAX_JSON_VALUES: usize = 50_000;
/// Upper estimate of what one parsed JSON value costs on the heap (the value, its map entry or
/// vector slot, its key and its string), reserved from the budget before parsing.
const BYTES_PER_JSON_VALUE: usize = 256;
/// How long a collection waits for memory before it gives up for this interval.
const BUDGET_WAIT: Duration = Duration::from_secs(5);

/// Bytes of response bodies (and their parsed form) in memory at once, across all collections.
#[derive(Clone, Debug)]
pub struct ByteBudget {
    permits: Arc<Semaphore>,
    total: usize,
}

/// Bytes held from a [`ByteBudget`]; returned when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl ByteBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes not reserved right now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Reserves `bytes`, waiting up to [`BUDGET_WAIT`] for other collections to release theirs.
    pub async fn reserve(&self, bytes: usize) -> Result<Reservation, CollectError> {
        let wanted = bytes.clamp(1, self.total);
        let wanted = u32::try_from(wanted).unwrap_or(u32::MAX);
        let acquire = self.permits.clone().acquire_many_owned(wanted);
        match tokio::time::timeout(BUDGET_WAIT, acquire).await {
            Ok(Ok(permit)) => Ok(Reservation { _permit: permit }),
            // The semaphore is never closed; treat it like a full budget if it were.
            Ok(Err(_)) | Err(_) => Err(CollectError::Overloaded {
                what: "memory for response bodies",
                waited: BUDGET_WAIT,
            }),
        }
    }
}

/// Limits on response bodies, shared by every collector.
#[derive(Clone, Debug)]
pub struct BodyLimits {
    /// Largest body read, in bytes.
    pub max_body_bytes: usize,
    /// Bytes of bodies in memory across all collections.
    pub budget: ByteBudget,
}

/// A response body held within the budget.
#[derive(Debug)]
pub struct Body {
    /// The HTTP status.
    pub status: u16,
    bytes: Vec<u8>,
    _reservation: Reservation,
}

/// GETs JSON through one HTTP client, within the policy and the limits.
#[derive(Clone, Debug)]
pub struct Fetcher {
    http: reqwest::Client,
    policy: Option<Arc<OutboundPolicy>>,
    limits: BodyLimits,
}

impl Fetcher {
    /// A fetcher over `http`. With a `policy`, literal addresses in URLs are checked here and
    /// `http` must resolve names through [`crate::outbound::PolicyResolver`].
    pub fn new(
        http: reqwest::Client,
        policy: Option<Arc<OutboundPolicy>>,
        limits: BodyLimits,
    ) -> Self {
        Self {
            http,
            policy,
            limits,
        }
    }

    /// GETs `url` with `query` parameters; refuses redirects and reads the body within limits.
    /// Non-success statuses are returned for the caller to judge (Prometheus explains errors in
    /// the body).
    pub async fn get(&self, url: &str, query: &[(&str, &str)]) -> Result<Body, CollectError> {
        let mut parsed = reqwest::Url::parse(url).map_err(|_| CollectError::BadUrl {
            url: url.to_string(),
        })?;
        if !query.is_empty() {
            parsed.query_pairs_mut().extend_pairs(query);
        }
        if let Some(policy) = &self.policy {
            policy
                .check_url(&parsed)
                .map_err(|refused| CollectError::Refused {
                    url: url.to_string(),
                    refused,
                })?;
        }
        let mut response = self
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| transport_error(url, e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(CollectError::Redirect {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let max = self.limits.max_body_bytes;
        let too_large = || CollectError::BodyTooLarge {
            url: url.to_string(),
            limit: max,
        };
        let declared = response
            .content_length()
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        if declared.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let expected = declared.unwrap_or(max);
        let reservation = self.limits.budget.reserve(expected).await?;
        let mut bytes = Vec::with_capacity(expected.min(64 * 1024));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(url, e))?
        {
            if bytes.len() + chunk.len() > expected {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Body {
            status: status.as_u16(),
            bytes,
            _reservation: reservation,
        })
    }

    /// Parses `body` as `T`, refusing bodies with more than [`MAX_JSON_VALUES`] values and
    /// reserving what the parsed form may take from the budget while it is built.
    pub async fn parse<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &Body,
    ) -> Result<T, CollectError> {
        let values = count_json_values(&body.bytes);
        if values > MAX_JSON_VALUES {
            return Err(CollectError::TooManyValues {
                url: url.to_string(),
                limit: MAX_JSON_VALUES,
            });
        }
        let _parsing = self
            .limits
            .budget
            .reserve(values.saturating_mul(BYTES_PER_JSON_VALUE))
            .await?;
        serde_json::from_slice(&body.bytes).map_err(|e| CollectError::Json {
            url: url.to_string(),
            problem: json_problem(&e),
        })
    }
}

fn transport_error(url: &str, error: reqwest::Error) -> CollectError {
    match refusal_of(&error) {
        Some(refused) => CollectError::Refused {
            url: url.to_string(),
            refused: refused.clone(),
        },
        None => CollectError::Http {
            url: url.to_string(),
            source: error,
        },
    }
}

/// What is wrong with a body that did not parse, without quoting it (serde's messages for
/// unexpected values quote them).
fn json_problem(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Syntax => "is not valid JSON",
        serde_json::error::Category::Eof => "ends in the middle of a JSON value",
        serde_json::error::Category::Data => "does not have the expected structure",
        serde_json::error::Category::Io => "could not be read",
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}

/// How many values (objects, arrays, strings, numbers, literals) a JSON text holds, counted
/// without parsing it: one per container opened, one per string, one per run of
/// number/literal characters. An over-count on invalid JSON only makes the check stricter.
pub fn count_json_values(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_scalar = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                in_scalar = false;
                count += 1;
            }
            b'{' | b'[' => {
                in_scalar = false;
                count += 1;
            }
            b'}' | b']' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => in_scalar = false,
            _ => {
                if !in_scalar {
                    in_scalar = true;
                    count += 1;
                }
            }
        }
    }
    count
}

#[cfg(test)]
impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests;
