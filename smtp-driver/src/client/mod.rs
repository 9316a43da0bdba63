//! An SMTP/LMTP client over any [`Runtime`] and rustls, driving
//! [`smtp_proto::client::Session`]. The adapters name it for their runtime
//! (`smtp_tokio::client::Client` is `Client<smtp_tokio::Tokio>`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use smtp_proto::client::{ClientConfig as SessionConfig, Envelope};
//! use smtp_proto::{ForwardPath, ParseOptions, ReversePath};
//! use smtp_driver::client::{Client, ClientConfig};
//! use smtp_driver::runtime::Runtime;
//!
//! # async fn run<R: Runtime>() -> Result<(), Box<dyn std::error::Error>> {
//! let opts = ParseOptions::default();
//! let from = ReversePath::parse(&Bytes::from_static(b"<a@example.org>"), &opts)?;
//! let to = ForwardPath::parse(&Bytes::from_static(b"<b@example.net>"), &opts)?;
//!
//! let config = ClientConfig::new(Arc::new(SessionConfig::default()));
//! let mut client = Client::<R>::connect("mx.example.net:25", &config).await?;
//! let delivery = client
//!     .send(Envelope::new(from).to(to), Bytes::from_static(b"Subject: hi\r\n\r\nHello.\r\n"))
//!     .await?;
//! for r in &delivery.recipients {
//!     println!("recipient {}: {:?}", r.index, r.class());
//! }
//! client.quit().await?;
//! # Ok(()) }
//! ```
//!
//! # What this adapter does, and what it does not
//!
//! It owns the socket, TLS, the clock and the timer. Every SMTP decision (EHLO/HELO fallback,
//! STARTTLS policy, AUTH mechanism, pipelining, dot-stuffing, BDAT, per-recipient results,
//! timeouts) is made by the sans-IO session; this module only moves bytes and events:
//!
//! ```text
//! loop {
//!     feed body chunks while session.body_capacity() > 0      (backpressure from the core)
//!     session.poll_transmit(now, &mut write_buf)              (all pending bytes, coalesced)
//!     while let Some(event) = session.poll_event() { .. }     (StartTls: flush, handshake,
//!                                                              tls_established)
//!     wait for: the socket writable (write_buf not empty), readable (session.wants_read()),
//!               the body source readable, the session's deadline (poll_timeout)
//! }
//! ```
//!
//! Sockets have `TCP_NODELAY` set: a pipelined batch is written with one `write`, so Nagle's
//! algorithm has nothing to merge and would only delay the batch's tail behind the peer's
//! delayed ACK.

mod tls;

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rustls::pki_types::ServerName;
use smtp_proto::client::{
    BodyError, ClientError, CloseReason, DeferReason, Envelope, Event, Outcome, OutcomeClass,
    Session, Stage, TransactionFailure,
};
use smtp_proto::{Capabilities, Reply};

pub use smtp_proto::client::ClientConfig as SessionConfig;
pub use tls::ServerCertificate;

use crate::runtime::{self, ReadBody, Runtime, Transport};
use crate::time::{Clock, SessionTimer};

/// Bytes read from the socket per read call.
const READ_SIZE: usize = 16 * 1024;

/// How TLS is brought up on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TlsMode {
    /// Connect in plaintext; STARTTLS (RFC 3207) as the session configuration's
    /// [`TlsPolicy`](smtp_proto::client::TlsPolicy) says (none, opportunistic, required).
    #[default]
    StartTls,
    /// TLS from the first byte (RFC 8314 implicit TLS, usually port 465).
    Implicit,
}

/// How to connect: the session configuration plus what only the adapter knows (TLS trust,
/// timeouts, buffer sizes).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The sans-IO session's configuration (hello name, TLS policy, credentials, pipelining,
    /// CHUNKING, timeouts of the SMTP dialogue).
    pub session: Arc<SessionConfig>,
    /// STARTTLS (per `session.tls`) or implicit TLS.
    pub tls_mode: TlsMode,
    /// How the server's certificate is checked. Default: Mozilla's roots and the host name.
    pub server_certificate: ServerCertificate,
    /// The name the certificate must carry (and SNI). Default: the host part of the address
    /// given to [`Client::connect`].
    pub tls_server_name: Option<String>,
    /// Budget for DNS resolution plus the TCP connect. Default 30 s.
    pub connect_timeout: Duration,
    /// Budget for one TLS handshake. Default 30 s.
    pub tls_handshake_timeout: Duration,
    /// Output bytes held before body chunks stop being read from the body source. Default
    /// 256 KiB. The session's own body buffer
    /// ([`SessionConfig::max_body_buffer`]) bounds each step; this bounds the adapter.
    pub write_buffer_limit: usize,
}

impl ClientConfig {
    /// Defaults around a session configuration.
    pub fn new(session: Arc<SessionConfig>) -> Self {
        ClientConfig {
            session,
            tls_mode: TlsMode::StartTls,
            server_certificate: ServerCertificate::default(),
            tls_server_name: None,
            connect_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(30),
            write_buffer_limit: 256 * 1024,
        }
    }

    /// Sets how TLS starts.
    pub fn with_tls_mode(mut self, mode: TlsMode) -> Self {
        self.tls_mode = mode;
        self
    }

    /// Sets how the server certificate is checked.
    pub fn with_server_certificate(mut self, trust: ServerCertificate) -> Self {
        self.server_certificate = trust;
        self
    }

    /// Sets the name the server certificate must carry.
    pub fn with_tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Which wait ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Resolving and connecting ([`ClientConfig::connect_timeout`]).
    Connect,
    /// The TLS handshake ([`ClientConfig::tls_handshake_timeout`]).
    TlsHandshake,
    /// A reply from the server, per the session's timeouts (RFC 5321 4.5.3.2).
    Reply(smtp_proto::client::Timer),
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timeout::Connect => f.write_str("connecting"),
            Timeout::TlsHandshake => f.write_str("TLS handshake"),
            Timeout::Reply(t) => write!(f, "waiting for a reply ({t:?})"),
        }
    }
}

/// What can go wrong with a client connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// TLS set-up or the handshake failed (certificate not trusted, bad name, protocol error).
    /// The inner error is the `rustls::Error` where there is one.
    #[error("TLS error: {0}")]
    Tls(#[source] io::Error),
    /// The SMTP session ended with an error (refused greeting, TLS required but not offered,
    /// AUTH refused, malformed reply, 421, connection lost, ...).
    #[error("SMTP session: {0}")]
    Session(ClientError),
    /// A timeout.
    #[error("timed out: {0}")]
    Timeout(Timeout),
    /// The connection is already closed (an earlier error or [`Client::quit`]).
    #[error("the connection is closed")]
    Closed,
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Timeout(t) => Error::Timeout(Timeout::Reply(t)),
            other => Error::Session(other),
        }
    }
}

/// What happened to one recipient of a [`Client::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientDelivery {
    /// The recipient's position in the envelope given to `send`.
    pub index: usize,
    /// The reply to its `RCPT TO`, if the command was answered.
    pub rcpt: Option<Outcome>,
    /// The final reply that covers this recipient: for SMTP the one reply to the message
    /// (for every accepted recipient); for LMTP this recipient's own reply.
    pub message: Option<Outcome>,
    /// Not attempted because of the server's LIMITS (RFC 9422) and not sent in a further
    /// transaction here (streamed bodies cannot be replayed; MAILMAX needs a new session).
    pub deferred: Option<DeferReason>,
    /// The class when no reply decided (the transaction failed before any, e.g. the envelope
    /// was refused for a missing extension: permanent; or the session ended: transient).
    unanswered: OutcomeClass,
}

impl RecipientDelivery {
    fn new(index: usize) -> Self {
        RecipientDelivery {
            index,
            rcpt: None,
            message: None,
            deferred: None,
            unanswered: OutcomeClass::Transient,
        }
    }

    /// Delivered (success), to retry (transient) or to bounce (permanent): the class of the
    /// reply that decided (see [`RecipientDelivery::reply`]). Without one (deferred, session
    /// ended) transient; an envelope refused before sending takes its refusal's class.
    pub fn class(&self) -> OutcomeClass {
        match (&self.rcpt, &self.message) {
            (Some(r), _) if !r.is_success() => r.class,
            (_, Some(m)) => m.class,
            _ => self.unanswered,
        }
    }

    /// The reply that decided this recipient's fate, if any.
    pub fn reply(&self) -> Option<&Reply> {
        match (&self.rcpt, &self.message) {
            (Some(r), _) if !r.is_success() => Some(&r.reply),
            (_, Some(m)) => Some(&m.reply),
            (Some(r), None) => Some(&r.reply),
            (None, None) => None,
        }
    }
}

/// The result of one [`Client::send`]: per recipient, and for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// One entry per recipient of the envelope, in envelope order.
    pub recipients: Vec<RecipientDelivery>,
    /// SMTP: the reply to the end of the message (success or not), when the body was sent.
    /// LMTP: `None` (see each recipient's `message`).
    pub message: Option<Outcome>,
    /// Why a transaction failed as a whole, when one did (the last such failure).
    pub failure: Option<TransactionFailure>,
}

impl Delivery {
    /// `true` when every recipient was delivered.
    pub fn all_delivered(&self) -> bool {
        self.recipients
            .iter()
            .all(|r| r.class() == OutcomeClass::Success)
    }
}

/// Where body bytes come from.
enum BodySource<'a> {
    /// In memory: sliced without copying.
    Bytes(Bytes),
    /// Streamed: read in chunks as the session takes them.
    Reader(&'a mut (dyn PollBody + 'a)),
}

/// A streamed body source, whatever reads it.
trait PollBody: Send {
    /// Reads into the spare capacity of `buf`; `Ok(0)` is the end.
    fn poll_body(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>>;
}

/// A reader of the runtime's own I/O traits, read through its [`ReadBody`].
struct RuntimeReader<'b, R, B: ?Sized> {
    body: &'b mut B,
    runtime: PhantomData<fn() -> R>,
}

impl<R: ReadBody<B>, B: ?Sized + Send> PollBody for RuntimeReader<'_, R, B> {
    fn poll_body(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        R::poll_read_body(self.body, cx, buf)
    }
}

/// Octets read from a blocking reader per trip to the blocking threads.
const BLOCKING_CHUNK: usize = 64 * 1024;

/// The result of one blocking read: the reader back, and what it read (empty at the end).
type BlockingRead =
    Pin<Box<dyn Future<Output = io::Result<(Box<dyn io::Read + Send>, Vec<u8>)>> + Send>>;

/// A blocking [`io::Read`] (file, standard input) read in chunks on the runtime's blocking
/// threads.
struct BlockingReader<R> {
    state: BlockingState,
    /// Read but not yet handed on (the caller's buffer was smaller than the chunk).
    pending: Bytes,
    runtime: PhantomData<fn() -> R>,
}

enum BlockingState {
    Idle(Box<dyn io::Read + Send>),
    Reading(BlockingRead),
    Done,
}

impl<R: Runtime> PollBody for BlockingReader<R> {
    fn poll_body(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        loop {
            if !self.pending.is_empty() {
                let n = (buf.capacity() - buf.len()).min(self.pending.len());
                buf.extend_from_slice(&self.pending.split_to(n));
                return Poll::Ready(Ok(n));
            }
            match std::mem::replace(&mut self.state, BlockingState::Done) {
                BlockingState::Idle(mut reader) => {
                    self.state = BlockingState::Reading(Box::pin(async move {
                        R::spawn_blocking(move || {
                            let mut chunk = vec![0; BLOCKING_CHUNK];
                            loop {
                                match reader.read(&mut chunk) {
                                    Ok(n) => {
                                        chunk.truncate(n);
                                        return Ok((reader, chunk));
                                    }
                                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                    Err(e) => return Err(e),
                                }
                            }
                        })
                        .await?
                    }));
                }
                BlockingState::Reading(mut read) => match read.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = BlockingState::Reading(read);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok((_, chunk))) if chunk.is_empty() => return Poll::Ready(Ok(0)),
                    Poll::Ready(Ok((reader, chunk))) => {
                        self.pending = Bytes::from(chunk);
                        self.state = BlockingState::Idle(reader);
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                },
                BlockingState::Done => return Poll::Ready(Ok(0)),
            }
        }
    }
}

/// The body of the transaction being driven.
///
/// The session takes body chunks as soon as a transaction is queued and holds them (bounded
/// by its `body_capacity`) until the server's `354`, so feeding starts at once rather than on
/// [`Event::BodyWanted`]: the first chunk is ready when the go-ahead arrives.
struct BodyFeed<'a> {
    source: BodySource<'a>,
    /// `end_body` was called.
    ended: bool,
    /// The transaction failed: the rest of the body is not needed.
    abandoned: bool,
}

impl<'a> BodyFeed<'a> {
    fn idle() -> BodyFeed<'static> {
        BodyFeed {
            source: BodySource::Bytes(Bytes::new()),
            ended: true,
            abandoned: false,
        }
    }

    fn new(source: BodySource<'a>) -> BodyFeed<'a> {
        BodyFeed {
            source,
            ended: false,
            abandoned: false,
        }
    }

    fn reading(&self) -> bool {
        !self.ended
    }
}

/// A connected SMTP/LMTP client session, ready for transactions.
pub struct Client<R: Runtime> {
    session: Session,
    /// `None` only while a TLS upgrade holds the stream, and after the close.
    stream: Option<R::Transport>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// Bytes were written since the last flush (TLS buffers records until flushed).
    flush_pending: bool,
    clock: Clock,
    /// One timer, armed on the session's `poll_timeout`.
    timer: SessionTimer<R>,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    server_name: Option<ServerName<'static>>,
    config: ClientConfig,
    greeting: Option<Reply>,
    capabilities: Capabilities,
    authenticated: Option<Reply>,
    closed: Option<CloseReason>,
}

impl<R: Runtime> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("tls", &self.is_tls())
            .field("greeting", &self.greeting)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// The host part of `host:port` (`[v6]:port` too).
fn host_of(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => addr,
    }
}

/// The addresses of `host_port`: parsed when it is an address already, else resolved on the
/// blocking threads (the system resolver blocks).
async fn resolve<R: Runtime>(host_port: &str) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let owned = host_port.to_owned();
    R::spawn_blocking(move || owned.to_socket_addrs().map(Iterator::collect)).await?
}

/// Connects to the first address of `host_port` that answers within `timeout` (one budget for
/// all addresses together), with TCP_NODELAY on.
///
/// TCP_NODELAY matters: a pipelined SMTP client writes a small batch and then waits for the
/// reply. With Nagle on, the last small segment of a batch waits for the ACK of the previous
/// one, which the server delays (delayed ACK, ~40 ms on Linux): one stall per message.
async fn connect_tcp<R: Runtime>(
    host_port: &str,
    timeout: Duration,
) -> Result<R::Transport, Error> {
    let attempt = async {
        let mut last_error = None;
        for addr in resolve::<R>(host_port).await? {
            match R::connect(addr).await {
                Ok(tcp) => {
                    tcp.set_nodelay()?;
                    return Ok(tcp);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the host name has no address")
        }))
    };
    match runtime::timeout::<R, _>(timeout, attempt).await {
        Ok(result) => result.map_err(Error::Io),
        Err(_) => Err(Error::Timeout(Timeout::Connect)),
    }
}

impl<R: Runtime> Client<R> {
    /// Connects to `addr` (`host:port`), reads the greeting, says EHLO, runs STARTTLS and
    /// AUTH as configured, and returns once the session is ready for transactions.
    pub async fn connect(addr: &str, config: &ClientConfig) -> Result<Self, Error> {
        let tcp = connect_tcp::<R>(addr, config.connect_timeout).await?;
        let name = config
            .tls_server_name
            .as_deref()
            .unwrap_or_else(|| host_of(addr));
        Client::connect_stream(tcp, name, config).await
    }

    /// Like [`Client::connect`] over a TCP stream the caller opened (the runtime's TCP
    /// stream type converts into its transport). `server_name` is what the TLS certificate
    /// must name (when TLS is used). `TCP_NODELAY` is set here too.
    pub async fn connect_stream(
        tcp: impl Into<R::Transport>,
        server_name: &str,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        let tcp: R::Transport = tcp.into();
        tcp.set_nodelay()?;
        let needs_tls = config.tls_mode == TlsMode::Implicit
            || config.session.tls != smtp_proto::client::TlsPolicy::None;
        let (tls_config, name) = if needs_tls {
            let tls_config = config
                .server_certificate
                .rustls_config()
                .map_err(|e| Error::Tls(io::Error::other(e)))?;
            let name = match tls::server_name(server_name) {
                Ok(name) => Some(name),
                // Implicit TLS cannot start without a name to check.
                Err(e) if config.tls_mode == TlsMode::Implicit => {
                    return Err(Error::Tls(io::Error::new(io::ErrorKind::InvalidInput, e)))
                }
                // STARTTLS may never be offered; should it be, the handshake reports this.
                Err(_) => None,
            };
            (Some(tls_config), name)
        } else {
            (None, None)
        };
        let clock = Clock::start::<R>();
        let mut stream = tcp;
        let session = match config.tls_mode {
            TlsMode::StartTls => Session::new(Arc::clone(&config.session), clock.now()),
            TlsMode::Implicit => {
                let info;
                (stream, info) = handshake::<R>(
                    stream,
                    tls_config.clone(),
                    name.clone(),
                    config.tls_handshake_timeout,
                )
                .await?;
                Session::new_tls(Arc::clone(&config.session), info, clock.now())
            }
        };
        let mut client = Client {
            session,
            stream: Some(stream),
            read_buf: BytesMut::with_capacity(READ_SIZE),
            write_buf: BytesMut::new(),
            flush_pending: false,
            clock,
            timer: SessionTimer::new(clock),
            tls_config,
            server_name: name,
            config: config.clone(),
            greeting: None,
            capabilities: Capabilities::default(),
            authenticated: None,
            closed: None,
        };
        client
            .drive(&mut BodyFeed::idle(), |event| match event {
                Event::Ready { .. } => Some(()),
                _ => None,
            })
            .await?;
        Ok(client)
    }

    /// The server's greeting.
    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    /// The extensions the server advertised in its last EHLO/LHLO reply (after TLS when TLS
    /// is up).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The `235` reply when AUTH ran.
    pub fn authenticated(&self) -> Option<&Reply> {
        self.authenticated.as_ref()
    }

    /// `true` when the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(Transport::is_tls)
    }

    /// Sends one message held in memory. The envelope's recipients are answered one by one in
    /// the returned [`Delivery`]; a transaction-level refusal is a `Delivery` with `failure`
    /// set, not an `Err` (that is for the connection and the session).
    ///
    /// When the server's LIMITS (RFC 9422 RCPTMAX) split the recipients, the rest are sent
    /// in further transactions on this connection with the same body.
    pub async fn send(
        &mut self,
        envelope: Envelope,
        body: impl Into<Bytes>,
    ) -> Result<Delivery, Error> {
        let body = body.into();
        let mut envelope = envelope;
        // The size is known here: offer it (the session sends SIZE= only when the server
        // advertises SIZE, RFC 1870, and refuses early when it is over the server's limit).
        if envelope.params.size.is_none() {
            envelope.params.size = Some(body.len() as u64);
        }
        let count = envelope.recipients.len();
        let mut delivery = Delivery {
            recipients: (0..count).map(RecipientDelivery::new).collect(),
            message: None,
            failure: None,
        };
        // Each round: one transaction, and the indices (in the original envelope) of its
        // recipients.
        let mut rounds = vec![(envelope, (0..count).collect::<Vec<_>>())];
        while let Some((envelope, indices)) = rounds.pop() {
            let mut feed = BodyFeed::new(BodySource::Bytes(body.clone()));
            for deferral in self
                .transaction(envelope, &indices, &mut feed, &mut delivery)
                .await?
            {
                match deferral.reason {
                    DeferReason::RcptMax | DeferReason::RcptDomainMax => {
                        let back: Vec<usize> = deferral
                            .indices
                            .iter()
                            .filter_map(|&i| indices.get(i).copied())
                            .collect();
                        for &i in &back {
                            if let Some(r) = delivery.recipients.get_mut(i) {
                                r.deferred = None;
                            }
                        }
                        rounds.push((deferral.envelope, back));
                    }
                    _ => {}
                }
            }
        }
        Ok(delivery)
    }

    /// Sends one message whose body is streamed from `body` (a reader of the runtime's own
    /// I/O traits, e.g. a tokio `AsyncRead`) in chunks, as fast as the session takes them
    /// (its body buffer is the backpressure). Recipients deferred by the server's LIMITS are
    /// reported as deferred: a stream cannot be sent twice.
    pub async fn send_reader<B>(
        &mut self,
        envelope: Envelope,
        body: &mut B,
    ) -> Result<Delivery, Error>
    where
        B: ?Sized + Send,
        R: ReadBody<B>,
    {
        let mut reader = RuntimeReader::<R, B> {
            body,
            runtime: PhantomData,
        };
        self.send_streamed(envelope, &mut reader).await
    }

    /// Like [`send_reader`](Client::send_reader) for a blocking reader (a file, standard
    /// input), read in chunks of 64 KiB on the runtime's blocking threads.
    pub async fn send_blocking_reader(
        &mut self,
        envelope: Envelope,
        body: impl io::Read + Send + 'static,
    ) -> Result<Delivery, Error> {
        let mut reader = BlockingReader::<R> {
            state: BlockingState::Idle(Box::new(body)),
            pending: Bytes::new(),
            runtime: PhantomData,
        };
        self.send_streamed(envelope, &mut reader).await
    }

    async fn send_streamed(
        &mut self,
        envelope: Envelope,
        body: &mut dyn PollBody,
    ) -> Result<Delivery, Error> {
        let count = envelope.recipients.len();
        let mut delivery = Delivery {
            recipients: (0..count).map(RecipientDelivery::new).collect(),
            message: None,
            failure: None,
        };
        let indices: Vec<usize> = (0..count).collect();
        let mut feed = BodyFeed::new(BodySource::Reader(body));
        self.transaction(envelope, &indices, &mut feed, &mut delivery)
            .await?;
        Ok(delivery)
    }

    /// Runs one transaction to its end; returns the LIMITS deferrals it reported.
    async fn transaction(
        &mut self,
        envelope: Envelope,
        indices: &[usize],
        feed: &mut BodyFeed<'_>,
        delivery: &mut Delivery,
    ) -> Result<Vec<Deferral>, Error> {
        if self.closed.is_some() {
            return Err(Error::Closed);
        }
        let txn = self.session.send(envelope).map_err(|_| Error::Closed)?;
        let lmtp = self.config.session.protocol == smtp_proto::client::Protocol::Lmtp;
        let mut deferrals = Vec::new();
        // LMTP: one final reply per accepted recipient; the transaction is over when each
        // accepted recipient has one (or the transaction failed).
        let mut accepted = 0usize;
        let mut finals = 0usize;
        let map = |i: usize| indices.get(i).copied();
        self.drive(feed, |event| {
            match event {
                Event::RecipientResult {
                    txn: t,
                    index,
                    outcome,
                } if t == txn => {
                    if outcome.is_success() {
                        accepted += 1;
                    }
                    if let Some(r) = map(index).and_then(|i| delivery.recipients.get_mut(i)) {
                        r.rcpt = Some(outcome);
                    }
                }
                Event::MessageResult {
                    txn: t,
                    recipient,
                    outcome,
                } if t == txn => {
                    finals += 1;
                    match recipient {
                        Some(index) => {
                            if let Some(r) = map(index).and_then(|i| delivery.recipients.get_mut(i))
                            {
                                r.message = Some(outcome);
                            }
                        }
                        None => {
                            for &i in indices {
                                if let Some(r) = delivery.recipients.get_mut(i) {
                                    if r.rcpt.as_ref().is_some_and(Outcome::is_success) {
                                        r.message = Some(outcome.clone());
                                    }
                                }
                            }
                            delivery.message = Some(outcome);
                        }
                    }
                    if !lmtp || finals >= accepted {
                        return Some(());
                    }
                }
                Event::TransactionFailed { txn: t, failure } if t == txn => {
                    // A refused command of the transaction answers for every recipient it
                    // covers: all (MAIL) or those accepted at RCPT (DATA, end of data).
                    if let TransactionFailure::Rejected { stage, outcome } = &failure {
                        for &i in indices {
                            let Some(r) = delivery.recipients.get_mut(i) else {
                                continue;
                            };
                            let covered = match stage {
                                Stage::Mail => r.rcpt.is_none(),
                                _ => r.rcpt.as_ref().is_some_and(Outcome::is_success),
                            };
                            if covered && r.message.is_none() {
                                r.message = Some(outcome.clone());
                            }
                        }
                        if matches!(stage, Stage::EndOfData | Stage::Bdat) {
                            delivery.message = Some(outcome.clone());
                        }
                    }
                    for &i in indices {
                        if let Some(r) = delivery.recipients.get_mut(i) {
                            r.unanswered = failure.class();
                        }
                    }
                    delivery.failure = Some(failure);
                    return Some(());
                }
                Event::Deferred {
                    txn: t,
                    indices: deferred,
                    envelope,
                    reason,
                } if t == txn => {
                    for &i in &deferred {
                        if let Some(r) = map(i).and_then(|i| delivery.recipients.get_mut(i)) {
                            r.deferred = Some(reason);
                        }
                    }
                    deferrals.push(Deferral {
                        indices: deferred,
                        envelope: *envelope,
                        reason,
                    });
                }
                _ => {}
            }
            None
        })
        .await?;
        Ok(deferrals)
    }

    /// Sends `QUIT`, waits for the `221` (or the server closing) and closes the connection.
    /// Returns the server's reply when there was one.
    pub async fn quit(mut self) -> Result<Option<Reply>, Error> {
        if self.closed.is_some() {
            return Err(Error::Closed);
        }
        self.session.quit();
        self.drive(&mut BodyFeed::idle(), |event| match event {
            Event::Closed {
                reason: CloseReason::Quit(reply),
                ..
            } => Some(reply),
            _ => None,
        })
        .await
    }

    /// Drives the session until `on_event` returns a value. Events the adapter acts on itself
    /// (StartTls, BodyWanted, Closed, Greeting, Ready, Authenticated) are handled here first.
    async fn drive<T>(
        &mut self,
        body: &mut BodyFeed<'_>,
        mut on_event: impl FnMut(Event) -> Option<T>,
    ) -> Result<T, Error> {
        loop {
            let fed = self.feed_body(body)?;
            let now = self.clock.now();
            let transmitted = self.session.poll_transmit(now, &mut self.write_buf);
            let mut handled = false;
            while let Some(event) = self.session.poll_event() {
                handled = true;
                match event {
                    Event::StartTls => {
                        // A session that closed meanwhile (e.g. plaintext injected behind the
                        // 220) has no use for the handshake: its Closed event follows.
                        if self.session.is_closed() {
                            continue;
                        }
                        // Barrier: everything before it is in write_buf; it must leave before
                        // the handshake starts on the same socket.
                        self.flush_all().await?;
                        self.start_tls().await?;
                        continue;
                    }
                    Event::BodyWanted { .. } => continue,
                    Event::TransactionFailed { txn, .. }
                        if Some(txn) == self.session.body_txn() =>
                    {
                        // The rest of this body is not needed; the session still expects
                        // end_body (body calls apply to the oldest open body).
                        body.abandoned = true;
                    }
                    Event::Greeting(ref reply) => self.greeting = Some(reply.clone()),
                    Event::Ready { ref capabilities } => {
                        self.capabilities = capabilities.clone();
                    }
                    Event::Authenticated(ref reply) => self.authenticated = Some(reply.clone()),
                    Event::Closed { ref reason, .. } => {
                        self.closed = Some(reason.clone());
                        self.flush_all().await.ok();
                        self.shutdown().await;
                        let reason = reason.clone();
                        return match on_event(event) {
                            Some(t) => Ok(t),
                            None => Err(match reason {
                                CloseReason::Error(e) => e.into(),
                                _ => Error::Closed,
                            }),
                        };
                    }
                    _ => {}
                }
                if let Some(t) = on_event(event) {
                    self.finish_body(body)?;
                    self.session
                        .poll_transmit(self.clock.now(), &mut self.write_buf);
                    self.flush_all().await?;
                    return Ok(t);
                }
            }
            if fed || transmitted > 0 || handled {
                continue;
            }
            poll_fn(|cx| self.poll_io(cx, body)).await?;
        }
    }

    /// Gives the session body bytes from memory while it takes them, and ends the body when
    /// the source is exhausted or the transaction failed. Returns whether anything changed.
    fn feed_body(&mut self, body: &mut BodyFeed<'_>) -> Result<bool, Error> {
        if !body.reading() {
            return Ok(false);
        }
        if body.abandoned {
            self.finish_body(body)?;
            return Ok(true);
        }
        let BodySource::Bytes(rest) = &mut body.source else {
            return Ok(false); // streamed sources are read in poll_io
        };
        let mut fed = false;
        while !rest.is_empty()
            && self.session.body_capacity() > 0
            && self.write_buf.len() < self.config.write_buffer_limit
        {
            let n = self.session.body_capacity().min(rest.len());
            // A slice of the caller's Bytes: no copy here; the session copies once, into the
            // output, while dot-stuffing.
            match self.session.body(rest.slice(..n)) {
                Ok(()) => {
                    rest.advance(n);
                    fed = true;
                }
                Err(BodyError::Full(_)) => break,
                Err(BodyError::Misuse(_)) => {
                    body.ended = true;
                    return Ok(true);
                }
            }
        }
        if rest.is_empty() {
            self.finish_body(body)?;
            fed = true;
        }
        Ok(fed)
    }

    /// Calls `end_body` once for an open body.
    fn finish_body(&mut self, body: &mut BodyFeed<'_>) -> Result<(), Error> {
        if !body.ended {
            body.ended = true;
            // A body the session already closed (failed transaction) is not an error here.
            let _ = self.session.end_body();
        }
        Ok(())
    }

    /// Waits until the socket, the body source or the timer made progress.
    fn poll_io(
        &mut self,
        cx: &mut Context<'_>,
        body: &mut BodyFeed<'_>,
    ) -> Poll<Result<(), Error>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(Err(Error::Closed));
        };
        let mut progress = false;

        // Write: the whole buffer in as few writes as the kernel allows.
        while !self.write_buf.is_empty() {
            match stream.poll_write(cx, &self.write_buf) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => {
                    self.write_buf.advance(n);
                    self.flush_pending = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                Poll::Pending => break,
            }
        }
        if self.write_buf.is_empty() && self.flush_pending {
            match stream.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.flush_pending = false,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                Poll::Pending => {}
            }
        }

        // Read: whatever arrives goes to the session at once (it alone may discard bytes).
        if self.session.wants_read() {
            self.read_buf.clear();
            self.read_buf.reserve(READ_SIZE);
            match stream.poll_read(cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) => {
                    self.session.receive_eof(self.clock.now());
                    progress = true;
                }
                Poll::Ready(Ok(_)) => {
                    let data = self.read_buf.split().freeze();
                    self.session.receive(self.clock.now(), data);
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                Poll::Pending => {}
            }
        }

        // Body from a stream: read a chunk when the session has room and our output is not
        // piling up.
        if body.reading() && !body.abandoned {
            if let BodySource::Reader(reader) = &mut body.source {
                let room = self.session.body_capacity();
                if room > 0 && self.write_buf.len() < self.config.write_buffer_limit {
                    let mut chunk = BytesMut::with_capacity(room.min(64 * 1024));
                    match reader.poll_body(cx, &mut chunk) {
                        Poll::Ready(Ok(0)) => {
                            body.ended = true;
                            let _ = self.session.end_body();
                            progress = true;
                        }
                        Poll::Ready(Ok(_)) => {
                            if let Err(BodyError::Misuse(_)) = self.session.body(chunk.freeze()) {
                                body.ended = true;
                            }
                            progress = true;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                        Poll::Pending => {}
                    }
                }
            }
        }

        // The session's next deadline.
        self.timer.set(self.session.poll_timeout());
        if self.timer.poll_expired(cx).is_ready() {
            self.session.handle_timeout(self.clock.now());
            progress = true;
        }

        if progress {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Writes and flushes everything in the write buffer.
    async fn flush_all(&mut self) -> Result<(), Error> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::Closed);
        };
        if !self.write_buf.is_empty() {
            runtime::write_all(stream, &self.write_buf).await?;
            self.write_buf.clear();
            self.flush_pending = true;
        }
        if self.flush_pending {
            runtime::flush(stream).await?;
            self.flush_pending = false;
        }
        Ok(())
    }

    /// Runs the TLS handshake on the connection and tells the session.
    async fn start_tls(&mut self) -> Result<(), Error> {
        let stream = self.stream.take().ok_or(Error::Closed)?;
        let (stream, info) = handshake::<R>(
            stream,
            self.tls_config.clone(),
            self.server_name.clone(),
            self.config.tls_handshake_timeout,
        )
        .await?;
        self.stream = Some(stream);
        self.session
            .tls_established(info)
            .map_err(|_| Error::Closed)?;
        Ok(())
    }

    /// Closes the connection (TLS close_notify first when TLS is up).
    async fn shutdown(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ =
                runtime::timeout::<R, _>(Duration::from_secs(5), runtime::shutdown(&mut stream))
                    .await;
        }
    }
}

/// A LIMITS deferral reported by the session.
struct Deferral {
    indices: Vec<usize>,
    envelope: Envelope,
    reason: DeferReason,
}

/// Runs the client's TLS handshake; returns the TLS stream and what the session learns
/// about it.
async fn handshake<R: Runtime>(
    stream: R::Transport,
    config: Option<Arc<rustls::ClientConfig>>,
    name: Option<ServerName<'static>>,
    timeout: Duration,
) -> Result<(R::Transport, smtp_proto::TlsInfo), Error> {
    let (Some(config), Some(name)) = (config, name) else {
        return Err(Error::Tls(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no valid TLS server name: set ClientConfig::tls_server_name",
        )));
    };
    // The name this client asked for (SNI) and checked the certificate against.
    let sni = Bytes::from(name.to_str().into_owned());
    match runtime::timeout::<R, _>(timeout, stream.connect_tls(config, name)).await {
        Ok(Ok((stream, mut info))) => {
            info.sni = Some(sni);
            Ok((stream, info))
        }
        Ok(Err(e)) => Err(Error::Tls(e)),
        Err(_) => Err(Error::Timeout(Timeout::TlsHandshake)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_splits_the_port_off() {
        assert_eq!(host_of("mx.example.org:25"), "mx.example.org");
        assert_eq!(host_of("127.0.0.1:2525"), "127.0.0.1");
        assert_eq!(host_of("[::1]:25"), "[::1]");
        assert_eq!(host_of("mx.example.org"), "mx.example.org");
    }

    #[test]
    fn server_names_for_hosts_and_address_literals() {
        assert!(matches!(
            tls::server_name("mx.example.org"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            tls::server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            tls::server_name("[::1]"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(tls::server_name("not a name").is_err());
    }

    #[test]
    fn every_trust_choice_builds_a_rustls_config() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("rcgen")
            .cert
            .der()
            .clone();
        for trust in [
            ServerCertificate::WebPkiRoots,
            ServerCertificate::Roots(Arc::new(rustls::RootCertStore::empty())),
            ServerCertificate::Pinned(cert),
            ServerCertificate::DangerousAcceptAnyCertificate,
        ] {
            assert!(trust.rustls_config().is_ok(), "{trust:?}");
        }
    }

    fn outcome(code: u16) -> Outcome {
        let code = smtp_proto::ReplyCode::new(code).expect("code");
        Outcome::from_reply(Reply::new(code, None, "x"))
    }

    #[test]
    fn a_recipient_is_decided_by_its_refusal_or_the_final_reply() {
        let mut r = RecipientDelivery::new(0);
        assert_eq!(r.class(), OutcomeClass::Transient, "no answer yet");
        r.rcpt = Some(outcome(250));
        r.message = Some(outcome(554));
        assert_eq!(r.class(), OutcomeClass::Permanent);
        assert_eq!(r.reply().map(|x| x.code().as_u16()), Some(554));
        r.rcpt = Some(outcome(450));
        assert_eq!(
            r.class(),
            OutcomeClass::Transient,
            "the RCPT refusal decides"
        );
        assert_eq!(r.reply().map(|x| x.code().as_u16()), Some(450));
        r.rcpt = Some(outcome(250));
        r.message = Some(outcome(250));
        assert_eq!(r.class(), OutcomeClass::Success);
    }
}
