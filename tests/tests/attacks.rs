//! Known attacks on SMTP implementations, each as a test that fails on a vulnerable session:
//! SMTP smuggling (2023), STARTTLS command and response injection (CVE-2011-0411 class and the
//! 2021 "Why TLS is better without STARTTLS" findings), and resource exhaustion. Every test
//! checks the exact replies and that the session's buffered input stays within its limits
//! after every step.

use bytes::{Bytes, BytesMut};
use smtp_proto::server::{
    BareLineEndingPolicy, CloseReason, Event, PreparedConfig, ServerConfig, Session,
    StartTlsInjectionPolicy, TlsInfo,
};
use smtp_proto::{Instant, Reply, Status};

// ---------------------------------------------------------------------------------------------
// A server driven like an adapter that accepts everything.

/// A server session with an application that accepts every decision, recording what the
/// server sent and which messages it committed.
struct Server {
    session: Session,
    now: Instant,
    /// Every octet the server sent.
    wire: Vec<u8>,
    events: Vec<Event>,
    /// Bodies of the messages the application committed (accepted `EndOfMessage`).
    messages: Vec<Vec<u8>>,
    body: Vec<u8>,
    /// The most the session may hold after it was driven (see [`Server::check_bounds`]).
    bound: usize,
}

impl Server {
    fn new(config: ServerConfig) -> Server {
        let limits = &config.limits;
        let bound = limits.max_command_line.max(limits.max_auth_line);
        let session = Session::new(PreparedConfig::new(config), Instant::ZERO);
        let mut server = Server {
            session,
            now: Instant::ZERO,
            wire: Vec::new(),
            events: Vec::new(),
            messages: Vec::new(),
            body: Vec::new(),
            bound,
        };
        server.pump();
        server
    }

    fn with_defaults() -> Server {
        Server::new(ServerConfig::new("mx.example.org"))
    }

    /// Feeds one read's worth of input and drives the session as an adapter does.
    fn feed(&mut self, input: &[u8]) {
        self.session
            .receive(self.now, Bytes::copy_from_slice(input));
        self.pump();
    }

    /// Feeds `input` in pieces of `size` octets.
    fn feed_in(&mut self, input: &[u8], size: usize) {
        for piece in input.chunks(size) {
            self.feed(piece);
        }
    }

    fn pump(&mut self) {
        loop {
            let mut out = BytesMut::new();
            let sent = self.session.poll_transmit(self.now, &mut out);
            assert_eq!(sent, out.len());
            self.wire.extend_from_slice(&out);
            let mut progressed = sent > 0;
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.decide(&event);
                self.events.push(event);
            }
            if !progressed {
                break;
            }
        }
        self.check_bounds();
    }

    fn decide(&mut self, event: &Event) {
        match event {
            Event::Helo(_)
            | Event::Mail(_)
            | Event::Rcpt(_)
            | Event::DataStart(_)
            | Event::Auth(_)
            | Event::Vrfy(_)
            | Event::Expn(_) => self.session.accept().expect("a decision is pending"),
            Event::EndOfMessage(_) => {
                self.session.accept().expect("a decision is pending");
                self.messages.push(std::mem::take(&mut self.body));
            }
            Event::Body(piece) => self.body.extend_from_slice(piece),
            Event::MessageAborted { .. } => self.body.clear(),
            Event::AuthStep(_) => self
                .session
                .reject(smtp_proto::reply::standard::AUTH_INVALID)
                .expect("a decision is pending"),
            _ => {}
        }
    }

    /// With no decision pending, the session holds at most one partial line.
    fn check_bounds(&self) {
        let held = self.session.buffered_bytes();
        assert!(
            held <= self.bound,
            "server holds {held} octets, more than its longest line ({})",
            self.bound
        );
    }

    /// The reply codes the server sent, in order.
    fn codes(&self) -> Vec<u16> {
        replies(&self.wire)
            .iter()
            .map(|r| r.code().as_u16())
            .collect()
    }

    fn mail_events(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Mail(_)))
            .count()
    }

    fn closed_reason(&self) -> Option<CloseReason> {
        self.events.iter().find_map(|e| match e {
            Event::Closed { reason } => Some(*reason),
            _ => None,
        })
    }

    fn wire_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.wire)
            .split_terminator("\r\n")
            .map(str::to_owned)
            .collect()
    }
}

/// Splits a reply stream into replies.
fn replies(wire: &[u8]) -> Vec<Reply> {
    let buf = Bytes::copy_from_slice(wire);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match Reply::parse(&buf.slice(pos..)) {
            Ok(Status::Complete((reply, used))) => {
                out.push(reply);
                pos += used;
            }
            other => panic!("server sent a broken reply stream at {pos}: {other:?}"),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// SMTP smuggling

/// End-of-data look-alikes that some servers accept and others do not (SEC Consult, 2023;
/// the variants of Postfix's and Sendmail's advisories). Only `<CRLF>.<CRLF>` ends data.
const FAKE_ENDS: &[&[u8]] = &[
    b"\n.\n",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\r",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\n.\r",
    b"\r.\n",
    b"\r\n.\r\r\n",
    b"\r\n.\n\r\n",
];

const ENVELOPE: &[u8] = b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n\
RCPT TO:<bob@example.org>\r\nDATA\r\n";

/// A message whose body holds a fake end of data and a second, smuggled transaction; the real
/// end of data and QUIT follow.
fn smuggling_session(fake_end: &[u8]) -> Vec<u8> {
    let mut s = ENVELOPE.to_vec();
    s.extend_from_slice(b"From: alice@example.org\r\nSubject: hi\r\n\r\nhello");
    s.extend_from_slice(fake_end);
    s.extend_from_slice(
        b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n\
From: admin@bank.example\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n",
    );
    s
}

fn assert_one_message_or_rejection(server: &Server, fake_end: &[u8], how: &str) {
    let codes = server.codes();
    assert_eq!(server.mail_events(), 1, "{fake_end:?} {how}: {codes:?}");
    assert!(
        server.messages.len() <= 1,
        "{fake_end:?} {how}: two messages"
    );
    assert_eq!(
        codes.iter().filter(|&&c| c == 354).count(),
        1,
        "{fake_end:?} {how}: {codes:?}"
    );
}

/// Default policy (reject bare CR/LF): the message is refused with `550 5.6.0`, nothing of
/// the smuggled transaction is executed, and QUIT is answered.
#[test]
fn smuggling_in_one_write_is_refused_as_one_message() {
    for &fake_end in FAKE_ENDS {
        let mut server = Server::with_defaults();
        server.feed(&smuggling_session(fake_end));
        assert_one_message_or_rejection(&server, fake_end, "in one write");
        assert_eq!(
            server.codes(),
            [220, 250, 250, 250, 354, 550, 221],
            "{fake_end:?}"
        );
        assert!(server
            .wire_lines()
            .contains(&"550 5.6.0 Message contains a bare CR or LF".to_owned()));
        assert!(server.messages.is_empty());
    }
}

/// The same, split at every position of the body and byte by byte: the split must not change
/// the outcome (a fake end spread over two reads is the classic way to slip past a scanner).
#[test]
fn smuggling_split_across_writes_is_refused_as_one_message() {
    for &fake_end in FAKE_ENDS {
        let input = smuggling_session(fake_end);
        for cut in ENVELOPE.len()..input.len() {
            let mut server = Server::with_defaults();
            server.feed(&input[..cut]);
            server.feed(&input[cut..]);
            assert_one_message_or_rejection(&server, fake_end, &format!("cut at {cut}"));
            assert_eq!(server.codes(), [220, 250, 250, 250, 354, 550, 221]);
        }
        let mut server = Server::with_defaults();
        server.feed_in(&input, 1);
        assert_one_message_or_rejection(&server, fake_end, "byte by byte");
        assert_eq!(server.codes(), [220, 250, 250, 250, 354, 550, 221]);
    }
}

/// With the lenient policies the message is accepted, but as ONE message that carries the
/// smuggled lines as text.
#[test]
fn smuggling_under_normalize_and_pass_gives_one_message_with_the_text() {
    for policy in [BareLineEndingPolicy::Normalize, BareLineEndingPolicy::Pass] {
        for &fake_end in FAKE_ENDS {
            let mut config = ServerConfig::new("mx.example.org");
            config.policy.bare_line_endings = policy;
            let input = smuggling_session(fake_end);
            for size in [input.len(), 7, 1] {
                let mut server = Server::new(config.clone());
                server.feed_in(&input, size);
                assert_one_message_or_rejection(&server, fake_end, &format!("{policy:?}"));
                assert_eq!(server.codes(), [220, 250, 250, 250, 354, 250, 221]);
                assert_eq!(server.messages.len(), 1);
                let body = &server.messages[0];
                let text = String::from_utf8_lossy(body);
                assert!(text.contains("MAIL FROM:<admin@bank.example>"), "{text:?}");
                assert!(
                    text.ends_with("smuggled\r\n"),
                    "{policy:?} {fake_end:?}: {text:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// STARTTLS command injection (server side, CVE-2011-0411 class)

fn starttls_config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.org");
    config.extensions.starttls = true;
    config
}

const INJECTED: &[u8] = b"MAIL FROM:<mallory@evil.example>\r\nRCPT TO:<victim@example.org>\r\n";

fn discarded(server: &Server) -> usize {
    server
        .events
        .iter()
        .map(|e| match e {
            Event::StartTls {
                discarded_plaintext,
            } => *discarded_plaintext,
            _ => 0,
        })
        .sum()
}

/// Commands pipelined after STARTTLS in the same write are never answered nor executed, not
/// even after the handshake; the count reaches the application.
#[test]
fn starttls_injection_in_one_write_is_discarded() {
    let mut server = Server::new(starttls_config());
    let mut input = b"EHLO client.example\r\nSTARTTLS\r\n".to_vec();
    input.extend_from_slice(INJECTED);
    server.feed(&input);
    assert_eq!(server.codes(), [220, 250, 220]);
    assert_eq!(discarded(&server), INJECTED.len());
    server
        .session
        .tls_established(TlsInfo::new())
        .expect("in a TLS hand-off");
    server.feed(b"EHLO client.example\r\n");
    assert_eq!(server.codes(), [220, 250, 220, 250]);
    assert_eq!(server.mail_events(), 0, "injected MAIL was executed");
    let ehlo_after_tls = replies(&server.wire).pop().expect("EHLO reply");
    assert!(
        !ehlo_after_tls
            .lines()
            .any(|l| l.eq_ignore_ascii_case(b"STARTTLS")),
        "STARTTLS offered again over TLS"
    );
}

/// The same injection arriving in a later read, before the handshake.
#[test]
fn starttls_injection_in_a_later_write_is_discarded() {
    let mut server = Server::new(starttls_config());
    server.feed(b"EHLO client.example\r\nSTARTTLS\r\n");
    assert_eq!(server.codes(), [220, 250, 220]);
    server.feed(INJECTED);
    server
        .session
        .tls_established(TlsInfo::new())
        .expect("in a TLS hand-off");
    server.feed(b"EHLO client.example\r\nNOOP\r\n");
    assert_eq!(server.codes(), [220, 250, 220, 250, 250]);
    assert_eq!(server.mail_events(), 0);
}

/// With the `Close` policy the injection ends the session with `421 4.7.0`.
#[test]
fn starttls_injection_with_close_policy_closes() {
    let mut config = starttls_config();
    config.policy.starttls_injection = StartTlsInjectionPolicy::Close;
    let mut server = Server::new(config);
    let mut input = b"EHLO client.example\r\nSTARTTLS\r\n".to_vec();
    input.extend_from_slice(INJECTED);
    server.feed(&input);
    assert_eq!(server.mail_events(), 0);
    assert_eq!(
        server.wire_lines().last().map(String::as_str),
        Some("421 4.7.0 Commands pipelined after STARTTLS, closing connection")
    );
    assert_eq!(server.closed_reason(), Some(CloseReason::StartTlsInjection));
}

// ---------------------------------------------------------------------------------------------
// Resource exhaustion (server)

const MIB: usize = 1024 * 1024;

/// A 1 MiB line without CRLF is never held: it is refused with `500 5.5.6` once its CRLF
/// arrives, identically whether it came in one read or in many, and the session goes on.
#[test]
fn megabyte_line_without_crlf_is_bounded_and_refused_once() {
    let long = vec![b'x'; MIB];
    for size in [MIB, 64 * 1024, 1000] {
        let mut server = Server::with_defaults();
        server.feed(b"EHLO client.example\r\n");
        server.feed_in(&long, size);
        server.feed(b"\r\nNOOP\r\n");
        assert_eq!(server.codes(), [220, 250, 500, 250], "reads of {size}");
        assert!(server
            .wire_lines()
            .contains(&"500 5.5.6 Line too long".to_owned()));
    }
}

/// 10,000 RCPTs pipelined in one write: exactly `max_recipients` (100) reach the application,
/// every excess one gets `452 4.5.3` (RFC 5321 4.5.3.1.10), and memory stays bounded.
#[test]
fn ten_thousand_recipients_are_capped() {
    let mut input = b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n".to_vec();
    for i in 0..10_000 {
        input.extend_from_slice(format!("RCPT TO:<user{i}@example.org>\r\n").as_bytes());
    }
    let mut server = Server::with_defaults();
    server.feed_in(&input, 32 * 1024);
    let rcpts = server
        .events
        .iter()
        .filter(|e| matches!(e, Event::Rcpt(_)))
        .count();
    assert_eq!(rcpts, 100, "recipients offered to the application");
    let lines = server.wire_lines();
    let after_mail = &lines[lines.len() - 10_000..];
    assert!(after_mail[..100]
        .iter()
        .all(|l| l == "250 2.1.5 Recipient OK"));
    assert!(after_mail[100..]
        .iter()
        .all(|l| l == "452 4.5.3 Too many recipients"));
    assert!(!server.session.is_closed());
}

/// A legitimate client that pipelines more recipients than the limit keeps its transaction:
/// the first 100 are accepted, the rest get `452` (to be sent again later), and the message
/// goes through. Counting the 452s as errors would close the session at the 20th.
#[test]
fn pipelined_recipients_over_the_limit_keep_the_transaction() {
    let mut input = b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n".to_vec();
    for i in 0..150 {
        input.extend_from_slice(format!("RCPT TO:<user{i}@example.org>\r\n").as_bytes());
    }
    input.extend_from_slice(b"DATA\r\n");
    let mut server = Server::with_defaults();
    server.feed(&input);
    server.feed(b"Subject: many\r\n\r\nhello\r\n.\r\nQUIT\r\n");
    let codes = server.codes();
    assert_eq!(codes.iter().filter(|&&c| c == 452).count(), 50);
    assert_eq!(codes[codes.len() - 3..], [354, 250, 221]);
    assert_eq!(
        server.messages,
        [b"Subject: many\r\n\r\nhello\r\n".to_vec()]
    );
}

/// 10,000 commands in one write are all answered, in order, without holding the input.
#[test]
fn ten_thousand_pipelined_commands_in_one_write() {
    let input = b"RSET\r\n".repeat(10_000);
    let mut server = Server::with_defaults();
    server.feed(b"EHLO client.example\r\n");
    server.feed(&input);
    let codes = server.codes();
    assert_eq!(codes.len(), 2 + 10_000);
    assert!(codes[2..].iter().all(|&c| c == 250));
}

/// Deeply repeated errors end the session with `421 4.7.0` after `max_errors`, and nothing
/// after that is answered or held.
#[test]
fn repeated_errors_close_the_session() {
    let mut server = Server::with_defaults();
    server.feed(b"EHLO client.example\r\n");
    server.feed(&b"XYZZY\r\n".repeat(10_000));
    server.feed(&b"NOOP\r\n".repeat(1_000));
    let lines = server.wire_lines();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("421 4.7.0 Too many errors, closing connection")
    );
    // max_errors (20) negative replies, then the 421.
    let errors = server.codes().iter().filter(|&&c| c == 500).count();
    assert_eq!(errors, 20);
    assert_eq!(server.closed_reason(), Some(CloseReason::TooManyErrors));
    assert!(server.session.is_closed());
    assert_eq!(server.session.buffered_bytes(), 0);
}

/// `SIZE=` near and beyond u64::MAX is refused at MAIL with `552 5.3.4` (no overflow).
#[test]
fn size_parameter_near_u64_max_is_refused() {
    for size in [
        "18446744073709551615",
        "18446744073709551614",
        "18446744073709551616",
        "99999999999999999999999999",
    ] {
        let mut server = Server::with_defaults();
        server.feed(
            format!("EHLO c.example\r\nMAIL FROM:<a@example.org> SIZE={size}\r\n").as_bytes(),
        );
        assert_eq!(server.codes(), [220, 250, 552], "SIZE={size}");
        assert_eq!(server.mail_events(), 0);
        assert_eq!(
            server.wire_lines().last().map(String::as_str),
            Some("552 5.3.4 Message size exceeds fixed maximum message size")
        );
    }
}

/// A BDAT chunk of 2^63 octets: no overflow, no growth, and the chunk's octets are consumed
/// as data (never executed as commands).
#[test]
fn bdat_chunk_of_two_to_the_63_is_bounded() {
    for size in ["9223372036854775808", "18446744073709551615"] {
        let mut server = Server::with_defaults();
        server.feed(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n");
        server.feed(format!("BDAT {size} LAST\r\n").as_bytes());
        let inside =
            b"MAIL FROM:<mallory@evil.example>\r\nRCPT TO:<v@example.org>\r\n".repeat(20_000);
        server.feed_in(&inside, 64 * 1024);
        assert_eq!(
            server.mail_events(),
            1,
            "BDAT {size}: data executed as commands"
        );
        assert!(server.messages.is_empty());
        let body_octets: usize = server
            .events
            .iter()
            .map(|e| match e {
                Event::Body(b) => b.len(),
                _ => 0,
            })
            .sum();
        assert!(
            body_octets as u64 <= 10 * MIB as u64,
            "BDAT {size}: {body_octets} octets streamed past the size limit"
        );
        // The chunk never ends, but the data timer still runs: 421 4.4.2 and close.
        let deadline = server.session.poll_timeout().expect("a data timer runs");
        server.now = deadline;
        server.session.handle_timeout(deadline);
        server.pump();
        assert_eq!(
            server.wire_lines().last().map(String::as_str),
            Some("421 4.4.2 Timeout, closing connection")
        );
        assert_eq!(server.closed_reason(), Some(CloseReason::Timeout));
    }
}

/// A BDAT size that does not fit u64 is a syntax error, not a wrapped number.
#[test]
fn bdat_size_beyond_u64_is_a_syntax_error() {
    let mut server = Server::with_defaults();
    server.feed(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n");
    server.feed(b"BDAT 18446744073709551616 LAST\r\nNOOP\r\n");
    assert_eq!(server.codes(), [220, 250, 250, 250, 501, 250]);
    assert!(server
        .wire_lines()
        .contains(&"501 5.5.4 Syntax error in parameters or arguments".to_owned()));
}

fn auth_config() -> ServerConfig {
    let mut config = ServerConfig::new("mx.example.org");
    config.extensions.auth = vec![smtp_proto::Mechanism::Plain, smtp_proto::Mechanism::Login];
    config.policy.auth_tls = smtp_proto::server::AuthTlsPolicy::AllowPlaintext;
    config
}

/// A megabyte SASL response is never held: it is refused once its CRLF arrives, and the
/// session goes on.
#[test]
fn megabyte_auth_response_is_bounded() {
    let huge = b"QUFB".repeat(MIB / 4);
    for size in [MIB, 64 * 1024, 4096] {
        let mut server = Server::new(auth_config());
        server.feed(b"EHLO c.example\r\nAUTH PLAIN\r\n");
        assert_eq!(server.codes(), [220, 250, 334]);
        server.feed_in(&huge, size);
        server.feed(b"\r\nNOOP\r\n");
        assert_eq!(server.codes(), [220, 250, 334, 500, 250], "reads of {size}");
        assert!(server
            .wire_lines()
            .contains(&"500 5.5.6 Line too long".to_owned()));
        assert!(!server.session.is_authenticated());
    }
}

/// The same as an initial response on the AUTH line itself.
#[test]
fn megabyte_auth_initial_response_is_bounded() {
    let mut line = b"AUTH PLAIN ".to_vec();
    line.extend_from_slice(&b"QUFB".repeat(MIB / 4));
    let mut server = Server::new(auth_config());
    server.feed(b"EHLO c.example\r\n");
    server.feed_in(&line, 64 * 1024);
    server.feed(b"\r\nNOOP\r\n");
    assert_eq!(server.codes(), [220, 250, 500, 250]);
    assert!(server
        .wire_lines()
        .contains(&"500 5.5.6 Line too long".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// Property: bounded memory for any input, any split, any decision timing

mod bounded {
    use super::*;
    use proptest::prelude::*;
    use smtp_proto::server::AuthTlsPolicy;
    use std::time::Duration;

    /// Pieces an attacker strings together: commands, fake and real ends of data, long
    /// lines, bare line endings, arbitrary octets.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"EHLO c.example\r\n".to_vec()),
            Just(b"MAIL FROM:<a@example.org> SIZE=100\r\n".to_vec()),
            Just(b"RCPT TO:<b@example.org>\r\n".to_vec()),
            Just(b"DATA\r\n".to_vec()),
            Just(b"BDAT 7\r\n".to_vec()),
            Just(b"BDAT 3 LAST\r\n".to_vec()),
            Just(b"BDAT 9223372036854775808 LAST\r\n".to_vec()),
            Just(b"AUTH PLAIN\r\n".to_vec()),
            Just(b"AUTH LOGIN dXNlcg==\r\n".to_vec()),
            Just(b"STARTTLS\r\n".to_vec()),
            Just(b"RSET\r\nNOOP\r\n".to_vec()),
            Just(b"\r\n.\r\n".to_vec()),
            Just(b"\n.\n".to_vec()),
            Just(b"\r.\r\n".to_vec()),
            Just(b"QUIT\r\n".to_vec()),
            (1usize..3000).prop_map(|n| vec![b'x'; n]),
            proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Feed this many octets of the input.
        Read(usize),
        /// Answer the pending decision (accept when true).
        Decide(bool),
        /// Let time pass, in seconds.
        Wait(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (1usize..4096).prop_map(Step::Read),
            2 => any::<bool>().prop_map(Step::Decide),
            1 => (1u64..400).prop_map(Step::Wait),
        ]
    }

    fn small_limits_config() -> ServerConfig {
        let mut config = ServerConfig::new("mx.example.org");
        config.extensions.starttls = true;
        config.extensions.auth = vec![smtp_proto::Mechanism::Plain, smtp_proto::Mechanism::Login];
        config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
        config.limits.max_command_line = 512;
        config.limits.max_auth_line = 1024;
        config.limits.max_pending_input = 2048;
        config.limits.max_buffered_input = 8192;
        config.limits.max_message_size = Some(4096);
        config
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// An adversarial driver keeps feeding input even while a decision is pending and
        /// `wants_read()` is false; the session's buffered input never exceeds
        /// `max_buffered_input`, after every single call.
        #[test]
        fn buffered_input_never_exceeds_the_limits(
            pieces in proptest::collection::vec(piece(), 1..40),
            steps in proptest::collection::vec(step(), 1..200),
        ) {
            let config = small_limits_config();
            let cap = config.limits.max_buffered_input;
            let mut session = Session::new(PreparedConfig::new(config), Instant::ZERO);
            let input: Vec<u8> = pieces.concat();
            let (mut pos, mut now) = (0, Instant::ZERO);
            let mut out = BytesMut::new();
            for step in steps {
                match step {
                    Step::Read(n) => {
                        let end = (pos + n).min(input.len());
                        session.receive(now, Bytes::copy_from_slice(&input[pos..end]));
                        pos = end;
                    }
                    Step::Decide(yes) => {
                        if session.pending().is_some() {
                            let r = if yes {
                                session.accept()
                            } else {
                                session.reject(smtp_proto::reply::standard::BAD_SEQUENCE)
                            };
                            prop_assert!(r.is_ok());
                        }
                    }
                    Step::Wait(s) => {
                        now = now.saturating_add(Duration::from_secs(s));
                        session.handle_timeout(now);
                    }
                }
                prop_assert!(session.buffered_bytes() <= cap, "{} > {cap}", session.buffered_bytes());
                session.poll_transmit(now, &mut out);
                while let Some(event) = session.poll_event() {
                    if let Event::StartTls { .. } = event {
                        prop_assert!(session.tls_established(TlsInfo::new()).is_ok());
                    }
                    prop_assert!(session.buffered_bytes() <= cap);
                }
                prop_assert!(session.buffered_bytes() <= cap);
                out.clear();
            }
        }
    }
}
