//! The byte stream under a session, server or client: plain TCP, or TLS over TCP after
//! STARTTLS or from the first byte (implicit TLS, RFC 8314).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

/// What rustls negotiated, in the words the core's `TlsInfo` wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// e.g. `TLSv1.3`.
    pub(crate) version: Option<String>,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub(crate) cipher: Option<String>,
    /// The server name the client asked for (SNI).
    pub(crate) sni: Option<String>,
    /// The negotiated ALPN protocol, if any.
    pub(crate) alpn: Option<Vec<u8>>,
}

/// A connection's stream. Upgrading consumes `Plain`, so no half-upgraded state exists.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// Runs the TLS handshake as the server. Called on the core's `StartTls` event, after the
    /// `220` has been written, or at once for implicit TLS.
    ///
    /// A stream that is already TLS is an error: the core never asks twice.
    pub(crate) async fn upgrade(
        self,
        acceptor: &TlsAcceptor,
    ) -> io::Result<(Transport, Negotiated)> {
        match self {
            Transport::Plain(tcp) => {
                let tls = TlsStream::from(acceptor.accept(tcp).await?);
                let negotiated = negotiated(&tls);
                Ok((Transport::Tls(Box::new(tls)), negotiated))
            }
            Transport::Tls(_) => Err(io::Error::other("TLS requested on a TLS stream")),
        }
    }

    /// Runs the TLS handshake as the client (after the `220` to STARTTLS, or at once for
    /// implicit TLS), verifying the server as `name`.
    pub(crate) async fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<Transport> {
        match self {
            Transport::Plain(tcp) => {
                let tls = TlsConnector::from(config).connect(name, tcp).await?;
                Ok(Transport::Tls(Box::new(TlsStream::from(tls))))
            }
            Transport::Tls(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS is already established on this connection",
            )),
        }
    }

    /// What the handshake negotiated, once TLS is up.
    pub(crate) fn negotiated(&self) -> Option<Negotiated> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(tls) => Some(negotiated(tls)),
        }
    }

    /// Whether TLS is up.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

/// Builds a TLS acceptor from the user's configuration.
pub(crate) fn acceptor(config: &Arc<rustls::ServerConfig>) -> TlsAcceptor {
    TlsAcceptor::from(Arc::clone(config))
}

fn negotiated(tls: &TlsStream<TcpStream>) -> Negotiated {
    let (_, conn) = tls.get_ref();
    // SNI as the server saw it; a client knows the name it sent itself.
    let sni = match tls {
        TlsStream::Server(s) => s.get_ref().1.server_name().map(str::to_owned),
        TlsStream::Client(_) => None,
    };
    Negotiated {
        version: conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
            other => format!("{other:?}"),
        }),
        cipher: conn.negotiated_cipher_suite().map(|c| {
            let suite = c.suite();
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_owned)
        }),
        sni,
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
