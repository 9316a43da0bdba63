//! The client's body encoder: dot-stuffing for DATA (RFC 5321 4.5.2), CRLF normalisation,
//! and the end-of-data marker, written straight into the caller's output buffer.
//!
//! The encoder keeps two bits of state across chunks (`at_line_start` and a pending CR), so a
//! chunk boundary may fall anywhere, including inside `\r\n.`: the output is the same as for
//! the whole body in one chunk.
//!
//! With [`Framing::Data`] the output never contains a bare CR or a bare LF (each becomes CRLF)
//! and every line that starts with `.` gets a second dot. So the output holds no
//! `<CRLF>.<CRLF>` before the real end, and no `<LF>.<LF>`, `<CR>.<CR>` or similar end-of-data
//! variant that a lenient receiver could read as the end (the 2023 SMTP smuggling
//! findings): whatever the body holds, a receiver reading it ends exactly once.

use bytes::{BufMut, BytesMut};

/// Where encoded bytes go: the real output buffer, or a counter that measures a BDAT chunk
/// before its header is written (the header carries the encoded length).
pub(crate) trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for BytesMut {
    fn put(&mut self, bytes: &[u8]) {
        self.put_slice(bytes);
    }
}

/// Counts instead of writing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// How the body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// DATA: dot-stuffed, CRLF-normalised, ended by `<CRLF>.<CRLF>`.
    Data,
    /// BDAT with CRLF normalisation (no stuffing: BDAT counts octets).
    BdatNormalized,
    /// BDAT with the bytes exactly as given (BINARYMIME, or the caller asked for it).
    BdatExact,
}

/// Whether [`BodyEncoder::encode`] may take its fast path (tests compare both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Long slices between dot lines when every CR/LF is paired; the general loop otherwise.
    Fast,
    /// The general loop only (one `memchr2` per line).
    #[cfg_attr(not(test), allow(dead_code))]
    General,
}

/// Streaming body encoder. See the module documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyEncoder {
    framing: Framing,
    /// The last byte written ended a line (or nothing was written yet): a `.` here is stuffed.
    at_line_start: bool,
    /// The previous chunk ended in CR whose LF (or normalised LF) has not been written yet.
    pending_cr: bool,
    /// Any body byte was seen (an empty body gets no line ending added).
    nonempty: bool,
}

impl BodyEncoder {
    pub(crate) fn new(framing: Framing) -> Self {
        BodyEncoder {
            framing,
            at_line_start: true,
            pending_cr: false,
            nonempty: false,
        }
    }

    /// Encodes one chunk of the body.
    pub(crate) fn encode<S: Sink>(&mut self, chunk: &[u8], out: &mut S) {
        self.encode_with(chunk, out, Path::Fast);
    }

    fn encode_with<S: Sink>(&mut self, chunk: &[u8], out: &mut S, path: Path) {
        if chunk.is_empty() {
            return;
        }
        self.nonempty = true;
        if self.framing == Framing::BdatExact {
            out.put(chunk);
            return;
        }
        let stuff = self.framing == Framing::Data;
        let mut pos = 0;
        if self.pending_cr {
            // The CR was written with the previous chunk; complete it to CRLF either way.
            self.pending_cr = false;
            out.put(b"\n");
            self.at_line_start = true;
            if chunk[0] == b'\n' {
                pos = 1;
            }
        }
        if path == Path::Fast {
            pos += self.encode_paired(chunk.get(pos..).unwrap_or_default(), stuff, out);
        }
        while pos < chunk.len() {
            if stuff && self.at_line_start && chunk[pos] == b'.' {
                out.put(b".");
            }
            let rest = &chunk[pos..];
            match memchr::memchr2(b'\r', b'\n', rest) {
                None => {
                    out.put(rest);
                    self.at_line_start = false;
                    return;
                }
                Some(i) => {
                    out.put(&rest[..i]);
                    if rest[i] == b'\n' {
                        // Bare LF.
                        out.put(b"\r\n");
                        pos += i + 1;
                    } else if i + 1 == rest.len() {
                        // CR at the end of the chunk: its partner may start the next one.
                        out.put(b"\r");
                        self.pending_cr = true;
                        self.at_line_start = false;
                        return;
                    } else {
                        // CRLF, or a bare CR which becomes CRLF.
                        out.put(b"\r\n");
                        pos += i + if rest[i + 1] == b'\n' { 2 } else { 1 };
                    }
                    self.at_line_start = true;
                }
            }
        }
    }

    /// The fast path for the usual body, in which every CR and LF is part of a CRLF pair:
    /// then the only change is the second dot on lines that start with `.`. The body is
    /// checked [`BLOCK`] octets at a time by a branch-free loop that compiles to SIMD
    /// compares, and goes out in long slices cut only at dot lines (a `memchr` per line
    /// costs more than the line on typical 80-octet lines).
    ///
    /// Returns how many octets of `rest` it encoded; the general loop goes on from there with
    /// the state this leaves (it takes the tail shorter than a block, and everything from a
    /// block with a bare CR or LF on). Must not be called with a CR pending (the caller
    /// completes it first).
    fn encode_paired<S: Sink>(&mut self, rest: &[u8], stuff: bool, out: &mut S) -> usize {
        let Some(&first) = rest.first() else {
            return 0;
        };
        // The octet before `rest` is not in it: a first LF is bare (a pending CR was
        // completed by the caller), and a short chunk is not worth it.
        if first == b'\n' || rest.len() <= BLOCK {
            return 0;
        }
        if stuff && self.at_line_start && first == b'.' {
            out.put(b".");
            // Doubled: if the general loop takes over at 0, it must not double it again.
            self.at_line_start = false;
        }
        // Invariant: in `rest[..checked]` every LF follows a CR and every CR but possibly
        // the last octet precedes an LF; `rest[..written]` is out.
        let mut checked = 1;
        let mut written = 0;
        while let (Some(before), Some(block)) = (
            rest.get(checked - 1..checked - 1 + BLOCK),
            rest.get(checked..checked + BLOCK),
        ) {
            let (bare, dot_line) = scan_block(before, block);
            if bare {
                break;
            }
            if stuff && dot_line {
                for (i, (&p, &c)) in before.iter().zip(block).enumerate() {
                    if p == b'\n' && c == b'.' {
                        out.put(rest.get(written..checked + i).unwrap_or_default());
                        out.put(b".");
                        written = checked + i;
                    }
                }
            }
            checked += BLOCK;
        }
        // A last CR's partner is unchecked: the general loop takes it from the CR on.
        if rest.get(checked - 1) == Some(&b'\r') {
            checked -= 1;
        }
        out.put(rest.get(written..checked).unwrap_or_default());
        if let Some(&last) = checked.checked_sub(1).and_then(|i| rest.get(i)) {
            // A checked LF ends a CRLF; a dot after it is not in a checked block, so not
            // doubled yet.
            self.at_line_start = last == b'\n';
        }
        checked
    }

    /// Ends the body: completes a pending CR, adds a final CRLF to a body that lacks one
    /// (not for [`Framing::BdatExact`]), and for DATA writes the `.` line.
    pub(crate) fn finish<S: Sink>(&mut self, out: &mut S) {
        if self.framing != Framing::BdatExact {
            if self.pending_cr {
                self.pending_cr = false;
                out.put(b"\n");
                self.at_line_start = true;
            } else if self.nonempty && !self.at_line_start {
                out.put(b"\r\n");
                self.at_line_start = true;
            }
        }
        if self.framing == Framing::Data {
            out.put(b".\r\n");
        }
    }

    /// The number of bytes `encode(chunk)` would write from the current state.
    #[cfg(test)]
    pub(crate) fn encoded_len(&self, chunk: &[u8]) -> usize {
        let mut copy = *self;
        let mut counter = Counter::default();
        copy.encode(chunk, &mut counter);
        counter.0
    }

    /// The number of bytes `finish` would write from the current state.
    #[cfg(test)]
    pub(crate) fn finish_len(&self) -> usize {
        let mut copy = *self;
        let mut counter = Counter::default();
        copy.finish(&mut counter);
        counter.0
    }
}

/// Octets checked at once by the fast path: large enough to amortise the loop and for the
/// compiler to vectorise it.
const BLOCK: usize = 64;

/// Whether `block` (with `before[i]` the octet before `block[i]`) has an LF that does not
/// follow a CR or an octet after a CR that is not an LF (`bare`), and whether a line in it
/// starts with a dot (`dot_line`). Branch-free over two equal-length arrays so that it
/// compiles to SIMD compares.
#[inline]
fn scan_block(before: &[u8], block: &[u8]) -> (bool, bool) {
    let (Ok(before), Ok(block)) = (
        <&[u8; BLOCK]>::try_from(before),
        <&[u8; BLOCK]>::try_from(block),
    ) else {
        return (true, false);
    };
    let mut bare = 0u8;
    let mut dot_line = 0u8;
    for (&p, &c) in before.iter().zip(block.iter()) {
        bare |= u8::from(c == b'\n') ^ u8::from(p == b'\r');
        dot_line |= u8::from(p == b'\n') & u8::from(c == b'.');
    }
    (bare != 0, dot_line != 0)
}

/// The message as a receiver stores it after reading what [`BodyEncoder`] wrote, for a
/// normalising framing: bare CR and bare LF become CRLF and a final CRLF is added to a
/// non-empty body that lacks one. With [`Framing::BdatExact`] the bytes stay as they are.
/// Tests and the in-memory pair use it to state what must arrive.
#[cfg(test)]
pub(crate) fn expected_delivery(body: &[u8], exact: bool) -> alloc::vec::Vec<u8> {
    if exact {
        return body.to_vec();
    }
    let mut enc = BodyEncoder::new(Framing::BdatNormalized);
    let mut out = BytesMut::new();
    enc.encode(body, &mut out);
    enc.finish(&mut out);
    out.to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn encode_all(framing: Framing, chunks: &[&[u8]]) -> Vec<u8> {
        let mut enc = BodyEncoder::new(framing);
        let mut out = BytesMut::new();
        for c in chunks {
            let before = out.len();
            let predicted = enc.encoded_len(c);
            enc.encode(c, &mut out);
            assert_eq!(out.len() - before, predicted);
        }
        let predicted = enc.finish_len();
        let before = out.len();
        enc.finish(&mut out);
        assert_eq!(out.len() - before, predicted);
        out.to_vec()
    }

    /// A strict RFC 5321 receiver: lines end in CRLF, `.` alone ends the data, a leading dot
    /// is removed. Returns the content and the bytes left after the end marker.
    fn strict_unstuff(wire: &[u8]) -> Option<(Vec<u8>, usize)> {
        let mut content = Vec::new();
        let mut pos = 0;
        loop {
            let nl = wire[pos..].windows(2).position(|w| w == b"\r\n")? + pos;
            let line = &wire[pos..nl];
            pos = nl + 2;
            if line == b"." {
                return Some((content, wire.len() - pos));
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            content.extend_from_slice(line);
            content.extend_from_slice(b"\r\n");
        }
    }

    /// Every end-of-data variant a lenient or broken receiver might accept: a `.` line
    /// between any of CR, LF or CRLF. Returns the offsets where one would end the data.
    fn lenient_ends(wire: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        for (i, &b) in wire.iter().enumerate() {
            if b != b'.' {
                continue;
            }
            let before_ok = i == 0 || wire[i - 1] == b'\n' || wire[i - 1] == b'\r';
            let after_ok = matches!(wire.get(i + 1), Some(b'\r') | Some(b'\n'));
            if before_ok && after_ok {
                ends.push(i);
            }
        }
        ends
    }

    #[test]
    fn stuffs_leading_dots_and_terminates() {
        let out = encode_all(Framing::Data, &[b".a\r\n..b\r\n.\r\nc"]);
        assert_eq!(out, b"..a\r\n...b\r\n..\r\nc\r\n.\r\n");
    }

    #[test]
    fn empty_body_is_just_the_dot() {
        assert_eq!(encode_all(Framing::Data, &[]), b".\r\n");
        assert_eq!(encode_all(Framing::Data, &[b""]), b".\r\n");
        assert_eq!(encode_all(Framing::BdatNormalized, &[]), b"");
    }

    #[test]
    fn body_ending_in_crlf_gets_no_extra_line() {
        assert_eq!(encode_all(Framing::Data, &[b"x\r\n"]), b"x\r\n.\r\n");
        assert_eq!(encode_all(Framing::BdatNormalized, &[b"x\r\n"]), b"x\r\n");
        assert_eq!(encode_all(Framing::BdatNormalized, &[b"x"]), b"x\r\n");
        assert_eq!(encode_all(Framing::BdatExact, &[b"x\n.\n"]), b"x\n.\n");
    }

    #[test]
    fn boundary_inside_crlf_dot() {
        let whole = encode_all(Framing::Data, &[b"a\r\n.b\r\n"]);
        for parts in [
            &[&b"a\r"[..], &b"\n.b\r\n"[..]][..],
            &[b"a\r\n", b".b\r\n"],
            &[b"a\r\n.", b"b\r\n"],
            &[b"a", b"\r", b"\n", b".", b"b", b"\r", b"\n"],
        ] {
            assert_eq!(encode_all(Framing::Data, parts), whole);
        }
        assert_eq!(whole, b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn bare_line_endings_are_normalised() {
        assert_eq!(
            encode_all(Framing::Data, &[b"a\n.\nb"]),
            b"a\r\n..\r\nb\r\n.\r\n"
        );
        assert_eq!(
            encode_all(Framing::Data, &[b"a\r.\rb\r"]),
            b"a\r\n..\r\nb\r\n.\r\n"
        );
        assert_eq!(
            encode_all(Framing::Data, &[b"a\r", b"\r", b"\n"]),
            b"a\r\n\r\n.\r\n"
        );
        assert_eq!(
            encode_all(Framing::BdatNormalized, &[b"a\n\r"]),
            b"a\r\n\r\n"
        );
    }

    #[test]
    fn smuggling_sequences_are_neutralised() {
        let body: &[u8] = b"x\n.\nMAIL FROM:<a@b>\r\n\r.\r\n.\n\r\n.\r";
        let out = encode_all(Framing::Data, &[body]);
        assert_eq!(lenient_ends(&out), [out.len() - 3]);
    }

    fn chunks_of(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut prev = 0;
        for c in cuts {
            out.push(body[prev..c].to_vec());
            prev = c;
        }
        out.push(body[prev..].to_vec());
        out
    }

    fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b".".to_vec()),
            Just(b"\r\n.\r\n".to_vec()),
            Just(b"\n.\n".to_vec()),
            Just(b"\r.\r".to_vec()),
            Just(b"..".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..8),
            "[a-z ]{0,6}".prop_map(|s| s.into_bytes()),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    /// What the general loop alone writes, chunk by chunk (the reference for the fast path).
    fn encode_general(framing: Framing, chunks: &[&[u8]]) -> Vec<u8> {
        let mut enc = BodyEncoder::new(framing);
        let mut out = BytesMut::new();
        for c in chunks {
            enc.encode_with(c, &mut out, Path::General);
        }
        enc.finish(&mut out);
        out.to_vec()
    }

    #[test]
    fn fast_path_hands_over_at_a_bare_line_ending() {
        // Long enough for the block scan; a bare CR or LF in various blocks, after stuffed
        // lines, at a chunk start, and a CR at the end (left to the general loop).
        let line = [b'x'; 70];
        let lines = |n: usize, dot: bool| {
            let mut v = Vec::new();
            for _ in 0..n {
                if dot {
                    v.push(b'.');
                }
                v.extend_from_slice(&line);
                v.extend_from_slice(b"\r\n");
            }
            v
        };
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for tail in [
            &b"c\n\rd\r\n.e\r\n"[..],
            b"\n",
            b"\r",
            b"\r\r\n",
            b".\r\n.\n.",
            b"x\r",
        ] {
            for (n, dot) in [(1, false), (2, true), (5, false), (3, true)] {
                let mut b = lines(n, dot);
                b.extend_from_slice(tail);
                b.extend_from_slice(&lines(2, true));
                bodies.push(b.clone());
                b.splice(0..0, tail.iter().copied());
                bodies.push(b);
            }
        }
        for body in &bodies {
            for framing in [Framing::Data, Framing::BdatNormalized] {
                for cut in [0, 1, 64, 65, 66, 129, body.len() / 2] {
                    let cut = cut.min(body.len());
                    let parts = [&body[..cut], &body[cut..]];
                    assert_eq!(
                        encode_all(framing, &parts),
                        encode_general(framing, &parts),
                        "{framing:?} {body:?} cut at {cut}"
                    );
                }
            }
        }
        let mut body = lines(2, true);
        body.extend_from_slice(b"c\n\rd\r\n.e\r\n");
        let mut want = b".".to_vec();
        want.extend_from_slice(&lines(1, true));
        want.push(b'.');
        want.extend_from_slice(&lines(1, true));
        want.extend_from_slice(b"c\r\n\r\nd\r\n..e\r\n.\r\n");
        assert_eq!(encode_all(Framing::Data, &[&body]), want);
    }

    /// Bodies of a few kilobytes: long lines, so that the fast path's block scan runs, with
    /// the same awkward pieces as `body_strategy` in between.
    fn long_body_strategy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => "[a-z .]{0,90}\r\n".prop_map(|s| s.into_bytes()),
            1 => body_strategy(),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn fast_path_matches_general_loop(body in body_strategy(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
            let parts = chunks_of(&body, &cuts);
            let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            for framing in [Framing::Data, Framing::BdatNormalized, Framing::BdatExact] {
                prop_assert_eq!(encode_all(framing, &refs), encode_general(framing, &refs));
            }
        }

        #[test]
        fn fast_path_matches_general_loop_long(body in long_body_strategy(), cuts in proptest::collection::vec(any::<usize>(), 0..4)) {
            let parts = chunks_of(&body, &cuts);
            let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            for framing in [Framing::Data, Framing::BdatNormalized] {
                prop_assert_eq!(encode_all(framing, &refs), encode_general(framing, &refs));
            }
        }

        #[test]
        fn chunking_invariant(body in body_strategy(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
            for framing in [Framing::Data, Framing::BdatNormalized, Framing::BdatExact] {
                let whole = encode_all(framing, &[&body]);
                let parts = chunks_of(&body, &cuts);
                let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
                prop_assert_eq!(encode_all(framing, &refs), whole);
            }
        }

        #[test]
        fn receiver_ends_exactly_once(body in body_strategy(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
            let parts = chunks_of(&body, &cuts);
            let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            let wire = encode_all(Framing::Data, &refs);
            // No bare CR or LF anywhere.
            for (i, &b) in wire.iter().enumerate() {
                if b == b'\r' { prop_assert_eq!(wire.get(i + 1), Some(&b'\n')); }
                if b == b'\n' { prop_assert!(i > 0 && wire[i - 1] == b'\r'); }
            }
            // Any lenient reading of the end marker finds only the real one.
            prop_assert_eq!(lenient_ends(&wire), vec![wire.len() - 3]);
            // A strict receiver gets the normalised body back and nothing after the end.
            let (content, rest) = strict_unstuff(&wire).expect("terminated");
            prop_assert_eq!(rest, 0);
            prop_assert_eq!(content, expected_delivery(&body, false));
        }

        #[test]
        fn bdat_normalized_matches_delivery(body in body_strategy()) {
            prop_assert_eq!(encode_all(Framing::BdatNormalized, &[&body]), expected_delivery(&body, false));
        }
    }
}
