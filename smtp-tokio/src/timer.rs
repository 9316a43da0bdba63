//! One timer per connection, armed on the session's `poll_timeout`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant as TokioInstant, Sleep};

/// Maps the core's [`smtp_proto::Instant`] (time since an origin) onto tokio's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: TokioInstant,
}

impl Clock {
    /// A clock whose origin is now.
    pub(crate) fn start() -> Self {
        Clock {
            origin: TokioInstant::now(),
        }
    }

    /// The current time as the core sees it.
    pub(crate) fn now(&self) -> smtp_proto::Instant {
        smtp_proto::Instant::from_duration(
            TokioInstant::now().saturating_duration_since(self.origin),
        )
    }

    fn to_tokio(self, at: smtp_proto::Instant) -> TokioInstant {
        // A deadline too far to represent is the same as none at all for a connection.
        self.origin
            .checked_add(at.as_duration())
            .unwrap_or_else(|| TokioInstant::now() + std::time::Duration::from_secs(86_400 * 365))
    }
}

/// A sleep that is re-armed only when the deadline changes (quinn's `drive_timer`): resetting
/// a tokio `Sleep` touches the timer wheel, so doing it on every loop turn would cost.
#[derive(Debug)]
pub(crate) struct Timer {
    clock: Clock,
    deadline: Option<smtp_proto::Instant>,
    sleep: Pin<Box<Sleep>>,
}

impl Timer {
    pub(crate) fn new(clock: Clock) -> Self {
        Timer {
            clock,
            deadline: None,
            sleep: Box::pin(tokio::time::sleep_until(TokioInstant::now())),
        }
    }

    /// Arms the timer on `deadline` (`None`: no deadline).
    pub(crate) fn set(&mut self, deadline: Option<smtp_proto::Instant>) {
        if deadline != self.deadline {
            self.deadline = deadline;
            if let Some(at) = deadline {
                self.sleep.as_mut().reset(self.clock.to_tokio(at));
            }
        }
    }

    /// Completes when the armed deadline passes; never while no deadline is armed. After it
    /// fires, the caller calls the session's `handle_timeout` and re-arms from `poll_timeout`.
    pub(crate) fn expired(&mut self) -> Expired<'_> {
        Expired { timer: self }
    }
}

/// Future returned by [`Timer::expired`].
#[derive(Debug)]
pub(crate) struct Expired<'t> {
    timer: &'t mut Timer,
}

impl Future for Expired<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let timer = &mut *self.get_mut().timer;
        if timer.deadline.is_none() {
            return Poll::Pending;
        }
        match timer.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                // Fired: forget it so the next `set` re-arms even for the same instant.
                timer.deadline = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_deadline_and_not_without_one() {
        let clock = Clock::start();
        let mut timer = Timer::new(clock);
        // No deadline: never fires (the paused clock would auto-advance to any sleep).
        let idle = tokio::time::timeout(Duration::from_secs(3600), timer.expired()).await;
        assert!(idle.is_err());

        let deadline = clock.now() + Duration::from_secs(300);
        timer.set(Some(deadline));
        timer.expired().await;
        assert!(clock.now() >= deadline);
        // Fired once: pending again until re-armed.
        let again = tokio::time::timeout(Duration::from_secs(1), timer.expired()).await;
        assert!(again.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_replaces_a_later_one() {
        let clock = Clock::start();
        let mut timer = Timer::new(clock);
        timer.set(Some(clock.now() + Duration::from_secs(600)));
        let early = clock.now() + Duration::from_secs(10);
        timer.set(Some(early));
        timer.expired().await;
        let now = clock.now();
        assert!(now >= early && now < early + Duration::from_secs(1));
    }
}
