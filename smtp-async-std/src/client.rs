//! An SMTP/LMTP client on async-std or smol and futures-rustls: [`smtp_driver::client`]'s
//! client named for the runtime. [`Client::send_reader`] streams a body from any
//! `futures-io` `AsyncRead`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use smtp_proto::client::{ClientConfig as SessionConfig, Envelope};
//! use smtp_proto::{ForwardPath, ParseOptions, ReversePath};
//! use smtp_async_std::client::{Client, ClientConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let opts = ParseOptions::default();
//! let from = ReversePath::parse(&Bytes::from_static(b"<a@example.org>"), &opts)?;
//! let to = ForwardPath::parse(&Bytes::from_static(b"<b@example.net>"), &opts)?;
//!
//! let config = ClientConfig::new(Arc::new(SessionConfig::default()));
//! let mut client = Client::connect("mx.example.net:25", &config).await?;
//! let delivery = client
//!     .send(Envelope::new(from).to(to), Bytes::from_static(b"Subject: hi\r\n\r\nHello.\r\n"))
//!     .await?;
//! for r in &delivery.recipients {
//!     println!("recipient {}: {:?}", r.index, r.class());
//! }
//! client.quit().await?;
//! # Ok(()) }
//! ```

use crate::DefaultRuntime;

pub use smtp_driver::client::{
    ClientConfig, Delivery, Error, RecipientDelivery, ServerCertificate, SessionConfig, Timeout,
    TlsMode,
};

/// A connected SMTP/LMTP client session, ready for transactions.
pub type Client = smtp_driver::client::Client<DefaultRuntime>;
