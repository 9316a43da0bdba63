//! The tokio server over real loopback sockets: delivery under load, the connection limit,
//! graceful shutdown, broken connections, timeouts and backpressure.

mod server_common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use server_common::*;
use smtp_proto::server::ServerConfig;
use smtp_tokio::server::{ConnectionInfo, Decision, Handler, Server};
use tokio::sync::{Barrier, Notify};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_connections_each_deliver_one_message() {
    const CLIENTS: usize = 1000;
    let dir = scratch_dir("thousand");
    let policy = maildir_policy(&dir).await;
    let server = builder()
        .max_connections(CLIENTS + 24)
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(maildir_factory(Arc::clone(&policy))));

    // Every client holds its connection open (greeting read) until all are connected, so
    // the server really has 1,000 sessions at once.
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..CLIENTS {
        let barrier = Arc::clone(&barrier);
        clients.spawn(async move {
            let mut c = LineClient::connect(addr).await.expect("connect");
            let greeting = c.reply().await;
            assert!(greeting.starts_with("220 "), "{greeting}");
            barrier.wait().await;
            let r = c.cmd("EHLO client.test").await;
            assert!(r.starts_with("250"), "{r}");
            let body = format!("Subject: {i}\r\n\r\nmessage number {i}\r\n");
            let r = c
                .send_message("s@client.test", &format!("r{i}@mx.test"), body.as_bytes())
                .await;
            assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
            let r = c.cmd("QUIT").await;
            assert!(r.starts_with("221"), "{r}");
            i
        });
    }
    let mut done = vec![false; CLIENTS];
    while let Some(result) = tokio::time::timeout(Duration::from_secs(120), clients.join_next())
        .await
        .expect("clients finish")
    {
        done[result.expect("client task")] = true;
    }
    assert!(done.iter().all(|d| *d));
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");

    let new = files(&dir.join("maildir/new"));
    assert_eq!(new.len(), CLIENTS, "none lost");
    assert!(files(&dir.join("maildir/tmp")).is_empty());
    let mut numbers: Vec<usize> = new
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join("maildir/new").join(name)).expect("read");
            let (_, body) = text.split_once("\r\n\r\n").expect("header/body");
            body.trim_end()
                .strip_prefix("message number ")
                .and_then(|n| n.parse().ok())
                .expect("body")
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..CLIENTS).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_a_client_gets_421_and_is_closed() {
    let dir = scratch_dir("limit");
    let policy = maildir_policy(&dir).await;
    let server = builder().max_connections(2).bind().await.expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(maildir_factory(policy)));

    let mut first = LineClient::connect(addr).await.expect("connect");
    assert!(first.reply().await.starts_with("220 "));
    let mut second = LineClient::connect(addr).await.expect("connect");
    assert!(second.reply().await.starts_with("220 "));
    let mut third = LineClient::connect(addr).await.expect("connect");
    let refusal = third.reply().await;
    // No enhanced code: the client has not said EHLO (RFC 2034 3).
    assert_eq!(refusal, "421 Too many connections, try again later\r\n");
    assert_eq!(third.reply().await, "", "closed after the 421");

    // A slot frees up when a client leaves.
    assert!(first.cmd("QUIT").await.starts_with("221"));
    assert_eq!(first.reply().await, "");
    let mut fourth = loop {
        // The server reaps the finished connection asynchronously; a refusal in between is
        // the limit working, so try again.
        let mut c = LineClient::connect(addr).await.expect("connect");
        let r = c.reply().await;
        if r.starts_with("220 ") {
            break c;
        }
        assert!(r.starts_with("421 "), "{r}");
    };
    assert!(fourth.cmd("QUIT").await.starts_with("221"));
    assert!(second.cmd("QUIT").await.starts_with("221"));
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_session_finish_then_says_421_to_the_rest() {
    let dir = scratch_dir("shutdown");
    let policy = maildir_policy(&dir).await;
    let server = builder()
        .shutdown_grace(Duration::from_secs(2))
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(maildir_factory(policy)));

    let mut busy = LineClient::connect(addr).await.expect("connect");
    assert!(busy.reply().await.starts_with("220 "));
    assert!(busy.cmd("EHLO c.test").await.starts_with("250"));
    let mut idle = LineClient::connect(addr).await.expect("connect");
    assert!(idle.reply().await.starts_with("220 "));
    assert!(idle.cmd("EHLO c.test").await.starts_with("250"));

    let mut mid_data = LineClient::connect(addr).await.expect("connect");
    assert!(mid_data.reply().await.starts_with("220 "));
    assert!(mid_data.cmd("EHLO c.test").await.starts_with("250"));
    assert!(mid_data
        .cmd("MAIL FROM:<s@c.test>")
        .await
        .starts_with("250"));
    assert!(mid_data.cmd("RCPT TO:<r@mx.test>").await.starts_with("250"));
    assert!(mid_data.cmd("DATA").await.starts_with("354"));
    mid_data
        .send(b"Subject: unfinished\r\n\r\nnever ends\r\n")
        .await;

    shutdown.shutdown();
    // During the grace period the busy session still delivers.
    let r = busy
        .send_message(
            "s@c.test",
            "r@mx.test",
            b"Subject: late\r\n\r\nstill accepted\r\n",
        )
        .await;
    assert!(r.starts_with("250 "), "{r}");
    assert!(busy.cmd("QUIT").await.starts_with("221"));
    // The idle one is told 421 when the grace period ends, then closed.
    let r = idle.reply().await;
    assert!(r.starts_with("421 4.3.2 "), "{r:?}");
    assert_eq!(idle.reply().await, "");
    // The unfinished message is dropped with the 421: nothing of it is stored.
    let r = mid_data.reply().await;
    assert!(r.starts_with("421 4.3.2 "), "{r:?}");
    assert_eq!(mid_data.reply().await, "");
    serving.await.expect("serve task").expect("serve");
    assert!(
        LineClient::connect(addr).await.is_err(),
        "no longer listening"
    );
    assert_eq!(files(&dir.join("maildir/new")).len(), 1);
    assert!(files(&dir.join("maildir/tmp")).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_broken_mid_data_leaves_nothing_in_new() {
    let dir = scratch_dir("broken");
    let policy = maildir_policy(&dir).await;
    let server = builder().bind().await.expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(maildir_factory(policy)));

    let mut c = LineClient::connect(addr).await.expect("connect");
    assert!(c.reply().await.starts_with("220 "));
    assert!(c.cmd("EHLO c.test").await.starts_with("250"));
    assert!(c.cmd("MAIL FROM:<s@c.test>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<r@mx.test>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(b"Subject: cut\r\n\r\nhalf a message\r\n").await;
    drop(c);
    // serve returns once every connection task ended, so the abort has been handled.
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");
    assert!(files(&dir.join("maildir/new")).is_empty());
    assert!(files(&dir.join("maildir/tmp")).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_client_times_out_with_421() {
    let mut config = ServerConfig::new("mx.test");
    config.timeouts.command = Duration::from_millis(300);
    let server = Server::builder(config)
        .listen(loopback())
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    struct AcceptAll;
    impl Handler for AcceptAll {}
    let serving = tokio::spawn(server.serve(|_: &ConnectionInfo| AcceptAll));
    let mut c = LineClient::connect(addr).await.expect("connect");
    assert!(c.reply().await.starts_with("220 "));
    assert!(c.cmd("EHLO c.test").await.starts_with("250"));
    let r = tokio::time::timeout(Duration::from_secs(30), c.reply())
        .await
        .expect("reply");
    assert!(r.starts_with("421 4.4.2 "), "{r:?}");
    assert_eq!(c.reply().await, "");
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");
}

/// A handler whose `body` waits until released: the server must stop reading meanwhile.
struct Stalled {
    release: Arc<Notify>,
    received: usize,
}

impl Handler for Stalled {
    async fn body(&mut self, chunk: Bytes) {
        if self.received == 0 {
            self.release.notified().await;
        }
        self.received += chunk.len();
    }
    async fn end_of_message(&mut self, m: &smtp_proto::server::EndOfMessage) -> Decision {
        assert_eq!(m.size as usize, self.received);
        Decision::Accept
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handler_stops_the_server_reading() {
    let mut config = ServerConfig::new("mx.test");
    config.limits.max_message_size = None;
    let server = Server::builder(config)
        .listen(loopback())
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let release = Arc::new(Notify::new());
    let r2 = Arc::clone(&release);
    let serving = tokio::spawn(server.serve(move |_: &ConnectionInfo| Stalled {
        release: Arc::clone(&r2),
        received: 0,
    }));

    let mut c = LineClient::connect(addr).await.expect("connect");
    assert!(c.reply().await.starts_with("220 "));
    assert!(c.cmd("EHLO c.test").await.starts_with("250"));
    assert!(c.cmd("MAIL FROM:<s@c.test>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<r@mx.test>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));

    // Write as much body as the connection takes until it stops taking any for a while.
    let line = [b'x'; 998];
    let mut line = line.to_vec();
    line.extend_from_slice(b"\r\n");
    let mut written = 0usize;
    const OFFERED: usize = 256 * 1024 * 1024;
    while written < OFFERED {
        match tokio::time::timeout(Duration::from_secs(2), c.writer.write_all(&line)).await {
            Ok(result) => {
                result.expect("write");
                written += line.len();
            }
            Err(_) => break, // the write stalled: the server is no longer reading
        }
    }
    // Kernel socket buffers take some megabytes; the server itself holds one read.
    assert!(
        written < 64 * 1024 * 1024,
        "server kept reading: {written} octets accepted"
    );

    release.notify_one();
    // The stalled write may have left half a line: end it, then end the data.
    c.send(b"\r\n.\r\n").await;
    let r = c.reply().await;
    assert!(r.starts_with("250 "), "{r}");
    assert!(c.cmd("QUIT").await.starts_with("221"));
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");
}

use tokio::io::AsyncWriteExt;

/// Reads one reply from a stream without buffering past it (the TLS handshake follows).
async fn read_reply<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    use tokio::io::AsyncReadExt;
    let mut all = Vec::new();
    let mut line_start = 0;
    loop {
        let mut byte = [0u8; 1];
        if s.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        all.push(byte[0]);
        if all.ends_with(b"\r\n") {
            if all.get(line_start + 3) != Some(&b'-') {
                break;
            }
            line_start = all.len();
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// A self-signed certificate as a server configuration, and a connector that trusts it.
fn tls_pair() -> (Arc<rustls::ServerConfig>, tokio_rustls::TlsConnector) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert = generated.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_tls = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let client_tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        Arc::new(server_tls),
        tokio_rustls::TlsConnector::from(Arc::new(client_tls)),
    )
}

fn localhost() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from("localhost").expect("name")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_pipelined_behind_starttls_are_never_executed() {
    let (server_tls, connector) = tls_pair();
    let server = builder().tls(server_tls).bind().await.expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    struct AcceptAll;
    impl Handler for AcceptAll {}
    let serving = tokio::spawn(server.serve(|_: &ConnectionInfo| AcceptAll));

    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(read_reply(&mut tcp).await.starts_with("220 "));
    tcp.write_all(b"EHLO c.test\r\n").await.expect("write");
    assert!(read_reply(&mut tcp).await.contains("STARTTLS"));
    // One write: STARTTLS and an injected MAIL (CVE-2011-0411 style).
    tcp.write_all(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        .await
        .expect("write");
    assert!(read_reply(&mut tcp).await.starts_with("220 2.0.0 "));

    let mut tls = connector
        .connect(localhost(), tcp)
        .await
        .expect("TLS handshake");
    // After TLS the session starts over (RFC 3207 4.2): EHLO again, no STARTTLS offered.
    tls.write_all(b"EHLO c.test\r\n").await.expect("write");
    let ehlo = read_reply(&mut tls).await;
    assert!(
        ehlo.starts_with("250-") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    // The injected MAIL was discarded, so there is no transaction for RCPT.
    tls.write_all(b"RCPT TO:<r@mx.test>\r\n")
        .await
        .expect("write");
    let rcpt = read_reply(&mut tls).await;
    assert!(rcpt.starts_with("503 5.5.1 "), "{rcpt}");
    tls.write_all(b"QUIT\r\n").await.expect("write");
    assert!(read_reply(&mut tls).await.starts_with("221 "));
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bdat_chunks_are_stored_exactly() {
    let dir = scratch_dir("bdat");
    let policy = maildir_policy(&dir).await;
    let server = builder().bind().await.expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(maildir_factory(policy)));

    let mut c = LineClient::connect(addr).await.expect("connect");
    assert!(c.reply().await.starts_with("220 "));
    assert!(c.cmd("EHLO c.test").await.contains("CHUNKING"));
    assert!(c.cmd("MAIL FROM:<s@c.test>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<r@mx.test>").await.starts_with("250"));
    // BDAT carries octets as they are: a lone "." line and a bare LF stay untouched.
    let first = b"Subject: chunked\r\n\r\n.\r\n";
    let second = b"no dot-stuffing here\nend\r\n";
    c.send(format!("BDAT {}\r\n", first.len()).as_bytes()).await;
    c.send(first).await;
    assert!(c.reply().await.starts_with("250"));
    c.send(format!("BDAT {} LAST\r\n", second.len()).as_bytes())
        .await;
    c.send(second).await;
    let r = c.reply().await;
    assert!(r.starts_with("250 2.0.0 Ok: queued as "), "{r}");
    assert!(c.cmd("QUIT").await.starts_with("221"));
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");

    let new = files(&dir.join("maildir/new"));
    assert_eq!(new.len(), 1);
    let stored = std::fs::read(dir.join("maildir/new").join(&new[0])).expect("read");
    let body_start = stored
        .windows(2)
        .enumerate()
        .position(|(i, w)| w == b"\r\n" && !matches!(stored.get(i + 2), Some(b'\t' | b' ')))
        .expect("end of the Received header")
        + 2;
    let mut expected = first.to_vec();
    expected.extend_from_slice(second);
    assert_eq!(&stored[body_start..], &expected[..]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_before_starttls_does_not_count_after_it() {
    use smtp_proto::server::{AuthTlsPolicy, MailAuthPolicy};
    let dir = scratch_dir("auth-then-tls");
    let maildir = smtp_tokio::maildir::Maildir::create(dir.join("maildir"), "mx.test")
        .await
        .expect("maildir");
    let policy = Arc::new(
        smtp_tokio::maildir::MaildirPolicy::new(maildir, "mx.test").with_user("erin", "pw"),
    );
    let mut config = ServerConfig::new("mx.test");
    config.extensions.auth = vec![smtp_proto::sasl::Mechanism::Plain];
    config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
    config.policy.mail_auth = MailAuthPolicy::Optional;
    let (server_tls, connector) = tls_pair();
    let server = Server::builder(config)
        .listen(loopback())
        .tls(server_tls)
        .bind()
        .await
        .expect("bind");
    let addr = server.local_addrs()[0];
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.serve(maildir_factory(policy)));

    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(read_reply(&mut tcp).await.starts_with("220 "));
    tcp.write_all(b"EHLO before.test\r\n").await.expect("write");
    assert!(read_reply(&mut tcp).await.starts_with("250-"));
    // AUTH PLAIN erin/pw in plaintext (allowed by this configuration).
    tcp.write_all(b"AUTH PLAIN AGVyaW4AcHc=\r\n")
        .await
        .expect("write");
    let auth = read_reply(&mut tcp).await;
    assert!(auth.starts_with("235 "), "{auth}");
    tcp.write_all(b"STARTTLS\r\n").await.expect("write");
    assert!(read_reply(&mut tcp).await.starts_with("220 "));
    let mut tls = connector
        .connect(localhost(), tcp)
        .await
        .expect("TLS handshake");
    for (line, want) in [
        (&b"EHLO after.test\r\n"[..], "250-"),
        (b"MAIL FROM:<s@c.test>\r\n", "250 "),
        (b"RCPT TO:<r@mx.test>\r\n", "250 "),
        (b"DATA\r\n", "354 "),
        (
            b"Subject: x\r\n\r\nbody\r\n.\r\n",
            "250 2.0.0 Ok: queued as ",
        ),
        (b"QUIT\r\n", "221 "),
    ] {
        tls.write_all(line).await.expect("write");
        let reply = read_reply(&mut tls).await;
        assert!(reply.starts_with(want), "{reply}");
    }
    shutdown.shutdown();
    serving.await.expect("serve task").expect("serve");
    let new = files(&dir.join("maildir/new"));
    assert_eq!(new.len(), 1);
    let stored = std::fs::read_to_string(dir.join("maildir/new").join(&new[0])).expect("read");
    // The greeting after TLS, and no "A": the plaintext AUTH was forgotten (RFC 3207 4.2).
    assert!(
        stored.starts_with("Received: from after.test ([127.0.0.1])"),
        "{stored}"
    );
    let unfolded = stored.replace("\r\n\t", " ");
    assert!(
        unfolded.contains(" with ESMTPS (version=TLSv1.3 "),
        "{stored}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
