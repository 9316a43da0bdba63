//! Envelopes fitted to the server: parameters, refusals before sending, RFC 9422 LIMITS,
//! reset, body backpressure, SASL mechanisms.
#![allow(clippy::unwrap_used, missing_docs)]

mod client_support;

use bytes::Bytes;
use client_support::*;
use smtp_proto::client::{
    ClientConfig, ClientError, CloseReason, Credentials, DeferReason, EnvelopeError, Event,
    OutcomeClass, TlsPolicy, TransactionFailure, Usage,
};
use smtp_proto::command::{BodyType, DsnReturn, Notify};
use smtp_proto::{Mechanism, RcptParams};

const GREETING: &[u8] = b"220 mx ESMTP\r\n";

fn ready(c: &mut Script, ehlo: &str) {
    c.feed(GREETING);
    c.feed(ehlo.as_bytes());
}

fn failures(ev: &[Event]) -> Vec<TransactionFailure> {
    ev.iter()
        .filter_map(|e| match e {
            Event::TransactionFailed { failure, .. } => Some(failure.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn utf8_address_needs_smtputf8() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["grüße@example.org"]))
        .unwrap();
    c.s.send(envelope("a@example.com", &["b@example.org"]))
        .unwrap();
    ready(&mut c, "250-mx\r\n250 PIPELINING\r\n");
    // Refused before sending; the next transaction goes on.
    c.expect_out(
        "EHLO localhost\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
    );
    let f = failures(&c.take_events());
    assert_eq!(
        f,
        [TransactionFailure::Refused(EnvelopeError::NeedsSmtpUtf8)]
    );
    assert_eq!(f[0].class(), OutcomeClass::Permanent);

    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("a@example.com", &["grüße@example.org"]))
        .unwrap();
    ready(&mut c, "250-mx\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
    c.expect_out(
        "EHLO localhost\r\nMAIL FROM:<a@example.com> SMTPUTF8\r\nRCPT TO:<grüße@example.org>\r\nDATA\r\n",
    );
}

#[test]
fn extensions_needed_or_dropped() {
    let mut c = Script::new(config(Usage::Never, Usage::Never));
    c.s.send(envelope("a@x", &["b@y"]).with_body_type(BodyType::EightBitMime))
        .unwrap();
    c.s.send(envelope("a@x", &["b@y"]).with_body_type(BodyType::BinaryMime))
        .unwrap();
    c.s.send(envelope("a@x", &["b@y"]).with_size(2000)).unwrap();
    let mut dsn = envelope("a@x", &[]);
    dsn.params.extra_mut().ret = Some(DsnReturn::Headers);
    dsn.params.extra_mut().envid = Some(Bytes::from_static(b"id+1"));
    let mut rp = RcptParams::default();
    rp.notify = Some(Notify::Never);
    dsn = dsn.to_with(fp("b@y"), rp);
    c.s.send(dsn.clone().with_size(10)).unwrap();
    c.s.send(envelope("a@x", &[])).unwrap();
    ready(&mut c, "250-mx\r\n250 SIZE 1000\r\n");
    // DSN parameters are dropped without DSN; SIZE stays (announced).
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@x> SIZE=10\r\n");
    let f = failures(&c.take_events());
    assert_eq!(
        f,
        [
            TransactionFailure::Refused(EnvelopeError::Needs8BitMime),
            TransactionFailure::Refused(EnvelopeError::NeedsBinaryMime),
            TransactionFailure::Refused(EnvelopeError::TooLarge {
                size: 2000,
                limit: 1000
            }),
        ]
    );
    c.feed(b"250 ok\r\n");
    c.expect_out("RCPT TO:<b@y>\r\n");
    c.feed(b"250 ok\r\n");
    c.expect_out("DATA\r\n");

    // With DSN announced, the parameters go out, xtext-encoded.
    let mut c = Script::new(config(Usage::Never, Usage::Never));
    c.s.send(dsn).unwrap();
    ready(&mut c, "250-mx\r\n250 DSN\r\n");
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@x> RET=HDRS ENVID=id+2B1\r\n");
    c.feed(b"250 ok\r\n");
    c.expect_out("RCPT TO:<b@y> NOTIFY=NEVER\r\n");
}

#[test]
fn no_recipients_is_refused() {
    let mut c = Script::new(config(Usage::Never, Usage::Never));
    c.s.send(envelope("a@x", &[])).unwrap();
    ready(&mut c, "250 mx\r\n");
    assert_eq!(
        failures(&c.take_events()),
        [TransactionFailure::Refused(EnvelopeError::NoRecipients)]
    );
}

#[test]
fn binarymime_goes_exactly_with_bdat() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::WhenOffered));
    c.s.send(envelope("a@x", &["b@y"]).with_body_type(BodyType::BinaryMime))
        .unwrap();
    c.s.body(Bytes::from_static(b"\x00\n.\n\r")).unwrap();
    c.s.end_body().unwrap();
    ready(
        &mut c,
        "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 BINARYMIME\r\n",
    );
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@x> BODY=BINARYMIME\r\nRCPT TO:<b@y>\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n");
    c.expect_out("BDAT 5 LAST\r\n\x00\n.\n\r");
}

#[test]
fn rcptmax_splits_and_reports_the_rest() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    let to = ["r0@a", "r1@a", "r2@b", "r3@b", "r4@c"];
    c.s.send(envelope("s@x", &to)).unwrap();
    ready(
        &mut c,
        "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=2 MAILMAX=2\r\n",
    );
    c.expect_out(
        "EHLO localhost\r\nMAIL FROM:<s@x>\r\nRCPT TO:<r0@a>\r\nRCPT TO:<r1@a>\r\nDATA\r\n",
    );
    let ev = c.take_events();
    let Some(Event::Deferred {
        txn,
        indices,
        envelope: rest,
        reason,
    }) = ev.iter().find(|e| matches!(e, Event::Deferred { .. }))
    else {
        panic!("{ev:?}")
    };
    assert_eq!((txn.as_u64(), *reason), (0, DeferReason::RcptMax));
    assert_eq!(indices, &[2, 3, 4]);
    assert_eq!(rest.recipients.len(), 3);
    // The application sends the rest as another transaction (with the body again).
    c.s.body(Bytes::from_static(b"m")).unwrap();
    c.s.end_body().unwrap();
    let second = c.s.send((**rest).clone()).unwrap();
    c.s.body(Bytes::from_static(b"m")).unwrap();
    c.s.end_body().unwrap();
    let third = c.s.send(envelope("s@x", &["z@z"])).unwrap();
    c.s.body(Bytes::from_static(b"m")).unwrap();
    c.s.end_body().unwrap();
    c.feed(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    c.expect_out("m\r\n.\r\n");
    c.feed(b"250 queued\r\n");
    c.expect_out("MAIL FROM:<s@x>\r\nRCPT TO:<r2@b>\r\nRCPT TO:<r3@b>\r\nDATA\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    c.expect_out("m\r\n.\r\n");
    c.feed(b"250 queued\r\n");
    // MAILMAX=2 is used up: the third transaction needs a new session.
    let ev = c.take_events();
    let deferred: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Deferred { txn, reason, .. } => Some((*txn, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        deferred,
        [
            (second, DeferReason::RcptMax),
            (third, DeferReason::MailMax)
        ]
    );
    assert!(ev.iter().any(|e| matches!(e, Event::TransactionFailed { txn, failure: TransactionFailure::Refused(EnvelopeError::MailMaxReached) } if *txn == third)));
}

#[test]
fn rcptdomainmax_keeps_one_domain() {
    let mut c = Script::new(config(Usage::WhenOffered, Usage::Never));
    c.s.send(envelope("s@x", &["r0@a", "r1@b", "r2@A", "r3@c"]))
        .unwrap();
    ready(
        &mut c,
        "250-mx\r\n250-PIPELINING\r\n250 LIMITS RCPTDOMAINMAX=1\r\n",
    );
    c.expect_out(
        "EHLO localhost\r\nMAIL FROM:<s@x>\r\nRCPT TO:<r0@a>\r\nRCPT TO:<r2@A>\r\nDATA\r\n",
    );
    let ev = c.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Deferred { indices, reason: DeferReason::RcptDomainMax, .. } if indices == &[1, 3])));
}

#[test]
fn reset_cancels_queued_and_in_flight() {
    let mut c = Script::new(config(Usage::Never, Usage::WhenOffered));
    c.s.send(envelope("a@x", &["b@y"])).unwrap();
    c.s.send(envelope("a@x", &["c@y"])).unwrap();
    ready(&mut c, "250-mx\r\n250 CHUNKING\r\n");
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@x>\r\n");
    c.s.reset();
    let f = failures(&c.take_events());
    assert_eq!(
        f,
        [TransactionFailure::Cancelled, TransactionFailure::Cancelled]
    );
    // The MAIL in flight was accepted: RSET clears it at the server.
    c.feed(b"250 ok\r\n");
    c.expect_out("RSET\r\n");
    c.feed(b"250 ok\r\n");
    c.s.quit();
    c.expect_out("QUIT\r\n");
}

#[test]
fn reset_during_bdat_body_stops_cleanly() {
    let mut c = Script::new(config(Usage::Never, Usage::WhenOffered));
    c.s.send(envelope("a@x", &["b@y"])).unwrap();
    ready(&mut c, "250-mx\r\n250 CHUNKING\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n");
    c.s.body(Bytes::from_static(b"abc")).unwrap();
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 3\r\nabc");
    c.s.body(Bytes::from_static(b"def")).unwrap();
    c.s.reset();
    c.feed(b"250 ok\r\n");
    c.expect_out("RSET\r\n");
    assert!(failures(&c.take_events()).contains(&TransactionFailure::Cancelled));
}

#[test]
fn reset_during_data_body_closes() {
    let mut c = Script::new(config(Usage::Never, Usage::Never));
    c.s.send(envelope("a@x", &["b@y"])).unwrap();
    ready(&mut c, "250 mx\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    c.s.body(Bytes::from_static(b"half a message")).unwrap();
    c.take_out();
    c.s.reset();
    let ev = c.take_events();
    assert!(
        matches!(ev.last(), Some(Event::Closed { reason: CloseReason::Error(ClientError::Abandoned), unfinished }) if unfinished.len() == 1)
    );
    // No end-of-data marker: the truncated message is never committed.
    c.expect_out("");
}

#[test]
fn body_backpressure_gives_the_chunk_back() {
    let mut cfg = config(Usage::Never, Usage::Never);
    cfg.max_body_buffer = 10;
    let mut c = Script::new(cfg);
    assert!(matches!(
        c.s.body(Bytes::from_static(b"x")),
        Err(smtp_proto::client::BodyError::Misuse(_))
    ));
    c.s.send(envelope("a@x", &["b@y"])).unwrap();
    // The first chunk is always taken, whatever its size.
    c.s.body(Bytes::from_static(b"0123456789ABCDEF")).unwrap();
    assert_eq!(c.s.body_capacity(), 0);
    match c.s.body(Bytes::from_static(b"more")) {
        Err(smtp_proto::client::BodyError::Full(b)) => assert_eq!(&b[..], b"more"),
        other => panic!("{other:?}"),
    }
    ready(&mut c, "250 mx\r\n");
    c.feed(b"250 ok\r\n250 ok\r\n354 go\r\n");
    c.expect_out("EHLO localhost\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n0123456789ABCDEF");
    assert_eq!(c.s.body_capacity(), 10);
    assert_eq!(c.s.body_txn().map(|t| t.as_u64()), Some(0));
    c.s.body(Bytes::from_static(b"more")).unwrap();
    c.s.end_body().unwrap();
    assert_eq!(c.s.body_txn(), None);
    assert!(c.s.end_body().is_err());
    c.expect_out("more\r\n.\r\n");
}

fn auth_config(creds: Credentials) -> ClientConfig {
    ClientConfig {
        tls: TlsPolicy::None,
        credentials: Some(creds),
        cleartext_auth: smtp_proto::client::CleartextPolicy::Allow,
        ..ClientConfig::default()
    }
}

#[test]
fn xoauth2_error_challenge_then_535() {
    let mut c = Script::new(auth_config(Credentials::token("user@example.com", "tok")));
    ready(&mut c, "250-mx\r\n250 AUTH LOGIN PLAIN XOAUTH2\r\n");
    let out = String::from_utf8(c.take_out()).unwrap();
    assert!(
        out.ends_with("AUTH XOAUTH2 dXNlcj11c2VyQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHRvawEB\r\n"),
        "{out}"
    );
    c.feed(b"334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n");
    c.expect_out("\r\n");
    c.feed(b"535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials\r\n");
    c.expect_out("QUIT\r\n");
    c.feed(b"221 bye\r\n");
    let ev = c.take_events();
    assert!(
        matches!(ev.last(), Some(Event::Closed { reason: CloseReason::Error(ClientError::AuthFailed(r)), .. }) if r.line_count() == 2)
    );
}

#[test]
fn scram_sha256_full_exchange() {
    // RFC 7677 section 3 conversation, driven through the session.
    let mut c = Script::new(auth_config(Credentials::password("user", "pencil")));
    c.s.set_scram_nonce(Bytes::from_static(b"rOprNGfwEbeRWgbNEkqO"));
    ready(&mut c, "250-mx\r\n250 AUTH SCRAM-SHA-256 PLAIN\r\n");
    let out = String::from_utf8(c.take_out()).unwrap();
    // base64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    assert!(
        out.ends_with("AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=\r\n"),
        "{out}"
    );
    let server_first = smtp_proto::sasl::encode_base64(
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    );
    c.feed(&[b"334 ", &server_first[..], b"\r\n"].concat());
    let client_final = c.take_out();
    let decoded =
        smtp_proto::sasl::decode_base64(client_final.strip_suffix(b"\r\n").unwrap()).unwrap();
    assert_eq!(
        &decoded.expose()[..],
        &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..]
    );
    let server_final =
        smtp_proto::sasl::encode_base64(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    c.feed(&[b"334 ", &server_final[..], b"\r\n"].concat());
    c.expect_out("\r\n");
    c.feed(b"235 2.7.0 ok\r\n");
    assert!(c.s.is_authenticated());
}

#[test]
fn scram_success_without_server_proof_is_refused() {
    let mut c = Script::new(auth_config(Credentials::password("user", "pencil")));
    c.s.set_scram_nonce(Bytes::from_static(b"rOprNGfwEbeRWgbNEkqO"));
    ready(&mut c, "250-mx\r\n250 AUTH SCRAM-SHA-256\r\n");
    c.take_out();
    // A server that says 235 without proving it knows the password.
    c.feed(b"235 2.7.0 sure\r\n");
    let ev = c.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Error(ClientError::AuthProtocol),
            ..
        })
    ));
    assert!(!c.s.is_authenticated());
}

#[test]
fn mechanism_choice_follows_credentials() {
    // Without a nonce SCRAM is not chosen; LOGIN only when PLAIN is missing.
    let mut c = Script::new(auth_config(Credentials::password("u", "p")));
    ready(&mut c, "250-mx\r\n250 AUTH SCRAM-SHA-256 LOGIN\r\n");
    assert!(c.take_out().ends_with(b"AUTH LOGIN\r\n"));
    let mut c = Script::new(auth_config(Credentials::token("u", "t")));
    ready(&mut c, "250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    // A token fits neither PLAIN nor LOGIN: QUIT, never a guess.
    assert!(c.take_out().ends_with(b"EHLO localhost\r\nQUIT\r\n"));
    assert!(c
        .s
        .capabilities()
        .unwrap()
        .auth_mechanisms()
        .contains(&Mechanism::Plain));
    c.feed(b"221 bye\r\n");
    let ev = c.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Closed {
            reason: CloseReason::Error(ClientError::AuthUnavailable),
            ..
        })
    ));
}
