//! The realistic command mix parsed by three crates, one criterion group per command so that
//! the three appear side by side:
//!
//! - `ours`: `smtp_proto::Command::parse_line` on the line without CRLF (zero-copy `Bytes`).
//! - `stalwart`: Stalwart's `smtp_proto::Request::parse` (0.2.x) on the line with CRLF (it
//!   finds the line end itself).
//! - `mailrs`: `mailrs_smtp_proto::parse_command` on the line without CRLF; it takes `&str`,
//!   so the UTF-8 check a server must do first is included.
//!
//! Every result is kept alive through `black_box(&result)` and then dropped inside the timed
//! loop, so each parser pays for its parse and its drop, but none pays for copying its result
//! into `black_box` by value (a copy whose cost grows with the size of the result type).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

#[path = "../../smtp-proto/benches/common/mix.rs"]
mod mix;

fn per_command(c: &mut Criterion) {
    let opts = smtp_proto::ParseOptions::default();
    for (name, line) in mix::MIX {
        let ours = Bytes::copy_from_slice(mix::without_crlf(line));
        let bare: Vec<u8> = mix::without_crlf(line).to_vec();
        let full: Vec<u8> = line.to_vec();
        // All three must accept the line, or the comparison means nothing.
        assert!(
            smtp_proto::Command::parse_line(&ours, &opts).is_ok(),
            "ours: {name}"
        );
        assert!(
            stalwart_smtp_proto::Request::parse(&mut full.iter()).is_ok(),
            "stalwart: {name}"
        );
        let text = std::str::from_utf8(&bare).expect("ASCII");
        assert!(
            mailrs_smtp_proto::parse_command(text).is_ok(),
            "mailrs: {name}"
        );

        let mut g = c.benchmark_group(format!("cmd/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("ours", |b| {
            b.iter(|| {
                black_box(&smtp_proto::Command::parse_line(black_box(&ours), &opts));
            })
        });
        g.bench_function("stalwart", |b| {
            b.iter(|| {
                black_box(&stalwart_smtp_proto::Request::parse(
                    &mut black_box(&full[..]).iter(),
                ));
            })
        });
        g.bench_function("mailrs", |b| {
            b.iter(|| {
                if let Ok(s) = std::str::from_utf8(black_box(&bare[..])) {
                    black_box(&mailrs_smtp_proto::parse_command(s));
                }
            })
        });
        g.finish();
    }
}

fn whole_mix(c: &mut Criterion) {
    let opts = smtp_proto::ParseOptions::default();
    let ours: Vec<Bytes> = mix::MIX
        .iter()
        .map(|(_, l)| Bytes::copy_from_slice(mix::without_crlf(l)))
        .collect();
    let full: Vec<Vec<u8>> = mix::MIX.iter().map(|(_, l)| l.to_vec()).collect();
    let bare: Vec<Vec<u8>> = mix::MIX
        .iter()
        .map(|(_, l)| mix::without_crlf(l).to_vec())
        .collect();
    let total: usize = mix::MIX.iter().map(|(_, l)| l.len()).sum();
    let mut g = c.benchmark_group("mix");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("ours", |b| {
        b.iter(|| {
            for l in &ours {
                black_box(&smtp_proto::Command::parse_line(black_box(l), &opts));
            }
        })
    });
    g.bench_function("stalwart", |b| {
        b.iter(|| {
            for l in &full {
                black_box(&stalwart_smtp_proto::Request::parse(
                    &mut black_box(&l[..]).iter(),
                ));
            }
        })
    });
    g.bench_function("mailrs", |b| {
        b.iter(|| {
            for l in &bare {
                if let Ok(s) = std::str::from_utf8(black_box(&l[..])) {
                    black_box(&mailrs_smtp_proto::parse_command(s));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, per_command, whole_mix);
criterion_main!(benches);
