//! An SMTP/LMTP server: listeners, one task per connection, STARTTLS and implicit TLS with
//! rustls, a global connection limit and graceful shutdown.
//!
//! Each connection runs the loop of the sans-IO contract and nothing else: read from the
//! socket (only while the session [`wants_read`](smtp_proto::server::Session::wants_read)),
//! hand every byte to the session at once, write what it transmits, pass each event to the
//! [`Handler`] and await its [`Decision`], arm one timer on the session's next deadline, run
//! the TLS handshake on its `StartTls` event. Every SMTP rule (sequence, syntax, limits,
//! timeouts, STARTTLS and AUTH rules, the replies themselves) is the core's.
//!
//! Calls on a handler follow the session's events: `helo`, then per transaction `mail`,
//! `rcpt` (one per recipient), `data_start`, `body` (many), then `end_of_message` or
//! `message_aborted`; `reset` when a transaction is dropped; `auth`/`auth_step`, `vrfy`,
//! `expn` and `tls_established` when they happen; `closed` last.
//!
//! [`Server`] is generic over the [`Runtime`]; the adapter crates name it for their runtime
//! (`smtp_tokio::server::Server` is `Server<smtp_tokio::Tokio>`):
//!
//! ```no_run
//! use smtp_proto::server::ServerConfig;
//! use smtp_driver::runtime::Runtime;
//! use smtp_driver::server::{ConnectionInfo, Handler, Server};
//!
//! struct AcceptAll;
//! impl Handler for AcceptAll {}
//!
//! async fn run<R: Runtime>() -> Result<(), smtp_driver::Error> {
//!     let server = Server::<R>::builder(ServerConfig::new("mx.example.org"))
//!         .listen("127.0.0.1:2525".parse().expect("address"))
//!         .bind()
//!         .await?;
//!     server.serve(|_: &ConnectionInfo| AcceptAll).await
//! }
//! ```

mod connection;
mod handler;
#[cfg(test)]
mod tests;

use std::future::{poll_fn, Future};
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use smtp_proto::server::{PreparedConfig, ServerConfig, Session};
use tracing::Instrument;

pub use handler::{ConnectionInfo, Decision, Handler, HandlerFactory};

use crate::runtime::{self, Listener, Runtime, Transport};
use crate::sync::{self, Ended, Signal, Tasks};
use crate::time::Clock;
use crate::Error;
use connection::Settings;

/// How far a graceful shutdown has gone. Connections wait on it as a [`Signal`] level;
/// level 0, where the signal starts, is serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    /// No longer accepting; sessions finish on their own.
    Draining = 1,
    /// The grace period ended: each session sends `421` and closes.
    Closing = 2,
    /// The flush period ended too: the tasks left are dropped where they stand.
    Cancelled = 3,
}

/// What a listener speaks from the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenerKind {
    /// SMTP in plaintext, with STARTTLS when TLS is configured.
    Plain,
    /// TLS first, then SMTP (RFC 8314 3.3, port 465 style).
    ImplicitTls,
}

/// Refusals in flight at most: past this many, an over-limit peer is closed without a reply
/// rather than letting a flood cost a task each.
const MAX_REFUSALS: usize = 64;

/// Configures and binds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder<R: Runtime> {
    config: ServerConfig,
    plain: Vec<SocketAddr>,
    implicit_tls: Vec<SocketAddr>,
    tls: Option<Arc<rustls::ServerConfig>>,
    max_connections: usize,
    shutdown_grace: Duration,
    shutdown_flush: Duration,
    read_chunk: usize,
    write_timeout: Duration,
    tls_handshake_timeout: Duration,
    backlog: u32,
    runtime: PhantomData<R>,
}

impl<R: Runtime> ServerBuilder<R> {
    /// Listens for plaintext SMTP on `addr` (repeatable). Port 0 picks a free port; see
    /// [`Server::local_addrs`].
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.plain.push(addr);
        self
    }

    /// Listens for implicit TLS (RFC 8314, port 465 style) on `addr` (repeatable). Needs
    /// [`tls`](Self::tls).
    pub fn listen_implicit_tls(mut self, addr: SocketAddr) -> Self {
        self.implicit_tls.push(addr);
        self
    }

    /// The TLS configuration for STARTTLS (advertised on plaintext listeners from now on)
    /// and for implicit-TLS listeners.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.config.extensions.starttls = true;
        self.tls = Some(config);
        self
    }

    /// At most this many connections at once (default 1024). A connection over the limit
    /// gets `421 4.3.2` and is closed.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// On shutdown, how long sessions may go on before they are told `421` (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// After the `421`, how long connections get to flush it before they are cut
    /// (default 5 s).
    pub fn shutdown_flush(mut self, flush: Duration) -> Self {
        self.shutdown_flush = flush;
        self
    }

    /// Most octets read from a socket at once (default 16 KiB). The session bounds what it
    /// keeps; this bounds one read.
    pub fn read_chunk(mut self, octets: usize) -> Self {
        self.read_chunk = octets.max(512);
        self
    }

    /// How long a write to a peer that does not read may block (default 5 min, the
    /// RFC 5321 4.5.3.2.7 server timeout).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// How long a TLS handshake may take (default 30 s).
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// The listen backlog: connections the kernel queues before they are accepted
    /// (default 1024; the kernel may cap it at `net.core.somaxconn`).
    pub fn listen_backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog.max(1);
        self
    }

    /// Binds every listener.
    pub async fn bind(self) -> Result<Server<R>, Error> {
        if !self.implicit_tls.is_empty() && self.tls.is_none() {
            return Err(Error::Config(
                "implicit TLS listeners need a TLS configuration",
            ));
        }
        if self.plain.is_empty() && self.implicit_tls.is_empty() {
            return Err(Error::Config("no listen address"));
        }
        let mut listeners = Vec::new();
        for (addrs, kind) in [
            (&self.plain, ListenerKind::Plain),
            (&self.implicit_tls, ListenerKind::ImplicitTls),
        ] {
            for addr in addrs {
                listeners.push((R::Listener::bind(*addr, self.backlog)?, kind));
            }
        }
        let refusing = |reply| {
            let mut c = self.config.clone();
            c.greeting = smtp_proto::server::Greeting::Close(reply);
            PreparedConfig::new(c)
        };
        let refusal = refusing(smtp_proto::reply::standard::TOO_MANY_CONNECTIONS);
        Ok(Server {
            listeners,
            shared: Arc::new(Shared {
                config: PreparedConfig::new(self.config),
                refusal,
                settings: Settings {
                    read_chunk: self.read_chunk,
                    write_timeout: self.write_timeout,
                    tls_handshake_timeout: self.tls_handshake_timeout,
                    tls: self.tls.clone(),
                },
                max_connections: self.max_connections,
                next_session: AtomicU64::new(1),
            }),
            shutdown_grace: self.shutdown_grace,
            shutdown_flush: self.shutdown_flush,
            shutdown: Signal::new(),
        })
    }
}

#[derive(Debug)]
struct Shared {
    config: PreparedConfig,
    /// The configuration of sessions that only refuse service (connection limit).
    refusal: PreparedConfig,
    settings: Settings,
    max_connections: usize,
    next_session: AtomicU64,
}

/// A bound server, ready to [`serve`](Server::serve).
#[derive(Debug)]
pub struct Server<R: Runtime> {
    listeners: Vec<(R::Listener, ListenerKind)>,
    shared: Arc<Shared>,
    shutdown_grace: Duration,
    shutdown_flush: Duration,
    /// Level 1: shut down.
    shutdown: Arc<Signal>,
}

/// Starts a graceful shutdown of a running server from anywhere (cheap to clone).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shutdown: Arc<Signal>,
}

impl ShutdownHandle {
    /// Stops accepting connections; sessions may finish for the grace period, then get
    /// `421` and are closed. [`Server::serve`] returns once all are gone.
    pub fn shutdown(&self) {
        self.shutdown.raise(1);
    }
}

/// One listener's pending accept.
type Accepting<'l, T> = Pin<Box<dyn Future<Output = io::Result<(T, SocketAddr)>> + Send + 'l>>;

impl<R: Runtime> Server<R> {
    /// Starts configuring a server whose sessions use `config`.
    pub fn builder(config: ServerConfig) -> ServerBuilder<R> {
        ServerBuilder {
            config,
            plain: Vec::new(),
            implicit_tls: Vec::new(),
            tls: None,
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(30),
            shutdown_flush: Duration::from_secs(5),
            read_chunk: 16 * 1024,
            write_timeout: Duration::from_secs(300),
            tls_handshake_timeout: Duration::from_secs(30),
            backlog: 1024,
            runtime: PhantomData,
        }
    }

    /// The bound addresses of the plaintext listeners, in the order given.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs(ListenerKind::Plain)
    }

    /// The bound addresses of the implicit-TLS listeners, in the order given.
    pub fn implicit_tls_addrs(&self) -> Vec<SocketAddr> {
        self.addrs(ListenerKind::ImplicitTls)
    }

    fn addrs(&self, kind: ListenerKind) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter(|(_, k)| *k == kind)
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    }

    /// A handle to shut the server down gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shutdown: Arc::clone(&self.shutdown),
        }
    }

    /// Accepts connections until [`ShutdownHandle::shutdown`], making one handler per
    /// connection with `factory`. Returns after the shutdown completed: every connection
    /// task has ended and the listening sockets are closed.
    pub async fn serve<F: HandlerFactory>(self, factory: F) -> Result<(), Error> {
        let factory = Arc::new(factory);
        let phase = Signal::new();
        let connections = Tasks::default();
        let refusals = Tasks::default();
        let mut shutdown = self.shutdown.waiter();
        let listeners = self.listeners;
        {
            let mut accepting: Vec<Accepting<'_, R::Transport>> = listeners
                .iter()
                .map(|(l, _)| Box::pin(l.accept()) as Accepting<'_, R::Transport>)
                .collect();
            // Which listener is polled first: rotated, so a flood on one cannot starve the
            // others.
            let mut first = 0usize;
            loop {
                let next = poll_fn(|cx| {
                    if shutdown.poll_reached(cx, 1).is_ready() {
                        return Poll::Ready(None);
                    }
                    let n = accepting.len();
                    for i in (0..n).map(|k| (first + k) % n) {
                        if let Some(accept) = accepting.get_mut(i) {
                            if let Poll::Ready(result) = accept.as_mut().poll(cx) {
                                return Poll::Ready(Some((i, result)));
                            }
                        }
                    }
                    Poll::Pending
                })
                .await;
                let Some((i, result)) = next else { break };
                first = first.wrapping_add(1);
                let (Some((listener, kind)), Some(slot)) = (listeners.get(i), accepting.get_mut(i))
                else {
                    break;
                };
                match result {
                    Ok((stream, peer)) => {
                        *slot = Box::pin(listener.accept());
                        self.shared.accept::<R, F>(
                            stream,
                            peer,
                            *kind,
                            &factory,
                            &phase,
                            &connections,
                            &refusals,
                        );
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        *slot = Box::pin(async move {
                            runtime::sleep::<R>(Duration::from_millis(100)).await;
                            listener.accept().await
                        });
                    }
                }
            }
        }
        // Close the listening sockets before the drain starts: a client connecting now is
        // refused by the kernel, not left hanging.
        drop(listeners);
        tracing::info!(connections = connections.len(), "shutting down");
        phase.raise(Phase::Draining as u8);
        let _ = runtime::timeout::<R, _>(self.shutdown_grace, connections.all_done()).await;
        phase.raise(Phase::Closing as u8);
        let _ = runtime::timeout::<R, _>(self.shutdown_flush, connections.all_done()).await;
        phase.raise(Phase::Cancelled as u8);
        connections.all_done().await;
        refusals.all_done().await;
        Ok(())
    }
}

impl Shared {
    /// Serves an accepted connection in a new task, or refuses it over the limit.
    #[allow(clippy::too_many_arguments)]
    fn accept<R: Runtime, F: HandlerFactory>(
        self: &Arc<Self>,
        stream: R::Transport,
        peer: SocketAddr,
        kind: ListenerKind,
        factory: &Arc<F>,
        phase: &Arc<Signal>,
        connections: &Tasks,
        refusals: &Tasks,
    ) {
        let session_id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("smtp", session = session_id, %peer);
        if connections.len() >= self.max_connections {
            if refusals.len() < MAX_REFUSALS && kind == ListenerKind::Plain {
                let guard = refusals.track();
                let task = refuse::<R>(stream, self.refusal.clone());
                let cancel = phase.waiter();
                R::spawn(
                    async move {
                        sync::supervise(task, cancel, Phase::Cancelled as u8).await;
                        drop(guard);
                    }
                    .instrument(span),
                );
            }
            // Implicit-TLS peers would need a handshake before the 421: not worth it while
            // over the limit; they see the connection close.
            return;
        }
        let guard = connections.track();
        let task = serve_connection::<R, F>(
            stream,
            peer,
            kind,
            session_id,
            Arc::clone(self),
            Arc::clone(factory),
            phase.waiter(),
        );
        let cancel = phase.waiter();
        R::spawn(
            async move {
                if sync::supervise(task, cancel, Phase::Cancelled as u8).await == Ended::Panicked {
                    tracing::error!("connection task panicked");
                }
                drop(guard);
            }
            .instrument(span),
        );
    }
}

/// A connection that cannot be served (over the limit) is driven by a session whose greeting
/// is `Greeting::Close(421 4.3.2)`: the core queues the reply and closes itself (RFC 5321
/// 3.8), the adapter only writes it and shuts the socket.
async fn refuse<R: Runtime>(mut stream: R::Transport, config: PreparedConfig) {
    let clock = Clock::start::<R>();
    let mut session = Session::new(config, clock.now());
    let mut greeting = bytes::BytesMut::new();
    session.poll_transmit(clock.now(), &mut greeting);
    debug_assert!(matches!(
        session.poll_event(),
        Some(smtp_proto::server::Event::Closed { .. })
    ));
    let write = async {
        runtime::write_all(&mut stream, &greeting).await?;
        runtime::shutdown(&mut stream).await
    };
    if let Ok(Err(e)) = runtime::timeout::<R, _>(Duration::from_secs(10), write).await {
        tracing::debug!(error = %e, "refusal not delivered");
    }
}

async fn serve_connection<R: Runtime, F: HandlerFactory>(
    stream: R::Transport,
    peer: SocketAddr,
    kind: ListenerKind,
    session_id: u64,
    shared: Arc<Shared>,
    factory: Arc<F>,
    phase: sync::Waiter,
) {
    let _ = stream.set_nodelay();
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let info = ConnectionInfo {
        peer,
        local,
        session_id,
        implicit_tls: kind == ListenerKind::ImplicitTls,
    };
    tracing::debug!(%local, "connected");
    let mut handler = factory.new_handler(&info);
    let clock = Clock::start::<R>();
    let (io, session) = match kind {
        ListenerKind::Plain => (stream, Session::new(shared.config.clone(), clock.now())),
        ListenerKind::ImplicitTls => {
            let Some(tls) = shared.settings.tls.as_ref() else {
                return;
            };
            let handshake = runtime::timeout::<R, _>(
                shared.settings.tls_handshake_timeout,
                stream.accept_tls(Arc::clone(tls)),
            )
            .await;
            let (io, tls) = match handshake {
                Ok(Ok(done)) => done,
                Ok(Err(e)) => {
                    tracing::info!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!("TLS handshake timed out");
                    return;
                }
            };
            let session = Session::new_tls(shared.config.clone(), tls.clone(), clock.now());
            handler.tls_established(&tls).await;
            (io, session)
        }
    };
    match connection::drive::<R, _>(io, session, &mut handler, clock, &shared.settings, phase).await
    {
        Ok(()) => tracing::debug!("disconnected"),
        Err(e) => tracing::info!(error = %e, "connection failed"),
    }
}
