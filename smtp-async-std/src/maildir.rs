//! A Maildir store and a ready-made handler ([`smtp_driver::maildir`]), with their file I/O
//! on the runtime's blocking threads.

use crate::DefaultRuntime;

pub use smtp_driver::maildir::{local_hostname, WRITE_BATCH};

/// A Maildir directory with its `tmp/`, `new/` and `cur/` subdirectories.
pub type Maildir = smtp_driver::maildir::Maildir<DefaultRuntime>;

/// A message being written into `tmp/`.
pub type Delivery = smtp_driver::maildir::Delivery<DefaultRuntime>;

/// What every connection of a Maildir server shares.
pub type MaildirPolicy = smtp_driver::maildir::MaildirPolicy<DefaultRuntime>;

/// A [`Handler`](crate::server::Handler) storing each message in a Maildir.
pub type MaildirHandler = smtp_driver::maildir::MaildirHandler<DefaultRuntime>;
