//! What rustls negotiated, in the words of the core's [`TlsInfo`]. Both adapters' TLS
//! streams (tokio-rustls, futures-rustls) expose the same rustls connection, so this reading
//! is done once, here.

use bytes::Bytes;
use smtp_proto::TlsInfo;

/// Reads version, cipher suite and ALPN from a rustls connection (`ServerConnection` and
/// `ClientConnection` both deref to [`rustls::CommonState`]); `sni` is the server name the
/// client asked for, when the server knows it.
pub fn negotiated(conn: &rustls::CommonState, sni: Option<&str>) -> TlsInfo {
    let mut info = TlsInfo::new();
    info.version = conn.protocol_version().map(|v| {
        Bytes::from(match v {
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
            other => format!("{other:?}"),
        })
    });
    info.cipher = conn.negotiated_cipher_suite().map(|c| {
        let suite = c.suite();
        Bytes::from(
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned),
        )
    });
    info.sni = sni.map(|s| Bytes::copy_from_slice(s.as_bytes()));
    info.alpn = conn.alpn_protocol().map(Bytes::copy_from_slice);
    info
}

/// What a server learns from its handshake, SNI included.
pub fn accepted(conn: &rustls::ServerConnection) -> TlsInfo {
    negotiated(conn, conn.server_name())
}

/// What a client learns from its handshake (it knows the name it sent itself).
pub fn connected(conn: &rustls::ClientConnection) -> TlsInfo {
    negotiated(conn, None)
}

/// The error of a TLS upgrade asked for on a stream that is TLS already (the core never asks
/// twice, so this is a bug in the caller).
pub fn already_established() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "TLS is already established on this connection",
    )
}
