//! What a server session reports to the application.

use bytes::Bytes;

use crate::address::{ForwardPath, Host, ReversePath};
use crate::command::{BodyType, MailParams, RcptParams};
use crate::reply::Reply;
use crate::sasl::Mechanism;
use crate::Secret;

/// One thing that happened in a server session, in order.
///
/// Events marked *decision* leave the session waiting until the application calls one of the
/// decision methods ([`Session::accept`](super::Session::accept), `reject`, ...); pipelined
/// input waits meanwhile. The others are information.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision*: HELO, EHLO or LHLO. `accept` sends the configured reply.
    Helo(HeloRequest),
    /// *Decision*: MAIL FROM, after every protocol check passed. `accept` sends
    /// `250 2.1.0`.
    Mail(MailRequest),
    /// *Decision*: RCPT TO, after every protocol check passed. `accept` sends `250 2.1.5`.
    Rcpt(RcptRequest),
    /// *Decision*: DATA, or the first BDAT chunk of a transaction. `accept` sends `354` for
    /// DATA; for BDAT the chunk's data follows as `Body` events.
    DataStart(DataStart),
    /// A piece of the message body, dot-unstuffed (DATA) or as sent (BDAT): a slice of the
    /// received input, not a copy. Pieces are not aligned to lines.
    Body(Bytes),
    /// *Decision*: the whole message arrived. `accept` sends `250 2.0.0` (in LMTP one reply
    /// per accepted recipient; see [`Session::decide_lmtp`](super::Session::decide_lmtp)).
    /// The application commits the message only on its own `accept`.
    EndOfMessage(EndOfMessage),
    /// The message in progress is dropped: discard what was streamed so far.
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
    /// *Decision*: decoded PLAIN or LOGIN credentials. `accept` sends `235 2.7.0`; refuse
    /// with `535 5.7.8`.
    Auth(AuthRequest),
    /// *Decision*: one step of a SASL mechanism the session does not decode itself. Answer
    /// with [`Session::auth_challenge`](super::Session::auth_challenge) to continue, `accept`
    /// or `reject` to finish.
    AuthStep(AuthStep),
    /// *Decision*: VRFY, when [`VrfyPolicy::Ask`](super::VrfyPolicy::Ask). `accept` sends
    /// `252`.
    Vrfy(VerifyRequest),
    /// *Decision*: EXPN, when [`ExpnPolicy::Ask`](super::ExpnPolicy::Ask). `accept` sends
    /// `252`.
    Expn(VerifyRequest),
    /// The session answered a command negatively by itself (sequence, syntax, limits);
    /// for logs and statistics.
    Rejected(Rejected),
    /// *Barrier*: the `220` to STARTTLS has been taken by `poll_transmit`; run the TLS
    /// handshake on the connection now, then call
    /// [`Session::tls_established`](super::Session::tls_established).
    StartTls {
        /// Plaintext octets received after the STARTTLS line and discarded unexecuted
        /// (non-zero means a broken client or a CVE-2011-0411 style injection attempt).
        discarded_plaintext: usize,
    },
    /// RSET or a new EHLO ended an open transaction.
    Reset,
    /// The client sent QUIT; `Closed` follows once the `221` is out.
    Quit,
    /// *Barrier, last*: every reply has been taken by `poll_transmit`; close the connection.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Which greeting verb the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeloVerb {
    /// `HELO` (RFC 5321 4.1.1.1): plain SMTP, no extensions.
    Helo,
    /// `EHLO`: extended SMTP.
    Ehlo,
    /// `LHLO` (RFC 2033).
    Lhlo,
}

/// HELO, EHLO or LHLO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeloRequest {
    /// The verb.
    pub verb: HeloVerb,
    /// The client's claimed name.
    pub host: Host,
}

/// MAIL FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailRequest {
    /// The sender (`<>` for bounces).
    pub reverse_path: ReversePath,
    /// ESMTP parameters, already checked against the advertised extensions.
    pub params: MailParams,
}

/// RCPT TO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RcptRequest {
    /// The recipient.
    pub forward_path: ForwardPath,
    /// ESMTP parameters, already checked against the advertised extensions.
    pub params: RcptParams,
}

/// How the body is transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// DATA with dot-stuffing.
    Data,
    /// BDAT chunks (RFC 3030).
    Bdat,
}

/// The start of a message body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataStart {
    /// DATA or BDAT.
    pub kind: DataKind,
    /// Recipients accepted in this transaction.
    pub recipients: usize,
}

/// The end of a message body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndOfMessage {
    /// Octets of content delivered in `Body` events.
    pub size: u64,
    /// DATA or BDAT.
    pub kind: DataKind,
    /// The `BODY=` parameter of MAIL, if any.
    pub body_type: Option<BodyType>,
    /// Recipients accepted in this transaction (the number of LMTP replies due).
    pub recipients: usize,
}

/// Credentials of PLAIN or LOGIN.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthRequest {
    /// `PLAIN` or `LOGIN`.
    pub mechanism: Mechanism,
    /// The authorization identity (PLAIN only), when given.
    pub authzid: Option<Bytes>,
    /// The user name.
    pub authcid: Bytes,
    /// The password.
    pub password: Secret<Bytes>,
}

/// One client message of a SASL exchange the application runs itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthStep {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The decoded client message; `None` for an `AUTH` without initial response (the
    /// application sends the first challenge).
    pub response: Option<Secret<Bytes>>,
}

/// The argument of VRFY or EXPN.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyRequest {
    /// The string as sent.
    pub argument: Bytes,
}

/// A command the session refused by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejected {
    /// The command's verb (upper-cased), empty when the line could not be framed.
    pub verb: Bytes,
    /// The reply that was sent.
    pub reply: Reply,
}

/// Why a message in progress was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbortReason {
    /// It grew past [`Limits::max_message_size`](super::Limits::max_message_size).
    TooLarge,
    /// It contains a bare CR or LF ([`BareLineEndingPolicy::Reject`](super::BareLineEndingPolicy::Reject)).
    BareLineEnding,
    /// RSET (or EHLO) between BDAT chunks.
    Reset,
    /// A BDAT chunk was refused (wrong sequence, failed transaction).
    ChunkRejected,
    /// The connection ended (EOF) inside the body.
    ConnectionLost,
    /// The peer timed out inside the body.
    Timeout,
    /// The application shut the session down.
    Shutdown,
    /// Too much input was buffered ([`Limits::max_buffered_input`](super::Limits::max_buffered_input)).
    InputOverflow,
}

/// Why the session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent QUIT.
    Quit,
    /// The peer closed its side (EOF).
    PeerClosed,
    /// A peer timeout expired (`421 4.4.2`).
    Timeout,
    /// [`Limits::max_errors`](super::Limits::max_errors) was reached (`421 4.7.0`).
    TooManyErrors,
    /// [`Limits::max_transactions`](super::Limits::max_transactions) was reached.
    TooManyTransactions,
    /// Input beyond [`Limits::max_buffered_input`](super::Limits::max_buffered_input).
    InputOverflow,
    /// Plaintext after STARTTLS with
    /// [`StartTlsInjectionPolicy::Close`](super::StartTlsInjectionPolicy::Close).
    StartTlsInjection,
    /// The application called [`Session::shutdown`](super::Session::shutdown).
    Shutdown,
    /// The greeting was [`Greeting::Close`](super::Greeting::Close): refused at once.
    Refused,
}

/// Facts about the TLS connection, given by the adapter after the handshake: the one type
/// both sessions share.
pub use crate::tls::TlsInfo;
