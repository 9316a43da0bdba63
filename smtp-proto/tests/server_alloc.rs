//! The DATA path allocates nothing per body chunk: body events are slices of the received
//! segments. Counted with dhat's heap statistics (a counting global allocator).
//!
//! The counter is process-wide, so this runs without the libtest harness (`harness = false`
//! in Cargo.toml): the harness's own threads (progress output, slow-test warnings on a
//! loaded machine) would otherwise allocate inside the measured window.

use bytes::{Bytes, BytesMut};
use smtp_proto::server::{Event, PreparedConfig, ServerConfig, Session};
use smtp_proto::Instant;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A segment as an adapter produces it: split off a read buffer (shared representation).
fn segment(content: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(content.len());
    buf.extend_from_slice(content);
    buf.split().freeze()
}

fn drain(s: &mut Session, out: &mut BytesMut) -> usize {
    let now = Instant::ZERO;
    let mut bodies = 0;
    loop {
        out.clear();
        s.poll_transmit(now, out);
        let mut any = false;
        while let Some(ev) = s.poll_event() {
            any = true;
            if let Event::Body(b) = &ev {
                assert!(!b.is_empty());
                bodies += 1;
            }
        }
        if s.pending().is_some() {
            s.accept().expect("accept");
            continue;
        }
        if !any {
            return bodies;
        }
    }
}

fn main() {
    no_allocation_per_body_chunk();
    println!("server_alloc: no allocation per body chunk: ok");
}

fn no_allocation_per_body_chunk() {
    let _profiler = dhat::Profiler::builder().testing().build();
    // The counter works: one boxed value is one allocation.
    let probe = dhat::HeapStats::get().total_blocks;
    let boxed = std::hint::black_box(Box::new(42u64));
    assert_eq!(dhat::HeapStats::get().total_blocks - probe, 1);
    drop(boxed);
    let mut c = ServerConfig::new("mx.example.org");
    c.limits.max_message_size = None;
    let now = Instant::ZERO;
    let mut s = Session::new(PreparedConfig::new(c), now);
    let mut out = BytesMut::with_capacity(4096);
    s.receive(
        now,
        segment(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
    );
    drain(&mut s, &mut out);

    // 64 lines per segment, every other one dot-stuffed: 33 body pieces per segment.
    let mut content = Vec::new();
    for i in 0..64 {
        if i % 2 == 0 {
            content.extend_from_slice(b"..a line that starts with a dot\r\n");
        } else {
            content.extend_from_slice(b"an ordinary line of text, long enough to matter\r\n");
        }
    }
    let segments: Vec<Bytes> = (0..200).map(|_| segment(&content)).collect();

    // Warm up: the event queue reaches its steady capacity.
    for seg in &segments[..10] {
        s.receive(now, seg.clone());
        drain(&mut s, &mut out);
    }
    let before = dhat::HeapStats::get();
    let mut pieces = 0;
    for seg in &segments[10..] {
        s.receive(now, seg.clone());
        pieces += drain(&mut s, &mut out);
    }
    let after = dhat::HeapStats::get();
    assert!(pieces >= 190 * 32, "{pieces} body pieces");
    let allocations = after.total_blocks - before.total_blocks;
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {pieces} body pieces"
    );

    // The message still ends normally afterwards.
    s.receive(now, segment(b".\r\nQUIT\r\n"));
    drain(&mut s, &mut out);
    assert!(s.is_closed());
}
