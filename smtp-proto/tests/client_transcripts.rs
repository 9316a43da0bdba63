//! The client session fed with what real servers sent (recorded in
//! `/work/shared/transcripts/server-*.s2c`, copied to `tests/fixtures/client/`), at the
//! recorded read boundaries, byte by byte and at random splits; plus Exim-style and
//! Gmail-style sessions with multi-line replies.
#![allow(clippy::unwrap_used, missing_docs)]

mod client_support;

use bytes::{Bytes, BytesMut};
use client_support::*;
use proptest::prelude::*;
use smtp_proto::client::{ClientConfig, CloseReason, Event, OutcomeClass, TlsPolicy, Usage};
use smtp_proto::command::BodyType;
use smtp_proto::{EhloKeyword, Host, ParseOptions};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/client/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// One recorded server: its replies cut to what this client's conversation needs.
struct Recorded {
    /// The server's bytes for: greeting, EHLO, MAIL, 3 RCPT, DATA, end of data, QUIT.
    stream: Vec<u8>,
    /// Read boundaries of the recording that fall inside `stream`.
    cuts: Vec<usize>,
    /// The dot-stuffed DATA content and `.` line the recording client sent.
    data_on_wire: Vec<u8>,
}

fn load(name: &'static str) -> Recorded {
    let s2c = fixture(&format!("{name}.s2c"));
    let chunks: Vec<usize> = String::from_utf8(fixture(&format!("{name}.chunks")))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let replies = split_replies(&s2c);
    // Offsets of each reply in the recording.
    let mut offsets = Vec::new();
    let mut at = 0;
    for r in &replies {
        offsets.push((at, at + r.len()));
        at += r.len();
    }
    // mailin-embedded refused the first MAIL (SIZE unannounced); the retry's reply follows.
    let mail = if name == "server-mailin-embedded" {
        4
    } else {
        3
    };
    let wanted = [
        0,
        1,
        mail,
        mail + 1,
        mail + 2,
        mail + 3,
        mail + 4,
        mail + 5,
        replies.len() - 1,
    ];
    let mut boundaries = Vec::new();
    let mut sum = 0;
    for c in chunks {
        sum += c;
        boundaries.push(sum);
    }
    let mut stream = Vec::new();
    let mut cuts = Vec::new();
    for &i in &wanted {
        let (start, end) = offsets[i];
        for &b in &boundaries {
            if b > start && b < end {
                cuts.push(stream.len() + b - start);
            }
        }
        stream.extend_from_slice(&replies[i]);
        cuts.push(stream.len());
    }
    let c2s = fixture(&format!("{name}.c2s"));
    let data_at = find(&c2s, b"DATA\r\n").unwrap() + 6;
    let end = find(&c2s[data_at..], b"\r\n.\r\n").unwrap() + data_at + 5;
    Recorded {
        stream,
        cuts,
        data_on_wire: c2s[data_at..end].to_vec(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Undoes dot-stuffing and drops the `.` line and the CRLF the recording client added.
fn message_of(data_on_wire: &[u8]) -> Vec<u8> {
    let content = &data_on_wire[..data_on_wire.len() - 3];
    let mut out = Vec::new();
    for line in content.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out.truncate(out.len() - 2);
    out
}

fn transcript_config() -> ClientConfig {
    ClientConfig {
        hello_name: Host::parse(
            &Bytes::from_static(b"client.interop.test"),
            &ParseOptions::default(),
        )
        .unwrap(),
        tls: TlsPolicy::None,
        chunking: Usage::Never,
        ..ClientConfig::default()
    }
}

/// Runs the conversation: the server stream fed in the given pieces, the body in pieces.
fn run(rec: &Recorded, cuts: &[usize], body_cuts: &[usize]) -> (Vec<u8>, Vec<Event>) {
    let mut c = Script::new(transcript_config());
    let message = message_of(&rec.data_on_wire);
    let env = envelope(
        "sender@interop.test",
        &[
            "rcpt1@interop.test",
            "rcpt2@interop.test",
            "nobody-here@interop.test",
        ],
    )
    .with_size(message.len() as u64)
    .with_body_type(BodyType::EightBitMime);
    c.s.send(env).unwrap();
    let mut prev = 0;
    for &b in body_cuts.iter().chain([message.len()].iter()) {
        let b = b.min(message.len()).max(prev);
        c.s.body(Bytes::copy_from_slice(&message[prev..b])).unwrap();
        prev = b;
    }
    c.s.end_body().unwrap();
    c.s.quit();
    let mut prev = 0;
    for &b in cuts.iter().chain([rec.stream.len()].iter()) {
        let b = b.min(rec.stream.len()).max(prev);
        c.feed(&rec.stream[prev..b]);
        prev = b;
    }
    c.pump();
    (c.out, c.events)
}

const SERVERS: [&str; 6] = [
    "server-postfix-smtpd",
    "server-postfix-smtp-sink",
    "server-aiosmtpd",
    "server-go-smtp",
    "server-node-smtp-server",
    "server-mailin-embedded",
];

#[test]
fn recorded_servers_at_recorded_boundaries() {
    for name in SERVERS {
        let rec = load(name);
        let (out, events) = run(&rec, &rec.cuts, &[100, 101, 102, 500]);
        let s = summary(&events);
        // The body went out exactly as the recording client (which stuffed correctly) sent it.
        assert!(
            find(&out, &rec.data_on_wire).is_some(),
            "{name}: body differs"
        );
        assert!(out.starts_with(b"EHLO client.interop.test\r\n"), "{name}");
        assert!(out.ends_with(b"QUIT\r\n"), "{name}");
        let refused = if name == "server-postfix-smtp-sink" {
            250
        } else {
            550
        };
        assert_eq!(
            s[..7],
            [
                "greeting 220".to_string(),
                "ready".into(),
                "rcpt 0 0 250".into(),
                "rcpt 0 1 250".into(),
                format!("rcpt 0 2 {refused}"),
                "body 0".into(),
                "message 0 250".into(),
            ],
            "{name}: {s:?}"
        );
        assert!(
            matches!(events.last(), Some(Event::Closed { reason: CloseReason::Quit(Some(r)), unfinished }) if r.code().as_u16() == 221 && unfinished.is_empty()),
            "{name}: {s:?}"
        );
        // MAIL parameters follow what the server announced.
        let mail_line = out
            .split(|&b| b == b'\n')
            .find(|l| l.starts_with(b"MAIL"))
            .unwrap();
        let announces_size = !matches!(name, "server-postfix-smtp-sink" | "server-mailin-embedded");
        assert_eq!(
            find(mail_line, b" SIZE=").is_some(),
            announces_size,
            "{name}: {}",
            String::from_utf8_lossy(mail_line)
        );
        assert!(find(mail_line, b" BODY=8BITMIME").is_some(), "{name}");
    }
}

#[test]
fn recorded_ehlo_quirks() {
    let caps = |name| {
        let rec = load(name);
        let (_, events) = run(&rec, &[], &[]);
        events
            .into_iter()
            .find_map(|e| match e {
                Event::Ready { capabilities } => Some(capabilities),
                _ => None,
            })
            .unwrap()
    };
    // smtp-sink ends its EHLO reply with an empty `250 ` line: no keyword from it.
    let sink = caps("server-postfix-smtp-sink");
    assert_eq!(sink.keywords.len(), 7, "{:?}", sink.keywords);
    assert!(sink.keywords.contains(&EhloKeyword::Pipelining));
    // mailin-embedded's first line carries no host name ("server offers extensions:"); the
    // session goes on, keywords intact.
    let mailin = caps("server-mailin-embedded");
    assert_eq!(&mailin.greeting[..], b"offers extensions:");
    assert!(mailin.keywords.contains(&EhloKeyword::StartTls));
    assert!(mailin.keywords.contains(&EhloKeyword::EightBitMime));
    // Postfix announces everything this client uses.
    let pfx = caps("server-postfix-smtpd");
    assert!(pfx.supports_pipelining() && pfx.supports_chunking() && pfx.supports_smtputf8());
    assert_eq!(pfx.max_size(), Some(20480000));
}

#[test]
fn recorded_servers_byte_by_byte() {
    for name in SERVERS {
        let rec = load(name);
        let whole = run(&rec, &[], &[]);
        let every: Vec<usize> = (1..rec.stream.len()).collect();
        let body_every: Vec<usize> = (1..2000).collect();
        assert_eq!(run(&rec, &every, &body_every), whole, "{name}");
        assert_eq!(run(&rec, &rec.cuts, &[]), whole, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn recorded_servers_at_random_splits(
        server in 0..SERVERS.len(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        body_cuts in proptest::collection::vec(0usize..1600, 0..6),
    ) {
        let rec = load(SERVERS[server]);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(rec.stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut body_cuts = body_cuts;
        body_cuts.sort_unstable();
        prop_assert_eq!(run(&rec, &cuts, &body_cuts), run(&rec, &[], &[]));
    }
}

/// Exim: a multi-line greeting, LIMITS, and multi-line 550/451 refusals of recipients.
#[test]
fn exim_style_multiline_replies() {
    let stream = fixture("exim-session.s2c");
    let mut c = Script::new(ClientConfig {
        chunking: Usage::Never,
        tls: TlsPolicy::None,
        ..ClientConfig::default()
    });
    c.s.send(envelope(
        "a@example.com",
        &["ok@example.org", "nobody@example.org", "grey@example.org"],
    ))
    .unwrap();
    c.s.body(Bytes::from_static(b"Subject: hi\r\n\r\nbody\r\n"))
        .unwrap();
    c.s.end_body().unwrap();
    c.s.quit();
    for piece in stream.chunks(7) {
        c.feed(piece);
    }
    let ev = c.take_events();
    let Event::Greeting(g) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(g.line_count(), 3);
    let results: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::RecipientResult { index, outcome, .. } => Some((*index, outcome.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[1].1.class, OutcomeClass::Permanent);
    assert_eq!(results[1].1.reply.line_count(), 3);
    assert_eq!(
        &results[1].1.reply.lines().last().unwrap()[..],
        b"Sender verify failed"
    );
    assert_eq!(results[2].1.class, OutcomeClass::Transient);
    assert_eq!(results[2].1.reply.enhanced().unwrap().to_string(), "4.7.1");
    let Some(Event::MessageResult {
        outcome,
        recipient: None,
        ..
    }) = ev.iter().find(|e| matches!(e, Event::MessageResult { .. }))
    else {
        panic!("{ev:?}")
    };
    assert_eq!(&outcome.reply.first_line()[..], b"OK id=1vAbCd-000123-Ef");
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Quit(Some(_)),
            ..
        })
    ));
    let out = c.take_out();
    assert!(out.starts_with(b"EHLO localhost\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<ok@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<grey@example.org>\r\nDATA\r\n"));
}

/// Gmail: a four-line 550 with enhanced codes on every line, CHUNKING (BDAT) for the body.
#[test]
fn gmail_style_multiline_replies_and_bdat() {
    let stream = fixture("gmail-session.s2c");
    let mut c = Script::new(ClientConfig {
        tls: TlsPolicy::None,
        ..ClientConfig::default()
    });
    c.s.send(envelope(
        "a@example.com",
        &["nobody@gmail.com", "someone@gmail.com"],
    ))
    .unwrap();
    c.s.body(Bytes::from_static(b"Subject: hi\n\n.body\n"))
        .unwrap();
    c.s.end_body().unwrap();
    c.s.quit();
    for piece in stream.chunks(13) {
        c.feed(piece);
    }
    let out = c.take_out();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "EHLO localhost\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<nobody@gmail.com>\r\nRCPT TO:<someone@gmail.com>\r\nBDAT 22 LAST\r\nSubject: hi\r\n\r\n.body\r\nQUIT\r\n"
    );
    let ev = c.take_events();
    let refusal = ev
        .iter()
        .find_map(|e| match e {
            Event::RecipientResult {
                index: 0, outcome, ..
            } => Some(outcome.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(refusal.class, OutcomeClass::Permanent);
    assert_eq!(refusal.reply.enhanced().unwrap().to_string(), "5.1.1");
    assert_eq!(refusal.reply.line_count(), 4);
    // The enhanced code is lifted from every line; the text keeps its double space.
    assert!(refusal.reply.lines().all(|l| !l.starts_with(b"5.1.1")));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::MessageResult { outcome, .. } if outcome.is_success())));
    // Whole, byte by byte and in the 13-byte pieces: the same session.
    let mut whole = Script::new(ClientConfig {
        tls: TlsPolicy::None,
        ..ClientConfig::default()
    });
    whole
        .s
        .send(envelope(
            "a@example.com",
            &["nobody@gmail.com", "someone@gmail.com"],
        ))
        .unwrap();
    whole
        .s
        .body(Bytes::from_static(b"Subject: hi\n\n.body\n"))
        .unwrap();
    whole.s.end_body().unwrap();
    whole.s.quit();
    whole.feed(&stream);
    assert_eq!(whole.take_out(), out);
    assert_eq!(whole.take_events(), ev);
}

#[test]
fn output_is_coalesced_into_few_writes() {
    // Everything pending leaves in one poll_transmit.
    let rec = load("server-postfix-smtpd");
    let mut c = Script::new(transcript_config());
    c.s.send(envelope("sender@interop.test", &["rcpt1@interop.test"]))
        .unwrap();
    c.s.receive(
        c.now,
        Bytes::copy_from_slice(&split_replies(&rec.stream)[0]),
    );
    let mut buf = BytesMut::new();
    assert_eq!(
        c.s.poll_transmit(c.now, &mut buf),
        b"EHLO client.interop.test\r\n".len()
    );
    let mut again = BytesMut::new();
    assert_eq!(c.s.poll_transmit(c.now, &mut again), 0);
}
