//! The DATA body decoder: dot-unstuffing and end-of-data detection (RFC 5321 4.5.2, 4.1.1.4).
//!
//! The decoder finds the places that need work (lines that start with a dot, bare CR or LF)
//! with a block check that compiles to SIMD compares, or with `memchr::memmem` for `<CRLF>.`
//! once bare CR/LF no longer matter, and passes everything in between on as a slice of the
//! received segment (no copy); a byte-wise state machine handles each such place. A tiny [`Carry`]
//! state spans segment boundaries. A stuffed dot is dropped by ending one slice before it and
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

    /// `true` once a bare CR or LF was seen while it mattered: not tracked under
    /// [`BareLineEndingPolicy::Pass`] or after the consumer stopped the delivery.
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
    ///
    /// Two paths share the work. [`DataDecoder::skip`] jumps over stretches that the
    /// byte-wise state machine below would walk without changing anything but its position:
    /// it starts only in the middle of a line (`Carry::Mid`) and stops at the next line that
    /// starts with a dot, or at a block that may hold a bare CR or LF (when those matter).
    /// The state machine then handles that place octet by octet, and hands back as soon as
    /// it is in the middle of a line again. Runs of content go out as slices of `seg` that
    /// are cut only where octets are dropped (a stuffed dot) or replaced.
    fn segment(&mut self, seg: &Bytes, sink: &mut impl FnMut(Piece) -> Flow) -> Option<usize> {
        let len = seg.len();
        let mut pos = 0;
        let mut run_start = 0;
        // The state machine walks at least up to here (a block that may hold a bare CR/LF).
        let mut slow_until = 0;
        // Up to here the fast path found no bare CR/LF, only dot lines (see `skip`).
        let mut dot_lines_until = 0;
        while pos < len {
            if self.carry == Carry::Mid && pos >= slow_until {
                match self.skip(seg, pos, &mut dot_lines_until) {
                    Skip::To(next, carry) => {
                        pos = next;
                        self.carry = carry;
                    }
                    Skip::Walk(from) => {
                        if from > pos {
                            pos = from;
                            self.carry = carry_after(seg, pos);
                        }
                        slow_until = from + BLOCK;
                    }
                }
                continue;
            }
            let Some(&b) = seg.get(pos) else {
                break;
            };
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
                Carry::Mid => {
                    match memchr::memchr2(b'\r', b'\n', seg.get(pos..).unwrap_or_default()) {
                        None => pos = len,
                        Some(k) => {
                            let p = pos + k;
                            if seg.get(p) == Some(&b'\r') {
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
                    }
                }
            }
        }
        self.run(sink, seg, run_start, len);
        None
    }

    /// The fast path, from `pos` in the middle of a line (`Carry::Mid`: the octet before
    /// `pos`, if any, is handled and is no pending CR).
    ///
    /// In `seg[pos..to]` for the `Skip::To(to, _)` it returns, the state machine would only
    /// step over content and CRLF pairs (plus bare CR/LF where they change nothing: under
    /// [`BareLineEndingPolicy::Pass`] and once delivery stopped), so the run of content just
    /// grows; the returned carry is its state at `to`.
    ///
    /// When it stops at a dot line, `dot_lines_until` marks the end of the block it checked:
    /// the next call, from just after the dot, looks for further dot lines up to there with
    /// `memchr` instead of checking the rest of that block again.
    fn skip(&self, seg: &Bytes, pos: usize, dot_lines_until: &mut usize) -> Skip {
        let len = seg.len();
        // Bare CR/LF matter while the content is delivered, unless passed through as is.
        if self.discard || self.policy == BareLineEndingPolicy::Pass {
            // Only `<CRLF>.` matters: `memmem` finds it (with AVX2 where the CPU has it). A
            // `Finder` kept in the decoder would make every session state as large as it.
            return match memchr::memmem::find(seg.get(pos..).unwrap_or_default(), b"\r\n.") {
                Some(k) => Skip::To(pos + k + 2, Carry::LineStart),
                None => Skip::To(len, carry_after_run(seg, pos, len)),
            };
        }
        // Octets from `at` on are judged with the octet before them; those before are done.
        let mut at = if pos < *dot_lines_until {
            // Within a block without bare CR/LF, after a dot line: the state machine left
            // it at the octet after a stuffed dot (no LF: the dot is no CR).
            if let Some(dot) = next_dot_line(seg, pos, *dot_lines_until) {
                return Skip::To(dot, Carry::LineStart);
            }
            *dot_lines_until
        } else if seg.get(pos) == Some(&b'\n') {
            return Skip::Walk(pos);
        } else {
            pos + 1
        };
        loop {
            // Whole blocks first, in a loop of its own (see `clean_blocks`); then the tail, as
            // one more block that overlaps checked octets if the stretch is long enough.
            at = clean_blocks(seg, at);
            let (block, scan) = if at + BLOCK <= len {
                // `clean` failed on it.
                (at, judge_unclean(seg, at))
            } else if at < len && len - pos > BLOCK {
                (len - BLOCK, scan_block(seg, len - BLOCK))
            } else {
                break;
            };
            match scan {
                Scan::Clean => {}
                Scan::Bare => return Skip::Walk(block),
                Scan::MaybeDotLine => {
                    // Rare enough (a few lines in a block) that a walk over the dots of the
                    // block costs less than having the loop above say where they are.
                    *dot_lines_until = block + BLOCK;
                    if let Some(dot) = next_dot_line(seg, at.max(block), block + BLOCK) {
                        return Skip::To(dot, Carry::LineStart);
                    }
                }
            }
            if block + BLOCK >= len {
                at = len;
                break;
            }
            at = block + BLOCK;
        }
        if at < len {
            // A tail shorter than a block after a short stretch: the state machine walks it.
            return Skip::Walk(at);
        }
        Skip::To(len, carry_after_run(seg, pos, len))
    }
}

/// The first dot in `seg[from..to]` that follows an LF, where the octets are known to hold
/// no bare CR/LF (so that LF ends a CRLF and the dot starts a line).
fn next_dot_line(seg: &[u8], from: usize, to: usize) -> Option<usize> {
    let octets = seg.get(from..to).unwrap_or_default();
    memchr::memchr_iter(b'.', octets)
        .map(|k| from + k)
        .find(|&dot| dot > 0 && seg.get(dot - 1) == Some(&b'\n'))
}

/// What [`DataDecoder::skip`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Nothing to do before this position; the carry there.
    To(usize, Carry),
    /// The state machine walks the [`BLOCK`] starting here (it may hold a bare CR or LF,
    /// or it is a short tail); nothing to do before it.
    Walk(usize),
}

/// The carry at `at` (> 0) after a stretch in which every CR/LF is paired.
fn carry_after(seg: &[u8], at: usize) -> Carry {
    match at.checked_sub(1).and_then(|i| seg.get(i)) {
        Some(b'\r') => Carry::Cr,
        // Paired, so this LF ends a CRLF.
        Some(b'\n') => Carry::LineStart,
        _ => Carry::Mid,
    }
}

/// The carry at `end` after the stretch `seg[start..end]` that the state machine entered in
/// `Carry::Mid` and that holds no `<CRLF>.`: bare CR/LF may be in it, so a last LF starts a
/// line only if the CR before it is part of the stretch.
fn carry_after_run(seg: &[u8], start: usize, end: usize) -> Carry {
    let last = end.checked_sub(1).filter(|&i| i >= start);
    match last.and_then(|i| seg.get(i)) {
        Some(b'\r') => Carry::Cr,
        Some(b'\n') => {
            let before = last.and_then(|i| i.checked_sub(1)).filter(|&i| i >= start);
            if before.and_then(|i| seg.get(i)) == Some(&b'\r') {
                Carry::LineStart
            } else {
                Carry::Mid
            }
        }
        _ => Carry::Mid,
    }
}

/// Octets checked at once by the fast path: large enough to amortise the loop and for the
/// compiler to vectorise it, small enough that the octet-wise walk of a block with a bare
/// CR or LF stays short. The check is branch-free over two overlapping arrays, so that it
/// compiles to SIMD compares (SSE2 on any x86-64); one pass over the octets for bare CR/LF
/// and dot lines together measured faster than a second `memmem` pass for the dot lines.
const BLOCK: usize = 256;

/// What a block holds, judging each octet with the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Every LF follows a CR, every CR is followed by an LF (a CR in the last position is
    /// left to whoever judges the next octet), and no line starts with a dot.
    Clean,
    /// An LF that follows no CR or a CR followed by no LF (or the block is out of range).
    Bare,
    /// No bare CR/LF, but maybe a line that starts with a dot.
    MaybeDotLine,
}

/// Skips the blocks from `at` (> 0) that [`clean`] passes; returns the start of the first
/// one that it does not, or of the tail shorter than a block. Kept out of line so that the
/// loop holds its constants and positions in registers.
#[inline(never)]
fn clean_blocks(seg: &[u8], mut at: usize) -> usize {
    while let Some(octets) = at
        .checked_sub(1)
        .and_then(|before| seg.get(before..at + BLOCK))
    {
        if !clean(octets) {
            break;
        }
        at += BLOCK;
    }
    at
}

/// `true` when in `octets` ([`BLOCK`] + 1 of them, each but the first judged with the one
/// before it) every LF follows a CR, every CR but the last octet is followed by an LF, and no
/// line starts with a dot; `false` may also mean a pair that only looks like a dot line.
///
/// Branch-free over two overlapping arrays, so that it compiles to SIMD compares (SSE2 on
/// any x86-64). A dot line shows as `p + c == LF + '.'` (saturating, so only pairs with a
/// control octet add up to it): one add and one compare instead of two compares and an AND.
/// The few other pairs that match (`\t/`, `+\r`) cost a second look at their block.
#[inline]
fn clean(octets: &[u8]) -> bool {
    let (Some(before), Some(block)) = (octets.get(..BLOCK), octets.get(1..)) else {
        return false;
    };
    let (Ok(before), Ok(block)) = (
        <&[u8; BLOCK]>::try_from(before),
        <&[u8; BLOCK]>::try_from(block),
    ) else {
        return false;
    };
    let mut unclean = 0u8;
    for (&p, &c) in before.iter().zip(block.iter()) {
        unclean |= (u8::from(c == b'\n') ^ u8::from(p == b'\r'))
            | u8::from(p.saturating_add(c) == b'\n' + b'.');
    }
    unclean == 0
}

/// Judges the [`BLOCK`] octets from `at` (> 0).
fn scan_block(seg: &[u8], at: usize) -> Scan {
    let clean = at
        .checked_sub(1)
        .and_then(|before| seg.get(before..at + BLOCK))
        .is_some_and(clean);
    if clean {
        Scan::Clean
    } else {
        judge_unclean(seg, at)
    }
}

/// Judges the [`BLOCK`] octets from `at` (> 0) that [`clean`] did not pass: the exact check
/// for bare CR/LF alone (dot lines are then looked for with `memchr`).
fn judge_unclean(seg: &[u8], at: usize) -> Scan {
    let (Some(before), Some(block)) = (
        at.checked_sub(1).and_then(|b| seg.get(b..b + BLOCK)),
        seg.get(at..at + BLOCK),
    ) else {
        return Scan::Bare;
    };
    let (Ok(before), Ok(block)) = (
        <&[u8; BLOCK]>::try_from(before),
        <&[u8; BLOCK]>::try_from(block),
    ) else {
        return Scan::Bare;
    };
    let mut bare = 0u8;
    for (&p, &c) in before.iter().zip(block.iter()) {
        bare |= u8::from(c == b'\n') ^ u8::from(p == b'\r');
    }
    if bare == 0 {
        Scan::MaybeDotLine
    } else {
        Scan::Bare
    }
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
        decode_until(input, splits, policy, usize::MAX)
    }

    /// Like [`decode`], but the consumer stops the delivery (`Flow::Discard`) once it has
    /// `budget` octets of body.
    fn decode_until(
        input: &[u8],
        splits: &[usize],
        policy: BareLineEndingPolicy,
        budget: usize,
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
                    if body.len() >= budget {
                        Flow::Discard
                    } else {
                        Flow::Continue
                    }
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

        /// Once the consumer stops the delivery (a size limit), only the end of data is
        /// looked for: it is found at the same place, and what was delivered is a prefix of
        /// the body.
        #[test]
        fn stopped_delivery_still_ends_at_the_same_place(
            frags in proptest::collection::vec(fragment(), 0..60),
            cuts in proptest::collection::vec(0usize..20_000, 0..8),
            budget in 0usize..5_000,
        ) {
            let mut input = frags.concat();
            input.extend_from_slice(b"\r\n.\r\nTAIL");
            for policy in POLICIES {
                let (body, done, rest, _) = reference(&input, policy);
                let (got, got_done, got_rest, _) = decode_until(&input, &cuts, policy, budget);
                prop_assert!(got_done == done && got_rest == rest);
                prop_assert!(body.starts_with(&got));
                prop_assert!(got.len() >= budget.min(body.len()));
            }
        }
    }

    const POLICIES: [BareLineEndingPolicy; 3] = [
        BareLineEndingPolicy::Reject,
        BareLineEndingPolicy::Normalize,
        BareLineEndingPolicy::Pass,
    ];

    /// Ordinary CRLF lines of 20 to 98 octets, `n` octets or a little more.
    fn lines(n: usize, seed: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let mut i = seed;
        while v.len() < n {
            i = i.wrapping_mul(31).wrapping_add(17);
            v.extend((0..20 + i % 79).map(|k| b"abc xyz,;0189-=_"[(k + i) % 16]));
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    /// Every place that needs work (and the pairs that the block check only suspects), at
    /// every offset relative to the blocks of the fast path, with segment boundaries right
    /// before, inside and after it, under every policy.
    #[test]
    fn long_bodies_match_reference_at_every_block_offset() {
        let events: [&[u8]; 14] = [
            b"\r\n..x",
            b"\r\n..a\r\n.b\r\n..",
            b"\r\n..a\r\n.\r\n",
            b"\r\n.a\r\nb\nc",
            b"\r\n.\r\n",
            b"\r\n.\r\r\n",
            b"\r\n.\rx",
            b"\r\n.\n",
            b"x\ny",
            b"x\ry",
            b"\n\r",
            b"\t/\t/",
            b"+\r\n+\r\n",
            b"\r\n.",
        ];
        let head = lines(2 * BLOCK + 40, 1);
        let tail = lines(3 * BLOCK, 2);
        for event in events {
            for shift in 0..BLOCK + 3 {
                let mut input = head[..BLOCK + shift].to_vec();
                let at = input.len();
                input.extend_from_slice(event);
                input.extend_from_slice(&tail);
                input.extend_from_slice(b"\r\n.\r\nNEXT");
                for policy in POLICIES {
                    let want = reference(&input, policy);
                    assert_eq!(decode(&input, &[], policy), want, "{event:?} {shift}");
                    for cut in at.saturating_sub(2)..at + event.len() + 2 {
                        assert_eq!(
                            decode(&input, &[cut], policy),
                            want,
                            "{event:?} {shift} cut {cut}"
                        );
                    }
                    if shift % 16 == 0 {
                        let cuts: Vec<usize> = (1..input.len()).step_by(7 + shift).collect();
                        assert_eq!(decode(&input, &cuts, policy), want, "{event:?} {shift}");
                    }
                }
            }
        }
    }

    /// A body with a bare LF on every line (and dots after some) takes the byte-wise path
    /// all the way; a body with a bare CR/LF far in stops delivering exactly there.
    #[test]
    fn bare_line_endings_deep_in_long_bodies() {
        let mut unix = Vec::new();
        for i in 0..200 {
            unix.extend_from_slice(if i % 7 == 0 { b".dot\n" } else { b"a line\n" });
        }
        unix.extend_from_slice(b"\r\n.\r\nX");
        let mut late = lines(5000, 3);
        late.extend_from_slice(b"bare\rCR\r\n");
        late.extend_from_slice(&lines(5000, 4));
        late.extend_from_slice(b"\r\n.\r\nX");
        for input in [unix, late] {
            for policy in POLICIES {
                let want = reference(&input, policy);
                assert!(want.1 && want.2 == b"X", "{policy:?}");
                assert_eq!(decode(&input, &[], policy), want);
                let cuts: Vec<usize> = (1..input.len()).step_by(997).collect();
                assert_eq!(decode(&input, &cuts, policy), want);
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
