//! The oracle of the bad-input cases: the sans-IO server session itself, fed the same bytes
//! in memory and answered like the `Handler` trait's defaults (accept everything, refuse
//! AUTH with `535 5.7.8`). An adapter must put exactly these bytes on the wire.

use bytes::{Bytes, BytesMut};
use smtp_proto::reply::standard;
use smtp_proto::server::{Event, PreparedConfig, ServerConfig, Session};
use smtp_proto::Instant;

/// How the input ends after its last byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The client closes its side (the session sees end of input).
    Eof,
    /// The client stays and the session's timer runs out.
    Timeout,
}

/// Everything the session sends for `input`, then `ending`.
pub fn core_output(config: ServerConfig, input: &[u8], ending: Ending) -> Vec<u8> {
    let mut session = Session::new(PreparedConfig::new(config), Instant::ZERO);
    let mut wire = Vec::new();
    pump(&mut session, &mut wire, Instant::ZERO);
    // In reads of 8 KiB, each only when the session wants input (as an adapter reads):
    // the output must not depend on how the input was cut.
    for piece in input.chunks(8 * 1024) {
        if session.is_closed() {
            break;
        }
        assert!(
            session.wants_read(),
            "the session stopped reading with nothing pending"
        );
        session.receive(Instant::ZERO, Bytes::copy_from_slice(piece));
        pump(&mut session, &mut wire, Instant::ZERO);
    }
    if !session.is_closed() {
        match ending {
            Ending::Eof => session.receive_eof(Instant::ZERO),
            Ending::Timeout => {
                let deadline = session.poll_timeout().expect("a timer runs");
                session.handle_timeout(deadline);
            }
        }
        pump(&mut session, &mut wire, Instant::ZERO);
    }
    wire
}

fn pump(session: &mut Session, wire: &mut Vec<u8>, now: Instant) {
    loop {
        let mut out = BytesMut::new();
        session.poll_transmit(now, &mut out);
        let mut progressed = !out.is_empty();
        wire.extend_from_slice(&out);
        while let Some(event) = session.poll_event() {
            progressed = true;
            let what = format!("{event:?}");
            let decided = match event {
                Event::Helo(_)
                | Event::Mail(_)
                | Event::Rcpt(_)
                | Event::DataStart(_)
                | Event::EndOfMessage(_)
                | Event::Vrfy(_)
                | Event::Expn(_) => session.accept(),
                Event::Auth(_) | Event::AuthStep(_) => session.reject(standard::AUTH_INVALID),
                _ => Ok(()),
            };
            decided.unwrap_or_else(|e| panic!("{e:?} after {what}"));
        }
        if !progressed {
            break;
        }
    }
}
