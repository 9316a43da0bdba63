//! The common command mix parses without a single heap allocation (fields are slices of the
//! input line, or copies of short ones); ORCPT allocates only to decode an xtext with `+XX`.
//!
//! This lives here, outside the workspace, because counting allocations needs a
//! `GlobalAlloc` impl (unsafe) and the workspace forbids `unsafe_code`. Run it with
//! `cargo test --manifest-path benches-peers/Cargo.toml`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use smtp_proto::{Command, ParseOptions};

/// Counts allocations made by the current thread (tests run on several threads).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_while(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// A line as a session holds it: a shared buffer (the first clone of a `Vec`-backed `Bytes`
/// allocates its shared header once; a session's read buffer is shared already).
fn shared(line: &'static [u8]) -> Bytes {
    let b = Bytes::copy_from_slice(line);
    drop(b.clone());
    b
}

#[test]
fn common_mix_allocates_nothing() {
    let opts = ParseOptions::default();
    let lines = [
        shared(b"EHLO client.example.org"),
        shared(b"ehlo [192.0.2.1]"),
        shared(b"MAIL FROM:<sender@example.org> SIZE=123456 BODY=8BITMIME"),
        shared(b"mail FROM:<a@b.example> size=10"),
        shared(b"MAIL FROM:<>"),
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
        assert_eq!(n, 0, "{line:?}");
    }
}

#[test]
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
            panic!("{line:?}")
        };
        let orcpt = params.orcpt.expect("ORCPT");
        allocations_while(|| drop(std::hint::black_box(orcpt.address())))
    };
    assert_eq!(decode(&plain), 0);
    assert_eq!(decode(&encoded), 1);
}
