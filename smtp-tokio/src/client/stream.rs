//! The client's byte stream: plain TCP, or TLS over TCP once STARTTLS or implicit TLS ran.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::Error;

/// What a TLS handshake negotiated, in the terms of the core's `TlsInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// e.g. `TLSv1.3`.
    pub(crate) version: Option<&'static str>,
    /// IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub(crate) cipher_suite: Option<String>,
    pub(crate) alpn: Option<Vec<u8>>,
}

/// Plain TCP or TLS over TCP. Upgrading consumes the plain stream, so no plaintext byte can be
/// read or written on it afterwards.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Connects to the first address of `host_port` that answers within `timeout` (one budget for
/// all addresses together), with TCP_NODELAY on.
///
/// TCP_NODELAY matters: a pipelined SMTP client writes a small batch and then waits for the
/// reply. With Nagle on, the last small segment of a batch waits for the ACK of the previous
/// one, which the server delays (delayed ACK, ~40 ms on Linux): one stall per message.
pub(crate) async fn connect_tcp(host_port: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let attempt = async {
        let mut last_error = None;
        for addr in tokio::net::lookup_host(host_port).await? {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    tcp.set_nodelay(true)?;
                    return Ok(tcp);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the host name has no address")
        }))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result.map_err(Error::Io),
        Err(_) => Err(Error::Timeout(super::Timeout::Connect)),
    }
}

impl Stream {
    /// Runs the TLS handshake over the plain stream, consuming it.
    pub(crate) async fn upgrade(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<Stream, Error> {
        match self {
            Stream::Plain(tcp) => {
                let tls = TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(Error::Tls)?;
                Ok(Stream::Tls(Box::new(tls)))
            }
            Stream::Tls(_) => Err(Error::Tls(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS is already established on this connection",
            ))),
        }
    }

    /// What the handshake negotiated, once TLS is up.
    pub(crate) fn tls_parameters(&self) -> Option<Negotiated> {
        let Stream::Tls(tls) = self else {
            return None;
        };
        let (_, conn) = tls.get_ref();
        Some(Negotiated {
            version: conn.protocol_version().map(|v| match v {
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
                _ => "TLS (other version)",
            }),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .and_then(|c| c.suite().as_str())
                .map(str::to_owned),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
