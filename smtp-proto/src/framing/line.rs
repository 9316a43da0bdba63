//! Bounded command-line framing.
//!
//! [`LineFramer`] finds the next LF in the queued segments with memchr and hands out the line
//! (terminator included). It never holds more than `max` octets: a line that grows past the
//! limit is reported once as [`Frame::TooLong`] and then skipped up to the next LF without
//! being stored ("framing continues", as imap-codec's Fragmentizer does), so a megabyte line
//! costs no memory however TCP splits it, and the limit holds identically across reads.

use bytes::{Bytes, BytesMut};

use super::InputQueue;

/// What [`LineFramer::next_line`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete line with its terminator (`\n`, normally preceded by `\r`).
    Line(Bytes),
    /// The line exceeds the limit; its octets so far were dropped and the rest will be
    /// skipped up to the next LF without another report.
    TooLong,
    /// No complete line yet.
    Incomplete,
}

/// Cuts lines out of an [`InputQueue`], zero-copy when a line lies within one segment.
#[derive(Debug, Default)]
pub(crate) struct LineFramer {
    /// The start of a line that straddles segments; never longer than the limit.
    partial: BytesMut,
    /// Skipping the rest of an overlong line.
    discarding: bool,
}

impl LineFramer {
    /// Octets held outside the queue (the start of a straddling line).
    pub(crate) fn held(&self) -> usize {
        self.partial.len()
    }

    /// Forgets any partial line and any skip in progress (STARTTLS, close).
    pub(crate) fn reset(&mut self) -> usize {
        let n = self.partial.len();
        self.partial.clear();
        self.discarding = false;
        n
    }

    /// The next line of at most `max` octets including its terminator.
    pub(crate) fn next_line(&mut self, queue: &mut InputQueue, max: usize) -> Frame {
        loop {
            let Some(front) = queue.front() else {
                return Frame::Incomplete;
            };
            let lf = memchr::memchr(b'\n', front);
            if self.discarding {
                match lf {
                    Some(i) => {
                        queue.advance_front(i + 1);
                        self.discarding = false;
                        continue;
                    }
                    None => {
                        queue.pop();
                        continue;
                    }
                }
            }
            match lf {
                Some(i) => {
                    let total = self.partial.len() + i + 1;
                    if total > max {
                        self.partial.clear();
                        queue.advance_front(i + 1);
                        return Frame::TooLong;
                    }
                    let tail = queue.split_front(i + 1);
                    if self.partial.is_empty() {
                        return Frame::Line(tail);
                    }
                    self.partial.extend_from_slice(&tail);
                    return Frame::Line(self.partial.split().freeze());
                }
                None => {
                    // Without an LF the line needs at least one more octet, so reaching `max`
                    // here already means it cannot fit.
                    if self.partial.len() + front.len() >= max {
                        self.partial.clear();
                        queue.pop();
                        self.discarding = true;
                        return Frame::TooLong;
                    }
                    if let Some(seg) = queue.pop() {
                        self.partial.extend_from_slice(&seg);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn frames(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
        let mut q = InputQueue::default();
        let mut f = LineFramer::default();
        let mut out = Vec::new();
        for c in chunks {
            q.push(Bytes::copy_from_slice(c));
            loop {
                let fr = f.next_line(&mut q, max);
                if fr == Frame::Incomplete {
                    break;
                }
                out.push(fr);
                assert!(q.len() + f.held() <= q.len() + max);
            }
            assert!(f.held() < max);
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn splits_lines_within_and_across_segments() {
        let want = [line("NOOP\r\n"), line("QUIT\r\n")];
        assert_eq!(frames(&[b"NOOP\r\nQUIT\r\n"], 10), want);
        assert_eq!(frames(&[b"NO", b"OP\r", b"\nQUIT", b"\r\n"], 10), want);
    }

    #[test]
    fn line_exactly_at_limit_is_accepted() {
        assert_eq!(frames(&[b"12345678\r\n"], 10), [line("12345678\r\n")]);
        assert_eq!(
            frames(&[b"1234", b"5678\r", b"\n"], 10),
            [line("12345678\r\n")]
        );
        assert_eq!(
            frames(&[b"123456789\r\nOK\r\n"], 10),
            [Frame::TooLong, line("OK\r\n")]
        );
    }

    #[test]
    fn overlong_line_reported_once_whatever_the_split() {
        let long = [b'x'; 100];
        let mut input = long.to_vec();
        input.extend_from_slice(b"\r\nNOOP\r\n");
        let want = [Frame::TooLong, line("NOOP\r\n")];
        assert_eq!(frames(&[&input], 20), want);
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frames(&bytewise, 20), want);
        let sevens: Vec<&[u8]> = input.chunks(7).collect();
        assert_eq!(frames(&sevens, 20), want);
    }
}
