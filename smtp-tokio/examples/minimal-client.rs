//! The README's client example: one message to 127.0.0.1:2525 (start the `maildir-server`
//! example first), each recipient's result printed.
//!
//! ```text
//! cargo run -p smtp-tokio --example minimal-client
//! ```

use std::sync::Arc;

use bytes::Bytes;
use smtp_proto::client::{ClientConfig as SessionConfig, Envelope};
use smtp_proto::{ForwardPath, ParseOptions, ReversePath};
use smtp_tokio::client::{Client, ClientConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = ParseOptions::default();
    let from = ReversePath::parse(&Bytes::from_static(b"<me@example.org>"), &opts)?;
    let to = ForwardPath::parse(&Bytes::from_static(b"<you@example.org>"), &opts)?;
    // Session defaults: EHLO, STARTTLS when offered (certificate checked), PIPELINING.
    let config = ClientConfig::new(Arc::new(SessionConfig::default()));
    let mut client = Client::connect("127.0.0.1:2525", &config).await?;
    let body = Bytes::from_static(b"Subject: hello\r\n\r\nHi there.\r\n");
    let delivery = client.send(Envelope::new(from).to(to), body).await?;
    for r in &delivery.recipients {
        println!("recipient {}: {:?} {:?}", r.index, r.class(), r.reply());
    }
    client.quit().await?;
    Ok(())
}
