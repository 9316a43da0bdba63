//! # smtp-tokio: drive [`smtp_proto`] sessions over tokio sockets with rustls
//!
//! A thin adapter: sockets, TLS, timers, tasks and a handler trait. Every SMTP rule lives in
//! the sans-IO core; this crate only moves bytes, time and decisions between it and the
//! network.
#![forbid(unsafe_code)]

pub mod error;
pub mod maildir;
mod timer;
mod transport;

pub use error::Error;
