//! Entry points for the fuzz targets (`fuzz/fuzz_targets/*.rs`) and the corpus replay test
//! (`tests/tests/corpus_replay.rs`). Private: behind the `__fuzz` feature, not a stable API.
//!
//! Every function takes raw fuzzer bytes, must never panic on them, and panics (the fuzzer's
//! "crash") only when an invariant of the crate is broken: a parser panicked, a round trip
//! changed a value, the same input split differently gave a different result, or a buffer grew
//! past its configured limit.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use alloc::string::ToString;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use crate::ehlo::{Capabilities, EhloKeyword, Extension};
use crate::error::ParseError;
use crate::options::{LineEnding, ParseOptions, PathSyntax};
use crate::reply::{Reply, ReplyCode, ReplyLimits, ReplyParser};
use crate::sasl::{self, Mechanism, OAuthBearer, PlainCredentials, XOAuth2};
use crate::sasl::{ScramClient, ScramServer, ScramStoredKey};
use crate::{xtext, Command, Domain, ForwardPath, Host, MailParams, Mailbox, RcptParams};
use crate::{ReversePath, Status};

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
        // Every proper prefix of a complete reply is `Incomplete`: never complete early, and
        // never an error that the whole reply does not have (a split must not change the
        // verdict).
        if let Some(first) = whole.replies.first() {
            let (_, used) = first;
            for cut in [0, used / 2, used.saturating_sub(2), used.saturating_sub(1)] {
                match Reply::parse_with(&buf.slice(..cut.min(used - 1)), limits) {
                    Ok(Status::Incomplete) => {}
                    other => panic!("prefix {cut} of a {used}-octet reply gave {other:?}"),
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
            // A trailing CR may be the first half of the CRLF (see `Reply::parse_with`).
            let cr = usize::from(rest.last() == Some(&b'\r'));
            let end = if rest.len() - cr + 2 > limits.max_line {
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
    let Ok(Status::Complete((again, used))) = Reply::parse_with(&wire, UNLIMITED_REPLY) else {
        panic!("written reply {wire:?} does not parse");
    };
    assert_eq!(used, wire.len(), "written reply {wire:?} parsed short");
    let mut wire2 = BytesMut::new();
    again.write(&mut wire2);
    assert_eq!(wire, wire2, "reply write is not a fixpoint");
}

/// Limits under which a written value always fits, for re-parsing what a writer produced.
const UNLIMITED_REPLY: ReplyLimits = ReplyLimits {
    max_line: usize::MAX / 2,
    max_lines: usize::MAX / 2,
};

/// Every combination of the codec's leniency switches, with the default line limit, plus a
/// small line limit so that short inputs reach the `LineTooLong` paths.
fn all_options() -> [ParseOptions; 5] {
    let o = |line_ending, path_syntax, max_line| ParseOptions {
        line_ending,
        path_syntax,
        max_line,
    };
    [
        o(LineEnding::CrLf, PathSyntax::Strict, 2048),
        o(LineEnding::CrLf, PathSyntax::Lenient, 2048),
        o(LineEnding::CrLfOrLf, PathSyntax::Strict, 2048),
        o(LineEnding::CrLfOrLf, PathSyntax::Lenient, 2048),
        o(LineEnding::CrLf, PathSyntax::Strict, 24),
    ]
}

/// The same options without a line limit, to re-parse what a writer produced.
fn unlimited(opts: &ParseOptions) -> ParseOptions {
    ParseOptions {
        max_line: usize::MAX / 2,
        ..*opts
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

/// The command parser as a server uses it: [`Command::parse`] over a pipelined buffer, skipping
/// to the next line after an error. Each command must agree with [`Command::parse_line`] on its
/// line, re-parse to itself once written, and be `Incomplete` on every shorter prefix; each
/// error maps to a 5xx reply.
pub fn command(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    for opts in all_options() {
        let mut pos = 0;
        while pos < buf.len() {
            let rest = buf.slice(pos..);
            match Command::parse(&rest, &opts) {
                Ok(Status::Complete((cmd, used))) => {
                    assert!(used > 0 && used <= rest.len() && used <= opts.max_line);
                    assert_eq!(rest[used - 1], b'\n', "a command ends with LF");
                    let end = if used >= 2 && rest[used - 2] == b'\r' {
                        used - 2
                    } else {
                        used - 1
                    };
                    let line = rest.slice(..end);
                    assert_eq!(
                        Command::parse_line(&line, &opts),
                        Ok(cmd.clone()),
                        "{line:?}"
                    );
                    assert_eq!(
                        Command::parse(&rest.slice(..used - 1), &opts),
                        Ok(Status::Incomplete)
                    );
                    command_roundtrip(&cmd, &opts);
                    pos += used;
                }
                Ok(Status::Incomplete) => {
                    assert!(
                        rest.len() < opts.max_line,
                        "{} octets are Incomplete",
                        rest.len()
                    );
                    break;
                }
                Err(e) => {
                    check_parse_error(&e);
                    // Resynchronise after the next LF, as a server does.
                    match memchr::memchr(b'\n', &rest) {
                        Some(nl) => pos += nl + 1,
                        None => break,
                    }
                }
            }
        }
    }
}

fn check_parse_error(e: &ParseError) {
    let reply = e.reply();
    assert!(reply.is_permanent(), "{e:?} maps to {reply:?}");
}

/// A written command is one line ending in CRLF that parses back to the same command.
fn command_roundtrip(cmd: &Command, opts: &ParseOptions) {
    let mut out = BytesMut::new();
    cmd.write(&mut out);
    let wire = out.freeze();
    assert!(wire.ends_with(b"\r\n"), "{wire:?}");
    let body = &wire[..wire.len() - 2];
    assert!(!body.iter().any(|&b| b == b'\r' || b == b'\n'), "{wire:?}");
    match Command::parse(&wire, &unlimited(opts)) {
        Ok(Status::Complete((again, used))) => {
            assert_eq!(used, wire.len(), "{wire:?}");
            assert_eq!(&again, cmd, "command changed through write: {wire:?}");
        }
        other => panic!("written {wire:?} of {cmd:?} parses to {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Paths and addresses

/// Reverse and forward paths, mailboxes, domains and HELO hosts parsed from the whole input;
/// every value re-parses to itself once written, and `Display` shows the written bytes.
pub fn path(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    for opts in all_options() {
        let opts = &opts;
        check_value(
            &buf,
            opts,
            ReversePath::parse,
            ReversePath::write,
            Some(|v| v.to_string()),
        );
        check_value(
            &buf,
            opts,
            ForwardPath::parse,
            ForwardPath::write,
            Some(|v| v.to_string()),
        );
        check_value(
            &buf,
            opts,
            Mailbox::parse,
            Mailbox::write,
            Some(|v| v.to_string()),
        );
        check_value(
            &buf,
            opts,
            Domain::parse,
            Domain::write,
            Some(|v| v.to_string()),
        );
        check_value(
            &buf,
            opts,
            Host::parse,
            Host::write,
            Some(|v| v.to_string()),
        );
        // The same bytes in the commands that carry them, to reach the command-level checks.
        for prefix in [&b"MAIL FROM:"[..], b"RCPT TO:", b"EHLO ", b"VRFY "] {
            let mut line = BytesMut::from(prefix);
            line.extend_from_slice(data);
            if let Ok(cmd) = Command::parse_line(&line.freeze(), opts) {
                command_roundtrip(&cmd, opts);
            }
        }
    }
}

/// Parses `buf`; on success, writes the value, re-parses it and compares.
fn check_value<T: PartialEq + core::fmt::Debug>(
    buf: &Bytes,
    opts: &ParseOptions,
    parse: fn(&Bytes, &ParseOptions) -> Result<T, ParseError>,
    write: fn(&T, &mut BytesMut),
    display: Option<fn(&T) -> alloc::string::String>,
) {
    match parse(buf, opts) {
        Ok(value) => {
            let mut out = BytesMut::new();
            write(&value, &mut out);
            let wire = out.freeze();
            match parse(&wire, opts) {
                Ok(again) => assert_eq!(again, value, "changed through write: {wire:?}"),
                Err(e) => panic!("written {wire:?} of {value:?} does not parse: {e:?}"),
            }
            if let (Some(display), Ok(text)) = (display, core::str::from_utf8(&wire)) {
                assert_eq!(display(&value), text, "Display differs from write");
            }
        }
        Err(e) => check_parse_error(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// ESMTP parameters and xtext

/// MAIL and RCPT parameters (RFC 1870, 3461, 6152, 6531, ...) and xtext (RFC 3461 4): values
/// re-parse to themselves once written; xtext decoding inverts encoding.
pub fn params(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    for opts in all_options() {
        check_value(&buf, &opts, MailParams::parse, write_params_mail, None);
        check_value(&buf, &opts, RcptParams::parse, write_params_rcpt, None);
        for prefix in [
            &b"MAIL FROM:<a@example.org> "[..],
            b"RCPT TO:<b@example.org> ",
        ] {
            let mut line = BytesMut::from(prefix);
            line.extend_from_slice(data);
            match Command::parse_line(&line.freeze(), &opts) {
                Ok(cmd) => command_roundtrip(&cmd, &opts),
                Err(e) => check_parse_error(&e),
            }
        }
    }
    if let Ok(decoded) = xtext::decode(&buf) {
        let encoded = xtext::encode(&decoded);
        assert_eq!(xtext::decode(&encoded), Ok(decoded.clone()));
    }
    let encoded = xtext::encode(data);
    assert_eq!(encoded.len(), xtext::encoded_len(data));
    assert_eq!(xtext::decode(&encoded).as_deref(), Ok(data));
}

/// The writers put a space before every parameter; `parse` takes them without the first one.
fn write_params_mail(p: &MailParams, out: &mut BytesMut) {
    let mut tmp = BytesMut::new();
    p.write(&mut tmp);
    out.extend_from_slice(tmp.strip_prefix(b" ").unwrap_or(&tmp));
}

fn write_params_rcpt(p: &RcptParams, out: &mut BytesMut) {
    let mut tmp = BytesMut::new();
    p.write(&mut tmp);
    out.extend_from_slice(tmp.strip_prefix(b" ").unwrap_or(&tmp));
}

// ---------------------------------------------------------------------------------------------
// EHLO

/// EHLO replies read as [`Capabilities`], from the wire (`250-...` lines) and from the input's
/// lines taken as reply text; capabilities and single keywords re-read to themselves once
/// written, and every query answers without panicking.
pub fn ehlo(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    for (reply, _) in parse_replies(&buf, ReplyLimits::default()).replies {
        check_capabilities(&reply);
    }
    let lines: Vec<Bytes> = buf
        .split(|&b| b == b'\n')
        .map(|l| buf.slice_ref(l))
        .collect();
    for line in &lines {
        keyword_roundtrip(line);
    }
    check_capabilities(&Reply::multiline(ReplyCode::OK, None, lines));
}

fn check_capabilities(reply: &Reply) {
    let Ok(caps) = Capabilities::from_reply(reply) else {
        assert_ne!(reply.code(), ReplyCode::OK);
        return;
    };
    for ext in Extension::all() {
        let _ = caps.supports(ext);
    }
    let _ = (caps.max_size(), caps.auth_mechanisms(), caps.limits());
    // `to_reply` wraps lines longer than a reply line may be (RFC 5321 4.5.3.1.5, documented),
    // which changes the keyword list; the round trip holds for replies within the RFC.
    if reply
        .lines()
        .all(|l| l.len() <= crate::reply::MAX_REPLY_TEXT)
    {
        let again = Capabilities::from_reply(&caps.to_reply());
        assert_eq!(
            again.as_ref(),
            Ok(&caps),
            "capabilities changed through to_reply"
        );
    }
}

fn keyword_roundtrip(line: &Bytes) {
    let kw = EhloKeyword::parse(line);
    let mut out = BytesMut::new();
    kw.write(&mut out);
    let again = EhloKeyword::parse(&out.freeze());
    assert_eq!(again, kw, "EHLO keyword changed through write");
}

// ---------------------------------------------------------------------------------------------
// SASL

/// SASL decoding as a server and a client meet it: base64 responses and challenges, PLAIN and
/// XOAUTH2 messages, mechanism names. What decodes re-encodes to the same bytes; every error
/// maps to a reply.
pub fn sasl(data: &[u8]) {
    match sasl::decode_base64(data) {
        Ok(m) if data != b"=" => assert_eq!(&sasl::encode_base64(m.expose())[..], data),
        Ok(m) => assert!(m.expose().is_empty()),
        Err(e) => assert!(e.reply().is_permanent()),
    }
    if let Ok(m) = sasl::decode_challenge(data) {
        assert_eq!(&sasl::encode_base64(&m)[..], data);
    }
    match PlainCredentials::decode(data) {
        Ok(c) => assert_eq!(
            &c.encode().expose()[..],
            data,
            "PLAIN changed through encode"
        ),
        Err(e) => assert!(e.reply().is_permanent()),
    }
    match XOAuth2::decode(data) {
        Ok(x) => assert_eq!(XOAuth2::decode(x.encode().expose()), Ok(x)),
        Err(e) => assert!(e.reply().is_permanent()),
    }
    let _ = sasl::oauthbearer::is_error_ack(data);
    match OAuthBearer::decode(data) {
        Ok(o) => assert_eq!(OAuthBearer::decode(o.encode().expose()), Ok(o)),
        Err(e) => assert!(e.reply().is_permanent()),
    }
    scram(data);
    let m = Mechanism::from_name(data);
    assert_eq!(Mechanism::from_name(m.name()), m);
    // The input as the base64 of a message, too, so the fuzzer need not learn base64.
    let b64 = sasl::encode_base64(data);
    if let Ok(m) = sasl::decode_base64(&b64) {
        assert_eq!(&m.expose()[..], data);
    }
}

/// SCRAM-SHA-256 with peer messages from the input (split at the first NUL): the server reads
/// a client-first and a client-final, the client a server-first and a server-final. Nothing
/// the peer sends may panic, and a forged proof or signature must never verify.
fn scram(data: &[u8]) {
    let nul = memchr::memchr(0, data).unwrap_or(data.len());
    let (first, last) = (&data[..nul], data.get(nul + 1..).unwrap_or_default());
    if let Err(e) = ScramServer::parse_client_first(first) {
        assert!(e.reply().is_permanent() || e.reply().is_transient());
    }
    // Few iterations keep the fuzzer fast; the iteration limits themselves are checked too.
    let stored = ScramStoredKey::derive("pencil", Bytes::from_static(b"salt"), 1).unwrap();
    let client_first = ScramServer::parse_client_first(b"n,,n=user,r=abc").unwrap();
    let mut server = ScramServer::new(client_first, stored, "def").unwrap();
    if server.handle_client_final(last).is_ok() {
        panic!("a forged SCRAM client proof verified: {last:?}");
    }
    assert!(!server.is_verified());
    let mut client = ScramClient::new("user", "pencil", "abc")
        .unwrap()
        .with_iteration_limits(1, 8);
    if client.handle_server_first(first).is_ok() && client.handle_server_final(last).is_ok() {
        panic!("a forged SCRAM server signature verified: {first:?} {last:?}");
    }
    assert!(!client.is_verified());
}

// ---------------------------------------------------------------------------------------------
// Round trips over every codec

/// Every codec's `parse -> write -> parse` on the same input: replies, command lines, paths,
/// parameters, EHLO keywords. The value after the trip must equal the first parse.
pub fn roundtrip(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    if let Ok(Status::Complete((first, _))) = Reply::parse_with(&buf, UNLIMITED_REPLY) {
        let mut wire = BytesMut::new();
        first.write(&mut wire);
        let wire = wire.freeze();
        match Reply::parse_with(&wire, UNLIMITED_REPLY) {
            Ok(Status::Complete((second, used))) => {
                assert_eq!(used, wire.len());
                assert_eq!(first, second, "reply changed through write: {wire:?}");
            }
            other => panic!("written reply {wire:?} parses to {other:?}"),
        }
    }
    let opts = ParseOptions::default();
    let lenient = ParseOptions {
        line_ending: LineEnding::CrLfOrLf,
        path_syntax: PathSyntax::Lenient,
        ..opts
    };
    for line in buf.split(|&b| b == b'\n') {
        let line = buf.slice_ref(line.strip_suffix(b"\r").unwrap_or(line));
        for o in [&opts, &lenient] {
            if let Ok(cmd) = Command::parse_line(&line, o) {
                command_roundtrip(&cmd, o);
            }
        }
        keyword_roundtrip(&line);
    }
    for o in [&opts, &lenient] {
        check_value(
            &buf,
            o,
            ReversePath::parse,
            ReversePath::write,
            Some(|v| v.to_string()),
        );
        check_value(
            &buf,
            o,
            ForwardPath::parse,
            ForwardPath::write,
            Some(|v| v.to_string()),
        );
        check_value(&buf, o, MailParams::parse, write_params_mail, None);
        check_value(&buf, o, RcptParams::parse, write_params_rcpt, None);
    }
}

// ----- server session (owned by the server session; see `crate::server::fuzz`) -----

pub use crate::server::fuzz::{server_script, server_split_differential};

// ----- client session (owned by the client session; see `crate::client::fuzz`) -----

pub use crate::client::fuzz::{client_script, client_split_differential};
