//! The DATA body decoder: dot-unstuffing and end-of-data detection (RFC 5321 4.5.2, 4.1.1.4).
//!
//! The decoder scans the queued segments with `memchr2` for CR and LF only; everything in
//! between is passed on as a slice of the received segment (no copy). A tiny [`Carry`] state
//! spans segment boundaries. A stuffed dot is dropped by ending one slice before it and
//! starting the next after it. Only `<CRLF>.<CRLF>` ends the body: a bare CR or LF never
//! starts a line for the purpose of dot handling, so none of the "SMTP smuggling" variants
//! (`<LF>.<LF>`, `<CR>.<CR>`, `<CRLF>.<LF>`, ...) can end a message early.

use bytes::Bytes;

use super::InputQueue;
use crate::Status;

/// What the server does with a bare CR or a bare LF inside a DATA body (RFC 5321 2.3.8 forbids
/// them; the 2023 "SMTP smuggling" attacks use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BareLineEndingPolicy {
    /// Keep reading to the real end of data, then refuse the message with `550 5.6.0`
    /// (the default). The application sees `MessageAborted` at the first bare CR/LF.
    #[default]
    Reject,
    /// Turn each bare CR and bare LF into CRLF. The line after it still gets no dot
    /// handling, so it can never end the message.
    Normalize,
    /// Pass the octets through unchanged (for a transparent proxy).
    Pass,
}

/// A piece of decoded body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Unstuffed content.
    Body(Bytes),
    /// The first bare CR or LF under [`BareLineEndingPolicy::Reject`]; no more `Body` follows.
    BareLineEnding,
}

/// Whether the consumer of pieces wants more content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep delivering body pieces.
    Continue,
    /// Stop delivering; keep scanning for the end of data.
    Discard,
}

/// Where the scanner stands relative to line structure; spans segment boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carry {
    /// At the start of a line (after CRLF, or at the start of the body).
    LineStart,
    /// A line started with `.`; the dot is dropped whatever follows.
    Dot,
    /// A line started with `.\r`; both held back (the end of data if `\n` follows).
    DotCr,
    /// Inside a line; the last octet was not CR.
    Mid,
    /// Inside a line; the last octet (already passed on) was CR.
    Cr,
}

const CR: Bytes = Bytes::from_static(b"\r");
const LF: Bytes = Bytes::from_static(b"\n");
const CRLF: Bytes = Bytes::from_static(b"\r\n");

/// Streaming DATA decoder.
#[derive(Debug)]
pub(crate) struct DataDecoder {
    carry: Carry,
    policy: BareLineEndingPolicy,
    discard: bool,
    bare_seen: bool,
}

impl DataDecoder {
    /// A decoder at the start of a body.
    pub(crate) fn new(policy: BareLineEndingPolicy) -> Self {
        DataDecoder {
            carry: Carry::LineStart,
            policy,
            discard: false,
            bare_seen: false,
        }
    }

    /// `true` once a bare CR or LF was seen.
    pub(crate) fn bare_line_ending_seen(&self) -> bool {
        self.bare_seen
    }

    /// Decodes queued input, calling `sink` with each piece in order. Returns `Complete` after
    /// consuming the final `.\r\n`, leaving what follows in the queue.
    pub(crate) fn decode(
        &mut self,
        queue: &mut InputQueue,
        sink: &mut impl FnMut(Piece) -> Flow,
    ) -> Status<()> {
        while let Some(seg) = queue.front() {
            let seg = seg.clone();
            match self.segment(&seg, sink) {
                Some(used) => {
                    queue.advance_front(used);
                    return Status::Complete(());
                }
                None => {
                    queue.pop();
                }
            }
        }
        Status::Incomplete
    }

    fn emit(&mut self, sink: &mut impl FnMut(Piece) -> Flow, piece: Bytes) {
        if !self.discard && !piece.is_empty() && sink(Piece::Body(piece)) == Flow::Discard {
            self.discard = true;
        }
    }

    fn run(&mut self, sink: &mut impl FnMut(Piece) -> Flow, seg: &Bytes, a: usize, b: usize) {
        if a < b && !self.discard && sink(Piece::Body(seg.slice(a..b))) == Flow::Discard {
            self.discard = true;
        }
    }

    /// Handles a bare CR or LF; returns `true` when the policy wants a replacement piece.
    fn bare(&mut self, sink: &mut impl FnMut(Piece) -> Flow) -> bool {
        let first = !self.bare_seen;
        self.bare_seen = true;
        match self.policy {
            BareLineEndingPolicy::Reject => {
                if first && !self.discard {
                    sink(Piece::BareLineEnding);
                }
                self.discard = true;
                false
            }
            BareLineEndingPolicy::Normalize => true,
            BareLineEndingPolicy::Pass => false,
        }
    }

    /// Scans one segment. `Some(n)`: the end of data was found and `n` octets were used.
    fn segment(&mut self, seg: &Bytes, sink: &mut impl FnMut(Piece) -> Flow) -> Option<usize> {
        let len = seg.len();
        let mut pos = 0;
        let mut run_start = 0;
        let mut slow_until = 0;
        while pos < len {
            // Fast path: skip whole blocks in which every CR/LF is a CRLF pair and no line
            // starts with a dot; nothing in them changes the output or the carry beyond
            // what their last octet says.
            let prev = match self.carry {
                Carry::Cr => Some(b'\r'),
                Carry::LineStart => Some(b'\n'),
                Carry::Mid => Some(0),
                _ => None,
            };
            if let (Some(first_prev), true) = (prev, pos >= slow_until) {
                let start = pos;
                while pos + BLOCK <= len {
                    // The octets before the block: the segment itself, shifted by one, except
                    // at the segment's start where the carry stands in for the missing octet.
                    let clean = if pos == 0 {
                        let mut before = [0u8; BLOCK];
                        before[0] = first_prev;
                        before[1..].copy_from_slice(&seg[..BLOCK - 1]);
                        clean_block(&before, &seg[..BLOCK])
                    } else {
                        clean_block(&seg[pos - 1..pos - 1 + BLOCK], &seg[pos..pos + BLOCK])
                    };
                    if !clean {
                        // Walk this block octet by octet; retrying the fast path at every
                        // line of it would check the same dirty octets again and again.
                        slow_until = pos + BLOCK;
                        break;
                    }
                    pos += BLOCK;
                }
                if pos > start {
                    self.carry = match seg[pos - 1] {
                        b'\r' => Carry::Cr,
                        // A clean block has no bare LF: this one ended a CRLF.
                        b'\n' => Carry::LineStart,
                        _ => Carry::Mid,
                    };
                    if pos >= len {
                        break;
                    }
                }
            }
            let b = seg[pos];
            match self.carry {
                Carry::LineStart => {
                    if b == b'.' {
                        self.run(sink, seg, run_start, pos);
                        pos += 1;
                        run_start = pos;
                        self.carry = Carry::Dot;
                    } else {
                        self.carry = Carry::Mid;
                    }
                }
                Carry::Dot => {
                    if b == b'\r' {
                        pos += 1;
                        run_start = pos;
                        self.carry = Carry::DotCr;
                    } else {
                        // A stuffed dot (RFC 5321 4.5.2). A bare LF right after it is handled
                        // as a bare LF in the middle of a line.
                        self.carry = Carry::Mid;
                    }
                }
                Carry::DotCr => {
                    if b == b'\n' {
                        return Some(pos + 1);
                    }
                    // `.` + bare CR: the dot was stuffing, the CR is content and bare.
                    if self.bare(sink) {
                        self.emit(sink, CRLF);
                    } else if self.policy == BareLineEndingPolicy::Pass {
                        self.emit(sink, CR);
                    }
                    self.carry = Carry::Mid;
                }
                Carry::Cr => {
                    if b == b'\n' {
                        pos += 1;
                        self.carry = Carry::LineStart;
                    } else {
                        // The CR (already passed on) was bare. Content before it goes out
                        // first, so that the cut does not depend on segment boundaries.
                        if self.policy != BareLineEndingPolicy::Pass {
                            self.run(sink, seg, run_start, pos);
                            run_start = pos;
                        }
                        if self.bare(sink) {
                            self.emit(sink, LF);
                        }
                        self.carry = Carry::Mid;
                    }
                }
                Carry::Mid => match memchr::memchr2(b'\r', b'\n', &seg[pos..]) {
                    None => pos = len,
                    Some(k) => {
                        let p = pos + k;
                        if seg[p] == b'\r' {
                            self.carry = Carry::Cr;
                        } else if self.policy != BareLineEndingPolicy::Pass {
                            self.run(sink, seg, run_start, p);
                            run_start = p;
                            if self.bare(sink) {
                                self.emit(sink, CR);
                            }
                        } else {
                            self.bare(sink);
                        }
                        pos = p + 1;
                    }
                },
            }
        }
        self.run(sink, seg, run_start, len);
        None
    }
}

/// Octets checked at once by the fast path: large enough to amortise the loop and for the
/// compiler to vectorise it, small enough to stay in L1.
const BLOCK: usize = 128;

/// `true` when, in `block` (with `before[i]` the octet before `block[i]`), every LF follows
/// a CR, every CR is followed by an LF (a CR in the last position is checked against the next
/// octet through the carry), and no line starts with a dot. Branch-free over two equal-length
/// arrays so that it compiles to SIMD compares (one pass; a separate memmem pass for dot
/// lines measured slower).
#[inline]
fn clean_block(before: &[u8], block: &[u8]) -> bool {
    let (Ok(p), Ok(b)) = (
        <&[u8; BLOCK]>::try_from(before),
        <&[u8; BLOCK]>::try_from(block),
    ) else {
        return false;
    };
    let mut bad = 0u8;
    for (&p, &c) in p.iter().zip(b.iter()) {
        bad |= (u8::from(c == b'\n') ^ u8::from(p == b'\r'))
            | (u8::from(p == b'\n') & u8::from(c == b'.'));
    }
    bad == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Decodes `input` split into `chunks` pieces; returns the body, whether it ended, the
    /// leftover input and whether a BareLineEnding piece came.
    fn decode(
        input: &[u8],
        splits: &[usize],
        policy: BareLineEndingPolicy,
    ) -> (Vec<u8>, bool, Vec<u8>, bool) {
        let mut q = InputQueue::default();
        let mut d = DataDecoder::new(policy);
        let mut body = Vec::new();
        let mut flagged = false;
        let mut done = false;
        let mut last = 0;
        let mut points: Vec<usize> = splits
            .iter()
            .copied()
            .filter(|&s| s < input.len())
            .collect();
        points.sort_unstable();
        points.push(input.len());
        for p in points {
            if p < last {
                continue;
            }
            q.push(Bytes::copy_from_slice(&input[last..p]));
            last = p;
            if !done {
                let st = d.decode(&mut q, &mut |piece| {
                    match piece {
                        Piece::Body(b) => body.extend_from_slice(&b),
                        Piece::BareLineEnding => flagged = true,
                    }
                    Flow::Continue
                });
                done = st == Status::Complete(());
            }
        }
        let mut rest = Vec::new();
        while let Some(s) = q.pop() {
            rest.extend_from_slice(&s);
        }
        (body, done, rest, flagged)
    }

    fn all_splits(input: &[u8], policy: BareLineEndingPolicy) -> (Vec<u8>, bool, Vec<u8>, bool) {
        let whole = decode(input, &[], policy);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(decode(input, &bytewise, policy), whole, "bytewise");
        for i in 1..input.len() {
            assert_eq!(decode(input, &[i], policy), whole, "split at {i}");
        }
        whole
    }

    #[test]
    fn unstuffs_and_ends_on_crlf_dot_crlf() {
        let (body, done, rest, _) = all_splits(
            b".first\r\n..two\r\nx.y\r\n.\r\nMAIL FROM:<a@b>\r\n",
            BareLineEndingPolicy::Reject,
        );
        assert!(done);
        assert_eq!(body, b"first\r\n.two\r\nx.y\r\n");
        assert_eq!(rest, b"MAIL FROM:<a@b>\r\n");
    }

    #[test]
    fn empty_body() {
        let (body, done, rest, _) = all_splits(b".\r\nQUIT\r\n", BareLineEndingPolicy::Reject);
        assert!(done && body.is_empty());
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn smuggling_variants_never_end_data() {
        for end in [
            &b"\n.\n"[..],
            b"\n.\r\n",
            b"\r\n.\n",
            b"\r.\r\n",
            b"\r\n.\r",
            b"\r\n.\r\r\n",
            b"\r.\r",
        ] {
            let mut input = b"Subject: x\r\n\r\nhello".to_vec();
            input.extend_from_slice(end);
            input.extend_from_slice(b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n");
            for policy in [
                BareLineEndingPolicy::Reject,
                BareLineEndingPolicy::Normalize,
                BareLineEndingPolicy::Pass,
            ] {
                let (_, done, _, flagged) = all_splits(&input, policy);
                assert!(!done, "{end:?} ended data under {policy:?}");
                assert_eq!(flagged, policy == BareLineEndingPolicy::Reject, "{end:?}");
                let mut ended = input.clone();
                ended.extend_from_slice(b"\r\n.\r\n");
                let (body, done, rest, _) = all_splits(&ended, policy);
                assert!(done && rest.is_empty(), "{end:?} {policy:?}");
                if policy == BareLineEndingPolicy::Reject {
                    // What precedes the first bare CR/LF, then nothing.
                    assert!(body.starts_with(b"Subject: x\r\n\r\nhello"), "{end:?}");
                    assert!(b"Subject: x\r\n\r\nhello\r\n".starts_with(&body), "{end:?}");
                }
            }
        }
    }

    #[test]
    fn normalize_and_pass() {
        let input = b"a\nb\rc\r\n.\n\r\n.\r\nrest";
        let (body, done, rest, _) = all_splits(input, BareLineEndingPolicy::Normalize);
        assert!(done);
        assert_eq!(body, b"a\r\nb\r\nc\r\n\r\n\r\n");
        assert_eq!(rest, b"rest");
        let (body, done, _, _) = all_splits(input, BareLineEndingPolicy::Pass);
        assert!(done);
        assert_eq!(body, b"a\nb\rc\r\n\n\r\n");
        let (body, done, _, _) = all_splits(b"x\r\n.\r\r\n.\r\n", BareLineEndingPolicy::Normalize);
        assert!(done);
        assert_eq!(body, b"x\r\n\r\n\r\n");
    }

    /// A byte-at-a-time reference of the same rules, on input that contains its end.
    fn reference(input: &[u8], policy: BareLineEndingPolicy) -> (Vec<u8>, bool, Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut flagged = false;
        let mut i = 0;
        let mut line_start = true;
        let reject = policy == BareLineEndingPolicy::Reject;
        macro_rules! emit {
            ($b:expr) => {
                if !(reject && flagged) {
                    out.extend_from_slice($b);
                }
            };
        }
        while i < input.len() {
            if line_start {
                line_start = false;
                if input[i] == b'.' {
                    if input[i + 1..].starts_with(b"\r\n") {
                        return (out, true, input[i + 3..].to_vec(), flagged && reject);
                    }
                    i += 1;
                    if input.get(i) == Some(&b'\r') && input.get(i + 1) != Some(&b'\n') {
                        match policy {
                            BareLineEndingPolicy::Reject => {}
                            BareLineEndingPolicy::Normalize => emit!(b"\r\n"),
                            BareLineEndingPolicy::Pass => emit!(b"\r"),
                        }
                        flagged = true;
                        i += 1;
                    }
                    continue;
                }
            }
            let b = input[i];
            if b == b'\r' && input.get(i + 1) == Some(&b'\n') {
                emit!(b"\r\n");
                i += 2;
                line_start = true;
            } else if b == b'\r' {
                match policy {
                    BareLineEndingPolicy::Normalize => emit!(b"\r\n"),
                    _ => emit!(b"\r"),
                }
                flagged = true;
                i += 1;
            } else if b == b'\n' {
                match policy {
                    BareLineEndingPolicy::Reject => {}
                    BareLineEndingPolicy::Normalize => emit!(b"\r\n"),
                    BareLineEndingPolicy::Pass => emit!(b"\n"),
                }
                flagged = true;
                i += 1;
            } else {
                emit!(&[b]);
                i += 1;
            }
        }
        (out, false, Vec::new(), flagged && reject)
    }

    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b".".to_vec()),
            Just(b"\r\n.".to_vec()),
            Just(b"\r\n..".to_vec()),
            Just(b"\r\n.\r".to_vec()),
            Just(b"a".to_vec()),
            (1usize..300).prop_map(|n| {
                let mut v: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                v.extend_from_slice(b"\r\n");
                v
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// The block fast path and the byte-wise state machine agree with the reference,
        /// whatever the segment boundaries.
        #[test]
        fn decoder_matches_reference(
            frags in proptest::collection::vec(fragment(), 0..60),
            cuts in proptest::collection::vec(0usize..20_000, 0..8),
        ) {
            let mut input = frags.concat();
            input.extend_from_slice(b"\r\n.\r\nTAIL");
            for policy in [
                BareLineEndingPolicy::Reject,
                BareLineEndingPolicy::Normalize,
                BareLineEndingPolicy::Pass,
            ] {
                let want = reference(&input, policy);
                prop_assert_eq!(&decode(&input, &[], policy), &want);
                prop_assert_eq!(&decode(&input, &cuts, policy), &want);
            }
        }
    }

    #[test]
    fn one_piece_per_segment_without_dots() {
        let mut q = InputQueue::default();
        q.push(Bytes::from_static(
            b"line one\r\nline two\r\nline three\r\n",
        ));
        let mut d = DataDecoder::new(BareLineEndingPolicy::Reject);
        let mut n = 0;
        let st = d.decode(&mut q, &mut |_| {
            n += 1;
            Flow::Continue
        });
        assert!(st.is_incomplete());
        assert_eq!(n, 1);
    }
}
