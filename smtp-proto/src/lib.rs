//! # smtp-proto: a sans-IO SMTP core
//!
//! (crate documentation: the driving contract, written with the sessions)
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
mod time;
pub mod tls;
pub mod trace;
pub mod xtext;

pub use address::{AddressLiteral, Domain, ForwardPath, Host, LocalPart, Mailbox, ReversePath};
pub use command::{Command, MailParams, RcptParams};
pub use ehlo::{Capabilities, EhloError, EhloKeyword};
pub use error::{ParseError, PathRole, ReplyError};
pub use options::{LineEnding, ParseOptions, PathSyntax};
pub use reply::{EnhancedCode, Reply, ReplyClass, ReplyCode, ReplyLimits, ReplyLine, ReplyParser};
pub use sasl::{Credentials, Mechanism, SaslError};
pub use secret::Secret;
pub use status::Status;
pub use time::Instant;
pub use tls::TlsInfo;
