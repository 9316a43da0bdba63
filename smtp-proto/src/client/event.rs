//! What the client session reports: [`Event`], outcomes, errors.

use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

use super::envelope::Envelope;
use super::timer::Timer;
use crate::ehlo::Capabilities;
use crate::error::ReplyError;
use crate::reply::{Reply, ReplyClass};

/// Names one transaction (one `send`) for the life of the session; numbered from 0 in the
/// order of [`super::Session::send`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId(pub(crate) u64);

impl TxnId {
    /// The number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "txn#{}", self.0)
    }
}

/// How an MTA should treat a result: deliver/forget, retry later, or bounce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeClass {
    /// `2yz`: done.
    Success,
    /// `4yz`, or a failure of the connection: try again later.
    Transient,
    /// `5yz`: do not retry; generate a bounce (DSN).
    Permanent,
}

/// A server's answer to one step of a transaction, with its classification.
///
/// ```
/// use smtp_proto::client::{Outcome, OutcomeClass};
/// use smtp_proto::{EnhancedCode, Reply, ReplyCode};
/// let r = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, EnhancedCode::parse(b"5.1.1"), "no such user");
/// let o = Outcome::from_reply(r);
/// assert_eq!(o.class, OutcomeClass::Permanent);
/// assert_eq!(o.reply.code().as_u16(), 550);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The classification of `reply`.
    pub class: OutcomeClass,
    /// The full reply, as the server sent it.
    pub reply: Reply,
}

impl Outcome {
    /// Classifies a reply: 2yz success, 4yz transient, 5yz permanent. A 3yz reply where a
    /// final answer was due is a protocol error of the server: transient (a retry may
    /// reach a better-behaved server), never a bounce.
    pub fn from_reply(reply: Reply) -> Outcome {
        let class = match reply.code().class() {
            ReplyClass::PositiveCompletion => OutcomeClass::Success,
            ReplyClass::PermanentNegative => OutcomeClass::Permanent,
            ReplyClass::TransientNegative | ReplyClass::PositiveIntermediate => {
                OutcomeClass::Transient
            }
        };
        Outcome { class, reply }
    }

    /// `true` for [`OutcomeClass::Success`].
    pub fn is_success(&self) -> bool {
        self.class == OutcomeClass::Success
    }
}

/// The command of a transaction that a failing reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `MAIL FROM`.
    Mail,
    /// `DATA` (its 354 did not come).
    Data,
    /// The end of the DATA body (`.`), or `BDAT ... LAST`.
    EndOfData,
    /// A `BDAT` chunk before the last one.
    Bdat,
}

/// Why a transaction failed as a whole. Recipient refusals are reported one by one in
/// [`Event::RecipientResult`] and are not repeated here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionFailure {
    /// The server refused a command of the transaction.
    Rejected {
        /// Which command.
        stage: Stage,
        /// Its reply.
        outcome: Outcome,
    },
    /// No recipient was accepted (each refusal came as a [`Event::RecipientResult`]).
    /// Transient when any refusal was transient.
    NoValidRecipients {
        /// Whether a retry may help.
        class: OutcomeClass,
    },
    /// The envelope needs something this server lacks; nothing was sent.
    Refused(EnvelopeError),
    /// [`super::Session::reset`] cancelled it.
    Cancelled,
}

impl TransactionFailure {
    /// How an MTA should treat the recipients of this transaction.
    pub fn class(&self) -> OutcomeClass {
        match self {
            TransactionFailure::Rejected { outcome, .. } => outcome.class,
            TransactionFailure::NoValidRecipients { class } => *class,
            TransactionFailure::Refused(e) => e.class(),
            TransactionFailure::Cancelled => OutcomeClass::Transient,
        }
    }
}

/// Why the session refused an envelope before sending anything for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// An address is UTF-8 (or SMTPUTF8 was asked for) and the server lacks SMTPUTF8
    /// (RFC 6531 3.4).
    #[error("a UTF-8 address needs SMTPUTF8, which the server does not offer")]
    NeedsSmtpUtf8,
    /// `BODY=8BITMIME` and the server lacks 8BITMIME (RFC 6152 3).
    #[error("an 8-bit body needs 8BITMIME, which the server does not offer")]
    Needs8BitMime,
    /// `BODY=BINARYMIME` and the server lacks BINARYMIME or CHUNKING, or chunking is
    /// disabled in the configuration (RFC 3030 3).
    #[error("a binary body needs BINARYMIME and CHUNKING")]
    NeedsBinaryMime,
    /// `REQUIRETLS` and the server lacks REQUIRETLS or the session is not under TLS
    /// (RFC 8689 4.1).
    #[error("REQUIRETLS cannot be honoured by this server")]
    NeedsRequireTls,
    /// The declared size is larger than the server's `SIZE` limit (RFC 1870 6).
    #[error("message size {size} exceeds the server limit {limit}")]
    TooLarge {
        /// Declared size.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// The envelope has no recipient.
    #[error("no recipients")]
    NoRecipients,
    /// The server's `LIMITS MAILMAX` (RFC 9422) allows no more transactions in this
    /// session; [`Event::Deferred`] carries the envelope for a new session.
    #[error("the server's MAILMAX is used up for this session")]
    MailMaxReached,
}

impl EnvelopeError {
    /// A size over the limit is permanent at this server; so are missing extensions (the
    /// same server will lack them tomorrow). MAILMAX only needs a new session.
    pub fn class(&self) -> OutcomeClass {
        match self {
            EnvelopeError::MailMaxReached => OutcomeClass::Transient,
            _ => OutcomeClass::Permanent,
        }
    }
}

/// Why recipients or a whole envelope were taken out of a transaction (RFC 9422 LIMITS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeferReason {
    /// More recipients than `RCPTMAX`: the rest go in another transaction.
    RcptMax,
    /// More recipient domains than `RCPTDOMAINMAX`.
    RcptDomainMax,
    /// `MAILMAX` transactions were already made in this session: use a new session.
    MailMax,
}

/// A session-level failure. Every one ends the session; it arrives in
/// [`Event::Closed`]'s [`CloseReason::Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The greeting was not 220 (a `554` means "no SMTP service here", RFC 5321 3.1).
    #[error("greeting refused: {}", reply_text(.0))]
    GreetingRejected(Reply),
    /// EHLO/LHLO (and HELO, after a fallback) was refused.
    #[error("hello refused: {}", reply_text(.0))]
    HelloRejected(Reply),
    /// TLS is required and the server does not offer STARTTLS.
    #[error("TLS required but STARTTLS is not offered")]
    TlsUnavailable,
    /// TLS is required and STARTTLS was refused.
    #[error("STARTTLS refused: {}", reply_text(.0))]
    StartTlsRejected(Reply),
    /// Bytes arrived after the `220` to STARTTLS and before the TLS handshake: someone in
    /// the path injected plaintext (CVE-2011-0411 class, "STARTTLS injection" 2021).
    #[error("plaintext injected after the STARTTLS reply ({0} bytes)")]
    StartTlsInjection(usize),
    /// Credentials are configured but no mechanism both sides support is usable here
    /// (none advertised, or only plaintext without permission).
    #[error("no usable AUTH mechanism")]
    AuthUnavailable,
    /// The server refused the credentials (`535`, `534`, `538`, `454`, ...).
    #[error("authentication failed: {}", reply_text(.0))]
    AuthFailed(Reply),
    /// The server sent a malformed reply or broke the limits on replies.
    #[error("malformed reply: {0}")]
    MalformedReply(ReplyError),
    /// A reply arrived that no command asked for, or a reply code that makes no sense there.
    #[error("unexpected reply: {}", reply_text(.0))]
    UnexpectedReply(Reply),
    /// A SASL challenge could not be answered (bad base64, bad SCRAM message, server
    /// signature mismatch).
    #[error("bad AUTH exchange")]
    AuthProtocol,
    /// `421`: the server is closing the connection.
    #[error("service closing: {}", reply_text(.0))]
    ServiceClosing(Reply),
    /// No reply within the configured time.
    #[error("timeout waiting for {0:?}")]
    Timeout(Timer),
    /// The server closed the connection before the session was done.
    #[error("connection closed by the server")]
    ConnectionLost,
    /// The application abandoned a DATA body already in transmission: only closing the
    /// connection stops it without delivering a truncated message.
    #[error("DATA body abandoned")]
    Abandoned,
}

fn reply_text(r: &Reply) -> alloc::string::String {
    let mut s = alloc::format!("{}", r.code());
    if let Some(e) = r.enhanced() {
        s.push_str(&alloc::format!(" {e}"));
    }
    s.push(' ');
    s.push_str(&alloc::string::String::from_utf8_lossy(r.first_line()));
    s
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// After [`super::Session::quit`]: the `221` reply, or `None` when the server closed
    /// without one.
    Quit(Option<Reply>),
    /// A failure; see [`ClientError`].
    Error(ClientError),
}

/// A wrong-state call on the session: a bug in the caller, never caused by the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// The session is closed (or closing after an error).
    #[error("session closed")]
    Closed,
    /// [`super::Session::quit`] was called; no new work is taken.
    #[error("quit already requested")]
    Quitting,
    /// `body`/`end_body` without a transaction whose body is open.
    #[error("no transaction body is open")]
    NoBodyOpen,
    /// `tls_established` outside the STARTTLS hand-off.
    #[error("no TLS hand-off in progress")]
    NotInTlsHandoff,
}

/// Why [`super::Session::body`] did not take a chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body buffer is full: the chunk is given back; offer it again once
    /// [`super::Session::body_capacity`] is non-zero (after `poll_transmit`).
    #[error("body buffer full")]
    Full(Bytes),
    /// A wrong-state call.
    #[error(transparent)]
    Misuse(#[from] ApiMisuse),
}

/// What the session reports. Drain with [`super::Session::poll_event`] after every input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server's `220` greeting.
    Greeting(Reply),
    /// The session is ready for transactions: hello done (again after TLS; capabilities
    /// seen before TLS are forgotten), TLS and AUTH done as configured.
    Ready {
        /// The server's extensions, as advertised in the last EHLO/LHLO reply (empty after
        /// a HELO fallback).
        capabilities: Capabilities,
    },
    /// Barrier: everything before it has left through `poll_transmit`. The adapter MUST now
    /// run the TLS handshake on the same connection and then call
    /// [`super::Session::tls_established`]; it MUST NOT read plaintext meanwhile.
    StartTls,
    /// AUTH succeeded; the `235` reply.
    Authenticated(Reply),
    /// The reply to one `RCPT TO`. `index` is the recipient's position in the envelope
    /// given to `send` (also when [`Event::Deferred`] took others out).
    RecipientResult {
        /// The transaction.
        txn: TxnId,
        /// Recipient position in the envelope.
        index: usize,
        /// The reply and its class.
        outcome: Outcome,
    },
    /// The session is ready to transmit this transaction's body: feed
    /// [`super::Session::body`] while [`super::Session::body_capacity`] allows.
    BodyWanted {
        /// The transaction.
        txn: TxnId,
    },
    /// The final reply for the message. SMTP: one, for every accepted recipient
    /// (`recipient: None`). LMTP: one per accepted recipient (`recipient: Some(index)`).
    MessageResult {
        /// The transaction.
        txn: TxnId,
        /// LMTP: the recipient this reply is about.
        recipient: Option<usize>,
        /// The reply and its class.
        outcome: Outcome,
    },
    /// The transaction ended without a message result. Any body still fed for it is
    /// discarded; `end_body` is still expected.
    TransactionFailed {
        /// The transaction.
        txn: TxnId,
        /// Why.
        failure: TransactionFailure,
    },
    /// Part of an envelope was not attempted because of the server's LIMITS (RFC 9422).
    /// `envelope` holds what was left out, ready for another `send` (with the body again),
    /// in this session for [`DeferReason::RcptMax`] / [`DeferReason::RcptDomainMax`], in a
    /// new session for [`DeferReason::MailMax`] (then the whole transaction ends here).
    Deferred {
        /// The transaction that was split (or not attempted).
        txn: TxnId,
        /// Original positions (in the envelope given to `send`) of the deferred recipients.
        indices: Vec<usize>,
        /// The deferred part (boxed: an envelope is large and this event is rare).
        envelope: alloc::boxed::Box<Envelope>,
        /// Which limit.
        reason: DeferReason,
    },
    /// Barrier, and the last event: the adapter closes the connection. `unfinished` lists the
    /// transactions without a final result ([`Event::MessageResult`] or
    /// [`Event::TransactionFailed`]).
    Closed {
        /// Why.
        reason: CloseReason,
        /// Transactions not completed, oldest first.
        unfinished: Vec<TxnId>,
    },
}
