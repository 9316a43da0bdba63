//! The client state machine. Only this file changes [`State`].
//!
//! ```text
//!                 new()
//!                   |
//!                   v
//!             +-----------+  not 220: QUIT ---------------------------+
//!             | Greeting  |                                            |
//!             +-----------+                                            |
//!                   | 220                                              |
//!                   v                                                  |
//!             +-----------+  500/502 to EHLO: HELO (SMTP only)         |
//!   +-------->|   Hello   |---+                                        |
//!   |         +-----------+<--+      refused: QUIT ------------------->|
//!   |               | 250                                              |
//!   |               |  STARTTLS offered, policy wants it               |
//!   |               +------------------> +-----------+                 |
//!   |               |                    | StartTls  |-- refused, policy Required: QUIT -->|
//!   |               |                    +-----------+                 |
//!   |               |                          | 220 (nothing after it, else close)
//!   |               |                          v                       |
//!   |               |                    +------------+                |
//!   +---------------|--------------------| TlsHandoff | tls_established: EHLO again
//!                   |                    +------------+                |
//!                   |  credentials set                                 |
//!                   +------------------> +-----------+                 |
//!                   |                    |   Auth    |-- 334: answer, stay; refused: QUIT -->|
//!                   |                    +-----------+                 |
//!                   |                          | 235                   |
//!                   v                          v                       |
//!             +-----------------------------------+                    |
//!             | Ready: transactions one after     |                    |
//!             | another (each a `Step`, below)    |                    |
//!             +-----------------------------------+                    |
//!                   | quit() and idle                                  |
//!                   v                                                  v
//!             +-----------+  221 / EOF / timeout    +--------+
//!             | Quitting  |------------------------>| Closed |<-- timeout, EOF, 421,
//!             +-----------+                         +--------+    bad reply, injection
//! ```
//!
//! A transaction inside `Ready` moves through [`Step`]:
//!
//! ```text
//! Queued -> Envelope (MAIL, RCPTs; pipelined: all at once, with DATA when DATA is used)
//!        -> AwaitData (DATA sent, 354 awaited)   | BDAT: straight to Body once RCPTs are in
//!        -> Body (chunks flow out) -> AwaitResult (end of data / BDAT LAST sent) -> Done
//! any failure or reset() -> Drain (remaining pipelined replies consumed, then RSET) -> Done
//! ```

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use super::auth::{self, AuthExchange};
use super::config::{LineEndings, Protocol, TlsPolicy, Usage};
use super::envelope::{prepare, Envelope, Prepared};
use super::event::{
    ApiMisuse, ClientError, CloseReason, DeferReason, EnvelopeError, Event, Outcome, OutcomeClass,
    Stage, TransactionFailure, TxnId,
};
use super::offer::{capabilities_from_reply, Offer};
use super::timer::Timer;
use super::{wire, Session};
use crate::command::BodyType;
use crate::ehlo::Capabilities;
use crate::error::ReplyError;
use crate::framing::stuff::{BodyEncoder, Counter, Framing};
use crate::reply::{Reply, ReplyCode};
use crate::tls::TlsInfo;

/// The connection's state. See the diagram in the module documentation.
#[derive(Debug)]
pub(crate) enum State {
    /// Waiting for the greeting.
    Greeting,
    /// EHLO, LHLO or HELO sent.
    Hello(HelloVerb),
    /// STARTTLS sent.
    StartTls,
    /// `220` to STARTTLS received: the adapter runs the handshake.
    TlsHandoff,
    /// An AUTH exchange is running.
    Auth(AuthExchange),
    /// Transactions run.
    Ready,
    /// QUIT sent; the reason the session will close with.
    Quitting(CloseReason),
    /// Done; `Event::Closed` is queued.
    Closed,
}

/// Which hello command was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HelloVerb {
    Ehlo,
    Helo,
    Lhlo,
}

impl HelloVerb {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            HelloVerb::Ehlo => b"EHLO",
            HelloVerb::Helo => b"HELO",
            HelloVerb::Lhlo => b"LHLO",
        }
    }
}

/// A reply the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    Greeting,
    Hello,
    StartTls,
    Auth,
    Mail(TxnId),
    /// The recipient's index in the envelope given to `send`.
    Rcpt(TxnId, usize),
    Data(TxnId),
    /// A BDAT chunk before the last.
    Bdat(TxnId),
    /// End of data or BDAT LAST; LMTP: the recipient this reply is for.
    EndOfData(TxnId, Option<usize>),
    Rset(TxnId),
    Quit,
}

impl Awaiting {
    fn timer(self) -> Timer {
        match self {
            Awaiting::Greeting => Timer::Greeting,
            Awaiting::Mail(_) => Timer::Mail,
            Awaiting::Rcpt(..) => Timer::Rcpt,
            Awaiting::Data(_) => Timer::DataInitiation,
            Awaiting::Bdat(_) => Timer::DataBlock,
            Awaiting::EndOfData(..) => Timer::DataTermination,
            Awaiting::Hello
            | Awaiting::StartTls
            | Awaiting::Auth
            | Awaiting::Rset(_)
            | Awaiting::Quit => Timer::Command,
        }
    }

    fn txn(self) -> Option<TxnId> {
        match self {
            Awaiting::Mail(t)
            | Awaiting::Rcpt(t, _)
            | Awaiting::Data(t)
            | Awaiting::Bdat(t)
            | Awaiting::EndOfData(t, _)
            | Awaiting::Rset(t) => Some(t),
            _ => None,
        }
    }
}

/// An awaited reply and whether its command has left through `poll_transmit`.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    seq: u64,
    what: Awaiting,
    sent: bool,
}

/// One item of output, in wire order. Body chunks are encoded (dot-stuffed, CRLF-normalised)
/// only when `poll_transmit` renders them, straight into the caller's buffer.
#[derive(Debug)]
pub(crate) enum Out {
    /// Command lines.
    Cmd(Bytes),
    /// A body begins: reset the encoder.
    Start(Framing),
    /// `BDAT size [LAST]`.
    BdatHeader { size: usize, last: bool },
    /// Body bytes as the application gave them.
    Chunk(Bytes),
    /// The end of the body (final CRLF if needed; `.` for DATA).
    Finish,
}

/// Where a transaction is. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Queued,
    Envelope,
    AwaitData,
    Body,
    AwaitResult,
    Drain,
    Done,
}

/// One transaction from `send`.
#[derive(Debug)]
pub(crate) struct Txn {
    pub(crate) id: TxnId,
    step: Step,
    envelope: Option<Envelope>,
    prepared: Option<Prepared>,
    pub(crate) body: VecDeque<Bytes>,
    pub(crate) body_ended: bool,
    /// The transaction failed or was cancelled: body chunks are dropped.
    pub(crate) discard_body: bool,
    /// A final result (message result or failure) was reported.
    pub(crate) reported: bool,
    pipelined: bool,
    framing: Framing,
    /// The encoder state after every chunk handed to the output queue, for BDAT sizes.
    probe: BodyEncoder,
    /// Non-pipelined: the next recipient (index into `prepared.recipients`) to send.
    next_rcpt: usize,
    rcpt_pending: usize,
    accepted: Vec<usize>,
    any_transient_refusal: bool,
    mail_ok: bool,
    /// Replies still due for this transaction.
    outstanding: usize,
    rset_needed: bool,
    bdat_outstanding: usize,
}

impl Txn {
    pub(crate) fn new(id: TxnId, envelope: Envelope) -> Txn {
        Txn {
            id,
            step: Step::Queued,
            envelope: Some(envelope),
            prepared: None,
            body: VecDeque::new(),
            body_ended: false,
            discard_body: false,
            reported: false,
            pipelined: false,
            framing: Framing::Data,
            probe: BodyEncoder::new(Framing::Data),
            next_rcpt: 0,
            rcpt_pending: 0,
            accepted: Vec::new(),
            any_transient_refusal: false,
            mail_ok: false,
            outstanding: 0,
            rset_needed: false,
            bdat_outstanding: 0,
        }
    }

    fn in_flight(&self) -> bool {
        !matches!(self.step, Step::Queued | Step::Done)
    }

    /// Whether body bytes (or the end of the body) can go to the output queue now.
    fn can_seal(&self) -> bool {
        self.step == Step::Body
            && (!self.body.is_empty() || self.body_ended)
            && (self.framing == Framing::Data || self.pipelined || self.bdat_outstanding == 0)
    }
}

impl Session {
    /// Arms the greeting wait.
    pub(super) fn start(&mut self) {
        self.push_expect(Awaiting::Greeting, true);
        self.rearm_reply_timer();
    }

    /// Body bytes wait for `poll_transmit` (queued, or ready to be queued).
    pub(super) fn state_has_body_output(&self) -> bool {
        self.outq.iter().any(|o| !matches!(o, Out::Cmd(_))) || self.txns.iter().any(Txn::can_seal)
    }

    fn push_expect(&mut self, what: Awaiting, sent: bool) {
        let seq = self.expect_seq;
        self.expect_seq += 1;
        if let Some(id) = what.txn() {
            if let Some(t) = self.txn_mut(id) {
                t.outstanding += 1;
            }
        }
        self.expect.push_back(Expect { seq, what, sent });
    }

    fn txn_mut(&mut self, id: TxnId) -> Option<&mut Txn> {
        self.txns.iter_mut().find(|t| t.id == id)
    }

    fn secure(&self) -> bool {
        self.tls.is_some()
    }

    // ---- the processing loop --------------------------------------------------------

    /// Reads every complete reply in the input and acts on it; starts queued work.
    pub(super) fn drive(&mut self) {
        loop {
            match self.state {
                State::Closed => return,
                State::TlsHandoff => {
                    if !self.rx.is_empty() {
                        let n = self.rx.len();
                        // A `StartTls` the driver has not taken yet must not survive the
                        // close: a naive loop would start a handshake with a peer already
                        // known to be hostile.
                        self.events.retain(|e| !matches!(e, Event::StartTls));
                        self.close_now(ClientError::StartTlsInjection(n));
                    } else if self.eof {
                        self.close_now(ClientError::ConnectionLost);
                    }
                    return;
                }
                _ => {}
            }
            self.pump();
            match self.read_reply() {
                Ok(Some(reply)) => self.on_reply(reply),
                Ok(None) => break,
                Err(e) => {
                    self.close_now(ClientError::MalformedReply(e));
                    return;
                }
            }
        }
        if self.eof {
            match core::mem::replace(&mut self.state, State::Closed) {
                State::Quitting(reason) => self.finish_close(reason),
                State::Closed => {}
                other => {
                    self.state = other;
                    self.close_now(ClientError::ConnectionLost);
                }
            }
            return;
        }
        self.rearm_reply_timer();
    }

    /// Cuts the next line out of the input and feeds the reply parser.
    fn read_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let from = self.rx_scanned.min(self.rx.len());
            let Some(i) = memchr::memchr(b'\n', &self.rx[from..]) else {
                self.rx_scanned = self.rx.len();
                // Fail early only when every completion of this partial line fails the
                // parser's own check (text + CRLF over the limit), so that the verdict does
                // not depend on where the input was split. A trailing CR may be the CRLF's.
                let cr = usize::from(self.rx.last() == Some(&b'\r'));
                if self.rx.len() - cr + 2 > self.config.reply_limits.max_line {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok(None);
            };
            let line = self.rx.split_to(from + i + 1).freeze();
            self.rx_scanned = 0;
            let mut end = line.len() - 1;
            if end > 0 && line[end - 1] == b'\r' {
                end -= 1;
            }
            if let Some(reply) = self.parser.push_line(&line.slice(..end))? {
                return Ok(Some(reply));
            }
        }
    }

    fn rearm_reply_timer(&mut self) {
        match self.expect.front() {
            Some(e) if e.sent => {
                if self.armed_for != Some(e.seq) {
                    let t = e.what.timer();
                    self.timers
                        .set_reply(t, self.now + t.duration(&self.config.timeouts));
                    self.armed_for = Some(e.seq);
                }
            }
            _ => {
                self.timers.stop_reply();
                self.armed_for = None;
            }
        }
    }

    pub(super) fn arm_data_block(&mut self) {
        if self.state_has_body_output() {
            if self.timers.output().is_none() {
                let d = self.config.timeouts.data_block;
                self.timers.set_output(self.now + d);
            }
        } else {
            self.timers.stop_output();
        }
    }

    pub(super) fn on_timeout(&mut self, timer: Timer) {
        match core::mem::replace(&mut self.state, State::Closed) {
            // The server did not answer QUIT: close anyway with the reason we had.
            State::Quitting(reason) => {
                self.discard_output();
                self.finish_close(reason);
            }
            State::Closed => {}
            other => {
                self.state = other;
                self.close_now(ClientError::Timeout(timer));
            }
        }
    }

    // ---- output -----------------------------------------------------------------------

    /// Renders the output queue, then the commands written since, into `out`.
    pub(super) fn transmit(&mut self, out: &mut BytesMut) {
        while let Some(item) = self.outq.pop_front() {
            match item {
                Out::Cmd(b) => out.extend_from_slice(&b),
                Out::Start(framing) => self.encoder = BodyEncoder::new(framing),
                Out::BdatHeader { size, last } => wire::bdat(out, size, last),
                Out::Chunk(c) => {
                    self.body_queued = self.body_queued.saturating_sub(c.len());
                    self.encoder.encode(&c, out);
                }
                Out::Finish => self.encoder.finish(out),
            }
        }
        if !self.tx.is_empty() {
            out.extend_from_slice(&self.tx);
            self.tx.clear();
        }
        for e in self.expect.iter_mut() {
            e.sent = true;
        }
        self.timers.stop_output();
        self.arm_data_block();
        self.rearm_reply_timer();
    }

    /// Queues an output item after the commands written so far.
    fn queue_out(&mut self, item: Out) {
        if !self.tx.is_empty() {
            self.outq.push_back(Out::Cmd(self.tx.split().freeze()));
        }
        self.outq.push_back(item);
    }

    /// Moves the body of the transaction in `Body` into the output queue, as far as the
    /// protocol allows now; queues the replies the body will get. Runs in processing order,
    /// so the expected replies are in place before any later reply is read.
    fn seal_body(&mut self) {
        let lmtp = self.config.protocol == Protocol::Lmtp;
        let Some(i) = self.txns.iter().position(Txn::can_seal) else {
            return;
        };
        let t = &mut self.txns[i];
        let id = t.id;
        let last = t.body_ended;
        let chunks: Vec<Bytes> = t.body.drain(..).collect();
        if t.framing == Framing::Data {
            for c in chunks {
                self.queue_out(Out::Chunk(c));
            }
            if !last {
                self.arm_data_block();
                return;
            }
            self.queue_out(Out::Finish);
        } else {
            let mut size = Counter::default();
            for c in &chunks {
                t.probe.encode(c, &mut size);
            }
            if last {
                t.probe.finish(&mut size);
            } else {
                t.bdat_outstanding += 1;
            }
            self.queue_out(Out::BdatHeader { size: size.0, last });
            for c in chunks {
                self.queue_out(Out::Chunk(c));
            }
            if last {
                self.queue_out(Out::Finish);
            } else {
                self.push_expect(Awaiting::Bdat(id), false);
                self.arm_data_block();
                return;
            }
        }
        let t = &mut self.txns[i];
        t.step = Step::AwaitResult;
        let per_rcpt: Vec<usize> = if lmtp { t.accepted.clone() } else { Vec::new() };
        if per_rcpt.is_empty() {
            self.push_expect(Awaiting::EndOfData(id, None), false);
        } else {
            for r in per_rcpt {
                self.push_expect(Awaiting::EndOfData(id, Some(r)), false);
            }
        }
        self.arm_data_block();
    }

    /// Enters `Body`: the encoder restarts when the output reaches this point.
    fn start_body(&mut self, id: TxnId) {
        let Some(t) = self.txn_mut(id) else { return };
        t.step = Step::Body;
        let framing = t.framing;
        t.probe = BodyEncoder::new(framing);
        self.queue_out(Out::Start(framing));
        self.events.push_back(Event::BodyWanted { txn: id });
        self.arm_data_block();
    }

    fn discard_output(&mut self) {
        self.tx.clear();
        self.outq.clear();
        for t in self.txns.iter_mut() {
            t.body.clear();
            t.discard_body = true;
        }
        self.body_queued = 0;
        self.timers.stop_output();
    }

    // ---- closing ----------------------------------------------------------------------

    /// Ends the session at once (the connection is not usable for a QUIT).
    ///
    /// Output queued before the failure still leaves (the `Closed` barrier waits for it),
    /// exactly as it would have if the adapter had polled before the failing input arrived.
    /// Discarding it made the bytes on the wire depend on how the input was split (found by
    /// the `client_split_differential` fuzz target: a `210` greeting queues QUIT, then an
    /// empty line fails; fed whole the QUIT was dropped, fed byte by byte it was sent).
    pub(super) fn close_now(&mut self, err: ClientError) {
        self.finish_close(CloseReason::Error(err));
    }

    /// Sends QUIT and closes once it is answered.
    fn quit_with(&mut self, reason: CloseReason) {
        for t in self.txns.iter_mut() {
            t.body.clear();
            t.discard_body = true;
        }
        self.body_queued = 0;
        self.tx.put_slice(b"QUIT\r\n");
        self.push_expect(Awaiting::Quit, false);
        self.state = State::Quitting(reason);
    }

    fn finish_close(&mut self, reason: CloseReason) {
        let unfinished = self.unfinished();
        self.events.push_back(Event::Closed { reason, unfinished });
        self.state = State::Closed;
        self.timers.stop_all();
        self.expect.clear();
        self.txns.clear();
        // What is already in the output queue still leaves (the barrier waits for it).
        self.body_queued = self
            .outq
            .iter()
            .map(|o| match o {
                Out::Chunk(c) => c.len(),
                _ => 0,
            })
            .sum();
        self.rx.clear();
        self.rx_scanned = 0;
        self.parser.reset();
    }

    // ---- replies ----------------------------------------------------------------------

    fn on_reply(&mut self, reply: Reply) {
        let Some(head) = self.expect.pop_front() else {
            // A server about to drop us may say so unasked (RFC 5321 3.8).
            let err = if reply.code() == ReplyCode::SERVICE_NOT_AVAILABLE {
                ClientError::ServiceClosing(reply)
            } else {
                ClientError::UnexpectedReply(reply)
            };
            self.close_now(err);
            return;
        };
        if let Some(id) = head.what.txn() {
            if let Some(t) = self.txn_mut(id) {
                t.outstanding = t.outstanding.saturating_sub(1);
            }
        }
        if reply.code() == ReplyCode::SERVICE_NOT_AVAILABLE && head.what != Awaiting::Quit {
            self.close_now(ClientError::ServiceClosing(reply));
            return;
        }
        match head.what {
            Awaiting::Greeting => self.on_greeting(reply),
            Awaiting::Hello => self.on_hello(reply),
            Awaiting::StartTls => self.on_starttls(reply),
            Awaiting::Auth => self.on_auth(reply),
            Awaiting::Mail(id) => self.on_mail(id, reply),
            Awaiting::Rcpt(id, index) => self.on_rcpt(id, index, reply),
            Awaiting::Data(id) => self.on_data(id, reply),
            Awaiting::Bdat(id) => self.on_bdat(id, reply),
            Awaiting::EndOfData(id, rcpt) => self.on_end_of_data(id, rcpt, reply),
            Awaiting::Rset(id) => self.settle(id),
            Awaiting::Quit => {
                let reason = match core::mem::replace(&mut self.state, State::Closed) {
                    State::Quitting(CloseReason::Quit(_)) => CloseReason::Quit(Some(reply)),
                    State::Quitting(reason) => reason,
                    _ => CloseReason::Quit(Some(reply)),
                };
                self.finish_close(reason);
            }
        }
    }

    fn on_greeting(&mut self, reply: Reply) {
        if reply.code() != ReplyCode::SERVICE_READY {
            // RFC 5321 3.1: after a 554 greeting the client sends QUIT and waits.
            self.quit_with(CloseReason::Error(ClientError::GreetingRejected(reply)));
            return;
        }
        self.events.push_back(Event::Greeting(reply));
        let verb = match self.config.protocol {
            Protocol::Smtp => HelloVerb::Ehlo,
            Protocol::Lmtp => HelloVerb::Lhlo,
        };
        self.send_hello(verb);
    }

    fn send_hello(&mut self, verb: HelloVerb) {
        wire::hello(&mut self.tx, verb.as_bytes(), &self.config.hello_name);
        self.push_expect(Awaiting::Hello, false);
        self.state = State::Hello(verb);
    }

    fn on_hello(&mut self, reply: Reply) {
        let State::Hello(verb) = self.state else {
            return;
        };
        if reply.is_positive() {
            let caps = if verb == HelloVerb::Helo {
                Capabilities {
                    host: None,
                    greeting: reply.first_line().clone(),
                    keywords: Vec::new(),
                }
            } else {
                capabilities_from_reply(&reply)
            };
            self.offer = Offer::from_capabilities(&caps);
            self.capabilities = Some(caps);
            self.after_hello();
        } else if verb == HelloVerb::Ehlo && matches!(reply.code().as_u16(), 500 | 502) {
            // RFC 5321 3.2: "command not recognized" to EHLO: fall back to HELO.
            self.send_hello(HelloVerb::Helo);
        } else {
            self.quit_with(CloseReason::Error(ClientError::HelloRejected(reply)));
        }
    }

    fn after_hello(&mut self) {
        if !self.secure() && !self.tls_declined && self.config.tls != TlsPolicy::None {
            if self.offer.starttls {
                self.tx.put_slice(b"STARTTLS\r\n");
                self.push_expect(Awaiting::StartTls, false);
                self.state = State::StartTls;
                return;
            }
            if self.config.tls == TlsPolicy::Required {
                self.quit_with(CloseReason::Error(ClientError::TlsUnavailable));
                return;
            }
        }
        self.after_tls();
    }

    fn after_tls(&mut self) {
        if let Some(creds) = self
            .config
            .credentials
            .as_ref()
            .filter(|_| !self.authenticated)
        {
            let secure = self.tls.is_some();
            let policy = self.config.cleartext_auth;
            let nonce = self.scram_nonce.as_ref();
            match auth::choose(creds, &self.offer, secure, policy, nonce) {
                None => self.quit_with(CloseReason::Error(ClientError::AuthUnavailable)),
                Some(m) => {
                    let x = AuthExchange::start(m, creds, self.scram_nonce.as_ref(), &mut self.tx);
                    self.push_expect(Awaiting::Auth, false);
                    self.state = State::Auth(x);
                }
            }
            return;
        }
        self.state = State::Ready;
        let capabilities = self.capabilities.clone().unwrap_or(Capabilities {
            host: None,
            greeting: Bytes::new(),
            keywords: Vec::new(),
        });
        self.events.push_back(Event::Ready { capabilities });
    }

    fn on_starttls(&mut self, reply: Reply) {
        if reply.code() == ReplyCode::SERVICE_READY {
            // Bytes already behind the 220 arrived in plaintext before the handshake: an
            // injection ("STARTTLS injection", 2021). Close before asking the adapter for a
            // handshake: emitting `StartTls` first made adapters run TLS with a peer already
            // known to be hostile (found by tests/tests/attacks.rs). Bytes that arrive later,
            // during the hand-off, are caught by `drive` in TlsHandoff.
            if !self.rx.is_empty() {
                let n = self.rx.len();
                self.close_now(ClientError::StartTlsInjection(n));
                return;
            }
            self.state = State::TlsHandoff;
            self.events.push_back(Event::StartTls);
        } else if self.config.tls == TlsPolicy::Required {
            self.quit_with(CloseReason::Error(ClientError::StartTlsRejected(reply)));
        } else {
            self.tls_declined = true;
            self.after_tls();
        }
    }

    pub(super) fn on_tls_established(&mut self, info: TlsInfo) -> Result<(), ApiMisuse> {
        if !matches!(self.state, State::TlsHandoff) {
            return Err(ApiMisuse::NotInTlsHandoff);
        }
        self.drive();
        if !matches!(self.state, State::TlsHandoff) {
            // Plaintext was injected during the hand-off; the session is closed.
            return Ok(());
        }
        self.tls = Some(info);
        // RFC 3207 4.2: forget everything learnt before TLS.
        self.capabilities = None;
        self.offer = Offer::default();
        self.parser.reset();
        let verb = match self.config.protocol {
            Protocol::Smtp => HelloVerb::Ehlo,
            Protocol::Lmtp => HelloVerb::Lhlo,
        };
        self.send_hello(verb);
        Ok(())
    }

    fn on_auth(&mut self, reply: Reply) {
        let State::Auth(x) = &mut self.state else {
            return;
        };
        if reply.code() == ReplyCode::AUTH_CHALLENGE {
            let text = reply.first_line().clone();
            match x.challenge(&text, &mut self.tx) {
                Ok(()) => self.push_expect(Awaiting::Auth, false),
                Err(e) => self.close_now(e),
            }
        } else if reply.code() == ReplyCode::AUTH_SUCCEEDED {
            if !x.success_is_trusted() {
                // SCRAM: the server never proved it knows the password.
                self.close_now(ClientError::AuthProtocol);
                return;
            }
            self.authenticated = true;
            self.events.push_back(Event::Authenticated(reply));
            self.after_tls();
        } else {
            self.quit_with(CloseReason::Error(ClientError::AuthFailed(reply)));
        }
    }

    // ---- transactions -------------------------------------------------------------------

    /// Starts queued work when the session is idle: the next transaction, or QUIT.
    fn pump(&mut self) {
        if !matches!(self.state, State::Ready) {
            return;
        }
        self.collect_garbage();
        self.seal_body();
        loop {
            if !self.expect.is_empty() || self.txns.iter().any(Txn::in_flight) {
                return;
            }
            let Some(i) = self.txns.iter().position(|t| t.step == Step::Queued) else {
                break;
            };
            self.start_txn(i);
        }
        if self.quit_requested {
            self.quit_with(CloseReason::Quit(None));
        }
    }

    fn collect_garbage(&mut self) {
        while self
            .txns
            .front()
            .is_some_and(|t| t.step == Step::Done && t.body_ended)
        {
            self.txns.pop_front();
        }
    }

    fn use_bdat(&self) -> bool {
        self.config.chunking == Usage::WhenOffered && self.offer.chunking
    }

    fn start_txn(&mut self, i: usize) {
        let id = self.txns[i].id;
        let Some(env) = self.txns[i].envelope.take() else {
            self.txns[i].step = Step::Done;
            return;
        };
        if let Some(max) = self.offer.limits.mail_max {
            if self.mails_sent >= max {
                let indices = (0..env.recipients.len()).collect();
                self.events.push_back(Event::Deferred {
                    txn: id,
                    indices,
                    envelope: alloc::boxed::Box::new(env),
                    reason: DeferReason::MailMax,
                });
                self.fail_txn(
                    id,
                    TransactionFailure::Refused(EnvelopeError::MailMaxReached),
                );
                self.txns[i].step = Step::Done;
                return;
            }
        }
        let bdat = self.use_bdat();
        let binary = env.params.body == Some(BodyType::BinaryMime);
        let prepared = match prepare(env, &self.offer, self.secure(), bdat) {
            Ok(p) => p,
            Err(e) => {
                self.fail_txn(id, TransactionFailure::Refused(e));
                self.txns[i].step = Step::Done;
                return;
            }
        };
        let framing = if !bdat {
            Framing::Data
        } else if binary || self.config.line_endings == LineEndings::Preserve {
            Framing::BdatExact
        } else {
            Framing::BdatNormalized
        };
        let pipelined = self.config.pipelining == Usage::WhenOffered && self.offer.pipelining;
        if let Some((indices, envelope, reason)) = prepared.deferred.clone() {
            self.events.push_back(Event::Deferred {
                txn: id,
                indices,
                envelope: alloc::boxed::Box::new(envelope),
                reason,
            });
        }
        wire::mail(&mut self.tx, &prepared.reverse_path, &prepared.params);
        self.mails_sent += 1;
        let t = &mut self.txns[i];
        t.framing = framing;
        t.pipelined = pipelined;
        t.step = Step::Envelope;
        t.prepared = Some(prepared);
        self.push_expect(Awaiting::Mail(id), false);
        if pipelined {
            // RFC 2920 3.1: MAIL, every RCPT and DATA (the last of the group) in one write.
            while self.send_next_rcpt(id) {}
            if framing == Framing::Data {
                self.tx.put_slice(b"DATA\r\n");
                self.push_expect(Awaiting::Data(id), false);
                if let Some(t) = self.txn_mut(id) {
                    t.step = Step::AwaitData;
                }
            }
        }
    }

    /// Writes the next RCPT of `id`; `false` when none is left.
    fn send_next_rcpt(&mut self, id: TxnId) -> bool {
        let Some(t) = self.txns.iter_mut().find(|t| t.id == id) else {
            return false;
        };
        let Some(p) = &t.prepared else {
            return false;
        };
        let Some((index, r)) = p.recipients.get(t.next_rcpt) else {
            return false;
        };
        let index = *index;
        wire::rcpt(&mut self.tx, &r.forward_path, &r.params);
        t.next_rcpt += 1;
        t.rcpt_pending += 1;
        self.push_expect(Awaiting::Rcpt(id, index), false);
        true
    }

    /// Reports a failure (once) and drains the transaction.
    fn fail_txn(&mut self, id: TxnId, failure: TransactionFailure) {
        let Some(t) = self.txns.iter_mut().find(|t| t.id == id) else {
            return;
        };
        if !t.reported {
            t.reported = true;
            self.events
                .push_back(Event::TransactionFailed { txn: id, failure });
        }
        let dropped: usize = t.body.iter().map(Bytes::len).sum();
        t.body.clear();
        t.discard_body = true;
        self.body_queued -= dropped;
        if t.step != Step::Done {
            t.step = Step::Drain;
        }
    }

    /// After a reply for `id`: a draining transaction whose replies are all in gets its RSET,
    /// then is done.
    fn settle(&mut self, id: TxnId) {
        let Some(t) = self.txns.iter_mut().find(|t| t.id == id) else {
            return;
        };
        match t.step {
            Step::Drain if t.outstanding == 0 => {
                if t.rset_needed {
                    t.rset_needed = false;
                    self.tx.put_slice(b"RSET\r\n");
                    self.push_expect(Awaiting::Rset(id), false);
                } else {
                    t.step = Step::Done;
                }
            }
            Step::AwaitResult if t.outstanding == 0 => {
                t.reported = true;
                t.step = Step::Done;
            }
            _ => {}
        }
    }

    fn on_mail(&mut self, id: TxnId, reply: Reply) {
        let Some(t) = self.txn_mut(id) else { return };
        if reply.is_positive() {
            t.mail_ok = true;
            if t.step == Step::Drain {
                // Cancelled meanwhile: the transaction is open at the server now.
                t.rset_needed = true;
            } else if !t.pipelined {
                self.send_next_rcpt(id);
            }
        } else if t.step != Step::Drain {
            let failure = TransactionFailure::Rejected {
                stage: Stage::Mail,
                outcome: Outcome::from_reply(reply),
            };
            self.fail_txn(id, failure);
        }
        self.settle(id);
    }

    fn on_rcpt(&mut self, id: TxnId, index: usize, reply: Reply) {
        let Some(t) = self.txn_mut(id) else { return };
        t.rcpt_pending = t.rcpt_pending.saturating_sub(1);
        if t.step != Step::Drain {
            let outcome = Outcome::from_reply(reply);
            match outcome.class {
                OutcomeClass::Success => t.accepted.push(index),
                OutcomeClass::Transient => t.any_transient_refusal = true,
                OutcomeClass::Permanent => {}
            }
            let (pipelined, pending) = (t.pipelined, t.rcpt_pending);
            let bdat = t.framing != Framing::Data;
            self.events.push_back(Event::RecipientResult {
                txn: id,
                index,
                outcome,
            });
            if !pipelined {
                if !self.send_next_rcpt(id) {
                    self.after_rcpts(id);
                }
            } else if bdat && pending == 0 {
                self.after_rcpts(id);
            }
        }
        self.settle(id);
    }

    fn no_valid_recipients(t: &Txn) -> TransactionFailure {
        TransactionFailure::NoValidRecipients {
            class: if t.any_transient_refusal {
                OutcomeClass::Transient
            } else {
                OutcomeClass::Permanent
            },
        }
    }

    /// Every RCPT is answered (non-pipelined, or BDAT): go on to the body or give up.
    fn after_rcpts(&mut self, id: TxnId) {
        let Some(t) = self.txn_mut(id) else { return };
        if t.accepted.is_empty() {
            let failure = Self::no_valid_recipients(t);
            t.rset_needed = t.mail_ok;
            self.fail_txn(id, failure);
        } else if t.framing == Framing::Data {
            t.step = Step::AwaitData;
            self.tx.put_slice(b"DATA\r\n");
            self.push_expect(Awaiting::Data(id), false);
        } else {
            self.start_body(id);
        }
    }

    fn on_data(&mut self, id: TxnId, reply: Reply) {
        let Some(t) = self.txn_mut(id) else { return };
        if reply.code() == ReplyCode::START_MAIL_INPUT {
            if t.step == Step::Drain || t.accepted.is_empty() {
                if !t.accepted.is_empty() {
                    // Cancelled with recipients accepted: any end of data would deliver.
                    self.close_now(ClientError::Abandoned);
                    return;
                }
                // RFC 2920 3.1: DATA accepted although no RCPT was: send a lone dot; the
                // server must not deliver it (3.2 (4)).
                let failure = Self::no_valid_recipients(t);
                t.rset_needed = false;
                self.tx.put_slice(b".\r\n");
                self.fail_txn(id, failure);
                self.push_expect(Awaiting::EndOfData(id, None), false);
            } else {
                self.start_body(id);
            }
        } else if t.step != Step::Drain {
            let failure = if t.accepted.is_empty() {
                Self::no_valid_recipients(t)
            } else {
                TransactionFailure::Rejected {
                    stage: Stage::Data,
                    outcome: Outcome::from_reply(reply),
                }
            };
            t.rset_needed = t.mail_ok;
            self.fail_txn(id, failure);
        }
        self.settle(id);
    }

    fn on_bdat(&mut self, id: TxnId, reply: Reply) {
        let Some(t) = self.txn_mut(id) else { return };
        t.bdat_outstanding = t.bdat_outstanding.saturating_sub(1);
        if !reply.is_positive() && t.step != Step::Drain {
            // RFC 3030 2: no more BDAT; the state is indeterminate, so RSET.
            t.rset_needed = true;
            let failure = TransactionFailure::Rejected {
                stage: Stage::Bdat,
                outcome: Outcome::from_reply(reply),
            };
            self.fail_txn(id, failure);
        }
        self.settle(id);
        self.arm_data_block();
    }

    fn on_end_of_data(&mut self, id: TxnId, recipient: Option<usize>, reply: Reply) {
        let bdat_smtp_failure = self.config.protocol == Protocol::Smtp && !reply.is_positive();
        let Some(t) = self.txn_mut(id) else { return };
        if t.step == Step::Drain {
            self.settle(id);
            return;
        }
        let bdat = t.framing != Framing::Data;
        self.events.push_back(Event::MessageResult {
            txn: id,
            recipient,
            outcome: Outcome::from_reply(reply),
        });
        if bdat && bdat_smtp_failure {
            // RFC 3030 2: after a failed BDAT the state is indeterminate: RSET.
            if let Some(t) = self.txn_mut(id) {
                t.reported = true;
                t.step = Step::Drain;
                t.rset_needed = true;
            }
        }
        self.settle(id);
    }

    pub(super) fn on_reset(&mut self) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let ids: Vec<(TxnId, Step, Framing)> = self
            .txns
            .iter()
            .filter(|t| !t.reported)
            .map(|t| (t.id, t.step, t.framing))
            .collect();
        for (id, step, framing) in ids {
            match step {
                Step::Queued => {
                    self.fail_txn(id, TransactionFailure::Cancelled);
                    if let Some(t) = self.txn_mut(id) {
                        t.step = Step::Done;
                        t.envelope = None;
                    }
                }
                Step::Envelope | Step::AwaitData => {
                    if let Some(t) = self.txn_mut(id) {
                        t.rset_needed = t.mail_ok;
                    }
                    self.fail_txn(id, TransactionFailure::Cancelled);
                    self.settle(id);
                }
                Step::Body if framing == Framing::Data => {
                    self.close_now(ClientError::Abandoned);
                    return;
                }
                Step::Body => {
                    if let Some(t) = self.txn_mut(id) {
                        t.rset_needed = true;
                    }
                    self.fail_txn(id, TransactionFailure::Cancelled);
                    self.settle(id);
                }
                Step::AwaitResult | Step::Drain | Step::Done => {}
            }
        }
        self.arm_data_block();
    }
}
