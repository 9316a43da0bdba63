//! One connection: the loop of DESIGN.md section 4. Bytes go from the socket to the session,
//! events from the session to the handler, decisions back, replies out. No SMTP rule here.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use smtp_proto::server::{CloseReason, Event, Session};

use super::handler::{Decision, Handler};
use super::Phase;
use crate::runtime::{self, Runtime, Transport};
use crate::sync::Waiter;
use crate::time::{Clock, SessionTimer};
use crate::Error;

/// Adapter settings a connection needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) read_chunk: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) tls_handshake_timeout: Duration,
    /// STARTTLS and implicit TLS; `None`: no TLS.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
}

/// Drives `session` over `io` until the session closes, the peer vanishes or the server
/// aborts. The handler always sees `closed` last, except when the task is cancelled.
pub(crate) async fn drive<R: Runtime, H: Handler>(
    io: R::Transport,
    session: Session,
    handler: &mut H,
    clock: Clock,
    settings: &Settings,
    phase: Waiter,
) -> Result<(), Error> {
    let mut conn = Connection::<R> {
        io: Some(io),
        session,
        clock,
        settings,
        phase,
        rbuf: BytesMut::new(),
        wbuf: BytesMut::new(),
        timer: SessionTimer::new(clock),
        io_state: IoState::Open,
        shutdown_requested: false,
    };
    let result = conn.run(handler).await;
    if let Some(mut io) = conn.io.take() {
        // Best effort: the peer may be gone already.
        let _ = runtime::timeout::<R, _>(Duration::from_secs(1), runtime::shutdown(&mut io)).await;
    }
    result
}

/// What ended a wait of the loop.
enum Woken {
    Read(std::io::Result<usize>),
    Timer,
    Closing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IoState {
    Open,
    /// The peer closed its write half (EOF): nothing more to read.
    ReadClosed,
    /// The socket failed: nothing can be read or written any more; the session still runs
    /// to its `Closed` event so the handler learns about an aborted message.
    Broken,
}

struct Connection<'s, R: Runtime> {
    /// `None` only while a TLS upgrade holds the stream.
    io: Option<R::Transport>,
    session: Session,
    clock: Clock,
    settings: &'s Settings,
    /// The server's shutdown phase.
    phase: Waiter,
    rbuf: BytesMut,
    wbuf: BytesMut,
    timer: SessionTimer<R>,
    io_state: IoState,
    shutdown_requested: bool,
}

impl<R: Runtime> Connection<'_, R> {
    async fn run<H: Handler>(&mut self, handler: &mut H) -> Result<(), Error> {
        loop {
            // (D) drain in the documented order: transmit, events, timeout. A decision may
            // queue replies, and a transmit may release a barrier event, so repeat until
            // neither makes progress.
            loop {
                let wrote = self.transmit().await?;
                let mut had_event = false;
                while let Some(event) = self.session.poll_event() {
                    had_event = true;
                    if let Some(reason) = self.dispatch(event, handler).await? {
                        // `Closed` is a barrier: every reply queued before it has left.
                        self.transmit().await?;
                        handler.closed(reason).await;
                        return Ok(());
                    }
                }
                if !wrote && !had_event {
                    break;
                }
            }
            self.timer.set(self.session.poll_timeout());
            let can_read = self.io_state == IoState::Open && self.session.wants_read();
            let Some(io) = self.io.as_mut() else {
                return Err(Error::ApiMisuse("stream lost during TLS upgrade".into()));
            };
            self.rbuf.reserve(self.settings.read_chunk);
            let shutdown_requested = self.shutdown_requested;
            let woken = poll_fn(|cx| {
                if !shutdown_requested
                    && self.phase.poll_reached(cx, Phase::Closing as u8).is_ready()
                {
                    return Poll::Ready(Woken::Closing);
                }
                if self.timer.poll_expired(cx).is_ready() {
                    return Poll::Ready(Woken::Timer);
                }
                if can_read {
                    if let Poll::Ready(read) = io.poll_read(cx, &mut self.rbuf) {
                        return Poll::Ready(Woken::Read(read));
                    }
                }
                Poll::Pending
            })
            .await;
            let now = self.clock.now();
            match woken {
                Woken::Read(Ok(0)) => {
                    self.io_state = IoState::ReadClosed;
                    self.session.receive_eof(now);
                }
                // Everything read goes to the session at once: the adapter never holds
                // bytes the core has not seen (SANS-IO.md 7.5).
                Woken::Read(Ok(_)) => self.session.receive(now, self.rbuf.split().freeze()),
                Woken::Read(Err(e)) => {
                    tracing::debug!(error = %e, "read failed");
                    self.io_state = IoState::Broken;
                    self.session.receive_eof(now);
                }
                Woken::Timer => self.session.handle_timeout(now),
                Woken::Closing => {
                    self.shutdown_requested = true;
                    self.session.shutdown(None);
                }
            }
        }
    }

    /// Takes everything the session wants to send and writes it, bounded by the write
    /// timeout. While writing, nothing is read: a peer that does not read its replies stops
    /// being read from (backpressure both ways).
    async fn transmit(&mut self) -> Result<bool, Error> {
        self.session.poll_transmit(self.clock.now(), &mut self.wbuf);
        if self.wbuf.is_empty() {
            return Ok(false);
        }
        if self.io_state == IoState::Broken {
            self.wbuf.clear();
            return Ok(true);
        }
        let Some(io) = self.io.as_mut() else {
            return Err(Error::ApiMisuse("stream lost during TLS upgrade".into()));
        };
        let write = async {
            runtime::write_all(io, &self.wbuf).await?;
            runtime::flush(io).await
        };
        match runtime::timeout::<R, _>(self.settings.write_timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "write failed");
                self.io_state = IoState::Broken;
                self.session.receive_eof(self.clock.now());
            }
            Err(_) => {
                tracing::debug!("write timed out");
                self.io_state = IoState::Broken;
                self.session.receive_eof(self.clock.now());
            }
        }
        self.wbuf.clear();
        Ok(true)
    }

    /// Hands one event to the handler and applies its decision. Returns the close reason on
    /// the last event.
    async fn dispatch<H: Handler>(
        &mut self,
        event: Event,
        handler: &mut H,
    ) -> Result<Option<CloseReason>, Error> {
        let decision = match event {
            Event::Helo(request) => handler.helo(&request).await,
            Event::Mail(request) => handler.mail(&request).await,
            Event::Rcpt(request) => handler.rcpt(&request).await,
            Event::DataStart(request) => handler.data_start(&request).await,
            Event::EndOfMessage(message) => handler.end_of_message(&message).await,
            Event::Auth(request) => handler.auth(&request).await,
            Event::AuthStep(step) => handler.auth_step(&step).await,
            Event::Vrfy(request) => handler.vrfy(&request).await,
            Event::Expn(request) => handler.expn(&request).await,
            Event::Body(chunk) => {
                handler.body(chunk).await;
                return Ok(None);
            }
            Event::MessageAborted { reason } => {
                handler.message_aborted(reason).await;
                return Ok(None);
            }
            Event::StartTls {
                discarded_plaintext,
            } => {
                if discarded_plaintext > 0 {
                    tracing::warn!(
                        discarded_plaintext,
                        "plaintext after STARTTLS discarded (injection attempt?)"
                    );
                }
                self.start_tls(handler).await?;
                return Ok(None);
            }
            Event::Reset => {
                handler.reset().await;
                return Ok(None);
            }
            Event::Rejected(rejected) => {
                tracing::debug!(reply = %rejected.reply.code(), "command refused by the session");
                return Ok(None);
            }
            Event::Closed { reason } => {
                tracing::debug!(?reason, "session closed");
                return Ok(Some(reason));
            }
            _ => return Ok(None),
        };
        apply(&mut self.session, decision)?;
        Ok(None)
    }

    async fn start_tls<H: Handler>(&mut self, handler: &mut H) -> Result<(), Error> {
        let Some(tls) = self.settings.tls.as_ref() else {
            return Err(Error::Config(
                "the session offered STARTTLS but no TLS configuration was given",
            ));
        };
        let Some(io) = self.io.take() else {
            return Err(Error::ApiMisuse("stream lost during TLS upgrade".into()));
        };
        let upgraded = runtime::timeout::<R, _>(
            self.settings.tls_handshake_timeout,
            io.accept_tls(Arc::clone(tls)),
        )
        .await;
        match upgraded {
            Ok(Ok((io, info))) => {
                self.io = Some(io);
                tracing::debug!(version = ?info.version, cipher = ?info.cipher, "TLS established");
                self.session
                    .tls_established(info.clone())
                    .map_err(|e| Error::ApiMisuse(e.to_string()))?;
                handler.tls_established(&info).await;
                Ok(())
            }
            // A failed handshake drops the connection, never a fallback to plaintext
            // (RFC 3207 4.1 leaves the session unusable).
            Ok(Err(e)) => Err(Error::Tls(e)),
            Err(_) => Err(Error::Timeout("TLS handshake")),
        }
    }
}

/// Applies a handler's decision to the pending request.
fn apply(session: &mut Session, decision: Decision) -> Result<(), Error> {
    let result = match decision {
        Decision::Accept => session.accept(),
        Decision::AcceptWith(reply) => session.accept_with(reply),
        Decision::Reject(reply) => session.reject(reply),
        Decision::PerRecipient(replies) => session.decide_lmtp(replies),
        Decision::Challenge(data) => session.auth_challenge(&data),
    };
    result.map_err(|e| Error::ApiMisuse(e.to_string()))
}
