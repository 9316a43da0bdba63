//! Attack payloads: SMTP smuggling (2023) end-of-data variants and STARTTLS command
//! injection (CVE-2011-0411 class). Each runs pipelined in one write, at every two-way
//! split, and byte by byte, under every bare-line-ending policy.

mod server_common;

use server_common::{summary, Driver};
use smtp_proto::server::{BareLineEndingPolicy, Event, ServerConfig};

const FAKE_ENDS: &[&[u8]] = &[
    b"\n.\n",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\r\n.\r\r\n",
    b"\r.\r",
    b"\n..\n",
    b"\r\n\x00.\r\n",
];

fn smuggling_input(fake_end: &[u8]) -> Vec<u8> {
    let mut v = b"EHLO attacker.example\r\nMAIL FROM:<a@attacker.example>\r\n\
RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: first\r\n\r\nhello"
        .to_vec();
    v.extend_from_slice(fake_end);
    v.extend_from_slice(
        b"MAIL FROM:<admin@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\
Subject: smuggled\r\n\r\nsecond\r\n.\r\nQUIT\r\n",
    );
    v
}

fn run(policy: BareLineEndingPolicy, input: &[u8], cuts: &[usize]) -> Driver {
    let mut c = ServerConfig::new("mx.example.org");
    c.policy.bare_line_endings = policy;
    let mut d = Driver::new(c);
    let mut pos = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        if cut > pos {
            d.feed(&input[pos..cut]);
            pos = cut;
        }
    }
    d
}

fn has_bare_line_ending(v: &[u8]) -> bool {
    v.iter().enumerate().any(|(i, &b)| {
        (b == b'\r' && v.get(i + 1) != Some(&b'\n'))
            || (b == b'\n' && (i == 0 || v[i - 1] != b'\r'))
    })
}

fn check(policy: BareLineEndingPolicy, fake_end: &[u8], d: &Driver) {
    let sums: Vec<String> = d.events.iter().map(summary).collect();
    let mails = sums.iter().filter(|s| s.starts_with("mail ")).count();
    let eoms = sums.iter().filter(|s| s.starts_with("eom ")).count();
    assert_eq!(
        mails, 1,
        "{fake_end:?} {policy:?}: a second MAIL was executed: {sums:#?}"
    );
    assert!(eoms <= 1, "{fake_end:?} {policy:?}: two messages");
    assert!(!sums
        .iter()
        .any(|s| s.starts_with("mail ") && s.contains("admin@example.org")));
    // The smuggled text stays inside the one message (or the message is refused).
    let out = String::from_utf8_lossy(&d.out);
    let bare = has_bare_line_ending(&smuggling_input(fake_end));
    match policy {
        BareLineEndingPolicy::Reject if bare => {
            assert_eq!(eoms, 0, "{fake_end:?}: accepted despite bare line ending");
            assert!(out.contains("550 5.6.0"), "{fake_end:?}: {out}");
            assert!(sums.iter().any(|s| s == "aborted BareLineEnding"));
        }
        _ => {
            assert_eq!(eoms, 1);
            let body = d.body();
            let needle = b"MAIL FROM:<admin@example.org>";
            assert!(
                body.windows(needle.len()).any(|w| w == needle),
                "{fake_end:?}: smuggled text left the body"
            );
        }
    }
    // Exactly one reply per command: EHLO, MAIL, RCPT, DATA (354), end of data, QUIT.
    assert!(out.ends_with("221 2.0.0 Bye\r\n"), "{out}");
    assert_eq!(out.matches("354 ").count(), 1, "{out}");
}

#[test]
fn smuggled_end_of_data_never_starts_a_second_message() {
    for policy in [
        BareLineEndingPolicy::Reject,
        BareLineEndingPolicy::Normalize,
        BareLineEndingPolicy::Pass,
    ] {
        for fake_end in FAKE_ENDS {
            let input = smuggling_input(fake_end);
            let whole = run(policy, &input, &[]);
            check(policy, fake_end, &whole);
            for cut in 1..input.len() {
                let split = run(policy, &input, &[cut]);
                assert_eq!(split.out, whole.out, "{fake_end:?} split at {cut}");
                assert_eq!(
                    split.summaries(),
                    whole.summaries(),
                    "{fake_end:?} split at {cut}"
                );
            }
            let ones: Vec<usize> = (1..input.len()).collect();
            let bytewise = run(policy, &input, &ones);
            check(policy, fake_end, &bytewise);
            assert_eq!(bytewise.out, whole.out);
        }
    }
}

#[test]
fn only_crlf_dot_crlf_ends_data() {
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";
    let d = run(BareLineEndingPolicy::Reject, input, &[]);
    assert_eq!(d.body(), b"x\r\n");
    assert!(d.events.iter().any(|e| matches!(e, Event::EndOfMessage(_))));
}

#[test]
fn starttls_injection_is_discarded_and_never_executed() {
    let mut c = ServerConfig::new("mx.example.org");
    c.extensions.starttls = true;
    let payload = b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n";
    for cut in 0..=payload.len() {
        let mut d = Driver::new(c.clone());
        d.feed(&payload[..cut]);
        d.feed(&payload[cut..]);
        let started = d.events.iter().any(|e| matches!(e, Event::StartTls { .. }));
        assert!(started, "cut {cut}");
        d.session
            .tls_established(smtp_proto::server::TlsInfo::new())
            .expect("hand-off");
        // However the input was split, every plaintext octet after STARTTLS was dropped.
        assert_eq!(
            d.session.discarded_plaintext(),
            payload.len() - 18,
            "cut {cut}"
        );
        // Anything received before the handshake was plaintext: gone.
        d.feed(b"");
        d.settle();
        let sums: Vec<String> = d.events.iter().map(summary).collect();
        assert!(
            !sums
                .iter()
                .any(|s| s.starts_with("mail ") || s.starts_with("rcpt ")),
            "cut {cut}: {sums:#?}"
        );
        let out = d.take_out();
        assert!(
            out.ends_with("220 2.0.0 Ready to start TLS\r\n"),
            "cut {cut}: {out}"
        );
        // The session waits for a fresh EHLO.
        d.feed(b"MAIL FROM:<a@b>\r\n");
        assert_eq!(d.take_out(), "503 Send HELO/EHLO first\r\n");
        if cut <= 16 {
            // Everything after the STARTTLS line arrived with or after it.
            let discarded: usize = d
                .events
                .iter()
                .filter_map(|e| match e {
                    Event::StartTls {
                        discarded_plaintext,
                    } => Some(*discarded_plaintext),
                    _ => None,
                })
                .sum();
            assert_eq!(discarded, payload.len() - 18, "cut {cut}");
        }
    }
}

#[test]
fn pending_decision_bounds_pipelined_input() {
    let mut c = ServerConfig::new("mx.example.org");
    c.limits.max_pending_input = 1000;
    c.limits.max_buffered_input = 5000;
    let mut d = Driver::new(c);
    d.feed(b"EHLO c\r\n");
    // MAIL raises a decision; the rest waits, and reading stops at the bound.
    d.session
        .receive(d.now, bytes::Bytes::from_static(b"MAIL FROM:<a@b>\r\n"));
    d.pump();
    assert!(d.session.pending().is_some());
    let noop = b"NOOP\r\n".repeat(200);
    d.session
        .receive(d.now, bytes::Bytes::copy_from_slice(&noop));
    d.pump();
    assert!(!d.session.wants_read(), "at the bound");
    assert_eq!(d.session.buffered_bytes(), 1200);
    // Past the hard cap: 421 4.7.0 and close, never unbounded growth.
    for _ in 0..4 {
        d.session
            .receive(d.now, bytes::Bytes::copy_from_slice(&noop));
    }
    d.pump();
    let out = d.take_out();
    assert!(
        out.ends_with("421 4.7.0 Too much pipelined input, closing connection\r\n"),
        "{out}"
    );
    assert!(d.session.is_closed());
    assert_eq!(d.session.buffered_bytes(), 0);
}

#[test]
fn megabyte_line_is_refused_identically_however_split() {
    // (The EHLO goes first on its own: a pending decision in front of more than
    // `max_buffered_input` octets delivered in one call would trip the hard cap instead.)
    let mut input = b"NOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1 << 20));
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let run = |cuts: &[usize]| {
        let mut d = Driver::new(ServerConfig::new("mx.example.org"));
        d.feed(b"EHLO c\r\n");
        let mut pos = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            d.feed(&input[pos..cut]);
            pos = cut;
        }
        d
    };
    let whole = run(&[]);
    let cuts: Vec<usize> = (1..1000).map(|i| i * 1049).collect();
    let split = run(&cuts);
    assert_eq!(whole.out, split.out);
    assert!(String::from_utf8_lossy(&whole.out)
        .contains("500 5.5.6 Line too long\r\n221 2.0.0 Bye\r\n"));
    assert!(
        split.max_buffered <= 12288,
        "held {} octets",
        split.max_buffered
    );
}
