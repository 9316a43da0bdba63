//! Fuzz entry points for the client session (see `crate::__fuzz`).
//!
//! The input is an op stream: a configuration byte, then ops whose first byte picks what
//! happens (server bytes, canned replies, API calls, time, TLS, EOF). After every op the
//! driver drains `poll_transmit` and `poll_event` and checks the invariants: no panic, the
//! session's buffers within the configured limits, one `Closed` at most and nothing after it,
//! recipient indices within the envelope.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::time::Duration;

use super::{
    CleartextPolicy, ClientConfig, Credentials, Envelope, Event, LineEndings, Protocol, Session,
    TlsPolicy, Usage,
};
use crate::address::{Domain, ForwardPath, Host, Mailbox, ReversePath};
use crate::reply::ReplyLimits;
use crate::tls::TlsInfo;
use crate::Instant;

/// Replies that move a session along; fuzzers find the rest.
const CANNED: &[&[u8]] = &[
    b"220 mx.example ESMTP\r\n",
    b"250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN XOAUTH2 SCRAM-SHA-256\r\n250-LIMITS RCPTMAX=2 MAILMAX=2 RCPTDOMAINMAX=1\r\n250 SIZE 100\r\n",
    b"250 mx.example\r\n",
    b"250 2.1.0 ok\r\n",
    b"354 go ahead\r\n",
    b"550 5.1.1 no\r\n",
    b"451-4.7.1 later\r\n451 4.7.1 later\r\n",
    b"220 2.0.0 ready for TLS\r\n",
    b"334 VXNlcm5hbWU6\r\n",
    b"334 \r\n",
    b"235 2.7.0 ok\r\n",
    b"535 5.7.8 no\r\n",
    b"421 4.3.2 bye\r\n",
    b"221 2.0.0 bye\r\n",
    b"502 5.5.1 no EHLO\r\n",
    b"554 5.7.1 go away\r\n",
    b"250-",
    b"\r\n",
];

struct Ops<'a> {
    data: &'a [u8],
}

impl Ops<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

fn config(b: u8) -> ClientConfig {
    let usage = |on: bool| if on { Usage::WhenOffered } else { Usage::Never };
    ClientConfig {
        protocol: if b & 1 != 0 {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        },
        pipelining: usage(b & 2 != 0),
        chunking: usage(b & 4 != 0),
        tls: match (b >> 3) & 3 {
            0 => TlsPolicy::None,
            1 => TlsPolicy::Opportunistic,
            _ => TlsPolicy::Required,
        },
        credentials: (b & 32 != 0).then(|| Credentials::password("user", "secret")),
        cleartext_auth: if b & 64 != 0 {
            CleartextPolicy::Allow
        } else {
            CleartextPolicy::RequireTls
        },
        line_endings: if b & 128 != 0 {
            LineEndings::Preserve
        } else {
            LineEndings::Normalize
        },
        // Small limits, so that short inputs reach the limit paths.
        reply_limits: ReplyLimits {
            max_line: 128,
            max_lines: 12,
        },
        max_body_buffer: 64,
        max_input_buffer: 256,
        ..ClientConfig::default()
    }
}

fn mailbox(local: &'static [u8], domain: &'static [u8]) -> Mailbox {
    let host = Host::Domain(Domain::from_bytes(Bytes::from_static(domain)));
    // Fixed, valid parts.
    #[allow(clippy::expect_used)]
    Mailbox::new(local, &host).expect("valid mailbox")
}

fn envelope(b: u8) -> Envelope {
    const LOCALS: [&[u8]; 4] = [b"a", b"b", b"c", "grüße".as_bytes()];
    const DOMAINS: [&[u8]; 3] = [b"x.example", b"y.example", b"z.example"];
    let from = if b & 1 == 0 {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(mailbox(b"sender", b"x.example"))
    };
    let mut env = Envelope::new(from);
    for i in 0..usize::from(b >> 5) {
        let local = LOCALS[(usize::from(b >> 1) + i) % LOCALS.len()];
        let domain = DOMAINS[(usize::from(b >> 3) + i) % DOMAINS.len()];
        env = env.to(ForwardPath::Mailbox(mailbox(local, domain)));
    }
    env
}

/// One run; returns everything the client wrote and reported (for the differential).
fn run(data: &[u8], split_receives: bool) -> (Vec<u8>, Vec<String>) {
    let mut ops = Ops { data };
    let Some(cfg) = ops.byte() else {
        return (Vec::new(), Vec::new());
    };
    let config = config(cfg);
    let limits = config.reply_limits;
    let body_cap = config.max_body_buffer;
    let mut now = Instant::ZERO;
    let mut s = Session::new(Arc::new(config), now);
    if cfg & 16 != 0 {
        s.set_scram_nonce(Bytes::from_static(b"fuzznonce0123456789"));
    }
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut closed = false;
    let mut recipients: Vec<usize> = Vec::new();
    let drain = |s: &mut Session,
                 out: &mut Vec<u8>,
                 events: &mut Vec<String>,
                 closed: &mut bool,
                 recipients: &[usize],
                 now: Instant| {
        loop {
            let mut buf = BytesMut::new();
            let n = s.poll_transmit(now, &mut buf);
            out.extend_from_slice(&buf);
            let mut any = false;
            while let Some(e) = s.poll_event() {
                any = true;
                assert!(!*closed, "event after Closed: {e:?}");
                match &e {
                    Event::Closed { .. } => *closed = true,
                    Event::RecipientResult { txn, index, .. } => {
                        let n = recipients.get(txn.as_u64() as usize).copied().unwrap_or(0);
                        assert!(*index < n, "recipient index {index} of {n}");
                    }
                    _ => {}
                }
                events.push(format!("{e:?}"));
            }
            if n == 0 && !any {
                break;
            }
        }
        assert_eq!(
            *closed,
            s.is_closed(),
            "Closed event and is_closed disagree"
        );
        // After a full drain: at most one partial line, one unfinished reply, the body
        // buffer (plus the one chunk always taken) and nothing of the commands.
        let bound = limits.max_line + limits.max_line * limits.max_lines + body_cap + 256;
        assert!(
            s.buffered_bytes() <= bound,
            "buffered {} > {bound}",
            s.buffered_bytes()
        );
    };
    let receive = |s: &mut Session,
                   bytes: &[u8],
                   out: &mut Vec<u8>,
                   events: &mut Vec<String>,
                   closed: &mut bool,
                   recipients: &[usize],
                   now: Instant| {
        if split_receives {
            for b in bytes {
                s.receive(now, Bytes::copy_from_slice(core::slice::from_ref(b)));
                drain(s, out, events, closed, recipients, now);
            }
        } else {
            s.receive(now, Bytes::copy_from_slice(bytes));
        }
    };
    while let Some(op) = ops.byte() {
        match op % 12 {
            0 | 1 => {
                let n = usize::from(ops.byte().unwrap_or(0));
                let bytes = ops.bytes(n).to_vec();
                receive(
                    &mut s,
                    &bytes,
                    &mut out,
                    &mut events,
                    &mut closed,
                    &recipients,
                    now,
                );
            }
            2 | 3 => {
                let i = usize::from(ops.byte().unwrap_or(0)) % CANNED.len();
                receive(
                    &mut s,
                    CANNED[i],
                    &mut out,
                    &mut events,
                    &mut closed,
                    &recipients,
                    now,
                );
            }
            4 => {
                let env = envelope(ops.byte().unwrap_or(0));
                let n = env.recipients.len();
                if s.send(env).is_ok() {
                    recipients.push(n);
                }
            }
            5 | 6 => {
                let n = usize::from(ops.byte().unwrap_or(0));
                let chunk = Bytes::copy_from_slice(ops.bytes(n));
                let _ = s.body(chunk);
            }
            7 => {
                let _ = s.end_body();
            }
            8 => match ops.byte().unwrap_or(0) % 3 {
                0 => s.reset(),
                1 => s.quit(),
                _ => s.receive_eof(now),
            },
            9 => {
                let secs = u64::from(ops.byte().unwrap_or(0)) * 5;
                now = now + Duration::from_secs(secs);
                s.handle_timeout(now);
            }
            10 => {
                let _ = s.tls_established(TlsInfo::new());
            }
            _ => {
                // Poll only (an adapter that drains at odd times).
                let _ = s.poll_timeout();
            }
        }
        drain(&mut s, &mut out, &mut events, &mut closed, &recipients, now);
    }
    (out, events)
}

/// Interprets `data` as an op stream driving one client session; checks invariants.
pub fn client_script(data: &[u8]) {
    let _ = run(data, false);
}

/// The same op stream with every received segment fed whole and fed byte by byte (draining
/// after each byte): the output bytes and the events must be identical.
///
/// One difference is by design: plaintext behind the `220` to STARTTLS closes the session
/// before `StartTls` when it came in the same read as the `220`, and after `StartTls` when
/// it came later (in the hand-off); the count of injected octets differs the same way.
/// Both are normalised away before comparing.
pub fn client_split_differential(data: &[u8]) {
    let (out_whole, ev_whole) = run(data, false);
    let (out_split, ev_split) = run(data, true);
    assert_eq!(out_whole, out_split, "split input changed the output");
    assert_eq!(
        normalise(ev_whole),
        normalise(ev_split),
        "split input changed the events"
    );
}

fn normalise(events: Vec<String>) -> Vec<String> {
    const INJECTION: &str = "Closed { reason: Error(StartTlsInjection(";
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if let Some(rest) = e.strip_prefix(INJECTION) {
            if out.last().map(String::as_str) == Some("StartTls") {
                out.pop();
            }
            let tail = rest.split_once(')').map_or("", |(_, t)| t);
            out.push(format!("{INJECTION}_){tail}"));
        } else {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn injection_behind_starttls_reply_whole_and_split() {
        let inject = b"220 go\r\n250 injected\r\n";
        let mut data = alloc::vec![8u8, 2, 0, 2, 1, 0, inject.len() as u8];
        data.extend_from_slice(inject);
        let (out, events) = run(&data, false);
        assert!(out.ends_with(b"STARTTLS\r\n"));
        assert!(
            events.last().unwrap().contains("StartTlsInjection(14)"),
            "{events:?}"
        );
        assert!(!events.iter().any(|e| e == "StartTls"));
        client_split_differential(&data);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn random_op_streams(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            client_split_differential(&data);
        }

        #[test]
        fn canned_heavy_streams(cfg in any::<u8>(), ops in proptest::collection::vec((0u8..12, any::<u8>(), any::<u8>()), 0..60)) {
            let mut data = alloc::vec![cfg];
            for (op, a, b) in ops {
                // Bias toward canned replies and API calls, which reach deep states.
                let op = if op < 4 { 2 } else { op };
                data.extend_from_slice(&[op, a, b]);
            }
            client_split_differential(&data);
        }
    }
}
