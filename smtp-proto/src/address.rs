//! Paths and mailboxes of RFC 5321 4.1.2, with RFC 6531 (SMTPUTF8) extensions.
//!
//! Every type is backed by [`Bytes`] sliced from the input line, so parsing copies nothing.
//! Values are validated on construction; `as_str` re-checks UTF-8 on these short fields.

use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use nom::branch::alt;
use nom::bytes::complete::{take_while1, take_while_m_n};
use nom::character::complete::char;
use nom::combinator::recognize;
use nom::multi::many0_count;
use nom::sequence::{delimited, pair};

use nom::IResult;

use crate::error::{ParseError, PathRole};
use crate::options::{ParseOptions, PathSyntax};
use crate::text::Text;

/// A domain name: dot-separated labels (RFC 5321 4.1.2 `Domain`), or U-labels under
/// SMTPUTF8 (RFC 6531 3.3). At most 255 octets (4.5.3.1.2).
///
/// Names of up to [`Domain::INLINE`] octets (nearly all) are held in place: copying them costs
/// less than sharing the input buffer, whose reference count is an atomic operation on the
/// way in and another on the way out (this is the argument of every EHLO). Longer names share
/// the buffer they were parsed from. Equality and hashing are on the octets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Domain(Text<{ Domain::INLINE }>);

impl Domain {
    /// The longest name held in place rather than as a slice of the input.
    pub const INLINE: usize = 62;

    /// A domain already checked, from `d`, a sub-slice of `base`.
    #[inline(always)]
    pub(crate) fn from_checked(base: &Bytes, d: &[u8]) -> Domain {
        Domain(Text::from_slice_of(base, d))
    }

    /// A domain already checked (or made by hand in tests).
    pub(crate) fn from_bytes(d: Bytes) -> Domain {
        Domain(Text::from_bytes(d))
    }

    /// The domain as written.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    /// The domain as text (always valid UTF-8 once parsed).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
    /// `true` when a label holds non-ASCII octets (a U-label), which needs SMTPUTF8.
    pub fn is_utf8(&self) -> bool {
        !self.as_bytes().is_ascii()
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain(b\"{}\")", self.as_bytes().escape_ascii())
    }
}

/// An address literal in brackets (RFC 5321 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    Ipv6(Ipv6Addr),
    /// `[tag:content]` with a standardized tag other than IPv6.
    General {
        /// The tag (`Ldh-str`).
        tag: Bytes,
        /// The content (`1*dcontent`).
        content: Bytes,
    },
}

/// What follows `@` in a mailbox, or the argument of HELO/EHLO.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name.
    Domain(Domain),
    /// An address literal.
    Literal(AddressLiteral),
}

/// The local part of a mailbox exactly as written: a dot-string, or a quoted-string with its
/// quotes and backslashes. At most 64 octets (4.5.3.1.1). A view into its [`Mailbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalPart<'a>(&'a [u8]);

impl<'a> LocalPart<'a> {
    /// The local part as written on the wire (quotes included when quoted).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
    /// `true` for the quoted-string form.
    pub fn is_quoted(&self) -> bool {
        self.0.first() == Some(&b'"')
    }
    /// `true` when it holds non-ASCII octets, which needs SMTPUTF8.
    pub fn is_utf8(&self) -> bool {
        !self.0.is_ascii()
    }
}

/// `Local-part "@" ( Domain / address-literal )`.
///
/// Held as written, in one piece, with the position of the `@` that ends the local part (a
/// quoted local part may hold `@` too) and the kind of host; address literals are parsed
/// once. Mailboxes of up to [`Mailbox::INLINE`] octets (most) are held in place, longer ones
/// share the input buffer (see [`Domain`] for why). Two mailboxes are equal when they are
/// written alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// `local@host`, an address literal with its brackets.
    text: Text<{ Mailbox::INLINE }>,
    /// Offset of the `@` that ends the local part (at most 64, RFC 5321 4.5.3.1.1).
    at: u8,
    /// What follows the `@`.
    host: HostKind,
}

/// The kind of host of a [`Mailbox`], with what an address literal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HostKind {
    Domain,
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// `[tag:content]`: the offset of the colon within the host (which starts with `[`).
    General {
        colon: u32,
    },
}

impl Mailbox {
    /// The longest mailbox held in place rather than as a slice of the input.
    pub const INLINE: usize = 46;

    /// Builds a mailbox from its parts, checked as if parsed.
    ///
    /// ```
    /// use smtp_proto::{Domain, Host, Mailbox, ParseOptions};
    /// use bytes::Bytes;
    /// let host = Host::parse(&Bytes::from_static(b"example.org"), &ParseOptions::default()).unwrap();
    /// let m = Mailbox::new(b"\"a@b\"", &host).unwrap();
    /// assert_eq!(m.to_string(), "\"a@b\"@example.org");
    /// assert_eq!(m.domain(), Some("example.org"));
    /// ```
    pub fn new(local_part: &[u8], host: &Host) -> Result<Mailbox, ParseError> {
        let mut text = BytesMut::with_capacity(local_part.len() + 1 + 32);
        text.extend_from_slice(local_part);
        text.put_u8(b'@');
        host.write(&mut text);
        Mailbox::parse(&text.freeze(), &ParseOptions::default())
    }

    /// The mailbox as written: `local@host`.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
    /// The local part.
    pub fn local_part(&self) -> LocalPart<'_> {
        LocalPart(
            self.as_bytes()
                .get(..usize::from(self.at))
                .unwrap_or_default(),
        )
    }
    /// The host as written after the `@` (an address literal with its brackets).
    pub fn host_bytes(&self) -> &[u8] {
        self.as_bytes()
            .get(usize::from(self.at) + 1..)
            .unwrap_or_default()
    }
    /// The domain, unless the host is an address literal.
    pub fn domain(&self) -> Option<&str> {
        match self.host {
            HostKind::Domain => core::str::from_utf8(self.host_bytes()).ok(),
            _ => None,
        }
    }
    /// The domain or address literal, as a value of its own (sharing the input buffer when
    /// this mailbox does).
    pub fn host(&self) -> Host {
        let host = self.host_bytes();
        match self.host {
            HostKind::Domain => Host::Domain(Domain(self.text.sub(host))),
            HostKind::Ipv4(a) => Host::Literal(AddressLiteral::Ipv4(a)),
            HostKind::Ipv6(a) => Host::Literal(AddressLiteral::Ipv6(a)),
            HostKind::General { colon } => {
                // `[tag:content]`: both parts without the brackets.
                let colon = usize::try_from(colon).unwrap_or(usize::MAX);
                let end = host.len().saturating_sub(1);
                let tag = host.get(1.min(end)..colon.min(end)).unwrap_or_default();
                let content = host
                    .get(colon.saturating_add(1).min(end)..end)
                    .unwrap_or_default();
                Host::Literal(AddressLiteral::General {
                    tag: self.text.sub_bytes(tag),
                    content: self.text.sub_bytes(content),
                })
            }
        }
    }
    /// `true` when the mailbox needs SMTPUTF8 (RFC 6531): non-ASCII octets occur only in a
    /// UTF-8 local part or U-labels.
    pub fn is_utf8(&self) -> bool {
        !self.as_bytes().is_ascii()
    }
}

/// The argument of `MAIL FROM:` (RFC 5321 4.1.2 `Reverse-path`). Source routes are accepted
/// and dropped (4.1.1.2, Appendix C).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null path of bounces.
    Null,
    /// A mailbox.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// `true` when the path needs SMTPUTF8.
    pub fn is_utf8(&self) -> bool {
        matches!(self, ReversePath::Mailbox(m) if m.is_utf8())
    }
}

/// The argument of `RCPT TO:` (RFC 5321 4.1.2 `Forward-path`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain, in any case (4.1.1.3, 4.5.1).
    Postmaster,
    /// A mailbox.
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// `true` when the path needs SMTPUTF8.
    pub fn is_utf8(&self) -> bool {
        matches!(self, ForwardPath::Mailbox(m) if m.is_utf8())
    }
}

// ---------------------------------------------------------------------------------------------
// Limits (RFC 5321 4.5.3.1)

/// Longest local part in octets (RFC 5321 4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain in octets (RFC 5321 4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest domain label in octets (RFC 1035 2.3.4).
pub const MAX_LABEL: usize = 63;
/// Longest reverse- or forward-path in octets, angle brackets included (RFC 5321 4.5.3.1.3).
pub const MAX_PATH: usize = 256;

// ---------------------------------------------------------------------------------------------
// Character classes, as lookup tables: these run on every byte of every path.

/// Builds a 256-entry lookup table from a `const fn(u8) -> bool`.
macro_rules! class_table {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

/// RFC 5322 `atext`, plus `UTF8-non-ascii` octets (RFC 6531 3.3); UTF-8 validity is checked on
/// the whole local part afterwards.
const fn atext(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
        || b >= 0x80
}

/// RFC 5321 `qtextSMTP` (%d32-33 / %d35-91 / %d93-126) plus `UTF8-non-ascii` (RFC 6531).
const fn qtext(b: u8) -> bool {
    matches!(b, 32..=33 | 35..=91 | 93..=126) || b >= 0x80
}

const ATEXT: [bool; 256] = class_table!(atext);
const QTEXT: [bool; 256] = class_table!(qtext);

#[inline]
pub(crate) fn is_atext(b: u8) -> bool {
    ATEXT[usize::from(b)]
}
#[inline]
fn is_qtext(b: u8) -> bool {
    QTEXT[usize::from(b)]
}
/// RFC 5321 `dcontent`: %d33-90 / %d94-126.
#[inline]
fn is_dcontent(b: u8) -> bool {
    matches!(b, 33..=90 | 94..=126)
}

// ---------------------------------------------------------------------------------------------
// Internal parsers. nom runs on one complete line (`complete` combinators); values are sliced
// out of the line with `Bytes::slice_ref`, so nothing is copied.

type PResult<'a, T> = IResult<&'a [u8], T, ()>;

/// Why an address did not parse, before it is given a [`PathRole`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddrError {
    Syntax,
    LocalPartTooLong,
    DomainTooLong,
}

impl AddrError {
    pub(crate) fn with_role(self, role: PathRole) -> ParseError {
        match self {
            AddrError::Syntax => ParseError::BadMailbox(role),
            AddrError::LocalPartTooLong => ParseError::LocalPartTooLong(role),
            AddrError::DomainTooLong => ParseError::DomainTooLong(role),
        }
    }
}

/// Whether `_` is allowed in domain labels (lenient HELO/EHLO arguments only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Underscore {
    Reject,
    Allow,
}

/// `Dot-string = Atom *("." Atom)`: the length of the dot-string at the start of `i`.
/// Hand-rolled (one pass, table lookups): this runs on every MAIL and RCPT.
/// Also tells whether it holds non-ASCII octets.
#[inline(always)]
fn dot_string_len(i: &[u8]) -> Option<(usize, bool)> {
    let mut after_dot = true;
    let mut high = 0u8;
    let mut n = 0;
    for &b in i {
        if b == b'.' {
            if after_dot {
                return None;
            }
            after_dot = true;
        } else if is_atext(b) {
            after_dot = false;
            high |= b;
        } else {
            break;
        }
        n += 1;
    }
    (n > 0 && !after_dot).then_some((n, high >= 0x80))
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`, with `quoted-pairSMTP = %d92 %d32-126`.
fn quoted_string(i: &[u8]) -> PResult<'_, &[u8]> {
    recognize(delimited(
        char('"'),
        many0_count(alt((
            take_while1(is_qtext),
            recognize(pair(
                char('\\'),
                take_while_m_n(1, 1, |b: u8| (32..=126).contains(&b)),
            )),
        ))),
        char('"'),
    ))(i)
}

/// `Local-part = Dot-string / Quoted-string`, returned with the rest of the input; `None`
/// unless it is valid (UTF-8 included).
#[inline(always)]
fn local_part(i: &[u8]) -> Option<(&[u8], &[u8])> {
    let (local, rest, high) = if i.first() == Some(&b'"') {
        let (rest, q) = quoted_string(i).ok()?;
        (q, rest, !q.is_ascii())
    } else {
        let (n, high) = dot_string_len(i)?;
        let (local, rest) = i.split_at(n);
        (local, rest, high)
    };
    if high && core::str::from_utf8(local).is_err() {
        return None;
    }
    Some((local, rest))
}

/// Octet classes of a domain scan.
const D_LETDIG: u8 = 1; // ALPHA / DIGIT
const D_HYPHEN: u8 = 2;
const D_DOT: u8 = 4;
const D_UNDERSCORE: u8 = 8; // lenient HELO/EHLO only
const D_HIGH: u8 = 16; // UTF8-non-ascii of a U-label (RFC 6531)

const fn domain_class(b: u8) -> u8 {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => D_LETDIG,
        b'-' => D_HYPHEN,
        b'.' => D_DOT,
        b'_' => D_UNDERSCORE,
        0x80..=0xff => D_HIGH,
        _ => 0,
    }
}

const DOMAIN_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = domain_class(i as u8);
        i += 1;
    }
    t
};

/// Scans the domain at the start of `i` and returns its length: labels of letters, digits and
/// inner hyphens (RFC 5321 `sub-domain`) or U-labels (RFC 6531), each 1..=63 octets, 255 in
/// all. The scan stops at the first octet that cannot be part of a domain.
///
/// One table lookup per octet; label lengths are checked at the dots, hyphen placement and
/// UTF-8 only when such octets occurred (this runs on every EHLO, MAIL and RCPT). A
/// word-at-a-time (SWAR) version, and one skipping runs of letters and digits a word at a
/// time, were tried: on names of typical length (labels shorter than eight octets) both ran
/// more instructions and were no faster.
#[inline]
pub(crate) fn scan_domain(i: &[u8], underscore: Underscore) -> Result<usize, AddrError> {
    let mut n = 0;
    let mut seen = 0u8;
    let mut label_start = 0;
    let mut bad = false;
    while let Some(&b) = i.get(n) {
        let c = DOMAIN_CLASS[usize::from(b)];
        if c == 0 {
            break;
        }
        if c == D_DOT {
            let len = n - label_start;
            bad |= len == 0 || len > MAX_LABEL;
            label_start = n + 1;
        }
        seen |= c;
        n += 1;
    }
    if n > MAX_DOMAIN {
        return Err(AddrError::DomainTooLong);
    }
    let last = n - label_start;
    bad |= last == 0 || last > MAX_LABEL;
    bad |= seen & D_UNDERSCORE != 0 && underscore == Underscore::Reject;
    let domain = &i[..n];
    if seen & D_HYPHEN != 0 {
        // No label starts or ends with a hyphen.
        bad |= domain
            .split(|&b| b == b'.')
            .any(|l| l.first() == Some(&b'-') || l.last() == Some(&b'-'));
    }
    if bad || (seen & D_HIGH != 0 && core::str::from_utf8(domain).is_err()) {
        return Err(AddrError::Syntax);
    }
    Ok(n)
}

/// `true` when the whole of `d` is a domain by the rules of [`scan_domain`], checked in a
/// loop with no exit test (the end is known): the EHLO fast path. The [`DOMAIN_CLASS`] of
/// octets that cannot be part of a domain is 0; here they are flagged by [`D_OTHER`].
#[inline]
pub(crate) fn is_whole_domain(d: &[u8], underscore: Underscore) -> bool {
    const D_OTHER: u8 = 32;
    const CLASS: [u8; 256] = {
        let mut t = DOMAIN_CLASS;
        let mut i = 0;
        while i < 256 {
            if t[i] == 0 {
                t[i] = D_OTHER;
            }
            i += 1;
        }
        t
    };
    if d.len() > MAX_DOMAIN {
        return false;
    }
    let mut seen = 0u8;
    let mut label_start = 0;
    let mut bad = false;
    for (n, &b) in d.iter().enumerate() {
        let c = CLASS[usize::from(b)];
        if c == D_DOT {
            let len = n - label_start;
            bad |= len == 0 || len > MAX_LABEL;
            label_start = n + 1;
        }
        seen |= c;
    }
    let last = d.len() - label_start;
    bad |= last == 0 || last > MAX_LABEL || seen & D_OTHER != 0;
    bad |= seen & D_UNDERSCORE != 0 && underscore == Underscore::Reject;
    if seen & D_HYPHEN != 0 {
        bad |= d
            .split(|&b| b == b'.')
            .any(|l| l.first() == Some(&b'-') || l.last() == Some(&b'-'));
    }
    !bad && (seen & D_HIGH == 0 || core::str::from_utf8(d).is_ok())
}

/// Checks that the whole of `d` is a domain (see [`scan_domain`]).
pub(crate) fn check_domain(d: &[u8], underscore: Underscore) -> Result<(), AddrError> {
    match scan_domain(d, underscore)? {
        n if n == d.len() => Ok(()),
        _ => Err(AddrError::Syntax),
    }
}

/// `Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig`
fn is_ldh_str(s: &[u8]) -> bool {
    s.last().is_some_and(u8::is_ascii_alphanumeric)
        && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A checked address literal, still as slices of the line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LiteralSpan<'a> {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    General { tag: &'a [u8], content: &'a [u8] },
}

/// The inside of `[...]` (RFC 5321 4.1.3).
fn literal_content(c: &[u8]) -> Result<LiteralSpan<'_>, AddrError> {
    let text = core::str::from_utf8(c).map_err(|_| AddrError::Syntax)?;
    if c.len() >= 5 && c[..5].eq_ignore_ascii_case(b"IPv6:") {
        let addr: Ipv6Addr = text[5..].parse().map_err(|_| AddrError::Syntax)?;
        return Ok(LiteralSpan::Ipv6(addr));
    }
    if let Some(colon) = memchr::memchr(b':', c) {
        let (tag, content) = (&c[..colon], &c[colon + 1..]);
        if !is_ldh_str(tag) || content.is_empty() {
            return Err(AddrError::Syntax);
        }
        return Ok(LiteralSpan::General { tag, content });
    }
    let addr: Ipv4Addr = text.parse().map_err(|_| AddrError::Syntax)?;
    Ok(LiteralSpan::Ipv4(addr))
}

/// `address-literal = "[" ( IPv4 / IPv6 / General ) "]"` at the start of `i`, with the rest.
fn address_literal_span(i: &[u8]) -> Result<(LiteralSpan<'_>, &[u8]), AddrError> {
    let (rest, content) = delimited(char::<_, ()>('['), take_while1(is_dcontent), char(']'))(i)
        .map_err(|_| AddrError::Syntax)?;
    Ok((literal_content(content)?, rest))
}

/// Where a host was found. Parsers work on spans (slices of the line) and build the public
/// values once at the end: moving the `Bytes`-holding enums around costs more than parsing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HostSpan<'a> {
    Domain(&'a [u8]),
    Literal(LiteralSpan<'a>),
}

impl HostSpan<'_> {
    #[inline(always)]
    fn to_host(self, line: &Bytes) -> Host {
        match self {
            HostSpan::Domain(d) => Host::Domain(Domain::from_checked(line, d)),
            HostSpan::Literal(LiteralSpan::Ipv4(a)) => Host::Literal(AddressLiteral::Ipv4(a)),
            HostSpan::Literal(LiteralSpan::Ipv6(a)) => Host::Literal(AddressLiteral::Ipv6(a)),
            HostSpan::Literal(LiteralSpan::General { tag, content }) => {
                Host::Literal(AddressLiteral::General {
                    tag: line.slice_ref(tag),
                    content: line.slice_ref(content),
                })
            }
        }
    }
}

/// A domain or address literal at the start of `i`, with the rest.
#[inline(always)]
fn host_span(i: &[u8], underscore: Underscore) -> Result<(HostSpan<'_>, &[u8]), AddrError> {
    if i.first() == Some(&b'[') {
        let (lit, rest) = address_literal_span(i)?;
        return Ok((HostSpan::Literal(lit), rest));
    }
    let n = scan_domain(i, underscore)?;
    let (d, rest) = i.split_at(n);
    Ok((HostSpan::Domain(d), rest))
}

/// A mailbox found in the line: its text (`local@host`), the offset of the `@` and the kind
/// of host.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MailboxSpan<'a> {
    text: &'a [u8],
    at: u8,
    host: HostKind,
}

impl MailboxSpan<'_> {
    #[inline(always)]
    pub(crate) fn to_mailbox(self, line: &Bytes) -> Mailbox {
        Mailbox {
            text: Text::from_slice_of(line, self.text),
            at: self.at,
            host: self.host,
        }
    }
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )` at the start of `i`, with the rest.
#[inline(always)]
fn mailbox_span(i: &[u8]) -> Result<(MailboxSpan<'_>, &[u8]), AddrError> {
    let (local, rest) = local_part(i).ok_or(AddrError::Syntax)?;
    let rest = rest.strip_prefix(b"@").ok_or(AddrError::Syntax)?;
    let (host, rest) = host_span(rest, Underscore::Reject)?;
    let at = u8::try_from(local.len())
        .ok()
        .filter(|&n| usize::from(n) <= MAX_LOCAL_PART)
        .ok_or(AddrError::LocalPartTooLong)?;
    let host = match host {
        HostSpan::Domain(_) => HostKind::Domain,
        HostSpan::Literal(LiteralSpan::Ipv4(a)) => HostKind::Ipv4(a),
        HostSpan::Literal(LiteralSpan::Ipv6(a)) => HostKind::Ipv6(a),
        HostSpan::Literal(LiteralSpan::General { tag, .. }) => HostKind::General {
            // `[` and the tag come before the colon.
            colon: u32::try_from(tag.len() + 1).map_err(|_| AddrError::Syntax)?,
        },
    };
    let text = &i[..i.len() - rest.len()];
    Ok((MailboxSpan { text, at, host }, rest))
}

/// `A-d-l ":"` (a source route, RFC 5321 4.1.2 and Appendix C) when `i` starts with `@`:
/// checked, then dropped. Returns what follows the colon.
fn skip_source_route(i: &[u8]) -> Result<&[u8], AddrError> {
    let mut rest = i;
    loop {
        rest = rest.strip_prefix(b"@").ok_or(AddrError::Syntax)?;
        let n = scan_domain(rest, Underscore::Reject).map_err(|_| AddrError::Syntax)?;
        match rest[n..].split_first() {
            Some((b',', more)) => rest = more,
            Some((b':', more)) => return Ok(more),
            _ => return Err(AddrError::Syntax),
        }
    }
}

/// A parsed path before it becomes a [`ReversePath`] or [`ForwardPath`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum PathSpan<'a> {
    Null,
    Postmaster,
    Mailbox(MailboxSpan<'a>),
}

fn is_postmaster(s: &[u8]) -> bool {
    s.eq_ignore_ascii_case(b"postmaster")
}

/// A `Reverse-path` / `Forward-path` at the start of `i` (the argument after `FROM:`/`TO:`),
/// with the rest of the input after it.
#[inline(always)]
pub(crate) fn path(
    i: &[u8],
    role: PathRole,
    syntax: PathSyntax,
) -> Result<(PathSpan<'_>, &[u8]), ParseError> {
    let bad = ParseError::BadMailbox(role);
    if let Some(inner) = i.strip_prefix(b"<") {
        if let Some(rest) = inner.strip_prefix(b">") {
            return Ok((PathSpan::Null, rest));
        }
        // `<Postmaster>` (4.1.1.3) has no domain and no source route.
        if inner.len() > 10 && is_postmaster(&inner[..10]) && inner[10] == b'>' {
            return Ok((PathSpan::Postmaster, &inner[11..]));
        }
        let after_route = if inner.first() == Some(&b'@') {
            skip_source_route(inner).map_err(|e| e.with_role(role))?
        } else {
            inner
        };
        let (mbox, rest) = mailbox_span(after_route).map_err(|e| e.with_role(role))?;
        let rest = rest.strip_prefix(b">").ok_or(bad)?;
        if i.len() - rest.len() > MAX_PATH {
            return Err(ParseError::PathTooLong);
        }
        return Ok((PathSpan::Mailbox(mbox), rest));
    }
    if syntax == PathSyntax::Strict {
        return Err(ParseError::ArgumentSyntax);
    }
    // Lenient: a bare mailbox up to the next space, as Postfix accepts it.
    let n = i
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(i.len());
    let (token, rest) = i.split_at(n);
    if token.is_empty() {
        return Err(ParseError::ArgumentSyntax);
    }
    if is_postmaster(token) {
        return Ok((PathSpan::Postmaster, rest));
    }
    let (mbox, tail) = mailbox_span(token).map_err(|e| e.with_role(role))?;
    if !tail.is_empty() {
        return Err(bad);
    }
    if token.len() + 2 > MAX_PATH {
        return Err(ParseError::PathTooLong);
    }
    Ok((PathSpan::Mailbox(mbox), rest))
}

/// The argument of HELO/EHLO/LHLO: the whole of `arg` is a domain or an address literal.
pub(crate) fn helo_host(line: &Bytes, arg: &[u8], syntax: PathSyntax) -> Result<Host, ParseError> {
    let underscore = match syntax {
        PathSyntax::Strict => Underscore::Reject,
        PathSyntax::Lenient => Underscore::Allow,
    };
    match host_span(arg, underscore) {
        Ok((h, [])) => Ok(h.to_host(line)),
        _ => Err(ParseError::ArgumentSyntax),
    }
}

// ---------------------------------------------------------------------------------------------
// Public parse / write / Display

impl Domain {
    /// Parses a whole domain name. `_` in labels is accepted with [`PathSyntax::Lenient`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{Domain, ParseOptions};
    /// let d = Domain::parse(&Bytes::from_static(b"mail.example.org"), &ParseOptions::default()).unwrap();
    /// assert_eq!(d.to_string(), "mail.example.org");
    /// ```
    pub fn parse(input: &Bytes, opts: &ParseOptions) -> Result<Domain, ParseError> {
        let underscore = match opts.path_syntax {
            PathSyntax::Strict => Underscore::Reject,
            PathSyntax::Lenient => Underscore::Allow,
        };
        check_domain(input, underscore).map_err(|_| ParseError::ArgumentSyntax)?;
        Ok(Domain::from_checked(input, input))
    }

    /// Appends the domain.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl AddressLiteral {
    /// Appends the literal with its brackets.
    pub fn write(&self, out: &mut BytesMut) {
        use core::fmt::Write as _;
        let mut w = WriteBytes(out);
        // Writing into a BytesMut cannot fail.
        let _ = write!(w, "{self}");
    }
}

impl Host {
    /// Parses a whole HELO/EHLO argument: a domain or an address literal.
    pub fn parse(input: &Bytes, opts: &ParseOptions) -> Result<Host, ParseError> {
        helo_host(input, input, opts.path_syntax)
    }

    /// Appends the domain or the bracketed literal.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Host::Domain(d) => d.write(out),
            Host::Literal(l) => l.write(out),
        }
    }

    /// `true` for a domain with U-labels (needs SMTPUTF8).
    pub fn is_utf8(&self) -> bool {
        matches!(self, Host::Domain(d) if d.is_utf8())
    }
}

impl Mailbox {
    /// Parses a whole mailbox (`local@domain`, no angle brackets). Errors carry
    /// [`PathRole::Recipient`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{Mailbox, ParseOptions};
    /// let m = Mailbox::parse(&Bytes::from_static(b"\"john doe\"@[IPv6:2001:db8::1]"), &ParseOptions::default()).unwrap();
    /// assert!(m.local_part().is_quoted());
    /// assert_eq!(m.to_string(), "\"john doe\"@[IPv6:2001:db8::1]");
    /// ```
    pub fn parse(input: &Bytes, _opts: &ParseOptions) -> Result<Mailbox, ParseError> {
        let role = PathRole::Recipient;
        match mailbox_span(input) {
            Ok((m, [])) => Ok(m.to_mailbox(input)),
            Ok(_) => Err(ParseError::BadMailbox(role)),
            Err(e) => Err(e.with_role(role)),
        }
    }

    /// Appends `local@host` as written.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.as_bytes());
    }

    /// The number of octets [`Mailbox::write`] appends.
    fn wire_len_hint(&self) -> usize {
        self.as_bytes().len()
    }
}

impl ReversePath {
    /// Parses a whole reverse-path: `<>` or `<mailbox>` (source routes dropped); with
    /// [`PathSyntax::Lenient`] also a bare mailbox.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{ParseOptions, ReversePath};
    /// let opts = ParseOptions::default();
    /// assert_eq!(ReversePath::parse(&Bytes::from_static(b"<>"), &opts), Ok(ReversePath::Null));
    /// let p = ReversePath::parse(&Bytes::from_static(b"<@relay.example:joe@example.org>"), &opts).unwrap();
    /// assert_eq!(p.to_string(), "<joe@example.org>");
    /// ```
    pub fn parse(input: &Bytes, opts: &ParseOptions) -> Result<ReversePath, ParseError> {
        let role = PathRole::Sender;
        match path(input, role, opts.path_syntax)? {
            (_, [_, ..]) => Err(ParseError::BadMailbox(role)),
            (PathSpan::Null, _) => Ok(ReversePath::Null),
            (PathSpan::Mailbox(m), _) => Ok(ReversePath::Mailbox(m.to_mailbox(input))),
            (PathSpan::Postmaster, _) => Err(ParseError::BadMailbox(role)),
        }
    }

    /// Appends `<>` or `<mailbox>`.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            ReversePath::Null => out.extend_from_slice(b"<>"),
            ReversePath::Mailbox(m) => {
                out.reserve(m.wire_len_hint() + 2);
                out.put_u8(b'<');
                m.write(out);
                out.put_u8(b'>');
            }
        }
    }

    /// The mailbox, unless this is the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }
}

impl ForwardPath {
    /// Parses a whole forward-path: `<Postmaster>` (any case) or `<mailbox>` (source routes
    /// dropped); with [`PathSyntax::Lenient`] also a bare mailbox. `<>` is an error.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{ForwardPath, ParseOptions};
    /// let opts = ParseOptions::default();
    /// assert_eq!(ForwardPath::parse(&Bytes::from_static(b"<POSTMASTER>"), &opts), Ok(ForwardPath::Postmaster));
    /// assert!(ForwardPath::parse(&Bytes::from_static(b"<>"), &opts).is_err());
    /// ```
    pub fn parse(input: &Bytes, opts: &ParseOptions) -> Result<ForwardPath, ParseError> {
        let role = PathRole::Recipient;
        match path(input, role, opts.path_syntax)? {
            (_, [_, ..]) => Err(ParseError::BadMailbox(role)),
            (PathSpan::Null, _) => Err(ParseError::BadMailbox(role)),
            (PathSpan::Mailbox(m), _) => Ok(ForwardPath::Mailbox(m.to_mailbox(input))),
            (PathSpan::Postmaster, _) => Ok(ForwardPath::Postmaster),
        }
    }

    /// Appends `<Postmaster>` or `<mailbox>`.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            ForwardPath::Postmaster => out.extend_from_slice(b"<Postmaster>"),
            ForwardPath::Mailbox(m) => {
                out.reserve(m.wire_len_hint() + 2);
                out.put_u8(b'<');
                m.write(out);
                out.put_u8(b'>');
            }
        }
    }

    /// The mailbox, unless this is `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        }
    }
}

/// `fmt::Write` into a `BytesMut`.
struct WriteBytes<'a>(&'a mut BytesMut);

impl fmt::Write for WriteBytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Parsed values are valid UTF-8; anything else (a hand-built value) is shown lossily.
fn write_lossy(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    for chunk in b.utf8_chunks() {
        f.write_str(chunk.valid())?;
        if !chunk.invalid().is_empty() {
            f.write_str("\u{FFFD}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lossy(f, self.as_bytes())
    }
}

impl fmt::Display for AddressLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressLiteral::Ipv4(a) => write!(f, "[{a}]"),
            AddressLiteral::Ipv6(a) => write!(f, "[IPv6:{a}]"),
            AddressLiteral::General { tag, content } => {
                f.write_str("[")?;
                write_lossy(f, tag)?;
                f.write_str(":")?;
                write_lossy(f, content)?;
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => d.fmt(f),
            Host::Literal(l) => l.fmt(f),
        }
    }
}

impl fmt::Display for LocalPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lossy(f, self.0)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lossy(f, self.as_bytes())
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The domain scan written plainly: find the end, then check the labels.
    fn scan_domain_octetwise(i: &[u8], underscore: Underscore) -> Result<usize, AddrError> {
        let n = i
            .iter()
            .position(|&b| DOMAIN_CLASS[usize::from(b)] == 0)
            .unwrap_or(i.len());
        let d = &i[..n];
        if n > MAX_DOMAIN {
            return Err(AddrError::DomainTooLong);
        }
        let labels_ok = d.split(|&b| b == b'.').all(|l| {
            (1..=MAX_LABEL).contains(&l.len())
                && l.first() != Some(&b'-')
                && l.last() != Some(&b'-')
        });
        let underscore_ok = underscore == Underscore::Allow || !d.contains(&b'_');
        if !labels_ok || !underscore_ok || core::str::from_utf8(d).is_err() {
            return Err(AddrError::Syntax);
        }
        Ok(n)
    }

    /// Inputs made mostly of domain octets, separators and the octets around the class
    /// boundaries.
    fn domain_like() -> impl proptest::strategy::Strategy<Value = alloc::vec::Vec<u8>> {
        proptest::collection::vec(
            proptest::prop_oneof![
                8 => proptest::sample::select(&b"abyzABYZ0189"[..]),
                3 => proptest::sample::select(&b".-_"[..]),
                1 => proptest::sample::select(&b"@>/:`{[\x00 \x7f\xc3\xa9"[..]),
                1 => proptest::prelude::any::<u8>(),
            ],
            0..80,
        )
    }

    proptest::proptest! {
        /// The whole-name check of the EHLO fast path agrees with the scan.
        #[test]
        fn whole_domain_agrees_with_scan(
            input in domain_like(),
            allow in proptest::prelude::any::<bool>(),
        ) {
            let u = if allow { Underscore::Allow } else { Underscore::Reject };
            proptest::prop_assert_eq!(is_whole_domain(&input, u), scan_domain(&input, u) == Ok(input.len()));
        }

        /// The one-pass scan agrees with a plain one, on inputs made mostly of domain octets,
        /// separators and the octets around the class boundaries.
        #[test]
        fn scan_domain_agrees_with_octetwise(
            input in domain_like(),
            allow in proptest::prelude::any::<bool>(),
        ) {
            let u = if allow { Underscore::Allow } else { Underscore::Reject };
            proptest::prop_assert_eq!(scan_domain(&input, u), scan_domain_octetwise(&input, u));
        }
    }

    #[test]
    fn scan_domain_limits() {
        let label = [b'a'; 63];
        let mut d = label.to_vec();
        assert_eq!(scan_domain(&d, Underscore::Reject), Ok(63));
        d.push(b'a');
        assert_eq!(scan_domain(&d, Underscore::Reject), Err(AddrError::Syntax));
        let long: alloc::vec::Vec<u8> = [&label[..]; 4].join(&b'.');
        assert_eq!(scan_domain(&long, Underscore::Reject), Ok(255));
        let longer = [&long[..], b".a"].concat();
        assert_eq!(
            scan_domain(&longer, Underscore::Reject),
            Err(AddrError::DomainTooLong)
        );
        for bad in [
            &b""[..],
            b".",
            b"a.",
            b".a",
            b"a..b",
            b"-a",
            b"a-",
            b"a-.b",
            b"a.-b",
            b"a_b",
        ] {
            assert_eq!(
                scan_domain(bad, Underscore::Reject),
                Err(AddrError::Syntax),
                "{bad:?}"
            );
        }
        assert_eq!(scan_domain(b"a_b", Underscore::Allow), Ok(3));
        assert_eq!(scan_domain(b"a-b.c-d>rest", Underscore::Reject), Ok(7));
        assert_eq!(scan_domain(b"abcdefgh>", Underscore::Reject), Ok(8));
        assert_eq!(
            scan_domain(b"abcdefg.>", Underscore::Reject),
            Err(AddrError::Syntax)
        );
    }
}
