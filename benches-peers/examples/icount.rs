//! Instruction-count driver for `valgrind --tool=callgrind` (stable numbers on a busy
//! machine): `icount PARSER COMMAND N` parses the mix line COMMAND N times with PARSER
//! (`ours`, `stalwart`, `mailrs`), result dropped each time. Run with N and with 0 and
//! divide the difference by N.
#![allow(missing_docs, clippy::unwrap_used)]
use bytes::Bytes;
use std::hint::black_box;

#[path = "../../smtp-proto/benches/common/mix.rs"]
mod mix;

fn main() {
    let mut args = std::env::args().skip(1);
    let parser = args.next().unwrap();
    let which = args.next().unwrap();
    let n: u32 = args.next().unwrap().parse().unwrap();
    let line = mix::MIX.iter().find(|(name, _)| *name == which).unwrap().1;
    let opts = smtp_proto::ParseOptions::default();
    let ours = Bytes::copy_from_slice(mix::without_crlf(line));
    // Promote the shared representation once, as a network buffer would be.
    drop(black_box(ours.clone()));
    let full = line.to_vec();
    let bare = mix::without_crlf(line).to_vec();
    match parser.as_str() {
        "ours" => {
            for _ in 0..n {
                black_box(&smtp_proto::Command::parse_line(black_box(&ours), &opts));
            }
        }
        "stalwart" => {
            for _ in 0..n {
                black_box(&stalwart_smtp_proto::Request::parse(
                    &mut black_box(&full[..]).iter(),
                ));
            }
        }
        "mailrs" => {
            for _ in 0..n {
                if let Ok(s) = std::str::from_utf8(black_box(&bare[..])) {
                    black_box(&mailrs_smtp_proto::parse_command(s));
                }
            }
        }
        _ => panic!("parser"),
    }
}
