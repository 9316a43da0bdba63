//! Properties of the server session under proptest:
//! - chunking invariance: any split of the same input gives the same output octets and the
//!   same events (body pieces coalesced), for arbitrary input and arbitrary decisions;
//! - bounded memory: `buffered_bytes()` never exceeds the configured hard cap, and a closed
//!   session emits nothing more;
//! - every delivered body equals the dot-unstuffed input exactly (DATA and BDAT).

mod server_common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use server_common::{coalesce, summary};
use smtp_proto::server::{
    AuthTlsPolicy, Event, Pending, PreparedConfig, Protocol, ServerConfig, Session,
};
use smtp_proto::{Instant, Mechanism};

use server_common::reply;

#[derive(Debug, Clone, Copy)]
enum Choice {
    Accept,
    AcceptWith,
    RejectPermanent,
    RejectTransient,
    Challenge,
}

fn config(lmtp: bool) -> PreparedConfig {
    let mut c = ServerConfig::new("mx.example.org");
    c.limits.max_command_line = 512;
    c.limits.max_auth_line = 1000;
    c.limits.max_message_size = Some(3000);
    c.limits.max_recipients = 3;
    c.limits.max_pending_input = 2048;
    c.limits.max_buffered_input = 8192;
    c.limits.max_errors = 25;
    c.extensions.auth = vec![Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2];
    c.extensions.dsn = true;
    c.extensions.binary_mime = true;
    c.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
    if lmtp {
        c.protocol = Protocol::Lmtp;
    }
    PreparedConfig::new(c)
}

/// Runs the session over `input` cut at `cuts`, answering decisions from `choices` in order.
/// Returns (output, coalesced events, max buffered octets seen).
fn run(
    config: &PreparedConfig,
    input: &[u8],
    cuts: &[usize],
    choices: &[Choice],
) -> (Vec<u8>, Vec<String>, usize) {
    let now = Instant::ZERO;
    let mut s = Session::new(config.clone(), now);
    let mut out = BytesMut::new();
    let mut events = Vec::new();
    let mut next_choice = 0;
    let mut max_buffered = 0;
    let mut closed = false;
    let mut drain = |s: &mut Session, out: &mut BytesMut, events: &mut Vec<String>| loop {
        s.poll_transmit(now, out);
        while let Some(ev) = s.poll_event() {
            assert!(!closed, "event after Closed: {ev:?}");
            if matches!(ev, Event::Closed { .. }) {
                closed = true;
            }
            events.push(summary(&ev));
        }
        let Some(p) = s.pending() else { break };
        let c = choices.get(next_choice).copied().unwrap_or(Choice::Accept);
        next_choice += 1;
        let r = match (c, p) {
            (Choice::Accept, _) => s.accept(),
            (Choice::AcceptWith, Pending::DataStart) => s.accept_with(reply("354 go ahead")),
            (Choice::AcceptWith, Pending::EndOfMessage) if config.protocol == Protocol::Lmtp => {
                let n = lmtp_count(events);
                s.decide_lmtp((0..n).map(|i| {
                    reply(if i % 2 == 0 {
                        "250 2.0.0 ok"
                    } else {
                        "452 4.2.2 full"
                    })
                }))
            }
            (Choice::AcceptWith, _) => s.accept_with(reply("250 2.0.0 custom")),
            (Choice::RejectPermanent, _) => s.reject(reply("550 5.7.1 no")),
            (Choice::RejectTransient, _) => s.reject(reply("451 4.3.0 later")),
            (Choice::Challenge, Pending::AuthStep) => s.auth_challenge(b"more"),
            (Choice::Challenge, _) => s.accept(),
        };
        r.expect("decision");
    };
    let mut pos = 0;
    let mut points: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    points.push(input.len());
    drain(&mut s, &mut out, &mut events);
    for p in points {
        if p < pos {
            continue;
        }
        s.receive(now, Bytes::copy_from_slice(&input[pos..p]));
        max_buffered = max_buffered.max(s.buffered_bytes());
        pos = p;
        drain(&mut s, &mut out, &mut events);
        max_buffered = max_buffered.max(s.buffered_bytes());
    }
    s.receive_eof(now);
    drain(&mut s, &mut out, &mut events);
    assert!(s.is_closed(), "EOF closes the session");
    // A closed session emits nothing more.
    s.receive(now, Bytes::from_static(b"NOOP\r\n"));
    let mut more = BytesMut::new();
    assert_eq!(s.poll_transmit(now, &mut more), 0);
    assert!(s.poll_event().is_none());
    assert!(s.poll_timeout().is_none());
    (out.to_vec(), coalesce(&events), max_buffered)
}

fn lmtp_count(events: &[String]) -> usize {
    events
        .iter()
        .rev()
        .find_map(|e| {
            e.strip_prefix("eom ")
                .and_then(|r| r.rsplit("rcpts=").next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Pieces that make interesting SMTP input when concatenated.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"EHLO client.example\r\n".to_vec()),
        Just(b"HELO client.example\r\n".to_vec()),
        Just(b"LHLO client.example\r\n".to_vec()),
        Just(b"MAIL FROM:<a@example.com>\r\n".to_vec()),
        Just(b"MAIL FROM:<> BODY=BINARYMIME\r\n".to_vec()),
        Just(b"MAIL FROM:<a@example.com> SIZE=999999\r\n".to_vec()),
        Just(b"RCPT TO:<b@example.com>\r\n".to_vec()),
        Just(b"RCPT TO:<postmaster>\r\n".to_vec()),
        Just(b"DATA\r\n".to_vec()),
        Just(b"RSET\r\n".to_vec()),
        Just(b"NOOP\r\n".to_vec()),
        Just(b"VRFY x\r\n".to_vec()),
        Just(b"QUIT\r\n".to_vec()),
        Just(b"STARTTLS\r\n".to_vec()),
        Just(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n".to_vec()),
        Just(b"AUTH LOGIN\r\ndXNlcg==\r\nc2VjcmV0\r\n".to_vec()),
        Just(b"AUTH XOAUTH2\r\ndG9rZW4=\r\n".to_vec()),
        Just(b"AUTH PLAIN\r\n*\r\n".to_vec()),
        Just(b"BDAT 5\r\nab\r\nc".to_vec()),
        Just(b"BDAT 3 LAST\r\n.\r\n".to_vec()),
        Just(b"BDAT 0 LAST\r\n".to_vec()),
        Just(b"line of text\r\n".to_vec()),
        Just(b"..stuffed\r\n".to_vec()),
        Just(b".\r\n".to_vec()),
        Just(b"\r\n.\n".to_vec()),
        Just(b"\n.\r\n".to_vec()),
        Just(b"\r.\r\n".to_vec()),
        Just(b"\r\n.\r\r\n".to_vec()),
        Just(vec![b'x'; 700]),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        4 => Just(Choice::Accept),
        1 => Just(Choice::AcceptWith),
        1 => Just(Choice::RejectPermanent),
        1 => Just(Choice::RejectTransient),
        1 => Just(Choice::Challenge),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_output_and_events(
        input in input(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        choices in proptest::collection::vec(choice(), 0..30),
        lmtp in any::<bool>(),
    ) {
        let config = config(lmtp);
        let whole = run(&config, &input, &[], &choices);
        let split = run(&config, &input, &cuts, &choices);
        prop_assert_eq!(String::from_utf8_lossy(&whole.0), String::from_utf8_lossy(&split.0));
        prop_assert_eq!(&whole.1, &split.1);
        let ones: Vec<usize> = (0..input.len()).collect();
        if input.len() < 600 {
            let bytewise = run(&config, &input, &ones, &choices);
            prop_assert_eq!(&whole.0, &bytewise.0);
            prop_assert_eq!(&whole.1, &bytewise.1);
        }
        for r in [&whole, &split] {
            prop_assert!(r.2 <= config.limits.max_buffered_input, "buffered {}", r.2);
        }
    }

    #[test]
    fn delivered_body_is_the_unstuffed_input(
        lines in proptest::collection::vec(
            prop_oneof![
                Just(b".".to_vec()),
                Just(b"..".to_vec()),
                Just(Vec::new()),
                Just(b".leading".to_vec()),
                proptest::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..80),
            ],
            0..30,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
        bdat_chunks in proptest::collection::vec(1usize..200, 1..5),
    ) {
        let mut c = ServerConfig::new("mx.example.org");
        c.limits.max_message_size = None;
        let config = PreparedConfig::new(c);
        let mut content = Vec::new();
        let mut stuffed = Vec::new();
        for l in &lines {
            content.extend_from_slice(l);
            content.extend_from_slice(b"\r\n");
            if l.first() == Some(&b'.') {
                stuffed.push(b'.');
            }
            stuffed.extend_from_slice(l);
            stuffed.extend_from_slice(b"\r\n");
        }
        // DATA.
        let mut input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec();
        input.extend_from_slice(&stuffed);
        input.extend_from_slice(b".\r\n");
        // The same content by BDAT, in chunks.
        input.extend_from_slice(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
        let mut rest = &content[..];
        for n in &bdat_chunks {
            let n = (*n).min(rest.len());
            input.extend_from_slice(format!("BDAT {n}\r\n").as_bytes());
            input.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        input.extend_from_slice(format!("BDAT {} LAST\r\n", rest.len()).as_bytes());
        input.extend_from_slice(rest);
        input.extend_from_slice(b"QUIT\r\n");

        let (_, events, _) = run(&config, &input, &cuts, &[]);
        let bodies: Vec<&String> = events.iter().filter(|e| e.starts_with("body ")).collect();
        let want = format!("body {}", server_common::escape(&content));
        let eoms = events.iter().filter(|e| e.starts_with("eom ")).count();
        prop_assert_eq!(eoms, 2, "{:#?}", events);
        if content.is_empty() {
            prop_assert!(bodies.is_empty());
        } else {
            prop_assert_eq!(bodies.len(), 2, "{:#?}", events);
            prop_assert_eq!(bodies[0], &want);
            prop_assert_eq!(bodies[1], &want);
        }
    }
}
