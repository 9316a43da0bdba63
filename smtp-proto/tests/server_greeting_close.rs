//! `Greeting::Close`: the refusal a server over its connection limit sends, then closes.

use bytes::BytesMut;
use smtp_proto::reply::standard;
use smtp_proto::server::{CloseReason, Event, Greeting, ServerConfig, Session};
use smtp_proto::Instant;

#[test]
fn close_greeting_sends_the_reply_then_closes_without_waiting_for_quit() {
    let mut config = ServerConfig::new("mx.example.org");
    config.greeting = Greeting::Close(standard::TOO_MANY_CONNECTIONS);
    let now = Instant::ZERO;
    let mut session = Session::new(config, now);
    // Barrier: Closed is withheld until the reply has been taken.
    assert!(session.poll_event().is_none());
    let mut out = BytesMut::new();
    session.poll_transmit(now, &mut out);
    // No EHLO yet, so no enhanced code (RFC 2034).
    assert_eq!(&out[..], b"421 Too many connections, try again later\r\n");
    assert_eq!(
        session.poll_event(),
        Some(Event::Closed {
            reason: CloseReason::Refused
        })
    );
    assert!(session.is_closed());
    assert!(!session.wants_read());
    // Anything the peer sends afterwards is ignored.
    session.receive(now, bytes::Bytes::from_static(b"EHLO x\r\n"));
    out.clear();
    assert_eq!(session.poll_transmit(now, &mut out), 0);
    assert!(session.poll_event().is_none());
}
