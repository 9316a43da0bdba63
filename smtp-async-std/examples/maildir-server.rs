//! A mail server that stores every accepted message in a Maildir.
//!
//! ```text
//! cargo run --release -p smtp-async-std --example maildir-server -- [FLAGS]
//! cargo run --release -p smtp-async-std --no-default-features --features smol \
//!     --example maildir-server -- [FLAGS]
//!
//!   --listen ADDR          plaintext SMTP listener (repeatable; default 127.0.0.1:2525)
//!   --implicit-tls ADDR    implicit-TLS listener, RFC 8314 (repeatable; needs a certificate)
//!   --maildir DIR          where messages go (default ./maildir)
//!   --hostname NAME        name in the greeting and Received: headers (default: this host)
//!   --max-size BYTES       largest message accepted (default 10485760)
//!   --max-recipients N     recipients per message (default 100)
//!   --auth USER:PASSWORD   an account for AUTH PLAIN/LOGIN (repeatable; MAIL then needs AUTH)
//!   --tls-cert PEM --tls-key PEM   certificate chain and key: offer STARTTLS
//!   --tls-self-signed      generate a self-signed certificate at start: offer STARTTLS
//!   --lmtp                 speak LMTP (RFC 2033) instead of SMTP
//!   --quiet                log errors only
//! ```
//!
//! Each message is written to `DIR/tmp/` as it streams in, fsynced and renamed into
//! `DIR/new/` only once its end of data is accepted, with a `Received:` header on top. The
//! `250` reply names the file. One log line per message goes to stderr (`--quiet`: errors
//! only). Ctrl-C or SIGTERM stops accepting, lets sessions finish for up to 30 s, then
//! closes the rest with `421`.
//!
//! The flags and the program are `smtp_driver::examples::maildir_server`'s, shared with
//! smtp-tokio; this file supplies the runtime (async-std, or smol with the `smol` feature)
//! and the shutdown signal.

use std::process::ExitCode;

use smtp_async_std::DefaultRuntime;
use smtp_driver::examples::maildir_server;

/// Ctrl-C or SIGTERM.
async fn signal() {
    use async_signal::{Signal, Signals};
    match Signals::new([Signal::Int, Signal::Term]) {
        Ok(mut signals) => {
            std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(std::pin::Pin::new(&mut signals), cx)
            })
            .await;
        }
        // Without signal handling the server runs until killed.
        Err(_) => std::future::pending().await,
    }
}

fn main() -> ExitCode {
    smtp_async_std::block_on(maildir_server::main::<DefaultRuntime>(
        std::env::args().skip(1),
        signal(),
    ))
}
