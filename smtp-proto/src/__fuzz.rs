//! Entry points for the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay test
//! (`tests/tests/corpus_replay.rs`). Private: behind the `__fuzz` feature, not a stable API.
//!
//! Every function takes raw fuzzer bytes, must never panic on them, and panics (the fuzzer's
//! "crash") only when an invariant of the crate is broken: a parser panicked, a round trip
//! changed a value, the same input split differently gave a different result, or a buffer grew
//! past its configured limit.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use crate::reply::{Reply, ReplyLimits, ReplyParser};
use crate::Status;

/// Small limits so that the fuzzer reaches the limit paths with short inputs.
const SMALL_REPLY_LIMITS: ReplyLimits = ReplyLimits {
    max_line: 64,
    max_lines: 8,
};

/// The multi-line reply parser: [`Reply::parse`] over a buffer holding several replies, checked
/// against [`ReplyParser`] fed line by line, against every prefix of the input (a prefix is
/// either `Incomplete` or gives the same reply), and written replies re-parse to themselves.
pub fn reply(data: &[u8]) {
    for limits in [ReplyLimits::default(), SMALL_REPLY_LIMITS] {
        let buf = Bytes::copy_from_slice(data);
        let whole = parse_replies(&buf, limits);
        assert_eq!(
            whole,
            parse_replies_by_line(&buf, limits),
            "ReplyParser disagrees"
        );
        for (reply, _) in whole.replies.iter() {
            reply_write_fixpoint(reply);
        }
        // A prefix of the input must parse to a prefix of the result: a reply is only
        // Complete once its last line has fully arrived.
        if let Some(first) = whole.replies.first() {
            let (_, used) = first;
            for cut in [0, used / 2, used.saturating_sub(1)] {
                match Reply::parse_with(&buf.slice(..cut), limits) {
                    Ok(Status::Incomplete) => {}
                    Err(_) => {}
                    Ok(Status::Complete(r)) => panic!("prefix {cut} of {used} completed: {r:?}"),
                }
            }
        }
    }
}

/// What [`parse_replies`] found: every complete reply with the bytes it used, then how the
/// input ended.
#[derive(Debug, PartialEq)]
struct ParsedReplies {
    replies: Vec<(Reply, usize)>,
    end: ReplyEnd,
}

#[derive(Debug, PartialEq)]
enum ReplyEnd {
    Incomplete,
    Error(crate::ReplyError),
}

fn parse_replies(buf: &Bytes, limits: ReplyLimits) -> ParsedReplies {
    let mut replies = Vec::new();
    let mut pos = 0;
    loop {
        match Reply::parse_with(&buf.slice(pos..), limits) {
            Ok(Status::Complete((reply, used))) => {
                assert!(used > 0 && pos + used <= buf.len(), "bad length {used}");
                pos += used;
                replies.push((reply, used));
            }
            Ok(Status::Incomplete) => {
                return ParsedReplies {
                    replies,
                    end: ReplyEnd::Incomplete,
                }
            }
            Err(e) => {
                return ParsedReplies {
                    replies,
                    end: ReplyEnd::Error(e),
                }
            }
        }
    }
}

/// The same as [`parse_replies`] with the incremental [`ReplyParser`].
fn parse_replies_by_line(buf: &Bytes, limits: ReplyLimits) -> ParsedReplies {
    let mut parser = ReplyParser::new(limits);
    let mut replies = Vec::new();
    let (mut pos, mut start) = (0, 0);
    loop {
        let rest = &buf[pos..];
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            let end = if rest.len() + 2 > limits.max_line {
                ReplyEnd::Error(crate::ReplyError::LineTooLong)
            } else {
                ReplyEnd::Incomplete
            };
            return ParsedReplies { replies, end };
        };
        let len = if nl > 0 && rest[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let line = buf.slice(pos..pos + len);
        pos += nl + 1;
        match parser.push_line(&line) {
            Ok(Some(reply)) => {
                replies.push((reply, pos - start));
                start = pos;
            }
            Ok(None) => {
                assert!(parser.buffered_bytes() <= limits.max_line * limits.max_lines);
            }
            Err(e) => {
                return ParsedReplies {
                    replies,
                    end: ReplyEnd::Error(e),
                }
            }
        }
    }
}

/// Writing a reply and parsing it back gives a reply that writes to the same bytes, and
/// parsing uses exactly what was written.
fn reply_write_fixpoint(reply: &Reply) {
    let mut wire = BytesMut::new();
    reply.write(&mut wire);
    assert_eq!(
        wire.len(),
        reply.wire_len(),
        "wire_len disagrees with write"
    );
    let wire = wire.freeze();
    let limits = ReplyLimits {
        max_line: usize::MAX / 2,
        max_lines: usize::MAX / 2,
    };
    let Ok(Status::Complete((again, used))) = Reply::parse_with(&wire, limits) else {
        panic!("written reply {wire:?} does not parse");
    };
    assert_eq!(used, wire.len(), "written reply {wire:?} parsed short");
    let mut wire2 = BytesMut::new();
    again.write(&mut wire2);
    assert_eq!(wire, wire2, "reply write is not a fixpoint");
}

/// Round trips of the reply codec: parse, write, parse must give the same value.
pub fn roundtrip(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    let limits = ReplyLimits {
        max_line: usize::MAX / 2,
        max_lines: usize::MAX / 2,
    };
    let Ok(Status::Complete((first, _))) = Reply::parse_with(&buf, limits) else {
        return;
    };
    let mut wire = BytesMut::new();
    first.write(&mut wire);
    let wire = wire.freeze();
    let Ok(Status::Complete((second, used))) = Reply::parse_with(&wire, limits) else {
        panic!("written reply {wire:?} does not parse");
    };
    assert_eq!(used, wire.len());
    assert_eq!(first, second, "reply changed through write: {wire:?}");
}
