//! Tests of the VPA recommender math. Where a test says "upstream", the expected numbers
//! are those of kubernetes/autoscaler's own tests or hand-computed from its formulas for
//! the same sample stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aggregate;
mod checkpoint;
mod histogram;
mod oom;
mod props;
mod recommender;

use std::time::Duration;

use crate::Timestamp;

/// An arbitrary start, a whole number of days after the epoch plus 6 h.
pub(super) const T0: Timestamp = Timestamp::from_secs(1_700_006_400 + 6 * 3600);

pub(super) fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

pub(super) fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

pub(super) const MIB: f64 = 1024.0 * 1024.0;
pub(super) const GIB: f64 = 1024.0 * MIB;
