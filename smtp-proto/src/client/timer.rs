//! Deadlines of the client session: one [`Timer`] per kind of wait, in a fixed table.

use super::config::Timeouts;
use crate::Instant;
use core::time::Duration;

/// What the session is waiting for when a deadline passes (RFC 5321 4.5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The `220` greeting.
    Greeting,
    /// The reply to `MAIL`.
    Mail,
    /// The reply to `RCPT`.
    Rcpt,
    /// The `354` to `DATA`.
    DataInitiation,
    /// Body bytes not taken by `poll_transmit`, or the reply to a non-last `BDAT`.
    DataBlock,
    /// The reply to the end of data or `BDAT LAST`.
    DataTermination,
    /// Any other reply.
    Command,
}

impl Timer {
    pub(crate) fn duration(self, t: &Timeouts) -> Duration {
        match self {
            Timer::Greeting => t.greeting,
            Timer::Mail => t.mail,
            Timer::Rcpt => t.rcpt,
            Timer::DataInitiation => t.data_initiation,
            Timer::DataBlock => t.data_block,
            Timer::DataTermination => t.data_termination,
            Timer::Command => t.command,
        }
    }
}

/// The session's deadlines (quinn's `TimerTable`, cut to what a client needs): the reply
/// awaited from the server, and body bytes the adapter has not taken yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    reply: Option<(Timer, Instant)>,
    output: Option<Instant>,
}

impl TimerTable {
    pub(crate) fn set_reply(&mut self, timer: Timer, at: Instant) {
        self.reply = Some((timer, at));
    }

    pub(crate) fn stop_reply(&mut self) {
        self.reply = None;
    }

    pub(crate) fn set_output(&mut self, at: Instant) {
        self.output = Some(at);
    }

    pub(crate) fn output(&self) -> Option<Instant> {
        self.output
    }

    pub(crate) fn stop_output(&mut self) {
        self.output = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.reply = None;
        self.output = None;
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        match (self.reply.map(|r| r.1), self.output) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The timer whose deadline is at or before `now`, if any.
    pub(crate) fn expired(&self, now: Instant) -> Option<Timer> {
        if self.output.is_some_and(|d| d <= now) {
            return Some(Timer::DataBlock);
        }
        self.reply.filter(|r| r.1 <= now).map(|r| r.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn earliest_and_expired() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        let at = |s| Instant::ZERO + Duration::from_secs(s);
        t.set_reply(Timer::Rcpt, at(300));
        t.set_output(at(180));
        assert_eq!(t.next(), Some(at(180)));
        assert_eq!(t.expired(at(179)), None);
        assert_eq!(t.expired(at(180)), Some(Timer::DataBlock));
        t.stop_output();
        assert_eq!(t.output(), None);
        assert_eq!(t.expired(at(400)), Some(Timer::Rcpt));
        t.stop_all();
        assert_eq!(t.next(), None);
    }

    #[test]
    fn rfc_defaults() {
        let d = Timeouts::default();
        assert_eq!(Timer::DataInitiation.duration(&d), Duration::from_secs(120));
        assert_eq!(
            Timer::DataTermination.duration(&d),
            Duration::from_secs(600)
        );
        assert_eq!(Timer::DataBlock.duration(&d), Duration::from_secs(180));
        assert_eq!(Timer::Greeting.duration(&d), Duration::from_secs(300));
    }
}
