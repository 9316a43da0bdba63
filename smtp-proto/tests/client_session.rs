//! Client session against scripted server replies: the protocol flow, step by step.
#![allow(clippy::unwrap_used, missing_docs)]

mod client_support;

use bytes::Bytes;
use client_support::*;
use smtp_proto::client::{
    ClientConfig, ClientError, CloseReason, Event, OutcomeClass, Protocol, Stage, TlsPolicy,
    TransactionFailure, Usage,
};
use smtp_proto::TlsInfo;

const GREETING: &str = "220 mx.example.org ESMTP\r\n";
const EHLO_PIPE: &str =
    "250-mx.example.org\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n";
const EHLO_PLAIN: &str = "250-mx.example.org\r\n250 8BITMIME\r\n";

#[test]
fn pipelined_transaction() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::WhenOffered));
    let txn =
        c.s.send(envelope("a@example.com", &["b@example.org", "c@example.org"]).with_size(20))
            .unwrap();
    c.expect_out("");
    c.feed(GREETING.as_bytes());
    c.expect_out("EHLO localhost\r\n");
    c.feed(EHLO_PIPE.as_bytes());
    // RFC 2920 3.1: MAIL, every RCPT and DATA in one write.
    c.expect_out(
        "MAIL FROM:<a@example.com> SIZE=20\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
    );
    c.feed(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n");
    assert_eq!(
        summary(&c.take_events()),
        [
            "greeting 220",
            "ready",
            "rcpt 0 0 250",
            "rcpt 0 1 550",
            "body 0"
        ]
    );
    c.s.body(Bytes::from_static(b".hidden\r\nline\r\n."))
        .unwrap();
    c.expect_out("..hidden\r\nline\r\n..");
    c.s.end_body().unwrap();
    c.expect_out("\r\n.\r\n");
    c.feed(b"250 2.0.0 Ok: queued as 42\r\n");
    let ev = c.take_events();
    assert_eq!(summary(&ev), ["message 0 250"]);
    let Event::MessageResult { outcome, .. } = &ev[0] else {
        unreachable!()
    };
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(&outcome.reply.first_line()[..], b"Ok: queued as 42");
    assert_eq!(txn.as_u64(), 0);
    c.s.quit();
    c.expect_out("QUIT\r\n");
    c.feed(b"221 2.0.0 Bye\r\n");
    let ev = c.take_events();
    assert!(
        matches!(&ev[..], [Event::Closed { reason: CloseReason::Quit(Some(r)), unfinished }] if r.code().as_u16() == 221 && unfinished.is_empty())
    );
    assert!(c.s.is_closed());
    assert!(!c.s.wants_read());
}

#[test]
fn without_pipelining_one_command_at_a_time() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::WhenOffered));
    c.s.send(envelope(
        "a@example.com",
        &["b@example.org", "c@example.org"],
    ))
    .unwrap();
    c.s.body(Bytes::from_static(b"Hi\n")).unwrap();
    c.s.end_body().unwrap();
    c.feed(GREETING.as_bytes());
    c.expect_out("EHLO localhost\r\n");
    c.feed(EHLO_PLAIN.as_bytes());
    c.expect_out("MAIL FROM:<a@example.com>\r\n");
    c.feed(b"250 ok\r\n");
    c.expect_out("RCPT TO:<b@example.org>\r\n");
    c.feed(b"451 try later\r\n");
    c.expect_out("RCPT TO:<c@example.org>\r\n");
    c.feed(b"250 ok\r\n");
    c.expect_out("DATA\r\n");
    c.feed(b"354 go\r\n");
    // Bare LF normalised; the end marker follows the buffered body at once.
    c.expect_out("Hi\r\n.\r\n");
    c.feed(b"250 queued\r\n");
    assert_eq!(
        summary(&c.take_events()),
        [
            "greeting 220",
            "ready",
            "rcpt 0 0 451",
            "rcpt 0 1 250",
            "body 0",
            "message 0 250"
        ]
    );
}

#[test]
fn helo_fallback_on_502() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::WhenOffered));
    c.feed(b"220 old.example ready\r\n");
    c.expect_out("EHLO localhost\r\n");
    c.feed(b"502 command not implemented\r\n");
    c.expect_out("HELO localhost\r\n");
    c.feed(b"250 old.example\r\n");
    let ev = c.take_events();
    let Some(Event::Ready { capabilities }) = ev.get(1) else {
        panic!("{ev:?}")
    };
    assert!(capabilities.keywords.is_empty());
    assert_eq!(c.s.capabilities(), Some(capabilities));
}

#[test]
fn greeting_554_quits() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::WhenOffered));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(b"554 5.7.1 no service for you\r\n");
    c.expect_out("QUIT\r\n");
    c.feed(b"221 bye\r\n");
    let ev = c.take_events();
    match &ev[..] {
        [Event::Closed {
            reason: CloseReason::Error(ClientError::GreetingRejected(r)),
            unfinished,
        }] => {
            assert_eq!(r.code().as_u16(), 554);
            assert_eq!(unfinished.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn all_recipients_refused_pipelined_data_refused_then_rset() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.take_out();
    c.feed(b"250 ok\r\n550 no\r\n554 no valid recipients\r\n");
    c.expect_out("RSET\r\n");
    c.feed(b"250 reset\r\n");
    let ev = summary(&c.take_events());
    assert_eq!(ev[2], "rcpt 0 0 550");
    assert!(ev[3].contains("NoValidRecipients"), "{ev:?}");
    assert!(ev[3].contains("Permanent"), "{ev:?}");
    // The body for a failed transaction is dropped without error.
    c.s.body(Bytes::from_static(b"dropped")).unwrap();
    c.s.end_body().unwrap();
    c.expect_out("");
}

#[test]
fn all_recipients_refused_but_data_accepted_sends_lone_dot() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.s.body(Bytes::from_static(b"secret\r\n")).unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.take_out();
    // RFC 2920 3.1: DATA accepted although no RCPT was: a single dot, never the body.
    c.feed(b"250 ok\r\n450 later\r\n354 go\r\n");
    c.expect_out(".\r\n");
    c.feed(b"554 no recipients\r\n");
    let ev = summary(&c.take_events());
    assert!(
        ev.iter()
            .any(|e| e.contains("NoValidRecipients") && e.contains("Transient")),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| e.starts_with("message")), "{ev:?}");
}

#[test]
fn mail_refused_pipelined_replies_drained() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope(
        "a@example.com",
        &["b@example.org", "c@example.org"],
    ))
    .unwrap();
    c.s.send(envelope("d@example.com", &["e@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.take_out();
    c.feed(b"553 5.1.8 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n");
    // The second transaction starts only after the first one's replies are all in.
    c.expect_out("MAIL FROM:<d@example.com>\r\nRCPT TO:<e@example.org>\r\nDATA\r\n");
    let ev = c.take_events();
    let failed: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::TransactionFailed { txn, failure } => Some((txn.as_u64(), failure.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(matches!(
        &failed[0].1,
        TransactionFailure::Rejected { stage: Stage::Mail, outcome } if outcome.class == OutcomeClass::Permanent
    ));
    assert!(!summary(&ev).iter().any(|e| e.starts_with("rcpt")));
}

#[test]
fn data_refused_with_recipients_then_rset() {
    let mut c = Script::new(config(Usage::Never, Usage::Never));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.feed(b"250 ok\r\n");
    c.feed(b"250 ok\r\n");
    c.take_out();
    c.feed(b"451 4.3.0 not now\r\n");
    c.expect_out("RSET\r\n");
    let ev = c.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::TransactionFailed { failure: TransactionFailure::Rejected { stage: Stage::Data, outcome }, .. } if outcome.class == OutcomeClass::Transient)));
}

#[test]
fn lmtp_one_result_per_accepted_recipient() {
    let mut cfg = config(Usage::WhenOffered, Usage::Never);
    cfg.protocol = Protocol::Lmtp;
    let mut c = Script::new(cfg);
    c.s.send(envelope("a@example.com", &["b@x", "c@x", "d@x"]))
        .unwrap();
    c.s.body(Bytes::from_static(b"x")).unwrap();
    c.s.end_body().unwrap();
    c.feed(b"220 lmtp ready\r\n");
    c.expect_out("LHLO localhost\r\n");
    c.feed(b"250-lmtp\r\n250 PIPELINING\r\n");
    c.expect_out(
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nRCPT TO:<d@x>\r\nDATA\r\n",
    );
    c.feed(b"250 ok\r\n250 ok\r\n550 unknown\r\n250 ok\r\n354 go\r\n");
    c.expect_out("x\r\n.\r\n");
    c.feed(b"250 2.0.0 b delivered\r\n452 4.2.2 d over quota\r\n");
    let ev = summary(&c.take_events());
    assert_eq!(
        &ev[ev.len() - 2..],
        ["message 0 rcpt 0 250", "message 0 rcpt 2 452"]
    );
}

#[test]
fn bdat_when_chunking_offered() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::WhenOffered));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    // No DATA: BDAT follows once the RCPT replies are in.
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n");
    c.s.body(Bytes::from_static(b"line one\n.two")).unwrap();
    c.expect_out("");
    c.feed(b"250 ok\r\n250 ok\r\n");
    c.expect_out("BDAT 14\r\nline one\r\n.two");
    c.s.body(Bytes::from_static(b"\r")).unwrap();
    c.s.end_body().unwrap();
    c.expect_out("BDAT 2 LAST\r\n\r\n");
    c.feed(b"250 2.0.0 chunk ok\r\n250 2.0.0 message ok\r\n");
    let ev = summary(&c.take_events());
    assert_eq!(&ev[ev.len() - 2..], ["body 0", "message 0 250"]);
}

#[test]
fn bdat_failure_stops_chunks_and_resets() {
    let mut c = Script::new(config(Usage::Never, Usage::WhenOffered));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 CHUNKING\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n");
    c.take_out();
    c.s.body(Bytes::from_static(b"part1")).unwrap();
    c.expect_out("BDAT 5\r\npart1");
    // Without pipelining the next chunk waits for the reply.
    c.s.body(Bytes::from_static(b"part2")).unwrap();
    c.expect_out("");
    c.feed(b"552 5.3.4 too big\r\n");
    c.expect_out("RSET\r\n");
    c.s.end_body().unwrap();
    c.feed(b"250 ok\r\n");
    c.expect_out("");
    let ev = c.take_events();
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::TransactionFailed {
            failure: TransactionFailure::Rejected {
                stage: Stage::Bdat,
                ..
            },
            ..
        }
    )));
}

#[test]
fn tls_required_but_not_offered_quits_without_mail() {
    let mut cfg = config(Usage::WhenOffered, Usage::WhenOffered);
    cfg.tls = TlsPolicy::Required;
    let mut c = Script::new(cfg);
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.expect_out("EHLO localhost\r\nQUIT\r\n");
    c.feed(b"221 bye\r\n");
    let ev = c.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed { reason: CloseReason::Error(ClientError::TlsUnavailable), unfinished }) if unfinished.len() == 1
    ));
}

#[test]
fn starttls_then_ehlo_again_with_fresh_capabilities() {
    let mut cfg = config(Usage::WhenOffered, Usage::WhenOffered);
    cfg.tls = TlsPolicy::Required;
    let mut c = Script::new(cfg);
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250-STARTTLS\r\n250 SIZE 10\r\n");
    c.expect_out("EHLO localhost\r\nSTARTTLS\r\n");
    c.feed(b"220 2.0.0 ready\r\n");
    assert!(!c.s.wants_read());
    let ev = summary(&c.take_events());
    assert_eq!(ev.last().unwrap(), "starttls");
    assert!(c.s.capabilities().is_some());
    c.s.tls_established(TlsInfo::default()).unwrap();
    assert!(c.s.capabilities().is_none());
    c.expect_out("EHLO localhost\r\n");
    c.feed(b"250-mx\r\n250 8BITMIME\r\n");
    let ev = c.take_events();
    let Some(Event::Ready { capabilities }) = ev.last() else {
        panic!("{ev:?}")
    };
    assert_eq!(capabilities.keywords.len(), 1);
    assert!(c.s.tls_info().is_some());
    assert!(c.s.tls_established(TlsInfo::default()).is_err());
}

#[test]
fn starttls_injection_after_220_closes() {
    let mut c = Script::new(ClientConfig::default());
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 STARTTLS\r\n");
    c.take_out();
    // The 220 and an injected reply in one read (2021 STARTTLS research).
    c.feed(b"220 ready\r\n250-mx\r\n250 AUTH PLAIN\r\n");
    let ev = c.take_events();
    assert!(
        matches!(
            ev.last(),
            Some(Event::Closed {
                reason: CloseReason::Error(ClientError::StartTlsInjection(24)),
                ..
            })
        ),
        "{ev:?}"
    );
    // The hand-off is over before it began: nothing is read as a reply, nothing more is sent.
    assert!(c.s.tls_established(TlsInfo::default()).is_err());
    assert!(!ev.iter().any(|e| matches!(e, Event::Ready { .. })));
    c.expect_out("");
}

#[test]
fn starttls_injection_before_handshake_closes() {
    let mut c = Script::new(ClientConfig::default());
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 STARTTLS\r\n");
    c.feed(b"220 ready\r\n");
    c.take_out();
    assert!(summary(&c.take_events()).contains(&"starttls".to_string()));
    c.feed(b"250 injected\r\n");
    assert!(c.s.tls_established(TlsInfo::default()).is_err());
    let ev = c.take_events();
    assert!(
        matches!(
            ev.last(),
            Some(Event::Closed {
                reason: CloseReason::Error(ClientError::StartTlsInjection(14)),
                ..
            })
        ),
        "{ev:?}"
    );
    c.expect_out("");
}

#[test]
fn starttls_refused_opportunistic_continues_in_plaintext() {
    let mut c = Script::new(ClientConfig::default());
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 STARTTLS\r\n");
    c.take_out();
    c.feed(b"454 4.7.0 TLS not available\r\n");
    c.expect_out("MAIL FROM:<a@example.com>\r\n");
}

#[test]
fn auth_login_and_failure() {
    let mut cfg = config(Usage::WhenOffered, Usage::WhenOffered);
    cfg.credentials = Some(smtp_proto::client::Credentials::password("user", "secret"));
    cfg.cleartext_auth = smtp_proto::client::CleartextPolicy::Allow;
    let mut c = Script::new(cfg.clone());
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 AUTH LOGIN\r\n");
    c.expect_out("EHLO localhost\r\nAUTH LOGIN\r\n");
    c.feed(b"334 VXNlcm5hbWU6\r\n");
    c.expect_out("dXNlcg==\r\n");
    c.feed(b"334 UGFzc3dvcmQ6\r\n");
    c.expect_out("c2VjcmV0\r\n");
    c.feed(b"235 2.7.0 ok\r\n");
    assert_eq!(
        summary(&c.take_events()),
        ["greeting 220", "auth 235", "ready"]
    );
    assert!(c.s.is_authenticated());

    let mut c = Script::new(cfg.clone());
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    c.expect_out("EHLO localhost\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    c.feed(b"535 5.7.8 bad credentials\r\n");
    c.expect_out("QUIT\r\n");
    c.feed(b"221 bye\r\n");
    let ev = c.take_events();
    assert!(
        matches!(ev.last(), Some(Event::Closed { reason: CloseReason::Error(ClientError::AuthFailed(r)), .. }) if r.code().as_u16() == 535)
    );

    // Without TLS and without permission: no AUTH at all.
    cfg.cleartext_auth = smtp_proto::client::CleartextPolicy::RequireTls;
    let mut c = Script::new(cfg);
    c.feed(GREETING.as_bytes());
    c.feed(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    c.expect_out("EHLO localhost\r\nQUIT\r\n");
}

#[test]
fn timeouts_follow_rfc5321_defaults() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    assert_eq!(c.s.poll_timeout().unwrap().as_duration().as_secs(), 300);
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.take_out();
    c.advance(100);
    c.feed(b"250 ok\r\n250 ok\r\n");
    // DATA initiation: 2 minutes from when its turn came.
    assert_eq!(c.s.poll_timeout().unwrap().as_duration().as_secs(), 220);
    c.feed(b"354 go\r\n");
    // Waiting for the application's body: no timer.
    assert_eq!(c.s.poll_timeout(), None);
    c.s.body(Bytes::from_static(b"x")).unwrap();
    // Body bytes wait for poll_transmit: the data block timer (3 minutes).
    assert_eq!(c.s.poll_timeout().unwrap().as_duration().as_secs(), 280);
    c.s.end_body().unwrap();
    c.take_out();
    assert_eq!(c.s.poll_timeout().unwrap().as_duration().as_secs(), 700);
    c.advance(599);
    assert!(!c.s.is_closed());
    c.advance(1);
    let ev = c.take_events();
    assert!(
        matches!(
            ev.last(),
            Some(Event::Closed { reason: CloseReason::Error(ClientError::Timeout(smtp_proto::client::Timer::DataTermination)), unfinished }) if unfinished.len() == 1
        ),
        "{ev:?}"
    );
}

#[test]
fn endless_multiline_reply_is_cut_off() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.feed(GREETING.as_bytes());
    c.take_out();
    let mut max = 0;
    for _ in 0..10_000 {
        c.feed(b"250-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n");
        max = max.max(c.s.buffered_bytes());
        if c.s.is_closed() {
            break;
        }
    }
    assert!(c.s.is_closed());
    assert!(max < 128 * 100, "buffered {max}");
    let ev = c.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Error(ClientError::MalformedReply(_)),
            ..
        })
    ));
}

#[test]
fn line_without_end_is_cut_off() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    for _ in 0..100 {
        c.feed(&[b'2'; 1000]);
        if c.s.is_closed() {
            break;
        }
    }
    assert!(c.s.is_closed());
    assert!(c.s.buffered_bytes() < 8192);
}

#[test]
fn closed_barrier_waits_for_quit_to_be_taken() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    // The server refuses and closes at once; QUIT is queued and Closed must not overtake it.
    c.s.receive(c.now, Bytes::from_static(b"554 go away\r\n"));
    c.s.receive_eof(c.now);
    assert!(c.s.poll_event().is_none());
    assert!(c.s.poll_event().is_none());
    let mut buf = bytes::BytesMut::new();
    c.s.poll_transmit(c.now, &mut buf);
    assert_eq!(&buf[..], b"QUIT\r\n");
    let ev: Vec<_> = std::iter::from_fn(|| c.s.poll_event()).collect();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Error(ClientError::GreetingRejected(_)),
            ..
        })
    ));
}

#[test]
fn eof_mid_transaction_reports_unfinished() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.s.send(envelope("a@example.com", &["c@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.s.receive_eof(c.now);
    let ev = c.take_events();
    assert!(
        matches!(ev.last(), Some(Event::Closed { reason: CloseReason::Error(ClientError::ConnectionLost), unfinished }) if unfinished.len() == 2)
    );
    assert!(c
        .s
        .send(envelope("a@example.com", &["b@example.org"]))
        .is_err());
}

#[test]
fn service_closing_421_at_any_point() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.feed(b"421 4.3.2 shutting down\r\n");
    let ev = c.take_events();
    assert!(
        matches!(ev.last(), Some(Event::Closed { reason: CloseReason::Error(ClientError::ServiceClosing(_)), unfinished }) if unfinished.len() == 1)
    );
}

#[test]
fn greeting_421_closes_without_quit() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.feed(b"421 4.7.0 too busy\r\n");
    c.expect_out("");
    let ev = c.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Error(ClientError::ServiceClosing(_)),
            ..
        })
    ));
}

#[test]
fn unsolicited_reply_closes() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.take_out();
    c.feed(b"250 nobody asked\r\n");
    let ev = c.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Error(ClientError::UnexpectedReply(_)),
            ..
        })
    ));
}

#[test]
fn quit_unanswered_closes_after_the_command_timeout() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.feed(GREETING.as_bytes());
    c.feed(EHLO_PIPE.as_bytes());
    c.s.quit();
    c.expect_out("EHLO localhost\r\nQUIT\r\n");
    c.advance(299);
    assert!(!c.s.is_closed());
    c.advance(1);
    let ev = c.take_events();
    assert!(
        matches!(ev.last(), Some(Event::Closed { reason: CloseReason::Quit(None), unfinished }) if unfinished.is_empty())
    );
}

#[test]
fn implicit_tls_allows_auth_and_skips_starttls() {
    let cfg = ClientConfig {
        tls: TlsPolicy::Required,
        credentials: Some(smtp_proto::client::Credentials::password("user", "secret")),
        ..ClientConfig::default()
    };
    let mut s = smtp_proto::client::Session::new_tls(
        std::sync::Arc::new(cfg),
        TlsInfo::new(),
        smtp_proto::Instant::ZERO,
    );
    s.receive(
        smtp_proto::Instant::ZERO,
        Bytes::from_static(GREETING.as_bytes()),
    );
    s.receive(
        smtp_proto::Instant::ZERO,
        Bytes::from_static(b"250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
    );
    let mut out = bytes::BytesMut::new();
    s.poll_transmit(smtp_proto::Instant::ZERO, &mut out);
    assert_eq!(
        &out[..],
        b"EHLO localhost\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\n"
    );
    assert!(s.tls_info().is_some());
}

#[test]
fn lmtp_bdat_last_gets_one_reply_per_recipient() {
    let mut cfg = config(Usage::WhenOffered, Usage::WhenOffered);
    cfg.protocol = Protocol::Lmtp;
    let mut c = Script::new(cfg);
    c.s.send(envelope("a@x", &["b@x", "c@x"])).unwrap();
    c.s.body(Bytes::from_static(b"hi\r\n")).unwrap();
    c.s.end_body().unwrap();
    c.feed(b"220 lmtp\r\n");
    c.feed(b"250-lmtp\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    c.expect_out("LHLO localhost\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n250 ok\r\n");
    c.expect_out("BDAT 4 LAST\r\nhi\r\n");
    c.feed(b"250 2.0.0 b ok\r\n550 5.2.2 c full\r\n");
    let ev = summary(&c.take_events());
    assert_eq!(
        &ev[ev.len() - 2..],
        ["message 0 rcpt 0 250", "message 0 rcpt 1 550"]
    );
}

/// Plaintext that arrives after the `220` to STARTTLS was processed but before the driver took
/// the `StartTls` event: the event is withdrawn, only `Closed` (injection) comes out.
#[test]
fn injection_after_the_220_withdraws_an_untaken_starttls() {
    use bytes::{Bytes, BytesMut};
    use smtp_proto::client::{ClientConfig, ClientError, CloseReason, Event, Session, TlsPolicy};
    use smtp_proto::Instant;
    use std::sync::Arc;

    let config = ClientConfig {
        tls: TlsPolicy::Required,
        ..ClientConfig::default()
    };
    let now = Instant::ZERO;
    let mut s = Session::new(Arc::new(config), now);
    let mut out = BytesMut::new();
    s.receive(now, Bytes::from_static(b"220 mx ESMTP\r\n"));
    s.poll_transmit(now, &mut out);
    s.receive(now, Bytes::from_static(b"250-mx\r\n250 STARTTLS\r\n"));
    s.poll_transmit(now, &mut out);
    while s.poll_event().is_some() {}
    assert!(out.ends_with(b"STARTTLS\r\n"), "{out:?}");
    // The 220 is processed by poll_transmit; the driver has not polled events yet when the
    // injected bytes arrive.
    s.receive(now, Bytes::from_static(b"220 ready\r\n"));
    s.poll_transmit(now, &mut out);
    s.receive(now, Bytes::from_static(b"250 injected\r\n"));
    s.poll_transmit(now, &mut out);
    let mut events = Vec::new();
    while let Some(e) = s.poll_event() {
        events.push(e);
    }
    assert!(
        !events.iter().any(|e| matches!(e, Event::StartTls)),
        "{events:?}"
    );
    assert!(
        matches!(
            events.last(),
            Some(Event::Closed {
                reason: CloseReason::Error(ClientError::StartTlsInjection(_)),
                ..
            })
        ),
        "{events:?}"
    );
}
