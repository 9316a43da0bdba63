//! The shared bodies of the adapters' example programs (feature `examples`): each adapter's
//! `maildir-server` and `send` binary parses nothing itself and calls [`maildir_server::main`]
//! or [`send::main`] with its runtime, so scripts can start either adapter's examples with
//! exactly the same flags.

pub mod maildir_server;
pub mod send;

/// Parses a socket address flag value.
fn addr(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse().map_err(|e| format!("bad address {s:?}: {e}"))
}

/// Parses a number flag value.
fn number<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| format!("bad number {s:?}: {e}"))
}
