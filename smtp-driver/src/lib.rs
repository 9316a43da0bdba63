//! # smtp-driver: the runtime-neutral half of the SMTP adapters
//!
//! [`smtp_proto`] is sans-IO: it turns bytes into events and decisions into bytes. An adapter
//! drives it over sockets: read, `receive`, drain events, ask the application, apply its
//! decision, `poll_transmit`, write, arm a timer on `poll_timeout`. Everything in that loop
//! that does not depend on the async runtime is written once, here, and shared by
//! `smtp-tokio` and `smtp-async-std`:
//!
//! - [`server`]: the [`Handler`](server::Handler) model, the per-connection loop (backpressure,
//!   write and handshake timeouts, STARTTLS hand-off, `closed` called last), the accept loop
//!   with its connection limit (`421 4.3.2` over it), session ids, tracing spans and the
//!   graceful-shutdown phases.
//! - [`client`]: connect, STARTTLS / implicit TLS, AUTH, several messages per connection
//!   with per-recipient results, pipelining and BDAT as the client session does them, and
//!   the rustls certificate choices.
//! - [`maildir`]: an atomic, streamed Maildir store and a ready-made handler; its file I/O
//!   runs through [`Runtime::spawn_blocking`](runtime::Runtime::spawn_blocking).
//! - [`tls`]: reading what rustls negotiated into the core's `TlsInfo`.
//! - `examples` (feature `examples`): flag parsing and the bodies of the `maildir-server` and
//!   `send` example programs, so each adapter's binary is a few lines.
//!
//! ## The seam
//!
//! An adapter implements three traits of [`runtime`] on its own types and names the generic
//! types here for its runtime (`smtp_tokio::server::Server` is `Server<smtp_tokio::Tokio>`):
//!
//! - [`Transport`](runtime::Transport): a connection's byte stream as poll functions (read
//!   into a `BytesMut`, write, flush, shutdown) plus the TLS upgrades (`accept_tls`,
//!   `connect_tls`) that consume the plain stream and return the TLS one with its
//!   `TlsInfo`.
//! - [`Listener`](runtime::Listener): bind with a backlog, accept, local address.
//! - [`Runtime`](runtime::Runtime): `now`, a resettable [`Timer`](runtime::Timer), `spawn`,
//!   `spawn_blocking` and TCP `connect`.
//!
//! Waiting on several things at once (socket, timer, shutdown signal) is done with
//! `std::future::poll_fn` over these poll functions, never with a runtime's `select!`; the
//! server's shutdown signal and task accounting are small std-only primitives. No SMTP rule
//! lives here: every decision about the protocol is the core's.
#![forbid(unsafe_code)]

pub mod client;
pub mod error;
#[cfg(feature = "examples")]
pub mod examples;
pub mod maildir;
pub mod runtime;
pub mod server;
mod sync;
mod time;
pub mod tls;

pub use error::Error;
