//! Server session benchmarks (no I/O):
//! - DATA throughput for a 10 MiB body of ordinary text lines, fed in 64 KiB segments as an
//!   adapter reads them, next to a plain `memchr::memmem::find_iter(b"\r\n.")` scan of the
//!   same bytes (the ceiling: any DATA decoder must at least find those);
//! - pipelined transactions per second through one session.
//!
//! Run: `cargo bench -p smtp-proto --bench server -- --warm-up-time 1 --measurement-time 3`
//!
//! On a shared, loaded machine criterion's means swing more than the differences being
//! measured. `DATA_RATIO=<rounds> cargo bench -p smtp-proto --bench server` instead times the
//! ceiling and the session alternately, each single iteration separately, and prints the best
//! time of each (the run least disturbed by other processes) and their ratio.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, Criterion, Throughput};
use smtp_proto::server::{Event, PreparedConfig, ServerConfig, Session};
use smtp_proto::Instant;

const BODY: usize = 10 * 1024 * 1024;
const SEGMENT: usize = 64 * 1024;

/// 10 MiB of mail-like text: lines of 20 to 98 octets, a few starting with a (stuffed) dot.
fn body() -> Vec<u8> {
    let mut v = Vec::with_capacity(BODY + 128);
    let mut i: u32 = 0;
    while v.len() < BODY {
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = 20 + (i >> 16) as usize % 79;
        if i % 97 == 0 {
            v.extend_from_slice(b"..");
        }
        for k in 0..len {
            v.push(
                b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789,;"
                    [(k + i as usize) % 66],
            );
        }
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn segments(data: &[u8]) -> Vec<Bytes> {
    data.chunks(SEGMENT)
        .map(|c| {
            let mut b = BytesMut::with_capacity(c.len());
            b.extend_from_slice(c);
            b.split().freeze()
        })
        .collect()
}

fn config() -> PreparedConfig {
    let mut c = ServerConfig::new("mx.example.org");
    c.limits.max_message_size = None;
    PreparedConfig::new(c)
}

/// Drains output and events, accepting every decision; returns body octets seen.
fn drain(s: &mut Session, out: &mut BytesMut) -> usize {
    let now = Instant::ZERO;
    let mut body = 0;
    loop {
        out.clear();
        s.poll_transmit(now, out);
        let mut any = false;
        while let Some(ev) = s.poll_event() {
            any = true;
            if let Event::Body(b) = ev {
                body += b.len();
            }
        }
        if s.pending().is_some() {
            let _ = s.accept();
            continue;
        }
        if !any {
            return body;
        }
    }
}

/// One DATA transaction with the body in `segs`; returns the body octets delivered.
fn data_session(config: &PreparedConfig, segs: &[Bytes]) -> usize {
    let now = Instant::ZERO;
    let mut s = Session::new(config.clone(), now);
    let mut out = BytesMut::with_capacity(4096);
    s.receive(
        now,
        Bytes::from_static(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
    );
    drain(&mut s, &mut out);
    let mut n = 0;
    for seg in segs {
        s.receive(now, seg.clone());
        s.poll_transmit(now, &mut out);
        while let Some(ev) = s.poll_event() {
            if let Event::Body(b) = ev {
                n += b.len();
            }
        }
    }
    s.receive(now, Bytes::from_static(b".\r\n"));
    drain(&mut s, &mut out);
    n
}

/// `DATA_RATIO` mode: best single-iteration times of the ceiling and the session, measured
/// alternately in `rounds` rounds of 5 iterations each.
fn data_ratio(rounds: usize) {
    let body = body();
    let segs = segments(&body);
    let config = config();
    let expected = body.len() - body.windows(3).filter(|w| w == b"\n..").count();
    let (mut ceiling, mut session) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        for _ in 0..5 {
            let t = std::time::Instant::now();
            black_box(memchr::memmem::find_iter(black_box(&body), b"\r\n.").count());
            ceiling = ceiling.min(t.elapsed().as_secs_f64());
        }
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let n = data_session(&config, black_box(&segs));
            session = session.min(t.elapsed().as_secs_f64());
            assert_eq!(n, expected);
        }
    }
    let gib = |t: f64| body.len() as f64 / t / f64::from(1u32 << 30);
    println!(
        "best of {rounds}x5: memmem ceiling {:.2} GiB/s, session {:.2} GiB/s = {:.0} % of the ceiling",
        gib(ceiling),
        gib(session),
        ceiling / session * 100.0
    );
}

fn data_throughput(c: &mut Criterion) {
    let body = body();
    let segs = segments(&body);
    let config = config();
    let mut g = c.benchmark_group("data_10MiB");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(20);
    g.bench_function("memmem_ceiling", |b| {
        b.iter(|| memchr::memmem::find_iter(black_box(&body), b"\r\n.").count())
    });
    g.bench_function("session_64KiB_segments", |b| {
        b.iter(|| data_session(&config, &segs))
    });
    g.finish();
}

fn pipelined_transactions(c: &mut Criterion) {
    const TXNS: usize = 1000;
    let mut input = b"EHLO client.example\r\n".to_vec();
    for i in 0..TXNS {
        input.extend_from_slice(
            format!(
                "MAIL FROM:<sender{i}@example.com>\r\nRCPT TO:<rcpt@example.org>\r\n\
RCPT TO:<other@example.org>\r\nDATA\r\nSubject: {i}\r\n\r\nHello.\r\n.\r\n"
            )
            .as_bytes(),
        );
    }
    input.extend_from_slice(b"QUIT\r\n");
    let segs = segments(&input);
    let config = config();
    let mut g = c.benchmark_group("pipelined");
    g.throughput(Throughput::Elements(TXNS as u64));
    g.bench_function("transactions", |b| {
        b.iter(|| {
            let now = Instant::ZERO;
            let mut s = Session::new(config.clone(), now);
            let mut out = BytesMut::with_capacity(64 * 1024);
            for seg in &segs {
                s.receive(now, seg.clone());
                drain(&mut s, &mut out);
            }
            assert!(s.is_closed());
        })
    });
    g.finish();
}

criterion_group!(benches, data_throughput, pipelined_transactions);

fn main() {
    if let Some(rounds) = std::env::var("DATA_RATIO")
        .ok()
        .and_then(|r| r.parse().ok())
    {
        data_ratio(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
