//! `send`: deliver one message with the smtp-tokio client and print each recipient's result.
//!
//! ```text
//! cargo run -p smtp-tokio --example send -- --server 127.0.0.1:2525 \
//!     --from alice@example.org --to bob@example.net [--to carol@example.net] \
//!     [--starttls | --tls] [--auth USER:PASSWORD] [--plaintext-auth] \
//!     [--pin-cert PEM | --insecure-accept-any-cert] [--lmtp] [--ehlo NAME] [FILE | -]
//! ```
//!
//! The message is read from FILE, or from standard input when FILE is `-` or missing, and
//! streamed to the server (it is not loaded whole). Line endings are normalised to CRLF and
//! the body is dot-stuffed by the session.
//!
//! Without `--starttls`/`--tls` the connection stays in plaintext. `--starttls` requires
//! STARTTLS (no plaintext fallback); `--tls` speaks TLS from the first byte (port 465 style).
//! The server certificate is checked against Mozilla's roots unless `--pin-cert` (accept
//! exactly that certificate) or `--insecure-accept-any-cert` (accept anything: tests only).
//! AUTH over plaintext needs `--plaintext-auth`.
//!
//! Exit status: 0 when every recipient was delivered, 1 when some were not, 2 on an error.

use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use smtp_proto::client::{
    CleartextPolicy, ClientConfig as SessionConfig, Credentials, Envelope, OutcomeClass, Protocol,
    TlsPolicy,
};
use smtp_proto::{ForwardPath, Host, ParseOptions, PathSyntax, Reply, ReversePath};
use smtp_tokio::client::{Client, ClientConfig, ServerCertificate, TlsMode};

const USAGE: &str = "usage: send --server HOST:PORT --from ADDR --to ADDR [--to ADDR]... \
[--starttls|--tls] [--auth USER:PASSWORD] [--plaintext-auth] \
[--pin-cert PEM|--insecure-accept-any-cert] [--lmtp] [--ehlo NAME] [FILE|-]";

#[derive(Debug, Default)]
struct Args {
    server: Option<String>,
    from: Option<String>,
    to: Vec<String>,
    starttls: bool,
    implicit_tls: bool,
    auth: Option<(String, String)>,
    plaintext_auth: bool,
    pin_cert: Option<String>,
    accept_any_cert: bool,
    lmtp: bool,
    ehlo: Option<String>,
    file: Option<String>,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--server" => a.server = Some(value("--server")?),
            "--from" => a.from = Some(value("--from")?),
            "--to" => a.to.push(value("--to")?),
            "--starttls" => a.starttls = true,
            "--tls" => a.implicit_tls = true,
            "--auth" => {
                let v = value("--auth")?;
                let (user, password) = v.split_once(':').ok_or("--auth wants USER:PASSWORD")?;
                a.auth = Some((user.to_owned(), password.to_owned()));
            }
            "--plaintext-auth" => a.plaintext_auth = true,
            "--pin-cert" => a.pin_cert = Some(value("--pin-cert")?),
            "--insecure-accept-any-cert" => a.accept_any_cert = true,
            "--lmtp" => a.lmtp = true,
            "--ehlo" => a.ehlo = Some(value("--ehlo")?),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ if a.file.is_none() => a.file = Some(arg),
            _ => return Err("only one FILE".into()),
        }
    }
    if a.server.is_none() || a.from.is_none() || a.to.is_empty() {
        return Err("--server, --from and at least one --to are required".into());
    }
    if a.starttls && a.implicit_tls {
        return Err("--starttls and --tls exclude each other".into());
    }
    Ok(a)
}

/// `user@example.org` or `<user@example.org>`; `<>` or an empty string is the null sender.
fn path_options() -> ParseOptions {
    ParseOptions {
        path_syntax: PathSyntax::Lenient,
        ..ParseOptions::default()
    }
}

fn reverse_path(s: &str) -> Result<ReversePath, String> {
    let s = if s.is_empty() { "<>" } else { s };
    ReversePath::parse(&Bytes::copy_from_slice(s.as_bytes()), &path_options())
        .map_err(|e| format!("bad --from {s:?}: {e}"))
}

fn forward_path(s: &str) -> Result<ForwardPath, String> {
    ForwardPath::parse(&Bytes::copy_from_slice(s.as_bytes()), &path_options())
        .map_err(|e| format!("bad --to {s:?}: {e}"))
}

fn show(reply: &Reply) -> String {
    let mut s = reply.code().to_string();
    if let Some(e) = reply.enhanced() {
        s.push_str(&format!(" {e}"));
    }
    let text: Vec<String> = reply
        .lines()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    if !text.is_empty() {
        s.push(' ');
        s.push_str(&text.join(" / "));
    }
    s
}

fn load_pem_cert(path: &str) -> Result<rustls::pki_types::CertificateDer<'static>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .map_err(|e| format!("--pin-cert {path}: {e}"))
}

async fn run(a: Args) -> Result<bool, String> {
    let mut session = SessionConfig::default();
    if let Some(name) = &a.ehlo {
        session.hello_name = Host::parse(&Bytes::copy_from_slice(name.as_bytes()), &path_options())
            .map_err(|e| format!("bad --ehlo {name:?}: {e}"))?;
    }
    session.protocol = if a.lmtp {
        Protocol::Lmtp
    } else {
        Protocol::Smtp
    };
    session.tls = if a.starttls {
        TlsPolicy::Required
    } else {
        // With --tls the connection is already encrypted; STARTTLS does not apply.
        TlsPolicy::None
    };
    if let Some((user, password)) = &a.auth {
        session.credentials = Some(Credentials::password(user.as_str(), password.as_str()));
    }
    if a.plaintext_auth {
        session.cleartext_auth = CleartextPolicy::Allow;
    }
    let trust = match (&a.pin_cert, a.accept_any_cert) {
        (Some(path), _) => ServerCertificate::Pinned(load_pem_cert(path)?),
        (None, true) => ServerCertificate::DangerousAcceptAnyCertificate,
        (None, false) => ServerCertificate::WebPkiRoots,
    };
    let config = ClientConfig::new(Arc::new(session))
        .with_tls_mode(if a.implicit_tls {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        })
        .with_server_certificate(trust);

    let mut envelope = Envelope::new(reverse_path(a.from.as_deref().unwrap_or_default())?);
    for to in &a.to {
        envelope = envelope.to(forward_path(to)?);
    }

    let server = a.server.as_deref().unwrap_or_default();
    let mut client = Client::connect(server, &config)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let delivery = match a.file.as_deref() {
        None | Some("-") => {
            let mut stdin = tokio::io::stdin();
            client.send_reader(envelope, &mut stdin).await
        }
        Some(path) => {
            let mut file = tokio::fs::File::open(path)
                .await
                .map_err(|e| format!("{path}: {e}"))?;
            // An estimate for SIZE (RFC 1870): line-ending normalisation may add a little.
            if let Ok(meta) = file.metadata().await {
                envelope = envelope.with_size(meta.len());
            }
            client.send_reader(envelope, &mut file).await
        }
    }
    .map_err(|e| format!("{server}: {e}"))?;

    for (r, to) in delivery.recipients.iter().zip(&a.to) {
        let verdict = match r.class() {
            OutcomeClass::Success => "delivered",
            OutcomeClass::Transient => "deferred",
            OutcomeClass::Permanent => "failed",
        };
        let reply = r.reply().map(show).unwrap_or_else(|| "no reply".into());
        println!("{to}: {verdict}: {reply}");
    }
    if let Some(failure) = &delivery.failure {
        println!("transaction: {failure:?}");
    }
    if let Err(e) = client.quit().await {
        eprintln!("QUIT: {e}");
    }
    Ok(delivery.all_delivered())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("send: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::from(2)
        }
    }
}
