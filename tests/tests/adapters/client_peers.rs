//! The adapter's client delivers to real servers no one here wrote, on 127.0.0.1: Postfix's
//! `smtp-sink` (dumps each transaction, lines ended by LF) and Python's `aiosmtpd` (hands
//! over the dot-unstuffed bytes as received), byte-exact, with AUTH, STARTTLS and LMTP.

use smtp_proto::client::{
    CleartextPolicy, ClientConfig as SessionConfig, Credentials, OutcomeClass, Protocol, TlsPolicy,
};

use crate::harness::{AdapterUnderTest, ClientFailure, ClientSpec, ClientStep, Trust};
use crate::support::*;

fn plain() -> SessionConfig {
    SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    }
}

fn plain_auth(user: &str, password: &str) -> SessionConfig {
    SessionConfig {
        credentials: Some(Credentials::password(user, password)),
        cleartext_auth: CleartextPolicy::Allow,
        ..plain()
    }
}

fn lmtp() -> SessionConfig {
    SessionConfig {
        protocol: Protocol::Lmtp,
        ..plain()
    }
}

fn starttls(trust: Trust, credentials: Option<Credentials>) -> ClientSpec {
    let mut spec = ClientSpec::new(SessionConfig {
        tls: TlsPolicy::Required,
        credentials,
        ..SessionConfig::default()
    });
    spec.trust = trust;
    spec.server_name = Some("localhost".to_owned());
    spec
}

fn to_two() -> smtp_proto::client::Envelope {
    envelope(
        "<alice@example.org>",
        &["<bob@example.net>", "<carol@example.net>"],
    )
}

// ---- smtp-sink -------------------------------------------------------------------------

pub fn sink_several_messages_on_one_connection_arrive_byte_exact<A: AdapterUnderTest>() {
    let Some(sink) = smtp_sink(1, &[]) else {
        return;
    };
    let bodies = tricky_bodies();
    let steps = bodies
        .iter()
        .map(|b| ClientStep::Send(to_two(), b.clone()))
        .collect();
    let run = A::run_client(sink.addr, ClientSpec::new(plain()), steps).expect("client run");
    assert!(run.pipelining);
    for d in &run.deliveries {
        assert!(d.all_delivered, "{}", d.debug);
        assert_eq!(d.message_code, Some(250), "{}", d.debug);
    }
    assert_eq!(run.quit, Some(221));
    let mut dumps = sink_dumps(&sink);
    assert_eq!(dumps.len(), bodies.len());
    for d in &dumps {
        assert_eq!(d.mail_args, "<alice@example.org>");
        assert_eq!(d.rcpt_args, ["<bob@example.net>", "<carol@example.net>"]);
    }
    let mut got: Vec<Vec<u8>> = dumps.drain(..).map(|d| d.content).collect();
    let mut want: Vec<Vec<u8>> = bodies.iter().map(|b| as_sink_dump(&canonical(b))).collect();
    got.sort();
    want.sort();
    for (g, w) in got.iter().zip(&want) {
        crate::common::assert_bytes_eq(g, w, "dump");
    }
}

pub fn sink_without_pipelining_still_delivers<A: AdapterUnderTest>() {
    // -p: smtp-sink does not announce PIPELINING.
    let Some(sink) = smtp_sink(1, &["-p"]) else {
        return;
    };
    let steps = (0..3)
        .map(|i| {
            ClientStep::Send(
                envelope("<a@example.org>", &["<b@example.net>"]),
                bytes::Bytes::from(format!("Subject: {i}\r\n\r\nbody {i}\r\n")),
            )
        })
        .collect();
    let run = A::run_client(sink.addr, ClientSpec::new(plain()), steps).expect("client run");
    assert!(!run.pipelining);
    assert!(run.deliveries.iter().all(|d| d.all_delivered));
    let mut got: Vec<Vec<u8>> = sink_dumps(&sink).into_iter().map(|d| d.content).collect();
    got.sort();
    let want: Vec<Vec<u8>> = (0..3)
        .map(|i| format!("Subject: {i}\n\nbody {i}\n").into_bytes())
        .collect();
    assert_eq!(got, want);
}

pub fn sink_lmtp_reports_one_final_reply_per_recipient<A: AdapterUnderTest>() {
    let Some(sink) = smtp_sink(1, &["-L"]) else {
        return;
    };
    let steps = vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>", "<c@example.net>"]),
        bytes::Bytes::from_static(b"Subject: lmtp\r\n\r\nhi\r\n"),
    )];
    let run = A::run_client(sink.addr, ClientSpec::new(lmtp()), steps).expect("client run");
    let d = &run.deliveries[0];
    assert_eq!(d.message_code, None, "LMTP has no single message reply");
    assert_eq!(d.recipients.len(), 2);
    for r in &d.recipients {
        assert_eq!(r.message_code, Some(250), "{}", d.debug);
    }
    let dumps = sink_dumps(&sink);
    assert_eq!(dumps.len(), 1);
    assert_eq!(dumps[0].content, b"Subject: lmtp\n\nhi\n");
}

pub fn sink_refused_mail_is_a_transient_failure_not_an_error<A: AdapterUnderTest>() {
    // -r MAIL: smtp-sink answers MAIL with 450.
    let Some(sink) = smtp_sink(1, &["-r", "MAIL"]) else {
        return;
    };
    let steps = vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>"]),
        bytes::Bytes::from_static(b"x\r\n"),
    )];
    let run = A::run_client(sink.addr, ClientSpec::new(plain()), steps).expect("a result");
    let d = &run.deliveries[0];
    assert!(d.failed, "{}", d.debug);
    assert_eq!(d.recipients[0].class, OutcomeClass::Transient);
    // The connection stayed usable.
    assert_eq!(run.quit, Some(221));
    assert!(sink_dumps(&sink).is_empty());
}

// ---- aiosmtpd --------------------------------------------------------------------------

pub fn aiosmtpd_messages_arrive_byte_exact_with_their_envelopes<A: AdapterUnderTest>() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let bodies = tricky_bodies();
    let steps = bodies
        .iter()
        .map(|b| ClientStep::Send(to_two(), b.clone()))
        .collect();
    let run = A::run_client(peer.addr, ClientSpec::new(plain()), steps).expect("client run");
    assert!(run.deliveries.iter().all(|d| d.all_delivered));
    let got = captured(&peer);
    assert_eq!(got.len(), bodies.len());
    for (g, body) in got.iter().zip(&bodies) {
        crate::common::assert_bytes_eq(&g.content, &canonical(body), "content");
        assert!(
            g.meta.contains(r#""mail_from": "alice@example.org""#),
            "{}",
            g.meta
        );
        assert!(
            g.meta
                .contains(r#""rcpt_tos": ["bob@example.net", "carol@example.net"]"#),
            "{}",
            g.meta
        );
    }
}

/// A body read 777 octets at a time, so chunk boundaries fall inside lines, CRLFs and
/// leading dots.
pub fn aiosmtpd_streamed_body_arrives_byte_exact<A: AdapterUnderTest>() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let body = tricky_bodies().pop().expect("the big body");
    let steps = vec![ClientStep::Streamed(
        envelope("<a@example.org>", &["<b@example.net>"]),
        body.clone(),
        777,
    )];
    let run = A::run_client(peer.addr, ClientSpec::new(plain()), steps).expect("client run");
    assert!(
        run.deliveries[0].all_delivered,
        "{}",
        run.deliveries[0].debug
    );
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    crate::common::assert_bytes_eq(&got[0].content, &canonical(&body), "streamed content");
}

pub fn aiosmtpd_auth_then_delivery<A: AdapterUnderTest>() {
    let options = AiosmtpdOptions {
        auth: Some(("joe".into(), "s3cret pass".into())),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let steps = vec![ClientStep::Send(
        envelope("<joe@example.org>", &["<b@example.net>"]),
        bytes::Bytes::from_static(b"Subject: auth\r\n\r\nok\r\n"),
    )];
    let spec = ClientSpec::new(plain_auth("joe", "s3cret pass"));
    let run = A::run_client(peer.addr, spec, steps).expect("connect, AUTH, send");
    assert_eq!(run.authenticated, Some(235));
    assert!(run.deliveries[0].all_delivered);
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(got[0].meta.contains(r#""auth": "joe""#), "{}", got[0].meta);
}

pub fn aiosmtpd_wrong_password_ends_the_session_with_535<A: AdapterUnderTest>() {
    let options = AiosmtpdOptions {
        auth: Some(("joe".into(), "right".into())),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let spec = ClientSpec::new(plain_auth("joe", "wrong"));
    let result = A::run_client(peer.addr, spec, Vec::new());
    assert_eq!(result.err(), Some(ClientFailure::AuthFailed(535)));
    assert!(captured(&peer).is_empty());
}

pub fn aiosmtpd_starttls_with_a_pinned_certificate_then_auth<A: AdapterUnderTest>() {
    let certs = TempDir::new("certs");
    let (der, cert, key) = self_signed_cert(certs.path());
    let options = AiosmtpdOptions {
        auth: Some(("joe".into(), "pw".into())),
        tls_cert_and_key: Some((cert, key)),
        require_starttls: true,
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let body = tricky_bodies().swap_remove(1);
    let spec = starttls(Trust::Pinned(der), Some(Credentials::password("joe", "pw")));
    let steps = vec![ClientStep::Send(
        envelope("<joe@example.org>", &["<b@example.net>"]),
        body.clone(),
    )];
    let run = A::run_client(peer.addr, spec, steps).expect("connect, STARTTLS, AUTH, send");
    assert!(run.tls);
    assert_eq!(run.authenticated, Some(235));
    assert!(run.deliveries[0].all_delivered);
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(got[0].meta.contains(r#""tls": true"#), "{}", got[0].meta);
    crate::common::assert_bytes_eq(&got[0].content, &canonical(&body), "content");
}

pub fn aiosmtpd_starttls_refuses_a_certificate_not_trusted<A: AdapterUnderTest>() {
    let certs = TempDir::new("certs");
    let (_, cert, key) = self_signed_cert(certs.path());
    let other = TempDir::new("other");
    let (other_der, _, _) = self_signed_cert(other.path());
    let options = AiosmtpdOptions {
        tls_cert_and_key: Some((cert, key)),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    for trust in [Trust::Pinned(other_der), Trust::WebPki] {
        let result = A::run_client(peer.addr, starttls(trust.clone(), None), Vec::new());
        assert!(
            matches!(result, Err(ClientFailure::Tls(_))),
            "{trust:?}: {result:?}"
        );
    }
    assert!(captured(&peer).is_empty());
}

pub fn aiosmtpd_accept_any_certificate_is_an_opt_in_that_works<A: AdapterUnderTest>() {
    let certs = TempDir::new("certs");
    let (_, cert, key) = self_signed_cert(certs.path());
    let options = AiosmtpdOptions {
        tls_cert_and_key: Some((cert, key)),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let steps = vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>"]),
        bytes::Bytes::from_static(b"hi\r\n"),
    )];
    let run = A::run_client(peer.addr, starttls(Trust::AcceptAny, None), steps).expect("run");
    assert!(run.tls);
    assert!(run.deliveries[0].all_delivered);
    assert_eq!(captured(&peer).len(), 1);
}

pub fn aiosmtpd_required_tls_without_starttls_sends_nothing<A: AdapterUnderTest>() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let steps = vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>"]),
        bytes::Bytes::from_static(b"hi\r\n"),
    )];
    let result = A::run_client(peer.addr, starttls(Trust::AcceptAny, None), steps);
    assert_eq!(result.err(), Some(ClientFailure::TlsUnavailable));
    assert!(captured(&peer).is_empty());
}

pub fn aiosmtpd_lmtp_delivery_reports_each_recipient<A: AdapterUnderTest>() {
    let options = AiosmtpdOptions {
        lmtp: true,
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let steps = vec![ClientStep::Send(
        envelope("<a@example.org>", &["<b@example.net>", "<c@example.net>"]),
        bytes::Bytes::from_static(b"Subject: lmtp\r\n\r\nx\r\n"),
    )];
    let run = A::run_client(peer.addr, ClientSpec::new(lmtp()), steps).expect("client run");
    let d = &run.deliveries[0];
    assert_eq!(d.recipients.len(), 2);
    for r in &d.recipients {
        assert_eq!(r.message_code, Some(250), "{}", d.debug);
    }
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    crate::common::assert_bytes_eq(&got[0].content, b"Subject: lmtp\r\n\r\nx\r\n", "content");
}

/// Messages per second on one connection, 1 KiB messages, to smtp-sink without dump files
/// (a file per message would measure the disk). Prints the number, asserts only delivery:
/// `cargo test --release -p smtp-tests --test adapters sink_throughput -- --ignored
/// --nocapture`.
pub fn sink_throughput_1kib_messages_one_connection<A: AdapterUnderTest>() {
    const MESSAGES: usize = 10_000;
    let Some(sink) = smtp_sink_no_dump(1) else {
        return;
    };
    // 1 KiB: a header, then 78-octet lines, cut to 1022 octets plus a final CRLF.
    let mut body = b"Subject: bench\r\n\r\n".to_vec();
    while body.len() < 1024 {
        body.extend_from_slice(format!("{}\r\n", "x".repeat(76)).as_bytes());
    }
    body.truncate(1022);
    body.extend_from_slice(b"\r\n");
    let body = bytes::Bytes::from(body);
    let steps = (0..MESSAGES)
        .map(|_| {
            ClientStep::Send(
                envelope("<a@example.org>", &["<b@example.net>"]),
                body.clone(),
            )
        })
        .collect();
    let start = std::time::Instant::now();
    let run = A::run_client(sink.addr, ClientSpec::new(plain()), steps).expect("client run");
    let secs = start.elapsed().as_secs_f64();
    assert!(run.deliveries.iter().all(|d| d.all_delivered));
    println!(
        "{} client -> smtp-sink, one connection, {MESSAGES} x 1 KiB: {:.0} messages/s ({:.3} ms/message)",
        A::PRODUCT,
        MESSAGES as f64 / secs,
        secs * 1000.0 / MESSAGES as f64
    );
}
