//! # smtp-tokio: drive [`smtp_proto`] sessions over tokio sockets with rustls
//!
//! A thin adapter: it implements the runtime seam of [`smtp_driver`] with tokio
//! (`TcpListener`/`TcpStream`, tokio-rustls streams, `tokio::time`, `tokio::spawn`,
//! `spawn_blocking`) in [`runtime`], and names the driver's generic server, client and
//! Maildir types for it. Every SMTP rule lives in the sans-IO core, and everything the tokio
//! and async-std adapters have in common (connection loops, handler model, client, Maildir,
//! example programs) lives once in `smtp-driver`.
//!
//! - [`client`]: connect (STARTTLS / implicit TLS, AUTH), send messages with per-recipient
//!   results, several per connection.
//! - [`server`]: listeners, a [`server::Handler`] per connection, STARTTLS and implicit TLS,
//!   a connection limit, graceful shutdown.
//! - [`maildir`]: a Maildir store and a ready-made handler (the `maildir-server` example).
#![forbid(unsafe_code)]

pub mod client;
pub mod maildir;
pub mod runtime;
pub mod server;

pub use runtime::Tokio;
pub use smtp_driver::error;
pub use smtp_driver::Error;
