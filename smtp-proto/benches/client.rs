//! Messages per second through a client session and a server session connected in memory
//! (no I/O): 10 KiB messages, DATA (dot-stuffing on both ends) and BDAT, one message per
//! session (greeting, EHLO, MAIL, RCPT, body, QUIT) and 100 messages per session.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use smtp_proto::client::{self, ClientConfig, Envelope, TlsPolicy, Usage};
use smtp_proto::server::{self, PreparedConfig, ServerConfig};
use smtp_proto::{ForwardPath, Instant, ParseOptions, ReversePath};

/// A 10 KiB message of 78-octet lines, every tenth starting with a dot.
fn message() -> Bytes {
    let mut m = Vec::with_capacity(10 * 1024);
    m.extend_from_slice(b"From: a@example.com\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n");
    let mut i = 0;
    while m.len() < 10 * 1024 - 80 {
        if i % 10 == 0 {
            m.push(b'.');
        }
        m.extend_from_slice(&[b'a' + (i % 26) as u8; 76]);
        m.extend_from_slice(b"\r\n");
        i += 1;
    }
    m.resize(10 * 1024 - 2, b'z');
    m.extend_from_slice(b"\r\n");
    Bytes::from(m)
}

/// Runs one session that delivers `messages` messages; returns the body octets the server
/// application saw.
fn session(
    cc: &Arc<ClientConfig>,
    sc: &PreparedConfig,
    env: &Envelope,
    body: &Bytes,
    messages: usize,
) -> u64 {
    let now = Instant::ZERO;
    let mut c = client::Session::new(cc.clone(), now);
    let mut s = server::Session::new(sc.clone(), now);
    let mut queued = 0;
    let mut wire = BytesMut::with_capacity(16 * 1024);
    let mut got = 0u64;
    let mut done = 0;
    loop {
        let mut progress = false;
        // Queue messages while the body buffer has room (as an adapter would).
        while queued < messages && c.body_capacity() >= body.len() {
            c.send(env.clone()).unwrap();
            c.body(body.clone()).unwrap();
            c.end_body().unwrap();
            queued += 1;
            if queued == messages {
                c.quit();
            }
            progress = true;
        }
        if c.poll_transmit(now, &mut wire) > 0 {
            s.receive(now, wire.split().freeze());
            progress = true;
        }
        while let Some(ev) = c.poll_event() {
            progress = true;
            if let client::Event::MessageResult { outcome, .. } = ev {
                assert!(outcome.is_success());
                done += 1;
            }
        }
        if s.poll_transmit(now, &mut wire) > 0 {
            c.receive(now, wire.split().freeze());
            progress = true;
        }
        while let Some(ev) = s.poll_event() {
            progress = true;
            match ev {
                server::Event::Body(b) => got += b.len() as u64,
                server::Event::Helo(_)
                | server::Event::Mail(_)
                | server::Event::Rcpt(_)
                | server::Event::DataStart(_)
                | server::Event::EndOfMessage(_) => s.accept().unwrap(),
                _ => {}
            }
        }
        if !progress {
            break;
        }
    }
    assert_eq!(done, messages);
    got
}

fn bench(c: &mut Criterion) {
    let body = message();
    let opts = ParseOptions::default();
    let env =
        Envelope::new(ReversePath::parse(&Bytes::from_static(b"<a@example.com>"), &opts).unwrap())
            .to(ForwardPath::parse(&Bytes::from_static(b"<b@example.org>"), &opts).unwrap());
    let mut g = c.benchmark_group("client_server_10KiB");
    for (name, chunking) in [("DATA", Usage::Never), ("BDAT", Usage::WhenOffered)] {
        let cc = Arc::new(ClientConfig {
            tls: TlsPolicy::None,
            chunking,
            ..ClientConfig::default()
        });
        let sc = PreparedConfig::new(ServerConfig::new("mx.bench.test"));
        for messages in [1usize, 100] {
            g.throughput(Throughput::Elements(messages as u64));
            g.bench_with_input(
                BenchmarkId::new(name, format!("{messages}_per_session")),
                &messages,
                |b, &n| b.iter(|| session(&cc, &sc, &env, &body, n)),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
