//! EHLO capabilities: the keywords of an EHLO reply, typed (IANA SMTP Service Extensions).

use alloc::vec::Vec;
use bytes::Bytes;

use crate::address::Host;
use crate::sasl::Mechanism;

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
    /// `AUTH mech...` (RFC 4954).
    Auth(Vec<Mechanism>),
    /// `REQUIRETLS` (RFC 8689).
    RequireTls,
    /// Unknown keyword with its parameters, kept as sent.
    Unknown {
        /// The keyword.
        keyword: Bytes,
        /// The parameters after the keyword, space separated.
        params: Vec<Bytes>,
    },
}

/// A parsed EHLO reply: the server's name, its greeting text, and the keywords in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The domain (or address literal) on the first line.
    pub host: Option<Host>,
    /// Anything after the domain on the first line.
    pub greeting: Bytes,
    /// The keywords in the order the server sent them.
    pub keywords: Vec<EhloKeyword>,
}
