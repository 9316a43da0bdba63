//! The tokio client's own paths over real loopback sockets, against a small scripted server
//! in the test: implicit TLS, STARTTLS, a plaintext injection after STARTTLS, timeouts on a
//! paused clock, and a server that closes mid-session.
//!
//! The scripted server is a fixture, not an SMTP implementation: it answers each command
//! line from a fixed table and records what it received.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use smtp_proto::client::{ClientConfig as SessionConfig, ClientError, Envelope, TlsPolicy};
use smtp_proto::{ForwardPath, ParseOptions, ReversePath};
use smtp_tokio::client::{Client, ClientConfig, Error, ServerCertificate, Timeout, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn envelope() -> Envelope {
    let opts = ParseOptions::default();
    Envelope::new(ReversePath::parse(&Bytes::from_static(b"<a@example.org>"), &opts).expect("path"))
        .to(ForwardPath::parse(&Bytes::from_static(b"<b@example.net>"), &opts).expect("path"))
}

fn cert() -> (CertificateDer<'static>, Arc<rustls::ServerConfig>) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    let der = c.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.signing_key.serialize_der()));
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

const EHLO_PIPELINING: &[u8] = b"250-fake.test\r\n250 PIPELINING\r\n";

/// What the scripted server does after `STARTTLS`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterStartTls {
    Handshake,
    /// Sends `220` and, in the same write, an injected plaintext reply.
    Inject,
}

/// Serves one SMTP dialogue on `io`; returns the message bodies received (dot-terminated,
/// still stuffed) and whether it ended with QUIT. `tls` upgrades on STARTTLS.
async fn serve<S>(io: S, ehlo_reply: &'static [u8]) -> (Vec<Vec<u8>>, bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::new(io);
    let mut bodies = Vec::new();
    io.get_mut()
        .write_all(b"220 fake.test ESMTP\r\n")
        .await
        .expect("greet");
    let mut line = Vec::new();
    loop {
        line.clear();
        if io.read_until(b'\n', &mut line).await.expect("read") == 0 {
            return (bodies, false);
        }
        let verb = line
            .get(..4)
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_default();
        let reply: &[u8] = match &verb[..] {
            b"EHLO" => ehlo_reply,
            b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => b"250 2.0.0 ok\r\n",
            b"DATA" => {
                io.get_mut().write_all(b"354 go\r\n").await.expect("354");
                let mut body = Vec::new();
                while !body.ends_with(b"\r\n.\r\n") && body != b".\r\n" {
                    if io.read_until(b'\n', &mut body).await.expect("body") == 0 {
                        return (bodies, false);
                    }
                }
                bodies.push(body);
                b"250 2.0.0 queued\r\n"
            }
            b"QUIT" => {
                io.get_mut()
                    .write_all(b"221 2.0.0 bye\r\n")
                    .await
                    .expect("221");
                return (bodies, true);
            }
            _ => b"502 5.5.2 not here\r\n",
        };
        io.get_mut().write_all(reply).await.expect("reply");
    }
}

#[tokio::test]
async fn implicit_tls_delivers_over_tls_from_the_first_byte() {
    let (der, server_tls) = cert();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let tls = tokio_rustls::TlsAcceptor::from(server_tls)
            .accept(tcp)
            .await
            .expect("handshake");
        serve(tls, EHLO_PIPELINING).await
    });
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    let config = ClientConfig::new(Arc::new(session))
        .with_tls_mode(TlsMode::Implicit)
        .with_server_certificate(ServerCertificate::Pinned(der))
        .with_tls_server_name("localhost");
    let mut client = Client::connect(&addr.to_string(), &config)
        .await
        .expect("connect");
    assert!(client.is_tls());
    let d = client
        .send(
            envelope(),
            Bytes::from_static(b"Subject: x\r\n\r\n.dot\r\n"),
        )
        .await
        .expect("send");
    assert!(d.all_delivered(), "{d:?}");
    client.quit().await.expect("quit");
    let (bodies, quit) = server.await.expect("server");
    assert!(quit);
    assert_eq!(bodies, [b"Subject: x\r\n\r\n..dot\r\n.\r\n".to_vec()]);
}

/// Serves plaintext until STARTTLS, then upgrades (or injects) and serves on.
async fn serve_starttls(
    tcp: tokio::net::TcpStream,
    server_tls: Arc<rustls::ServerConfig>,
    after: AfterStartTls,
) -> (Vec<Vec<u8>>, bool) {
    let mut io = BufReader::new(tcp);
    io.get_mut()
        .write_all(b"220 fake.test ESMTP\r\n")
        .await
        .expect("greet");
    let mut line = Vec::new();
    loop {
        line.clear();
        if io.read_until(b'\n', &mut line).await.expect("read") == 0 {
            return (Vec::new(), false);
        }
        match line.get(..4).map(|v| v.to_ascii_uppercase()).as_deref() {
            Some(b"EHLO") => io
                .get_mut()
                .write_all(b"250-fake.test\r\n250 STARTTLS\r\n")
                .await
                .expect("ehlo"),
            Some(b"STAR") => break,
            _ => io.get_mut().write_all(b"502 no\r\n").await.expect("502"),
        }
    }
    match after {
        AfterStartTls::Inject => {
            io.get_mut()
                .write_all(b"220 go ahead\r\n250 injected\r\n")
                .await
                .expect("220");
            // The client must close without a handshake: wait for that.
            let mut rest = Vec::new();
            let _ = io.read_to_end(&mut rest).await;
            (Vec::new(), false)
        }
        AfterStartTls::Handshake => {
            io.get_mut()
                .write_all(b"220 go ahead\r\n")
                .await
                .expect("220");
            let tcp = io.into_inner();
            let tls = tokio_rustls::TlsAcceptor::from(server_tls)
                .accept(tcp)
                .await
                .expect("handshake");
            // After TLS the client says EHLO again; no greeting is sent (RFC 3207 4.2).
            serve_after_tls(tls).await
        }
    }
}

async fn serve_after_tls<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> (Vec<Vec<u8>>, bool) {
    // `serve` greets first; after STARTTLS there is no greeting, so strip it by serving on a
    // wrapper that swallows the first write.
    serve(SkipFirstWrite { io, skipped: false }, EHLO_PIPELINING).await
}

/// Swallows the first write (the scripted greeting, which must not be sent after STARTTLS).
struct SkipFirstWrite<S> {
    io: S,
    skipped: bool,
}

impl<S: AsyncRead + Unpin> AsyncRead for SkipFirstWrite<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SkipFirstWrite<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if !self.skipped {
            self.skipped = true;
            return std::task::Poll::Ready(Ok(buf.len()));
        }
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn starttls_config(der: CertificateDer<'static>) -> ClientConfig {
    let session = SessionConfig {
        tls: TlsPolicy::Required,
        ..SessionConfig::default()
    };
    ClientConfig::new(Arc::new(session))
        .with_server_certificate(ServerCertificate::Pinned(der))
        .with_tls_server_name("localhost")
}

#[tokio::test]
async fn starttls_upgrades_the_same_connection() {
    let (der, server_tls) = cert();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        serve_starttls(tcp, server_tls, AfterStartTls::Handshake).await
    });
    let mut client = Client::connect(&addr.to_string(), &starttls_config(der))
        .await
        .expect("connect");
    assert!(client.is_tls());
    let d = client
        .send(envelope(), Bytes::from_static(b"hello\r\n"))
        .await
        .expect("send");
    assert!(d.all_delivered(), "{d:?}");
    client.quit().await.expect("quit");
    let (bodies, quit) = server.await.expect("server");
    assert!(quit);
    assert_eq!(bodies, [b"hello\r\n.\r\n".to_vec()]);
}

#[tokio::test]
async fn plaintext_injected_after_starttls_reaches_the_session_and_ends_it() {
    let (der, server_tls) = cert();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        serve_starttls(tcp, server_tls, AfterStartTls::Inject).await
    });
    let result = Client::connect(&addr.to_string(), &starttls_config(der)).await;
    // The injected bytes normally arrive with the 220 in one read, and the session reports
    // the injection. Should they come in a later read, the adapter is already in the
    // handshake and they break it. Either way nothing injected is ever acted upon.
    assert!(
        matches!(
            result,
            Err(Error::Session(ClientError::StartTlsInjection(_))) | Err(Error::Tls(_))
        ),
        "{result:?}"
    );
    drop(result);
    server.await.expect("server");
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_per_the_session_timeouts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Accepts and then says nothing, until the client gives up and closes.
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
    });
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    let config = ClientConfig::new(Arc::new(session));
    // The clock is paused: the five-minute greeting timeout passes as soon as nothing else
    // can happen, without waiting.
    let result = Client::connect(&addr.to_string(), &config).await;
    match result {
        Err(Error::Timeout(Timeout::Reply(smtp_proto::client::Timer::Greeting))) => {}
        other => panic!("expected the greeting timeout, got {other:?}"),
    }
    server.await.expect("server");
}

#[tokio::test]
async fn a_server_that_closes_mid_session_is_an_error_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        tcp.write_all(b"220 fake.test ESMTP\r\n")
            .await
            .expect("greet");
        let mut buf = [0u8; 512];
        let _ = tcp.read(&mut buf).await; // EHLO
        tcp.write_all(b"250 fake.test\r\n").await.expect("ehlo");
        let _ = tcp.read(&mut buf).await; // MAIL
                                          // Close without answering.
    });
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    let mut client = Client::connect(&addr.to_string(), &ClientConfig::new(Arc::new(session)))
        .await
        .expect("connect");
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client.send(envelope(), Bytes::from_static(b"x\r\n")),
    )
    .await
    .expect("no hang");
    assert!(
        matches!(
            result,
            Err(Error::Session(ClientError::ConnectionLost)) | Err(Error::Io(_))
        ),
        "{result:?}"
    );
    server.await.expect("server");
}

#[tokio::test]
async fn recipients_over_the_servers_rcptmax_go_in_further_transactions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        // RFC 9422: at most two recipients per transaction.
        serve(
            tcp,
            b"250-fake.test\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=2\r\n",
        )
        .await
    });
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    let mut client = Client::connect(&addr.to_string(), &ClientConfig::new(Arc::new(session)))
        .await
        .expect("connect");
    let opts = ParseOptions::default();
    let mut envelope = envelope();
    for to in ["<c@example.net>", "<d@example.net>", "<e@example.net>"] {
        envelope = envelope.to(ForwardPath::parse(&Bytes::from(to), &opts).expect("path"));
    }
    let d = client
        .send(
            envelope,
            Bytes::from_static(b"one body, two transactions\r\n"),
        )
        .await
        .expect("send");
    // Four recipients, RCPTMAX=2: two transactions with the same body, every recipient
    // answered and delivered, none left deferred.
    assert_eq!(d.recipients.len(), 4);
    assert!(d.all_delivered(), "{d:?}");
    assert!(d.recipients.iter().all(|r| r.deferred.is_none()));
    client.quit().await.expect("quit");
    let (bodies, quit) = server.await.expect("server");
    assert!(quit);
    assert_eq!(
        bodies,
        vec![b"one body, two transactions\r\n.\r\n".to_vec(); 2]
    );
}

#[tokio::test]
async fn a_refused_data_ends_a_streamed_send_without_waiting_for_the_body() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut io = BufReader::new(tcp);
        io.get_mut()
            .write_all(b"220 fake.test ESMTP\r\n")
            .await
            .expect("greet");
        let mut line = Vec::new();
        loop {
            line.clear();
            if io.read_until(b'\n', &mut line).await.expect("read") == 0 {
                return false;
            }
            let reply: &[u8] = match line.get(..4).map(|v| v.to_ascii_uppercase()).as_deref() {
                Some(b"EHLO") => b"250 fake.test\r\n",
                Some(b"MAIL") | Some(b"RCPT") | Some(b"RSET") => b"250 2.0.0 ok\r\n",
                Some(b"DATA") => b"554 5.7.1 no mail from you today\r\n",
                Some(b"QUIT") => {
                    io.get_mut().write_all(b"221 bye\r\n").await.expect("221");
                    return true;
                }
                _ => b"502 5.5.2 no\r\n",
            };
            io.get_mut().write_all(reply).await.expect("reply");
        }
    });
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    let mut client = Client::connect(&addr.to_string(), &ClientConfig::new(Arc::new(session)))
        .await
        .expect("connect");
    // A body source that never yields a byte and never ends: only the 554 can end the send.
    let (_writer, mut never) = tokio::io::duplex(64);
    let d = tokio::time::timeout(
        Duration::from_secs(30),
        client.send_reader(envelope(), &mut never),
    )
    .await
    .expect("the refusal ends the send")
    .expect("a refusal is a result");
    assert_eq!(
        d.recipients[0].class(),
        smtp_proto::client::OutcomeClass::Permanent
    );
    assert_eq!(
        d.recipients[0].reply().map(|r| r.code().as_u16()),
        Some(554)
    );
    // The session goes on after the refusal: QUIT is sent and answered.
    client.quit().await.expect("quit");
    assert!(server.await.expect("server"));
}

/// Reads whatever one `read` call returns (at most 64 KiB).
async fn one_read(io: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = io.read(&mut buf).await.expect("read");
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn a_pipelined_batch_and_a_body_with_its_dot_each_leave_in_one_write() {
    // A client that splits a batch (say the body, then "\r\n.\r\n" on its own) leaves a small
    // tail that Nagle holds until the peer's delayed ACK: ~40 ms per message. Here the
    // server reads once after each reply; a batch that left in one write arrives in one read
    // on loopback (a split batch could still be merged by the kernel, so this test can only
    // catch splits, never flag a correct client).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut io, _) = listener.accept().await.expect("accept");
        io.write_all(b"220 fake.test ESMTP\r\n")
            .await
            .expect("greet");
        let ehlo = one_read(&mut io).await;
        assert!(ehlo.starts_with(b"EHLO "), "{ehlo:?}");
        io.write_all(b"250-fake.test\r\n250 PIPELINING\r\n")
            .await
            .expect("ehlo");
        let batch = one_read(&mut io).await;
        io.write_all(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n")
            .await
            .expect("replies");
        let body = one_read(&mut io).await;
        io.write_all(b"250 2.0.0 queued\r\n").await.expect("final");
        let quit = one_read(&mut io).await;
        io.write_all(b"221 bye\r\n").await.expect("221");
        (batch, body, quit)
    });
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    let mut client = Client::connect(&addr.to_string(), &ClientConfig::new(Arc::new(session)))
        .await
        .expect("connect");
    let opts = ParseOptions::default();
    let envelope =
        envelope()
            .to(ForwardPath::parse(&Bytes::from_static(b"<c@example.net>"), &opts).expect("path"));
    let d = client
        .send(envelope, Bytes::from_static(b"Subject: x\r\n\r\nbody\r\n"))
        .await
        .expect("send");
    assert!(d.all_delivered(), "{d:?}");
    client.quit().await.expect("quit");
    let (batch, body, quit) = server.await.expect("server");
    let batch = String::from_utf8(batch).expect("ascii");
    assert!(batch.starts_with("MAIL FROM:<a@example.org>"), "{batch}");
    assert_eq!(batch.matches("RCPT TO:").count(), 2, "{batch}");
    assert!(batch.ends_with("DATA\r\n"), "{batch}");
    assert_eq!(body, b"Subject: x\r\n\r\nbody\r\n.\r\n");
    assert_eq!(quit, b"QUIT\r\n");
}
