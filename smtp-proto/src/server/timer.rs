//! Deadlines as values (quinn's `TimerTable`): the session never reads a clock; it keeps one
//! optional deadline per [`Timer`] and reports the earliest through `poll_timeout`.

use crate::Instant;

/// The session's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The held greeting is due ([`Timeouts::greeting_delay`](super::Timeouts::greeting_delay)).
    Greeting = 0,
    /// The peer must send something by then (command, data or SASL timeout, by state).
    Peer = 1,
    /// The whole session must end by then ([`Timeouts::session`](super::Timeouts::session)).
    Session = 2,
}

const COUNT: usize = 3;
const ALL: [Timer; COUNT] = [Timer::Greeting, Timer::Peer, Timer::Session];

/// One optional deadline per timer.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.deadlines[timer as usize] = at;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn clear(&mut self) {
        self.deadlines = [None; COUNT];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The first timer (in priority order) whose deadline is at or before `now`.
    pub(crate) fn expired(&self, now: Instant) -> Option<Timer> {
        ALL.into_iter()
            .find(|&t| self.get(t).is_some_and(|at| at <= now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn earliest_and_expired() {
        let t = |s| Instant::ZERO + Duration::from_secs(s);
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::Peer, Some(t(300)));
        table.set(Timer::Session, Some(t(100)));
        assert_eq!(table.next(), Some(t(100)));
        assert_eq!(table.expired(t(99)), None);
        assert_eq!(table.expired(t(100)), Some(Timer::Session));
        assert_eq!(table.expired(t(400)), Some(Timer::Peer));
        table.clear();
        assert_eq!(table.next(), None);
    }
}
