//! The smtp-tokio client delivers to Python's `aiosmtpd` over 127.0.0.1: content byte-exact
//! (aiosmtpd hands over the dot-unstuffed bytes as received), AUTH PLAIN/LOGIN, STARTTLS with
//! a self-signed certificate (pinned), LMTP, and the failures that must not deliver.

#[path = "interop_client_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smtp_proto::client::{
    ClientConfig as SessionConfig, ClientError, Credentials, Protocol, TlsPolicy,
};
use smtp_tokio::client::{Client, ClientConfig, Error, ServerCertificate};
use support::*;

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took longer than its bound")
}

#[tokio::test]
async fn messages_arrive_byte_exact_with_their_envelopes() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let bodies = tricky_bodies();
    bounded(async {
        let mut client = Client::connect(&peer.addr.to_string(), &plain_config())
            .await
            .expect("connect");
        for body in &bodies {
            let d = client
                .send(
                    envelope(
                        "<alice@example.org>",
                        &["<bob@example.net>", "<carol@example.net>"],
                    ),
                    body.clone(),
                )
                .await
                .expect("send");
            assert!(d.all_delivered(), "{d:?}");
        }
        client.quit().await.expect("quit");
    })
    .await;
    let got = captured(&peer);
    assert_eq!(got.len(), bodies.len());
    for (g, body) in got.iter().zip(&bodies) {
        let want = canonical(body);
        assert!(
            g.content == want,
            "content differs:\n got {:?}\nwant {:?}",
            String::from_utf8_lossy(&g.content),
            String::from_utf8_lossy(&want)
        );
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

#[tokio::test]
async fn streamed_body_arrives_byte_exact() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let body = tricky_bodies().pop().expect("the big body");
    bounded(async {
        let mut client = Client::connect(&peer.addr.to_string(), &plain_config())
            .await
            .expect("connect");
        // A reader that hands out at most 777 bytes per read, so chunk boundaries fall
        // inside lines, CRLFs and leading dots.
        let mut reader = SmallReads(&body[..]);
        let d = client
            .send_reader(
                envelope("<a@example.org>", &["<b@example.net>"]),
                &mut reader,
            )
            .await
            .expect("send");
        assert!(d.all_delivered(), "{d:?}");
        client.quit().await.expect("quit");
    })
    .await;
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].content == canonical(&body),
        "streamed content differs"
    );
}

struct SmallReads<'a>(&'a [u8]);

impl tokio::io::AsyncRead for SmallReads<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.0.len().min(777).min(buf.remaining());
        buf.put_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn auth_then_delivery() {
    let options = AiosmtpdOptions {
        auth: Some(("joe".into(), "s3cret pass".into())),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    bounded(async {
        let mut client = Client::connect(
            &peer.addr.to_string(),
            &plain_auth_config("joe", "s3cret pass"),
        )
        .await
        .expect("connect and authenticate");
        assert_eq!(client.authenticated().map(|r| r.code().as_u16()), Some(235));
        let d = client
            .send(
                envelope("<joe@example.org>", &["<b@example.net>"]),
                Bytes::from_static(b"Subject: auth\r\n\r\nok\r\n"),
            )
            .await
            .expect("send");
        assert!(d.all_delivered(), "{d:?}");
        client.quit().await.expect("quit");
    })
    .await;
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(got[0].meta.contains(r#""auth": "joe""#), "{}", got[0].meta);
}

#[tokio::test]
async fn wrong_password_ends_the_session_with_auth_failed() {
    let options = AiosmtpdOptions {
        auth: Some(("joe".into(), "right".into())),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let result = bounded(Client::connect(
        &peer.addr.to_string(),
        &plain_auth_config("joe", "wrong"),
    ))
    .await;
    match result {
        Err(Error::Session(ClientError::AuthFailed(reply))) => {
            assert_eq!(reply.code().as_u16(), 535)
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    assert!(captured(&peer).is_empty());
}

fn starttls_config(trust: ServerCertificate, credentials: Option<Credentials>) -> ClientConfig {
    let session = SessionConfig {
        tls: TlsPolicy::Required,
        credentials,
        ..SessionConfig::default()
    };
    ClientConfig::new(Arc::new(session))
        .with_server_certificate(trust)
        .with_tls_server_name("localhost")
}

#[tokio::test]
async fn starttls_with_a_pinned_self_signed_certificate_then_auth() {
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
    bounded(async {
        let config = starttls_config(
            ServerCertificate::Pinned(der),
            Some(Credentials::password("joe", "pw")),
        );
        let mut client = Client::connect(&peer.addr.to_string(), &config)
            .await
            .expect("connect, STARTTLS, AUTH");
        assert!(client.is_tls());
        // After TLS the capabilities are the second EHLO's: no STARTTLS any more.
        assert!(client.authenticated().is_some());
        let d = client
            .send(
                envelope("<joe@example.org>", &["<b@example.net>"]),
                body.clone(),
            )
            .await
            .expect("send");
        assert!(d.all_delivered(), "{d:?}");
        client.quit().await.expect("quit");
    })
    .await;
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(got[0].meta.contains(r#""tls": true"#), "{}", got[0].meta);
    assert!(got[0].content == canonical(&body));
}

#[tokio::test]
async fn starttls_refuses_a_certificate_that_is_not_the_pinned_one() {
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
    let result = bounded(Client::connect(
        &peer.addr.to_string(),
        &starttls_config(ServerCertificate::Pinned(other_der), None),
    ))
    .await;
    assert!(matches!(result, Err(Error::Tls(_))), "{result:?}");
    // The default trust (Mozilla's roots) refuses a self-signed certificate too.
    let result = bounded(Client::connect(
        &peer.addr.to_string(),
        &starttls_config(ServerCertificate::WebPkiRoots, None),
    ))
    .await;
    assert!(matches!(result, Err(Error::Tls(_))), "{result:?}");
    assert!(captured(&peer).is_empty());
}

#[tokio::test]
async fn accept_any_certificate_is_an_explicit_opt_in_that_works() {
    let certs = TempDir::new("certs");
    let (_, cert, key) = self_signed_cert(certs.path());
    let options = AiosmtpdOptions {
        tls_cert_and_key: Some((cert, key)),
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    bounded(async {
        let config = starttls_config(ServerCertificate::DangerousAcceptAnyCertificate, None);
        let mut client = Client::connect(&peer.addr.to_string(), &config)
            .await
            .expect("connect");
        assert!(client.is_tls());
        let d = client
            .send(
                envelope("<a@example.org>", &["<b@example.net>"]),
                Bytes::from_static(b"hi\r\n"),
            )
            .await
            .expect("send");
        assert!(d.all_delivered());
        client.quit().await.expect("quit");
    })
    .await;
    assert_eq!(captured(&peer).len(), 1);
}

#[tokio::test]
async fn required_tls_without_starttls_offered_sends_nothing() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let result = bounded(Client::connect(
        &peer.addr.to_string(),
        &starttls_config(ServerCertificate::DangerousAcceptAnyCertificate, None),
    ))
    .await;
    assert!(
        matches!(result, Err(Error::Session(ClientError::TlsUnavailable))),
        "{result:?}"
    );
    assert!(captured(&peer).is_empty());
}

#[tokio::test]
async fn lmtp_delivery_reports_each_recipient() {
    let options = AiosmtpdOptions {
        lmtp: true,
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    bounded(async {
        let session = SessionConfig {
            tls: TlsPolicy::None,
            protocol: Protocol::Lmtp,
            ..SessionConfig::default()
        };
        let mut client = Client::connect(
            &peer.addr.to_string(),
            &ClientConfig::new(Arc::new(session)),
        )
        .await
        .expect("connect");
        let d = client
            .send(
                envelope("<a@example.org>", &["<b@example.net>", "<c@example.net>"]),
                Bytes::from_static(b"Subject: lmtp\r\n\r\nx\r\n"),
            )
            .await
            .expect("send");
        for r in &d.recipients {
            assert_eq!(
                r.message.as_ref().map(|m| m.reply.code().as_u16()),
                Some(250),
                "{d:?}"
            );
        }
        client.quit().await.expect("quit");
    })
    .await;
    assert_eq!(captured(&peer).len(), 1);
}
