//! # smtp-tokio: drive [`smtp_proto`] sessions over tokio sockets with rustls
//!
//! A thin adapter: sockets, TLS, timers, tasks and a handler trait. Every SMTP rule lives in
//! the sans-IO core; this crate only moves bytes, time and decisions between it and the
//! network.
//!
//! - [`client`]: connect (STARTTLS / implicit TLS, AUTH), send messages with per-recipient
//!   results, several per connection.
//! - [`server`]: listeners, a [`server::Handler`] per connection, STARTTLS and implicit TLS,
//!   a connection limit, graceful shutdown.
//! - [`maildir`]: a Maildir store and a ready-made handler (the `maildir-server` example).
#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod maildir;
pub mod server;
mod timer;
mod transport;

pub use error::Error;
