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
//! ```no_run
//! use smtp_proto::server::ServerConfig;
//! use smtp_tokio::server::{ConnectionInfo, Handler, Server};
//!
//! struct AcceptAll;
//! impl Handler for AcceptAll {}
//!
//! # async fn run() -> Result<(), smtp_tokio::Error> {
//! let server = Server::builder(ServerConfig::new("mx.example.org"))
//!     .listen("127.0.0.1:2525".parse().expect("address"))
//!     .bind()
//!     .await?;
//! server.serve(|_: &ConnectionInfo| AcceptAll).await
//! # }
//! ```

mod connection;
mod handler;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::server::{PreparedConfig, ServerConfig, Session};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

pub use handler::{ConnectionInfo, Decision, Handler, HandlerFactory};

use crate::timer::Clock;
use crate::transport::{self, Transport};
use crate::Error;
use connection::Settings;

/// How far a graceful shutdown has gone. Connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Serving.
    Running,
    /// No longer accepting; sessions finish on their own.
    Draining,
    /// The grace period ended: each session sends `421` and closes.
    Closing,
}

/// What a listener speaks from the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenerKind {
    /// SMTP in plaintext, with STARTTLS when TLS is configured.
    Plain,
    /// TLS first, then SMTP (RFC 8314 3.3, port 465 style).
    ImplicitTls,
}

/// Configures and binds a [`Server`].
#[derive(Debug)]
pub struct ServerBuilder {
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
}

/// Binds a listener with an explicit backlog: the common default of 128 overflows when
/// hundreds of clients connect at once, and the kernel then drops their handshakes.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

impl ServerBuilder {
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
    pub async fn bind(self) -> Result<Server, Error> {
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
                listeners.push((listen(*addr, self.backlog)?, kind));
            }
        }
        let refusing = |reply| {
            let mut c = self.config.clone();
            c.greeting = smtp_proto::server::Greeting::Close(reply);
            PreparedConfig::new(c)
        };
        let refusal = refusing(smtp_proto::reply::standard::TOO_MANY_CONNECTIONS);
        let closing = refusing(smtp_proto::reply::standard::SHUTTING_DOWN);
        let (shutdown, _) = watch::channel(false);
        Ok(Server {
            listeners,
            shared: Arc::new(Shared {
                config: PreparedConfig::new(self.config),
                refusal,
                closing,
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
            shutdown: Arc::new(shutdown),
        })
    }
}

#[derive(Debug)]
struct Shared {
    config: PreparedConfig,
    /// The configuration of sessions that only refuse service (connection limit).
    refusal: PreparedConfig,
    /// The same for connections accepted while the server shuts down.
    closing: PreparedConfig,
    settings: Settings,
    max_connections: usize,
    next_session: AtomicU64,
}

/// A bound server, ready to [`serve`](Server::serve).
#[derive(Debug)]
pub struct Server {
    listeners: Vec<(TcpListener, ListenerKind)>,
    shared: Arc<Shared>,
    shutdown_grace: Duration,
    shutdown_flush: Duration,
    shutdown: Arc<watch::Sender<bool>>,
}

/// Starts a graceful shutdown of a running server from anywhere (cheap to clone).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shutdown: Arc<watch::Sender<bool>>,
}

impl ShutdownHandle {
    /// Stops accepting connections; sessions may finish for the grace period, then get
    /// `421` and are closed. [`Server::serve`] returns once all are gone.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

impl Server {
    /// Starts configuring a server whose sessions use `config`.
    pub fn builder(config: ServerConfig) -> ServerBuilder {
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
    /// connection with `factory`. Returns after the shutdown completed.
    pub async fn serve<F: HandlerFactory>(self, factory: F) -> Result<(), Error> {
        let factory = Arc::new(factory);
        let (phase_tx, phase_rx) = watch::channel(Phase::Running);
        // Bounded: when connection tasks cannot be spawned fast enough, accepting pauses
        // and the kernel's listen backlog holds new peers.
        let (accepted_tx, mut accepted_rx) = mpsc::channel(64);
        let mut acceptors = JoinSet::new();
        for (listener, kind) in self.listeners {
            acceptors.spawn(accept_loop(listener, kind, accepted_tx.clone()));
        }
        drop(accepted_tx);

        let mut connections = JoinSet::new();
        // Refusals are bounded too: past this many in flight, an over-limit peer is closed
        // without a reply rather than letting a flood cost a task each.
        let max_refusals = 64;
        let mut refusals = JoinSet::new();
        let mut shutdown = self.shutdown.subscribe();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => break,
                Some(done) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = done {
                        if e.is_panic() {
                            tracing::error!("connection task panicked");
                        }
                    }
                }
                Some(_) = refusals.join_next(), if !refusals.is_empty() => {}
                accepted = accepted_rx.recv() => {
                    let Some((stream, peer, kind)) = accepted else { break };
                    let session_id = self.shared.next_session.fetch_add(1, Ordering::Relaxed);
                    let span = tracing::info_span!("smtp", session = session_id, %peer);
                    // Count only live connections: reap the ones that ended meanwhile.
                    while connections.try_join_next().is_some() {}
                    if connections.len() >= self.shared.max_connections {
                        if refusals.len() < max_refusals && kind == ListenerKind::Plain {
                            let config = self.shared.refusal.clone();
                            refusals.spawn(refuse(stream, config).instrument(span));
                        }
                        // Implicit-TLS peers would need a handshake before the 421: not
                        // worth it while over the limit; they see the connection close.
                        continue;
                    }
                    let shared = Arc::clone(&self.shared);
                    let factory = Arc::clone(&factory);
                    let phase = phase_rx.clone();
                    connections.spawn(
                        serve_connection(stream, peer, kind, session_id, shared, factory, phase)
                            .instrument(span),
                    );
                }
            }
        }
        acceptors.abort_all();
        // Wait for the accept tasks to be gone, so the listening sockets are closed before
        // the drain starts: a client connecting now is refused by the kernel, not left hanging.
        while acceptors.join_next().await.is_some() {}
        // Connections accepted but not yet served are told the server is going away.
        while let Ok((stream, peer, kind)) = accepted_rx.try_recv() {
            if kind == ListenerKind::Plain {
                let span = tracing::info_span!("smtp", %peer);
                refusals.spawn(refuse(stream, self.shared.closing.clone()).instrument(span));
            }
        }
        drop(accepted_rx);
        tracing::info!(connections = connections.len(), "shutting down");
        phase_tx.send_replace(Phase::Draining);
        drain(&mut connections, self.shutdown_grace).await;
        phase_tx.send_replace(Phase::Closing);
        drain(&mut connections, self.shutdown_flush).await;
        connections.abort_all();
        refusals.abort_all();
        while connections.join_next().await.is_some() {}
        while refusals.join_next().await.is_some() {}
        Ok(())
    }
}

/// Waits until every connection ended or `limit` passed.
async fn drain(connections: &mut JoinSet<()>, limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn accept_loop(
    listener: TcpListener,
    kind: ListenerKind,
    accepted: mpsc::Sender<(TcpStream, SocketAddr, ListenerKind)>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if accepted.send((stream, peer, kind)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A connection that cannot be served (over the limit, or during shutdown) is driven by a
/// session whose greeting is `Greeting::Close(421 4.3.2)`: the core queues the reply and
/// closes itself (RFC 5321 3.8), the adapter only writes it and shuts the socket.
async fn refuse(stream: TcpStream, config: PreparedConfig) {
    use tokio::io::AsyncWriteExt;
    let clock = Clock::start();
    let mut session = Session::new(config, clock.now());
    let mut greeting = bytes::BytesMut::new();
    session.poll_transmit(clock.now(), &mut greeting);
    debug_assert!(matches!(
        session.poll_event(),
        Some(smtp_proto::server::Event::Closed { .. })
    ));
    let mut stream = stream;
    let write = async {
        stream.write_all(&greeting).await?;
        stream.shutdown().await
    };
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(10), write).await {
        tracing::debug!(error = %e, "refusal not delivered");
    }
}

async fn serve_connection<F: HandlerFactory>(
    stream: TcpStream,
    peer: SocketAddr,
    kind: ListenerKind,
    session_id: u64,
    shared: Arc<Shared>,
    factory: Arc<F>,
    phase: watch::Receiver<Phase>,
) {
    let _ = stream.set_nodelay(true);
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
    let clock = Clock::start();
    let (io, session) = match kind {
        ListenerKind::Plain => (
            Transport::Plain(stream),
            Session::new(shared.config.clone(), clock.now()),
        ),
        ListenerKind::ImplicitTls => {
            let Some(tls) = shared.settings.tls.as_ref() else {
                return;
            };
            let handshake = tokio::time::timeout(
                shared.settings.tls_handshake_timeout,
                Transport::Plain(stream).upgrade(&transport::acceptor(tls)),
            )
            .await;
            let (io, negotiated) = match handshake {
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
            let tls = connection::tls_info(&negotiated);
            let session = Session::new_tls(shared.config.clone(), tls.clone(), clock.now());
            handler.tls_established(&tls).await;
            (io, session)
        }
    };
    match connection::drive(io, session, &mut handler, clock, &shared.settings, phase).await {
        Ok(()) => tracing::debug!("disconnected"),
        Err(e) => tracing::info!(error = %e, "connection failed"),
    }
}
