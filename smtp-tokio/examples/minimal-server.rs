//! The smallest useful server: counts each message's octets and accepts it. The README
//! shows this file.
//!
//! `cargo run -p smtp-tokio --example minimal-server`, then
//! `swaks --server 127.0.0.1:2525 --to you@example.org`.

use smtp_proto::server::{EndOfMessage, ServerConfig};
use smtp_tokio::server::{ConnectionInfo, Decision, Handler, Server};

#[derive(Default)]
struct Sink {
    size: usize,
}

impl Handler for Sink {
    // every method has a default that accepts
    async fn body(&mut self, chunk: bytes::Bytes) {
        self.size += chunk.len();
    }
    async fn end_of_message(&mut self, _: &EndOfMessage) -> Decision {
        println!("{} octets", std::mem::take(&mut self.size));
        Decision::Accept
    }
}

#[tokio::main]
async fn main() -> Result<(), smtp_tokio::Error> {
    let server = Server::builder(ServerConfig::new("mx.example.org"))
        .listen(([127, 0, 0, 1], 2525).into())
        .bind()
        .await?;
    server.serve(|_: &ConnectionInfo| Sink::default()).await
}
