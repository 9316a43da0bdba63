//! The `send` example: deliver one message with the client and print each recipient's
//! result.
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

use crate::client::{Client, ClientConfig, ServerCertificate, TlsMode};
use crate::runtime::Runtime;
use bytes::Bytes;
use smtp_proto::client::{
    CleartextPolicy, ClientConfig as SessionConfig, Credentials, Envelope, OutcomeClass, Protocol,
    TlsPolicy,
};
use smtp_proto::{ForwardPath, Host, ParseOptions, PathSyntax, Reply, ReversePath};

/// The usage line.
pub const USAGE: &str = "usage: send --server HOST:PORT --from ADDR --to ADDR [--to ADDR]... \
[--starttls|--tls] [--auth USER:PASSWORD] [--plaintext-auth] \
[--pin-cert PEM|--insecure-accept-any-cert] [--lmtp] [--ehlo NAME] [FILE|-]";

/// The parsed flags.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Args {
    /// `--server HOST:PORT`.
    pub server: Option<String>,
    /// `--from ADDR`.
    pub from: Option<String>,
    /// `--to ADDR` (repeatable).
    pub to: Vec<String>,
    /// `--starttls`.
    pub starttls: bool,
    /// `--tls`.
    pub implicit_tls: bool,
    /// `--auth USER:PASSWORD`.
    pub auth: Option<(String, String)>,
    /// `--plaintext-auth`.
    pub plaintext_auth: bool,
    /// `--pin-cert PEM`.
    pub pin_cert: Option<String>,
    /// `--insecure-accept-any-cert`.
    pub accept_any_cert: bool,
    /// `--lmtp`.
    pub lmtp: bool,
    /// `--ehlo NAME`.
    pub ehlo: Option<String>,
    /// `FILE` (`-` or none: standard input).
    pub file: Option<String>,
}

/// Parses the flags (without the program name). `Err("")` is `--help`.
pub fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    let mut argv = argv.into_iter();
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

/// Delivers the message; `Ok(true)` when every recipient was delivered.
pub async fn run<R: Runtime>(a: Args) -> Result<bool, String> {
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
    let mut client = Client::<R>::connect(server, &config)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let delivery = match a.file.as_deref() {
        None | Some("-") => {
            client
                .send_blocking_reader(envelope, std::io::stdin())
                .await
        }
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
            // An estimate for SIZE (RFC 1870): line-ending normalisation may add a little.
            if let Ok(meta) = file.metadata() {
                envelope = envelope.with_size(meta.len());
            }
            client.send_blocking_reader(envelope, file).await
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

/// The whole program: parses `args` (without the program name), delivers, prints each
/// recipient's result. Returns the exit status: 0 all delivered, 1 some not, 2 an error.
pub async fn main<R: Runtime>(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args: Vec<String> = args.into_iter().collect();
    if args.first().map(String::as_str) == Some("--version") {
        println!("{}", super::version::<R>("send"));
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("send: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run::<R>(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn flags_and_the_file() {
        let a = parse(&[
            "--server",
            "mx.test:25",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
            "--to",
            "c@y.test",
            "--starttls",
            "--auth",
            "u:p:w",
            "--plaintext-auth",
            "--pin-cert",
            "c.pem",
            "--lmtp",
            "--ehlo",
            "me.test",
            "msg.eml",
        ])
        .expect("valid");
        assert_eq!(a.server.as_deref(), Some("mx.test:25"));
        assert_eq!(a.to, vec!["b@y.test".to_owned(), "c@y.test".to_owned()]);
        assert_eq!(a.auth, Some(("u".to_owned(), "p:w".to_owned())));
        assert!(a.starttls && a.plaintext_auth && a.lmtp && !a.implicit_tls);
        assert_eq!(a.file.as_deref(), Some("msg.eml"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(&["--help"]), Err(String::new()));
        assert!(
            parse(&["--from", "a@x.test", "--to", "b@y.test"]).is_err(),
            "no server"
        );
        let base = ["--server", "s:25", "--from", "a@x.test", "--to", "b@y.test"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            parse(&v)
        };
        assert!(with(&[]).is_ok());
        assert!(with(&["--starttls", "--tls"]).is_err());
        assert!(with(&["one", "two"]).is_err());
        assert!(with(&["--auth", "nocolon"]).is_err());
        assert!(with(&["--what"]).is_err());
    }

    #[test]
    fn addresses_are_lenient_and_empty_is_the_null_sender() {
        assert_eq!(reverse_path("").expect("null").to_string(), "<>");
        assert!(forward_path("bob@example.net").is_ok());
        assert!(forward_path("<bob@example.net>").is_ok());
        assert!(forward_path("not an address").is_err());
    }
}
