//! The connection loop on a runtime that is not one: an in-memory byte stream, a clock that
//! moves only when the test says so, and the loop polled by hand between steps. It shows the
//! loop needs nothing of tokio or async-std, and pins down its ordering: replies byte for
//! byte, `closed` last, no read while a decision is pending, the session's timer.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use smtp_proto::server::{CloseReason, MailRequest, PreparedConfig, ServerConfig, Session};
use smtp_proto::TlsInfo;

use super::connection::{drive, Settings};
use super::{Decision, Handler};
use crate::runtime::{self, Runtime};
use crate::sync::Signal;
use crate::time::Clock;

thread_local! {
    /// The manual clock of the test running on this thread.
    static NOW: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Timers waiting for the clock.
    static SLEEPERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

fn now() -> Instant {
    NOW.with(|n| {
        let t = n.get().unwrap_or_else(Instant::now);
        n.set(Some(t));
        t
    })
}

/// Moves the manual clock on and wakes every timer.
fn advance(by: Duration) {
    NOW.with(|n| n.set(Some(now() + by)));
    for waker in SLEEPERS.with(|s| std::mem::take(&mut *s.borrow_mut())) {
        waker.wake();
    }
}

/// The runtime of these tests.
#[derive(Debug)]
struct Manual;

#[derive(Debug)]
struct ManualTimer(Instant);

impl runtime::Timer for ManualTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0 = deadline;
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if now() >= self.0 {
            return Poll::Ready(());
        }
        SLEEPERS.with(|s| s.borrow_mut().push(cx.waker().clone()));
        Poll::Pending
    }
}

/// What the peer sends and what it got.
#[derive(Debug, Default)]
struct Wire {
    incoming: VecDeque<Bytes>,
    eof: bool,
    reader: Option<Waker>,
    reads_polled: usize,
    written: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
struct Pipe(Arc<Mutex<Wire>>);

impl Pipe {
    fn wire(&self) -> std::sync::MutexGuard<'_, Wire> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn send(&self, octets: &'static [u8]) {
        let mut wire = self.wire();
        wire.incoming.push_back(Bytes::from_static(octets));
        if let Some(waker) = wire.reader.take() {
            waker.wake();
        }
    }

    fn take_written(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.wire().written)).into_owned()
    }
}

impl runtime::Transport for Pipe {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let mut wire = self.wire();
        wire.reads_polled += 1;
        let spare = buf.capacity() - buf.len();
        match wire.incoming.pop_front() {
            Some(mut chunk) => {
                let part = chunk.split_to(spare.min(chunk.len()));
                if !chunk.is_empty() {
                    wire.incoming.push_front(chunk);
                }
                buf.extend_from_slice(&part);
                Poll::Ready(Ok(part.len()))
            }
            None if wire.eof => Poll::Ready(Ok(0)),
            None => {
                wire.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.wire().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    async fn accept_tls(self, _: Arc<rustls::ServerConfig>) -> io::Result<(Self, TlsInfo)> {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn connect_tls(
        self,
        _: Arc<rustls::ClientConfig>,
        _: rustls::pki_types::ServerName<'static>,
    ) -> io::Result<(Self, TlsInfo)> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn is_tls(&self) -> bool {
        false
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 25)))
    }

    fn set_nodelay(&self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct NoListener;

impl runtime::Listener for NoListener {
    type Transport = Pipe;

    fn bind(_: SocketAddr, _: u32) -> io::Result<Self> {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn accept(&self) -> io::Result<(Pipe, SocketAddr)> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Runtime for Manual {
    const NAME: &'static str = "manual";
    type Transport = Pipe;
    type Listener = NoListener;
    type Timer = ManualTimer;

    fn now() -> Instant {
        now()
    }

    fn timer(deadline: Instant) -> ManualTimer {
        ManualTimer(deadline)
    }

    fn spawn<F>(task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(task);
    }

    async fn spawn_blocking<T, F>(work: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        Ok(work())
    }

    async fn connect(_: SocketAddr) -> io::Result<Pipe> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Opened (`true`) by the test; the waker of the handler waiting for it.
type Gate = Arc<Mutex<(bool, Option<Waker>)>>;

/// A handler that logs its calls; `mail` waits for `release` when one is given.
#[derive(Clone, Default)]
struct Logged {
    calls: Arc<Mutex<Vec<String>>>,
    release: Option<Gate>,
}

impl Logged {
    fn log(&self, call: impl Into<String>) {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(call.into());
    }

    fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Handler for Logged {
    async fn helo(&mut self, _: &smtp_proto::server::HeloRequest) -> Decision {
        self.log("helo");
        Decision::Accept
    }

    async fn mail(&mut self, _: &MailRequest) -> Decision {
        self.log("mail");
        if let Some(release) = self.release.clone() {
            std::future::poll_fn(|cx| {
                let mut gate = release
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if gate.0 {
                    Poll::Ready(())
                } else {
                    gate.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
        }
        Decision::Accept
    }

    async fn rcpt(&mut self, _: &smtp_proto::server::RcptRequest) -> Decision {
        self.log("rcpt");
        Decision::Accept
    }

    async fn body(&mut self, chunk: Bytes) {
        self.log(format!("body {}", String::from_utf8_lossy(&chunk)));
    }

    async fn end_of_message(&mut self, _: &smtp_proto::server::EndOfMessage) -> Decision {
        self.log("end_of_message");
        Decision::AcceptWith(smtp_proto::Reply::new(
            smtp_proto::ReplyCode::OK,
            None,
            "queued as 1",
        ))
    }

    async fn closed(&mut self, reason: CloseReason) {
        self.log(format!("closed {reason:?}"));
    }
}

/// A connection loop on the manual runtime, polled by hand.
struct Harness {
    pipe: Pipe,
    handler: Logged,
    run: Pin<Box<dyn Future<Output = Result<(), crate::Error>>>>,
    waker: Waker,
}

impl Harness {
    fn new(config: ServerConfig, handler: Logged) -> Harness {
        let pipe = Pipe::default();
        let settings = Settings {
            read_chunk: 1024,
            write_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            tls: None,
        };
        let clock = Clock::start::<Manual>();
        let session = Session::new(PreparedConfig::new(config), clock.now());
        let io = pipe.clone();
        let mut h = handler.clone();
        let phase = Signal::new().waiter();
        let run = Box::pin(async move {
            drive::<Manual, _>(io, session, &mut h, clock, &settings, phase).await
        });
        Harness {
            pipe,
            handler,
            run,
            waker: Waker::noop().clone(),
        }
    }

    /// Polls the loop once: `Some` when it finished.
    fn step(&mut self) -> Option<Result<(), crate::Error>> {
        let mut cx = Context::from_waker(&self.waker);
        match self.run.as_mut().poll(&mut cx) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }
}

fn config() -> ServerConfig {
    ServerConfig::new("mx.test")
}

#[test]
fn a_pipelined_session_gets_its_replies_in_order_and_closed_comes_last() {
    let mut h = Harness::new(config(), Logged::default());
    assert!(h.step().is_none());
    assert_eq!(h.pipe.take_written(), "220 mx.test ESMTP Service ready\r\n");
    h.pipe
        .send(b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n");
    assert!(h.step().is_none());
    let replies = h.pipe.take_written();
    assert!(replies.starts_with("250-mx.test"), "{replies}");
    assert!(
        replies.ends_with("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
        "{replies}"
    );
    h.pipe.send(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n");
    let done = h.step().expect("the session ended with QUIT");
    assert!(done.is_ok(), "{done:?}");
    let replies = h.pipe.take_written();
    assert!(replies.starts_with("250 queued as 1\r\n221 "), "{replies}");
    let calls = h.handler.calls();
    assert_eq!(calls.first().map(String::as_str), Some("helo"));
    assert_eq!(
        calls.get(1..3),
        Some(&["mail".to_owned(), "rcpt".to_owned()][..])
    );
    let body: String = calls
        .iter()
        .filter_map(|c| c.strip_prefix("body "))
        .collect();
    assert_eq!(body, "Subject: x\r\n\r\nhi\r\n");
    assert!(
        calls.last().is_some_and(|c| c.starts_with("closed Quit")),
        "{calls:?}"
    );
}

#[test]
fn nothing_is_read_while_a_decision_is_pending() {
    let release: Gate = Arc::new(Mutex::new((false, None)));
    let handler = Logged {
        release: Some(Arc::clone(&release)),
        ..Logged::default()
    };
    let mut h = Harness::new(config(), handler);
    assert!(h.step().is_none());
    h.pipe.send(b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\n");
    h.pipe.send(b"RCPT TO:<c@d.test>\r\n");
    assert!(h.step().is_none());
    assert_eq!(h.handler.calls(), vec!["helo", "mail"]);
    let reads = h.pipe.wire().reads_polled;
    for _ in 0..3 {
        assert!(h.step().is_none());
    }
    assert_eq!(
        h.pipe.wire().reads_polled,
        reads,
        "no read while MAIL is pending"
    );
    assert_eq!(
        h.pipe.wire().incoming.len(),
        1,
        "the RCPT is still on the wire"
    );
    release
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .0 = true;
    assert!(h.step().is_none());
    assert_eq!(h.handler.calls(), vec!["helo", "mail", "rcpt"]);
    let replies = h.pipe.take_written();
    assert!(
        replies.ends_with("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"),
        "{replies}"
    );
}

#[test]
fn the_sessions_timer_closes_an_idle_connection_with_421() {
    let mut config = config();
    config.timeouts.command = Duration::from_secs(300);
    let mut h = Harness::new(config, Logged::default());
    assert!(h.step().is_none());
    h.pipe.send(b"EHLO c.test\r\n");
    assert!(h.step().is_none());
    h.pipe.take_written();
    advance(Duration::from_secs(299));
    assert!(h.step().is_none(), "not yet");
    assert_eq!(h.pipe.take_written(), "");
    advance(Duration::from_secs(2));
    let done = h.step().expect("closed by the timeout");
    assert!(done.is_ok(), "{done:?}");
    let replies = h.pipe.take_written();
    assert!(replies.starts_with("421 4.4.2 "), "{replies}");
    assert!(
        h.handler
            .calls()
            .last()
            .is_some_and(|c| c.starts_with("closed")),
        "{:?}",
        h.handler.calls()
    );
}
