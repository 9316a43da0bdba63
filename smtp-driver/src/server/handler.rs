//! The application's side of a connection: one [`Handler`] value per connection, made by a
//! [`HandlerFactory`] that sees the peer.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use smtp_proto::reply::{standard, Reply};
use smtp_proto::server::{
    AbortReason, AuthRequest, AuthStep, CloseReason, DataStart, EndOfMessage, HeloRequest,
    MailRequest, RcptRequest, TlsInfo, VerifyRequest,
};

/// The application's answer to a request that holds the session.
///
/// The core has already checked every protocol rule; a decision is policy only. Which
/// variants fit which request is documented on each [`Handler`] method; a variant that does
/// not fit is a bug in the handler, reported as [`crate::Error::ApiMisuse`] and ending the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Accept with the session's standard reply (`250`, `354`, `235`, `252`).
    Accept,
    /// Accept with this (positive) reply, e.g. `250 2.0.0 Ok: queued as 4F2A` at the end of a
    /// message.
    AcceptWith(Reply),
    /// Refuse with this `4xx` or `5xx` reply.
    Reject(Reply),
    /// LMTP end of message only: one reply per accepted recipient, in RCPT order (RFC 2033
    /// 4.2).
    PerRecipient(Vec<Reply>),
    /// SASL step only ([`Handler::auth_step`]): send this challenge (`334`) and wait for
    /// the client's next response.
    Challenge(Bytes),
}

/// What the adapter knows about a connection when it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address the client connected to.
    pub local: SocketAddr,
    /// A number unique within the server, also shown in the connection's tracing span.
    pub session_id: u64,
    /// Whether the listener is implicit TLS (RFC 8314); the handshake has not run yet.
    pub implicit_tls: bool,
}

/// Makes one [`Handler`] per accepted connection.
///
/// Any `Fn(&ConnectionInfo) -> H` closure is a factory.
pub trait HandlerFactory: Send + Sync + 'static {
    /// The handler type.
    type Handler: Handler;

    /// Makes the handler of a new connection.
    fn new_handler(&self, connection: &ConnectionInfo) -> Self::Handler;
}

impl<F, H> HandlerFactory for F
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Handler,
{
    type Handler = H;

    fn new_handler(&self, connection: &ConnectionInfo) -> H {
        self(connection)
    }
}

/// The application's policy for one connection, called in the order the session raises
/// events. Every method has a default, so a handler overrides only what it cares about.
///
/// The adapter awaits each method before it reads more input from the peer, so a slow
/// handler slows the peer down (TCP backpressure) instead of making the server buffer.
///
/// Implementations may write `async fn` for each method.
///
/// ```
/// use bytes::Bytes;
/// use smtp_proto::server::EndOfMessage;
/// use smtp_driver::server::{Decision, Handler};
///
/// /// Counts the body octets of each message and accepts it.
/// #[derive(Default)]
/// struct Counter { octets: usize }
///
/// impl Handler for Counter {
///     async fn body(&mut self, chunk: Bytes) {
///         self.octets += chunk.len();
///     }
///     async fn end_of_message(&mut self, _: &EndOfMessage) -> Decision {
///         let octets = std::mem::take(&mut self.octets);
///         println!("message of {octets} octets");
///         Decision::Accept
///     }
/// }
/// ```
pub trait Handler: Send + 'static {
    /// HELO, EHLO or LHLO. Default: [`Decision::Accept`].
    fn helo(&mut self, request: &HeloRequest) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Accept }
    }

    /// MAIL FROM. Default: [`Decision::Accept`].
    fn mail(&mut self, request: &MailRequest) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Accept }
    }

    /// RCPT TO. Default: [`Decision::Accept`].
    fn rcpt(&mut self, request: &RcptRequest) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Accept }
    }

    /// DATA, or the first BDAT chunk. Default: [`Decision::Accept`].
    fn data_start(&mut self, request: &DataStart) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Accept }
    }

    /// A piece of the body, dot-unstuffed, in order. Pieces are not aligned to lines. An
    /// error storing it is the handler's to remember and report at
    /// [`end_of_message`](Handler::end_of_message). Default: drop it.
    fn body(&mut self, chunk: Bytes) -> impl Future<Output = ()> + Send {
        let _ = chunk;
        async {}
    }

    /// The whole body arrived. Commit the message only if accepting; the reply may carry the
    /// queue id ([`Decision::AcceptWith`]); in LMTP, [`Decision::PerRecipient`] gives one
    /// reply per recipient. Default: [`Decision::Accept`].
    fn end_of_message(&mut self, message: &EndOfMessage) -> impl Future<Output = Decision> + Send {
        let _ = message;
        async { Decision::Accept }
    }

    /// The message in progress is dropped (too large, bare line endings, connection lost,
    /// shutdown...): discard whatever was stored. Default: nothing.
    fn message_aborted(&mut self, reason: AbortReason) -> impl Future<Output = ()> + Send {
        let _ = reason;
        async {}
    }

    /// RSET, or a new HELO/EHLO, ended the open transaction: forget its sender and
    /// recipients. Default: nothing.
    fn reset(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// PLAIN or LOGIN credentials. Default: refuse (`535 5.7.8`): a server that advertises
    /// AUTH must check passwords, and accepting everyone is never a safe default.
    fn auth(&mut self, request: &AuthRequest) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Reject(standard::AUTH_INVALID) }
    }

    /// One step of a SASL mechanism the core does not decode. Answer
    /// [`Decision::Challenge`] to continue, `Accept` or `Reject` to finish. Default: refuse.
    fn auth_step(&mut self, step: &AuthStep) -> impl Future<Output = Decision> + Send {
        let _ = step;
        async { Decision::Reject(standard::AUTH_INVALID) }
    }

    /// VRFY, when the session is configured to ask. Default: [`Decision::Accept`] (`252`,
    /// "cannot verify, will try").
    fn vrfy(&mut self, request: &VerifyRequest) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Accept }
    }

    /// EXPN, when the session is configured to ask. Default: [`Decision::Accept`] (`252`).
    fn expn(&mut self, request: &VerifyRequest) -> impl Future<Output = Decision> + Send {
        let _ = request;
        async { Decision::Accept }
    }

    /// The TLS handshake (STARTTLS or implicit TLS) completed. Default: nothing.
    fn tls_established(&mut self, info: &TlsInfo) -> impl Future<Output = ()> + Send {
        let _ = info;
        async {}
    }

    /// The session ended (the last call on this handler). Default: nothing.
    fn closed(&mut self, reason: CloseReason) -> impl Future<Output = ()> + Send {
        let _ = reason;
        async {}
    }
}
