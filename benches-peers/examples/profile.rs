//! Profiling driver: `profile LINE` parses LINE (no CRLF, in a shared `Bytes`) 2M times with
//! `Command::parse_line`; run it under `perf record`.
#![allow(missing_docs, clippy::unwrap_used)]
use bytes::Bytes;
use smtp_proto::{Command, ParseOptions};
fn main() {
    println!("Command size {}", core::mem::size_of::<Command>());
    println!(
        "Result size {}",
        core::mem::size_of::<Result<Command, smtp_proto::ParseError>>()
    );
    println!(
        "MailParams {}",
        core::mem::size_of::<smtp_proto::MailParams>()
    );
    let opts = ParseOptions::default();
    let which = std::env::args().nth(1).unwrap_or_default();
    // A shared buffer, as a server's read buffer is (what `quick.rs` and the benches give
    // our parser): slicing it costs atomic reference counting, which a static line hides.
    let line = Bytes::copy_from_slice(which.as_bytes());
    drop(std::hint::black_box(line.clone()));
    let t = std::time::Instant::now();
    let mut n = 0usize;
    for _ in 0..2_000_000 {
        if Command::parse_line(std::hint::black_box(&line), &opts).is_ok() {
            n += 1;
        }
    }
    println!(
        "{n} in {:?} => {:?}/op",
        t.elapsed(),
        t.elapsed() / 2_000_000
    );
}
