//! The seam between the runtime-neutral driver and an async runtime: what an adapter crate
//! implements (sockets, TLS streams, timers, tasks), and nothing else.
//!
//! Three traits:
//!
//! - [`Transport`]: one connection's byte stream, plain TCP or TLS over TCP, with the TLS
//!   upgrade (server accept, client connect) that consumes the plain stream and returns the
//!   TLS one with what rustls negotiated.
//! - [`Listener`]: a bound TCP listener that accepts [`Transport`]s.
//! - [`Runtime`]: the clock, a resettable [`Timer`], spawning tasks, running blocking work
//!   (file I/O of the Maildir store) off the async threads, and opening TCP connections.
//!
//! The stream methods are poll functions rather than `async fn`: the client polls reading,
//! writing, its body source and its timer in one `poll_fn`, which needs reads and writes of
//! the same stream to be pending at once. Everything that is naturally one call (the TLS
//! handshakes, accepting, connecting, blocking work) is an `async fn` in the trait.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use smtp_proto::TlsInfo;

/// One connection's byte stream: plain TCP, or TLS over TCP after STARTTLS or from the first
/// byte (implicit TLS, RFC 8314).
///
/// The poll methods follow the usual contract: `Poll::Pending` registers the context's waker
/// and the call is repeated later; a pending call has no effect (cancel-safe).
pub trait Transport: Send + Sized + 'static {
    /// Reads what is available into the spare capacity of `buf` (appending; at most
    /// `buf.capacity() - buf.len()` octets). `Ok(0)` is the end of the stream (or a buffer
    /// without spare capacity).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>>;

    /// Writes some of `buf`, returning how much.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Flushes buffered output (TLS buffers records until flushed).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Closes the write side (TLS: `close_notify` first).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Runs the TLS handshake as the server and returns the TLS stream with what was
    /// negotiated (see [`crate::tls::negotiated`]). A stream that is already TLS is an error.
    fn accept_tls(
        self,
        config: Arc<rustls::ServerConfig>,
    ) -> impl Future<Output = io::Result<(Self, TlsInfo)>> + Send;

    /// Runs the TLS handshake as the client, verifying the server as `name`.
    fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> impl Future<Output = io::Result<(Self, TlsInfo)>> + Send;

    /// Whether TLS is up.
    fn is_tls(&self) -> bool;

    /// The local address of the TCP connection.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Sets `TCP_NODELAY`: each SMTP flight is written in one write, so Nagle's algorithm
    /// has nothing to merge and would only delay a flight's tail behind a delayed ACK.
    fn set_nodelay(&self) -> io::Result<()>;
}

/// A bound TCP listener.
pub trait Listener: Send + Sync + Sized + 'static {
    /// The accepted connections' stream.
    type Transport: Transport;

    /// Binds `addr` with a listen backlog of `backlog` connections (the kernel may cap it).
    fn bind(addr: SocketAddr, backlog: u32) -> io::Result<Self>;

    /// Accepts the next connection: its stream (plain TCP) and the peer's address.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Transport, SocketAddr)>> + Send;

    /// The bound address (with the port the kernel chose for port 0).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A one-shot timer that can be moved to another deadline.
pub trait Timer: Send + Unpin + 'static {
    /// Moves the deadline (earlier or later), re-arming a timer that already fired.
    fn reset(&mut self, deadline: Instant);

    /// Ready once the deadline passed. After that a timer may stay ready or go back to
    /// pending until it is reset; the driver polls a fired timer no more until it resets it.
    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// An async runtime as the driver uses it. Implemented by a zero-sized marker type in each
/// adapter crate (`smtp_tokio::Tokio`, `smtp_async_std::AsyncStd`, ...), which the public
/// types take as their parameter.
pub trait Runtime: Send + Sync + Sized + 'static {
    /// The adapter's name, e.g. `smtp-tokio` (shown in `Received:` headers).
    const NAME: &'static str;

    /// The connection stream.
    type Transport: Transport;
    /// The TCP listener.
    type Listener: Listener<Transport = Self::Transport>;
    /// The timer.
    type Timer: Timer;

    /// The runtime's notion of now (a runtime with a test clock returns its time).
    fn now() -> Instant;

    /// A timer that fires at `deadline`.
    fn timer(deadline: Instant) -> Self::Timer;

    /// Runs `task` in the background. The driver tracks and cancels its tasks itself, so no
    /// handle is needed.
    fn spawn<F>(task: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Runs blocking work (file I/O) where it does not hold up the async threads. An error
    /// means the work did not complete (it panicked or the runtime is going away).
    fn spawn_blocking<T, F>(work: F) -> impl Future<Output = io::Result<T>> + Send
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static;

    /// Opens a TCP connection to `addr` (plain, not yet TLS).
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Transport>> + Send;
}

/// Reads body octets from a source of type `B` (the client's
/// [`send_reader`](crate::client::Client::send_reader)). An adapter implements it on its
/// runtime type for the readers of its runtime's I/O traits, e.g.
/// `impl<B: tokio::io::AsyncRead + Unpin + Send + ?Sized> ReadBody<B> for Tokio`.
pub trait ReadBody<B: ?Sized> {
    /// Reads what is available into the spare capacity of `buf`; `Ok(0)` is the end.
    fn poll_read_body(
        body: &mut B,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>>;
}

/// A deadline `limit` from now, or a year away when that is not representable (the same as
/// none for a connection).
pub(crate) fn deadline_after<R: Runtime>(limit: Duration) -> Instant {
    let now = R::now();
    now.checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// `fut` ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Runs `fut` for at most `limit`. The timer is only created when `fut` does not finish on
/// its first poll, so a write that completes at once costs no timer.
pub(crate) async fn timeout<R: Runtime, F: Future>(
    limit: Duration,
    fut: F,
) -> Result<F::Output, Elapsed> {
    let deadline = deadline_after::<R>(limit);
    let mut fut = pin!(fut);
    let mut timer: Option<R::Timer> = None;
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        timer
            .get_or_insert_with(|| R::timer(deadline))
            .poll_fired(cx)
            .map(|()| Err(Elapsed))
    })
    .await
}

/// Waits for `duration`.
pub(crate) async fn sleep<R: Runtime>(duration: Duration) {
    let mut timer = R::timer(deadline_after::<R>(duration));
    poll_fn(|cx| timer.poll_fired(cx)).await;
}

/// Writes all of `buf`.
pub(crate) async fn write_all<T: Transport>(io: &mut T, buf: &[u8]) -> io::Result<()> {
    let mut written = 0;
    poll_fn(|cx| {
        while let Some(rest) = buf.get(written..).filter(|r| !r.is_empty()) {
            match io.poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    })
    .await
}

/// Flushes the stream.
pub(crate) async fn flush<T: Transport>(io: &mut T) -> io::Result<()> {
    poll_fn(|cx| io.poll_flush(cx)).await
}

/// Shuts the stream's write side.
pub(crate) async fn shutdown<T: Transport>(io: &mut T) -> io::Result<()> {
    poll_fn(|cx| io.poll_shutdown(cx)).await
}
