//! Framing: finding the boundaries of command lines, DATA bodies and BDAT chunks in the
//! queued input, before any parsing (SANS-IO 7.1 layer 2).
//!
//! Input arrives as a queue of [`Bytes`] segments exactly as the driver received them. The
//! framers cut lines and body pieces out of those segments with `split_to` / `slice`, so a
//! line or a body chunk that lies within one segment is never copied. Only a command line
//! that straddles two segments is copied, into a buffer bounded by the line limit.

pub(crate) mod bdat;
pub(crate) mod data;
pub(crate) mod line;
pub(crate) mod stuff;

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes};

/// The received but not yet framed input: segments in arrival order.
#[derive(Debug, Default)]
pub(crate) struct InputQueue {
    segments: VecDeque<Bytes>,
    len: usize,
}

impl InputQueue {
    /// Queues one received segment (empty segments are dropped).
    pub(crate) fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.segments.push_back(data);
        }
    }

    /// Total queued octets.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first segment, never empty.
    pub(crate) fn front(&self) -> Option<&Bytes> {
        self.segments.front()
    }

    /// Removes and returns the first segment.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let seg = self.segments.pop_front()?;
        self.len -= seg.len();
        Some(seg)
    }

    /// Removes the first `n` octets of the first segment and returns them (zero-copy).
    /// `n` is clamped to the segment's length.
    pub(crate) fn split_front(&mut self, n: usize) -> Bytes {
        let Some(front) = self.segments.front_mut() else {
            return Bytes::new();
        };
        let n = n.min(front.len());
        let head = if n == front.len() {
            let whole = core::mem::take(front);
            self.segments.pop_front();
            whole
        } else {
            front.split_to(n)
        };
        self.len -= head.len();
        head
    }

    /// Drops the first `n` octets of the first segment (clamped).
    pub(crate) fn advance_front(&mut self, n: usize) {
        let Some(front) = self.segments.front_mut() else {
            return;
        };
        let n = n.min(front.len());
        if n == front.len() {
            self.segments.pop_front();
        } else {
            front.advance(n);
        }
        self.len -= n;
    }

    /// Drops everything; returns how many octets were dropped.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.len;
        self.segments.clear();
        self.len = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_accounts_lengths() {
        let mut q = InputQueue::default();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::new());
        q.push(Bytes::from_static(b"de"));
        assert_eq!(q.len(), 5);
        assert_eq!(&q.split_front(2)[..], b"ab");
        assert_eq!(q.len(), 3);
        assert_eq!(&q.split_front(9)[..], b"c");
        q.advance_front(1);
        assert_eq!(q.len(), 1);
        assert_eq!(q.clear(), 1);
        assert!(q.is_empty() && q.front().is_none() && q.pop().is_none());
    }
}
