//! EHLO capabilities: the keywords of an EHLO reply, typed (IANA SMTP Service Extensions).
//!
//! A server's EHLO reply is `250-domain [greeting]` followed by one `ehlo-line` per extension
//! (RFC 5321 4.1.1.1). [`Capabilities::from_reply`] turns such a reply into typed
//! [`EhloKeyword`]s and [`Capabilities::to_reply`] writes one.
//!
//! Parsing is total: a line that does not follow the grammar of its extension becomes
//! [`EhloKeyword::Unknown`] with its words kept, so an odd server never makes the client fail.
//! Keywords are matched case-insensitively (RFC 5321 4.1.1.1). Leniencies, all seen in the wild:
//! - words may be separated by runs of spaces or tabs, and trailing spaces are ignored;
//! - the legacy `AUTH=LOGIN PLAIN` line (sent for pre-RFC 2554 clients) is read as
//!   [`EhloKeyword::Auth`];
//! - empty lines (Postfix smtp-sink ends its reply with `250 `) are skipped;
//! - the host on the first line may hold `_` (internal server names do; [`PathSyntax::Lenient`]);
//! - a first line whose first word is not a domain or address literal (go-smtp's
//!   `250-Hello client.example`, mailin's `250-server offers extensions:`) is kept whole in
//!   [`Capabilities::greeting`] with [`Capabilities::host`] `None`, whenever the first word is
//!   not a valid host. (`Hello` and `server` are valid one-label domains, so those two examples
//!   do yield a host.)
//!
//! ```
//! use bytes::Bytes;
//! use smtp_proto::{Capabilities, Reply, Status};
//! let wire = Bytes::from_static(
//!     b"250-mx.example.com greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 AUTH PLAIN LOGIN\r\n",
//! );
//! let Status::Complete((reply, _)) = Reply::parse(&wire).unwrap() else { panic!() };
//! let caps = Capabilities::from_reply(&reply).unwrap();
//! assert!(caps.supports_pipelining());
//! assert_eq!(caps.max_size(), Some(10_240_000));
//! assert_eq!(caps.auth_mechanisms().len(), 2);
//! assert_eq!(&caps.greeting[..], b"greets you");
//! ```

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use crate::address::Host;
use crate::options::{ParseOptions, PathSyntax};
use crate::reply::{Reply, ReplyCode};
use crate::sasl::Mechanism;

#[cfg(test)]
mod tests;

/// The registered SMTP service extensions, without parameters: the kind of an [`EhloKeyword`].
///
/// Use it with [`Capabilities::supports`]; for unregistered keywords use
/// [`Capabilities::keyword`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Extension {
    /// `SIZE` (RFC 1870).
    Size,
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `CHUNKING` (RFC 3030).
    Chunking,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH` (RFC 4954).
    Auth,
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// `DELIVERBY` (RFC 2852).
    DeliverBy,
    /// `MT-PRIORITY` (RFC 6710).
    MtPriority,
    /// `FUTURERELEASE` (RFC 4865).
    FutureRelease,
    /// `LIMITS` (RFC 9422).
    Limits,
    /// `ATRN` (RFC 2645).
    Atrn,
    /// `BURL` (RFC 4468).
    Burl,
    /// `CHECKPOINT` (RFC 1845).
    Checkpoint,
    /// `CONNEG` (RFC 4141).
    Conneg,
    /// `CONPERM` (RFC 4141).
    Conperm,
    /// `ETRN` (RFC 1985).
    Etrn,
    /// `EXPN` (RFC 5321).
    Expn,
    /// `HELP` (RFC 5321).
    Help,
    /// `MTRK` (RFC 3885).
    Mtrk,
    /// `NO-SOLICITING` (RFC 3865).
    NoSoliciting,
    /// `RRVS` (RFC 7293).
    Rrvs,
    /// `VRFY` (RFC 5321).
    Vrfy,
    /// `VERB` (registered, no RFC; Sendmail's verbose mode).
    Verb,
    /// `ONEX` (registered, no RFC; Sendmail's one-transaction mode).
    Onex,
    /// `SEND` (RFC 821, obsolete).
    Send,
    /// `SOML` (RFC 821, obsolete).
    Soml,
    /// `SAML` (RFC 821, obsolete).
    Saml,
    /// `TURN` (RFC 821, obsolete).
    Turn,
    /// `SUBMITTER` (RFC 4405, historic Sender ID).
    Submitter,
    /// `XCLIENT` (Postfix).
    XClient,
    /// `XFORWARD` (Postfix).
    XForward,
}

/// Keyword names, upper case as registered.
const EXTENSION_NAMES: &[(Extension, &str)] = &[
    (Extension::Size, "SIZE"),
    (Extension::Pipelining, "PIPELINING"),
    (Extension::EightBitMime, "8BITMIME"),
    (Extension::BinaryMime, "BINARYMIME"),
    (Extension::Chunking, "CHUNKING"),
    (Extension::SmtpUtf8, "SMTPUTF8"),
    (Extension::Dsn, "DSN"),
    (Extension::EnhancedStatusCodes, "ENHANCEDSTATUSCODES"),
    (Extension::StartTls, "STARTTLS"),
    (Extension::Auth, "AUTH"),
    (Extension::RequireTls, "REQUIRETLS"),
    (Extension::DeliverBy, "DELIVERBY"),
    (Extension::MtPriority, "MT-PRIORITY"),
    (Extension::FutureRelease, "FUTURERELEASE"),
    (Extension::Limits, "LIMITS"),
    (Extension::Atrn, "ATRN"),
    (Extension::Burl, "BURL"),
    (Extension::Checkpoint, "CHECKPOINT"),
    (Extension::Conneg, "CONNEG"),
    (Extension::Conperm, "CONPERM"),
    (Extension::Etrn, "ETRN"),
    (Extension::Expn, "EXPN"),
    (Extension::Help, "HELP"),
    (Extension::Mtrk, "MTRK"),
    (Extension::NoSoliciting, "NO-SOLICITING"),
    (Extension::Rrvs, "RRVS"),
    (Extension::Vrfy, "VRFY"),
    (Extension::Verb, "VERB"),
    (Extension::Onex, "ONEX"),
    (Extension::Send, "SEND"),
    (Extension::Soml, "SOML"),
    (Extension::Saml, "SAML"),
    (Extension::Turn, "TURN"),
    (Extension::Submitter, "SUBMITTER"),
    (Extension::XClient, "XCLIENT"),
    (Extension::XForward, "XFORWARD"),
];

impl Extension {
    /// Every registered extension this crate knows, in registry-like order.
    pub fn all() -> impl Iterator<Item = Extension> {
        EXTENSION_NAMES.iter().map(|(e, _)| *e)
    }

    /// The EHLO keyword, upper case.
    pub fn name(self) -> &'static str {
        EXTENSION_NAMES
            .iter()
            .find(|(e, _)| *e == self)
            .map_or("", |(_, n)| n)
    }

    /// Recognises a keyword, case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<Extension> {
        EXTENSION_NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(e, _)| *e)
    }
}

/// The limits a server announces with `LIMITS` (RFC 9422): `LIMITS RCPTMAX=n MAILMAX=n ...`.
///
/// A known limit whose value is not a decimal number within `u32`, a repeated known limit
/// and every unknown limit are kept in [`Limits::other`] in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    /// `MAILMAX`: most transactions (MAIL commands) per connection.
    pub mail_max: Option<u32>,
    /// `RCPTMAX`: most recipients per transaction.
    pub rcpt_max: Option<u32>,
    /// `RCPTDOMAINMAX`: most distinct recipient domains per transaction.
    pub rcpt_domain_max: Option<u32>,
    /// Other `NAME=value` pairs, as sent.
    pub other: Vec<(Bytes, Bytes)>,
}

/// One line of an EHLO reply after the first (RFC 5321 4.1.1.1 `ehlo-line`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EhloKeyword {
    /// `SIZE [max]` (RFC 1870); `None` or `Some(0)` means no fixed limit was given.
    Size(Option<u64>),
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `CHUNKING` (RFC 3030).
    Chunking,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mech...` (RFC 4954), also read from the legacy `AUTH=mech...` form.
    Auth(Vec<Mechanism>),
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// `DELIVERBY [min-by-time]` (RFC 2852 3): the least by-time in seconds the server accepts
    /// with by-mode `R`. A parameter with further comma-separated options is kept as
    /// [`EhloKeyword::Unknown`].
    DeliverBy(Option<u32>),
    /// `MT-PRIORITY [policy]` (RFC 6710 7): the Priority Assignment Policy name, such as
    /// `MIXER`, `STANAG4406` or `NSEP`.
    MtPriority(Option<Bytes>),
    /// `FUTURERELEASE interval date-time` (RFC 4865 3).
    FutureRelease {
        /// Longest hold in seconds (`max-future-release-interval`, 1 to 999999999).
        max_interval: u32,
        /// Latest release time (`max-future-release-date-time`, RFC 3339), as sent.
        max_date_time: Bytes,
    },
    /// `LIMITS name=value...` (RFC 9422).
    Limits(Limits),
    /// `ATRN` (RFC 2645).
    Atrn,
    /// `BURL [arg...]` (RFC 4468 3): arguments such as `imap` or `imap://imap.example.com`.
    Burl(Vec<Bytes>),
    /// `CHECKPOINT` (RFC 1845).
    Checkpoint,
    /// `CONNEG` (RFC 4141).
    Conneg,
    /// `CONPERM` (RFC 4141).
    Conperm,
    /// `ETRN` (RFC 1985).
    Etrn,
    /// `EXPN [param...]`; no parameter is standardised, those sent are kept.
    Expn(Vec<Bytes>),
    /// `HELP`.
    Help,
    /// `MTRK` (RFC 3885).
    Mtrk,
    /// `NO-SOLICITING [keywords]` (RFC 3865 2): the comma-separated solicitation keywords.
    NoSoliciting(Option<Bytes>),
    /// `RRVS` (RFC 7293).
    Rrvs,
    /// `VRFY`.
    Vrfy,
    /// `VERB`.
    Verb,
    /// `ONEX`.
    Onex,
    /// `SEND` (obsolete).
    Send,
    /// `SOML` (obsolete).
    Soml,
    /// `SAML` (obsolete).
    Saml,
    /// `TURN` (obsolete).
    Turn,
    /// `SUBMITTER` (RFC 4405).
    Submitter,
    /// `XCLIENT attr...` (Postfix): the attribute names the server accepts.
    XClient(Vec<Bytes>),
    /// `XFORWARD attr...` (Postfix): the attribute names the server accepts.
    XForward(Vec<Bytes>),
    /// An unknown keyword, or a known one whose parameters do not follow its grammar, with its
    /// parameters, kept as sent.
    Unknown {
        /// The keyword.
        keyword: Bytes,
        /// The parameters after the keyword, space separated.
        params: Vec<Bytes>,
    },
}

/// Splits at runs of SP/HTAB, skipping empty words.
fn words(line: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
        .map(|w| line.slice_ref(w))
}

/// `1*max_digits DIGIT` as a number; `None` on anything else or overflow.
fn decimal(s: &[u8], max_digits: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max_digits || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn decimal_u32(s: &[u8], max_digits: usize) -> Option<u32> {
    decimal(s, max_digits).and_then(|n| u32::try_from(n).ok())
}

fn parse_limits(params: &[Bytes]) -> Option<Limits> {
    let mut limits = Limits::default();
    for p in params {
        let eq = p.iter().position(|&b| b == b'=')?;
        if eq == 0 {
            return None;
        }
        let (name, value) = (p.slice(..eq), p.slice(eq + 1..));
        let slot = if name.eq_ignore_ascii_case(b"MAILMAX") {
            Some(&mut limits.mail_max)
        } else if name.eq_ignore_ascii_case(b"RCPTMAX") {
            Some(&mut limits.rcpt_max)
        } else if name.eq_ignore_ascii_case(b"RCPTDOMAINMAX") {
            Some(&mut limits.rcpt_domain_max)
        } else {
            None
        };
        match (slot, decimal_u32(&value, 10)) {
            (Some(slot @ None), Some(n)) => *slot = Some(n),
            _ => limits.other.push((name, value)),
        }
    }
    Some(limits)
}

impl EhloKeyword {
    /// Parses one EHLO line (the text after `250-`/`250 `). Never fails: what does not follow
    /// the grammar of a known extension is kept as [`EhloKeyword::Unknown`]. An empty line gives
    /// `Unknown` with an empty keyword.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{EhloKeyword, Mechanism};
    /// assert_eq!(EhloKeyword::parse(&Bytes::from_static(b"size 1000")), EhloKeyword::Size(Some(1000)));
    /// assert_eq!(
    ///     EhloKeyword::parse(&Bytes::from_static(b"AUTH=LOGIN PLAIN")),
    ///     EhloKeyword::Auth(vec![Mechanism::Login, Mechanism::Plain]),
    /// );
    /// ```
    pub fn parse(line: &Bytes) -> EhloKeyword {
        let mut it = words(line);
        let Some(keyword) = it.next() else {
            return EhloKeyword::Unknown {
                keyword: Bytes::new(),
                params: Vec::new(),
            };
        };
        let mut params: Vec<Bytes> = it.collect();
        // Legacy `AUTH=LOGIN PLAIN`: the first mechanism is glued to the keyword.
        if keyword.len() >= 5 && keyword[..5].eq_ignore_ascii_case(b"AUTH=") {
            let mechs = core::iter::once(keyword.slice(5..))
                .filter(|m| !m.is_empty())
                .chain(params.iter().cloned())
                .map(|m| Mechanism::from_name(&m))
                .collect();
            return EhloKeyword::Auth(mechs);
        }
        Self::parse_known(&keyword, &mut params).unwrap_or(EhloKeyword::Unknown { keyword, params })
    }

    /// The typed keyword, or `None` (params untouched) when the line does not follow the
    /// extension's grammar. Parameter lists are moved out of `params`, not copied.
    fn parse_known(keyword: &Bytes, params: &mut Vec<Bytes>) -> Option<EhloKeyword> {
        use EhloKeyword as K;
        let ext = Extension::from_name(keyword)?;
        // Keywords the registry defines without parameters.
        let bare = |k: EhloKeyword| params.is_empty().then_some(k);
        match ext {
            Extension::Size => match params.as_slice() {
                [] => Some(K::Size(None)),
                // RFC 1870 4: size-param = 1*20DIGIT.
                [n] => decimal(n, 20).map(|n| K::Size(Some(n))),
                _ => None,
            },
            Extension::Pipelining => bare(K::Pipelining),
            Extension::EightBitMime => bare(K::EightBitMime),
            Extension::BinaryMime => bare(K::BinaryMime),
            Extension::Chunking => bare(K::Chunking),
            Extension::SmtpUtf8 => bare(K::SmtpUtf8),
            Extension::Dsn => bare(K::Dsn),
            Extension::EnhancedStatusCodes => bare(K::EnhancedStatusCodes),
            Extension::StartTls => bare(K::StartTls),
            Extension::Auth => Some(K::Auth(
                params.iter().map(|m| Mechanism::from_name(m)).collect(),
            )),
            Extension::RequireTls => bare(K::RequireTls),
            Extension::DeliverBy => match params.as_slice() {
                [] => Some(K::DeliverBy(None)),
                // RFC 2852 3: min-by-time = [1*9DIGIT].
                [n] => decimal_u32(n, 9).map(|n| K::DeliverBy(Some(n))),
                _ => None,
            },
            Extension::MtPriority => match params.as_slice() {
                [] => Some(K::MtPriority(None)),
                // RFC 6710 7: priority-profile = 1*20(ALPHA / DIGIT / "-" / "_" / ".").
                [p] if p.len() <= 20
                    && p.iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
                {
                    Some(K::MtPriority(Some(p.clone())))
                }
                _ => None,
            },
            Extension::FutureRelease => match params.as_slice() {
                // RFC 4865 3: future-release-integer = %x31-39 *8DIGIT.
                [interval, date_time] if interval.first() != Some(&b'0') => {
                    decimal_u32(interval, 9).map(|max_interval| K::FutureRelease {
                        max_interval,
                        max_date_time: date_time.clone(),
                    })
                }
                _ => None,
            },
            Extension::Limits => parse_limits(params).map(K::Limits),
            Extension::Atrn => bare(K::Atrn),
            Extension::Burl => Some(K::Burl(core::mem::take(params))),
            Extension::Checkpoint => bare(K::Checkpoint),
            Extension::Conneg => bare(K::Conneg),
            Extension::Conperm => bare(K::Conperm),
            Extension::Etrn => bare(K::Etrn),
            Extension::Expn => Some(K::Expn(core::mem::take(params))),
            Extension::Help => bare(K::Help),
            Extension::Mtrk => bare(K::Mtrk),
            Extension::NoSoliciting => match params.as_slice() {
                [] => Some(K::NoSoliciting(None)),
                [k] => Some(K::NoSoliciting(Some(k.clone()))),
                _ => None,
            },
            Extension::Rrvs => bare(K::Rrvs),
            Extension::Vrfy => bare(K::Vrfy),
            Extension::Verb => bare(K::Verb),
            Extension::Onex => bare(K::Onex),
            Extension::Send => bare(K::Send),
            Extension::Soml => bare(K::Soml),
            Extension::Saml => bare(K::Saml),
            Extension::Turn => bare(K::Turn),
            Extension::Submitter => bare(K::Submitter),
            Extension::XClient => Some(K::XClient(core::mem::take(params))),
            Extension::XForward => Some(K::XForward(core::mem::take(params))),
        }
    }

    /// The registered extension this keyword announces; `None` for [`EhloKeyword::Unknown`].
    pub fn extension(&self) -> Option<Extension> {
        use EhloKeyword as K;
        Some(match self {
            K::Size(_) => Extension::Size,
            K::Pipelining => Extension::Pipelining,
            K::EightBitMime => Extension::EightBitMime,
            K::BinaryMime => Extension::BinaryMime,
            K::Chunking => Extension::Chunking,
            K::SmtpUtf8 => Extension::SmtpUtf8,
            K::Dsn => Extension::Dsn,
            K::EnhancedStatusCodes => Extension::EnhancedStatusCodes,
            K::StartTls => Extension::StartTls,
            K::Auth(_) => Extension::Auth,
            K::RequireTls => Extension::RequireTls,
            K::DeliverBy(_) => Extension::DeliverBy,
            K::MtPriority(_) => Extension::MtPriority,
            K::FutureRelease { .. } => Extension::FutureRelease,
            K::Limits(_) => Extension::Limits,
            K::Atrn => Extension::Atrn,
            K::Burl(_) => Extension::Burl,
            K::Checkpoint => Extension::Checkpoint,
            K::Conneg => Extension::Conneg,
            K::Conperm => Extension::Conperm,
            K::Etrn => Extension::Etrn,
            K::Expn(_) => Extension::Expn,
            K::Help => Extension::Help,
            K::Mtrk => Extension::Mtrk,
            K::NoSoliciting(_) => Extension::NoSoliciting,
            K::Rrvs => Extension::Rrvs,
            K::Vrfy => Extension::Vrfy,
            K::Verb => Extension::Verb,
            K::Onex => Extension::Onex,
            K::Send => Extension::Send,
            K::Soml => Extension::Soml,
            K::Saml => Extension::Saml,
            K::Turn => Extension::Turn,
            K::Submitter => Extension::Submitter,
            K::XClient(_) => Extension::XClient,
            K::XForward(_) => Extension::XForward,
            K::Unknown { .. } => return None,
        })
    }

    /// The keyword as written: upper case for known extensions, as sent for unknown ones.
    pub fn name(&self) -> &[u8] {
        match (self, self.extension()) {
            (EhloKeyword::Unknown { keyword, .. }, _) => keyword,
            (_, Some(e)) => e.name().as_bytes(),
            (_, None) => b"",
        }
    }

    /// Appends the line text (keyword and parameters, without reply code or CRLF).
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use smtp_proto::EhloKeyword;
    /// let mut out = BytesMut::new();
    /// EhloKeyword::Size(Some(1000)).write(&mut out);
    /// assert_eq!(&out[..], b"SIZE 1000");
    /// ```
    pub fn write(&self, out: &mut BytesMut) {
        use EhloKeyword as K;
        out.put_slice(self.name());
        let mut param = |p: &[u8]| {
            out.put_u8(b' ');
            out.put_slice(p);
        };
        match self {
            K::Size(Some(n)) => param(itoa(*n, &mut [0; 20])),
            K::DeliverBy(Some(n)) => param(itoa(u64::from(*n), &mut [0; 20])),
            K::Auth(mechs) => mechs.iter().for_each(|m| param(m.name())),
            K::MtPriority(Some(p)) | K::NoSoliciting(Some(p)) => param(p),
            K::FutureRelease {
                max_interval,
                max_date_time,
            } => {
                param(itoa(u64::from(*max_interval), &mut [0; 20]));
                param(max_date_time);
            }
            K::Limits(l) => {
                let known = [
                    ("MAILMAX", l.mail_max),
                    ("RCPTMAX", l.rcpt_max),
                    ("RCPTDOMAINMAX", l.rcpt_domain_max),
                ];
                for (name, value) in known {
                    if let Some(v) = value {
                        out.put_u8(b' ');
                        out.put_slice(name.as_bytes());
                        out.put_u8(b'=');
                        out.put_slice(itoa(u64::from(v), &mut [0; 20]));
                    }
                }
                for (name, value) in &l.other {
                    out.put_u8(b' ');
                    out.put_slice(name);
                    out.put_u8(b'=');
                    out.put_slice(value);
                }
            }
            K::Burl(ps) | K::Expn(ps) | K::XClient(ps) | K::XForward(ps) => {
                ps.iter().for_each(|p| param(p));
            }
            K::Unknown { params, .. } => params.iter().for_each(|p| param(p)),
            _ => {}
        }
    }
}

/// Decimal digits of `n` in `buf`, without allocation.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Why an EHLO reply could not be read as capabilities.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EhloError {
    /// The reply is not `250`: the server refused EHLO (a client then falls back to HELO).
    #[error("EHLO refused with {0:?}")]
    NotAccepted(ReplyCode),
}

/// A parsed EHLO reply: the server's name, its greeting text, and the keywords in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The domain (or address literal) on the first line; `None` when the first word is not
    /// one (the whole first line is then in `greeting`).
    pub host: Option<Host>,
    /// Anything after the domain on the first line (the separating space removed).
    pub greeting: Bytes,
    /// The keywords in the order the server sent them.
    pub keywords: Vec<EhloKeyword>,
}

impl Capabilities {
    /// Reads a `250` EHLO reply. Never fails on the content of its lines (see the module
    /// documentation); fails only when the reply code is not 250.
    pub fn from_reply(reply: &Reply) -> Result<Capabilities, EhloError> {
        if reply.code() != ReplyCode::OK {
            return Err(EhloError::NotAccepted(reply.code()));
        }
        let mut lines = reply.lines();
        let (host, greeting) = match lines.next() {
            Some(first) => split_first_line(first),
            None => (None, Bytes::new()),
        };
        let keywords = lines
            .filter(|l| l.iter().any(|&b| b != b' ' && b != b'\t'))
            .map(EhloKeyword::parse)
            .collect();
        Ok(Capabilities {
            host,
            greeting,
            keywords,
        })
    }

    /// Writes the capabilities as a `250` reply: `host [greeting]`, then one line per keyword.
    /// Lines longer than a reply line allows are wrapped by [`Reply::multiline`].
    pub fn to_reply(&self) -> Reply {
        // All lines go into one buffer (one allocation), then become slices of it.
        let mut buf = BytesMut::with_capacity(64 + 24 * self.keywords.len());
        let mut ends = Vec::with_capacity(1 + self.keywords.len());
        if let Some(host) = &self.host {
            host.write(&mut buf);
            if !self.greeting.is_empty() {
                buf.put_u8(b' ');
            }
        }
        buf.put_slice(&self.greeting);
        ends.push(buf.len());
        for k in &self.keywords {
            k.write(&mut buf);
            ends.push(buf.len());
        }
        let buf = buf.freeze();
        let mut start = 0;
        let lines = ends.into_iter().map(|end| {
            let line = buf.slice(start..end);
            start = end;
            line
        });
        Reply::multiline(ReplyCode::OK, None, lines)
    }

    /// The first keyword of this registered extension.
    pub fn get(&self, extension: Extension) -> Option<&EhloKeyword> {
        self.keywords
            .iter()
            .find(|k| k.extension() == Some(extension))
    }

    /// `true` when the extension is announced (in a form that follows its grammar).
    pub fn supports(&self, extension: Extension) -> bool {
        self.get(extension).is_some()
    }

    /// The first keyword with this name (case-insensitive), registered or not.
    pub fn keyword(&self, name: &[u8]) -> Option<&EhloKeyword> {
        self.keywords
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// `PIPELINING` (RFC 2920).
    pub fn supports_pipelining(&self) -> bool {
        self.supports(Extension::Pipelining)
    }
    /// `CHUNKING` (RFC 3030): BDAT may be used.
    pub fn supports_chunking(&self) -> bool {
        self.supports(Extension::Chunking)
    }
    /// `SMTPUTF8` (RFC 6531).
    pub fn supports_smtputf8(&self) -> bool {
        self.supports(Extension::SmtpUtf8)
    }
    /// `8BITMIME` (RFC 6152).
    pub fn supports_8bitmime(&self) -> bool {
        self.supports(Extension::EightBitMime)
    }
    /// `BINARYMIME` (RFC 3030; only usable with CHUNKING).
    pub fn supports_binarymime(&self) -> bool {
        self.supports(Extension::BinaryMime)
    }
    /// `DSN` (RFC 3461).
    pub fn supports_dsn(&self) -> bool {
        self.supports(Extension::Dsn)
    }
    /// `STARTTLS` (RFC 3207).
    pub fn supports_starttls(&self) -> bool {
        self.supports(Extension::StartTls)
    }
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub fn supports_enhanced_status_codes(&self) -> bool {
        self.supports(Extension::EnhancedStatusCodes)
    }
    /// `REQUIRETLS` (RFC 8689).
    pub fn supports_requiretls(&self) -> bool {
        self.supports(Extension::RequireTls)
    }
    /// `SIZE` announced, with or without a limit: the `SIZE=` MAIL parameter may be used.
    pub fn supports_size(&self) -> bool {
        self.supports(Extension::Size)
    }

    /// The fixed message size limit of `SIZE n`; `None` when SIZE is absent, has no number,
    /// or is `SIZE 0` (RFC 1870 4: no fixed maximum).
    pub fn max_size(&self) -> Option<u64> {
        match self.get(Extension::Size) {
            Some(EhloKeyword::Size(Some(n))) if *n > 0 => Some(*n),
            _ => None,
        }
    }

    /// The mechanisms of the first `AUTH` line; empty when AUTH is not announced.
    pub fn auth_mechanisms(&self) -> &[Mechanism] {
        match self.get(Extension::Auth) {
            Some(EhloKeyword::Auth(m)) => m,
            _ => &[],
        }
    }

    /// The `LIMITS` line (RFC 9422), when announced.
    pub fn limits(&self) -> Option<&Limits> {
        match self.get(Extension::Limits) {
            Some(EhloKeyword::Limits(l)) => Some(l),
            _ => None,
        }
    }
}

/// Splits `host [SP greeting]`; an unparsable first word leaves the whole line as greeting.
fn split_first_line(line: &Bytes) -> (Option<Host>, Bytes) {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    // Lenient: `_` in labels is common in internal server names and harms nobody here.
    let opts = ParseOptions {
        path_syntax: PathSyntax::Lenient,
        ..ParseOptions::default()
    };
    match Host::parse(&line.slice(..end), &opts).ok() {
        Some(host) => {
            let rest = line.slice(end..);
            let greeting = if rest.first() == Some(&b' ') {
                rest.slice(1..)
            } else {
                rest
            };
            (Some(host), greeting)
        }
        None => (None, line.clone()),
    }
}
