//! The connection's clock and its one timer, armed on the session's `poll_timeout`.

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::{Runtime, Timer};

/// Maps the core's [`smtp_proto::Instant`] (time since an origin) onto the runtime's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
    /// The runtime's `now` (a test clock may run apart from the system's).
    now: fn() -> Instant,
}

impl Clock {
    /// A clock of runtime `R` whose origin is now.
    pub(crate) fn start<R: Runtime>() -> Self {
        Clock {
            origin: R::now(),
            now: R::now,
        }
    }

    /// The current time as the core sees it.
    pub(crate) fn now(&self) -> smtp_proto::Instant {
        smtp_proto::Instant::from_duration((self.now)().saturating_duration_since(self.origin))
    }

    /// The runtime instant of the core's `at`.
    fn to_runtime(self, at: smtp_proto::Instant) -> Instant {
        // A deadline too far to represent is the same as none at all for a connection.
        self.origin
            .checked_add(at.as_duration())
            .unwrap_or_else(|| (self.now)() + Duration::from_secs(86_400 * 365))
    }
}

/// A timer that is re-armed only when the deadline changes (quinn's `drive_timer`): resetting
/// a runtime timer touches its timer wheel, so doing it on every loop turn would cost.
#[derive(Debug)]
pub(crate) struct SessionTimer<R: Runtime> {
    clock: Clock,
    deadline: Option<smtp_proto::Instant>,
    /// Made on the first deadline.
    timer: Option<R::Timer>,
}

impl<R: Runtime> SessionTimer<R> {
    pub(crate) fn new(clock: Clock) -> Self {
        SessionTimer {
            clock,
            deadline: None,
            timer: None,
        }
    }

    /// Arms the timer on `deadline` (`None`: no deadline).
    pub(crate) fn set(&mut self, deadline: Option<smtp_proto::Instant>) {
        if deadline != self.deadline {
            self.deadline = deadline;
            if let Some(at) = deadline {
                let at = self.clock.to_runtime(at);
                match self.timer.as_mut() {
                    Some(timer) => timer.reset(at),
                    None => self.timer = Some(R::timer(at)),
                }
            }
        }
    }

    /// Ready when the armed deadline passes; never while no deadline is armed. After it
    /// fires, the caller calls the session's `handle_timeout` and re-arms from `poll_timeout`.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.deadline.is_none() {
            return Poll::Pending;
        }
        let Some(timer) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        match timer.poll_fired(cx) {
            Poll::Ready(()) => {
                // Fired: forget it so the next `set` re-arms even for the same instant.
                self.deadline = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
