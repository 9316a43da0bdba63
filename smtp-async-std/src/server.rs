//! An SMTP/LMTP server on async-std or smol: listeners, one task per connection, STARTTLS
//! and implicit TLS with futures-rustls, a global connection limit and graceful shutdown.
//! The server itself is [`smtp_driver::server`]'s, named here for the runtime.

use crate::DefaultRuntime;

pub use smtp_driver::server::{ConnectionInfo, Decision, Handler, HandlerFactory, ShutdownHandle};

/// A bound server, ready to [`serve`](smtp_driver::server::Server::serve).
pub type Server = smtp_driver::server::Server<DefaultRuntime>;

/// Configures and binds a [`Server`].
pub type ServerBuilder = smtp_driver::server::ServerBuilder<DefaultRuntime>;
