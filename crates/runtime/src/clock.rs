//! The one injected clock every Tidal component reads `now` from.
//!
//! `tidal-core` never reads a clock: callers pass `now` in. This is where callers get it.
//! There are three sources, behind one cheap-to-clone [`Clock`]:
//!
//! - [`Clock::system`]: production. Reads like wall time (it is anchored to the wall clock when
//!   created) but advances with the monotonic clock, so a step of the system clock (NTP, a VM
//!   resume) neither makes a stale value look fresh nor expires every value at once. It follows
//!   tokio's clock, so a test that pauses and advances tokio time moves it too.
//! - [`Clock::wall`]: the wall clock read each time, for comparisons with timestamps written by
//!   other machines (Lease renew times, pod start times) where agreeing with them matters more
//!   than immunity to steps.
//! - [`Clock::manual`]: set and advanced by hand; the simulator's virtual time and unit tests.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidal_core::Timestamp;

/// A source of "now" shared by a component's loops, adapters and metrics.
#[derive(Clone)]
pub struct Clock {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Monotonic {
        anchor_wall: Timestamp,
        anchor: tokio::time::Instant,
    },
    Wall,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// Wall time at creation, advanced by the monotonic (tokio) clock from then on.
    pub fn system() -> Self {
        Self {
            source: Source::Monotonic {
                anchor_wall: wall_now(),
                anchor: tokio::time::Instant::now(),
            },
        }
    }

    /// The wall clock, read at every call.
    pub fn wall() -> Self {
        Self {
            source: Source::Wall,
        }
    }

    /// A clock that stands at `start` until [`Clock::set`] or [`Clock::advance`] moves it.
    /// Clones share the same time.
    pub fn manual(start: Timestamp) -> Self {
        Self {
            source: Source::Manual(Arc::new(AtomicI64::new(start.as_millis()))),
        }
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match &self.source {
            Source::Monotonic {
                anchor_wall,
                anchor,
            } => *anchor_wall + anchor.elapsed(),
            Source::Wall => wall_now(),
            Source::Manual(ms) => Timestamp::from_millis(ms.load(Ordering::Acquire)),
        }
    }

    /// Whether this clock only moves when told to ([`Clock::manual`]).
    pub fn is_manual(&self) -> bool {
        matches!(self.source, Source::Manual(_))
    }

    /// Moves a manual clock to `to` (backwards too: tests of clock steps need it).
    /// Returns false, and changes nothing, on a clock that is not manual.
    pub fn set(&self, to: Timestamp) -> bool {
        match &self.source {
            Source::Manual(ms) => {
                ms.store(to.as_millis(), Ordering::Release);
                true
            }
            _ => false,
        }
    }

    /// Moves a manual clock forward by `by`. Returns false, and changes nothing, on a clock
    /// that is not manual.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.source {
            Source::Manual(_) => self.set(self.now() + by),
            _ => false,
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.source {
            Source::Monotonic { .. } => "system",
            Source::Wall => "wall",
            Source::Manual(_) => "manual",
        };
        f.debug_struct("Clock")
            .field("kind", &kind)
            .field("now", &self.now())
            .finish()
    }
}

fn wall_now() -> Timestamp {
    // Before 1970 only on a badly broken machine; the epoch is then the honest floor.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Timestamp::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = Clock::manual(Timestamp::from_secs(100));
        let other = clock.clone();
        assert_eq!(clock.now(), Timestamp::from_secs(100));
        assert!(other.advance(Duration::from_secs(5)));
        assert_eq!(clock.now(), Timestamp::from_secs(105));
        assert!(clock.set(Timestamp::from_secs(90)));
        assert_eq!(other.now(), Timestamp::from_secs(90));
        assert!(clock.is_manual());
    }

    #[test]
    fn only_a_manual_clock_can_be_set() {
        let clock = Clock::wall();
        assert!(!clock.set(Timestamp::from_secs(1)));
        assert!(!clock.advance(Duration::from_secs(1)));
        assert!(clock.now() > Timestamp::from_secs(1_700_000_000));
        assert!(!Clock::system().is_manual());
    }

    #[tokio::test(start_paused = true)]
    async fn the_system_clock_follows_tokio_time_from_a_wall_anchor() {
        let clock = Clock::system();
        let start = clock.now();
        assert!(start > Timestamp::from_secs(1_700_000_000), "{start:?}");
        tokio::time::advance(Duration::from_secs(300)).await;
        assert_eq!(clock.now().since(start), Duration::from_secs(300));
    }
}
