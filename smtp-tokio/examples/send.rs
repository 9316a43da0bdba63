//! `send`: deliver one message with the smtp-tokio client and print each recipient's result.
//!
//! ```text
//! cargo run -p smtp-tokio --example send -- --server 127.0.0.1:2525 \
//!     --from alice@example.org --to bob@example.net [--to carol@example.net] \
//!     [--starttls | --tls] [--auth USER:PASSWORD] [--plaintext-auth] \
//!     [--pin-cert PEM | --insecure-accept-any-cert] [--lmtp] [--ehlo NAME] [FILE | -]
//! ```
//!
//! The message is read from FILE, or from standard input when FILE is `-` or missing, and
//! streamed to the server (it is not loaded whole). Line endings are normalised to CRLF and
//! the body is dot-stuffed by the session.
//!
//! Without `--starttls`/`--tls` the connection stays in plaintext. `--starttls` requires
//! STARTTLS (no plaintext fallback); `--tls` speaks TLS from the first byte (port 465 style).
//! The server certificate is checked against Mozilla's roots unless `--pin-cert` (accept
//! exactly that certificate) or `--insecure-accept-any-cert` (accept anything: tests only).
//! AUTH over plaintext needs `--plaintext-auth`.
//!
//! Exit status: 0 when every recipient was delivered, 1 when some were not, 2 on an error.
//!
//! The flags and the program are `smtp_driver::examples::send`'s, shared with
//! smtp-async-std.

use std::process::ExitCode;

use smtp_driver::examples::send;
use smtp_tokio::Tokio;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    send::main::<Tokio>(std::env::args().skip(1)).await
}
