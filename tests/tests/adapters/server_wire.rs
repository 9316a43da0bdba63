//! The server over real loopback sockets, driven byte by byte from a std-net client: load,
//! the connection limit, STARTTLS injection, AUTH, timeouts, graceful shutdown, broken
//! connections, BDAT, and bad input answered exactly as the sans-IO core answers it.

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use smtp_proto::sasl::encode_base64;
use smtp_proto::server::{AuthTlsPolicy, MailAuthPolicy, ServerConfig, StartTlsInjectionPolicy};

use crate::common::*;
use crate::harness::{AdapterUnderTest, Gate, HandlerSpec, ServerSpec, HOSTNAME};
use crate::reference::{core_output, Ending};
use crate::wire::{codes, lines, Wire};

// ---------------------------------------------------------------------------------------------
// Load

/// 1,000 clients connect and are greeted before any of them starts a transaction (so the
/// server really holds 1,000 sessions at once), then each delivers one distinct message;
/// every message is stored once, byte for byte.
pub fn thousand_concurrent_connections_each_deliver_one_message<A: AdapterUnderTest>() {
    const WANTED: usize = 1000;
    const THREADS: usize = 8;
    // Per connection: the client's socket and the server's; plus files being written and
    // what the test harness holds.
    let budget = fd_budget(4096);
    let clients = WANTED.min(budget as usize / 2);
    if clients < WANTED {
        eprintln!("open-file limit: only {clients} concurrent connections (wanted {WANTED})");
    }
    assert!(
        clients >= 100,
        "the open-file limit is too low for this test"
    );
    let server = TestServer::start::<A>(
        "thousand",
        Options {
            max_connections: Some(clients + 24),
            ..Options::default()
        },
    );
    let addr = server.addr;
    let body = |i: usize| {
        format!(
            "Subject: {i}\r\nX-Pad: {}\r\n\r\nmessage number {i}\r\n..dot {i}\r\n",
            "x".repeat(i % 200)
        )
    };
    let all_connected = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let all_connected = Arc::clone(&all_connected);
            std::thread::spawn(move || {
                let mine: Vec<usize> = (t..clients).step_by(THREADS).collect();
                let mut conns: Vec<Wire> = mine.iter().map(|_| Wire::greeted(addr)).collect();
                all_connected.wait();
                // One pipelined envelope per connection (RFC 2920: DATA ends the group).
                for (c, i) in conns.iter_mut().zip(&mine) {
                    c.send(
                        format!(
                            "EHLO c{i}.test\r\nMAIL FROM:<s{i}@client.test>\r\n\
                             RCPT TO:<r{i}@mx.test>\r\nDATA\r\n"
                        )
                        .as_bytes(),
                    );
                }
                for (c, i) in conns.iter_mut().zip(&mine) {
                    let ehlo = c.reply();
                    assert!(ehlo.starts_with("250-"), "{i}: {ehlo:?}");
                    for want in ["250 ", "250 ", "354 "] {
                        let r = c.reply();
                        assert!(r.starts_with(want), "{i}: want {want}, got {r:?}");
                    }
                    let mut data = body(*i).into_bytes();
                    data.extend_from_slice(b".\r\nQUIT\r\n");
                    c.send(&data);
                }
                for (c, i) in conns.iter_mut().zip(&mine) {
                    let r = c.reply();
                    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{i}: {r:?}");
                    let r = c.reply();
                    assert!(r.starts_with("221 "), "{i}: {r:?}");
                    assert_eq!(c.reply(), "", "{i}: closed after QUIT");
                }
                mine.len()
            })
        })
        .collect();
    let done: usize = workers
        .into_iter()
        .map(|w| w.join().expect("client thread"))
        .sum();
    assert_eq!(done, clients);
    let stored = server.messages();
    assert_eq!(stored.len(), clients, "none lost");
    let mut seen = vec![false; clients];
    for m in &stored {
        let text = String::from_utf8_lossy(&m.content);
        let i: usize = text
            .strip_prefix("Subject: ")
            .and_then(|t| t.split("\r\n").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: {text:?}", m.name));
        // The body as sent, dot-unstuffed.
        let want = body(i).replace("\r\n..dot", "\r\n.dot");
        assert_bytes_eq(&m.content, want.as_bytes(), &m.name);
        check_received::<A>(&m.received, "ESMTP");
        assert!(!seen[i], "message {i} stored twice");
        seen[i] = true;
    }
    server.stop();
}

/// Over the limit a client gets `421` (without an enhanced code: no EHLO yet, RFC 2034 3)
/// and is closed; a slot that frees up is usable again.
pub fn over_the_connection_limit_a_client_gets_421<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "limit",
        Options {
            max_connections: Some(2),
            ..Options::default()
        },
    );
    let mut first = Wire::greeted(server.addr);
    let mut second = Wire::greeted(server.addr);
    let mut third = Wire::connect(server.addr).expect("connect");
    assert_eq!(
        third.reply(),
        "421 Too many connections, try again later\r\n"
    );
    assert_eq!(third.reply(), "", "closed after the 421");
    first.expect("QUIT", "221 ");
    assert_eq!(first.reply(), "");
    // The server reaps the finished connection asynchronously: a refusal meanwhile is the
    // limit working, so connect again until greeted (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut fourth = loop {
        let mut c = Wire::connect(server.addr).expect("connect");
        let r = c.reply();
        if r.starts_with("220 ") {
            break c;
        }
        assert!(r.starts_with("421 "), "{r:?}");
        assert!(Instant::now() < deadline, "the slot never freed up");
    };
    fourth.expect("QUIT", "221 ");
    second.expect("QUIT", "221 ");
    server.stop();
}

// ---------------------------------------------------------------------------------------------
// STARTTLS and AUTH

/// `STARTTLS` and a `MAIL` in the same packet (CVE-2011-0411 class): the MAIL is discarded,
/// never executed, not even after the handshake.
pub fn starttls_pipelined_command_is_discarded<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "starttls-injection",
        Options {
            tls: true,
            ..Options::default()
        },
    );
    let mut c = Wire::greeted(server.addr);
    let ehlo = c.cmd("EHLO client.test");
    assert!(ehlo.contains("250-STARTTLS\r\n"), "{ehlo}");
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
    assert_eq!(c.reply(), "220 2.0.0 Ready to start TLS\r\n");
    let mut c = c.starttls(Arc::clone(&server.cert.client));
    // After TLS the session starts over (RFC 3207 4.2): EHLO again, no STARTTLS offered.
    let ehlo = c.cmd("EHLO client.test");
    assert!(
        ehlo.starts_with("250-") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    // No transaction: the injected MAIL did not run.
    c.expect("RCPT TO:<r@test.example>", "503 5.5.1 ");
    let r = c.send_message(
        "s@client.test",
        "r@test.example",
        b"Subject: real\r\n\r\nok\r\n",
    );
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    c.expect("QUIT", "221 ");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    assert_bytes_eq(
        &stored[0].content,
        b"Subject: real\r\n\r\nok\r\n",
        "message",
    );
    let received = check_received::<A>(&stored[0].received, "ESMTPS");
    assert!(!received.contains("evil"), "{received}");
    server.stop();
}

/// AUTH PLAIN and LOGIN over the wire: right credentials give `235 2.7.0` and MAIL goes
/// through; wrong ones give `535 5.7.8` and MAIL stays refused.
pub fn auth_plain_and_login_succeed_or_get_535<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "auth",
        Options {
            users: vec![("alice", "s3cret pass")],
            ..Options::default()
        },
    );
    let plain = |user: &str, password: &str| {
        let token = encode_base64(format!("\0{user}\0{password}").as_bytes());
        format!("AUTH PLAIN {}", String::from_utf8_lossy(&token))
    };
    let b64 = |s: &str| String::from_utf8_lossy(&encode_base64(s.as_bytes())).into_owned();
    let invalid = "535 5.7.8 Authentication credentials invalid\r\n";
    let ok = "235 2.7.0 Authentication successful\r\n";

    let mut c = Wire::greeted(server.addr);
    let ehlo = c.cmd("EHLO client.test");
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    assert!(c.cmd("MAIL FROM:<a@client.test>").starts_with("530 5.7.0 "));
    assert_eq!(c.cmd(&plain("alice", "wrong")), invalid);
    assert!(c.cmd("MAIL FROM:<a@client.test>").starts_with("530 5.7.0 "));
    assert_eq!(c.cmd(&plain("alice", "s3cret pass")), ok);
    let r = c.send_message(
        "a@client.test",
        "r@test.example",
        b"Subject: plain\r\n\r\n1\r\n",
    );
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    c.expect("QUIT", "221 ");

    let mut c = Wire::greeted(server.addr);
    c.expect("EHLO client.test", "250-");
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.cmd(&b64("alice")), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(c.cmd(&b64("not it")), invalid);
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.cmd(&b64("alice")), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(c.cmd(&b64("s3cret pass")), ok);
    let r = c.send_message(
        "a@client.test",
        "r@test.example",
        b"Subject: login\r\n\r\n2\r\n",
    );
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    c.expect("QUIT", "221 ");

    let stored = server.messages();
    assert_eq!(stored.len(), 2);
    for m in &stored {
        check_received::<A>(&m.received, "ESMTPA");
    }
    server.stop();
}

/// An AUTH before STARTTLS is forgotten after it (RFC 3207 4.2): the message is not marked
/// authenticated.
pub fn authentication_before_starttls_does_not_count_after_it<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "auth-then-tls",
        Options {
            tls: true,
            users: vec![("erin", "pw")],
            config: Some(|c: &mut ServerConfig| {
                c.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
                c.policy.mail_auth = MailAuthPolicy::Optional;
            }),
            ..Options::default()
        },
    );
    let mut c = Wire::greeted(server.addr);
    c.expect("EHLO before.test", "250-");
    c.expect("AUTH PLAIN AGVyaW4AcHc=", "235 ");
    c.expect("STARTTLS", "220 ");
    let mut c = c.starttls(Arc::clone(&server.cert.client));
    c.expect("EHLO after.test", "250-");
    let r = c.send_message("s@c.test", "r@mx.test", b"Subject: x\r\n\r\nbody\r\n");
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    c.expect("QUIT", "221 ");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    let received = check_received::<A>(&stored[0].received, "ESMTPS");
    assert!(
        received.starts_with("Received: from after.test ([127.0.0.1])"),
        "{received}"
    );
    assert!(
        received.contains(" with ESMTPS (version=TLSv1.3 "),
        "{received}"
    );
    server.stop();
}

// ---------------------------------------------------------------------------------------------
// Timeouts, shutdown, broken connections

/// No command within `timeouts.command`: `421 4.4.2`, then the connection closes.
pub fn idle_client_times_out_with_421<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "idle",
        Options {
            config: Some(|c: &mut ServerConfig| c.timeouts.command = Duration::from_millis(400)),
            ..Options::default()
        },
    );
    let mut c = Wire::greeted(server.addr);
    c.expect("EHLO c.test", "250-");
    assert_eq!(c.reply(), "421 4.4.2 Timeout, closing connection\r\n");
    assert_eq!(c.reply(), "", "closed after the 421");
    server.stop();
}

/// DATA that stops arriving within `timeouts.data`: `421 4.4.2`, close, nothing stored.
pub fn stalled_data_times_out_with_421<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "data-timeout",
        Options {
            config: Some(|c: &mut ServerConfig| c.timeouts.data = Duration::from_millis(400)),
            ..Options::default()
        },
    );
    let mut c = Wire::greeted(server.addr);
    c.expect("EHLO c.test", "250-");
    c.expect("MAIL FROM:<s@c.test>", "250 ");
    c.expect("RCPT TO:<r@mx.test>", "250 ");
    c.expect("DATA", "354 ");
    c.send(b"Subject: stalled\r\n\r\nhalf a mess");
    assert_eq!(c.reply(), "421 4.4.2 Timeout, closing connection\r\n");
    assert_eq!(c.reply(), "", "closed after the 421");
    assert!(server.messages().is_empty(), "nothing stored");
    server.stop();
}

/// Shutdown while a message is in flight: the message is finished and stored (250 with
/// its name), the session then gets `421 4.3.2` when the grace period ends and is closed;
/// an idle session gets the same, a message still open then is dropped (nothing of it
/// stored), and the server stops listening.
pub fn graceful_shutdown_finishes_an_in_flight_message<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>(
        "shutdown",
        Options {
            shutdown_grace: Some(Duration::from_secs(5)),
            ..Options::default()
        },
    );
    let addr = server.addr;
    let mut busy = Wire::greeted(addr);
    busy.expect("EHLO c.test", "250-");
    busy.expect("MAIL FROM:<s@c.test>", "250 ");
    busy.expect("RCPT TO:<r@mx.test>", "250 ");
    busy.expect("DATA", "354 ");
    busy.send(b"Subject: in flight\r\n\r\nfirst half, ");
    let mut idle = Wire::greeted(addr);
    idle.expect("EHLO c.test", "250-");
    let mut unfinished = Wire::greeted(addr);
    unfinished.expect("EHLO c.test", "250-");
    unfinished.expect("MAIL FROM:<s@c.test>", "250 ");
    unfinished.expect("RCPT TO:<r@mx.test>", "250 ");
    unfinished.expect("DATA", "354 ");
    unfinished.send(b"Subject: never ends\r\n\r\nstill writing");

    let TestServer {
        server: running,
        dir,
        maildir,
        ..
    } = server;
    running.shutdown();
    busy.send(b"second half\r\n.\r\n");
    let r = busy.reply();
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r:?}");
    let shutting = "421 4.3.2 Service shutting down, closing connection\r\n";
    assert_eq!(busy.reply(), shutting);
    assert_eq!(busy.reply(), "", "closed after the 421");
    assert_eq!(idle.reply(), shutting);
    assert_eq!(idle.reply(), "");
    // A message still open when the grace period ends is dropped with the 421.
    assert_eq!(unfinished.reply(), shutting);
    assert_eq!(unfinished.reply(), "");
    running
        .join(Duration::from_secs(30))
        .expect("serve returns Ok");
    assert!(Wire::connect(addr).is_err(), "no longer listening");
    let stored = stored_messages(&maildir);
    assert_eq!(stored.len(), 1);
    assert!(r.contains(&stored[0].name), "{r}");
    assert_bytes_eq(
        &stored[0].content,
        b"Subject: in flight\r\n\r\nfirst half, second half\r\n",
        "message",
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A client that disappears mid-DATA leaves nothing in `new/` nor `tmp/`.
pub fn connection_broken_mid_data_stores_nothing<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>("broken", Options::default());
    let mut c = Wire::greeted(server.addr);
    c.expect("EHLO c.test", "250-");
    c.expect("MAIL FROM:<s@c.test>", "250 ");
    c.expect("RCPT TO:<r@mx.test>", "250 ");
    c.expect("DATA", "354 ");
    c.send(b"Subject: cut\r\n\r\nhalf a message\r\n");
    drop(c);
    let TestServer {
        server: running,
        dir,
        maildir,
        ..
    } = server;
    // serve returns once every connection ended, so the abort has been handled.
    running.stop();
    assert!(files(&maildir.join("new")).is_empty());
    assert!(files(&maildir.join("tmp")).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// BDAT carries octets as they are: a lone "." line and a bare LF are stored untouched.
pub fn bdat_chunks_are_stored_exactly<A: AdapterUnderTest>() {
    let server = TestServer::start::<A>("bdat", Options::default());
    let mut c = Wire::greeted(server.addr);
    assert!(c.cmd("EHLO c.test").contains("CHUNKING"));
    c.expect("MAIL FROM:<s@c.test>", "250 ");
    c.expect("RCPT TO:<r@mx.test>", "250 ");
    let first = b"Subject: chunked\r\n\r\n.\r\n";
    let second = b"no dot-stuffing here\nend\r\n";
    c.send(format!("BDAT {}\r\n", first.len()).as_bytes());
    c.send(first);
    assert!(c.reply().starts_with("250 "));
    c.send(format!("BDAT {} LAST\r\n", second.len()).as_bytes());
    c.send(second);
    let r = c.reply();
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    c.expect("QUIT", "221 ");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    let mut expected = first.to_vec();
    expected.extend_from_slice(second);
    assert_bytes_eq(&stored[0].content, &expected, "BDAT message");
    server.stop();
}

/// Backpressure: while the handler does not take the body, the server stops reading, so
/// the client's writes stall after the socket buffers fill (a few MiB), not after the
/// 256 MiB offered. Released, the message completes with every octet counted.
pub fn a_stalled_handler_stops_the_server_reading<A: AdapterUnderTest>() {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    let gate = Arc::new(Gate::default());
    let received = Arc::new(AtomicU64::new(0));
    let message_size = Arc::new(AtomicU64::new(0));
    let mut config = config();
    config.limits.max_message_size = None;
    let handler = HandlerSpec::Stalled {
        gate: Arc::clone(&gate),
        received: Arc::clone(&received),
        message_size: Arc::clone(&message_size),
    };
    let server = A::start_server(ServerSpec::new(config, handler));
    let mut c = Wire::greeted(server.addr);
    c.expect("EHLO c.test", "250-");
    c.expect("MAIL FROM:<s@c.test>", "250 ");
    c.expect("RCPT TO:<r@mx.test>", "250 ");
    c.expect("DATA", "354 ");
    // Write until a write makes no progress for 2 s: the server no longer reads.
    let mut tcp = c.raw_socket().try_clone().expect("clone the socket");
    tcp.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("write timeout");
    let mut line = vec![b'x'; 998];
    line.extend_from_slice(b"\r\n");
    const OFFERED: usize = 256 * 1024 * 1024;
    let mut written = 0usize;
    while written < OFFERED {
        match tcp.write(&line) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break, // timed out: the server stopped reading
        }
    }
    assert!(
        written < 64 * 1024 * 1024,
        "the server kept reading: {written} octets accepted"
    );
    assert_eq!(
        received.load(Ordering::SeqCst),
        0,
        "the handler took nothing yet"
    );
    gate.open();
    // The stalled write may have left half a line: end it, then end the data.
    tcp.set_write_timeout(Some(crate::wire::REPLY_DEADLINE))
        .expect("write timeout");
    c.send(b"\r\n.\r\n");
    let r = c.reply();
    assert!(r.starts_with("250 "), "{r}");
    c.expect("QUIT", "221 ");
    server.stop();
    let size = written as u64 + 2;
    assert_eq!(received.load(Ordering::SeqCst), size);
    assert_eq!(message_size.load(Ordering::SeqCst), size);
}

// ---------------------------------------------------------------------------------------------
// Bad input: exactly the core's replies (the attack cases of attacks.rs, over the wire)

const MIB: usize = 1024 * 1024;

/// Sends `input` in one go (then closes its side, or waits for the session's timer) with
/// the `Handler` defaults on the server; asserts the adapter sent exactly what the sans-IO
/// session sends for the same input, and returns it.
fn same_as_core<A: AdapterUnderTest>(
    config: ServerConfig,
    tls: bool,
    input: Vec<u8>,
    ending: Ending,
) -> Vec<u8> {
    let dir = scratch_dir(&format!("{}-bad-input", A::PRODUCT));
    let mut spec = ServerSpec::new(config.clone(), HandlerSpec::Defaults);
    let mut reference = config;
    if tls {
        spec.tls = Some(Arc::clone(&test_cert(&dir).config));
        reference.extensions.starttls = true;
    }
    let server = A::start_server(spec);
    let got = exchange(server.addr, input.clone(), ending);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let want = core_output(reference, &input, ending);
    assert!(
        got == want,
        "{} differs from the core:\n got {} octets, ends {:?}\nwant {} octets, ends {:?}",
        A::PRODUCT,
        got.len(),
        String::from_utf8_lossy(&got[got.len().saturating_sub(400)..]),
        want.len(),
        String::from_utf8_lossy(&want[want.len().saturating_sub(400)..]),
    );
    got
}

fn exchange(addr: SocketAddr, input: Vec<u8>, ending: Ending) -> Vec<u8> {
    Wire::exchange(addr, input, ending == Ending::Eof)
}

fn config() -> ServerConfig {
    ServerConfig::new(HOSTNAME)
}

/// A 1 MiB line without CRLF is refused with `500 5.5.6` once its CRLF arrives; the
/// session goes on.
pub fn megabyte_line_gets_500_5_5_6<A: AdapterUnderTest>() {
    let mut input = b"EHLO client.example\r\n".to_vec();
    input.extend_from_slice(&vec![b'x'; MIB]);
    input.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    let out = same_as_core::<A>(config(), false, input, Ending::Eof);
    assert_eq!(codes(&out), [220, 250, 500, 250, 221]);
    assert!(lines(&out).contains(&"500 5.5.6 Line too long".to_owned()));
}

/// End-of-data look-alikes (SMTP smuggling, 2023): only `<CRLF>.<CRLF>` ends data; the
/// message is refused with `550 5.6.0` and the smuggled transaction never runs.
pub fn smuggled_end_of_data_is_refused<A: AdapterUnderTest>() {
    const FAKE_ENDS: &[&[u8]] = &[
        b"\n.\n",
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r.\r",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\n.\r",
        b"\r.\n",
        b"\r\n.\r\r\n",
        b"\r\n.\n\r\n",
    ];
    for fake_end in FAKE_ENDS {
        let mut input = b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n\
RCPT TO:<bob@example.org>\r\nDATA\r\nFrom: alice@example.org\r\nSubject: hi\r\n\r\nhello"
            .to_vec();
        input.extend_from_slice(fake_end);
        input.extend_from_slice(
            b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\
From: admin@bank.example\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n",
        );
        let out = same_as_core::<A>(config(), false, input, Ending::Eof);
        assert_eq!(
            codes(&out),
            [220, 250, 250, 250, 354, 550, 221],
            "{fake_end:?}"
        );
        assert!(lines(&out).contains(&"550 5.6.0 Message contains a bare CR or LF".to_owned()));
    }
}

/// 10,000 RCPTs pipelined: 100 accepted, every other one `452 4.5.3`.
pub fn ten_thousand_recipients_are_capped<A: AdapterUnderTest>() {
    let mut input = b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n".to_vec();
    for i in 0..10_000 {
        input.extend_from_slice(format!("RCPT TO:<user{i}@example.org>\r\n").as_bytes());
    }
    input.extend_from_slice(b"QUIT\r\n");
    let out = same_as_core::<A>(config(), false, input, Ending::Eof);
    let lines = lines(&out);
    let rcpts = &lines[lines.len() - 10_001..lines.len() - 1];
    assert!(rcpts[..100].iter().all(|l| l == "250 2.1.5 Recipient OK"));
    assert!(rcpts[100..]
        .iter()
        .all(|l| l == "452 4.5.3 Too many recipients"));
}

/// 10,000 commands in one write are all answered, in order.
pub fn ten_thousand_pipelined_commands_are_answered<A: AdapterUnderTest>() {
    let mut input = b"EHLO client.example\r\n".to_vec();
    input.extend_from_slice(&b"RSET\r\n".repeat(10_000));
    input.extend_from_slice(b"QUIT\r\n");
    let out = same_as_core::<A>(config(), false, input, Ending::Eof);
    let codes = codes(&out);
    assert_eq!(codes.len(), 3 + 10_000);
    assert!(codes[2..10_002].iter().all(|&c| c == 250));
}

/// Repeated errors end the session with `421 4.7.0` after `max_errors` (20).
pub fn repeated_errors_close_the_session<A: AdapterUnderTest>() {
    let mut input = b"EHLO client.example\r\n".to_vec();
    input.extend_from_slice(&b"XYZZY\r\n".repeat(21));
    let out = same_as_core::<A>(config(), false, input, Ending::Eof);
    assert_eq!(
        lines(&out).last().map(String::as_str),
        Some("421 4.7.0 Too many errors, closing connection")
    );
    assert_eq!(codes(&out).iter().filter(|&&c| c == 500).count(), 20);
}

/// `SIZE=` near and beyond u64::MAX is refused at MAIL with `552 5.3.4`.
pub fn size_parameter_near_u64_max_is_refused<A: AdapterUnderTest>() {
    for size in [
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999",
    ] {
        let input = format!("EHLO c.example\r\nMAIL FROM:<a@example.org> SIZE={size}\r\nQUIT\r\n");
        let out = same_as_core::<A>(config(), false, input.into_bytes(), Ending::Eof);
        assert_eq!(codes(&out), [220, 250, 552, 221], "SIZE={size}");
        assert!(lines(&out)
            .contains(&"552 5.3.4 Message size exceeds fixed maximum message size".to_owned()));
    }
}

/// A BDAT chunk of 2^63 octets: its octets are data, never commands; the data timer still
/// ends it with `421 4.4.2`.
pub fn bdat_chunk_of_two_to_the_63_is_data_until_the_timeout<A: AdapterUnderTest>() {
    let mut config = config();
    config.timeouts.data = Duration::from_millis(500);
    let mut input = b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
BDAT 9223372036854775808 LAST\r\n"
        .to_vec();
    input.extend_from_slice(
        &b"MAIL FROM:<mallory@evil.example>\r\nRCPT TO:<v@example.org>\r\n".repeat(20_000),
    );
    let out = same_as_core::<A>(config, false, input, Ending::Timeout);
    assert_eq!(codes(&out), [220, 250, 250, 250, 421]);
    assert_eq!(
        lines(&out).last().map(String::as_str),
        Some("421 4.4.2 Timeout, closing connection")
    );
}

/// A BDAT size beyond u64 is a syntax error (`501 5.5.4`), not a wrapped number.
pub fn bdat_size_beyond_u64_is_a_syntax_error<A: AdapterUnderTest>() {
    let input = b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
BDAT 18446744073709551616 LAST\r\nNOOP\r\nQUIT\r\n"
        .to_vec();
    let out = same_as_core::<A>(config(), false, input, Ending::Eof);
    assert_eq!(codes(&out), [220, 250, 250, 250, 501, 250, 221]);
    assert!(lines(&out).contains(&"501 5.5.4 Syntax error in parameters or arguments".to_owned()));
}

fn auth_config() -> ServerConfig {
    let mut config = config();
    config.extensions.auth = vec![smtp_proto::Mechanism::Plain, smtp_proto::Mechanism::Login];
    config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
    config
}

/// A megabyte SASL response, and a megabyte initial response: `500 5.5.6`, never held.
pub fn megabyte_auth_responses_get_500_5_5_6<A: AdapterUnderTest>() {
    let huge = b"QUFB".repeat(MIB / 4);
    let mut input = b"EHLO c.example\r\nAUTH PLAIN\r\n".to_vec();
    input.extend_from_slice(&huge);
    input.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    let out = same_as_core::<A>(auth_config(), false, input, Ending::Eof);
    assert_eq!(codes(&out), [220, 250, 334, 500, 250, 221]);
    assert!(lines(&out).contains(&"500 5.5.6 Line too long".to_owned()));

    let mut input = b"EHLO c.example\r\nAUTH PLAIN ".to_vec();
    input.extend_from_slice(&huge);
    input.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
    let out = same_as_core::<A>(auth_config(), false, input, Ending::Eof);
    assert_eq!(codes(&out), [220, 250, 500, 250, 221]);
}

/// With the `Close` policy, commands pipelined after STARTTLS end the session with
/// `421 4.7.0` before any handshake.
pub fn starttls_injection_with_close_policy_closes<A: AdapterUnderTest>() {
    let mut config = config();
    config.policy.starttls_injection = StartTlsInjectionPolicy::Close;
    let input = b"EHLO client.example\r\nSTARTTLS\r\nMAIL FROM:<mallory@evil.example>\r\n\
RCPT TO:<victim@example.org>\r\n"
        .to_vec();
    let out = same_as_core::<A>(config, true, input, Ending::Eof);
    assert_eq!(
        lines(&out).last().map(String::as_str),
        Some("421 4.7.0 Commands pipelined after STARTTLS, closing connection")
    );
}
