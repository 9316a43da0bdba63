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
    /// Every octet the server sent (not yet taken by a peer, see `client_side::pair`).
    wire: Vec<u8>,
    /// What a peer took from `wire`.
    wire_log: Vec<u8>,
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
            wire_log: Vec::new(),
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

    /// Reply codes of everything the server sent, also what a peer took.
    fn codes_log(&self) -> Vec<u16> {
        let mut all = self.wire_log.clone();
        all.extend_from_slice(&self.wire);
        replies(&all).iter().map(|r| r.code().as_u16()).collect()
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

// ---------------------------------------------------------------------------------------------
// The client session: a client that never smuggles, refuses STARTTLS response injection, and
// stays bounded against endless replies.

mod client_side {
    use super::*;
    use smtp_proto::client::{
        self, ClientConfig, ClientError, Credentials, Envelope, LineEndings, TlsPolicy,
    };
    use smtp_proto::{ForwardPath, ParseOptions, ReplyError, ReversePath};
    use std::sync::Arc;

    type ClientEvent = client::Event;

    fn envelope() -> Envelope {
        let opts = ParseOptions::default();
        let from = ReversePath::parse(&Bytes::from_static(b"<alice@example.org>"), &opts);
        let to = ForwardPath::parse(&Bytes::from_static(b"<bob@example.org>"), &opts);
        Envelope::new(from.expect("valid path")).to(to.expect("valid path"))
    }

    fn plain_config() -> ClientConfig {
        ClientConfig {
            tls: TlsPolicy::None,
            max_body_buffer: 64,
            ..ClientConfig::default()
        }
    }

    /// A client session with an application that sends one body (cut at `cuts`) and quits.
    struct Client {
        session: client::Session,
        now: Instant,
        wire: Vec<u8>,
        events: Vec<ClientEvent>,
        /// Body pieces still to hand to `body()`.
        pieces: Vec<Bytes>,
        bound: usize,
    }

    impl Client {
        fn new(config: ClientConfig) -> Client {
            let limits = config.reply_limits;
            // An unfinished reply, unprocessed input, and queued commands and body.
            let bound = limits.max_line * limits.max_lines
                + config.max_input_buffer.max(limits.max_line)
                + config.max_body_buffer
                + 4096;
            Client {
                session: client::Session::new(Arc::new(config), Instant::ZERO),
                now: Instant::ZERO,
                wire: Vec::new(),
                events: Vec::new(),
                pieces: Vec::new(),
                bound,
            }
        }

        fn send(&mut self, body: &[u8], cuts: &[usize]) {
            self.session.send(envelope()).expect("session open");
            let mut at = 0;
            for &c in cuts.iter().filter(|&&c| c > 0 && c < body.len()) {
                if c > at {
                    self.pieces.push(Bytes::copy_from_slice(&body[at..c]));
                    at = c;
                }
            }
            self.pieces.push(Bytes::copy_from_slice(&body[at..]));
            self.pieces.reverse();
            self.session.quit();
        }

        fn receive(&mut self, input: &[u8]) {
            self.session
                .receive(self.now, Bytes::copy_from_slice(input));
            self.pump();
        }

        fn take_output(&mut self) -> Vec<u8> {
            let mut out = BytesMut::new();
            self.session.poll_transmit(self.now, &mut out);
            self.wire.extend_from_slice(&out);
            out.to_vec()
        }

        fn pump(&mut self) {
            loop {
                let mut progressed = false;
                while let Some(event) = self.session.poll_event() {
                    progressed = true;
                    self.events.push(event);
                }
                if self.session.body_txn().is_some() && self.wants_body() {
                    while let Some(piece) = self.pieces.pop() {
                        if let Err(client::BodyError::Full(back)) = self.session.body(piece) {
                            self.pieces.push(back);
                            break;
                        }
                        progressed = true;
                    }
                    if self.pieces.is_empty() {
                        self.session.end_body().expect("a body is open");
                        progressed = true;
                    }
                }
                let held = self.session.buffered_bytes();
                assert!(held <= self.bound, "client holds {held} > {}", self.bound);
                if !progressed {
                    break;
                }
            }
        }

        fn wants_body(&self) -> bool {
            self.events
                .iter()
                .any(|e| matches!(e, ClientEvent::BodyWanted { .. }))
        }

        fn close_reason(&self) -> Option<&client::CloseReason> {
            self.events.iter().find_map(|e| match e {
                ClientEvent::Closed { reason, .. } => Some(reason),
                _ => None,
            })
        }
    }

    /// Runs the client against the server session, moving bytes both ways in pieces of
    /// `size` octets until both are quiet.
    fn pair(client: &mut Client, server: &mut Server, size: usize) {
        for _ in 0..100_000 {
            client.pump();
            let c2s = client.take_output();
            for piece in c2s.chunks(size) {
                server.feed(piece);
            }
            let s2c = std::mem::take(&mut server.wire);
            server.wire_log.extend_from_slice(&s2c);
            for piece in s2c.chunks(size) {
                client.receive(piece);
            }
            client.pump();
            let more = client.take_output();
            if c2s.is_empty() && s2c.is_empty() && more.is_empty() {
                return;
            }
            for piece in more.chunks(size) {
                server.feed(piece);
            }
        }
        panic!("client and server did not settle");
    }

    /// The DATA section of what the client sent: every line after `DATA` up to and
    /// including the lone `.`.
    fn data_section(wire: &[u8]) -> &[u8] {
        let start = wire
            .windows(6)
            .position(|w| w == b"DATA\r\n")
            .expect("the client sent DATA")
            + 6;
        &wire[start..]
    }

    /// No line of the DATA section has a bare CR or LF, every line but the last that starts
    /// with `.` is stuffed, and the first `<CRLF>.<CRLF>` is the end: no server, strict or
    /// lenient, can find a second end of data in it.
    fn assert_unambiguous_data(section: &[u8], what: &str) {
        let end = section
            .windows(5)
            .position(|w| w == b"\r\n.\r\n")
            .map(|p| p + 5)
            .or_else(|| section.starts_with(b".\r\n").then_some(3))
            .unwrap_or_else(|| panic!("{what}: no end of data in {section:?}"));
        let body = &section[..end - 3];
        assert!(
            !body
                .windows(3)
                .any(|w| w == b"\n.\n" || w == b"\r.\r" || w == b"\n.\r" || w == b"\r.\n"),
            "{what}: a fake end of data went out: {body:?}"
        );
        let mut lines = body.split(|&b| b == b'\n');
        for line in lines.by_ref() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert!(!line.contains(&b'\r'), "{what}: bare CR in {line:?}");
            assert!(
                !line.starts_with(b".") || line.starts_with(b".."),
                "{what}: unstuffed {line:?}"
            );
        }
        // Nothing but the QUIT may follow the end of data.
        let rest = &section[end..];
        assert!(
            rest.is_empty() || rest == b"QUIT\r\n",
            "{what}: after the end: {rest:?}"
        );
    }

    /// Bodies that hold every fake end of data, at the start, in the middle and at the end.
    fn hostile_bodies() -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        for &fake in FAKE_ENDS {
            let mut b = b"Subject: hi\r\n\r\nhello".to_vec();
            b.extend_from_slice(fake);
            b.extend_from_slice(b"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled");
            b.extend_from_slice(fake);
            bodies.push(b.clone());
            let mut start = fake.to_vec();
            start.extend_from_slice(b"QUIT\r\n");
            bodies.push(start);
        }
        for b in [
            &b".\r\n"[..],
            b".",
            b"\r\n.\r\n",
            b"\r\n.",
            b"\r\n.\r",
            b"..\r\n.\r\n",
            b"\n",
            b"\r",
        ] {
            bodies.push(b.to_vec());
        }
        bodies
    }

    /// Whatever body the client is given, in whatever pieces, a strict server reads exactly
    /// one message from it, with DATA (dot-stuffing) and with BDAT.
    #[test]
    fn client_never_produces_two_messages() {
        for chunking in [false, true] {
            for body in hostile_bodies() {
                for cut in 0..=body.len() {
                    let mut config = ServerConfig::new("mx.example.org");
                    config.extensions.chunking = chunking;
                    let mut server = Server::new(config);
                    let mut client = Client::new(plain_config());
                    client.send(&body, &[cut, cut + 1, cut + 3]);
                    let what = format!("chunking {chunking}, body {body:?} cut at {cut}");
                    pair(&mut client, &mut server, 5);
                    assert_eq!(server.mail_events(), 1, "{what}");
                    assert_eq!(server.messages.len(), 1, "{what}: {:?}", server.codes_log());
                    if !chunking {
                        assert_unambiguous_data(data_section(&client.wire), &what);
                    }
                }
            }
        }
    }

    /// With `Preserve` the bytes travel exactly over BDAT; where DATA must carry them they
    /// are normalised, never sent with bare line endings.
    #[test]
    fn preserve_never_sends_bare_line_endings_over_data() {
        for body in hostile_bodies() {
            let mut config = ServerConfig::new("mx.example.org");
            config.extensions.chunking = false;
            let mut server = Server::new(config);
            let mut client = Client::new(ClientConfig {
                line_endings: LineEndings::Preserve,
                ..plain_config()
            });
            client.send(&body, &[]);
            pair(&mut client, &mut server, 1000);
            assert_eq!(server.messages.len(), 1, "{body:?}");
            assert_unambiguous_data(data_section(&client.wire), &format!("{body:?}"));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Any body over the alphabet of end-of-data markers, cut anywhere: the DATA section
        /// the client sends has exactly one end, and a strict server stores one message.
        #[test]
        fn any_body_gives_one_unambiguous_message(
            body in proptest::collection::vec(proptest::sample::select(vec![b'\r', b'\n', b'.', b'a']), 0..48),
            cuts in proptest::collection::vec(0usize..48, 0..6),
            size in 1usize..16,
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut config = ServerConfig::new("mx.example.org");
            config.extensions.chunking = false;
            let mut server = Server::new(config);
            let mut client = Client::new(plain_config());
            client.send(&body, &cuts);
            pair(&mut client, &mut server, size);
            proptest::prop_assert_eq!(server.mail_events(), 1);
            proptest::prop_assert_eq!(server.messages.len(), 1);
            assert_unambiguous_data(data_section(&client.wire), &format!("{body:?}"));
        }
    }

    // ----- STARTTLS response injection (client side) --------------------------------------

    const GREETING: &[u8] = b"220 mx.example.org ESMTP\r\n";
    const EHLO_STARTTLS: &[u8] = b"250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n";

    fn starttls_client(policy: TlsPolicy) -> Client {
        let mut client = Client::new(ClientConfig {
            tls: policy,
            ..ClientConfig::default()
        });
        client.session.send(envelope()).expect("session open");
        client.pump();
        client.receive(GREETING);
        client.take_output();
        client.receive(EHLO_STARTTLS);
        let sent = client.take_output();
        assert_eq!(sent, b"STARTTLS\r\n");
        client
    }

    fn assert_injection_refused(client: &Client, injected: usize) {
        assert!(
            !client
                .events
                .iter()
                .any(|e| matches!(e, ClientEvent::StartTls)),
            "the handshake was started over injected plaintext"
        );
        assert_eq!(
            client.close_reason(),
            Some(&client::CloseReason::Error(ClientError::StartTlsInjection(
                injected
            )))
        );
        assert!(
            !client.wire.windows(4).any(|w| w == b"MAIL"),
            "MAIL sent in plaintext"
        );
    }

    /// Replies after the `220` to STARTTLS in the same read are an injection: close.
    #[test]
    fn starttls_response_injection_in_one_read_closes() {
        for policy in [TlsPolicy::Opportunistic, TlsPolicy::Required] {
            let mut client = starttls_client(policy);
            let injected = b"250-mx.example.org\r\n250 AUTH PLAIN\r\n";
            let mut input = b"220 2.0.0 Ready to start TLS\r\n".to_vec();
            input.extend_from_slice(injected);
            client.receive(&input);
            client.take_output();
            assert_injection_refused(&client, injected.len());
        }
    }

    /// The same bytes arriving in a second read before the handshake.
    #[test]
    fn starttls_response_injection_in_a_later_read_closes() {
        let mut client = starttls_client(TlsPolicy::Opportunistic);
        client.receive(b"220 2.0.0 Ready to start TLS\r\n");
        client.take_output();
        let injected = b"250 2.0.0 OK\r\n";
        client.receive(injected);
        client.take_output();
        // The session is closed: a handshake the adapter might still finish changes nothing.
        assert!(client.session.tls_established(Default::default()).is_err());
        assert_eq!(
            client.close_reason(),
            Some(&client::CloseReason::Error(ClientError::StartTlsInjection(
                injected.len()
            )))
        );
        assert!(!client.wire.windows(4).any(|w| w == b"MAIL"));
    }

    // ----- resource exhaustion (client side) ----------------------------------------------

    /// An endless multi-line reply never grows the client: it ends the session once the
    /// reply passes `reply_limits.max_lines`.
    #[test]
    fn endless_multiline_reply_is_bounded() {
        for (what, reply) in [
            ("greeting", &b"220-mx.example.org\r\n"[..]),
            ("EHLO", b"250-X-FILLER\r\n"),
        ] {
            let mut client = Client::new(plain_config());
            client.send(b"hi\r\n", &[]);
            if what == "EHLO" {
                client.receive(GREETING);
                client.take_output();
            }
            let flood = reply.repeat(10 * MIB / reply.len());
            for piece in flood.chunks(64 * 1024) {
                client.receive(piece);
                client.take_output();
            }
            assert_eq!(
                client.close_reason(),
                Some(&client::CloseReason::Error(ClientError::MalformedReply(
                    ReplyError::TooManyLines
                ))),
                "{what}"
            );
            assert_eq!(
                client.session.buffered_bytes(),
                0,
                "{what}: input held after close"
            );
        }
    }

    /// A megabyte reply line without LF, in the greeting or as an AUTH challenge.
    #[test]
    fn megabyte_reply_line_is_bounded() {
        let mut line = b"334 ".to_vec();
        line.extend_from_slice(&b"QUFB".repeat(MIB / 4));
        let mut client = Client::new(ClientConfig {
            credentials: Some(Credentials::password("user", "secret")),
            cleartext_auth: client::CleartextPolicy::Allow,
            ..plain_config()
        });
        client.send(b"hi\r\n", &[]);
        client.receive(GREETING);
        client.take_output();
        client.receive(b"250-mx.example.org\r\n250 AUTH LOGIN\r\n");
        let sent = client.take_output();
        assert!(
            sent.starts_with(b"AUTH LOGIN"),
            "{:?}",
            String::from_utf8_lossy(&sent)
        );
        for piece in line.chunks(64 * 1024) {
            client.receive(piece);
            client.take_output();
        }
        assert_eq!(
            client.close_reason(),
            Some(&client::CloseReason::Error(ClientError::MalformedReply(
                ReplyError::LineTooLong
            )))
        );
        assert!(!client.session.is_authenticated());
    }
}
