//! A discard server for load tests, the counterpart of Postfix's `smtp-sink`: accepts every
//! message and throws the body away (the default handler methods accept everything and
//! ignore body chunks). `bench/load.sh` drives it with `smtp-source`.
//!
//! `cargo run --release -p smtp-tokio --example sink-server -- [ADDR]` (default
//! 127.0.0.1:2525). The runtime uses every core unless `TOKIO_WORKER_THREADS` says otherwise.

use smtp_proto::server::ServerConfig;
use smtp_tokio::server::{ConnectionInfo, Handler, Server};

/// Accepts everything; every `Handler` method keeps its default.
struct Discard;

impl Handler for Discard {}

#[tokio::main]
async fn main() -> Result<(), smtp_tokio::Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2525".to_owned());
    let Ok(addr) = addr.parse() else {
        eprintln!("usage: sink-server [ADDR]   (bad address {addr:?})");
        std::process::exit(2);
    };
    let server = Server::builder(ServerConfig::new("sink.example"))
        .listen(addr)
        .bind()
        .await?;
    server.serve(|_: &ConnectionInfo| Discard).await
}
