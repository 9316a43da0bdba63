//! Command codec throughput: commands/s per command and MB/s for the whole mix.
//!
//! `cargo bench -p smtp-proto --bench codec -- --warm-up-time 1 --measurement-time 3`
//! The comparison with other crates lives in `benches-peers/` (see BENCHMARKS.md).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use smtp_proto::{Command, ParseOptions, Status};

#[path = "common/mix.rs"]
mod mix;

fn parse_line(c: &mut Criterion) {
    let opts = ParseOptions::default();
    let mut g = c.benchmark_group("parse_line");
    for (name, line) in mix::MIX {
        let line = Bytes::copy_from_slice(mix::without_crlf(line));
        assert!(Command::parse_line(&line, &opts).is_ok(), "{name}");
        g.throughput(Throughput::Elements(1));
        g.bench_function(*name, |b| {
            b.iter(|| Command::parse_line(black_box(&line), &opts))
        });
    }
    g.finish();
}

fn mix(c: &mut Criterion) {
    let opts = ParseOptions::default();
    let lines: Vec<Bytes> = mix::MIX
        .iter()
        .map(|(_, l)| Bytes::copy_from_slice(mix::without_crlf(l)))
        .collect();
    let total: usize = mix::MIX.iter().map(|(_, l)| l.len()).sum();
    let mut buf = BytesMut::new();
    for (_, l) in mix::MIX {
        buf.extend_from_slice(l);
    }
    let stream = buf.freeze();

    let mut g = c.benchmark_group("mix");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("parse_line", |b| {
        b.iter(|| {
            for l in &lines {
                let _ = black_box(Command::parse_line(black_box(l), &opts));
            }
        })
    });
    // With framing: find each CRLF in one buffer, as a session does.
    g.bench_function("parse_stream", |b| {
        b.iter(|| {
            let mut rest = stream.clone();
            while let Ok(Status::Complete((cmd, used))) = Command::parse(black_box(&rest), &opts) {
                black_box(cmd);
                let _ = rest.split_to(used);
            }
        })
    });
    g.finish();
}

fn write(c: &mut Criterion) {
    let opts = ParseOptions::default();
    let cmds: Vec<Command> = mix::MIX
        .iter()
        .filter_map(|(_, l)| {
            Command::parse_line(&Bytes::copy_from_slice(mix::without_crlf(l)), &opts).ok()
        })
        .collect();
    let total: usize = mix::MIX.iter().map(|(_, l)| l.len()).sum();
    let mut g = c.benchmark_group("write");
    g.throughput(Throughput::Bytes(total as u64));
    let mut out = BytesMut::with_capacity(4096);
    g.bench_function("mix", |b| {
        b.iter(|| {
            out.clear();
            for cmd in &cmds {
                cmd.write(&mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, parse_line, mix, write);
criterion_main!(benches);
