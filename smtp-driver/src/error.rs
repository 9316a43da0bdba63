//! Errors of the adapter: I/O, TLS, and misuse of the session API (a bug, never peer input).

use std::io;

/// An error that ends a connection or stops a server.
///
/// A peer's protocol mistakes are never errors here: the core answers them with replies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed (reset, refused, broken pipe, bind failure).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The TLS handshake or a TLS record failed.
    #[error("TLS error: {0}")]
    Tls(io::Error),
    /// A deadline of the adapter passed (connect, write, shutdown).
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The adapter called the session in the wrong state: a bug in this crate.
    #[error("session API misuse: {0}")]
    ApiMisuse(String),
    /// The configuration cannot work, e.g. implicit TLS without a TLS configuration.
    #[error("configuration: {0}")]
    Config(&'static str),
}
