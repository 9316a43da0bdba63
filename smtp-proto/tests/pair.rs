//! The client session and the server session connected by in-memory byte pipes, cut at
//! random points on both sides: every message the client sees accepted arrives at the
//! server application byte-exact (after the configured CRLF normalisation) with its envelope.
//! PIPELINING, CHUNKING and LMTP on and off.
#![allow(clippy::unwrap_used, missing_docs)]

mod client_support;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use client_support::{envelope, fp};
use proptest::prelude::*;
use smtp_proto::client::{self, ClientConfig, Event as CEvent, LineEndings, TlsPolicy, Usage};
use smtp_proto::server::{self, Event as SEvent, PreparedConfig, ServerConfig};
use smtp_proto::{EnhancedCode, ForwardPath, Instant, Reply, ReplyCode, ReversePath};

/// What the test's server application received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub from: ReversePath,
    pub to: Vec<ForwardPath>,
    pub body: Vec<u8>,
}

/// One transaction the client is asked to send.
#[derive(Debug, Clone)]
pub struct Msg {
    pub from: String,
    /// `(address, server accepts it)`.
    pub to: Vec<(String, bool)>,
    pub body: Vec<u8>,
    /// Where the body is cut into `body()` calls.
    pub body_cuts: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
pub struct Modes {
    pub pipelining: bool,
    pub chunking: bool,
    pub lmtp: bool,
    pub preserve: bool,
}

#[derive(Debug)]
pub struct Outcome {
    /// Per transaction: the recipients the client saw accepted and whether the message
    /// result (every LMTP result) was success.
    pub client: Vec<(Vec<usize>, Option<bool>)>,
    pub delivered: Vec<Delivered>,
    pub client_closed: bool,
    pub server_closed: bool,
}

fn server_config(m: Modes) -> PreparedConfig {
    let mut c = ServerConfig::new("mx.pair.test");
    c.extensions.pipelining = m.pipelining;
    c.extensions.chunking = m.chunking;
    c.extensions.binary_mime = m.chunking;
    c.protocol = if m.lmtp {
        server::Protocol::Lmtp
    } else {
        server::Protocol::Smtp
    };
    c.limits.max_recipients = 1000;
    PreparedConfig::new(c)
}

fn client_config(m: Modes) -> ClientConfig {
    ClientConfig {
        tls: TlsPolicy::None,
        pipelining: Usage::WhenOffered,
        chunking: Usage::WhenOffered,
        protocol: if m.lmtp {
            client::Protocol::Lmtp
        } else {
            client::Protocol::Smtp
        },
        line_endings: if m.preserve {
            LineEndings::Preserve
        } else {
            LineEndings::Normalize
        },
        max_body_buffer: 256,
        ..ClientConfig::default()
    }
}

/// What the server must store for `body`: bare CR/LF as CRLF and a final CRLF, unless the
/// bytes travel exactly (BDAT with `Preserve`).
pub fn expected_body(body: &[u8], exact: bool) -> Vec<u8> {
    if exact {
        return body.to_vec();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A pipe that delivers its bytes in pieces whose sizes come from `cuts` (cycled).
struct Pipe {
    buf: VecDeque<u8>,
    cuts: Vec<usize>,
    next: usize,
}

impl Pipe {
    fn new(cuts: Vec<usize>) -> Pipe {
        Pipe {
            buf: VecDeque::new(),
            cuts: if cuts.is_empty() {
                vec![usize::MAX]
            } else {
                cuts
            },
            next: 0,
        }
    }
    fn take(&mut self) -> Option<Bytes> {
        if self.buf.is_empty() {
            return None;
        }
        let n = self.cuts[self.next % self.cuts.len()].clamp(1, self.buf.len());
        self.next += 1;
        Some(self.buf.drain(..n).collect::<Vec<u8>>().into())
    }
}

/// The server application: accepts everything but recipients whose local part starts with
/// `no`, and records every committed message.
struct ServerApp {
    from: Option<ReversePath>,
    to: Vec<ForwardPath>,
    body: Vec<u8>,
    delivered: Vec<Delivered>,
}

impl ServerApp {
    fn handle(&mut self, s: &mut server::Session, ev: SEvent) {
        match ev {
            SEvent::Helo(_) | SEvent::DataStart(_) => s.accept().unwrap(),
            SEvent::Mail(m) => {
                self.from = Some(m.reverse_path.clone());
                self.to.clear();
                self.body.clear();
                s.accept().unwrap();
            }
            SEvent::Rcpt(r) => {
                let refused = matches!(&r.forward_path, ForwardPath::Mailbox(m) if m.local_part().as_bytes().starts_with(b"no"));
                if refused {
                    s.reject(Reply::new(
                        ReplyCode::MAILBOX_UNAVAILABLE,
                        EnhancedCode::parse(b"5.1.1"),
                        "no such user",
                    ))
                    .unwrap();
                } else {
                    self.to.push(r.forward_path.clone());
                    s.accept().unwrap();
                }
            }
            SEvent::Body(b) => self.body.extend_from_slice(&b),
            SEvent::EndOfMessage(e) => {
                self.delivered.push(Delivered {
                    from: self.from.clone().unwrap(),
                    to: self.to.clone(),
                    body: std::mem::take(&mut self.body),
                });
                if s.config().protocol == server::Protocol::Lmtp {
                    let ok = Reply::new(ReplyCode::OK, EnhancedCode::parse(b"2.0.0"), "delivered");
                    s.decide_lmtp(std::iter::repeat(ok).take(e.recipients))
                        .unwrap();
                } else {
                    s.accept().unwrap();
                }
            }
            SEvent::MessageAborted { .. } | SEvent::Reset => self.body.clear(),
            _ => {}
        }
    }
}

/// Runs the whole conversation.
pub fn run(m: Modes, msgs: &[Msg], c2s_cuts: Vec<usize>, s2c_cuts: Vec<usize>) -> Outcome {
    let now = Instant::ZERO;
    let mut c = client::Session::new(Arc::new(client_config(m)), now);
    let mut s = server::Session::new(server_config(m), now);
    let mut app = ServerApp {
        from: None,
        to: Vec::new(),
        body: Vec::new(),
        delivered: Vec::new(),
    };
    let mut c2s = Pipe::new(c2s_cuts);
    let mut s2c = Pipe::new(s2c_cuts);
    // Body pieces still to feed, per transaction, in order.
    let mut bodies: VecDeque<VecDeque<Bytes>> = VecDeque::new();
    let mut txns = Vec::new();
    for msg in msgs {
        let to: Vec<&str> = msg.to.iter().map(|(a, _)| a.as_str()).collect();
        txns.push(c.send(envelope(&msg.from, &to)).unwrap());
        let mut cuts: Vec<usize> = msg
            .body_cuts
            .iter()
            .map(|&x| x % (msg.body.len() + 1))
            .collect();
        cuts.sort_unstable();
        let mut pieces = VecDeque::new();
        let mut prev = 0;
        for cut in cuts.into_iter().chain([msg.body.len()]) {
            pieces.push_back(Bytes::copy_from_slice(&msg.body[prev..cut]));
            prev = cut;
        }
        bodies.push_back(pieces);
    }
    c.quit();
    let mut results: Vec<(Vec<usize>, Option<bool>)> = vec![(Vec::new(), None); msgs.len()];
    let mut client_closed = false;
    let mut server_closed = false;
    for _round in 0..100_000 {
        let mut progress = false;
        // Client: feed body while it takes it.
        while let Some(front) = bodies.front_mut() {
            if let Some(piece) = front.pop_front() {
                match c.body(piece) {
                    Ok(()) => progress = true,
                    Err(client::BodyError::Full(p)) => {
                        front.push_front(p);
                        break;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            } else {
                c.end_body().unwrap();
                bodies.pop_front();
                progress = true;
            }
        }
        let mut out = BytesMut::new();
        if c.poll_transmit(now, &mut out) > 0 {
            c2s.buf.extend(out.iter());
            progress = true;
        }
        while let Some(ev) = c.poll_event() {
            progress = true;
            match ev {
                CEvent::RecipientResult {
                    txn,
                    index,
                    outcome,
                } if outcome.is_success() => {
                    results[txn.as_u64() as usize].0.push(index);
                }
                CEvent::MessageResult { txn, outcome, .. } => {
                    let r = &mut results[txn.as_u64() as usize].1;
                    *r = Some(r.unwrap_or(true) && outcome.is_success());
                }
                CEvent::Closed { .. } => client_closed = true,
                _ => {}
            }
        }
        // Server.
        let mut out = BytesMut::new();
        if s.poll_transmit(now, &mut out) > 0 {
            s2c.buf.extend(out.iter());
            progress = true;
        }
        while let Some(ev) = s.poll_event() {
            progress = true;
            if matches!(ev, SEvent::Closed { .. }) {
                server_closed = true;
            }
            app.handle(&mut s, ev);
        }
        // Pipes.
        if let Some(b) = c2s.take() {
            if !server_closed {
                s.receive(now, b);
            }
            progress = true;
        }
        if let Some(b) = s2c.take() {
            if !client_closed {
                c.receive(now, b);
            }
            progress = true;
        }
        if server_closed && !client_closed && s2c.buf.is_empty() {
            c.receive_eof(now);
        }
        if !progress {
            break;
        }
    }
    Outcome {
        client: results,
        delivered: app.delivered,
        client_closed,
        server_closed,
    }
}

/// Checks the outcome against what was sent.
pub fn check(m: Modes, msgs: &[Msg], o: &Outcome) {
    assert!(o.client_closed && o.server_closed, "session did not finish");
    let exact = m.preserve && m.chunking;
    let mut delivered = o.delivered.iter();
    for (i, msg) in msgs.iter().enumerate() {
        let (accepted, result) = &o.client[i];
        let expect_accepted: Vec<usize> = msg
            .to
            .iter()
            .enumerate()
            .filter(|(_, (_, ok))| *ok)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(accepted, &expect_accepted, "txn {i}: accepted recipients");
        if expect_accepted.is_empty() {
            assert_eq!(*result, None, "txn {i}: no message without recipients");
            continue;
        }
        assert_eq!(*result, Some(true), "txn {i}: message result");
        let d = delivered
            .next()
            .unwrap_or_else(|| panic!("txn {i} not delivered"));
        assert_eq!(d.from, client_support::rp(&msg.from));
        let want_to: Vec<ForwardPath> = expect_accepted.iter().map(|&j| fp(&msg.to[j].0)).collect();
        assert_eq!(d.to, want_to, "txn {i}: recipients");
        assert_eq!(
            d.body,
            expected_body(&msg.body, exact),
            "txn {i}: body\n got {:?}\nwant {:?}",
            String::from_utf8_lossy(&d.body),
            String::from_utf8_lossy(&expected_body(&msg.body, exact))
        );
    }
    assert!(delivered.next().is_none(), "more messages than accepted");
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b".".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"\n.\n".to_vec()),
        Just(b"..".to_vec()),
        Just(b"\r\n.\r\nMAIL FROM:<evil@x>\r\n".to_vec()),
        Just("grüße 😀".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
        "[a-zA-Z ]{0,20}".prop_map(|s| s.into_bytes()),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|v| v.concat())
}

fn msg_strategy() -> impl Strategy<Value = Msg> {
    (
        0u8..3,
        proptest::collection::vec((0u8..4, any::<bool>()), 1..5),
        body_strategy(),
        proptest::collection::vec(any::<usize>(), 0..5),
    )
        .prop_map(|(from, to, body, body_cuts)| Msg {
            from: if from == 0 {
                String::new()
            } else {
                format!("sender{from}@example.com")
            },
            to: to
                .iter()
                .enumerate()
                .map(|(i, (d, ok))| {
                    let local = if *ok { "user" } else { "nobody" };
                    (format!("{local}{i}@d{d}.example"), *ok)
                })
                .collect(),
            body,
            body_cuts,
        })
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..64, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn messages_arrive_byte_exact(
        pipelining in any::<bool>(),
        chunking in any::<bool>(),
        lmtp in any::<bool>(),
        preserve in any::<bool>(),
        msgs in proptest::collection::vec(msg_strategy(), 1..4),
        c2s in cuts(),
        s2c in cuts(),
    ) {
        let m = Modes { pipelining, chunking, lmtp, preserve };
        let o = run(m, &msgs, c2s, s2c);
        check(m, &msgs, &o);
    }
}

#[test]
fn every_mode_once() {
    let msgs = vec![
        Msg {
            from: "a@example.com".into(),
            to: vec![
                ("user0@x.example".into(), true),
                ("nobody1@x.example".into(), false),
            ],
            body: b"Subject: t\r\n\r\n.leading dot\r\n..two\n.\nlast".to_vec(),
            body_cuts: vec![3, 15, 16, 30],
        },
        Msg {
            from: String::new(),
            to: vec![("nobody0@x.example".into(), false)],
            body: b"never sent".to_vec(),
            body_cuts: vec![],
        },
        Msg {
            from: "b@example.com".into(),
            to: vec![("user0@y.example".into(), true)],
            body: Vec::new(),
            body_cuts: vec![],
        },
    ];
    for bits in 0..16u8 {
        let m = Modes {
            pipelining: bits & 1 != 0,
            chunking: bits & 2 != 0,
            lmtp: bits & 4 != 0,
            preserve: bits & 8 != 0,
        };
        for (c2s, s2c) in [(vec![], vec![]), (vec![1], vec![1]), (vec![7, 3], vec![5])] {
            let o = run(m, &msgs, c2s, s2c);
            check(m, &msgs, &o);
        }
    }
}

/// STARTTLS (simulated hand-off on both sides) and AUTH, then a message: the client's
/// `Required` policy, EHLO again after TLS, AUTH only after TLS, MAIL only after AUTH.
fn tls_auth_session(
    mechanisms: Vec<smtp_proto::Mechanism>,
    password: &str,
) -> (Vec<String>, Vec<Delivered>) {
    let now = Instant::ZERO;
    let mut sc = ServerConfig::new("mx.pair.test");
    sc.extensions.starttls = true;
    sc.extensions.auth = mechanisms;
    sc.policy.mail_auth = server::MailAuthPolicy::Required;
    let mut s = server::Session::new(PreparedConfig::new(sc), now);
    let cc = ClientConfig {
        tls: TlsPolicy::Required,
        credentials: Some(client::Credentials::password("user", password)),
        ..ClientConfig::default()
    };
    let mut c = client::Session::new(Arc::new(cc), now);
    c.send(envelope("a@example.com", &["user0@x.example"]))
        .unwrap();
    c.body(Bytes::from_static(b"secret message\r\n")).unwrap();
    c.end_body().unwrap();
    c.quit();
    let mut app = ServerApp {
        from: None,
        to: Vec::new(),
        body: Vec::new(),
        delivered: Vec::new(),
    };
    let mut log = Vec::new();
    for _ in 0..1000 {
        let mut progress = false;
        let mut out = BytesMut::new();
        if c.poll_transmit(now, &mut out) > 0 {
            s.receive(now, out.freeze());
            progress = true;
        }
        while let Some(ev) = c.poll_event() {
            progress = true;
            log.push(format!(
                "client {}",
                client_support::summary(std::slice::from_ref(&ev))[0]
            ));
            if matches!(ev, CEvent::StartTls) {
                c.tls_established(smtp_proto::TlsInfo::new()).unwrap();
            }
        }
        let mut out = BytesMut::new();
        if s.poll_transmit(now, &mut out) > 0 {
            c.receive(now, out.freeze());
            progress = true;
        }
        while let Some(ev) = s.poll_event() {
            progress = true;
            match ev {
                SEvent::StartTls {
                    discarded_plaintext,
                } => {
                    assert_eq!(discarded_plaintext, 0);
                    log.push("server starttls".into());
                    s.tls_established(server::TlsInfo::new()).unwrap();
                }
                SEvent::Auth(a) => {
                    log.push(format!("server auth {:?}", a.mechanism));
                    if &a.authcid[..] == b"user" && &a.password.expose()[..] == b"secret" {
                        s.accept().unwrap();
                    } else {
                        s.reject(Reply::new(
                            ReplyCode::AUTH_INVALID,
                            EnhancedCode::parse(b"5.7.8"),
                            "no",
                        ))
                        .unwrap();
                    }
                }
                other => app.handle(&mut s, other),
            }
        }
        if !progress {
            break;
        }
    }
    (log, app.delivered)
}

#[test]
fn starttls_then_auth_then_mail() {
    use smtp_proto::Mechanism;
    for (mechs, want) in [
        (vec![Mechanism::Plain, Mechanism::Login], Mechanism::Plain),
        (vec![Mechanism::Login], Mechanism::Login),
    ] {
        let (log, delivered) = tls_auth_session(mechs, "secret");
        let pos = |needle: &str| {
            log.iter()
                .position(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("{needle} missing in {log:?}"))
        };
        assert!(
            pos("server starttls") < pos(&format!("server auth {want:?}")),
            "{log:?}"
        );
        assert!(pos("client auth 235") < pos("client ready"), "{log:?}");
        assert_eq!(delivered.len(), 1, "{log:?}");
        assert_eq!(delivered[0].body, b"secret message\r\n");
    }
    let (log, delivered) = tls_auth_session(vec![Mechanism::Plain], "wrong");
    assert!(delivered.is_empty());
    assert!(log.last().unwrap().contains("AuthFailed"), "{log:?}");
}
