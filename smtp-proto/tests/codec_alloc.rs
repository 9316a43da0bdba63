//! The common command mix parses without a single heap allocation (fields are slices of the
//! input line, or in-place copies of short ones), and ORCPT allocates only to decode an xtext
//! with `+XX`. Counted with dhat's heap statistics (a counting global allocator, so no
//! `unsafe` here).
//!
//! The counter is process-wide, so this runs without the libtest harness (`harness = false`
//! in Cargo.toml): the harness's own threads would otherwise allocate inside the count.

use bytes::Bytes;
use smtp_proto::{Command, ParseOptions};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations_while(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

/// A line as a session holds it: a shared buffer (the first clone of a `Vec`-backed `Bytes`
/// allocates its shared header once; a session's read buffer is shared already).
fn shared(line: &'static [u8]) -> Bytes {
    let b = Bytes::copy_from_slice(line);
    drop(b.clone());
    b
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    // The counter works: one boxed value is one allocation.
    assert_eq!(
        allocations_while(|| drop(std::hint::black_box(Box::new(42u64)))),
        1
    );
    common_mix_allocates_nothing();
    orcpt_allocates_only_to_decode();
    println!("codec_alloc: the common mix allocates nothing; ORCPT only to decode: ok");
}

fn common_mix_allocates_nothing() {
    let opts = ParseOptions::default();
    let lines = [
        shared(b"EHLO client.example.org"),
        shared(b"ehlo [192.0.2.1]"),
        shared(b"HELO a-rather-long-host-name-that-is-not-held-in-place.mail.example.org"),
        shared(b"MAIL FROM:<sender@example.org> SIZE=123456 BODY=8BITMIME"),
        shared(b"mail FROM:<a@b.example> size=10"),
        shared(b"MAIL FROM:<>"),
        shared(b"MAIL FROM:<a.long.local.part.of.a.mailing.list+bounces-1234@lists.example.org> BODY=7BIT"),
        shared(b"RCPT TO:<rcpt@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;rcpt@example.net"),
        shared(b"RCPT TO:<Postmaster>"),
        shared(b"DATA"),
        shared(b"RSET "),
        shared(b"QUIT"),
        shared(b"NOOP"),
        shared(b"BDAT 1000 LAST"),
    ];
    for line in &lines {
        let n = allocations_while(|| {
            let cmd = Command::parse_line(line, &opts);
            assert!(cmd.is_ok(), "{line:?}");
            drop(cmd);
        });
        assert_eq!(n, 0, "{line:?} allocated {n} times");
    }
}

fn orcpt_allocates_only_to_decode() {
    let opts = ParseOptions::default();
    let plain = shared(b"RCPT TO:<a@b.example> ORCPT=rfc822;a@b.example");
    let encoded = shared(b"RCPT TO:<a@b.example> ORCPT=rfc822;a+2Bx@b.example");
    for line in [&plain, &encoded] {
        assert_eq!(
            allocations_while(|| drop(Command::parse_line(line, &opts))),
            0
        );
    }
    // ORCPT is decoded on demand: borrowed without `+XX`, one buffer with it.
    let decode = |line: &Bytes| {
        let Ok(Command::Rcpt { params, .. }) = Command::parse_line(line, &opts) else {
            panic!("{line:?} is a RCPT")
        };
        let orcpt = params.orcpt.expect("ORCPT");
        allocations_while(|| drop(std::hint::black_box(orcpt.address())))
    };
    assert_eq!(decode(&plain), 0);
    assert_eq!(decode(&encoded), 1);
}
