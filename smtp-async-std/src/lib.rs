//! # smtp-async-std: drive [`smtp_proto`] sessions on async-std or smol, with rustls
//!
//! The second thin adapter of the workspace, with the same server and client as
//! `smtp-tokio`: the connection loops, the [`server::Handler`] model, the client and the
//! Maildir store are [`smtp_driver`]'s, written once over a small runtime seam; this crate
//! only implements that seam ([`runtime`]) with the `futures-io` traits.
//!
//! ## async-std is discontinued; smol is the recommended path
//!
//! async-std was officially discontinued in 2025 (its README points to smol). Programs that
//! still run on it are served by the default feature `async-std`; new code should build this
//! crate with `--no-default-features --features smol`. The code is the same either way:
//!
//! | feature | tasks | blocking work (Maildir files) | sockets, timers |
//! |---|---|---|---|
//! | `async-std` (default) | `async_std::task::spawn` | async-std's blocking pool (`blocking::unblock`) | async-io |
//! | `smol` | `smol::spawn` (detached) | `smol::unblock` | async-io |
//!
//! Both runtimes run their sockets and timers on the `async-io` reactor, so this crate uses
//! it directly; TLS is `futures-rustls` (ring provider) with a user-supplied
//! `rustls::ServerConfig`. The aliases ([`server::Server`], [`client::Client`], ...) name the
//! runtime of the enabled feature ([`DefaultRuntime`]); with both features on, both runtime
//! types exist, the aliases name `AsyncStd`, and the driver's generic types name the
//! other, e.g. `smtp_driver::server::Server::<Smol>::builder(..)`.
//!
//! - [`server`]: listeners, a [`server::Handler`] per connection, STARTTLS and implicit TLS,
//!   a connection limit (`421 4.3.2` over it), graceful shutdown, a tracing span per
//!   connection.
//! - [`client`]: connect (with a timeout, STARTTLS / implicit TLS, AUTH), several messages
//!   per connection with per-recipient results, pipelining and BDAT, `TCP_NODELAY`.
//! - [`maildir`]: a Maildir store and a ready-made handler (the `maildir-server` example).
//!
//! ```no_run
//! use smtp_proto::server::ServerConfig;
//! use smtp_async_std::server::{ConnectionInfo, Handler, Server};
//!
//! struct AcceptAll;
//! impl Handler for AcceptAll {}
//!
//! # async fn run() -> Result<(), smtp_async_std::Error> {
//! let server = Server::builder(ServerConfig::new("mx.example.org"))
//!     .listen("127.0.0.1:2525".parse().expect("address"))
//!     .bind()
//!     .await?;
//! server.serve(|_: &ConnectionInfo| AcceptAll).await
//! # }
//! ```
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "async-std", feature = "smol")))]
compile_error!("smtp-async-std needs a runtime: enable the `async-std` or the `smol` feature");

pub mod client;
pub mod maildir;
pub mod runtime;
pub mod server;

#[cfg(feature = "async-std")]
pub use runtime::AsyncStd;
#[cfg(feature = "smol")]
pub use runtime::Smol;
pub use smtp_driver::error;
pub use smtp_driver::Error;

/// The runtime the aliases name when none is given: `AsyncStd` when its feature is on,
/// else `Smol`.
#[cfg(feature = "async-std")]
pub type DefaultRuntime = runtime::AsyncStd;
/// The runtime the aliases name when none is given: `AsyncStd` when its feature is on,
/// else `Smol`.
#[cfg(all(feature = "smol", not(feature = "async-std")))]
pub type DefaultRuntime = runtime::Smol;

/// Runs `future` to completion on the current thread with [`DefaultRuntime`]'s `block_on`
/// (`async_std::task::block_on` or `smol::block_on`); tasks the server spawns run on the
/// runtime's executor threads meanwhile. For `main` functions and tests.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    #[cfg(feature = "async-std")]
    return async_std::task::block_on(future);
    #[cfg(not(feature = "async-std"))]
    return smol::block_on(future);
}
