//! Quick interleaved comparison (min of rounds), for profiling on a busy machine.
#![allow(missing_docs)]
use bytes::Bytes;
use std::hint::black_box;
use std::time::Instant;

#[path = "../../smtp-proto/benches/common/mix.rs"]
mod mix;

fn time(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let opts = smtp_proto::ParseOptions::default();
    let n = 2_000;
    for (name, line) in mix::MIX {
        let ours = Bytes::copy_from_slice(mix::without_crlf(line));
        let full = line.to_vec();
        let bare = mix::without_crlf(line).to_vec();
        let stat = Bytes::from_static(Box::leak(
            mix::without_crlf(line).to_vec().into_boxed_slice(),
        ));
        let (mut a, mut b, mut c, mut d) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..1500 {
            a = a.min(time(n, || {
                black_box(&smtp_proto::Command::parse_line(black_box(&ours), &opts));
            }));
            d = d.min(time(n, || {
                black_box(&smtp_proto::Command::parse_line(black_box(&stat), &opts));
            }));
            b = b.min(time(n, || {
                black_box(&stalwart_smtp_proto::Request::parse(
                    &mut black_box(&full[..]).iter(),
                ));
            }));
            c = c.min(time(n, || {
                if let Ok(s) = std::str::from_utf8(black_box(&bare[..])) {
                    black_box(&mailrs_smtp_proto::parse_command(s));
                }
            }));
        }
        println!(
            "{name:20} ours {a:7.1} ns static {d:7.1} stalwart {b:7.1} ns  mailrs {c:7.1} ns  ratio {:.2} {:.2}",
            a / b,
            a / c
        );
    }
}
