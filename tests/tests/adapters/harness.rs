//! The seam between the runtime-neutral test bodies and one adapter: [`AdapterUnderTest`].
//!
//! Every adapter runs its server on its own runtime in a dedicated OS thread and its client
//! on a fresh runtime in another one, so the tests themselves only see std types: socket
//! addresses, a shutdown closure, and plain views of the client's results. Adding an adapter
//! is one [`adapter_under_test!`] line (the adapters share one public API shape) plus one
//! `suite_for!` line in `adapters.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::CertificateDer;
use smtp_proto::client::{ClientConfig as SessionConfig, Envelope, OutcomeClass};
use smtp_proto::server::ServerConfig;

/// The hostname of every test server (also in its `Received:` header).
pub const HOSTNAME: &str = "mx.test.example";

/// How long a server may take to bind, and to return from `serve` after a shutdown.
pub const SERVER_DEADLINE: Duration = Duration::from_secs(30);
/// How long one client run (connect, every send, QUIT) may take.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(60);

/// One adapter (runtime + crate) as the suite drives it.
pub trait AdapterUnderTest {
    /// The crate's name as it signs the `Received:` header (`by host (smtp-tokio) with`).
    const PRODUCT: &'static str;

    /// Binds a server on 127.0.0.1 port 0 (plus an implicit-TLS listener when asked) on the
    /// adapter's runtime in its own thread, and returns once it is listening.
    fn start_server(spec: ServerSpec) -> RunningServer;

    /// Connects the adapter's client to `addr`, runs `steps`, then QUIT. Bounded by
    /// [`CLIENT_DEADLINE`].
    fn run_client(
        addr: SocketAddr,
        spec: ClientSpec,
        steps: Vec<ClientStep>,
    ) -> Result<ClientRun, ClientFailure>;
}

/// Which handler the server's factory makes.
#[derive(Debug, Clone)]
pub enum HandlerSpec {
    /// The crate's `MaildirHandler` over a Maildir at `root` (created here), with these
    /// users for AUTH.
    Maildir {
        /// The Maildir's directory.
        root: PathBuf,
        /// (user, password) pairs.
        users: Vec<(String, String)>,
    },
    /// A handler with every default of the `Handler` trait (accepts all, refuses AUTH).
    Defaults,
    /// The defaults, except that the first body chunk waits until `gate` opens; body octets
    /// are counted into `received` and the end of message's size stored in `message_size`.
    Stalled {
        /// Opened by the test.
        gate: Arc<Gate>,
        /// Body octets handed to the handler.
        received: Arc<AtomicU64>,
        /// `EndOfMessage::size`.
        message_size: Arc<AtomicU64>,
    },
}

/// A door a handler's future can wait at, opened from any thread (runtime-neutral).
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Gate {
    /// Opens the gate and wakes the waiting future, if any.
    pub fn open(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = true;
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
    }

    /// Resolves once the gate is open.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.0 {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// A server to start.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// The session configuration (timeouts, limits, policy).
    pub config: ServerConfig,
    /// Offer STARTTLS with this certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Also listen for implicit TLS (needs `tls`).
    pub implicit_tls: bool,
    /// The global connection limit.
    pub max_connections: Option<usize>,
    /// How long sessions may finish after a shutdown starts.
    pub shutdown_grace: Duration,
    /// The handler.
    pub handler: HandlerSpec,
}

impl ServerSpec {
    /// Defaults: plaintext, the crate's connection limit, 5 s grace, `handler`.
    pub fn new(config: ServerConfig, handler: HandlerSpec) -> ServerSpec {
        ServerSpec {
            config,
            tls: None,
            implicit_tls: false,
            max_connections: None,
            shutdown_grace: Duration::from_secs(5),
            handler,
        }
    }
}

/// What the server thread hands back once bound.
pub type Bound = Result<(Vec<SocketAddr>, Vec<SocketAddr>, Box<dyn Fn() + Send>), String>;

/// A server running in its own thread.
pub struct RunningServer {
    /// The plaintext (STARTTLS) listener.
    pub addr: SocketAddr,
    /// The implicit-TLS listener, when asked for.
    pub implicit_tls_addr: Option<SocketAddr>,
    shutdown: Option<Box<dyn Fn() + Send>>,
    done: mpsc::Receiver<Result<(), String>>,
}

impl RunningServer {
    /// Spawns `run` (which binds, sends [`Bound`] on its first argument, then serves until
    /// shut down and sends the result on its second) in a thread named `name`, and waits
    /// (bounded) until it is listening.
    pub fn spawn(
        name: &str,
        run: impl FnOnce(mpsc::Sender<Bound>, mpsc::Sender<Result<(), String>>) + Send + 'static,
    ) -> RunningServer {
        let (bound_tx, bound_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("{name}-server"))
            .spawn(move || run(bound_tx, done_tx))
            .expect("spawn the server thread");
        let (addrs, implicit, shutdown) = bound_rx
            .recv_timeout(SERVER_DEADLINE)
            .expect("the server binds in time")
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        RunningServer {
            addr: addrs[0],
            implicit_tls_addr: implicit.first().copied(),
            shutdown: Some(shutdown),
            done: done_rx,
        }
    }

    /// Starts the graceful shutdown (the server stops listening at once).
    pub fn shutdown(&self) {
        if let Some(shutdown) = &self.shutdown {
            shutdown();
        }
    }

    /// Waits (bounded by `deadline`) until `serve` returned, and gives its result.
    pub fn join(mut self, deadline: Duration) -> Result<(), String> {
        let result = self
            .done
            .recv_timeout(deadline)
            .unwrap_or_else(|e| panic!("serve did not return within {deadline:?}: {e}"));
        self.shutdown = None;
        result
    }

    /// Shuts down and checks that `serve` returned `Ok` within [`SERVER_DEADLINE`].
    pub fn stop(self) {
        self.shutdown();
        self.join(SERVER_DEADLINE).expect("serve returns Ok");
    }
}

impl Drop for RunningServer {
    /// A test that failed half-way still ends its server (its thread then exits).
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How the client checks the server's certificate.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Mozilla's roots (the default).
    WebPki,
    /// Exactly this certificate.
    Pinned(CertificateDer<'static>),
    /// Anything (explicit opt-in).
    AcceptAny,
}

/// How the client connects.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// The sans-IO session's configuration.
    pub session: Arc<SessionConfig>,
    /// TLS from the first byte instead of STARTTLS.
    pub implicit_tls: bool,
    /// Certificate check.
    pub trust: Trust,
    /// The name the certificate must carry.
    pub server_name: Option<String>,
}

impl ClientSpec {
    /// STARTTLS as `session.tls` says, default trust.
    pub fn new(session: SessionConfig) -> ClientSpec {
        ClientSpec {
            session: Arc::new(session),
            implicit_tls: false,
            trust: Trust::WebPki,
            server_name: None,
        }
    }
}

/// One thing the client does on the connection.
#[derive(Debug, Clone)]
pub enum ClientStep {
    /// `Client::send` with the body in memory.
    Send(Envelope, Bytes),
    /// `Client::send_reader` with a reader that hands out at most `usize` octets per read.
    Streamed(Envelope, Bytes, usize),
    /// `Client::send_reader` with a reader that never yields a byte and never ends: only a
    /// refusal by the server can end the send.
    NeverEndingBody(Envelope),
}

/// The outcome of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientView {
    /// Delivered, transient or permanent.
    pub class: OutcomeClass,
    /// The code of the final reply covering it (LMTP: its own), if any.
    pub message_code: Option<u16>,
    /// The code of the reply that decided its fate (`RecipientDelivery::reply`).
    pub reply_code: Option<u16>,
    /// Not attempted (server LIMITS).
    pub deferred: bool,
}

/// A `Delivery` in adapter-neutral terms.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    /// `Delivery::all_delivered()`.
    pub all_delivered: bool,
    /// The code of the reply to the end of the message (SMTP), `None` for LMTP.
    pub message_code: Option<u16>,
    /// Per recipient, in envelope order.
    pub recipients: Vec<RecipientView>,
    /// A transaction failed as a whole.
    pub failed: bool,
    /// `{:?}` of the adapter's value, for messages.
    pub debug: String,
}

/// What a successful client run saw.
#[derive(Debug, Clone)]
pub struct ClientRun {
    /// The server announced PIPELINING (in the last EHLO).
    pub pipelining: bool,
    /// The connection is over TLS.
    pub tls: bool,
    /// The code of the AUTH success reply, when the client logged in.
    pub authenticated: Option<u16>,
    /// One per [`ClientStep`].
    pub deliveries: Vec<DeliveryView>,
    /// The code of the reply to QUIT.
    pub quit: Option<u16>,
}

/// Why a client run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFailure {
    /// TLS set-up or handshake (untrusted certificate, ...).
    Tls(String),
    /// AUTH refused with this code.
    AuthFailed(u16),
    /// TLS required but STARTTLS not offered.
    TlsUnavailable,
    /// Replies pipelined after the `220` to STARTTLS (response injection).
    StartTlsInjection,
    /// The server closed the connection, or the socket failed.
    ConnectionLost,
    /// A timeout (`{:?}` of which one).
    Timeout(String),
    /// Anything else (`{:?}` of the adapter's error).
    Other(String),
}

/// Runs `f` in its own thread and waits at most `deadline` for it; a panic in `f` is
/// re-raised here, an overrun fails the test (the thread is left behind).
pub fn run_bounded<T: Send + 'static>(
    what: &str,
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.to_owned())
        .spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        })
        .expect("spawn");
    match rx.recv_timeout(deadline) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} did not finish within {deadline:?}"),
    }
}

/// A body source that hands out at most `max_read` octets per read, so chunk boundaries
/// fall inside lines, CRLFs and leading dots. For every runtime's read trait.
pub struct SmallReads {
    rest: Bytes,
    max_read: usize,
    endless: bool,
}

impl SmallReads {
    /// Reads `body` in pieces of at most `max_read` octets.
    pub fn new(body: Bytes, max_read: usize) -> SmallReads {
        SmallReads {
            rest: body,
            max_read: max_read.max(1),
            endless: false,
        }
    }

    /// A source that never yields a byte and never ends (its reads stay pending).
    pub fn never() -> SmallReads {
        SmallReads {
            rest: Bytes::new(),
            max_read: 1,
            endless: true,
        }
    }

    fn take(&mut self, room: usize) -> Bytes {
        let n = self.rest.len().min(self.max_read).min(room);
        self.rest.split_to(n)
    }
}

impl tokio::io::AsyncRead for SmallReads {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.endless {
            return std::task::Poll::Pending;
        }
        let piece = self.take(buf.remaining());
        buf.put_slice(&piece);
        std::task::Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncRead for SmallReads {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.endless {
            return std::task::Poll::Pending;
        }
        let piece = self.take(buf.len());
        buf[..piece.len()].copy_from_slice(&piece);
        std::task::Poll::Ready(Ok(piece.len()))
    }
}

/// The public API of an `smtp-driver` adapter for runtime `$runtime`, laid out like the
/// adapter crates (`server`, `maildir`, `client` modules), for [`adapter_under_test!`]:
/// smtp-async-std's aliases name one runtime, these name the one asked for.
#[cfg(any(feature = "async-std", feature = "smol"))]
macro_rules! driver_api {
    ($runtime:ty) => {
        pub mod server {
            pub use smtp_driver::server::{ConnectionInfo, Decision, Handler};
            pub type Server = smtp_driver::server::Server<$runtime>;
        }
        pub mod maildir {
            pub type Maildir = smtp_driver::maildir::Maildir<$runtime>;
            pub type MaildirPolicy = smtp_driver::maildir::MaildirPolicy<$runtime>;
            pub type MaildirHandler = smtp_driver::maildir::MaildirHandler<$runtime>;
        }
        pub mod client {
            pub use smtp_driver::client::{ClientConfig, Error, ServerCertificate, TlsMode};
            pub type Client = smtp_driver::client::Client<$runtime>;
        }
    };
}

#[cfg(any(feature = "async-std", feature = "smol"))]
pub(crate) use driver_api;

/// A multi-thread tokio runtime with two workers, for one server or one client.
pub fn tokio_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// Implements [`AdapterUnderTest`] for an adapter crate with smtp-tokio's public API shape:
/// `adapter_under_test!(Type, "product", crate_name, block_on_fn)`.
macro_rules! adapter_under_test {
    ($name:ident, $product:literal, $krate:ident, $block_on:path) => {
        /// The adapter crate
        #[doc = $product]
        /// under the shared suite.
        #[derive(Debug)]
        pub struct $name;

        impl $crate::harness::AdapterUnderTest for $name {
            const PRODUCT: &'static str = $product;

            fn start_server(spec: $crate::harness::ServerSpec) -> $crate::harness::RunningServer {
                use std::sync::Arc;
                use $crate::harness::{HandlerSpec, HOSTNAME};
                use $krate::maildir::{Maildir, MaildirHandler, MaildirPolicy};
                use $krate::server::{ConnectionInfo, Handler, Server};

                /// Every default of the trait.
                struct Defaults;
                impl Handler for Defaults {}

                /// See [`HandlerSpec::Stalled`].
                struct Stalled {
                    gate: Arc<$crate::harness::Gate>,
                    received: Arc<std::sync::atomic::AtomicU64>,
                    message_size: Arc<std::sync::atomic::AtomicU64>,
                }
                impl Handler for Stalled {
                    async fn body(&mut self, chunk: bytes::Bytes) {
                        self.gate.wait().await;
                        self.received
                            .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
                    }
                    async fn end_of_message(
                        &mut self,
                        message: &smtp_proto::server::EndOfMessage,
                    ) -> $krate::server::Decision {
                        self.message_size
                            .store(message.size, std::sync::atomic::Ordering::SeqCst);
                        $krate::server::Decision::Accept
                    }
                }

                $crate::harness::RunningServer::spawn($product, move |bound, done| {
                    let result = $block_on(async move {
                        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                        let maildir_policy = match &spec.handler {
                            HandlerSpec::Maildir { root, users } => {
                                let maildir = match Maildir::create(root, HOSTNAME).await {
                                    Ok(m) => m,
                                    Err(e) => {
                                        let _ = bound.send(Err(format!("maildir: {e}")));
                                        return Ok(());
                                    }
                                };
                                let mut policy = MaildirPolicy::new(maildir, HOSTNAME);
                                for (user, password) in users {
                                    policy = policy.with_user(user.as_str(), password.as_str());
                                }
                                Some(Arc::new(policy))
                            }
                            HandlerSpec::Defaults | HandlerSpec::Stalled { .. } => None,
                        };
                        let mut builder = Server::builder(spec.config)
                            .listen(loopback)
                            .shutdown_grace(spec.shutdown_grace);
                        if let Some(tls) = spec.tls {
                            builder = builder.tls(tls);
                        }
                        if spec.implicit_tls {
                            builder = builder.listen_implicit_tls(loopback);
                        }
                        if let Some(n) = spec.max_connections {
                            builder = builder.max_connections(n);
                        }
                        let server = match builder.bind().await {
                            Ok(server) => server,
                            Err(e) => {
                                let _ = bound.send(Err(format!("bind: {e}")));
                                return Ok(());
                            }
                        };
                        let handle = server.shutdown_handle();
                        let _ = bound.send(Ok((
                            server.local_addrs(),
                            server.implicit_tls_addrs(),
                            Box::new(move || handle.shutdown()) as Box<dyn Fn() + Send>,
                        )));
                        match (maildir_policy, spec.handler) {
                            (Some(policy), _) => {
                                server
                                    .serve(move |c: &ConnectionInfo| {
                                        MaildirHandler::new(Arc::clone(&policy), c)
                                    })
                                    .await
                            }
                            (
                                None,
                                HandlerSpec::Stalled {
                                    gate,
                                    received,
                                    message_size,
                                },
                            ) => {
                                server
                                    .serve(move |_: &ConnectionInfo| Stalled {
                                        gate: Arc::clone(&gate),
                                        received: Arc::clone(&received),
                                        message_size: Arc::clone(&message_size),
                                    })
                                    .await
                            }
                            (None, _) => server.serve(|_: &ConnectionInfo| Defaults).await,
                        }
                    });
                    let _ = done.send(result.map_err(|e| e.to_string()));
                })
            }

            fn run_client(
                addr: std::net::SocketAddr,
                spec: $crate::harness::ClientSpec,
                steps: Vec<$crate::harness::ClientStep>,
            ) -> Result<$crate::harness::ClientRun, $crate::harness::ClientFailure> {
                use smtp_proto::client::ClientError;
                use $crate::harness::{
                    ClientFailure, ClientRun, ClientStep, DeliveryView, RecipientView, SmallReads,
                    Trust,
                };
                use $krate::client::{Client, ClientConfig, Error, ServerCertificate, TlsMode};

                fn failure(e: Error) -> ClientFailure {
                    match e {
                        Error::Tls(e) => ClientFailure::Tls(e.to_string()),
                        Error::Session(ClientError::AuthFailed(reply)) => {
                            ClientFailure::AuthFailed(reply.code().as_u16())
                        }
                        Error::Session(ClientError::TlsUnavailable) => {
                            ClientFailure::TlsUnavailable
                        }
                        Error::Session(ClientError::StartTlsInjection(_)) => {
                            ClientFailure::StartTlsInjection
                        }
                        Error::Session(ClientError::ConnectionLost) | Error::Io(_) => {
                            ClientFailure::ConnectionLost
                        }
                        Error::Timeout(which) => ClientFailure::Timeout(format!("{which:?}")),
                        other => ClientFailure::Other(format!("{other:?}")),
                    }
                }

                $crate::harness::run_bounded(
                    concat!($product, "-client"),
                    $crate::harness::CLIENT_DEADLINE,
                    move || {
                        $block_on(async move {
                            let trust = match spec.trust {
                                Trust::WebPki => ServerCertificate::WebPkiRoots,
                                Trust::Pinned(der) => ServerCertificate::Pinned(der),
                                Trust::AcceptAny => {
                                    ServerCertificate::DangerousAcceptAnyCertificate
                                }
                            };
                            let mut config =
                                ClientConfig::new(spec.session).with_server_certificate(trust);
                            if spec.implicit_tls {
                                config = config.with_tls_mode(TlsMode::Implicit);
                            }
                            if let Some(name) = spec.server_name {
                                config = config.with_tls_server_name(name);
                            }
                            let mut client = Client::connect(&addr.to_string(), &config)
                                .await
                                .map_err(failure)?;
                            let mut run = ClientRun {
                                pipelining: client.capabilities().supports_pipelining(),
                                tls: client.is_tls(),
                                authenticated: client.authenticated().map(|r| r.code().as_u16()),
                                deliveries: Vec::new(),
                                quit: None,
                            };
                            for step in steps {
                                let delivery = match step {
                                    ClientStep::Send(envelope, body) => {
                                        client.send(envelope, body).await
                                    }
                                    ClientStep::Streamed(envelope, body, max_read) => {
                                        let mut reader = SmallReads::new(body, max_read);
                                        client.send_reader(envelope, &mut reader).await
                                    }
                                    ClientStep::NeverEndingBody(envelope) => {
                                        let mut reader = SmallReads::never();
                                        client.send_reader(envelope, &mut reader).await
                                    }
                                }
                                .map_err(failure)?;
                                run.deliveries.push(DeliveryView {
                                    all_delivered: delivery.all_delivered(),
                                    message_code: delivery
                                        .message
                                        .as_ref()
                                        .map(|m| m.reply.code().as_u16()),
                                    recipients: delivery
                                        .recipients
                                        .iter()
                                        .map(|r| RecipientView {
                                            class: r.class(),
                                            message_code: r
                                                .message
                                                .as_ref()
                                                .map(|m| m.reply.code().as_u16()),
                                            reply_code: r.reply().map(|r| r.code().as_u16()),
                                            deferred: r.deferred.is_some(),
                                        })
                                        .collect(),
                                    failed: delivery.failure.is_some(),
                                    debug: format!("{delivery:?}"),
                                });
                            }
                            run.quit = client
                                .quit()
                                .await
                                .map_err(failure)?
                                .map(|r| r.code().as_u16());
                            Ok(run)
                        })
                    },
                )
            }
        }
    };
}

pub(crate) use adapter_under_test;
