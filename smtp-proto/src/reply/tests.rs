use alloc::vec;
use bytes::{Bytes, BytesMut};

use super::*;
use crate::error::ReplyError;
use crate::Status;

fn parse_all(s: &'static [u8]) -> (Reply, usize) {
    match Reply::parse(&Bytes::from_static(s)) {
        Ok(Status::Complete(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn wire(r: &Reply) -> BytesMut {
    let mut out = BytesMut::new();
    r.write(&mut out);
    out
}

#[test]
fn single_line_with_enhanced_code() {
    let (r, n) = parse_all(b"250 2.1.0 Ok\r\nextra");
    assert_eq!(n, 14);
    assert_eq!(r.code(), ReplyCode::OK);
    assert_eq!(r.enhanced(), EnhancedCode::new(2, 1, 0));
    assert_eq!(&r.first_line()[..], b"Ok");
    assert_eq!(&wire(&r)[..], b"250 2.1.0 Ok\r\n");
}

#[test]
fn multi_line_ehlo_keeps_lines_and_order() {
    let (r, _) = parse_all(b"250-mx.example PIPELINING\r\n250-SIZE 20480000\r\n250 8BITMIME\r\n");
    let lines: Vec<&[u8]> = r.lines().map(|l| &l[..]).collect();
    assert_eq!(
        lines,
        vec![&b"mx.example PIPELINING"[..], b"SIZE 20480000", b"8BITMIME"]
    );
    assert_eq!(r.enhanced(), None);
}

#[test]
fn enhanced_code_on_every_line_is_lifted_and_restored() {
    let src = b"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n";
    let (r, _) = parse_all(src);
    assert_eq!(r.enhanced(), EnhancedCode::new(5, 7, 1));
    assert_eq!(&r.lines().nth(1).unwrap()[..], b"second");
    assert_eq!(&wire(&r)[..], &src[..]);
}

#[test]
fn enhanced_code_of_other_class_is_text() {
    let (r, _) = parse_all(b"250 5.0.0 odd\r\n");
    assert_eq!(r.enhanced(), None);
    assert_eq!(&r.first_line()[..], b"5.0.0 odd");
}

#[test]
fn bare_code_and_empty_last_line() {
    let (r, _) = parse_all(b"250-a\r\n250 \r\n");
    assert_eq!(r.line_count(), 2);
    assert_eq!(&r.lines().nth(1).unwrap()[..], b"");
    let (r, _) = parse_all(b"354\r\n");
    assert_eq!(r.code(), ReplyCode::START_MAIL_INPUT);
    assert_eq!(&wire(&r)[..], b"354\r\n");
}

#[test]
fn incomplete_until_last_line() {
    let b = Bytes::from_static(b"250-a\r\n250-b\r\n250 c");
    assert!(Reply::parse(&b).unwrap().is_incomplete());
    assert!(Reply::parse(&b.slice(..3)).unwrap().is_incomplete());
}

#[test]
fn errors() {
    let e = |s: &'static [u8]| Reply::parse(&Bytes::from_static(s)).unwrap_err();
    assert_eq!(e(b"25x ok\r\n"), ReplyError::Syntax);
    assert_eq!(e(b"650 no\r\n"), ReplyError::Syntax);
    assert_eq!(e(b"250x\r\n"), ReplyError::Syntax);
    assert_eq!(e(b"250-a\r\n251 b\r\n"), ReplyError::MixedCodes);
    let long = Bytes::from(vec![b'2'; 10_000]);
    assert_eq!(Reply::parse(&long).unwrap_err(), ReplyError::LineTooLong);
    let many: Vec<u8> = b"250-x\r\n".repeat(1000);
    assert_eq!(
        Reply::parse(&Bytes::from(many)).unwrap_err(),
        ReplyError::TooManyLines
    );
}

#[test]
fn long_text_is_wrapped_within_512_octets() {
    let text = "word ".repeat(300);
    let r = Reply::new(
        ReplyCode::MAILBOX_UNAVAILABLE,
        Some(EnhancedCode::new(5, 7, 1).unwrap()),
        text,
    );
    assert!(r.line_count() > 1);
    let w = wire(&r);
    for line in w[..].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.len() < 512, "line of {} octets", line.len() + 1);
    }
    let (back, _) = match Reply::parse(&w.freeze()).unwrap() {
        Status::Complete(x) => x,
        Status::Incomplete => panic!(),
    };
    assert_eq!(back, r);
}

#[test]
fn newline_in_text_never_reaches_the_wire_unframed() {
    let r = Reply::new(ReplyCode::OK, None, "one\r\n250 injected\nthree");
    assert_eq!(
        &wire(&r)[..],
        b"250-one\r\n250-250 injected\r\n250 three\r\n"
    );
}

#[test]
fn standard_replies_are_valid_single_lines() {
    use super::standard::*;
    for r in [
        OK,
        SENDER_OK,
        RECIPIENT_OK,
        START_DATA,
        MESSAGE_ACCEPTED,
        BYE,
        CANNOT_VRFY,
        READY_TO_START_TLS,
        AUTH_SUCCEEDED,
        AUTH_INVALID,
        ENCRYPTION_REQUIRED,
        AUTH_REQUIRED,
        AUTH_CANCELLED,
        UNKNOWN_COMMAND,
        LINE_TOO_LONG,
        ARGUMENT_SYNTAX,
        NOT_IMPLEMENTED,
        BAD_SEQUENCE,
        MESSAGE_TOO_BIG,
        TOO_MANY_RECIPIENTS,
        NO_VALID_RECIPIENTS,
        UNKNOWN_PARAMETER,
        UTF8_NEEDS_SMTPUTF8,
        TIMEOUT,
        TOO_MANY_ERRORS,
        SHUTTING_DOWN,
        TOO_MANY_CONNECTIONS,
    ] {
        assert!(r.first_line().len() <= MAX_REPLY_TEXT);
        assert!(!r.first_line().contains(&b'\n') && !r.first_line().contains(&b'\r'));
        if let Some(e) = r.enhanced() {
            assert_eq!(u16::from(e.class()), r.code().as_u16() / 100, "{r:?}");
        }
        let (back, _) = match Reply::parse(&wire(&r).freeze()).unwrap() {
            Status::Complete(x) => x,
            Status::Incomplete => panic!(),
        };
        assert_eq!(back, r);
    }
}

/// Regression (fuzz target `reply`): `wire_len` counted a separator and a space that `write`
/// leaves out for a bare code (`354\r\n`) and for an enhanced code without text.
#[test]
fn wire_len_matches_write_for_bare_code_and_empty_text() {
    let src = b"354\r\n220 \r\n250-\r\n250 2.0.0\r\n";
    let buf = Bytes::from_static(src);
    let mut pos = 0;
    while pos < buf.len() {
        let Ok(Status::Complete((r, used))) = Reply::parse(&buf.slice(pos..)) else {
            panic!("no reply at {pos}")
        };
        assert_eq!(r.wire_len(), wire(&r).len(), "{r:?}");
        pos += used;
    }
    let r = Reply::new(ReplyCode::OK, Some(EnhancedCode::OK), "");
    assert_eq!(&wire(&r)[..], b"250 2.0.0\r\n");
    assert_eq!(r.wire_len(), 11);
}

/// Regression (fuzz target `ehlo`): a bare CR inside a reply line was kept in the text, so
/// writers that split text at CR (`Capabilities::to_reply`) produced a different reply.
#[test]
fn bare_cr_inside_a_reply_line_is_a_syntax_error() {
    let buf = Bytes::from_static(b"250-XFORWARD NAME HELO\r250-injected\r\n250 DSN\r\n");
    assert_eq!(Reply::parse(&buf), Err(ReplyError::Syntax));
    let mut parser = ReplyParser::new(ReplyLimits::default());
    assert_eq!(
        parser.push_line(&Bytes::from_static(b"250 a\rb")),
        Err(ReplyError::Syntax)
    );
    // A CR right before the LF is the line ending, not text.
    let (r, _) = parse_all(b"250 ok\r\n");
    assert_eq!(&r.first_line()[..], b"ok");
}

/// Regression (fuzz target `reply`): a line of exactly `max_line` octets with its CRLF was
/// refused when the buffer ended between its CR and LF, and accepted once the LF arrived.
#[test]
fn line_of_exactly_max_line_is_incomplete_before_its_lf() {
    let limits = ReplyLimits {
        max_line: 10,
        max_lines: 4,
    };
    let full = Bytes::from_static(b"250 abcdef\r\n");
    assert!(Reply::parse_with(&full, limits).is_err(), "12 octets > 10");
    let full = Bytes::from_static(b"250 abcd\r\n");
    assert!(matches!(
        Reply::parse_with(&full, limits),
        Ok(Status::Complete((_, 10)))
    ));
    assert_eq!(
        Reply::parse_with(&full.slice(..9), limits),
        Ok(Status::Incomplete)
    );
}
