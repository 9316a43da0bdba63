//! Time as a value: the core never reads a clock.
//!
//! Adapters pick an origin (for example `std::time::Instant` at start-up) and pass the elapsed
//! time as an [`Instant`]. Tests and fuzzers drive a simulated clock the same way.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on a monotonic clock, measured from an origin the driver chooses.
///
/// ```
/// use core::time::Duration;
/// use smtp_proto::Instant;
/// let t0 = Instant::ZERO;
/// let t1 = t0 + Duration::from_secs(300);
/// assert_eq!(t1.saturating_duration_since(t0), Duration::from_secs(300));
/// assert_eq!(t0.saturating_duration_since(t1), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since_origin` after the origin.
    pub const fn from_duration(since_origin: Duration) -> Self {
        Instant(since_origin)
    }

    /// Time since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + d`, saturating at the far future instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }

    /// Converts a `std::time::Instant` given the origin the driver chose.
    #[cfg(feature = "std")]
    pub fn from_std(origin: std::time::Instant, now: std::time::Instant) -> Self {
        Instant(now.saturating_duration_since(origin))
    }

    /// Converts back to a `std::time::Instant` given the same origin.
    #[cfg(feature = "std")]
    pub fn to_std(self, origin: std::time::Instant) -> std::time::Instant {
        origin + self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}
