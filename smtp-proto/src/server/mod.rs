//! The server session: a sans-IO SMTP / ESMTP / LMTP server state machine.
//!
//! A [`Session`] is driven with bytes, time and decisions, and answers with bytes, events and
//! deadlines. It never reads a socket or a clock. The driving contract:
//!
//! | group | calls |
//! | --- | --- |
//! | (A) queries | [`Session::wants_read`], [`Session::is_closed`], [`Session::buffered_bytes`], [`Session::pending`] |
//! | (B) input | [`Session::receive`], [`Session::receive_eof`], [`Session::handle_timeout`] |
//! | (C) decisions | [`Session::accept`], [`Session::accept_with`], [`Session::reject`], [`Session::auth_challenge`], [`Session::decide_lmtp`], [`Session::shutdown`], [`Session::tls_established`] |
//! | (D) output | [`Session::poll_transmit`], [`Session::poll_event`], [`Session::poll_timeout`] |
//!
//! After any (B) or (C) call, drain (D) in the order `poll_transmit`, `poll_event` (until
//! `None`), `poll_timeout`, before waiting for input again. Input is only stored by
//! `receive`; the work happens while polling, so any split of the same input gives the same
//! events and the same output bytes (body pieces may be cut differently).
//!
//! `StartTls` and `Closed` are barrier events: they are withheld until every byte queued
//! before them has been taken by `poll_transmit`, so even a naive loop sends the `220` before
//! the handshake and the `221`/`421` before closing.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use smtp_proto::server::{Event, PreparedConfig, ServerConfig, Session};
//! use smtp_proto::Instant;
//!
//! let config = PreparedConfig::new(ServerConfig::new("mx.example.org"));
//! let now = Instant::ZERO;
//! let mut session = Session::new(config, now);
//! let mut out = BytesMut::new();
//! session.poll_transmit(now, &mut out);
//! assert!(out.starts_with(b"220 mx.example.org ESMTP"));
//!
//! session.receive(now, Bytes::from_static(b"EHLO client.example\r\n"));
//! while let Some(event) = session.poll_event() {
//!     if let Event::Helo(_) = event {
//!         session.accept().unwrap();
//!     }
//! }
//! out.clear();
//! session.poll_transmit(now, &mut out);
//! assert!(out.starts_with(b"250-mx.example.org\r\n"));
//! ```

mod config;
mod decision;
mod event;
mod state;
mod timer;

#[cfg(feature = "__fuzz")]
pub(crate) mod fuzz;

use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};
use core::time::Duration;

pub use config::{
    AuthTlsPolicy, BareLineEndingPolicy, EarlyTalkerPolicy, ExpnPolicy, Extensions, Greeting,
    Limits, MailAuthPolicy, PipeliningPolicy, Policy, PreparedConfig, Protocol, ServerConfig,
    StartTlsInjectionPolicy, Timeouts, VrfyPolicy,
};
pub use decision::{ApiMisuse, Pending};
pub use event::{
    AbortReason, AuthRequest, AuthStep, CloseReason, DataKind, DataStart, EndOfMessage, Event,
    HeloRequest, HeloVerb, MailRequest, RcptRequest, Rejected, TlsInfo, VerifyRequest,
};

use crate::command::{BodyType, ChunkKind, Command, InitialResponse, MailParams, RcptParams};
use crate::error::ParseError;
use crate::framing::bdat::ChunkCountdown;
use crate::framing::data::{DataDecoder, Flow, Piece};
use crate::framing::line::{Frame, LineFramer};
use crate::framing::InputQueue;
use crate::options::LineEnding;
use crate::reply::{standard, EnhancedCode, Reply, ReplyCode};
use crate::sasl::{self, Mechanism};
use crate::Instant;
use config::{replies, EhloVariant};
use state::{Awaiting, ChunkState, SaslStep, State, Transaction};
use timer::{Timer, TimerTable};

/// One SMTP server conversation, without I/O. See the [module documentation](self).
#[derive(Debug)]
pub struct Session {
    config: PreparedConfig,
    state: State,
    awaiting: Option<Awaiting>,
    input: InputQueue,
    framer: LineFramer,
    out: BytesMut,
    events: VecDeque<Event>,
    timers: TimerTable,
    /// The latest time seen (time is clamped to be monotonic).
    now: Instant,
    /// The peer timer counts from here; `None` until the next call with a `now` after a
    /// decision (no peer timer runs while the application decides).
    peer_since: Option<Instant>,
    helo: Option<HeloVerb>,
    authenticated: bool,
    tls: Option<TlsInfo>,
    errors: u32,
    transactions: u32,
    eof: bool,
    early_talker: bool,
    /// Commands pipelined after a group-ending command are being refused (RFC 2920 3.1).
    improper_pipelining: bool,
    /// All plaintext dropped around STARTTLS, reported or not.
    discarded_total: usize,
    /// `Closed` has been handed out.
    finished: bool,
    /// Reason to report when `Closed` is emitted.
    close_reason: Option<CloseReason>,
}

impl Session {
    /// A session for a new plaintext connection at `now`: queues the greeting (`220`, or the
    /// configured refusal), unless a greeting delay is configured.
    pub fn new(config: impl Into<PreparedConfig>, now: Instant) -> Session {
        Self::with_tls(config.into(), None, now)
    }

    /// A session for a connection that is TLS from the start (RFC 8314 implicit TLS, port
    /// 465): STARTTLS is not offered and AUTH is available at once.
    pub fn new_tls(config: impl Into<PreparedConfig>, info: TlsInfo, now: Instant) -> Session {
        Self::with_tls(config.into(), Some(info), now)
    }

    fn with_tls(config: PreparedConfig, tls: Option<TlsInfo>, now: Instant) -> Session {
        let mut s = Session {
            state: State::Idle,
            awaiting: None,
            input: InputQueue::default(),
            framer: LineFramer::default(),
            out: BytesMut::with_capacity(512),
            events: VecDeque::new(),
            timers: TimerTable::default(),
            now,
            peer_since: Some(now),
            helo: None,
            authenticated: false,
            tls,
            errors: 0,
            transactions: 0,
            eof: false,
            early_talker: false,
            improper_pipelining: false,
            discarded_total: 0,
            finished: false,
            close_reason: None,
            config,
        };
        if let Some(limit) = s.config.timeouts.session {
            s.timers.set(Timer::Session, Some(now + limit));
        }
        match s.config.timeouts.greeting_delay {
            Some(d) if matches!(s.config.greeting, Greeting::Banner(_)) => {
                s.state = State::GreetingDelay;
                s.timers.set(Timer::Greeting, Some(now + d));
            }
            _ => s.send_greeting(),
        }
        s.rearm();
        s
    }

    // ----- (B) input -------------------------------------------------------------------

    /// Queues octets received from the client. Cheap: parsing happens while polling. Input
    /// after close is ignored; input during a STARTTLS hand-off is discarded and counted.
    pub fn receive(&mut self, now: Instant, data: Bytes) {
        self.tick(now);
        if self.finished || matches!(self.state, State::Closed) {
            return;
        }
        if matches!(self.state, State::TlsHandoff) {
            self.discard_during_handoff(data.len());
            return;
        }
        if matches!(self.state, State::GreetingDelay) && !data.is_empty() {
            self.early_talker = true;
        }
        self.peer_since = Some(self.now);
        self.input.push(data);
        if self.buffered_bytes() > self.config.limits.max_buffered_input {
            // Drain what can be drained; if the input still does not fit, the peer is
            // sending more than the limits allow while the session waits.
            self.drive();
            if self.buffered_bytes() > self.config.limits.max_buffered_input {
                self.overflow();
            }
        }
        self.rearm();
    }

    /// The client closed its sending side. Buffered commands are still processed (and
    /// answered: the write side may still be open); then the session closes.
    pub fn receive_eof(&mut self, now: Instant) {
        self.tick(now);
        self.eof = true;
        self.rearm();
    }

    /// Fires expired deadlines: the held greeting, or `421 4.4.2` and close on a peer or
    /// session timeout. Early or spurious calls are no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        self.drive();
        if self.peer_since.is_none() {
            self.peer_since = Some(self.now);
        }
        self.rearm();
        match self.timers.expired(self.now) {
            Some(Timer::Greeting) => {
                self.timers.set(Timer::Greeting, None);
                if matches!(self.state, State::GreetingDelay) {
                    self.state = State::Idle;
                    if self.early_talker
                        && self.config.policy.early_talker == EarlyTalkerPolicy::Refuse
                    {
                        self.write_reply(&replies::EARLY_TALKER);
                        self.state = State::Refusing;
                    } else {
                        self.send_greeting();
                    }
                    self.peer_since = Some(self.now);
                }
            }
            Some(Timer::Peer) | Some(Timer::Session) => {
                self.abort_message(AbortReason::Timeout);
                self.awaiting = None;
                self.write_reply(&standard::TIMEOUT);
                self.close(CloseReason::Timeout);
            }
            None => {}
        }
        self.rearm();
    }

    // ----- (C) TLS ----------------------------------------------------------------------

    /// The adapter finished the TLS handshake that followed `Event::StartTls`. The session
    /// forgets HELO/EHLO, AUTH and any transaction (RFC 3207 4.2) and waits for EHLO; no new
    /// greeting is sent.
    pub fn tls_established(&mut self, info: TlsInfo) -> Result<(), ApiMisuse> {
        if !matches!(self.state, State::TlsHandoff) {
            return Err(ApiMisuse::NoTlsHandoff);
        }
        // Anything still queued arrived before the handshake: plaintext, never executed.
        let dropped = self.input.clear() + self.framer.reset();
        self.discard_during_handoff(dropped);
        self.tls = Some(info);
        self.helo = None;
        self.authenticated = false;
        self.improper_pipelining = false;
        self.state = State::Idle;
        self.peer_since = Some(self.now);
        self.rearm();
        Ok(())
    }

    // ----- (D) output -------------------------------------------------------------------

    /// Appends every queued reply octet to `out`; returns how many. Call it first after any
    /// input, decision or timeout, and write the octets to the connection.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut BytesMut) -> usize {
        self.tick(now);
        self.drive();
        let n = self.out.len();
        if n > 0 {
            out.extend_from_slice(&self.out);
            self.out.clear();
            self.peer_since = Some(self.now);
        } else if self.peer_since.is_none() && self.awaiting.is_none() {
            self.peer_since = Some(self.now);
        }
        self.rearm();
        n
    }

    /// The next event, if any. Decision events leave the session waiting for an answer;
    /// `StartTls` and `Closed` wait until `poll_transmit` has taken all earlier output.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.drive();
        let barrier = matches!(
            self.events.front(),
            Some(Event::StartTls { .. } | Event::Closed { .. })
        );
        if barrier && !self.out.is_empty() {
            return None;
        }
        let ev = self.events.pop_front()?;
        if matches!(ev, Event::Closed { .. }) {
            self.finished = true;
            self.events.clear();
        }
        self.rearm();
        Some(ev)
    }

    /// The earliest deadline at which [`Session::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        self.timers.next()
    }

    // ----- (A) queries ------------------------------------------------------------------

    /// Whether the adapter should read more input now. False while a decision (or a held
    /// greeting) holds at least [`Limits::max_pending_input`] octets of input, during a TLS
    /// hand-off, after EOF, and once closed.
    pub fn wants_read(&self) -> bool {
        if self.finished || self.eof || matches!(self.state, State::Closed | State::TlsHandoff) {
            return false;
        }
        // Without a decision (or a held greeting) polling consumes everything but a partial
        // line, which only more input can complete.
        let waiting = self.awaiting.is_some() || matches!(self.state, State::GreetingDelay);
        !waiting || self.buffered_bytes() < self.config.limits.max_pending_input
    }

    /// `true` once `Event::Closed` has been handed out: drop the connection.
    pub fn is_closed(&self) -> bool {
        self.finished
    }

    /// Received octets held by the session (queued input and a partial command line).
    pub fn buffered_bytes(&self) -> usize {
        self.input.len() + self.framer.held()
    }

    /// Every plaintext octet discarded after a STARTTLS line and before the handshake
    /// finished (CVE-2011-0411 class). `Event::StartTls` counts what had arrived when it was
    /// emitted; this also counts what arrived later, before `tls_established`.
    pub fn discarded_plaintext(&self) -> usize {
        self.discarded_total
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &ServerConfig {
        self.config.config()
    }

    /// TLS facts when the connection is encrypted.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Whether an AUTH exchange succeeded in this session (since the last TLS hand-off).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The greeting verb the client used, if it greeted.
    pub fn helo_verb(&self) -> Option<HeloVerb> {
        self.helo
    }

    // ----- internals: time ----------------------------------------------------------------

    fn tick(&mut self, now: Instant) {
        // The core clamps time to be monotonic instead of trusting callers.
        if now > self.now {
            self.now = now;
        }
    }

    /// Recomputes the peer deadline for the current state.
    fn rearm(&mut self) {
        let t = &self.config.timeouts;
        let timeout: Option<Duration> = if self.awaiting.is_some() || self.finished {
            None
        } else {
            match &self.state {
                State::Data(..) | State::Chunk(_) => Some(t.data),
                State::Auth(_) => Some(t.auth),
                State::Idle | State::Mail(_) | State::Refusing => Some(t.command),
                State::GreetingDelay | State::TlsHandoff | State::Closed => None,
            }
        };
        let at = match (timeout, self.peer_since) {
            (Some(d), Some(since)) => Some(since + d),
            _ => None,
        };
        self.timers.set(Timer::Peer, at);
        if self.finished || matches!(self.state, State::Closed) {
            self.timers.clear();
        }
    }

    /// Called when the application answers: the peer timer restarts at the next `now`.
    fn decided(&mut self) {
        self.peer_since = None;
    }

    // ----- internals: output --------------------------------------------------------------

    fn is_lmtp(&self) -> bool {
        self.config.protocol == Protocol::Lmtp
    }

    /// RFC 2034: enhanced codes only when advertised and the client used EHLO (or LHLO).
    fn enhanced_in_effect(&self) -> bool {
        self.config.extensions.enhanced_status_codes
            && matches!(self.helo, Some(HeloVerb::Ehlo | HeloVerb::Lhlo))
    }

    fn ehlo_variant(&self) -> EhloVariant {
        EhloVariant {
            tls: self.tls.is_some(),
            auth: self.auth_offered(),
        }
    }

    fn auth_offered(&self) -> bool {
        !self.config.extensions.auth.is_empty()
            && (self.tls.is_some() || self.config.policy.auth_tls == AuthTlsPolicy::AllowPlaintext)
    }

    fn write_reply(&mut self, reply: &Reply) {
        if self.enhanced_in_effect() {
            reply.write(&mut self.out);
        } else {
            reply.write_plain(&mut self.out);
        }
    }

    fn send_greeting(&mut self) {
        let wire = self.config.greeting_wire().clone();
        self.out.extend_from_slice(&wire);
        match self.config.greeting {
            Greeting::Reject(_) => self.state = State::Refusing,
            Greeting::Close(_) => self.close(CloseReason::Refused),
            Greeting::Banner(_) => {}
        }
    }

    /// A negative reply decided by the session itself.
    fn refuse(&mut self, verb: &Bytes, reply: Reply) {
        self.write_reply(&reply);
        self.events.push_back(Event::Rejected(Rejected {
            verb: verb.clone(),
            reply,
        }));
        self.count_error();
    }

    fn count_error(&mut self) {
        self.errors = self.errors.saturating_add(1);
        if self.errors >= self.config.limits.max_errors && !matches!(self.state, State::Closed) {
            self.awaiting = None;
            self.write_reply(&standard::TOO_MANY_ERRORS);
            self.close(CloseReason::TooManyErrors);
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.state = State::Closed;
        self.awaiting = None;
        self.input.clear();
        self.framer.reset();
        self.close_reason = Some(reason);
        self.events.push_back(Event::Closed { reason });
        self.timers.clear();
    }

    fn overflow(&mut self) {
        self.abort_message(AbortReason::InputOverflow);
        self.awaiting = None;
        self.write_reply(&replies::INPUT_OVERFLOW);
        self.close(CloseReason::InputOverflow);
    }

    /// Emits `MessageAborted` when a body is being streamed or awaits its decision.
    fn abort_message(&mut self, reason: AbortReason) {
        let streaming = match &self.state {
            State::Data(..) => true,
            State::Chunk(c) => c.txn.is_some() && c.failure.is_none(),
            State::Mail(t) => t.bdat_started,
            _ => false,
        } || matches!(self.awaiting, Some(Awaiting::EndOfMessage { .. }));
        if streaming {
            self.events.push_back(Event::MessageAborted { reason });
        }
    }

    fn reset_transaction(&mut self) {
        if let State::Mail(t) = &self.state {
            if t.bdat_started {
                self.events.push_back(Event::MessageAborted {
                    reason: AbortReason::Reset,
                });
            }
            self.events.push_back(Event::Reset);
            self.state = State::Idle;
        }
    }

    fn discard_during_handoff(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.discarded_total = self.discarded_total.saturating_add(n);
        for ev in self.events.iter_mut().rev() {
            if let Event::StartTls {
                discarded_plaintext,
            } = ev
            {
                *discarded_plaintext += n;
                return;
            }
        }
    }

    fn new_decoder(&self) -> DataDecoder {
        DataDecoder::new(self.config.policy.bare_line_endings)
    }

    // ----- internals: the processing loop ---------------------------------------------------

    /// Processes queued input until a decision is pending, input runs out, or the session
    /// hands off or closes.
    fn drive(&mut self) {
        loop {
            if self.awaiting.is_some() {
                return;
            }
            let progressed = match self.state {
                State::Closed => return,
                // The adapter owns the connection during the hand-off; the greeting delay
                // waits for its timer. Only EOF matters there.
                State::TlsHandoff | State::GreetingDelay => false,
                State::Data(..) => self.drive_data(),
                State::Chunk(_) => self.drive_chunk(),
                State::Auth(_) => self.drive_auth_line(),
                State::Idle | State::Mail(_) | State::Refusing => self.drive_command(),
            };
            if !progressed {
                if self.eof && self.awaiting.is_none() {
                    self.abort_message(AbortReason::ConnectionLost);
                    self.close(CloseReason::PeerClosed);
                }
                return;
            }
        }
    }

    fn drive_data(&mut self) -> bool {
        let max = self.config.limits.max_message_size;
        let Session {
            state,
            input,
            events,
            ..
        } = self;
        let State::Data(txn, decoder) = state else {
            return false;
        };
        let mut too_large = false;
        let status = decoder.decode(input, &mut |piece| match piece {
            Piece::Body(b) => {
                let before = txn.size;
                txn.size += b.len() as u64;
                if let Some(m) = max.filter(|&m| txn.size > m) {
                    // Deliver exactly up to the limit, so that what the application saw does
                    // not depend on how the input was split.
                    let fits = usize::try_from(m.saturating_sub(before)).unwrap_or(usize::MAX);
                    if fits > 0 {
                        events.push_back(Event::Body(b.slice(..fits.min(b.len()))));
                    }
                    too_large = true;
                    events.push_back(Event::MessageAborted {
                        reason: AbortReason::TooLarge,
                    });
                    Flow::Discard
                } else {
                    events.push_back(Event::Body(b));
                    Flow::Continue
                }
            }
            Piece::BareLineEnding => {
                events.push_back(Event::MessageAborted {
                    reason: AbortReason::BareLineEnding,
                });
                Flow::Discard
            }
        });
        if too_large {
            // Remember the overflow for the final reply even if later pieces are dropped.
            txn.size = max.map_or(u64::MAX, |m| m.saturating_add(1));
        }
        if status.is_incomplete() {
            return false;
        }
        let State::Data(txn, decoder) = core::mem::replace(&mut self.state, State::Idle) else {
            return false;
        };
        let empty = Bytes::new();
        if max.is_some_and(|m| txn.size > m) {
            self.refuse(&empty, standard::MESSAGE_TOO_BIG);
        } else if decoder.bare_line_ending_seen()
            && self.config.policy.bare_line_endings == BareLineEndingPolicy::Reject
        {
            self.refuse(&empty, replies::BARE_LINE_ENDING);
        } else {
            self.end_of_message(&txn, DataKind::Data);
        }
        true
    }

    fn end_of_message(&mut self, txn: &Transaction, kind: DataKind) {
        self.events.push_back(Event::EndOfMessage(EndOfMessage {
            size: txn.size,
            kind,
            body_type: txn.body,
            recipients: txn.recipients,
        }));
        self.awaiting = Some(Awaiting::EndOfMessage {
            recipients: txn.recipients,
        });
    }

    fn drive_chunk(&mut self) -> bool {
        let State::Chunk(chunk) = &mut self.state else {
            return false;
        };
        while let Some(piece) = chunk.countdown.take(&mut self.input) {
            let deliver = chunk.failure.is_none();
            if let (true, Some(txn)) = (deliver, chunk.txn.as_mut()) {
                txn.size += piece.len() as u64;
                self.events.push_back(Event::Body(piece));
            }
        }
        if !chunk.countdown.is_done() {
            return false;
        }
        let State::Chunk(chunk) = core::mem::replace(&mut self.state, State::Idle) else {
            return false;
        };
        let empty = Bytes::new();
        match (chunk.failure, chunk.txn) {
            (Some(reply), txn) => {
                if let Some(t) = txn {
                    self.state = State::Mail(t);
                }
                self.refuse(&empty, reply);
            }
            (None, Some(txn)) if chunk.last => self.end_of_message(&txn, DataKind::Bdat),
            (None, Some(txn)) => {
                // RFC 3030 4.2 shows the octet count in the reply to each chunk.
                let text = alloc::format!("{} octets received", chunk.size);
                self.state = State::Mail(txn);
                self.write_reply(&Reply::new(ReplyCode::OK, Some(EnhancedCode::OK), text));
            }
            (None, None) => {}
        }
        true
    }

    /// Frames the next line with `max`; handles an overlong line. `None` when no line is
    /// complete (or the overlong case was handled, reported through `progressed`).
    fn next_line(&mut self, max: usize) -> Option<Option<Bytes>> {
        match self.framer.next_line(&mut self.input, max) {
            Frame::Incomplete => None,
            Frame::TooLong => Some(None),
            Frame::Line(l) => Some(Some(l)),
        }
    }

    /// Strips the line terminator; `None` (after replying) for a bare LF when only CRLF is
    /// accepted.
    fn strip_terminator(&mut self, line: Bytes) -> Option<Bytes> {
        let len = line.len();
        if line.ends_with(b"\r\n") {
            return Some(line.slice(..len - 2));
        }
        if self.config.policy.command_line_ending == LineEnding::CrLfOrLf {
            return Some(line.slice(..len.saturating_sub(1)));
        }
        let verb = verb_of(&line);
        self.refuse(&verb, ParseError::BareLineEnding.reply());
        None
    }

    fn drive_command(&mut self) -> bool {
        let cmd_max = self.config.limits.max_command_line;
        let max = cmd_max.max(self.config.limits.max_auth_line);
        let line = match self.next_line(max) {
            None => return false,
            Some(None) => {
                self.refuse(&Bytes::new(), standard::LINE_TOO_LONG);
                self.after_command(false);
                return true;
            }
            Some(Some(l)) => l,
        };
        // Lines up to the AUTH limit are framed so that long initial responses fit; every
        // other command keeps the command-line limit.
        if line.len() > cmd_max && !starts_with_ci(&line, b"AUTH ") {
            self.refuse(&verb_of(&line), standard::LINE_TOO_LONG);
            self.after_command(false);
            return true;
        }
        let Some(content) = self.strip_terminator(line) else {
            self.after_command(false);
            return true;
        };
        self.on_command_line(content);
        true
    }

    fn on_command_line(&mut self, line: Bytes) {
        let verb = verb_of(&line);
        let parsed = parse_command(&line, self.config.parse_options_for(&line));
        if matches!(self.state, State::Refusing) {
            if matches!(parsed, Ok(Command::Quit)) {
                self.quit();
            } else {
                self.refuse(&verb, replies::REJECTING);
            }
            return;
        }
        if self.improper_pipelining {
            if matches!(parsed, Ok(Command::Quit)) {
                self.quit();
            } else {
                self.refuse(&verb, replies::IMPROPER_PIPELINING);
                self.after_command(false);
            }
            return;
        }
        let command = match parsed {
            Ok(c) => c,
            Err(e) => {
                self.refuse(&verb, e.reply());
                self.after_command(false);
                return;
            }
        };
        let group_end = self.dispatch(&verb, command);
        self.after_command(group_end);
    }

    /// RFC 2920 3.1: input already queued after a command that must end a pipelining group
    /// was sent without waiting for its reply.
    fn after_command(&mut self, group_end: bool) {
        if self.config.policy.improper_pipelining != PipeliningPolicy::Refuse {
            return;
        }
        let pipelining = self.config.extensions.pipelining
            && matches!(self.helo, Some(HeloVerb::Ehlo | HeloVerb::Lhlo));
        let more = !self.input.is_empty() || self.framer.held() > 0;
        if more && (group_end || !pipelining) && matches!(self.state, State::Idle | State::Mail(_))
        {
            self.improper_pipelining = true;
        } else if !more {
            self.improper_pipelining = false;
        }
    }

    fn quit(&mut self) {
        self.write_reply(&standard::BYE);
        self.events.push_back(Event::Quit);
        self.close(CloseReason::Quit);
    }

    /// Runs one parsed command; returns `true` when it must end a pipelining group.
    fn dispatch(&mut self, verb: &Bytes, command: Command) -> bool {
        match command {
            Command::Helo(host) => self.on_helo(verb, HeloVerb::Helo, host),
            Command::Ehlo(host) => self.on_helo(verb, HeloVerb::Ehlo, host),
            Command::Lhlo(host) => self.on_helo(verb, HeloVerb::Lhlo, host),
            Command::Mail { from, params } => {
                self.on_mail(verb, from, params);
                false
            }
            Command::Rcpt { to, params } => {
                self.on_rcpt(verb, to, params);
                false
            }
            Command::Data => {
                self.on_data(verb);
                false
            }
            Command::Bdat { size, kind } => {
                self.on_bdat(verb, size, kind == ChunkKind::Last);
                false
            }
            Command::Rset => {
                self.reset_transaction();
                self.write_reply(&standard::OK);
                false
            }
            Command::Noop(_) => {
                self.write_reply(&standard::OK);
                true
            }
            Command::Quit => {
                self.quit();
                false
            }
            Command::Vrfy(argument) => {
                match self.config.policy.vrfy {
                    VrfyPolicy::CannotVerify => self.write_reply(&standard::CANNOT_VRFY),
                    VrfyPolicy::Disabled => self.refuse(verb, standard::NOT_IMPLEMENTED),
                    VrfyPolicy::Ask => {
                        self.events
                            .push_back(Event::Vrfy(VerifyRequest { argument }));
                        self.awaiting = Some(Awaiting::Vrfy);
                    }
                }
                true
            }
            Command::Expn(argument) => {
                match self.config.policy.expn {
                    ExpnPolicy::Disabled => self.refuse(verb, standard::NOT_IMPLEMENTED),
                    ExpnPolicy::Ask => {
                        self.events
                            .push_back(Event::Expn(VerifyRequest { argument }));
                        self.awaiting = Some(Awaiting::Expn);
                    }
                }
                true
            }
            Command::Help(_) => {
                let help = Reply::new(
                    ReplyCode::HELP,
                    Some(EnhancedCode::OK),
                    Bytes::from(self.config.help_text.clone()),
                );
                self.write_reply(&help);
                true
            }
            Command::StartTls => {
                self.on_starttls(verb);
                false
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                self.on_auth(verb, mechanism, initial_response);
                true
            }
            Command::Unknown { .. } => {
                self.refuse(verb, standard::UNKNOWN_COMMAND);
                false
            }
            _ => {
                self.refuse(verb, standard::NOT_IMPLEMENTED);
                false
            }
        }
    }

    fn on_helo(&mut self, verb: &Bytes, kind: HeloVerb, host: crate::Host) -> bool {
        let allowed = match (self.is_lmtp(), kind) {
            (true, HeloVerb::Lhlo) | (false, HeloVerb::Helo | HeloVerb::Ehlo) => true,
            (true, _) => {
                self.refuse(verb, replies::NEED_LHLO);
                false
            }
            (false, HeloVerb::Lhlo) => {
                self.refuse(verb, standard::UNKNOWN_COMMAND);
                false
            }
        };
        if allowed {
            self.events
                .push_back(Event::Helo(HeloRequest { verb: kind, host }));
            self.awaiting = Some(Awaiting::Helo(kind));
        }
        true
    }

    fn on_mail(&mut self, verb: &Bytes, from: crate::ReversePath, params: MailParams) {
        if self.helo.is_none() {
            return self.refuse(verb, replies::NEED_HELO);
        }
        if !matches!(self.state, State::Idle) {
            return self.refuse(verb, replies::NESTED_MAIL);
        }
        if self.config.policy.mail_auth == MailAuthPolicy::Required && !self.authenticated {
            return self.refuse(verb, standard::AUTH_REQUIRED);
        }
        if let Some(max) = self.config.limits.max_transactions {
            if self.transactions >= max {
                self.write_reply(&replies::TOO_MANY_TRANSACTIONS);
                self.close(CloseReason::TooManyTransactions);
                return;
            }
        }
        if let Err(reply) = self.check_mail_params(&params) {
            return self.refuse(verb, reply);
        }
        if from.is_utf8() && !params.smtputf8 {
            return self.refuse(verb, standard::UTF8_NEEDS_SMTPUTF8);
        }
        self.awaiting = Some(Awaiting::Mail {
            body: params.body,
            smtputf8: params.smtputf8,
        });
        self.events.push_back(Event::Mail(MailRequest {
            reverse_path: from,
            params,
        }));
    }

    /// Parameters must belong to advertised extensions (RFC 5321 4.1.1.11: `555`), and only
    /// after EHLO/LHLO.
    fn check_mail_params(&self, p: &MailParams) -> Result<(), Reply> {
        let x = &self.config.extensions;
        let unsupported = Err(standard::UNKNOWN_PARAMETER);
        let e = p.extra();
        if p.is_empty() {
            return Ok(());
        }
        if self.helo == Some(HeloVerb::Helo) || !e.unknown.is_empty() {
            return unsupported;
        }
        if e.mt_priority.is_some()
            || e.future_release.is_some()
            || e.by.is_some()
            || e.mtrk.is_some()
            || e.solicit.is_some()
            || e.conperm
        {
            return unsupported;
        }
        if p.size.is_some() && !x.size {
            return unsupported;
        }
        if let (Some(size), Some(max)) = (p.size, self.config.limits.max_message_size) {
            if size > max {
                return Err(standard::MESSAGE_TOO_BIG);
            }
        }
        match p.body {
            Some(BodyType::EightBitMime) if !x.eight_bit_mime => return unsupported,
            Some(BodyType::BinaryMime) if !(x.binary_mime && x.chunking) => return unsupported,
            _ => {}
        }
        if p.smtputf8 && !x.smtputf8 {
            return unsupported;
        }
        if (e.ret.is_some() || e.envid.is_some()) && !x.dsn {
            return unsupported;
        }
        if e.auth.is_some() && x.auth.is_empty() {
            return unsupported;
        }
        if p.requiretls {
            if !x.requiretls {
                return unsupported;
            }
            if self.tls.is_none() {
                return Err(replies::REQUIRETLS_NEEDS_TLS);
            }
        }
        Ok(())
    }

    fn on_rcpt(&mut self, verb: &Bytes, to: crate::ForwardPath, params: RcptParams) {
        let State::Mail(txn) = &self.state else {
            let reply = if self.helo.is_none() {
                replies::NEED_HELO
            } else {
                replies::NEED_MAIL
            };
            return self.refuse(verb, reply);
        };
        let smtputf8 = txn.smtputf8;
        if txn.recipients >= self.config.limits.max_recipients {
            // Not a peer error: RFC 5321 4.5.3.1.10 lets a client pipeline more recipients
            // than the limit and send the rest in a later transaction, so counting these 452s
            // towards `max_errors` closed the session on a legitimate client with 120
            // recipients (found by tests/tests/attacks.rs). Postfix does not count them
            // either (up to `smtpd_recipient_overshoot_limit`). Each costs one reply line and
            // no memory.
            self.write_reply(&standard::TOO_MANY_RECIPIENTS);
            self.events.push_back(Event::Rejected(Rejected {
                verb: verb.clone(),
                reply: standard::TOO_MANY_RECIPIENTS,
            }));
            return;
        }
        let x = &self.config.extensions;
        let dsn_used = params.notify.is_some() || params.orcpt.is_some();
        if !params.extra().is_empty() || (dsn_used && !x.dsn) {
            return self.refuse(verb, standard::UNKNOWN_PARAMETER);
        }
        if to.is_utf8() && !smtputf8 {
            return self.refuse(verb, standard::UTF8_NEEDS_SMTPUTF8);
        }
        self.awaiting = Some(Awaiting::Rcpt);
        self.events.push_back(Event::Rcpt(RcptRequest {
            forward_path: to,
            params,
        }));
    }

    fn on_data(&mut self, verb: &Bytes) {
        let State::Mail(txn) = &self.state else {
            let reply = if self.helo.is_none() {
                replies::NEED_HELO
            } else {
                replies::NEED_MAIL
            };
            return self.refuse(verb, reply);
        };
        if txn.bdat_started {
            return self.refuse(verb, replies::NO_MIXING);
        }
        if txn.body == Some(BodyType::BinaryMime) {
            return self.refuse(verb, replies::BINARYMIME_NEEDS_BDAT);
        }
        if txn.recipients == 0 {
            return self.refuse(verb, standard::NO_VALID_RECIPIENTS);
        }
        let recipients = txn.recipients;
        self.events.push_back(Event::DataStart(DataStart {
            kind: DataKind::Data,
            recipients,
        }));
        self.awaiting = Some(Awaiting::DataStart {
            kind: DataKind::Data,
            chunk: None,
        });
    }

    /// BDAT (RFC 3030): every refusal still reads the chunk's octets first, so the octets
    /// are never taken for commands.
    fn on_bdat(&mut self, verb: &Bytes, size: u64, last: bool) {
        let refusal = if !self.config.extensions.chunking {
            Some(standard::NOT_IMPLEMENTED)
        } else {
            match &self.state {
                State::Mail(txn) => {
                    let too_big = self
                        .config
                        .limits
                        .max_message_size
                        .is_some_and(|m| txn.size.saturating_add(size) > m);
                    if txn.recipients == 0 {
                        Some(standard::NO_VALID_RECIPIENTS)
                    } else if too_big {
                        Some(standard::MESSAGE_TOO_BIG)
                    } else {
                        None
                    }
                }
                _ if self.helo.is_none() => Some(replies::NEED_HELO),
                _ => Some(replies::NEED_MAIL),
            }
        };
        if let Some(reply) = refusal {
            let too_big = reply.code() == ReplyCode::EXCEEDED_STORAGE;
            // A refused chunk of a started body, or one too large, ends the transaction
            // (RFC 3030 2); a sequence error keeps it open.
            let keep = match core::mem::replace(&mut self.state, State::Idle) {
                State::Mail(t) if t.bdat_started => {
                    self.events.push_back(Event::MessageAborted {
                        reason: if too_big {
                            AbortReason::TooLarge
                        } else {
                            AbortReason::ChunkRejected
                        },
                    });
                    None
                }
                State::Mail(t) if !too_big => Some(t),
                State::Mail(_) => None,
                other => {
                    self.state = other;
                    None
                }
            };
            let _ = verb;
            if matches!(self.state, State::Idle) {
                self.state = State::Chunk(ChunkState {
                    txn: keep,
                    countdown: ChunkCountdown::new(size),
                    size,
                    last,
                    failure: Some(reply),
                });
            }
            return;
        }
        let State::Mail(txn) = &mut self.state else {
            return;
        };
        if txn.bdat_started {
            let txn = core::mem::take(txn);
            self.state = State::Chunk(ChunkState {
                txn: Some(txn),
                countdown: ChunkCountdown::new(size),
                size,
                last,
                failure: None,
            });
            return;
        }
        let recipients = txn.recipients;
        self.events.push_back(Event::DataStart(DataStart {
            kind: DataKind::Bdat,
            recipients,
        }));
        self.awaiting = Some(Awaiting::DataStart {
            kind: DataKind::Bdat,
            chunk: Some((size, last)),
        });
    }

    fn on_starttls(&mut self, verb: &Bytes) {
        if !self.config.extensions.starttls {
            return self.refuse(verb, standard::NOT_IMPLEMENTED);
        }
        if self.tls.is_some() {
            return self.refuse(verb, replies::TLS_ACTIVE);
        }
        if self.helo.is_none() {
            return self.refuse(verb, replies::NEED_HELO);
        }
        if !matches!(self.state, State::Idle) {
            return self.refuse(verb, replies::IN_TRANSACTION);
        }
        let queued = self.input.len() + self.framer.held();
        if queued > 0 && self.config.policy.starttls_injection == StartTlsInjectionPolicy::Close {
            self.write_reply(&replies::STARTTLS_INJECTION);
            self.close(CloseReason::StartTlsInjection);
            return;
        }
        self.write_reply(&standard::READY_TO_START_TLS);
        // CVE-2011-0411: whatever followed the STARTTLS line is plaintext the client sent
        // before the handshake; it is dropped, never executed inside TLS.
        let dropped = self.input.clear() + self.framer.reset();
        self.discarded_total = self.discarded_total.saturating_add(dropped);
        self.state = State::TlsHandoff;
        self.events.push_back(Event::StartTls {
            discarded_plaintext: dropped,
        });
    }

    fn on_auth(&mut self, verb: &Bytes, mechanism: Mechanism, initial: Option<InitialResponse>) {
        let x = &self.config.extensions;
        if x.auth.is_empty() {
            return self.refuse(verb, replies::AUTH_NOT_ENABLED);
        }
        if !matches!(self.helo, Some(HeloVerb::Ehlo | HeloVerb::Lhlo)) {
            return self.refuse(verb, replies::NEED_HELO);
        }
        if !matches!(self.state, State::Idle) {
            return self.refuse(verb, replies::IN_TRANSACTION);
        }
        if self.authenticated {
            return self.refuse(verb, replies::ALREADY_AUTHENTICATED);
        }
        if !x.auth.contains(&mechanism) {
            return self.refuse(verb, replies::UNSUPPORTED_MECHANISM);
        }
        if !self.auth_offered() {
            return self.refuse(verb, standard::ENCRYPTION_REQUIRED);
        }
        let initial = match initial {
            None => None,
            Some(InitialResponse::Empty) => Some(Bytes::new()),
            Some(InitialResponse::Base64(b64)) => match b64_decode(b64.expose()) {
                Ok(v) => Some(v),
                Err(reply) => return self.refuse(verb, reply),
            },
        };
        match (mechanism, initial) {
            (Mechanism::Plain, None) => {
                self.write_challenge(&Bytes::new());
                self.state = State::Auth(SaslStep::Plain);
            }
            (Mechanism::Plain, Some(msg)) => self.plain_credentials(verb, &msg),
            (Mechanism::Login, None) => {
                self.write_challenge(&Bytes::from_static(b"VXNlcm5hbWU6"));
                self.state = State::Auth(SaslStep::LoginUser);
            }
            (Mechanism::Login, Some(user)) => {
                self.write_challenge(&Bytes::from_static(b"UGFzc3dvcmQ6"));
                self.state = State::Auth(SaslStep::LoginPassword(user));
            }
            (mechanism, response) => {
                self.events.push_back(Event::AuthStep(AuthStep {
                    mechanism: mechanism.clone(),
                    response: response.map(crate::Secret::new),
                }));
                self.awaiting = Some(Awaiting::AuthStep(mechanism));
            }
        }
    }

    fn plain_credentials(&mut self, verb: &Bytes, msg: &Bytes) {
        match plain_decode(msg) {
            Some((authzid, authcid, password)) => {
                self.events.push_back(Event::Auth(AuthRequest {
                    mechanism: Mechanism::Plain,
                    authzid,
                    authcid,
                    password: crate::Secret::new(password),
                }));
                self.awaiting = Some(Awaiting::Auth);
            }
            None => {
                self.state = State::Idle;
                self.refuse(verb, replies::AUTH_MALFORMED);
            }
        }
    }

    fn drive_auth_line(&mut self) -> bool {
        let line = match self.next_line(self.config.limits.max_auth_line) {
            None => return false,
            Some(None) => {
                self.state = State::Idle;
                self.refuse(&Bytes::new(), standard::LINE_TOO_LONG);
                return true;
            }
            Some(Some(l)) => l,
        };
        let Some(line) = self.strip_terminator(line) else {
            // `strip_terminator` refused the line, which may have reached `max_errors` and
            // closed the session. Setting `Idle` over `Closed` revived it, and EOF then
            // emitted a second `Closed` (found by the `server_script` fuzz target).
            if !matches!(self.state, State::Closed) {
                self.state = State::Idle;
            }
            return true;
        };
        let verb = Bytes::from_static(b"AUTH");
        if &line[..] == b"*" {
            self.state = State::Idle;
            self.refuse(&verb, standard::AUTH_CANCELLED);
            return true;
        }
        let msg = match b64_decode(&line) {
            Ok(m) => m,
            Err(reply) => {
                self.state = State::Idle;
                self.refuse(&verb, reply);
                return true;
            }
        };
        let State::Auth(step) = core::mem::replace(&mut self.state, State::Idle) else {
            return true;
        };
        match step {
            SaslStep::Plain => {
                self.state = State::Auth(SaslStep::Plain);
                self.plain_credentials(&verb, &msg);
            }
            SaslStep::LoginUser => {
                self.write_challenge(&Bytes::from_static(b"UGFzc3dvcmQ6"));
                self.state = State::Auth(SaslStep::LoginPassword(msg));
            }
            SaslStep::LoginPassword(user) => {
                self.state = State::Auth(SaslStep::LoginPassword(Bytes::new()));
                self.events.push_back(Event::Auth(AuthRequest {
                    mechanism: Mechanism::Login,
                    authzid: None,
                    authcid: user,
                    password: crate::Secret::new(msg),
                }));
                self.awaiting = Some(Awaiting::Auth);
            }
            SaslStep::Custom(mechanism) => {
                self.state = State::Auth(SaslStep::Custom(mechanism.clone()));
                self.events.push_back(Event::AuthStep(AuthStep {
                    mechanism: mechanism.clone(),
                    response: Some(crate::Secret::new(msg)),
                }));
                self.awaiting = Some(Awaiting::AuthStep(mechanism));
            }
        }
        true
    }
}

/// The first word of a line (zero-copy), for `Rejected` events.
fn verb_of(line: &Bytes) -> Bytes {
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(line.len())
        .min(16);
    line.slice(..end)
}

fn starts_with_ci(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn parse_command(line: &Bytes, opts: &crate::ParseOptions) -> Result<Command, ParseError> {
    Command::parse_line(line, opts)
}

fn b64_decode(text: &[u8]) -> Result<Bytes, Reply> {
    match sasl::decode_base64(text) {
        Ok(s) => Ok(s.into_inner()),
        Err(e) => Err(e.reply()),
    }
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`.
fn plain_decode(msg: &Bytes) -> Option<(Option<Bytes>, Bytes, Bytes)> {
    let c = sasl::PlainCredentials::decode(msg).ok()?;
    Some((c.authzid, c.authcid, c.password.into_inner()))
}
