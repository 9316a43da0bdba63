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
    /// then the only change is the second dot on lines that start with `.`, so the body goes
    /// out in long slices between those lines, checked by vectorised searches (the LFs, and
    /// a count of the CRs per slice) instead of a `memchr2` call and two writes per line.
    ///
    /// Returns how many octets of `rest` it encoded (0 if it did not apply); the general
    /// loop goes on from there with the state this leaves. Must not be called with a CR
    /// pending (the caller completes it first).
    fn encode_paired<S: Sink>(&mut self, rest: &[u8], stuff: bool, out: &mut S) -> usize {
        // A CR at the very end may pair with the next chunk's LF: the general loop handles
        // that (pending CR).
        if rest.is_empty() || rest.last() == Some(&b'\r') {
            return 0;
        }
        // A slice goes out once it is known to be paired: every LF in it follows a CR (checked
        // per LF), so the map from each LF to its CR is one-to-one; with as many CRs as LFs in
        // the slice it reaches every CR, so no CR is bare either. Nothing unchecked is written,
        // so the general loop can take over at the last cut with the state as it was there.
        let paired = |slice: &[u8], lfs: usize| memchr::memchr_iter(b'\r', slice).count() == lfs;
        let mut lead_dot = stuff && self.at_line_start && rest.first() == Some(&b'.');
        // `rest[..written]` is out; `lfs` counts the LFs in `rest[written..]` seen so far.
        let mut written = 0;
        let mut lfs = 0;
        for lf in memchr::memchr_iter(b'\n', rest) {
            let after_cr = lf
                .checked_sub(1)
                .and_then(|i| rest.get(i))
                .is_some_and(|&b| b == b'\r');
            if !after_cr {
                return written;
            }
            lfs += 1;
            if stuff && rest.get(lf + 1) == Some(&b'.') {
                let slice = rest.get(written..=lf).unwrap_or_default();
                if !paired(slice, lfs) {
                    return written;
                }
                if lead_dot {
                    out.put(b".");
                }
                out.put(slice);
                // The next slice starts with the dot of a line: double it when it goes out.
                lead_dot = true;
                written = lf + 1;
                lfs = 0;
                // The output ends with a CRLF: if the general loop takes over here, it
                // doubles the dot itself.
                self.at_line_start = true;
            }
        }
        let slice = rest.get(written..).unwrap_or_default();
        if !paired(slice, lfs) {
            return written;
        }
        if lead_dot {
            out.put(b".");
        }
        out.put(slice);
        self.at_line_start = rest.last() == Some(&b'\n');
        rest.len()
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
        // Equal CR and LF counts but unpaired, after a stuffed line; a dot at the chunk start;
        // a CR at the chunk end (left to the general loop).
        for body in [
            &b"a\r\n.b\r\nc\n\rd\r\n.e\r\n"[..],
            b".x\r\n..y\n\r.z",
            b"\n\r",
            b"p\r\n.q\r",
            b".\r\n.\r\n",
        ] {
            for framing in [Framing::Data, Framing::BdatNormalized] {
                assert_eq!(
                    encode_all(framing, &[body]),
                    encode_general(framing, &[body]),
                    "{framing:?} {body:?}"
                );
            }
        }
        assert_eq!(
            encode_all(Framing::Data, &[b"a\r\n.b\r\nc\n\rd\r\n.e\r\n"]),
            b"a\r\n..b\r\nc\r\n\r\nd\r\n..e\r\n.\r\n"
        );
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
