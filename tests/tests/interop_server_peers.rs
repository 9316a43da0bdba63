//! The example Maildir server receives mail from real clients no one here wrote: Python's
//! smtplib, swaks, Postfix's smtp-source and the lettre crate, over 127.0.0.1. Each stored
//! message must equal what was sent, plus our `Received:` header.

mod server_harness;

use std::time::Duration;

use server_harness::*;

const DEADLINE: Duration = Duration::from_secs(60);

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/server_harness/smtplib_send.py")
}

/// Sends `sample_message(tag)` with smtplib in `mode`; checks the one stored message.
async fn smtplib_case(tag: &str, mode: &str, options: Options, with: &str) {
    let Some(python) = peer("python3") else {
        return;
    };
    let server = TestServer::start(tag, options).await;
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
    let port = port.to_string();
    let mut args = vec![
        script().to_str().expect("utf-8 path").to_owned(),
        "localhost".to_owned(),
        port,
        mode.to_owned(),
        path.to_str().expect("utf-8 path").to_owned(),
        server
            .cert
            .pem_path
            .to_str()
            .expect("utf-8 path")
            .to_owned(),
    ];
    if mode.contains("auth") {
        args.extend(["alice".to_owned(), "s3cret pass".to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_peer(&python, &args, None, DEADLINE).await;
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
    assert_eq!(
        String::from_utf8_lossy(&m.content),
        String::from_utf8_lossy(&message)
    );
    let received = check_received(&m.received, with);
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
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_smtputf8_over_starttls() {
    let options = Options {
        tls: true,
        ..Options::default()
    };
    smtplib_case("smtplib-utf8", "starttls+utf8", options, "UTF8SMTPS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_plain() {
    smtplib_case("smtplib-plain", "plain", Options::default(), "ESMTP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_starttls() {
    let options = Options {
        tls: true,
        ..Options::default()
    };
    smtplib_case("smtplib-starttls", "starttls", options, "ESMTPS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_starttls_auth_plain() {
    let options = Options {
        tls: true,
        users: vec![("alice", "s3cret pass")],
        ..Options::default()
    };
    smtplib_case(
        "smtplib-auth-plain",
        "starttls+auth-plain",
        options,
        "ESMTPSA",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_starttls_auth_login() {
    let options = Options {
        tls: true,
        users: vec![("alice", "s3cret pass")],
        ..Options::default()
    };
    smtplib_case(
        "smtplib-auth-login",
        "starttls+auth-login",
        options,
        "ESMTPSA",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_plaintext_auth_plain() {
    // No certificate at all: the server allows AUTH in plaintext (as the example does).
    let options = Options {
        users: vec![("alice", "s3cret pass")],
        ..Options::default()
    };
    smtplib_case("smtplib-plain-auth", "plain+auth-plain", options, "ESMTPA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_implicit_tls() {
    let options = Options {
        implicit_tls: true,
        ..Options::default()
    };
    smtplib_case("smtplib-implicit", "tls", options, "ESMTPS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_wrong_password_stores_nothing() {
    let Some(python) = peer("python3") else {
        return;
    };
    let options = Options {
        tls: true,
        users: vec![("alice", "right")],
        ..Options::default()
    };
    let server = TestServer::start("smtplib-badauth", options).await;
    let path = server.dir.join("message.eml");
    std::fs::write(&path, sample_message("bad")).expect("write message");
    let port = server.addr.port().to_string();
    let args = [
        script().to_str().expect("utf-8 path").to_owned(),
        "localhost".to_owned(),
        port,
        "starttls+auth-plain".to_owned(),
        path.to_str().expect("utf-8 path").to_owned(),
        server
            .cert
            .pem_path
            .to_str()
            .expect("utf-8 path")
            .to_owned(),
        "alice".to_owned(),
        "wrong".to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_peer(&python, &args, None, DEADLINE).await;
    assert!(!output.status.success(), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("535"),
        "{}",
        show(&output)
    );
    assert!(server.messages().is_empty());
    server.stop().await;
}

/// swaks turns the data into CRLF lines and dot-stuffs it; with `--pipeline` it sends
/// MAIL/RCPT/DATA as one batch (RFC 2920).
async fn swaks_case(tag: &str, extra: &[&str], options: Options, with: &str, rcpts: &[&str]) {
    let Some(swaks) = peer("swaks") else { return };
    if extra.contains(&"--tls") && !swaks_tls() {
        return;
    }
    let server = TestServer::start(tag, options).await;
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
    let output = run_peer(&swaks, &args, None, DEADLINE).await;
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
    // swaks ends the data with CRLF "." CRLF after the content's own final CRLF, so the
    // body on the wire (and in the Maildir) has one more empty line (checked against a
    // capturing listener).
    let mut sent = message.clone();
    sent.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(&m.content),
        String::from_utf8_lossy(&sent)
    );
    let received = check_received(&m.received, with);
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
        assert!(
            !received.contains(" for "),
            "no recipient list for several: {received}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_starttls_auth_pipelined() {
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
    swaks_case(
        "swaks-tls-auth",
        &extra,
        options,
        "ESMTPSA",
        &["rcpt@test.example"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_auth_login_starttls() {
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
    swaks_case(
        "swaks-login",
        &extra,
        options,
        "ESMTPSA",
        &["rcpt@test.example"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_pipelined_several_recipients() {
    let rcpts = ["a@test.example", "b@test.example", "c@test.example"];
    swaks_case(
        "swaks-pipe",
        &["--pipeline"],
        Options::default(),
        "ESMTP",
        &rcpts,
    )
    .await;
}

/// smtp-source sends `-F` files with CRLF line ends and dot-stuffing, `-s` sessions at once.
async fn smtp_source_case(tag: &str, messages: usize, sessions: usize) {
    let Some(source) = peer("smtp-source") else {
        return;
    };
    let server = TestServer::start(
        tag,
        Options {
            max_connections: Some(2048),
            ..Options::default()
        },
    )
    .await;
    let message = sample_message(tag);
    // The file has LF line ends; smtp-source sends each line with CRLF.
    let lf = String::from_utf8_lossy(&message).replace("\r\n", "\n");
    let path = server.dir.join("message.lf");
    std::fs::write(&path, lf).expect("write message");
    let target = format!("inet:{}", server.addr);
    let (m, s) = (messages.to_string(), sessions.to_string());
    let args = [
        "-4",
        "-M",
        "client.example",
        "-f",
        "sender@client.example",
        "-t",
        "rcpt@test.example",
        "-F",
        path.to_str().expect("utf-8 path"),
        "-m",
        &m,
        "-s",
        &s,
        &target,
    ];
    let output = run_peer(&source, &args, None, Duration::from_secs(120)).await;
    assert!(output.status.success(), "{}", show(&output));
    let stored = server.messages();
    assert_eq!(
        stored.len(),
        messages,
        "every message delivered: {}",
        show(&output)
    );
    // smtp-source sends each file line with CRLF, then CRLF "." CRLF: one more empty line.
    let mut sent = message.clone();
    sent.extend_from_slice(b"\r\n");
    for m in &stored {
        assert_eq!(
            String::from_utf8_lossy(&m.content),
            String::from_utf8_lossy(&sent),
            "{}",
            m.name
        );
        check_received(&m.received, "SMTP"); // smtp-source greets with HELO
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_source_sequential_and_parallel() {
    smtp_source_case("source-small", 50, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_source_thousand_concurrent_sessions() {
    smtp_source_case("source-1000", 1000, 1000).await;
}

/// lettre (rustls on ring) with STARTTLS or implicit TLS, trusting our certificate.
async fn lettre_case(
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
    let options = Options {
        tls: true,
        implicit_tls: implicit,
        users,
        ..Options::default()
    };
    let server = TestServer::start(tag, options).await;
    let pem = std::fs::read(&server.cert.pem_path).expect("cert pem");
    let tls = TlsParameters::builder("localhost".to_owned())
        .add_root_certificate(Certificate::from_pem(&pem).expect("certificate"))
        .build_rustls()
        .expect("tls parameters");
    let port = if implicit {
        server
            .implicit_tls_addr
            .expect("implicit TLS listener")
            .port()
    } else {
        server.addr.port()
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
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
    let transport = transport.build();
    let envelope = Envelope::new(
        Some("sender@client.example".parse().expect("address")),
        vec!["rcpt@test.example".parse().expect("address")],
    )
    .expect("envelope");
    let message = sample_message(tag);
    let response = transport
        .send_raw(&envelope, &message)
        .await
        .expect("lettre delivers");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert!(response.code().is_positive(), "{response:?}");
    assert!(
        response.message().any(|l| l.contains(&m.name)),
        "{response:?}"
    );
    // lettre ends the data with CRLF "." CRLF after the content, like swaks.
    let mut sent = message.clone();
    sent.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(&m.content),
        String::from_utf8_lossy(&sent)
    );
    let received = check_received(&m.received, with);
    assert!(
        received.contains("(version=TLSv1.3 cipher=TLS13_"),
        "{received}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_starttls() {
    lettre_case("lettre-starttls", false, None, "ESMTPS").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_starttls_auth_plain() {
    use lettre::transport::smtp::authentication::Mechanism;
    lettre_case(
        "lettre-auth-plain",
        false,
        Some(Mechanism::Plain),
        "ESMTPSA",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_implicit_tls_auth_login() {
    use lettre::transport::smtp::authentication::Mechanism;
    lettre_case("lettre-implicit", true, Some(Mechanism::Login), "ESMTPSA").await;
}
