//! Regression tests for what the fuzz targets found in the sessions, written against the
//! public API (the codec's regressions sit next to the codec's own unit tests). The raw
//! reproducers are also in `fuzz/corpus/<target>/regress-*` and replayed by
//! `corpus_replay.rs`.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use smtp_proto::client::{ClientConfig, ClientError, CloseReason, Event, Session, TlsPolicy};
use smtp_proto::{Instant, ReplyError};

/// Feeds `input` to a fresh client whole or byte by byte (draining after each read, as an
/// adapter does) and returns what it sent and how it closed.
fn client_run(input: &[u8], byte_by_byte: bool) -> (Vec<u8>, Option<CloseReason>) {
    let config = ClientConfig {
        tls: TlsPolicy::None,
        ..ClientConfig::default()
    };
    let mut session = Session::new(Arc::new(config), Instant::ZERO);
    let mut wire = Vec::new();
    let mut closed = None;
    let mut drain = |s: &mut Session| {
        let mut out = BytesMut::new();
        s.poll_transmit(Instant::ZERO, &mut out);
        wire.extend_from_slice(&out);
        while let Some(event) = s.poll_event() {
            if let Event::Closed { reason, .. } = event {
                closed = Some(reason);
            }
        }
    };
    drain(&mut session);
    let pieces: Vec<&[u8]> = if byte_by_byte {
        input.chunks(1).collect()
    } else {
        vec![input]
    };
    for piece in pieces {
        session.receive(Instant::ZERO, Bytes::copy_from_slice(piece));
        drain(&mut session);
    }
    (wire, closed)
}

/// `client_split_differential`: a `210` greeting makes the client queue QUIT; the empty line
/// after it is a malformed reply. Fed whole, the close used to drop the queued QUIT; fed byte
/// by byte, the QUIT had already left. Both must send the same bytes.
#[test]
fn malformed_reply_after_a_queued_quit_is_split_invariant() {
    let input = b"210\n\n";
    let whole = client_run(input, false);
    let split = client_run(input, true);
    assert_eq!(whole, split);
    assert_eq!(whole.0, b"QUIT\r\n");
    assert_eq!(
        whole.1,
        Some(CloseReason::Error(ClientError::MalformedReply(
            ReplyError::Syntax
        )))
    );
}

/// `server_script`: a bare-LF line inside an AUTH exchange that reaches `max_errors` closed
/// the session, then the AUTH code set it back to idle, and EOF emitted a second `Closed`.
#[test]
fn error_limit_inside_auth_closes_once() {
    use smtp_proto::server::{
        self, AuthTlsPolicy, CloseReason as ServerClose, PreparedConfig, ServerConfig,
    };
    let mut config = ServerConfig::new("mx.example.org");
    config.extensions.auth = vec![smtp_proto::Mechanism::Login];
    config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
    config.limits.max_errors = 2;
    let mut session = server::Session::new(PreparedConfig::new(config), Instant::ZERO);
    let mut closed = Vec::new();
    let mut drain = |s: &mut server::Session| {
        let mut out = BytesMut::new();
        s.poll_transmit(Instant::ZERO, &mut out);
        while let Some(event) = s.poll_event() {
            match event {
                server::Event::Helo(_) => s.accept().expect("pending"),
                server::Event::Closed { reason } => closed.push(reason),
                _ => {}
            }
        }
    };
    drain(&mut session);
    session.receive(
        Instant::ZERO,
        Bytes::from_static(b"EHLO c.example\r\nXYZZY\r\n"),
    );
    drain(&mut session);
    session.receive(
        Instant::ZERO,
        Bytes::from_static(b"AUTH LOGIN\r\ndXNlcg==\n"),
    );
    drain(&mut session);
    session.receive_eof(Instant::ZERO);
    drain(&mut session);
    assert_eq!(closed, [ServerClose::TooManyErrors]);
    assert!(session.is_closed());
}
