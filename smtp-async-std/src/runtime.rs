//! The async-std / smol side of the [`smtp_driver::runtime`] seam.
//!
//! Both runtimes run their sockets and timers on the same reactor, `async-io` (an async-std
//! `TcpStream` is an `Async<std::net::TcpStream>` inside, and so is a smol one), so this
//! crate uses `async-io` directly for TCP and timers: one [`Stream`], one [`Listener`] and one
//! [`Timer`] serve both. The runtimes differ only in where tasks and blocking work run, which
//! is all `AsyncStd` and `Smol` say. TLS is futures-rustls over the `futures-io` traits.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Async;
use bytes::BytesMut;
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use rustls::pki_types::ServerName;
use smtp_driver::runtime;
use smtp_proto::TlsInfo;

/// async-std as the driver sees it: tasks on `async_std::task::spawn`, blocking work on
/// async-std's blocking pool (`blocking::unblock`, what `async_std::task::spawn_blocking`
/// wraps in an extra task). async-std was discontinued in 2025; prefer `Smol`.
#[cfg(feature = "async-std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

/// smol as the driver sees it: tasks on `smol::spawn` (smol's global executor, whose thread
/// count `SMOL_THREADS` sets), blocking work on `smol::unblock`.
#[cfg(feature = "smol")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

/// Implements [`runtime::Runtime`] and [`runtime::ReadBody`] for a runtime marker: only
/// `spawn` and `spawn_blocking` differ between the runtimes.
macro_rules! runtime_on_async_io {
    ($runtime:ty, spawn: $spawn:expr, spawn_blocking: $blocking:expr) => {
        impl runtime::Runtime for $runtime {
            const NAME: &'static str = "smtp-async-std";
            type Transport = Stream;
            type Listener = Listener;
            type Timer = Timer;

            fn now() -> Instant {
                Instant::now()
            }

            fn timer(deadline: Instant) -> Timer {
                Timer(async_io::Timer::at(deadline))
            }

            fn spawn<F>(task: F)
            where
                F: std::future::Future<Output = ()> + Send + 'static,
            {
                ($spawn)(task)
            }

            async fn spawn_blocking<T, F>(work: F) -> io::Result<T>
            where
                T: Send + 'static,
                F: FnOnce() -> T + Send + 'static,
            {
                // A panic in `work` resumes here, in the awaiting task.
                Ok(($blocking)(work).await)
            }

            async fn connect(addr: SocketAddr) -> io::Result<Stream> {
                Async::<TcpStream>::connect(addr).await.map(Stream::from)
            }
        }

        impl<B: AsyncRead + Unpin + Send + ?Sized> runtime::ReadBody<B> for $runtime {
            fn poll_read_body(
                body: &mut B,
                cx: &mut Context<'_>,
                buf: &mut BytesMut,
            ) -> Poll<io::Result<usize>> {
                read_into(body, cx, buf)
            }
        }
    };
}

#[cfg(feature = "async-std")]
runtime_on_async_io!(
    AsyncStd,
    spawn: |task| drop(async_std::task::spawn(task)),
    // async-std's own `task::spawn_blocking` is `task::spawn(blocking::unblock(f))`: an extra
    // task, hence one more wake-up, around every blocking call (each Maildir write). Its
    // blocking pool is `blocking`'s, so calling `unblock` directly is the same pool minus
    // that hop.
    spawn_blocking: blocking::unblock
);

#[cfg(feature = "smol")]
runtime_on_async_io!(
    Smol,
    spawn: |task| smol::spawn(task).detach(),
    spawn_blocking: smol::unblock
);

/// Reads from a `futures-io` reader into the spare capacity of `buf`. The trait wants an
/// initialised slice, so the spare capacity is zeroed first and cut back to what was read.
fn read_into<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let filled = buf.len();
    if buf.capacity() == filled {
        return Poll::Ready(Ok(0));
    }
    buf.resize(buf.capacity(), 0);
    let result = match buf.get_mut(filled..) {
        Some(spare) => Pin::new(reader).poll_read(cx, spare),
        None => Poll::Ready(Ok(0)),
    };
    let read = match &result {
        Poll::Ready(Ok(n)) => *n,
        _ => 0,
    };
    buf.truncate(filled + read);
    result
}

/// An `async_io::Timer`, moved with `set_at`.
#[derive(Debug)]
pub struct Timer(async_io::Timer);

impl runtime::Timer for Timer {
    fn reset(&mut self, deadline: Instant) {
        self.0.set_at(deadline);
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        std::future::Future::poll(Pin::new(&mut self.0), cx).map(|_| ())
    }
}

/// A TCP listener on the async-io reactor, bound through socket2 with an explicit backlog.
#[derive(Debug)]
pub struct Listener(Async<TcpListener>);

impl runtime::Listener for Listener {
    type Transport = Stream;

    /// Binds with an explicit backlog: the common default of 128 overflows when hundreds of
    /// clients connect at once, and the kernel then drops their handshakes.
    fn bind(addr: SocketAddr, backlog: u32) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        Async::new(TcpListener::from(socket)).map(Listener)
    }

    async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        let (tcp, peer) = self.0.accept().await?;
        Ok((Stream::from(tcp), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

/// A connection's stream: plain TCP, or futures-rustls over TCP.
#[derive(Debug)]
pub struct Stream {
    io: Io,
    /// Where reads land before they are appended to the caller's buffer: `futures-io` reads
    /// want an initialised slice, and zeroing the buffer's whole spare capacity on every read
    /// would cost more than copying what was read. Zeroed once, grown on demand.
    scratch: Vec<u8>,
}

/// Upgrading consumes `Plain`, so no half-upgraded state exists.
#[derive(Debug)]
enum Io {
    Plain(Async<TcpStream>),
    Tls(Box<TlsStream<Async<TcpStream>>>),
}

/// The scratch buffer never grows past this: a read asks for at most this much.
const MAX_READ: usize = 64 * 1024;

impl From<Async<TcpStream>> for Stream {
    fn from(tcp: Async<TcpStream>) -> Self {
        Stream::new(Io::Plain(tcp))
    }
}

impl Stream {
    fn new(io: Io) -> Self {
        Stream {
            io,
            scratch: Vec::new(),
        }
    }

    fn tcp(&self) -> &TcpStream {
        match &self.io {
            Io::Plain(tcp) => tcp.get_ref(),
            Io::Tls(tls) => tls.get_ref().0.get_ref(),
        }
    }

    /// Reads into the scratch buffer, then appends what was read to `buf`.
    fn read_via_scratch(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        let want = (buf.capacity() - buf.len()).min(MAX_READ);
        if want == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.scratch.len() < want {
            self.scratch.resize(want, 0);
        }
        let Some(scratch) = self.scratch.get_mut(..want) else {
            return Poll::Ready(Ok(0));
        };
        let read = match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, scratch),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, scratch),
        };
        if let Poll::Ready(Ok(n)) = read {
            buf.extend_from_slice(scratch.get(..n).unwrap_or_default());
        }
        read
    }
}

impl runtime::Transport for Stream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        self.read_via_scratch(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_close(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }

    async fn accept_tls(self, config: Arc<rustls::ServerConfig>) -> io::Result<(Self, TlsInfo)> {
        let Io::Plain(tcp) = self.io else {
            return Err(smtp_driver::tls::already_established());
        };
        let tls = TlsAcceptor::from(config).accept(tcp).await?;
        let info = smtp_driver::tls::accepted(tls.get_ref().1);
        Ok((Stream::new(Io::Tls(Box::new(tls.into()))), info))
    }

    async fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<(Self, TlsInfo)> {
        let Io::Plain(tcp) = self.io else {
            return Err(smtp_driver::tls::already_established());
        };
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        let info = smtp_driver::tls::connected(tls.get_ref().1);
        Ok((Stream::new(Io::Tls(Box::new(tls.into()))), info))
    }

    fn is_tls(&self) -> bool {
        matches!(self.io, Io::Tls(_))
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
    use std::task::Waker;

    /// Hands out its octets at most `max` at a time.
    struct Trickle<'a> {
        data: &'a [u8],
        max: usize,
    }

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.data.len().min(buf.len()).min(self.max);
            let (head, rest) = self.data.split_at(n);
            buf[..n].copy_from_slice(head);
            self.data = rest;
            Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn reads_append_into_the_spare_capacity_only() {
        let mut cx = Context::from_waker(Waker::noop());
        let data = b"hello world, and more";
        let mut reader = Trickle { data, max: 5 };
        let mut buf = BytesMut::with_capacity(8);
        buf.extend_from_slice(b">");
        let mut expected = b">".to_vec();
        let mut offered = 0;
        while offered < data.len() {
            let spare = buf.capacity() - buf.len();
            if spare == 0 {
                buf.reserve(3);
                continue;
            }
            let Poll::Ready(Ok(n)) = read_into(&mut reader, &mut cx, &mut buf) else {
                panic!("a ready reader")
            };
            assert_eq!(
                n,
                spare.min(5).min(data.len() - offered),
                "bounded by spare capacity"
            );
            expected.extend_from_slice(&data[offered..offered + n]);
            offered += n;
            assert_eq!(&buf[..], &expected[..], "appended, nothing else");
        }
        let mut full = BytesMut::new();
        assert!(
            matches!(
                read_into(&mut reader, &mut cx, &mut full),
                Poll::Ready(Ok(0))
            ),
            "no spare capacity: nothing read"
        );
    }

    #[test]
    fn a_stream_reads_through_its_scratch_buffer_into_the_spare_capacity() {
        use runtime::Transport;
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        async_io::block_on(async {
            let mut stream =
                Stream::from(Async::<TcpStream>::connect(addr).await.expect("connect"));
            let (mut peer, _) = listener.accept().expect("accept");
            let sent: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
            peer.write_all(&sent).expect("write");
            drop(peer);
            let mut buf = BytesMut::with_capacity(100);
            buf.extend_from_slice(b">");
            let mut received = Vec::new();
            loop {
                let spare = buf.capacity() - buf.len();
                let n = std::future::poll_fn(|cx| stream.poll_read(cx, &mut buf))
                    .await
                    .expect("read");
                assert!(n <= spare, "{n} octets into {spare} of spare capacity");
                if n == 0 {
                    break;
                }
                assert_eq!(buf.first(), Some(&b'>'), "appended behind what was there");
                received.extend_from_slice(buf.get(1..).unwrap_or_default());
                buf.truncate(1);
            }
            assert_eq!(received, sent);
        });
    }
}
