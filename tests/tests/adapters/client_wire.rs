//! The client's own paths over loopback against a small scripted std-net server (a fixture,
//! not an SMTP implementation: it answers each command line from a fixed table and records
//! what it received): implicit TLS, STARTTLS, a plaintext injection after STARTTLS, a silent
//! server, a server that closes, RFC 9422 LIMITS, a refused DATA during a streamed body, and
//! one write per flight. Then the client and server of each adapter against those of
//! smtp-tokio, both ways.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use smtp_proto::client::{ClientConfig as SessionConfig, Credentials, OutcomeClass, TlsPolicy};

use crate::common::*;
use crate::harness::{AdapterUnderTest, ClientFailure, ClientSpec, ClientStep, Trust};
use crate::support::{envelope, forward_path};

const FIXTURE_DEADLINE: Duration = Duration::from_secs(60);

/// A scripted server on 127.0.0.1 serving one connection in its own thread.
struct Fixture<T> {
    addr: SocketAddr,
    result: mpsc::Receiver<T>,
}

impl<T: Send + 'static> Fixture<T> {
    fn start(script: impl FnOnce(TcpStream) -> T + Send + 'static) -> Fixture<T> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            tcp.set_read_timeout(Some(FIXTURE_DEADLINE))
                .expect("timeout");
            let _ = tx.send(script(tcp));
        });
        Fixture { addr, result: rx }
    }

    /// What the script returned (bounded).
    fn join(self) -> T {
        self.result
            .recv_timeout(FIXTURE_DEADLINE)
            .expect("the scripted server finished")
    }
}

const EHLO_PIPELINING: &[u8] = b"250-fake.test\r\n250 PIPELINING\r\n";
const EHLO_STARTTLS: &[u8] = b"250-fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";

/// Reads one line (with its LF) into `line`; `false` at EOF.
fn read_line(io: &mut impl BufRead, line: &mut Vec<u8>) -> bool {
    line.clear();
    io.read_until(b'\n', line).unwrap_or(0) > 0
}

/// What the table-driven fixture does on STARTTLS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnStartTls {
    /// Not offered: `502`.
    Refuse,
    /// Stop serving and return (the caller upgrades).
    Upgrade,
}

/// Serves one dialogue: greeting (when `greet`), then each command from the table; returns
/// the bodies received (dot-terminated, still stuffed), whether it ended with QUIT, and
/// whether it stopped at STARTTLS.
fn serve(
    io: &mut BufReader<impl Read + Write>,
    greet: bool,
    ehlo: &[u8],
    starttls: OnStartTls,
) -> (Vec<Vec<u8>>, bool, bool) {
    let mut bodies = Vec::new();
    if greet {
        io.get_mut()
            .write_all(b"220 fake.test ESMTP\r\n")
            .expect("greet");
    }
    let mut line = Vec::new();
    loop {
        if !read_line(io, &mut line) {
            return (bodies, false, false);
        }
        let verb = line
            .get(..4)
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_default();
        let reply: &[u8] = match &verb[..] {
            b"EHLO" => ehlo,
            b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => b"250 2.0.0 ok\r\n",
            b"STAR" if starttls == OnStartTls::Upgrade => return (bodies, false, true),
            b"DATA" => {
                io.get_mut().write_all(b"354 go\r\n").expect("354");
                let mut body = Vec::new();
                while !body.ends_with(b"\r\n.\r\n") && body != b".\r\n" {
                    if io.read_until(b'\n', &mut body).unwrap_or(0) == 0 {
                        return (bodies, false, false);
                    }
                }
                bodies.push(body);
                b"250 2.0.0 queued\r\n"
            }
            b"QUIT" => {
                io.get_mut().write_all(b"221 2.0.0 bye\r\n").expect("221");
                return (bodies, true, false);
            }
            _ => b"502 5.5.2 not here\r\n",
        };
        io.get_mut().write_all(reply).expect("reply");
    }
}

fn tls_accept(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
) -> rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    let mut conn = rustls::ServerConnection::new(config).expect("TLS server");
    let mut tcp = tcp;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).expect("TLS handshake");
    }
    rustls::StreamOwned::new(conn, tcp)
}

fn plain() -> SessionConfig {
    SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    }
}

fn pinned(session: SessionConfig, cert: &TestCert) -> ClientSpec {
    let mut spec = ClientSpec::new(session);
    spec.trust = Trust::Pinned(cert.der.clone());
    spec.server_name = Some("localhost".to_owned());
    spec
}

fn one_message(body: &'static [u8]) -> Vec<ClientStep> {
    vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>"]),
        Bytes::from_static(body),
    )]
}

pub fn client_implicit_tls_delivers_over_tls_from_the_first_byte<A: AdapterUnderTest>() {
    let dir = scratch_dir("client-implicit");
    let cert = test_cert(&dir);
    let server_tls = Arc::clone(&cert.config);
    let fixture = Fixture::start(move |tcp| {
        let mut io = BufReader::new(tls_accept(tcp, server_tls));
        serve(&mut io, true, EHLO_PIPELINING, OnStartTls::Refuse)
    });
    let mut spec = pinned(plain(), &cert);
    spec.implicit_tls = true;
    let run = A::run_client(
        fixture.addr,
        spec,
        one_message(b"Subject: x\r\n\r\n.dot\r\n"),
    )
    .expect("client run");
    assert!(run.tls);
    assert!(
        run.deliveries[0].all_delivered,
        "{}",
        run.deliveries[0].debug
    );
    let (bodies, quit, _) = fixture.join();
    assert!(quit);
    assert_eq!(bodies, [b"Subject: x\r\n\r\n..dot\r\n.\r\n".to_vec()]);
    let _ = std::fs::remove_dir_all(dir);
}

/// Serves plaintext until STARTTLS; then upgrades (or, with `inject`, sends the `220` and
/// an injected reply in one write and stops).
fn starttls_fixture(
    config: Arc<rustls::ServerConfig>,
    inject: bool,
) -> Fixture<(Vec<Vec<u8>>, bool)> {
    Fixture::start(move |tcp| {
        let mut io = BufReader::new(tcp);
        let (_, _, at_starttls) = serve(&mut io, true, EHLO_STARTTLS, OnStartTls::Upgrade);
        assert!(at_starttls, "the client did not send STARTTLS");
        assert!(
            io.buffer().is_empty(),
            "the client sent more after STARTTLS"
        );
        let mut tcp = io.into_inner();
        if inject {
            tcp.write_all(b"220 2.0.0 go ahead\r\n250 2.0.0 injected\r\n")
                .expect("inject");
            // Wait for the client to give up (close), bounded by the read timeout.
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest);
            return (Vec::new(), false);
        }
        tcp.write_all(b"220 2.0.0 go ahead\r\n").expect("220");
        let mut io = BufReader::new(tls_accept(tcp, config));
        let (bodies, quit, _) = serve(&mut io, false, EHLO_PIPELINING, OnStartTls::Refuse);
        (bodies, quit)
    })
}

fn required_tls(cert: &TestCert) -> ClientSpec {
    pinned(
        SessionConfig {
            tls: TlsPolicy::Required,
            ..SessionConfig::default()
        },
        cert,
    )
}

pub fn client_starttls_upgrades_the_same_connection<A: AdapterUnderTest>() {
    let dir = scratch_dir("client-starttls");
    let cert = test_cert(&dir);
    let fixture = starttls_fixture(Arc::clone(&cert.config), false);
    let run = A::run_client(fixture.addr, required_tls(&cert), one_message(b"hello\r\n"))
        .expect("client run");
    assert!(run.tls);
    assert!(run.deliveries[0].all_delivered);
    let (bodies, quit) = fixture.join();
    assert!(quit);
    assert_eq!(bodies, [b"hello\r\n.\r\n".to_vec()]);
    let _ = std::fs::remove_dir_all(dir);
}

/// Replies injected after the `220` to STARTTLS end the session: nothing injected is acted
/// upon, no MAIL leaves in plaintext.
pub fn client_refuses_replies_injected_after_starttls<A: AdapterUnderTest>() {
    let dir = scratch_dir("client-injection");
    let cert = test_cert(&dir);
    let fixture = starttls_fixture(Arc::clone(&cert.config), true);
    let result = A::run_client(fixture.addr, required_tls(&cert), one_message(b"x\r\n"));
    // The injected bytes normally arrive with the 220 in one read and the session reports
    // the injection; in a later read they would break the handshake instead.
    assert!(
        matches!(
            result,
            Err(ClientFailure::StartTlsInjection) | Err(ClientFailure::Tls(_))
        ),
        "{result:?}"
    );
    let (bodies, _) = fixture.join();
    assert!(bodies.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// A server that accepts and says nothing: the greeting timeout (here 500 ms) ends it.
pub fn client_times_out_on_a_silent_server<A: AdapterUnderTest>() {
    let fixture = Fixture::start(|mut tcp| {
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
    });
    let mut session = plain();
    session.timeouts.greeting = Duration::from_millis(500);
    let result = A::run_client(fixture.addr, ClientSpec::new(session), Vec::new());
    match result {
        Err(ClientFailure::Timeout(which)) => assert!(which.contains("Greeting"), "{which}"),
        other => panic!("expected the greeting timeout, got {other:?}"),
    }
    fixture.join();
}

pub fn client_sees_a_server_that_closes_mid_session_as_an_error<A: AdapterUnderTest>() {
    let fixture = Fixture::start(|mut tcp| {
        tcp.write_all(b"220 fake.test ESMTP\r\n").expect("greet");
        let mut buf = [0u8; 512];
        let _ = tcp.read(&mut buf); // EHLO
        tcp.write_all(b"250 fake.test\r\n").expect("ehlo");
        let _ = tcp.read(&mut buf); // MAIL
                                    // Close without answering.
    });
    let result = A::run_client(
        fixture.addr,
        ClientSpec::new(plain()),
        one_message(b"x\r\n"),
    );
    assert_eq!(result.err(), Some(ClientFailure::ConnectionLost));
    fixture.join();
}

/// RFC 9422 LIMITS RCPTMAX=2 and four recipients: two transactions with the same body.
pub fn client_sends_recipients_over_rcptmax_in_further_transactions<A: AdapterUnderTest>() {
    let fixture = Fixture::start(|tcp| {
        let mut io = BufReader::new(tcp);
        serve(
            &mut io,
            true,
            b"250-fake.test\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=2\r\n",
            OnStartTls::Refuse,
        )
    });
    let mut envelope = envelope("<a@example.org>", &["<b@example.net>"]);
    for to in ["<c@example.net>", "<d@example.net>", "<e@example.net>"] {
        envelope = envelope.to(forward_path(to));
    }
    let steps = vec![ClientStep::Send(
        envelope,
        Bytes::from_static(b"one body, two transactions\r\n"),
    )];
    let run = A::run_client(fixture.addr, ClientSpec::new(plain()), steps).expect("run");
    let d = &run.deliveries[0];
    assert_eq!(d.recipients.len(), 4);
    assert!(d.all_delivered, "{}", d.debug);
    assert!(d.recipients.iter().all(|r| !r.deferred), "{}", d.debug);
    let (bodies, quit, _) = fixture.join();
    assert!(quit);
    assert_eq!(
        bodies,
        vec![b"one body, two transactions\r\n.\r\n".to_vec(); 2]
    );
}

/// A body source that never yields: only the server's `554` to DATA can end the send; the
/// session goes on (QUIT answered).
pub fn client_ends_a_streamed_send_on_a_refused_data<A: AdapterUnderTest>() {
    let fixture = Fixture::start(|tcp| {
        let mut io = BufReader::new(tcp);
        io.get_mut()
            .write_all(b"220 fake.test ESMTP\r\n")
            .expect("greet");
        let mut line = Vec::new();
        while read_line(&mut io, &mut line) {
            let reply: &[u8] = match line.get(..4).map(|v| v.to_ascii_uppercase()).as_deref() {
                Some(b"EHLO") => b"250 fake.test\r\n",
                Some(b"MAIL") | Some(b"RCPT") | Some(b"RSET") => b"250 2.0.0 ok\r\n",
                Some(b"DATA") => b"554 5.7.1 no mail from you today\r\n",
                Some(b"QUIT") => {
                    io.get_mut().write_all(b"221 bye\r\n").expect("221");
                    return true;
                }
                _ => b"502 5.5.2 no\r\n",
            };
            io.get_mut().write_all(reply).expect("reply");
        }
        false
    });
    let steps = vec![ClientStep::NeverEndingBody(envelope(
        "<a@example.org>",
        &["<b@example.net>"],
    ))];
    let run = A::run_client(fixture.addr, ClientSpec::new(plain()), steps).expect("a result");
    let r = &run.deliveries[0].recipients[0];
    assert_eq!(r.class, OutcomeClass::Permanent);
    assert_eq!(r.reply_code, Some(554));
    assert_eq!(run.quit, Some(221));
    assert!(fixture.join(), "QUIT reached the server");
}

/// Whatever one read returns (at most 64 KiB).
fn one_read(io: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = io.read(&mut buf).expect("read");
    buf.truncate(n);
    buf
}

/// A pipelined batch, and a body with its final dot, each leave in one write: the fixture
/// reads once after each reply and gets each flight whole. (A split flight could still be
/// merged by the kernel, so this can only catch splits, never flag a correct client.)
pub fn client_writes_each_flight_in_one_write<A: AdapterUnderTest>() {
    let fixture = Fixture::start(|mut io| {
        io.write_all(b"220 fake.test ESMTP\r\n").expect("greet");
        let ehlo = one_read(&mut io);
        assert!(ehlo.starts_with(b"EHLO "), "{ehlo:?}");
        io.write_all(b"250-fake.test\r\n250 PIPELINING\r\n")
            .expect("ehlo");
        let batch = one_read(&mut io);
        io.write_all(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n")
            .expect("replies");
        let body = one_read(&mut io);
        io.write_all(b"250 2.0.0 queued\r\n").expect("final");
        let quit = one_read(&mut io);
        io.write_all(b"221 bye\r\n").expect("221");
        (batch, body, quit)
    });
    let steps = vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>", "<c@example.net>"]),
        Bytes::from_static(b"Subject: x\r\n\r\nbody\r\n"),
    )];
    let run = A::run_client(fixture.addr, ClientSpec::new(plain()), steps).expect("run");
    assert!(run.deliveries[0].all_delivered);
    let (batch, body, quit) = fixture.join();
    let batch = String::from_utf8_lossy(&batch);
    assert!(batch.starts_with("MAIL FROM:<a@example.org>"), "{batch}");
    assert_eq!(batch.matches("RCPT TO:").count(), 2, "{batch}");
    assert!(batch.ends_with("DATA\r\n"), "{batch}");
    assert_eq!(body, b"Subject: x\r\n\r\nbody\r\n.\r\n");
    assert_eq!(quit, b"QUIT\r\n");
}

// ---- adapter against adapter -----------------------------------------------------------

/// `client`'s client delivers to `server`'s Maildir server over STARTTLS with AUTH PLAIN or
/// LOGIN (pinned certificate), then over implicit TLS; byte-exact.
fn client_to_server<C: AdapterUnderTest, S: AdapterUnderTest>() {
    let server = TestServer::start::<S>(
        "pair",
        Options {
            tls: true,
            implicit_tls: true,
            users: vec![("dora", "pw dora")],
            ..Options::default()
        },
    );
    let body = Bytes::from_static(b"Subject: pair\r\n\r\n.dot\r\nbare lf\nend\r\n");
    let canonical = b"Subject: pair\r\n\r\n.dot\r\nbare lf\r\nend\r\n";
    let session = SessionConfig {
        tls: TlsPolicy::Required,
        credentials: Some(Credentials::password("dora", "pw dora")),
        ..SessionConfig::default()
    };
    let steps = || {
        vec![ClientStep::Send(
            envelope("<dora@client.example>", &["<r@test.example>"]),
            body.clone(),
        )]
    };
    let run = C::run_client(server.addr, pinned(session.clone(), &server.cert), steps())
        .expect("STARTTLS, AUTH, send");
    assert!(run.tls);
    assert_eq!(run.authenticated, Some(235));
    assert!(
        run.deliveries[0].all_delivered,
        "{}",
        run.deliveries[0].debug
    );
    let mut implicit = pinned(
        SessionConfig {
            tls: TlsPolicy::None,
            ..session
        },
        &server.cert,
    );
    implicit.implicit_tls = true;
    let addr = server.implicit_tls_addr.expect("implicit TLS listener");
    let run = C::run_client(addr, implicit, steps()).expect("implicit TLS, AUTH, send");
    assert!(run.tls);
    assert!(
        run.deliveries[0].all_delivered,
        "{}",
        run.deliveries[0].debug
    );
    let stored = server.messages();
    assert_eq!(stored.len(), 2);
    for m in &stored {
        assert_bytes_eq(&m.content, canonical, &m.name);
        check_received::<S>(&m.received, "ESMTPSA");
    }
    server.stop();
}

/// This adapter's client to smtp-tokio's server, and smtp-tokio's client to this adapter's
/// server (for smtp-tokio itself: its client to its server).
pub fn client_and_server_against_smtp_tokio<A: AdapterUnderTest>() {
    client_to_server::<A, crate::Tokio>();
    client_to_server::<crate::Tokio, A>();
}
