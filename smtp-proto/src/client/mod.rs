//! The client session: a sans-IO SMTP/LMTP client state machine.
//!
//! [`Session`] is what a submission client, a relay or the outbound half of a proxy drives
//! with bytes, calls and time. It never touches a socket or a clock.
//!
//! # Driving it
//!
//! ```text
//! let mut s = Session::new(config, now);
//! let txn = s.send(envelope)?;              // queued; goes out once the session is ready
//! loop {
//!     s.poll_transmit(now, &mut wbuf);      // (D) write wbuf to the socket
//!     while let Some(ev) = s.poll_event() { // (D)
//!         match ev {
//!             Event::BodyWanted { .. } => { /* feed s.body(chunk) while body_capacity() > 0, then s.end_body() */ }
//!             Event::StartTls => { /* handshake on the same socket */ s.tls_established(info)?; }
//!             Event::Closed { .. } => return,
//!             _ => {}
//!         }
//!     }
//!     // read (if s.wants_read()) -> s.receive(now, bytes); EOF -> s.receive_eof(now);
//!     // timer at s.poll_timeout()           -> s.handle_timeout(now)
//! }
//! ```
//!
//! Input only stores; the work happens while polling, so any split of the server's replies
//! gives the same events and output. `StartTls` and `Closed` are barrier events: they come
//! out only after every byte queued before them has left through `poll_transmit`.
//!
//! # What it does on its own
//!
//! Greeting, EHLO (HELO fallback on 500/502; LHLO for LMTP), STARTTLS per [`TlsPolicy`] with
//! EHLO again after TLS (the old capabilities forgotten), AUTH with the best mechanism both
//! sides allow, then the queued transactions: MAIL parameters fitted to the server,
//! pipelining per RFC 2920 3.1 (MAIL, every RCPT and DATA in one write), BDAT when CHUNKING
//! is offered, dot-stuffing and CRLF normalisation written straight into the output,
//! per-recipient results (one per recipient after the body with LMTP), RSET after a failed
//! transaction, RFC 9422 LIMITS, and timeouts per RFC 5321 4.5.3.2.
//!
//! # Example: one message against a scripted server
//!
//! ```
//! use std::sync::Arc;
//! use bytes::{Bytes, BytesMut};
//! use smtp_proto::client::{ClientConfig, Envelope, Event, Session, TlsPolicy};
//! use smtp_proto::{ForwardPath, Instant, ParseOptions, ReversePath};
//!
//! let opts = ParseOptions::default();
//! let from = ReversePath::parse(&Bytes::from_static(b"<alice@example.com>"), &opts)?;
//! let to = ForwardPath::parse(&Bytes::from_static(b"<bob@example.org>"), &opts)?;
//! let config = Arc::new(ClientConfig { tls: TlsPolicy::None, ..ClientConfig::default() });
//! let now = Instant::ZERO;
//! let mut s = Session::new(config, now);
//! let txn = s.send(Envelope::new(from).to(to))?;
//! s.body(Bytes::from_static(b"Subject: hi\n\n.hello"))?; // bare LF, leading dot, no final CRLF
//! s.end_body()?;
//! s.quit();
//!
//! let server: [&[u8]; 5] = [
//!     b"220 mx.example.org ESMTP\r\n",
//!     b"250-mx.example.org\r\n250 PIPELINING\r\n",
//!     b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
//!     b"250 2.0.0 queued as 42\r\n",
//!     b"221 2.0.0 Bye\r\n",
//! ];
//! let mut wire = BytesMut::new();
//! let mut results = Vec::new();
//! for reply in server {
//!     s.receive(now, Bytes::from_static(reply));
//!     s.poll_transmit(now, &mut wire);
//!     while let Some(event) = s.poll_event() {
//!         if let Event::MessageResult { txn: t, outcome, .. } = event {
//!             results.push((t, outcome.is_success()));
//!         }
//!     }
//! }
//! assert_eq!(results, [(txn, true)]);
//! assert_eq!(
//!     &wire[..],
//!     &b"EHLO localhost\r\n\
//!        MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n\
//!        Subject: hi\r\n\r\n..hello\r\n.\r\n\
//!        QUIT\r\n"[..]
//! );
//! assert!(s.is_closed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! More in `tests/client_session.rs` and `tests/pair.rs`.

mod auth;
mod config;
mod envelope;
mod event;
#[cfg(feature = "__fuzz")]
pub(crate) mod fuzz;
mod offer;
mod state;
mod timer;
mod wire;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

pub use crate::sasl::{CleartextPolicy, Credentials};
pub use config::{ClientConfig, LineEndings, Protocol, Timeouts, TlsPolicy, Usage};
pub use envelope::{Envelope, Recipient};
pub use event::{
    ApiMisuse, BodyError, ClientError, CloseReason, DeferReason, EnvelopeError, Event, Outcome,
    OutcomeClass, Stage, TransactionFailure, TxnId,
};
pub use timer::Timer;

use crate::ehlo::Capabilities;
use crate::framing::stuff::{BodyEncoder, Framing};
use crate::reply::ReplyParser;
use crate::tls::TlsInfo;
use crate::Instant;
use offer::Offer;
use state::{Expect, Out, State, Txn};
use timer::TimerTable;

/// A client session. See the [module documentation](self).
#[derive(Debug)]
pub struct Session {
    config: Arc<ClientConfig>,
    state: State,
    /// The latest time a caller gave us (clamped to be monotonic).
    now: Instant,
    /// Received bytes not yet read as reply lines.
    rx: BytesMut,
    /// Where the search for the next LF resumes in `rx`.
    rx_scanned: usize,
    /// The peer closed its side.
    eof: bool,
    parser: ReplyParser,
    /// Output in wire order, up to the last body item.
    outq: VecDeque<Out>,
    /// Command bytes written after `outq`, waiting for `poll_transmit`.
    tx: BytesMut,
    /// Encodes the body being rendered by `poll_transmit`.
    encoder: BodyEncoder,
    /// Replies awaited, oldest first (RFC 2920: matched by counting).
    expect: VecDeque<Expect>,
    /// Sequence number for the next expected reply, for timer bookkeeping.
    expect_seq: u64,
    /// The expected reply the reply timer was armed for.
    armed_for: Option<u64>,
    events: VecDeque<Event>,
    timers: TimerTable,
    /// Transactions from `send`, oldest first, until finished and their body ended.
    txns: VecDeque<Txn>,
    next_txn: u64,
    /// Body bytes held across all transactions.
    body_queued: usize,
    /// The last EHLO/LHLO reply, parsed.
    capabilities: Option<Capabilities>,
    offer: Offer,
    /// Set once TLS is up (STARTTLS done, or implicit TLS).
    tls: Option<TlsInfo>,
    /// STARTTLS was refused and the policy let us go on without it.
    tls_declined: bool,
    authenticated: bool,
    quit_requested: bool,
    /// `MAIL` commands sent in this session (RFC 9422 MAILMAX).
    mails_sent: u64,
    /// The client nonce for SCRAM-SHA-256, if the caller gave one.
    scram_nonce: Option<Bytes>,
}

impl Session {
    /// A session on a fresh connection; it waits for the greeting.
    pub fn new(config: Arc<ClientConfig>, now: Instant) -> Session {
        let mut s = Session {
            parser: ReplyParser::new(config.reply_limits),
            config,
            state: State::Greeting,
            now,
            rx: BytesMut::new(),
            rx_scanned: 0,
            eof: false,
            outq: VecDeque::new(),
            tx: BytesMut::new(),
            encoder: BodyEncoder::new(Framing::Data),
            expect: VecDeque::new(),
            expect_seq: 0,
            armed_for: None,
            events: VecDeque::new(),
            timers: TimerTable::default(),
            txns: VecDeque::new(),
            next_txn: 0,
            body_queued: 0,
            capabilities: None,
            offer: Offer::default(),
            tls: None,
            tls_declined: false,
            authenticated: false,
            quit_requested: false,
            mails_sent: 0,
            scram_nonce: None,
        };
        s.start();
        s
    }

    /// A session on a connection that is TLS from the start (RFC 8314 implicit TLS, port
    /// 465): no STARTTLS, and AUTH is allowed.
    pub fn new_tls(config: Arc<ClientConfig>, info: TlsInfo, now: Instant) -> Session {
        let mut s = Session::new(config, now);
        s.tls = Some(info);
        s
    }

    /// Enables SCRAM-SHA-256 for this session with a fresh client nonce: printable ASCII
    /// without `,`, from a secure random source (at least 16 random octets' worth). The core
    /// has no random source, so the caller supplies it; a nonce MUST NOT be reused. Call
    /// before the AUTH exchange starts (right after `new`).
    pub fn set_scram_nonce(&mut self, nonce: Bytes) {
        self.scram_nonce = Some(nonce);
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    // ---- (B) input ------------------------------------------------------------------

    /// Stores bytes read from the server. Cheap: parsing happens while polling.
    pub fn receive(&mut self, now: Instant, data: Bytes) {
        self.advance(now);
        if matches!(self.state, State::Closed) {
            return;
        }
        self.rx.extend_from_slice(&data);
    }

    /// The server closed its side of the connection.
    pub fn receive_eof(&mut self, now: Instant) {
        self.advance(now);
        self.eof = true;
    }

    /// Call at or after [`Session::poll_timeout`]; early or spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        self.drive();
        if let Some(t) = self.timers.expired(self.now) {
            self.on_timeout(t);
        }
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded. The session sends EHLO again.
    /// A failed handshake means the adapter drops the connection; there is no plaintext
    /// fallback.
    pub fn tls_established(&mut self, info: TlsInfo) -> Result<(), ApiMisuse> {
        self.on_tls_established(info)
    }

    // ---- (C) work -------------------------------------------------------------------

    /// Queues a transaction. It starts once the session is ready and earlier transactions
    /// are done; its body is given with [`Session::body`] / [`Session::end_body`] (body calls
    /// apply to the oldest transaction whose body is not ended yet).
    pub fn send(&mut self, envelope: Envelope) -> Result<TxnId, ApiMisuse> {
        if self.is_closing() {
            return Err(ApiMisuse::Closed);
        }
        if self.quit_requested {
            return Err(ApiMisuse::Quitting);
        }
        let id = TxnId(self.next_txn);
        self.next_txn += 1;
        self.txns.push_back(Txn::new(id, envelope));
        Ok(id)
    }

    /// Queues a chunk of the body. `Err(BodyError::Full(chunk))` gives the chunk back when
    /// the buffer is full (see [`Session::body_capacity`]); a chunk is always taken when
    /// nothing is buffered, whatever its size.
    pub fn body(&mut self, chunk: Bytes) -> Result<(), BodyError> {
        if self.is_closing() {
            return Err(ApiMisuse::Closed.into());
        }
        let cap = self.config.max_body_buffer;
        let queued = self.body_queued;
        let Some(t) = self.txns.iter_mut().find(|t| !t.body_ended) else {
            return Err(ApiMisuse::NoBodyOpen.into());
        };
        if t.discard_body || chunk.is_empty() {
            return Ok(());
        }
        if queued > 0 && queued + chunk.len() > cap {
            return Err(BodyError::Full(chunk));
        }
        self.body_queued += chunk.len();
        t.body.push_back(chunk);
        self.arm_data_block();
        Ok(())
    }

    /// Ends the body of the oldest transaction whose body is open.
    pub fn end_body(&mut self) -> Result<(), ApiMisuse> {
        if self.is_closing() {
            return Err(ApiMisuse::Closed);
        }
        let Some(t) = self.txns.iter_mut().find(|t| !t.body_ended) else {
            return Err(ApiMisuse::NoBodyOpen);
        };
        t.body_ended = true;
        self.arm_data_block();
        Ok(())
    }

    /// How many body bytes [`Session::body`] takes now (like rustls `wants_write`). Grows
    /// when `poll_transmit` takes body bytes.
    pub fn body_capacity(&self) -> usize {
        if self.is_closing() {
            return 0;
        }
        self.config.max_body_buffer.saturating_sub(self.body_queued)
    }

    /// The transaction that `body`/`end_body` apply to, if any.
    pub fn body_txn(&self) -> Option<TxnId> {
        self.txns.iter().find(|t| !t.body_ended).map(|t| t.id)
    }

    /// Cancels every transaction not yet committed: queued ones at once, the one in flight
    /// with RSET once its pipelined replies are in. A transaction whose end of data was
    /// already sent is committed and keeps its result. A DATA body already being sent
    /// cannot be stopped without delivering a truncated message, so then the connection is
    /// closed ([`ClientError::Abandoned`]); BDAT bodies stop cleanly.
    pub fn reset(&mut self) {
        self.on_reset();
    }

    /// Ends the session after the queued transactions: QUIT, then [`Event::Closed`].
    pub fn quit(&mut self) {
        self.quit_requested = true;
    }

    // ---- (D) output -----------------------------------------------------------------

    /// Appends every pending byte (commands, and body dot-stuffed or BDAT-framed) to `out`;
    /// returns how many. Call after every (B)/(C) call and write `out` to the server.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut BytesMut) -> usize {
        self.advance(now);
        self.drive();
        let before = out.len();
        self.transmit(out);
        out.len() - before
    }

    /// The next event. Barrier events wait until `poll_transmit` took the bytes before them.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.drive();
        let barrier = matches!(
            self.events.front(),
            Some(Event::StartTls) | Some(Event::Closed { .. })
        );
        if barrier && self.has_pending_output() {
            return None;
        }
        self.events.pop_front()
    }

    /// The earliest deadline; call [`Session::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- (A) queries ----------------------------------------------------------------

    /// Whether the adapter should read from the server now: false during the TLS hand-off
    /// (plaintext read then would be an injection), after close, and while unprocessed input
    /// is above [`ClientConfig::max_input_buffer`].
    pub fn wants_read(&self) -> bool {
        !matches!(self.state, State::TlsHandoff | State::Closed)
            && !self.eof
            && self.rx.len() < self.config.max_input_buffer
    }

    /// `true` once [`Event::Closed`] is queued (the adapter may still drain events).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Bytes held: unprocessed input, an unfinished reply, queued commands and body.
    pub fn buffered_bytes(&self) -> usize {
        let queued_cmds: usize = self
            .outq
            .iter()
            .map(|o| match o {
                Out::Cmd(b) => b.len(),
                _ => 0,
            })
            .sum();
        self.rx.len()
            + self.parser.buffered_bytes()
            + self.tx.len()
            + queued_cmds
            + self.body_queued
    }

    /// The capabilities from the last EHLO/LHLO reply (forgotten at STARTTLS).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// TLS parameters, once TLS is up.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Whether AUTH succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn has_pending_output(&self) -> bool {
        !self.tx.is_empty() || !self.outq.is_empty()
    }

    fn is_closing(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Transactions without a final result, for [`Event::Closed`].
    fn unfinished(&self) -> Vec<TxnId> {
        self.txns
            .iter()
            .filter(|t| !t.reported)
            .map(|t| t.id)
            .collect()
    }
}
