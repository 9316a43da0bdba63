//! mailin-embedded (blocking I/O, one pool thread per session) as a discard server: the
//! default `Handler` accepts every command and ignores the body, like Postfix's `smtp-sink`
//! and our `sink-server` example.
//!
//! usage: mailin-sink [ADDR [THREADS]]   (default 127.0.0.1:2525, 64 threads; THREADS bounds
//! the concurrent sessions, so it must be at least smtp-source's `-s`)

use mailin_embedded::{Handler, Server, SslConfig};

#[derive(Clone)]
struct Discard;

impl Handler for Discard {}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:2525".to_owned());
    let threads: u32 = args.next().and_then(|t| t.parse().ok()).unwrap_or(64);
    let mut server = Server::new(Discard);
    server.with_name("mailin.example").with_num_threads(threads);
    let started = server
        .with_ssl(SslConfig::None)
        .and_then(|s| s.with_addr(&addr))
        .map(|_| ());
    if let Err(e) = started.and_then(|()| server.serve()) {
        eprintln!("mailin-sink: {e}");
        std::process::exit(1);
    }
}
