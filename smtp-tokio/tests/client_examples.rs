//! End to end: the `send` and `relay` example binaries (as the README runs them) against
//! Python's aiosmtpd on 127.0.0.1.
//!
//! aiosmtpd is scripted (tests/peers/aiosmtpd_capture.py) to refuse recipients whose local
//! part starts with `reject` (550) or `defer` (450), so the relay's mapping of upstream
//! verdicts back to the sender is visible.

#[path = "../../tests/tests/interop_client_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smtp_proto::client::{ClientConfig as SessionConfig, OutcomeClass, Protocol, TlsPolicy};
use smtp_tokio::client::{Client, ClientConfig};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BOUND: Duration = Duration::from_secs(60);

/// `cargo test -p smtp-tokio` builds the examples next to the test binaries.
fn example_binary(name: &str) -> PathBuf {
    // `send` shares its name with smtp-async-std's example: find ours by its --version.
    if name == "send" {
        let version = smtp_driver::examples::version::<smtp_tokio::Tokio>(name);
        return smtp_driver::examples::built_example(name, &version).unwrap_or_else(|| {
            panic!("no {name} example answering {version:?}: run `cargo test -p smtp-tokio`")
        });
    }
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/..");
    let binary = profile_dir.join("examples").join(name);
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test -p smtp-tokio` (it builds examples)",
        binary.display()
    );
    binary
}

#[tokio::test]
async fn send_example_delivers_a_file_and_reports_each_recipient() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let dir = TempDir::new("send-example");
    let file = dir.path().join("message.eml");
    let body = b"Subject: from send\n\n.leading dot\n..two\nlast line".to_vec();
    std::fs::write(&file, &body).expect("write message");
    let output = tokio::time::timeout(
        BOUND,
        Command::new(example_binary("send"))
            .args(["--server", &peer.addr.to_string()])
            .args(["--from", "alice@example.org"])
            .args(["--to", "bob@example.net", "--to", "reject-me@example.net"])
            .arg(&file)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("send finishes")
    .expect("run send");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // One recipient refused: exit status 1, and each recipient's line says what happened.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("bob@example.net: delivered: 250"),
        "{stdout}"
    );
    assert!(
        stdout.contains("reject-me@example.net: failed: 550 5.1.1"),
        "{stdout}"
    );
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].content == canonical(&body),
        "{:?}",
        String::from_utf8_lossy(&got[0].content)
    );
    assert!(
        got[0].meta.contains(r#""rcpt_tos": ["bob@example.net"]"#),
        "{}",
        got[0].meta
    );
}

#[tokio::test]
async fn send_example_reads_standard_input() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let mut child = Command::new(example_binary("send"))
        .args(["--server", &peer.addr.to_string()])
        .args(["--from", "<>", "--to", "bob@example.net", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn send");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"Subject: bounce\r\n\r\nstdin body\r\n")
            .await
            .expect("write stdin");
    }
    let output = tokio::time::timeout(BOUND, child.wait_with_output())
        .await
        .expect("send finishes")
        .expect("wait");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].content, b"Subject: bounce\r\n\r\nstdin body\r\n");
    assert!(
        got[0].meta.contains(r#""mail_from": "<>""#),
        "{}",
        got[0].meta
    );
}

/// The relay example, started on an ephemeral port; killed on drop.
struct Relay {
    child: Child,
    addr: String,
}

async fn start_relay(upstream: &str, extra: &[&str]) -> Relay {
    let mut child = Command::new(example_binary("relay"))
        .args(["--listen", "127.0.0.1:0", "--upstream", upstream])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn relay");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let line = tokio::time::timeout(BOUND, lines.next_line())
            .await
            .expect("the relay logs its address")
            .expect("stderr")
            .unwrap_or_else(|| panic!("relay exited early:\n{}", seen.join("\n")));
        if let Some(addr) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
        {
            break addr.to_owned();
        }
        seen.push(line);
    };
    // Keep draining its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Relay { child, addr }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn plain(protocol: Protocol) -> ClientConfig {
    let session = SessionConfig {
        tls: TlsPolicy::None,
        protocol,
        ..SessionConfig::default()
    };
    ClientConfig::new(Arc::new(session))
}

#[tokio::test]
async fn relay_forwards_and_answers_with_the_upstream_verdict() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let relay = start_relay(&peer.addr.to_string(), &[]).await;
    let bodies = tricky_bodies();
    tokio::time::timeout(BOUND, async {
        let mut client = Client::connect(&relay.addr, &plain(Protocol::Smtp))
            .await
            .expect("connect to the relay");
        // Two messages on one connection: the relay reuses its upstream connection.
        for body in &bodies[..2] {
            let d = client
                .send(
                    envelope("<a@example.org>", &["<b@example.net>", "<c@example.net>"]),
                    body.clone(),
                )
                .await
                .expect("send");
            assert!(d.all_delivered(), "{d:?}");
            let text =
                String::from_utf8_lossy(d.message.as_ref().expect("final").reply.first_line())
                    .into_owned();
            // The upstream's own reply, passed through.
            assert!(text.contains("queued as"), "{text}");
        }
        // Every recipient refused upstream: the sender gets the refusal at the end of data
        // (transient wins, so the sender keeps the message and retries).
        let d = client
            .send(
                envelope(
                    "<a@example.org>",
                    &["<reject-1@example.net>", "<defer-1@example.net>"],
                ),
                Bytes::from_static(b"Subject: refused\r\n\r\nx\r\n"),
            )
            .await
            .expect("send");
        let m = d
            .message
            .as_ref()
            .expect("the relay answered the end of data");
        assert_eq!(m.reply.code().as_u16(), 450, "{d:?}");
        assert_eq!(m.class, OutcomeClass::Transient);
        client.quit().await.expect("quit");
    })
    .await
    .expect("bounded");
    let got = captured(&peer);
    assert_eq!(got.len(), 2);
    for (g, body) in got.iter().zip(&bodies[..2]) {
        assert!(g.content == canonical(body));
        assert!(
            g.meta
                .contains(r#""rcpt_tos": ["b@example.net", "c@example.net"]"#),
            "{}",
            g.meta
        );
    }
    drop(relay);
}

#[tokio::test]
async fn relay_in_lmtp_maps_each_recipient_to_its_upstream_verdict() {
    let Some(peer) = aiosmtpd(&AiosmtpdOptions::default()) else {
        return;
    };
    let relay = start_relay(&peer.addr.to_string(), &["--lmtp"]).await;
    tokio::time::timeout(BOUND, async {
        let mut client = Client::connect(&relay.addr, &plain(Protocol::Lmtp))
            .await
            .expect("connect to the relay");
        let d = client
            .send(
                envelope(
                    "<a@example.org>",
                    &[
                        "<ok@example.net>",
                        "<reject-x@example.net>",
                        "<defer-y@example.net>",
                    ],
                ),
                Bytes::from_static(b"Subject: lmtp relay\r\n\r\nbody\r\n"),
            )
            .await
            .expect("send");
        let codes: Vec<Option<u16>> = d
            .recipients
            .iter()
            .map(|r| r.reply().map(|reply| reply.code().as_u16()))
            .collect();
        assert_eq!(codes, [Some(250), Some(550), Some(450)], "{d:?}");
        let classes: Vec<OutcomeClass> = d.recipients.iter().map(|r| r.class()).collect();
        assert_eq!(
            classes,
            [
                OutcomeClass::Success,
                OutcomeClass::Permanent,
                OutcomeClass::Transient
            ]
        );
        client.quit().await.expect("quit");
    })
    .await
    .expect("bounded");
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].meta.contains(r#""rcpt_tos": ["ok@example.net"]"#),
        "{}",
        got[0].meta
    );
    drop(relay);
}

#[tokio::test]
async fn relay_with_its_upstream_down_asks_the_sender_to_retry() {
    // A port with nothing listening: bind, note the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let relay = start_relay(&dead.to_string(), &[]).await;
    tokio::time::timeout(BOUND, async {
        let mut client = Client::connect(&relay.addr, &plain(Protocol::Smtp))
            .await
            .expect("connect to the relay");
        let d = client
            .send(
                envelope("<a@example.org>", &["<b@example.net>"]),
                Bytes::from_static(b"x\r\n"),
            )
            .await
            .expect("send");
        let m = d.message.as_ref().expect("an answer at the end of data");
        assert_eq!(m.reply.code().as_u16(), 451, "{d:?}");
        assert_eq!(d.recipients[0].class(), OutcomeClass::Transient);
        client.quit().await.expect("quit");
    })
    .await
    .expect("bounded");
    drop(relay);
}

#[tokio::test]
async fn relay_forwards_over_starttls_with_auth_to_a_pinned_upstream() {
    let certs = TempDir::new("relay-certs");
    let (_, cert, key) = self_signed_cert(certs.path());
    let options = AiosmtpdOptions {
        auth: Some(("relay".into(), "pw".into())),
        tls_cert_and_key: Some((cert.clone(), key)),
        require_starttls: true,
        ..AiosmtpdOptions::default()
    };
    let Some(peer) = aiosmtpd(&options) else {
        return;
    };
    let cert = cert.to_str().expect("utf-8 path").to_owned();
    let relay = start_relay(
        &peer.addr.to_string(),
        &[
            "--upstream-starttls",
            "--upstream-pin-cert",
            &cert,
            "--upstream-auth",
            "relay:pw",
        ],
    )
    .await;
    let body = Bytes::from_static(b"Subject: via TLS\r\n\r\n.secret\r\n");
    tokio::time::timeout(BOUND, async {
        let mut client = Client::connect(&relay.addr, &plain(Protocol::Smtp))
            .await
            .expect("connect to the relay");
        let d = client
            .send(
                envelope("<a@example.org>", &["<b@example.net>"]),
                body.clone(),
            )
            .await
            .expect("send");
        assert!(d.all_delivered(), "{d:?}");
        client.quit().await.expect("quit");
    })
    .await
    .expect("bounded");
    let got = captured(&peer);
    assert_eq!(got.len(), 1);
    assert!(got[0].meta.contains(r#""tls": true"#), "{}", got[0].meta);
    assert!(
        got[0].meta.contains(r#""auth": "relay""#),
        "{}",
        got[0].meta
    );
    assert!(got[0].content == canonical(&body));
    drop(relay);
}
