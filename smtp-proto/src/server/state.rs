//! The server session's state: one enum, per-state data in its variants.
//!
//! ```text
//!            new()                       new() with Greeting::Reject / early talker
//!              |                                   |
//!              v          greeting_delay           v
//!   +--> GreetingDelay ------------------>  Refusing --QUIT--> Closed
//!   |          |  (timer)                     (503 to all but QUIT)
//!   |          v
//!   |   +---> Idle <-----------------------------------------+-------------+
//!   |   |      |  \  AUTH (334) --> Auth --(235/5xx/*)------>+             |
//!   |   |      |   \ STARTTLS (220) --> TlsHandoff --tls_established()-----+
//!   |   |      | MAIL (accepted)                                           |
//!   |   |      v                                                           |
//!   |   |    Mail ---RSET/EHLO--------------------------------------------->+
//!   |   |      |  \                                                        |
//!   |   |      |   \ BDAT n --> Chunk --(n octets; 250)--> Mail            |
//!   |   |      |                  \--(n octets, LAST; EndOfMessage)------->+
//!   |   |      | DATA (354)                                                |
//!   |   |      v                                                           |
//!   |   +--- Data --(<CRLF>.<CRLF>; EndOfMessage / 552 / 550)------------->+
//!   |
//!   +-- any state --QUIT / 421 (timeout, errors, overflow, shutdown) / EOF--> Closed
//! ```
//!
//! A decision pending on the application ([`Awaiting`]) does not change the state: the session
//! stays where the command found it until `accept`/`reject` moves it on, and no input is
//! processed meanwhile. HELO/EHLO and AUTH results are session facts kept beside the state
//! (whether the client greeted, authenticated, runs TLS), because they survive transactions.

use crate::command::BodyType;
use crate::framing::bdat::ChunkCountdown;
use crate::framing::data::DataDecoder;
use crate::reply::Reply;
use crate::sasl::Mechanism;

use super::event::{DataKind, HeloVerb};
use super::Pending;

/// Where the conversation stands.
#[derive(Debug)]
pub(crate) enum State {
    /// The greeting is held until the greeting-delay timer; input is buffered and marks the
    /// client as an early talker.
    GreetingDelay,
    /// Service refused at the greeting: only QUIT is honoured (RFC 5321 3.1).
    Refusing,
    /// No mail transaction (the client may or may not have greeted).
    Idle,
    /// A transaction is open: MAIL was accepted.
    Mail(Transaction),
    /// Reading a DATA body.
    Data(Transaction, DataDecoder),
    /// Reading the octets of one BDAT chunk.
    Chunk(ChunkState),
    /// Waiting for a SASL response line.
    Auth(SaslStep),
    /// The `220` to STARTTLS is queued; waiting for `tls_established`.
    TlsHandoff,
    /// The final reply is queued (or none is due); `Closed` is emitted once it is out.
    Closed,
}

/// The facts of an open transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transaction {
    /// `BODY=` of MAIL.
    pub(crate) body: Option<BodyType>,
    /// `SMTPUTF8` on MAIL.
    pub(crate) smtputf8: bool,
    /// Recipients accepted.
    pub(crate) recipients: usize,
    /// BDAT chunks have started the body (then DATA is refused).
    pub(crate) bdat_started: bool,
    /// Content octets delivered so far (BDAT).
    pub(crate) size: u64,
}

/// One BDAT chunk being read.
#[derive(Debug)]
pub(crate) struct ChunkState {
    /// The transaction the chunk belongs to; `None` when the chunk is read only to be dropped.
    pub(crate) txn: Option<Transaction>,
    pub(crate) countdown: ChunkCountdown,
    /// The chunk's announced size.
    pub(crate) size: u64,
    pub(crate) last: bool,
    /// When set, the chunk is dropped and this reply answers it once it has been read
    /// (`txn` is then the transaction to resume, if it survives the refusal).
    pub(crate) failure: Option<Reply>,
}

/// The SASL exchange in progress.
#[derive(Debug, Clone)]
pub(crate) enum SaslStep {
    /// PLAIN after `334 `: the credentials come next.
    Plain,
    /// LOGIN after `334 VXNlcm5hbWU6`: the user name comes next.
    LoginUser,
    /// LOGIN after `334 UGFzc3dvcmQ6`: the password comes next.
    LoginPassword(bytes::Bytes),
    /// An application-driven mechanism after its challenge.
    Custom(Mechanism),
}

/// The decision the session waits for, with what it needs to act on the answer.
#[derive(Debug, Clone)]
pub(crate) enum Awaiting {
    Helo(HeloVerb),
    Mail {
        body: Option<BodyType>,
        smtputf8: bool,
    },
    Rcpt,
    DataStart {
        kind: DataKind,
        /// For BDAT: the chunk that raised the event.
        chunk: Option<(u64, bool)>,
    },
    EndOfMessage {
        recipients: usize,
    },
    Auth,
    AuthStep(Mechanism),
    Vrfy,
    Expn,
}

impl Awaiting {
    pub(crate) fn public(&self) -> Pending {
        match self {
            Awaiting::Helo(_) => Pending::Helo,
            Awaiting::Mail { .. } => Pending::Mail,
            Awaiting::Rcpt => Pending::Rcpt,
            Awaiting::DataStart { .. } => Pending::DataStart,
            Awaiting::EndOfMessage { .. } => Pending::EndOfMessage,
            Awaiting::Auth => Pending::Auth,
            Awaiting::AuthStep(_) => Pending::AuthStep,
            Awaiting::Vrfy => Pending::Vrfy,
            Awaiting::Expn => Pending::Expn,
        }
    }
}
