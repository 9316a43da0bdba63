//! What the core learns about a TLS connection from the adapter that ran the handshake.
//!
//! The core has no TLS library; adapters fill this from rustls (or anything else) and pass it
//! to `tls_established` (both sessions) so that it can be logged and used for policy.

use bytes::Bytes;

/// The TLS protocol version of an established connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
    /// Another version, by its wire code (e.g. `0x0302` for TLS 1.1).
    Other(u16),
}

/// Parameters of an established TLS connection.
///
/// ```
/// use smtp_proto::tls::{TlsInfo, TlsVersion};
/// let mut info = TlsInfo::default();
/// info.version = Some(TlsVersion::Tls13);
/// info.server_name = Some("mx.example.com".into());
/// assert_eq!(info.version, Some(TlsVersion::Tls13));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version.
    pub version: Option<TlsVersion>,
    /// The cipher suite's IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<Bytes>,
    /// SNI: the name the client asked for.
    pub server_name: Option<Bytes>,
    /// The negotiated ALPN protocol, if any.
    pub alpn: Option<Bytes>,
}
