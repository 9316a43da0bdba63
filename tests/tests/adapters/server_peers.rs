//! The Maildir server receives mail from real clients no one here wrote: Python's smtplib,
//! swaks, Postfix's smtp-source and the lettre crate, over 127.0.0.1. Each stored message
//! must equal what was sent, plus our `Received:` header.

use std::time::Duration;

use crate::common::*;
use crate::harness::{run_bounded, tokio_block_on, AdapterUnderTest};

const DEADLINE: Duration = Duration::from_secs(60);

fn smtplib_script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/peers/smtplib_send.py").to_owned()
}

/// smtplib in `mode` with this password; the stored messages and the script's output.
fn run_smtplib<A: AdapterUnderTest>(
    tag: &str,
    mode: &str,
    options: Options,
    password: &str,
) -> Option<(TestServer, Vec<u8>, std::process::Output)> {
    let python = peer("python3")?;
    let server = TestServer::start::<A>(tag, options);
    let message = sample_message(tag);
    let path = server.dir.join("message.eml");
    std::fs::write(&path, &message).expect("write message");
    let port = if mode.contains("tls") && !mode.contains("starttls") {
        server
            .implicit_tls_addr
            .expect("implicit TLS listener")
            .port()
    } else {
        server.addr.port()
    };
    let mut args = vec![
        smtplib_script(),
        "localhost".to_owned(),
        port.to_string(),
        mode.to_owned(),
        path.display().to_string(),
        server.cert.pem_path.display().to_string(),
    ];
    if mode.contains("auth") {
        args.extend(["alice".to_owned(), password.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_peer(&python, &args, None, DEADLINE);
    Some((server, message, output))
}

/// Sends `sample_message(tag)` with smtplib in `mode`; checks the one stored message.
fn smtplib_case<A: AdapterUnderTest>(tag: &str, mode: &str, options: Options, with: &str) {
    let Some((server, message, output)) = run_smtplib::<A>(tag, mode, options, "s3cret pass")
    else {
        return;
    };
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stored = server.messages();
    assert_eq!(stored.len(), 1, "{}", show(&output));
    let m = &stored[0];
    assert!(
        stdout.contains(&format!("data 250 2.0.0 Ok: queued as {}", m.name)),
        "the 250 reply names the file: {stdout}"
    );
    if mode.contains("auth") {
        assert!(stdout.contains("auth 235"), "{stdout}");
    }
    assert_bytes_eq(&m.content, &message, "stored message");
    let received = check_received::<A>(&m.received, with);
    assert!(
        received.starts_with("Received: from client.example ([127.0.0.1])"),
        "{received}"
    );
    let rcpt = if mode.contains("utf8") {
        "rcpt@tëst.example"
    } else {
        "rcpt@test.example"
    };
    assert!(received.contains(&format!("for <{rcpt}>;")), "{received}");
    if with.ends_with('S') || with.ends_with("SA") {
        assert!(
            received.contains("(version=TLSv1.3 cipher=TLS13_"),
            "{received}"
        );
    }
    server.stop();
}

fn tls() -> Options {
    Options {
        tls: true,
        ..Options::default()
    }
}

fn tls_alice() -> Options {
    Options {
        tls: true,
        users: vec![("alice", "s3cret pass")],
        ..Options::default()
    }
}

pub fn smtplib_plain<A: AdapterUnderTest>() {
    smtplib_case::<A>("smtplib-plain", "plain", Options::default(), "ESMTP");
}

pub fn smtplib_starttls<A: AdapterUnderTest>() {
    smtplib_case::<A>("smtplib-starttls", "starttls", tls(), "ESMTPS");
}

pub fn smtplib_smtputf8_over_starttls<A: AdapterUnderTest>() {
    smtplib_case::<A>("smtplib-utf8", "starttls+utf8", tls(), "UTF8SMTPS");
}

pub fn smtplib_starttls_auth_plain<A: AdapterUnderTest>() {
    smtplib_case::<A>(
        "smtplib-auth-plain",
        "starttls+auth-plain",
        tls_alice(),
        "ESMTPSA",
    );
}

pub fn smtplib_starttls_auth_login<A: AdapterUnderTest>() {
    smtplib_case::<A>(
        "smtplib-auth-login",
        "starttls+auth-login",
        tls_alice(),
        "ESMTPSA",
    );
}

/// No certificate at all: the server allows AUTH in plaintext (as the example does).
pub fn smtplib_plaintext_auth_plain<A: AdapterUnderTest>() {
    let options = Options {
        users: vec![("alice", "s3cret pass")],
        ..Options::default()
    };
    smtplib_case::<A>("smtplib-plain-auth", "plain+auth-plain", options, "ESMTPA");
}

pub fn smtplib_implicit_tls<A: AdapterUnderTest>() {
    let options = Options {
        implicit_tls: true,
        ..Options::default()
    };
    smtplib_case::<A>("smtplib-implicit", "tls", options, "ESMTPS");
}

/// A wrong password: smtplib sees `535`, nothing is stored.
pub fn smtplib_wrong_password_gets_535<A: AdapterUnderTest>() {
    for mode in ["starttls+auth-plain", "starttls+auth-login"] {
        let Some((server, _, output)) =
            run_smtplib::<A>("smtplib-badauth", mode, tls_alice(), "wrong")
        else {
            return;
        };
        assert!(!output.status.success(), "{}", show(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("535"),
            "{}",
            show(&output)
        );
        assert!(server.messages().is_empty());
        server.stop();
    }
}

/// swaks turns the data into CRLF lines and dot-stuffs it; with `--pipeline` it sends
/// MAIL/RCPT/DATA as one batch (RFC 2920).
fn swaks_case<A: AdapterUnderTest>(
    tag: &str,
    extra: &[&str],
    options: Options,
    with: &str,
    rcpts: &[&str],
) {
    let Some(swaks) = peer("swaks") else { return };
    if extra.contains(&"--tls") && !swaks_tls() {
        return;
    }
    let server = TestServer::start::<A>(tag, options);
    let message = sample_message(tag);
    let path = server.dir.join("message.eml");
    std::fs::write(&path, &message).expect("write message");
    let port = server.addr.port().to_string();
    let data = format!("@{}", path.display());
    let to = rcpts.join(",");
    let mut args = vec![
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--helo",
        "client.example",
        "--from",
        "sender@client.example",
        "--to",
        &to,
        "--data",
        &data,
        "--timeout",
        "20",
    ];
    args.extend_from_slice(extra);
    let output = run_peer(&swaks, &args, None, DEADLINE);
    assert!(output.status.success(), "{}", show(&output));
    let transcript = String::from_utf8_lossy(&output.stdout);
    let stored = server.messages();
    assert_eq!(stored.len(), 1, "{transcript}");
    let m = &stored[0];
    assert!(
        transcript.contains(&format!("<~  250 2.0.0 Ok: queued as {}", m.name))
            || transcript.contains(&format!("<-  250 2.0.0 Ok: queued as {}", m.name)),
        "{transcript}"
    );
    // swaks ends the data with CRLF "." CRLF after the content's own final CRLF: one more
    // empty line on the wire (checked against a capturing listener).
    let mut sent = message.clone();
    sent.extend_from_slice(b"\r\n");
    assert_bytes_eq(&m.content, &sent, "stored message");
    let received = check_received::<A>(&m.received, with);
    if with.ends_with('S') || with.ends_with("SA") {
        assert!(
            received.contains("(version=TLSv1.3 cipher=TLS13_"),
            "{received}"
        );
    }
    if rcpts.len() == 1 {
        assert!(
            received.contains(&format!("for <{}>;", rcpts[0])),
            "{received}"
        );
    } else {
        assert!(!received.contains(" for "), "no recipient list: {received}");
    }
    server.stop();
}

pub fn swaks_starttls_auth_plain_pipelined<A: AdapterUnderTest>() {
    let options = Options {
        tls: true,
        users: vec![("bob", "pw-bob")],
        ..Options::default()
    };
    let extra = [
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "bob",
        "--auth-password",
        "pw-bob",
        "--pipeline",
    ];
    swaks_case::<A>(
        "swaks-tls-auth",
        &extra,
        options,
        "ESMTPSA",
        &["rcpt@test.example"],
    );
}

pub fn swaks_starttls_auth_login<A: AdapterUnderTest>() {
    let options = Options {
        tls: true,
        users: vec![("bob", "pw-bob")],
        ..Options::default()
    };
    let extra = [
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "bob",
        "--auth-password",
        "pw-bob",
    ];
    swaks_case::<A>(
        "swaks-login",
        &extra,
        options,
        "ESMTPSA",
        &["rcpt@test.example"],
    );
}

pub fn swaks_pipelined_several_recipients<A: AdapterUnderTest>() {
    let rcpts = ["a@test.example", "b@test.example", "c@test.example"];
    swaks_case::<A>(
        "swaks-pipe",
        &["--pipeline"],
        Options::default(),
        "ESMTP",
        &rcpts,
    );
}

/// smtp-source sends `-F` files with CRLF line ends and dot-stuffing, `-s` sessions at once.
fn smtp_source_case<A: AdapterUnderTest>(tag: &str, messages: usize, sessions: usize) {
    let Some(source) = peer("smtp-source") else {
        return;
    };
    // One socket per session on the server's side, plus files being written: with a low
    // open-file limit that cannot be raised, as many sessions (and messages) as fit.
    let fit = (fd_budget(sessions as u64 + 1024) as usize).min(sessions);
    if fit < sessions {
        eprintln!("open-file limit: {fit} sessions and messages (wanted {sessions})");
    }
    assert!(fit >= 5, "the open-file limit is too low");
    let (messages, sessions) = (messages.min(messages * fit / sessions), fit);
    let server = TestServer::start::<A>(
        tag,
        Options {
            max_connections: Some(sessions + 24),
            ..Options::default()
        },
    );
    let message = sample_message(tag);
    // The file has LF line ends; smtp-source sends each line with CRLF.
    let lf = String::from_utf8_lossy(&message).replace("\r\n", "\n");
    let path = server.dir.join("message.lf");
    std::fs::write(&path, lf).expect("write message");
    let target = format!("inet:{}", server.addr);
    let (m, s) = (messages.to_string(), sessions.to_string());
    let path = path.display().to_string();
    let args = [
        "-4",
        "-M",
        "client.example",
        "-f",
        "sender@client.example",
        "-t",
        "rcpt@test.example",
        "-F",
        &path,
        "-m",
        &m,
        "-s",
        &s,
        &target,
    ];
    let output = run_peer(&source, &args, None, Duration::from_secs(120));
    assert!(output.status.success(), "{}", show(&output));
    let stored = server.messages();
    assert_eq!(stored.len(), messages, "every message: {}", show(&output));
    // smtp-source sends each file line with CRLF, then CRLF "." CRLF: one more empty line.
    let mut sent = message.clone();
    sent.extend_from_slice(b"\r\n");
    for m in &stored {
        assert_bytes_eq(&m.content, &sent, &m.name);
        check_received::<A>(&m.received, "SMTP"); // smtp-source greets with HELO
    }
    server.stop();
}

pub fn smtp_source_sequential_and_parallel<A: AdapterUnderTest>() {
    smtp_source_case::<A>("source-small", 50, 5);
}

pub fn smtp_source_thousand_sessions<A: AdapterUnderTest>() {
    smtp_source_case::<A>("source-1000", 1000, 1000);
}

/// lettre (rustls on ring, on its own tokio runtime) with STARTTLS or implicit TLS,
/// trusting our certificate.
fn lettre_case<A: AdapterUnderTest>(
    tag: &str,
    implicit: bool,
    auth: Option<lettre::transport::smtp::authentication::Mechanism>,
    with: &str,
) {
    use lettre::address::Envelope;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

    let users = if auth.is_some() {
        vec![("carol", "pw carol")]
    } else {
        Vec::new()
    };
    let server = TestServer::start::<A>(
        tag,
        Options {
            tls: true,
            implicit_tls: implicit,
            users,
            ..Options::default()
        },
    );
    let pem = std::fs::read(&server.cert.pem_path).expect("cert pem");
    let port = if implicit {
        server
            .implicit_tls_addr
            .expect("implicit TLS listener")
            .port()
    } else {
        server.addr.port()
    };
    let message = sample_message(tag);
    let sent = message.clone();
    let response = run_bounded("lettre", DEADLINE, move || {
        tokio_block_on(async move {
            let tls = TlsParameters::builder("localhost".to_owned())
                .add_root_certificate(Certificate::from_pem(&pem).expect("certificate"))
                .build_rustls()
                .expect("tls parameters");
            let mut transport =
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
                    .port(port)
                    .hello_name(ClientId::Domain("client.example".to_owned()))
                    .timeout(Some(Duration::from_secs(20)))
                    .tls(if implicit {
                        Tls::Wrapper(tls)
                    } else {
                        Tls::Required(tls)
                    });
            if let Some(mechanism) = auth {
                transport = transport
                    .credentials(Credentials::new("carol".to_owned(), "pw carol".to_owned()))
                    .authentication(vec![mechanism]);
            }
            let envelope = Envelope::new(
                Some("sender@client.example".parse().expect("address")),
                vec!["rcpt@test.example".parse().expect("address")],
            )
            .expect("envelope");
            transport
                .build()
                .send_raw(&envelope, &sent)
                .await
                .expect("lettre delivers")
        })
    });
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert!(response.code().is_positive(), "{response:?}");
    assert!(
        response.message().any(|l| l.contains(&m.name)),
        "{response:?}"
    );
    // lettre ends the data with CRLF "." CRLF after the content, like swaks.
    let mut want = message;
    want.extend_from_slice(b"\r\n");
    assert_bytes_eq(&m.content, &want, "stored message");
    let received = check_received::<A>(&m.received, with);
    assert!(
        received.contains("(version=TLSv1.3 cipher=TLS13_"),
        "{received}"
    );
    server.stop();
}

pub fn lettre_starttls<A: AdapterUnderTest>() {
    lettre_case::<A>("lettre-starttls", false, None, "ESMTPS");
}

pub fn lettre_starttls_auth_plain<A: AdapterUnderTest>() {
    use lettre::transport::smtp::authentication::Mechanism;
    lettre_case::<A>(
        "lettre-auth-plain",
        false,
        Some(Mechanism::Plain),
        "ESMTPSA",
    );
}

pub fn lettre_implicit_tls_auth_login<A: AdapterUnderTest>() {
    use lettre::transport::smtp::authentication::Mechanism;
    lettre_case::<A>("lettre-implicit", true, Some(Mechanism::Login), "ESMTPSA");
}
