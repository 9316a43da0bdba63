//! The tokio side of the [`smtp_driver::runtime`] seam: TCP and tokio-rustls streams, the
//! listener, `tokio::time` timers, `tokio::spawn` and `spawn_blocking`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use smtp_driver::runtime::{self, ReadBody};
use smtp_proto::TlsInfo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

/// The tokio runtime as the driver sees it: the type parameter of the driver's generic
/// types (`Server<Tokio>`, `Client<Tokio>`, ...). Tasks go to the ambient runtime
/// (`tokio::spawn`), so a server or client must run inside one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl runtime::Runtime for Tokio {
    const NAME: &'static str = "smtp-tokio";
    type Transport = TokioStream;
    type Listener = TokioListener;
    type Timer = TokioTimer;

    fn now() -> Instant {
        // tokio's clock, so paused-time tests see their own time.
        tokio::time::Instant::now().into_std()
    }

    fn timer(deadline: Instant) -> TokioTimer {
        TokioTimer(Box::pin(tokio::time::sleep_until(deadline.into())))
    }

    fn spawn<F>(task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(task));
    }

    async fn spawn_blocking<T, F>(work: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(io::Error::other)
    }

    async fn connect(addr: SocketAddr) -> io::Result<TokioStream> {
        TcpStream::connect(addr).await.map(TokioStream::Plain)
    }
}

impl<B: AsyncRead + Unpin + Send + ?Sized> ReadBody<B> for Tokio {
    fn poll_read_body(
        body: &mut B,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        // `read_buf` is a plain poll of `poll_read` into the spare capacity: a future made
        // and dropped per poll holds no state.
        std::pin::pin!(body.read_buf(buf)).poll(cx)
    }
}

/// A `tokio::time::Sleep`, boxed once per connection and moved with `reset`.
#[derive(Debug)]
pub struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl runtime::Timer for TokioTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.as_mut().reset(deadline.into());
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

/// A tokio TCP listener bound with an explicit backlog.
#[derive(Debug)]
pub struct TokioListener(TcpListener);

impl runtime::Listener for TokioListener {
    type Transport = TokioStream;

    /// Binds with an explicit backlog: the common default of 128 overflows when hundreds of
    /// clients connect at once, and the kernel then drops their handshakes.
    fn bind(addr: SocketAddr, backlog: u32) -> io::Result<Self> {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(backlog).map(TokioListener)
    }

    async fn accept(&self) -> io::Result<(TokioStream, SocketAddr)> {
        let (tcp, peer) = self.0.accept().await?;
        Ok((TokioStream::Plain(tcp), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A connection's stream: plain TCP, or tokio-rustls over TCP. Upgrading consumes `Plain`,
/// so no half-upgraded state exists.
#[derive(Debug)]
pub enum TokioStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (server or client side).
    Tls(Box<TlsStream<TcpStream>>),
}

impl From<TcpStream> for TokioStream {
    fn from(tcp: TcpStream) -> Self {
        TokioStream::Plain(tcp)
    }
}

impl TokioStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            TokioStream::Plain(tcp) => tcp,
            TokioStream::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl runtime::Transport for TokioStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        match self {
            TokioStream::Plain(s) => std::pin::pin!(s.read_buf(buf)).poll(cx),
            TokioStream::Tls(s) => std::pin::pin!(s.read_buf(buf)).poll(cx),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            TokioStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            TokioStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            TokioStream::Plain(s) => Pin::new(s).poll_flush(cx),
            TokioStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            TokioStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            TokioStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    async fn accept_tls(self, config: Arc<rustls::ServerConfig>) -> io::Result<(Self, TlsInfo)> {
        let TokioStream::Plain(tcp) = self else {
            return Err(smtp_driver::tls::already_established());
        };
        let tls = TlsAcceptor::from(config).accept(tcp).await?;
        let info = smtp_driver::tls::accepted(tls.get_ref().1);
        Ok((TokioStream::Tls(Box::new(tls.into())), info))
    }

    async fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<(Self, TlsInfo)> {
        let TokioStream::Plain(tcp) = self else {
            return Err(smtp_driver::tls::already_established());
        };
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        let info = smtp_driver::tls::connected(tls.get_ref().1);
        Ok((TokioStream::Tls(Box::new(tls.into())), info))
    }

    fn is_tls(&self) -> bool {
        matches!(self, TokioStream::Tls(_))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr()
    }

    fn set_nodelay(&self) -> io::Result<()> {
        self.tcp().set_nodelay(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_driver::runtime::{Runtime, Timer};
    use std::future::poll_fn;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_timer_fires_at_its_deadline_and_moves_both_ways() {
        let start = Tokio::now();
        let mut timer = Tokio::timer(start + Duration::from_secs(600));
        timer.reset(start + Duration::from_secs(10));
        poll_fn(|cx| timer.poll_fired(cx)).await;
        let fired = Tokio::now();
        assert!(fired >= start + Duration::from_secs(10));
        assert!(
            fired < start + Duration::from_secs(11),
            "the earlier deadline won"
        );

        timer.reset(fired + Duration::from_secs(300));
        let early =
            tokio::time::timeout(Duration::from_secs(299), poll_fn(|cx| timer.poll_fired(cx)))
                .await;
        assert!(early.is_err(), "re-armed later: not fired yet");
        poll_fn(|cx| timer.poll_fired(cx)).await;
        assert!(Tokio::now() >= fired + Duration::from_secs(300));
    }
}
