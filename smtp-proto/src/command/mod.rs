//! SMTP commands: the [`Command`] enum, its parser and its writer.

mod params;
mod parse;
mod write;

#[cfg(test)]
mod props;
#[cfg(test)]
pub(crate) mod strategies;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use bytes::Bytes;

use crate::address::{Domain, ForwardPath, Host, ReversePath};
use crate::sasl::Mechanism;
use crate::Secret;

pub use params::{
    BodyType, ByMode, DeliverBy, DsnReturn, FutureRelease, MailExtras, MailParams, Mtrk, Notify,
    Orcpt, RcptExtras, RcptParams, Rrvs, RrvsAction, UnknownParam,
};

/// Whether a BDAT chunk is the last one of the message (RFC 3030 `LAST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkKind {
    /// More chunks follow.
    More,
    /// `LAST`: this chunk ends the message.
    Last,
}

/// The optional initial response of `AUTH` (RFC 4954 section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialResponse {
    /// `=`: an empty initial response.
    Empty,
    /// Base64 text as sent (not decoded here: that is the SASL layer's job).
    Base64(Secret<Bytes>),
}

/// One `NAME=value` attribute of XCLIENT or XFORWARD (Postfix), value still xtext-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XAttribute {
    /// Attribute name, e.g. `ADDR`.
    pub name: Bytes,
    /// Attribute value as sent (xtext), e.g. `[UNAVAILABLE]`.
    pub value: Bytes,
}

/// Every SMTP command this crate knows, plus unknown verbs kept with their argument.
///
/// Verbs are case-insensitive on input and written in upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `HELO domain` (RFC 5321 4.1.1.1).
    Helo(Host),
    /// `EHLO domain-or-literal` (RFC 5321 4.1.1.1).
    Ehlo(Host),
    /// `LHLO domain` (RFC 2033).
    Lhlo(Host),
    /// `MAIL FROM:<path> params` (RFC 5321 4.1.1.2).
    Mail {
        /// The reverse path.
        from: ReversePath,
        /// ESMTP parameters.
        params: MailParams,
    },
    /// `RCPT TO:<path> params` (RFC 5321 4.1.1.3).
    Rcpt {
        /// The forward path.
        to: ForwardPath,
        /// ESMTP parameters.
        params: RcptParams,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat {
        /// Chunk size in octets.
        size: u64,
        /// Whether this is the last chunk.
        kind: ChunkKind,
    },
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop(Option<Bytes>),
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(Bytes),
    /// `EXPN string`.
    Expn(Bytes),
    /// `HELP [string]`.
    Help(Option<Bytes>),
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response, if any.
        initial_response: Option<InitialResponse>,
    },
    /// `ETRN node` (RFC 1985): a domain, `@domain` or `#queue`.
    Etrn(Bytes),
    /// `ATRN [domain,domain...]` (RFC 2645).
    Atrn(Vec<Domain>),
    /// `BURL url [LAST]` (RFC 4468).
    Burl {
        /// The URL.
        url: Bytes,
        /// Whether this ends the message.
        kind: ChunkKind,
    },
    /// `XCLIENT attr=value...` (Postfix).
    Xclient(Vec<XAttribute>),
    /// `XFORWARD attr=value...` (Postfix).
    Xforward(Vec<XAttribute>),
    /// Any other verb, kept so that a server can answer 500 / 502 and a proxy can forward it.
    Unknown {
        /// The verb as sent.
        verb: Bytes,
        /// Everything after the first space, if anything.
        args: Option<Bytes>,
    },
}
