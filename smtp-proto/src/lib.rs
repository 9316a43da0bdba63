//! # smtp-proto: a sans-IO SMTP core
//!
//! SMTP (RFC 5321) and its extensions as plain state machines: bytes in, events out, bytes to
//! send out. This crate never touches a socket, a clock, a thread or an async runtime; time
//! arrives as an [`Instant`] argument. That makes it usable from any runtime (the
//! `smtp-tokio` adapter is one loop around it), from tests on a simulated clock, and from
//! fuzzers. It is `no_std` + `alloc` (the default `std` feature adds `std::error::Error` and
//! `std::time` conversions).
//!
//! ## Layers
//!
//! - **Codec**, usable on its own (proxies, tests): [`Command`] with [`Command::parse`] /
//!   [`Command::write`], paths ([`ReversePath`], [`ForwardPath`], [`Mailbox`]), ESMTP
//!   parameters ([`MailParams`], [`RcptParams`]), [`Reply`] (multi-line, [`EnhancedCode`]),
//!   EHLO [`Capabilities`], SASL messages ([`sasl`]). Parsers are incremental in the style of
//!   `httparse`: [`Status::Complete`] with the bytes used, [`Status::Incomplete`], or a typed
//!   error that knows the reply it deserves ([`ParseError::reply`]). Fields are zero-copy
//!   [`bytes::Bytes`] slices of the input (short domain names are copied in place: cheaper).
//! - **Sessions**: [`server::Session`] and [`client::Session`], each one explicit state
//!   machine that answers every RFC rule itself and hands only policy to the application.
//!
//! ## The driving contract (both sessions)
//!
//! | group | server | client |
//! | --- | --- | --- |
//! | bytes in | `receive(now, Bytes)`, `receive_eof(now)` | same |
//! | time | `poll_timeout()`, `handle_timeout(now)` | same |
//! | decisions / work | `accept`, `accept_with`, `reject`, ... on the pending event | `send(Envelope)`, `body`, `end_body`, `reset`, `quit` |
//! | TLS hand-off | event `StartTls` -> upgrade -> `tls_established(TlsInfo)` | same |
//! | bytes out | `poll_transmit(now, &mut BytesMut)` | same |
//! | events out | `poll_event()` | same |
//!
//! `receive` only stores; the work happens while polling, so any split of the same input
//! gives the same events and output. After each input or decision call, drain in the order
//! `poll_transmit`, `poll_event` (until `None`), `poll_timeout`. `StartTls` and `Closed` are
//! *barrier* events, withheld until every byte queued before them has been taken by
//! `poll_transmit`, so even a naive loop sends the `220` before the handshake and the final
//! `221`/`421` before closing. Only API misuse (a decision with nothing pending) is an `Err`;
//! a peer's garbage becomes a reply, never a panic. Every buffer is bounded by configuration;
//! `wants_read()` says when the driver should stop reading.
//!
//! One turn of a driver, in outline (see `smtp-tokio` for a complete one):
//!
//! ```text
//! loop {
//!     if session.poll_transmit(now, &mut out) > 0 { write_all(&out); out.clear(); }
//!     while let Some(event) = session.poll_event() {
//!         match event { /* decision events: ask the application, then accept()/reject(..) */
//!                       /* StartTls: upgrade the stream, then tls_established(info) */
//!                       /* Closed: return */ _ => {} }
//!     }
//!     wait for: input (only if session.wants_read()) -> session.receive(now, bytes)
//!           or: the deadline session.poll_timeout() -> session.handle_timeout(now)
//! }
//! ```
//!
//! ## The codec alone
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use smtp_proto::{Command, ParseOptions, Status};
//!
//! let input = Bytes::from_static(b"MAIL FROM:<alice@example.org> SIZE=1024\r\nRCPT TO:<bob@exa");
//! let Status::Complete((command, used)) = Command::parse(&input, &ParseOptions::default())?
//! else { unreachable!("a whole line is there") };
//! let Command::Mail { from, params } = &command else { unreachable!() };
//! assert_eq!(from.to_string(), "<alice@example.org>");
//! assert_eq!(params.size, Some(1024));
//! // The rest is not a whole line yet.
//! assert!(Command::parse(&input.slice(used..), &ParseOptions::default())?.is_incomplete());
//!
//! let mut out = BytesMut::new();
//! command.write(&mut out);
//! assert_eq!(&out[..], b"MAIL FROM:<alice@example.org> SIZE=1024\r\n");
//! # Ok::<(), smtp_proto::ParseError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod __fuzz;
pub mod address;
pub mod client;
pub mod command;
pub mod ehlo;
pub mod error;
pub(crate) mod framing;
pub mod options;
pub mod reply;
pub mod sasl;
mod secret;
pub mod server;
mod status;
mod text;
mod time;
pub mod tls;
pub mod trace;
pub mod xtext;

pub use address::{AddressLiteral, Domain, ForwardPath, Host, LocalPart, Mailbox, ReversePath};
pub use command::{Command, MailExtras, MailParams, RcptExtras, RcptParams};
pub use ehlo::{Capabilities, EhloError, EhloKeyword};
pub use error::{ParseError, PathRole, ReplyError};
pub use options::{LineEnding, ParseOptions, PathSyntax};
pub use reply::{EnhancedCode, Reply, ReplyClass, ReplyCode, ReplyLimits, ReplyLine, ReplyParser};
pub use sasl::{Credentials, Mechanism, SaslError};
pub use secret::Secret;
pub use status::Status;
pub use time::Instant;
pub use tls::TlsInfo;
