//! Test bodies generic over the runtime (`AsyncStd`, `Smol`), instantiated per enabled
//! feature by `adapter.rs`. Servers run on the runtime's executor; the peers talking to them
//! are blocking std sockets (and blocking rustls) in the test thread, with read timeouts as
//! bounds, or the crate's own client inside the runtime's `block_on`.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use smtp_driver::client::{Client, ClientConfig, Error, ServerCertificate, TlsMode};
use smtp_driver::maildir::{Maildir, MaildirHandler, MaildirPolicy};
use smtp_driver::runtime::{ReadBody, Runtime};
use smtp_driver::server::{ConnectionInfo, Decision, Handler, Server, ShutdownHandle};
use smtp_proto::client::{ClientConfig as SessionConfig, Credentials, Envelope, OutcomeClass};
use smtp_proto::server::{RcptRequest, ServerConfig};
use smtp_proto::{ForwardPath, ParseOptions, Reply, ReplyCode, ReversePath};

/// Bound on every blocking read of a test peer.
pub(crate) const READ_BOUND: Duration = Duration::from_secs(20);

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A fresh scratch directory.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "smtp-async-std-{name}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The file names in a directory.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A self-signed certificate for `localhost` and the server configuration around it.
pub(crate) fn tls() -> (CertificateDer<'static>, Arc<rustls::ServerConfig>) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let der = generated.cert.der().clone();
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .expect("server config");
    (der, Arc::new(config))
}

/// A running server: its addresses, its shutdown handle, and where `serve`'s result lands.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) implicit_tls: Option<SocketAddr>,
    pub(crate) shutdown: ShutdownHandle,
    done: mpsc::Receiver<Result<(), String>>,
}

impl Running {
    /// Shuts down and waits (bounded) for `serve` to return.
    pub(crate) fn stop(self) {
        self.shutdown.shutdown();
        self.wait();
    }

    /// Waits (bounded) for `serve` to return after a shutdown.
    pub(crate) fn wait(self) {
        let result = self
            .done
            .recv_timeout(Duration::from_secs(60))
            .expect("serve returned");
        result.expect("serve");
    }
}

/// Binds `builder` and serves with `factory` on runtime `R`'s executor.
pub(crate) fn start<R: Runtime, F: smtp_driver::server::HandlerFactory>(
    block_on: BlockOn,
    builder: smtp_driver::server::ServerBuilder<R>,
    factory: F,
) -> Running {
    let (bound_tx, bound_rx) = mpsc::channel();
    block_on(Box::pin(async move {
        let _ = bound_tx.send(builder.bind().await);
    }));
    let server: Server<R> = bound_rx.recv().expect("bound").expect("bind");
    let addr = server.local_addrs()[0];
    let implicit_tls = server.implicit_tls_addrs().first().copied();
    let shutdown = server.shutdown_handle();
    let (done_tx, done) = mpsc::channel();
    R::spawn(async move {
        let result = server.serve(factory).await.map_err(|e| e.to_string());
        let _ = done_tx.send(result);
    });
    Running {
        addr,
        implicit_tls,
        shutdown,
        done,
    }
}

/// A Maildir policy at `dir/maildir` (created on runtime `R`), with one user.
pub(crate) fn maildir_policy<R: Runtime>(block_on: BlockOn, dir: &Path) -> Arc<MaildirPolicy<R>> {
    let root = dir.join("maildir");
    let (tx, rx) = mpsc::channel();
    block_on(Box::pin(async move {
        let _ = tx.send(Maildir::<R>::create(root, "mx.test").await);
    }));
    let maildir = rx.recv().expect("created").expect("maildir");
    Arc::new(MaildirPolicy::new(maildir, "mx.test").with_user("alice", "s3cret"))
}

/// The Maildir handler factory.
pub(crate) fn maildir_factory<R: Runtime>(
    policy: Arc<MaildirPolicy<R>>,
) -> impl Fn(&ConnectionInfo) -> MaildirHandler<R> + Send + Sync + 'static {
    move |c: &ConnectionInfo| MaildirHandler::new(Arc::clone(&policy), c)
}

/// A line-oriented blocking SMTP peer.
pub(crate) struct LinePeer<S: Read + Write> {
    reader: BufReader<S>,
}

impl LinePeer<TcpStream> {
    /// Connects to `addr` with read timeouts.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Self> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(READ_BOUND))?;
        Ok(LinePeer {
            reader: BufReader::new(tcp),
        })
    }
}

impl<S: Read + Write> LinePeer<S> {
    /// Wraps a stream.
    pub(crate) fn new(stream: S) -> Self {
        LinePeer {
            reader: BufReader::new(stream),
        }
    }

    /// One whole reply (all its lines); empty at the end of the stream.
    pub(crate) fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return reply,
                Ok(_) => {}
            }
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    /// Sends raw octets.
    pub(crate) fn send(&mut self, octets: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(octets).expect("write");
        stream.flush().expect("flush");
    }

    /// Sends a command line and reads its reply.
    pub(crate) fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// The stream.
    pub(crate) fn into_inner(self) -> S {
        self.reader.into_inner()
    }
}

fn parse_reverse(s: &str) -> ReversePath {
    ReversePath::parse(
        &Bytes::copy_from_slice(s.as_bytes()),
        &ParseOptions::default(),
    )
    .expect("reverse path")
}

fn parse_forward(s: &str) -> ForwardPath {
    ForwardPath::parse(
        &Bytes::copy_from_slice(s.as_bytes()),
        &ParseOptions::default(),
    )
    .expect("forward path")
}

/// An envelope from `<s@c.test>` to each of `to`.
pub(crate) fn envelope(to: &[&str]) -> Envelope {
    to.iter()
        .fold(Envelope::new(parse_reverse("<s@c.test>")), |e, t| {
            e.to(parse_forward(t))
        })
}

/// The stored messages without their `Received:` header (everything up to the first line
/// that does not start with white space after it).
pub(crate) fn stored_bodies(dir: &Path) -> Vec<Vec<u8>> {
    files(&dir.join("maildir/new"))
        .iter()
        .map(|path| {
            let stored = std::fs::read(path).expect("stored message");
            let mut at = 0;
            // The header is "Received: ...\r\n" plus folded continuation lines.
            for (i, w) in stored.windows(2).enumerate() {
                if w == b"\r\n" && !matches!(stored.get(i + 2), Some(b' ' | b'\t')) {
                    at = i + 2;
                    break;
                }
            }
            stored.get(at..).unwrap_or_default().to_vec()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Server bodies

/// A plaintext delivery with a pipelined envelope and a dot-stuffed body lands in the
/// Maildir byte for byte, with our `Received:` header on top.
pub(crate) fn server_stores_a_message<R: Runtime>(block_on: BlockOn) {
    let dir = scratch("store");
    let policy = maildir_policy::<R>(block_on, &dir);
    let running = start(
        block_on,
        Server::<R>::builder(ServerConfig::new("mx.test")).listen(loopback()),
        maildir_factory(policy),
    );
    let mut peer = LinePeer::connect(running.addr).expect("connect");
    assert!(peer.reply().starts_with("220 mx.test "));
    let ehlo = peer.cmd("EHLO c.test");
    assert!(ehlo.contains("PIPELINING"), "{ehlo}");
    peer.send(b"MAIL FROM:<s@c.test>\r\nRCPT TO:<r@mx.test>\r\nDATA\r\n");
    assert!(peer.reply().starts_with("250"));
    assert!(peer.reply().starts_with("250"));
    assert!(peer.reply().starts_with("354"));
    peer.send(b"Subject: t\r\n\r\n..leading dot\r\nline\r\n.\r\n");
    let queued = peer.reply();
    assert!(queued.starts_with("250 2.0.0 Ok: queued as "), "{queued}");
    assert!(peer.cmd("QUIT").starts_with("221"));
    running.stop();
    let stored = files(&dir.join("maildir/new"));
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8(std::fs::read(&stored[0]).expect("read")).expect("utf-8");
    assert!(
        text.starts_with("Received: from c.test ([127.0.0.1])"),
        "{text}"
    );
    assert!(
        text.contains("by mx.test (smtp-async-std) with ESMTP"),
        "{text}"
    );
    assert_eq!(
        stored_bodies(&dir),
        vec![b"Subject: t\r\n\r\n.leading dot\r\nline\r\n".to_vec()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// STARTTLS upgrades the connection; a command pipelined behind STARTTLS in the same packet
/// is discarded (RFC 3207 4.2, the injection attack), and AUTH works under TLS.
pub(crate) fn server_starttls_discards_injected_commands_and_authenticates<R: Runtime>(
    block_on: BlockOn,
) {
    let dir = scratch("starttls");
    let policy = maildir_policy::<R>(block_on, &dir);
    let (der, tls) = tls();
    let mut config = ServerConfig::new("mx.test");
    config.extensions.auth = vec![smtp_proto::sasl::Mechanism::Plain];
    let running = start(
        block_on,
        Server::<R>::builder(config).listen(loopback()).tls(tls),
        maildir_factory(policy),
    );
    let mut peer = LinePeer::connect(running.addr).expect("connect");
    assert!(peer.reply().starts_with("220 "));
    assert!(peer.cmd("EHLO c.test").contains("STARTTLS"));
    peer.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
    assert!(peer.reply().starts_with("220 "));
    let tcp = peer.into_inner();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).expect("root");
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(client),
        ServerName::try_from("localhost").expect("name"),
    )
    .expect("client connection");
    let mut peer = LinePeer::new(rustls::StreamOwned::new(conn, tcp));
    let ehlo = peer.cmd("EHLO c.test");
    assert!(ehlo.starts_with("250-mx.test"), "{ehlo}");
    assert!(ehlo.contains("AUTH PLAIN"), "{ehlo}");
    // The injected MAIL was never executed: a RCPT now has no transaction.
    assert!(peer.cmd("RCPT TO:<r@mx.test>").starts_with("503"));
    // AUTH PLAIN \0alice\0s3cret
    assert!(peer
        .cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA==")
        .starts_with("235"));
    assert!(peer.cmd("MAIL FROM:<s@c.test>").starts_with("250"));
    assert!(peer.cmd("RCPT TO:<r@mx.test>").starts_with("250"));
    assert!(peer.cmd("DATA").starts_with("354"));
    assert!(peer
        .cmd("Subject: tls\r\n\r\nsecret\r\n.")
        .starts_with("250 "));
    assert!(peer.cmd("QUIT").starts_with("221"));
    running.stop();
    let stored = files(&dir.join("maildir/new"));
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8(std::fs::read(&stored[0]).expect("read")).expect("utf-8");
    assert!(
        text.contains("with ESMTPSA"),
        "TLS and AUTH in Received: {text}"
    );
    assert_eq!(
        stored_bodies(&dir),
        vec![b"Subject: tls\r\n\r\nsecret\r\n".to_vec()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Over the connection limit a client gets `421 4.3.2` (without an enhanced code before
/// EHLO) and is closed; a slot frees up when a client leaves.
pub(crate) fn server_over_the_limit_says_421<R: Runtime>(block_on: BlockOn) {
    struct AcceptAll;
    impl Handler for AcceptAll {}
    let running = start(
        block_on,
        Server::<R>::builder(ServerConfig::new("mx.test"))
            .listen(loopback())
            .max_connections(1),
        |_: &ConnectionInfo| AcceptAll,
    );
    let mut first = LinePeer::connect(running.addr).expect("connect");
    assert!(first.reply().starts_with("220 "));
    let mut second = LinePeer::connect(running.addr).expect("connect");
    assert_eq!(
        second.reply(),
        "421 Too many connections, try again later\r\n"
    );
    assert_eq!(second.reply(), "", "closed after the 421");
    assert!(first.cmd("QUIT").starts_with("221"));
    assert_eq!(first.reply(), "");
    let mut third = loop {
        // The server counts the finished connection out asynchronously; a refusal in
        // between is the limit working, so try again.
        let mut c = LinePeer::connect(running.addr).expect("connect");
        let r = c.reply();
        if r.starts_with("220 ") {
            break c;
        }
        assert!(r.starts_with("421 "), "{r}");
    };
    assert!(third.cmd("QUIT").starts_with("221"));
    running.stop();
}

/// A graceful shutdown lets a session finish its message during the grace period, then
/// tells the idle one `421 4.3.2`, and `serve` returns with the listener closed.
pub(crate) fn server_shutdown_is_graceful<R: Runtime>(block_on: BlockOn) {
    let dir = scratch("shutdown");
    let policy = maildir_policy::<R>(block_on, &dir);
    let running = start(
        block_on,
        Server::<R>::builder(ServerConfig::new("mx.test"))
            .listen(loopback())
            .shutdown_grace(Duration::from_secs(2)),
        maildir_factory(policy),
    );
    let addr = running.addr;
    let mut busy = LinePeer::connect(addr).expect("connect");
    assert!(busy.reply().starts_with("220 "));
    assert!(busy.cmd("EHLO c.test").starts_with("250"));
    let mut idle = LinePeer::connect(addr).expect("connect");
    assert!(idle.reply().starts_with("220 "));
    assert!(idle.cmd("EHLO c.test").starts_with("250"));
    assert!(busy.cmd("MAIL FROM:<s@c.test>").starts_with("250"));
    running.shutdown.shutdown();
    assert!(busy.cmd("RCPT TO:<r@mx.test>").starts_with("250"));
    assert!(busy.cmd("DATA").starts_with("354"));
    assert!(busy
        .cmd("Subject: late\r\n\r\nstill accepted\r\n.")
        .starts_with("250 "));
    assert!(busy.cmd("QUIT").starts_with("221"));
    let r = idle.reply();
    assert!(r.starts_with("421 4.3.2 "), "{r:?}");
    assert_eq!(idle.reply(), "");
    running.wait();
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
    assert_eq!(files(&dir.join("maildir/new")).len(), 1);
    assert!(files(&dir.join("maildir/tmp")).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// An idle client is closed with `421 4.4.2` by the session's timer; a connection broken
/// in the middle of DATA leaves nothing in `new/` or `tmp/`.
pub(crate) fn server_timeouts_and_broken_connections<R: Runtime>(block_on: BlockOn) {
    let dir = scratch("timeouts");
    let policy = maildir_policy::<R>(block_on, &dir);
    let mut config = ServerConfig::new("mx.test");
    config.timeouts.command = Duration::from_millis(300);
    let running = start(
        block_on,
        Server::<R>::builder(config).listen(loopback()),
        maildir_factory(policy),
    );
    let mut idle = LinePeer::connect(running.addr).expect("connect");
    assert!(idle.reply().starts_with("220 "));
    assert!(idle.cmd("EHLO c.test").starts_with("250"));
    let r = idle.reply();
    assert!(r.starts_with("421 4.4.2 "), "{r:?}");
    assert_eq!(idle.reply(), "");

    let mut cut = LinePeer::connect(running.addr).expect("connect");
    assert!(cut.reply().starts_with("220 "));
    assert!(cut.cmd("EHLO c.test").starts_with("250"));
    assert!(cut.cmd("MAIL FROM:<s@c.test>").starts_with("250"));
    assert!(cut.cmd("RCPT TO:<r@mx.test>").starts_with("250"));
    assert!(cut.cmd("DATA").starts_with("354"));
    cut.send(b"Subject: cut\r\n\r\nhalf a message\r\n");
    drop(cut);
    // serve returns once every connection task ended, so the abort has been handled.
    running.stop();
    assert!(files(&dir.join("maildir/new")).is_empty());
    assert!(files(&dir.join("maildir/tmp")).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// Client bodies

/// The async block handed to a runtime's `block_on` by the instantiating macro.
pub(crate) type BlockOn = fn(Pin<Box<dyn std::future::Future<Output = ()> + Send>>);

/// Runs `future` on the runtime and returns its output.
pub(crate) fn run<T: Send + 'static>(
    block_on: BlockOn,
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    block_on(Box::pin(async move {
        let _ = tx.send(future.await);
    }));
    rx.recv().expect("the future ran")
}

/// A handler that refuses recipients whose domain is `refused.test` and otherwise stores
/// like the Maildir handler.
struct RefusingMaildir<R: Runtime> {
    store: MaildirHandler<R>,
}

impl<R: Runtime> Handler for RefusingMaildir<R> {
    async fn helo(&mut self, request: &smtp_proto::server::HeloRequest) -> Decision {
        self.store.helo(request).await
    }
    async fn mail(&mut self, request: &smtp_proto::server::MailRequest) -> Decision {
        self.store.mail(request).await
    }
    async fn rcpt(&mut self, request: &RcptRequest) -> Decision {
        if request.forward_path.to_string().ends_with("@refused.test>") {
            return Decision::Reject(Reply::new(
                ReplyCode::new(550).expect("code"),
                None,
                "no such user",
            ));
        }
        self.store.rcpt(request).await
    }
    async fn data_start(&mut self, request: &smtp_proto::server::DataStart) -> Decision {
        self.store.data_start(request).await
    }
    async fn body(&mut self, chunk: Bytes) {
        self.store.body(chunk).await
    }
    async fn end_of_message(&mut self, message: &smtp_proto::server::EndOfMessage) -> Decision {
        self.store.end_of_message(message).await
    }
    async fn message_aborted(&mut self, reason: smtp_proto::server::AbortReason) {
        self.store.message_aborted(reason).await
    }
    async fn reset(&mut self) {
        self.store.reset().await
    }
    async fn auth(&mut self, request: &smtp_proto::server::AuthRequest) -> Decision {
        self.store.auth(request).await
    }
    async fn tls_established(&mut self, info: &smtp_proto::TlsInfo) {
        self.store.tls_established(info).await
    }
}

/// A `futures-io` reader handing out at most `max` octets per read.
pub(crate) struct SmallReads {
    data: Vec<u8>,
    at: usize,
    max: usize,
}

impl futures_io::AsyncRead for SmallReads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let rest = self.data.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len()).min(self.max);
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Poll::Ready(Ok(n))
    }
}

fn session(credentials: bool) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        tls: smtp_proto::client::TlsPolicy::None,
        credentials: credentials.then(|| Credentials::password("alice", "s3cret")),
        ..SessionConfig::default()
    })
}

/// Several messages on one connection, with per-recipient results (one recipient refused),
/// one of them streamed from a `futures-io` reader in small reads; every body arrives byte
/// for byte.
pub(crate) fn client_delivers_several_messages_with_per_recipient_results<R>(block_on: BlockOn)
where
    R: Runtime + ReadBody<SmallReads>,
{
    let dir = scratch("client");
    let policy = maildir_policy::<R>(block_on, &dir);
    let running = start(
        block_on,
        Server::<R>::builder(ServerConfig::new("mx.test")).listen(loopback()),
        move |c: &ConnectionInfo| RefusingMaildir {
            store: MaildirHandler::new(Arc::clone(&policy), c),
        },
    );
    let addr = running.addr.to_string();
    let deliveries = run(block_on, async move {
        let config = ClientConfig::new(session(false));
        let mut client = Client::<R>::connect(&addr, &config).await?;
        assert!(client.capabilities().supports_pipelining());
        let first = client
            .send(
                envelope(&["<a@mx.test>", "<b@refused.test>", "<c@mx.test>"]),
                Bytes::from_static(b"Subject: one\r\n\r\n.dot\r\n"),
            )
            .await?;
        let mut body = SmallReads {
            data: b"Subject: two\r\n\r\n"
                .iter()
                .chain(&[b'x'; 70_000])
                .copied()
                .collect(),
            at: 0,
            max: 1000,
        };
        let second = client
            .send_reader(envelope(&["<d@mx.test>"]), &mut body)
            .await?;
        let quit = client.quit().await?;
        Ok::<_, Error>((first, second, quit))
    });
    let (first, second, quit) = deliveries.expect("client run");
    let classes: Vec<OutcomeClass> = first.recipients.iter().map(|r| r.class()).collect();
    assert_eq!(
        classes,
        vec![
            OutcomeClass::Success,
            OutcomeClass::Permanent,
            OutcomeClass::Success
        ]
    );
    assert_eq!(
        first.recipients[1].reply().map(|r| r.code().as_u16()),
        Some(550)
    );
    assert!(!first.all_delivered());
    assert!(second.all_delivered());
    assert_eq!(quit.map(|r| r.code().as_u16()), Some(221));
    running.stop();
    let mut bodies = stored_bodies(&dir);
    bodies.sort_by_key(Vec::len);
    let mut big = b"Subject: two\r\n\r\n".to_vec();
    big.extend_from_slice(&[b'x'; 70_000]);
    big.extend_from_slice(b"\r\n");
    assert_eq!(bodies, vec![b"Subject: one\r\n\r\n.dot\r\n".to_vec(), big]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// STARTTLS required with a pinned certificate plus AUTH, and implicit TLS: both deliver
/// over TLS.
pub(crate) fn client_over_starttls_with_auth_and_implicit_tls<R: Runtime>(block_on: BlockOn) {
    let dir = scratch("client-tls");
    let policy = maildir_policy::<R>(block_on, &dir);
    let (der, tls) = tls();
    let mut config = ServerConfig::new("mx.test");
    config.extensions.auth = vec![smtp_proto::sasl::Mechanism::Plain];
    let running = start(
        block_on,
        Server::<R>::builder(config)
            .listen(loopback())
            .listen_implicit_tls(loopback())
            .tls(tls),
        maildir_factory(policy),
    );
    let plain = running.addr.to_string();
    let implicit = running
        .implicit_tls
        .expect("implicit TLS listener")
        .to_string();
    let results = run(block_on, async move {
        let mut required = (*session(true)).clone();
        required.tls = smtp_proto::client::TlsPolicy::Required;
        let starttls = ClientConfig::new(Arc::new(required))
            .with_server_certificate(ServerCertificate::Pinned(der.clone()))
            .with_tls_server_name("localhost");
        let mut client = Client::<R>::connect(&plain, &starttls).await?;
        let tls_up = client.is_tls();
        let authenticated = client.authenticated().map(|r| r.code().as_u16());
        let one = client
            .send(
                envelope(&["<a@mx.test>"]),
                Bytes::from_static(b"Subject: s\r\n\r\nstarttls\r\n"),
            )
            .await?;
        client.quit().await?;

        let implicit_config = ClientConfig::new(session(true))
            .with_tls_mode(TlsMode::Implicit)
            .with_server_certificate(ServerCertificate::Pinned(der))
            .with_tls_server_name("localhost");
        let mut client = Client::<R>::connect(&implicit, &implicit_config).await?;
        let implicit_tls = client.is_tls();
        let two = client
            .send(
                envelope(&["<b@mx.test>"]),
                Bytes::from_static(b"Subject: i\r\n\r\nimplicit\r\n"),
            )
            .await?;
        client.quit().await?;
        Ok::<_, Error>((tls_up, authenticated, one, implicit_tls, two))
    });
    let (tls_up, authenticated, one, implicit_tls, two) = results.expect("client runs");
    assert!(tls_up && implicit_tls);
    assert_eq!(authenticated, Some(235));
    assert!(one.all_delivered() && two.all_delivered());
    running.stop();
    assert_eq!(files(&dir.join("maildir/new")).len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that accepts the connection and never greets: the session's greeting timeout
/// ends the client with a timeout, not a hang; a pinned certificate that does not match is
/// a TLS error.
pub(crate) fn client_timeouts_and_certificate_mismatch<R: Runtime>(block_on: BlockOn) {
    let silent = TcpListener::bind(loopback()).expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let result = run(block_on, async move {
        let mut impatient = (*session(false)).clone();
        impatient.timeouts.greeting = Duration::from_millis(300);
        let config = ClientConfig::new(Arc::new(impatient));
        Client::<R>::connect(&addr, &config).await.map(|_| ())
    });
    assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
    drop(silent);

    let (_, tls) = tls();
    let (other, _) = self::tls();
    let running = start(
        block_on,
        Server::<R>::builder(ServerConfig::new("mx.test"))
            .listen_implicit_tls(loopback())
            .listen(loopback())
            .tls(tls),
        |_: &ConnectionInfo| Defaults,
    );
    let implicit = running.implicit_tls.expect("implicit").to_string();
    let result = run(block_on, async move {
        let config = ClientConfig::new(session(false))
            .with_tls_mode(TlsMode::Implicit)
            .with_server_certificate(ServerCertificate::Pinned(other))
            .with_tls_server_name("localhost");
        Client::<R>::connect(&implicit, &config).await.map(|_| ())
    });
    assert!(matches!(result, Err(Error::Tls(_))), "{result:?}");
    running.stop();
}

/// Every default of the trait.
struct Defaults;

impl Handler for Defaults {}
