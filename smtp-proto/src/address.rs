//! Paths and mailboxes of RFC 5321 4.1.2, with RFC 6531 (SMTPUTF8) extensions.
//!
//! Every type is backed by [`Bytes`] sliced from the input line, so parsing copies nothing.
//! Values are validated on construction; `as_str` re-checks UTF-8 on these short fields.

use bytes::Bytes;
use core::net::{Ipv4Addr, Ipv6Addr};

/// A domain name: dot-separated labels (RFC 5321 4.1.2 `Domain`), or U-labels under
/// SMTPUTF8 (RFC 6531 3.3). At most 255 octets (4.5.3.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(pub(crate) Bytes);

impl Domain {
    /// The domain as written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The domain as text (always valid UTF-8 once parsed).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
    /// `true` when a label holds non-ASCII octets (a U-label), which needs SMTPUTF8.
    pub fn is_utf8(&self) -> bool {
        !self.0.is_ascii()
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
/// quotes and backslashes. At most 64 octets (4.5.3.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalPart(pub(crate) Bytes);

impl LocalPart {
    /// The local part as written on the wire (quotes included when quoted).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    pub(crate) local_part: LocalPart,
    pub(crate) host: Host,
}

impl Mailbox {
    /// The local part.
    pub fn local_part(&self) -> &LocalPart {
        &self.local_part
    }
    /// The domain or address literal.
    pub fn host(&self) -> &Host {
        &self.host
    }
    /// `true` when the mailbox needs SMTPUTF8 (RFC 6531).
    pub fn is_utf8(&self) -> bool {
        self.local_part.is_utf8() || matches!(&self.host, Host::Domain(d) if d.is_utf8())
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
