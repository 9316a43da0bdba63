//! An SMTP/LMTP server on tokio: listeners, one task per connection, STARTTLS and implicit
//! TLS with tokio-rustls, a global connection limit and graceful shutdown. The server itself
//! is [`smtp_driver::server`]'s, named here for [`Tokio`].
//!
//! ```no_run
//! use smtp_proto::server::ServerConfig;
//! use smtp_tokio::server::{ConnectionInfo, Handler, Server};
//!
//! struct AcceptAll;
//! impl Handler for AcceptAll {}
//!
//! # async fn run() -> Result<(), smtp_tokio::Error> {
//! let server = Server::builder(ServerConfig::new("mx.example.org"))
//!     .listen("127.0.0.1:2525".parse().expect("address"))
//!     .bind()
//!     .await?;
//! server.serve(|_: &ConnectionInfo| AcceptAll).await
//! # }
//! ```

use crate::Tokio;

pub use smtp_driver::server::{ConnectionInfo, Decision, Handler, HandlerFactory, ShutdownHandle};

/// A bound server on tokio, ready to [`serve`](smtp_driver::server::Server::serve).
pub type Server = smtp_driver::server::Server<Tokio>;

/// Configures and binds a [`Server`].
pub type ServerBuilder = smtp_driver::server::ServerBuilder<Tokio>;
