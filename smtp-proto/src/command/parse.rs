//! Command parsing: framing of one line, verb dispatch, arguments.
//!
//! The verb is matched without allocating (ASCII case folding on a machine word); paths and
//! parameters are parsed by the nom parsers in [`crate::address`] and [`super::params`] on the
//! complete line. Every field is a zero-copy slice of the input, except domain names of up to
//! [`Domain::INLINE`](crate::Domain::INLINE) octets, which are copied (cheaper than sharing).

use alloc::vec::Vec;
use bytes::Bytes;

use super::{ChunkKind, Command, InitialResponse, MailParams, RcptParams, XAttribute};
use crate::address::{self, PathSpan};
use crate::error::{ParseError, PathRole};
use crate::options::{LineEnding, ParseOptions, PathSyntax};
use crate::sasl::Mechanism;
use crate::{Domain, ForwardPath, Host, ReversePath, Secret, Status};

/// The verbs this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Helo,
    Ehlo,
    Lhlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth,
    Etrn,
    Atrn,
    Burl,
    Xclient,
    Xforward,
    Unknown,
}

const fn lower4(s: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*s)
}
const fn lower8(s: &[u8; 8]) -> u64 {
    u64::from_be_bytes(*s)
}

/// Case-insensitive verb lookup without allocation: OR-ing 0x20 into every byte maps `A`..`Z`
/// onto `a`..`z` and no other byte onto a lower-case letter, so one integer compare per verb
/// is exact.
fn verb(v: &[u8]) -> Verb {
    const HELO: u32 = lower4(b"helo");
    const EHLO: u32 = lower4(b"ehlo");
    const LHLO: u32 = lower4(b"lhlo");
    const MAIL: u32 = lower4(b"mail");
    const RCPT: u32 = lower4(b"rcpt");
    const DATA: u32 = lower4(b"data");
    const BDAT: u32 = lower4(b"bdat");
    const RSET: u32 = lower4(b"rset");
    const NOOP: u32 = lower4(b"noop");
    const QUIT: u32 = lower4(b"quit");
    const VRFY: u32 = lower4(b"vrfy");
    const EXPN: u32 = lower4(b"expn");
    const HELP: u32 = lower4(b"help");
    const AUTH: u32 = lower4(b"auth");
    const ETRN: u32 = lower4(b"etrn");
    const ATRN: u32 = lower4(b"atrn");
    const BURL: u32 = lower4(b"burl");
    const STARTTLS: u64 = lower8(b"starttls");
    const XFORWARD: u64 = lower8(b"xforward");
    if let Ok(w) = <[u8; 4]>::try_from(v) {
        return match u32::from_be_bytes(w) | 0x2020_2020 {
            MAIL => Verb::Mail,
            RCPT => Verb::Rcpt,
            EHLO => Verb::Ehlo,
            DATA => Verb::Data,
            QUIT => Verb::Quit,
            RSET => Verb::Rset,
            HELO => Verb::Helo,
            LHLO => Verb::Lhlo,
            BDAT => Verb::Bdat,
            NOOP => Verb::Noop,
            VRFY => Verb::Vrfy,
            EXPN => Verb::Expn,
            HELP => Verb::Help,
            AUTH => Verb::Auth,
            ETRN => Verb::Etrn,
            ATRN => Verb::Atrn,
            BURL => Verb::Burl,
            _ => Verb::Unknown,
        };
    }
    if let Ok(w) = <[u8; 8]>::try_from(v) {
        return match u64::from_be_bytes(w) | 0x2020_2020_2020_2020 {
            STARTTLS => Verb::StartTls,
            XFORWARD => Verb::Xforward,
            _ => Verb::Unknown,
        };
    }
    if v.eq_ignore_ascii_case(b"XCLIENT") {
        return Verb::Xclient;
    }
    Verb::Unknown
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits `s` at the first SP into the first token and what follows that SP.
fn split_sp(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b' ', s) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// `"LAST"` (RFC 3030 `end-marker`, also used by BURL).
fn chunk_kind(marker: Option<&[u8]>) -> Result<ChunkKind, ParseError> {
    match marker {
        None => Ok(ChunkKind::More),
        Some(m) if m.eq_ignore_ascii_case(b"LAST") => Ok(ChunkKind::Last),
        Some(_) => Err(ParseError::ArgumentSyntax),
    }
}

/// RFC 4422 3.1: `sasl-mech = 1*20mech-char`, `mech-char = UPPER-ALPHA / DIGIT / "-" / "_"`
/// (lower case accepted: clients send it and RFC 4954 says the name is case-insensitive).
fn is_sasl_mech(m: &[u8]) -> bool {
    (1..=20).contains(&m.len())
        && m.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_base64(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

impl Command {
    /// Parses one command from the start of `buf`.
    ///
    /// Returns [`Status::Incomplete`] while no line end is found within
    /// [`ParseOptions::max_line`] octets, and `Complete((command, used))` where `used` counts
    /// the line and its line ending. A line longer than `max_line` (line ending included) is
    /// [`ParseError::LineTooLong`]; a bare LF is [`ParseError::BareLineEnding`] unless
    /// [`LineEnding::CrLfOrLf`] is set. See [`Command::parse_line`] for the line itself.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{Command, ParseOptions, Status};
    /// let opts = ParseOptions::default();
    /// let buf = Bytes::from_static(b"mail FROM:<a@example.org> size=10\r\nRCPT");
    /// let Status::Complete((cmd, used)) = Command::parse(&buf, &opts).unwrap() else { panic!() };
    /// assert!(matches!(cmd, Command::Mail { .. }));
    /// assert_eq!(used, 35);
    /// assert_eq!(Command::parse(&buf.slice(used..), &opts), Ok(Status::Incomplete));
    /// ```
    pub fn parse(buf: &Bytes, opts: &ParseOptions) -> Result<Status<(Command, usize)>, ParseError> {
        let window = &buf[..buf.len().min(opts.max_line)];
        let Some(lf) = memchr::memchr(b'\n', window) else {
            return if buf.len() >= opts.max_line {
                Err(ParseError::LineTooLong)
            } else {
                Ok(Status::Incomplete)
            };
        };
        let end = match lf.checked_sub(1) {
            Some(cr) if window[cr] == b'\r' => cr,
            _ => match opts.line_ending {
                LineEnding::CrLf => return Err(ParseError::BareLineEnding),
                LineEnding::CrLfOrLf => lf,
            },
        };
        // Fields are sliced from `buf` directly: no refcount traffic for the line itself.
        let cmd = parse_line_inner(buf, &window[..end], opts)?;
        Ok(Status::Complete((cmd, lf + 1)))
    }

    /// Parses one complete command line given WITHOUT its line ending.
    ///
    /// - Verbs are case-insensitive; unknown verbs become [`Command::Unknown`].
    /// - Trailing white space (SP / TAB) is ignored on every line: many clients send
    ///   `DATA ` or `RSET `.
    /// - A NUL byte is [`ParseError::Syntax`]; a CR or LF is [`ParseError::BareLineEnding`].
    /// - Arguments on DATA, RSET, QUIT and STARTTLS are [`ParseError::ArgumentSyntax`]
    ///   (RFC 5321 4.3.2: 501).
    /// - With [`PathSyntax::Lenient`], a TAB or several spaces may separate the verb from its
    ///   arguments and parameters from each other, `MAIL FROM: <a@b>` and `MAIL FROM:a@b`
    ///   are accepted, and HELO/EHLO/LHLO domains may hold `_`.
    ///
    /// Every field of the result is a slice of `line` (no copy), except domain names of up to
    /// [`Domain::INLINE`](crate::Domain::INLINE) octets, which are held in place: copying
    /// them costs less than the atomic reference count of a shared slice.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{Command, ParseError, ParseOptions};
    /// let opts = ParseOptions::default();
    /// assert_eq!(Command::parse_line(&Bytes::from_static(b"DATA "), &opts), Ok(Command::Data));
    /// assert_eq!(Command::parse_line(&Bytes::from_static(b"QUIT now"), &opts), Err(ParseError::ArgumentSyntax));
    /// ```
    pub fn parse_line(line: &Bytes, opts: &ParseOptions) -> Result<Command, ParseError> {
        if line.len().saturating_add(2) > opts.max_line {
            return Err(ParseError::LineTooLong);
        }
        parse_line_inner(line, line, opts)
    }
}

/// Octets that may not appear in a command line: NUL, CR, LF. A scalar loop beats memchr's
/// set-up on the short lines most commands are.
fn find_forbidden(text: &[u8]) -> Option<usize> {
    if text.len() < 32 {
        text.iter()
            .position(|&b| b == 0 || b == b'\r' || b == b'\n')
    } else {
        memchr::memchr3(0, b'\r', b'\n', text)
    }
}

/// The error for a line holding a forbidden octet, if it does.
#[inline(always)]
fn forbidden_error(text: &[u8]) -> Option<ParseError> {
    // Branch-free pre-check that vectorizes: the smallest octet of a valid line is SP, or TAB
    // with lenient separators; only a line with an octet at or below CR needs the exact scan.
    if text.iter().fold(u8::MAX, |m, &b| m.min(b)) > b'\r' {
        return None;
    }
    find_forbidden(text).map(|p| {
        if text[p] == 0 {
            ParseError::Syntax
        } else {
            ParseError::BareLineEnding
        }
    })
}

/// Parses `text`, a sub-slice of `base`; fields are `base.slice_ref(..)`.
fn parse_line_inner(base: &Bytes, text: &[u8], opts: &ParseOptions) -> Result<Command, ParseError> {
    // DATA, RSET and QUIT are a third of all commands: answer them without further ado.
    if let Ok(w) = <&[u8; 4]>::try_from(text) {
        match verb(w) {
            Verb::Data => return Ok(Command::Data),
            Verb::Rset => return Ok(Command::Rset),
            Verb::Quit => return Ok(Command::Quit),
            _ => {}
        }
    }
    if let Some(cmd) = parse_helo_domain(base, text, opts) {
        return Ok(cmd);
    }
    let verb_end = text.iter().position(|&b| is_wsp(b)).unwrap_or(text.len());
    let (verb_bytes, after) = text.split_at(verb_end);
    let v = verb(verb_bytes);
    if matches!(
        v,
        Verb::Mail | Verb::Rcpt | Verb::Ehlo | Verb::Helo | Verb::Lhlo
    ) {
        // The path, parameter and host parsers accept no NUL, CR or LF, so a line that
        // parses holds none: look for them only to name the error of a line that did not.
        return parse_known(base, v, after, opts).map_err(|e| forbidden_error(text).unwrap_or(e));
    }
    // For the other verbs, one check for NUL / CR / LF up front keeps the parsers simple.
    if let Some(e) = forbidden_error(text) {
        return Err(e);
    }
    if v == Verb::Unknown {
        // Known verbs are letters by construction; an unknown one must at least be printable
        // ASCII.
        if verb_bytes.is_empty() || !verb_bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(ParseError::Syntax);
        }
        return match parse_known(base, v, after, opts)? {
            Command::Unknown { args, .. } => Ok(Command::Unknown {
                verb: base.slice_ref(verb_bytes),
                args,
            }),
            cmd => Ok(cmd),
        };
    }
    parse_known(base, v, after, opts)
}

/// `HELO` / `EHLO` / `LHLO`, one SP and a domain name (nearly every greeting): checked and
/// built without the general machinery. `None` for anything else, which the general path
/// then parses (or rejects) the same way. The domain scan accepts no NUL, CR or LF, so the
/// line needs no other check.
#[inline(always)]
fn parse_helo_domain(base: &Bytes, text: &[u8], opts: &ParseOptions) -> Option<Command> {
    let (&[v0, v1, v2, v3, b' '], arg) = text.split_first_chunk::<5>()? else {
        return None;
    };
    let v = verb(&[v0, v1, v2, v3]);
    if !matches!(v, Verb::Ehlo | Verb::Helo | Verb::Lhlo) {
        return None;
    }
    let underscore = match opts.path_syntax {
        PathSyntax::Strict => address::Underscore::Reject,
        PathSyntax::Lenient => address::Underscore::Allow,
    };
    // An address literal starts with `[`, which the scan does not accept.
    if !address::is_whole_domain(arg, underscore) {
        return None;
    }
    let host = Host::Domain(Domain::from_checked(base, arg));
    Some(match v {
        Verb::Ehlo => Command::Ehlo(host),
        Verb::Helo => Command::Helo(host),
        _ => Command::Lhlo(host),
    })
}

/// Parses what follows the verb (`after`: empty or starting with SP / TAB).
fn parse_known(
    base: &Bytes,
    v: Verb,
    after: &[u8],
    opts: &ParseOptions,
) -> Result<Command, ParseError> {
    let mut after = after;
    while let [rest @ .., b' ' | b'\t'] = after {
        after = rest;
    }
    let syntax = opts.path_syntax;
    // `after` is empty or starts with the separator; it never ends in white space.
    let args = match after.split_first() {
        None => None,
        Some((b' ', rest)) => Some(rest),
        Some((_tab, rest)) => match (syntax, v) {
            (PathSyntax::Lenient, _) | (PathSyntax::Strict, Verb::Unknown) => Some(rest),
            (PathSyntax::Strict, _) => return Err(ParseError::ArgumentSyntax),
        },
    };
    let args = match (syntax, args) {
        (PathSyntax::Lenient, Some(a)) if v != Verb::Unknown => {
            Some(&a[a.iter().take_while(|&&b| is_wsp(b)).count()..])
        }
        (_, a) => a,
    };
    let line = base;
    let required = || args.ok_or(ParseError::ArgumentSyntax);
    if args.is_some() && matches!(v, Verb::Data | Verb::Rset | Verb::Quit | Verb::StartTls) {
        // RFC 5321 4.3.2: 501 for arguments where none are allowed.
        return Err(ParseError::ArgumentSyntax);
    }
    match v {
        Verb::Mail => parse_mail(line, required()?, syntax),
        Verb::Rcpt => parse_rcpt(line, required()?, syntax),
        Verb::Data => Ok(Command::Data),
        Verb::Rset => Ok(Command::Rset),
        Verb::Quit => Ok(Command::Quit),
        Verb::StartTls => Ok(Command::StartTls),
        Verb::Ehlo => Ok(Command::Ehlo(address::helo_host(
            line,
            required()?,
            syntax,
        )?)),
        Verb::Helo => Ok(Command::Helo(address::helo_host(
            line,
            required()?,
            syntax,
        )?)),
        Verb::Lhlo => Ok(Command::Lhlo(address::helo_host(
            line,
            required()?,
            syntax,
        )?)),
        Verb::Noop => Ok(Command::Noop(args.map(|a| line.slice_ref(a)))),
        Verb::Help => Ok(Command::Help(args.map(|a| line.slice_ref(a)))),
        Verb::Vrfy => Ok(Command::Vrfy(line.slice_ref(required()?))),
        Verb::Expn => Ok(Command::Expn(line.slice_ref(required()?))),
        Verb::Bdat => parse_bdat(required()?),
        Verb::Auth => parse_auth(line, required()?),
        Verb::Etrn => parse_etrn(line, required()?),
        Verb::Atrn => parse_atrn(line, args),
        Verb::Burl => parse_burl(line, required()?),
        Verb::Xclient => Ok(Command::Xclient(parse_attributes(line, required()?)?)),
        Verb::Xforward => Ok(Command::Xforward(parse_attributes(line, required()?)?)),
        // The verb is filled in by the caller.
        Verb::Unknown => Ok(Command::Unknown {
            verb: Bytes::new(),
            args: args.map(|a| line.slice_ref(a)),
        }),
    }
}

/// Strips a case-insensitive `FROM:` / `TO:` and, when lenient, the spaces after it.
#[inline]
fn strip_keyword<'a>(args: &'a [u8], keyword: &[u8], syntax: PathSyntax) -> Option<&'a [u8]> {
    let head = args.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = &args[keyword.len()..];
    Some(match syntax {
        PathSyntax::Strict => rest,
        PathSyntax::Lenient => &rest[rest.iter().take_while(|&&b| is_wsp(b)).count()..],
    })
}

/// `"MAIL FROM:" Reverse-path [SP Mail-parameters]` (RFC 5321 4.1.1.2).
#[inline(always)]
fn parse_mail(line: &Bytes, args: &[u8], syntax: PathSyntax) -> Result<Command, ParseError> {
    let rest = strip_keyword(args, b"FROM:", syntax).ok_or(ParseError::ArgumentSyntax)?;
    let (path, rest) = address::path(rest, PathRole::Sender, syntax)?;
    let from = match path {
        PathSpan::Null => ReversePath::Null,
        PathSpan::Mailbox(m) => ReversePath::Mailbox(m.to_mailbox(line)),
        PathSpan::Postmaster => return Err(ParseError::BadMailbox(PathRole::Sender)),
    };
    // Built in its final place and filled there: moving a finished `MailParams` costs a copy.
    let mut cmd = Command::Mail {
        from,
        params: MailParams::default(),
    };
    if let (false, Command::Mail { params, .. }) = (rest.is_empty(), &mut cmd) {
        params.parse_into(line, rest, syntax)?;
    }
    Ok(cmd)
}

/// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
/// [SP Rcpt-parameters]` (RFC 5321 4.1.1.3).
#[inline(always)]
fn parse_rcpt(line: &Bytes, args: &[u8], syntax: PathSyntax) -> Result<Command, ParseError> {
    let rest = strip_keyword(args, b"TO:", syntax).ok_or(ParseError::ArgumentSyntax)?;
    let (path, rest) = address::path(rest, PathRole::Recipient, syntax)?;
    let to = match path {
        PathSpan::Postmaster => ForwardPath::Postmaster,
        PathSpan::Mailbox(m) => ForwardPath::Mailbox(m.to_mailbox(line)),
        PathSpan::Null => return Err(ParseError::BadMailbox(PathRole::Recipient)),
    };
    let mut cmd = Command::Rcpt {
        to,
        params: RcptParams::default(),
    };
    if let (false, Command::Rcpt { params, .. }) = (rest.is_empty(), &mut cmd) {
        params.parse_into(line, rest, syntax)?;
    }
    Ok(cmd)
}

/// `"BDAT" SP chunk-size [SP end-marker]`, `chunk-size = 1*DIGIT` (RFC 3030 2).
fn parse_bdat(args: &[u8]) -> Result<Command, ParseError> {
    let (size, marker) = split_sp(args);
    if size.is_empty() || !size.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::ArgumentSyntax);
    }
    let size = size
        .iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or(ParseError::ArgumentSyntax)?;
    Ok(Command::Bdat {
        size,
        kind: chunk_kind(marker)?,
    })
}

/// `"AUTH" SP sasl-mech [SP initial-response]`, `initial-response = base64 / "="`
/// (RFC 4954 4).
fn parse_auth(line: &Bytes, args: &[u8]) -> Result<Command, ParseError> {
    let (mech, response) = split_sp(args);
    if !is_sasl_mech(mech) {
        return Err(ParseError::ArgumentSyntax);
    }
    let initial_response = match response {
        None => None,
        Some(b"=") => Some(InitialResponse::Empty),
        Some(r) if is_base64(r) => Some(InitialResponse::Base64(Secret::new(line.slice_ref(r)))),
        Some(_) => return Err(ParseError::ArgumentSyntax),
    };
    Ok(Command::Auth {
        mechanism: Mechanism::from_name(mech),
        initial_response,
    })
}

/// `"ETRN" SP node`: a domain, `@domain` or `#queue-name` (RFC 1985 5).
fn parse_etrn(line: &Bytes, args: &[u8]) -> Result<Command, ParseError> {
    let ok = match args.split_first() {
        Some((b'#', queue)) => !queue.is_empty() && queue.iter().all(|b| (0x21..=0x7e).contains(b)),
        Some((b'@', domain)) => address::check_domain(domain, address::Underscore::Reject).is_ok(),
        _ => address::check_domain(args, address::Underscore::Reject).is_ok(),
    };
    if !ok {
        return Err(ParseError::ArgumentSyntax);
    }
    Ok(Command::Etrn(line.slice_ref(args)))
}

/// `"ATRN" [SP domain *("," domain)]` (RFC 2645 4).
fn parse_atrn(line: &Bytes, args: Option<&[u8]>) -> Result<Command, ParseError> {
    let mut domains = Vec::new();
    if let Some(args) = args {
        for d in args.split(|&b| b == b',') {
            address::check_domain(d, address::Underscore::Reject)
                .map_err(|_| ParseError::ArgumentSyntax)?;
            domains.push(crate::Domain::from_checked(line, d));
        }
    }
    Ok(Command::Atrn(domains))
}

/// `"BURL" SP absolute-URI [SP end-marker]` (RFC 4468 3).
fn parse_burl(line: &Bytes, args: &[u8]) -> Result<Command, ParseError> {
    let (url, marker) = split_sp(args);
    if url.is_empty() || !url.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(ParseError::ArgumentSyntax);
    }
    Ok(Command::Burl {
        url: line.slice_ref(url),
        kind: chunk_kind(marker)?,
    })
}

/// `attribute-name "=" attribute-value *(SP ...)` of Postfix XCLIENT / XFORWARD; values stay
/// xtext-encoded as sent.
fn parse_attributes(line: &Bytes, args: &[u8]) -> Result<Vec<XAttribute>, ParseError> {
    let mut out = Vec::new();
    for token in args.split(|&b| b == b' ') {
        let eq = memchr::memchr(b'=', token).ok_or(ParseError::ArgumentSyntax)?;
        let (name, value) = (&token[..eq], &token[eq + 1..]);
        let name_ok = name.first().is_some_and(u8::is_ascii_alphabetic)
            && name
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok || !value.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(ParseError::ArgumentSyntax);
        }
        out.push(XAttribute {
            name: line.slice_ref(name),
            value: line.slice_ref(value),
        });
    }
    Ok(out)
}
