//! Reply parsing: one line at a time ([`ReplyLine`]), whole replies incrementally
//! ([`ReplyParser`], [`Reply::parse`]).

use alloc::vec::Vec;
use bytes::Bytes;
use nom::bytes::complete::take_while_m_n;
use nom::combinator::{map_opt, opt};
use nom::sequence::pair;
use nom::IResult;

use super::{EnhancedCode, Reply, ReplyCode};
use crate::error::ReplyError;
use crate::Status;

/// Bounds on what a peer may send as one reply; exceeding them is an error, never growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Longest line including CRLF. RFC 5321 says 512; real servers send a little more.
    pub max_line: usize,
    /// Most lines in one reply (an EHLO reply has one per extension).
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits {
            max_line: 4096,
            max_lines: 128,
        }
    }
}

/// One line of a reply, as it appeared on the wire (without its line ending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyLine {
    /// The code.
    pub code: ReplyCode,
    /// `true` when this is the last line (a space or nothing after the code, not `-`).
    pub last: bool,
    /// The text after the separator (still carrying any enhanced code).
    pub text: Bytes,
}

fn reply_code(i: &[u8]) -> IResult<&[u8], ReplyCode> {
    map_opt(
        take_while_m_n(3, 3, |b: u8| b.is_ascii_digit()),
        |d: &[u8]| {
            ReplyCode::new(
                u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0'),
            )
        },
    )(i)
}

fn separator(i: &[u8]) -> IResult<&[u8], Option<u8>> {
    opt(map_opt(
        take_while_m_n(1, 1, |b| b == b'-' || b == b' '),
        |s: &[u8]| s.first().copied(),
    ))(i)
}

impl ReplyLine {
    /// Parses one line without its line ending: `code [("-" / SP) text]`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::ReplyLine;
    /// let l = ReplyLine::parse(&Bytes::from_static(b"250-PIPELINING")).unwrap();
    /// assert_eq!((l.code.as_u16(), l.last, &l.text[..]), (250, false, &b"PIPELINING"[..]));
    /// ```
    pub fn parse(line: &Bytes) -> Result<ReplyLine, ReplyError> {
        let (rest, (code, sep)) =
            pair(reply_code, separator)(&line[..]).map_err(|_| ReplyError::Syntax)?;
        match sep {
            None if !rest.is_empty() => Err(ReplyError::Syntax),
            // RFC 5321 4.2: textstring is HT and %d32-126 only. A bare CR inside a line would
            // survive into `Reply::lines` and be re-split by every writer that normalises
            // text (found by the `ehlo` fuzz target: `Capabilities::to_reply` changed the
            // keyword list), and a proxy would forward it as is.
            _ if memchr::memchr(b'\r', rest).is_some() => Err(ReplyError::Syntax),
            _ => Ok(ReplyLine {
                code,
                last: sep != Some(b'-'),
                text: line.slice_ref(rest),
            }),
        }
    }
}

/// Builds a reply from lines, keeping its place between calls so that a reply arriving
/// in many pieces is scanned once (no re-parsing of a growing buffer).
#[derive(Debug, Clone, Default)]
pub struct ReplyParser {
    limits: ReplyLimits,
    code: Option<ReplyCode>,
    lines: Vec<Bytes>,
}

impl ReplyParser {
    /// A parser with the given limits.
    pub fn new(limits: ReplyLimits) -> Self {
        ReplyParser {
            limits,
            code: None,
            lines: Vec::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ReplyLimits {
        self.limits
    }

    /// Bytes of text held for an unfinished multi-line reply.
    pub fn buffered_bytes(&self) -> usize {
        self.lines.iter().map(|l| l.len()).sum()
    }

    /// Forgets an unfinished reply.
    pub fn reset(&mut self) {
        self.code = None;
        self.lines.clear();
    }

    /// Feeds one line (without its line ending). Returns the reply when this line ends it.
    pub fn push_line(&mut self, line: &Bytes) -> Result<Option<Reply>, ReplyError> {
        if line.len() + 2 > self.limits.max_line {
            self.reset();
            return Err(ReplyError::LineTooLong);
        }
        let parsed = ReplyLine::parse(line).inspect_err(|_| self.reset())?;
        match self.code {
            Some(c) if c != parsed.code => {
                self.reset();
                return Err(ReplyError::MixedCodes);
            }
            _ => self.code = Some(parsed.code),
        }
        if self.lines.len() >= self.limits.max_lines {
            self.reset();
            return Err(ReplyError::TooManyLines);
        }
        self.lines.push(parsed.text);
        if !parsed.last {
            return Ok(None);
        }
        let lines = core::mem::take(&mut self.lines);
        self.code = None;
        Ok(Some(assemble(parsed.code, lines)))
    }
}

/// Lifts a shared enhanced code out of the lines (RFC 2034 section 4).
fn assemble(code: ReplyCode, mut lines: Vec<Bytes>) -> Reply {
    let class = (code.as_u16() / 100) as u8;
    let enhanced = lines
        .first()
        .and_then(|l| EnhancedCode::parse_prefix(l))
        .filter(|(e, _)| e.class() == class);
    if let Some((e, _)) = enhanced {
        for line in lines.iter_mut() {
            if let Some((le, n)) = EnhancedCode::parse_prefix(line) {
                if le == e {
                    let skip = if line.get(n) == Some(&b' ') { n + 1 } else { n };
                    *line = line.slice(skip..);
                }
            }
        }
    }
    Reply::from_lines_unchecked(code, enhanced.map(|(e, _)| e), lines)
}

impl Reply {
    /// Parses one whole reply from the start of `buf`, httparse style: the reply and the
    /// number of bytes it used, or `Incomplete` when the last line has not arrived yet.
    /// Lines end with CRLF; a bare LF is tolerated (replies cannot smuggle anything).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{Reply, Status};
    /// let buf = Bytes::from_static(b"250-mx.example.com\r\n250-8BITMIME\r\n250 SIZE 100\r\n");
    /// let Status::Complete((reply, used)) = Reply::parse(&buf).unwrap() else { panic!() };
    /// assert_eq!(used, buf.len());
    /// assert_eq!(reply.line_count(), 3);
    /// assert!(Reply::parse(&buf.slice(..30)).unwrap().is_incomplete());
    /// ```
    pub fn parse(buf: &Bytes) -> Result<Status<(Reply, usize)>, ReplyError> {
        Self::parse_with(buf, ReplyLimits::default())
    }

    /// [`Reply::parse`] with explicit limits.
    pub fn parse_with(
        buf: &Bytes,
        limits: ReplyLimits,
    ) -> Result<Status<(Reply, usize)>, ReplyError> {
        let mut parser = ReplyParser::new(limits);
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                // A trailing CR may be the first half of the CRLF: counting it made a line of
                // exactly `max_line` fail when the buffer ended between CR and LF, and pass
                // when it did not (found by the `reply` fuzz target).
                let cr = usize::from(rest.last() == Some(&b'\r'));
                if rest.len() - cr + 2 > limits.max_line {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok(Status::Incomplete);
            };
            let end = if nl > 0 && rest[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            let line = buf.slice(pos..pos + end);
            pos += nl + 1;
            if let Some(reply) = parser.push_line(&line)? {
                return Ok(Status::Complete((reply, pos)));
            }
        }
    }
}
