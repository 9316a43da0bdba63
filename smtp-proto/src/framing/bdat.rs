//! BDAT chunk framing (RFC 3030 2): exactly `size` octets follow the command line, with no
//! dot handling and no line structure.

use bytes::Bytes;

use super::InputQueue;

/// Counts one chunk down, handing out zero-copy slices of the queued segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkCountdown {
    remaining: u64,
}

impl ChunkCountdown {
    /// A chunk of `size` octets.
    pub(crate) fn new(size: u64) -> Self {
        ChunkCountdown { remaining: size }
    }

    /// Octets still expected.
    #[cfg(test)]
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }

    /// `true` when the whole chunk has been taken.
    pub(crate) fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// The next piece of the chunk from the front of `queue`, if any input is queued.
    pub(crate) fn take(&mut self, queue: &mut InputQueue) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let front_len = queue.front()?.len();
        let n = usize::try_from(self.remaining).map_or(front_len, |r| r.min(front_len));
        let piece = queue.split_front(n);
        self.remaining -= piece.len() as u64;
        Some(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_across_segments() {
        let mut q = InputQueue::default();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::from_static(b"defQUIT\r\n"));
        let mut c = ChunkCountdown::new(5);
        assert_eq!(&c.take(&mut q).unwrap()[..], b"abc");
        assert_eq!(&c.take(&mut q).unwrap()[..], b"de");
        assert!(c.is_done() && c.take(&mut q).is_none());
        assert_eq!(q.len(), 7);
    }

    #[test]
    fn huge_chunk_takes_what_is_there() {
        let mut q = InputQueue::default();
        q.push(Bytes::from_static(b"xyz"));
        let mut c = ChunkCountdown::new(u64::MAX);
        assert_eq!(c.take(&mut q).map(|b| b.len()), Some(3));
        assert_eq!(c.remaining(), u64::MAX - 3);
        assert!(c.take(&mut q).is_none());
    }
}
