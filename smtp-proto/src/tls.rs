//! What the core learns about a TLS connection from the adapter that ran the handshake.
//!
//! The core has no TLS library; adapters fill this from rustls (or anything else) and pass it
//! to `tls_established` of either session, so that it can be logged and used for policy.

use bytes::Bytes;

/// Facts about an established TLS connection. The core does not look inside; it records that
/// TLS is active.
///
/// ```
/// use smtp_proto::TlsInfo;
/// let mut info = TlsInfo::new();
/// info.version = Some("TLSv1.3".into());
/// info.sni = Some("mx.example.com".into());
/// assert!(info.cipher.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TlsInfo {
    /// Protocol version, e.g. `TLSv1.3`.
    pub version: Option<Bytes>,
    /// Cipher suite name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: Option<Bytes>,
    /// Server name the client asked for (SNI).
    pub sni: Option<Bytes>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<Bytes>,
}

impl TlsInfo {
    /// Empty information (the adapter knows nothing worth recording).
    pub fn new() -> Self {
        TlsInfo::default()
    }
}
