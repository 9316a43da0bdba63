//! Adapter driving [smtp_proto] sessions over sockets (work in progress).

pub mod client;
