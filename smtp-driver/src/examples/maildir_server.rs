//! The `maildir-server` example: a mail server that stores every accepted message in a
//! Maildir.
//!
//! ```text
//! cargo run --release -p smtp-tokio --example maildir-server -- [FLAGS]
//! cargo run --release -p smtp-async-std --example maildir-server -- [FLAGS]
//!
//!   --listen ADDR          plaintext SMTP listener (repeatable; default 127.0.0.1:2525)
//!   --implicit-tls ADDR    implicit-TLS listener, RFC 8314 (repeatable; needs a certificate)
//!   --maildir DIR          where messages go (default ./maildir)
//!   --hostname NAME        name in the greeting and Received: headers (default: this host)
//!   --max-size BYTES       largest message accepted (default 10485760)
//!   --max-recipients N     recipients per message (default 100)
//!   --auth USER:PASSWORD   an account for AUTH PLAIN/LOGIN (repeatable; MAIL then needs AUTH)
//!   --tls-cert PEM --tls-key PEM   certificate chain and key: offer STARTTLS
//!   --tls-self-signed      generate a self-signed certificate at start: offer STARTTLS
//!   --lmtp                 speak LMTP (RFC 2033) instead of SMTP
//!   --quiet                log errors only
//! ```
//!
//! Each message is written to `DIR/tmp/` as it streams in, fsynced and renamed into
//! `DIR/new/` only once its end of data is accepted, with a `Received:` header on top. The
//! `250` reply names the file. One log line per message goes to stderr (`--quiet`: errors
//! only). The adapter's shutdown signal (Ctrl-C or SIGTERM) stops accepting, lets sessions finish for up to 30 s, then
//! closes the rest with `421`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use smtp_proto::sasl::Mechanism;
use smtp_proto::server::{AuthTlsPolicy, MailAuthPolicy, Protocol, ServerConfig};

use super::{addr, number};
use crate::maildir::{local_hostname, Maildir, MaildirHandler, MaildirPolicy};
use crate::runtime::Runtime;
use crate::server::{ConnectionInfo, Server};

/// The usage line.
pub const USAGE: &str = "usage: maildir-server [--listen ADDR]... [--implicit-tls ADDR]... \
[--maildir DIR] [--hostname NAME] [--max-size BYTES] [--max-recipients N] \
[--auth USER:PASSWORD]... [--tls-cert PEM --tls-key PEM | --tls-self-signed] [--lmtp] [--quiet]";

/// The parsed flags.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// `--listen ADDR` (repeatable; 127.0.0.1:2525 when no listener is given).
    pub listen: Vec<SocketAddr>,
    /// `--implicit-tls ADDR` (repeatable).
    pub implicit_tls: Vec<SocketAddr>,
    /// `--maildir DIR`.
    pub maildir: Option<PathBuf>,
    /// `--hostname NAME`.
    pub hostname: Option<String>,
    /// `--max-size BYTES`.
    pub max_size: Option<u64>,
    /// `--max-recipients N`.
    pub max_recipients: Option<usize>,
    /// `--auth USER:PASSWORD` (repeatable).
    pub auth: Vec<(String, String)>,
    /// `--tls-cert PEM`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key PEM`.
    pub tls_key: Option<PathBuf>,
    /// `--tls-self-signed`.
    pub tls_self_signed: bool,
    /// `--lmtp`.
    pub lmtp: bool,
    /// `--quiet`.
    pub quiet: bool,
}

/// A hand-written flag parser: `--flag VALUE` or `--flag=VALUE`. `Err("")` is `--help`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--listen" => o.listen.push(addr(&value("--listen")?)?),
            "--implicit-tls" => o.implicit_tls.push(addr(&value("--implicit-tls")?)?),
            "--maildir" => o.maildir = Some(value("--maildir")?.into()),
            "--hostname" => o.hostname = Some(value("--hostname")?),
            "--max-size" => o.max_size = Some(number(&value("--max-size")?)?),
            "--max-recipients" => o.max_recipients = Some(number(&value("--max-recipients")?)?),
            "--auth" => {
                let v = value("--auth")?;
                let (user, password) = v
                    .split_once(':')
                    .filter(|(u, _)| !u.is_empty())
                    .ok_or("--auth wants USER:PASSWORD")?;
                o.auth.push((user.to_owned(), password.to_owned()));
            }
            "--tls-cert" => o.tls_cert = Some(value("--tls-cert")?.into()),
            "--tls-key" => o.tls_key = Some(value("--tls-key")?.into()),
            "--tls-self-signed" => o.tls_self_signed = true,
            "--lmtp" => o.lmtp = true,
            "--quiet" => o.quiet = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.tls_cert.is_some() != o.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if o.tls_self_signed && o.tls_cert.is_some() {
        return Err("--tls-self-signed or --tls-cert/--tls-key, not both".into());
    }
    if o.listen.is_empty() && o.implicit_tls.is_empty() {
        o.listen.push(SocketAddr::from(([127, 0, 0, 1], 2525)));
    }
    Ok(o)
}

fn tls_config(o: &Options, hostname: &str) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    let (certs, key) = match (&o.tls_cert, &o.tls_key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            (certs, key)
        }
        _ if o.tls_self_signed => {
            let names = vec![hostname.to_owned(), "localhost".to_owned()];
            let generated = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
            let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
                .map_err(|e| e.to_string())?;
            (vec![generated.cert.der().clone()], key)
        }
        _ => return Ok(None),
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| e.to_string())?;
    Ok(Some(Arc::new(config)))
}

/// The whole program: parses `args` (without the program name), sets up logging to stderr,
/// serves until `shutdown` completes, then shuts down gracefully. Returns the exit status.
pub async fn main<R: Runtime>(
    args: impl IntoIterator<Item = String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> ExitCode {
    let args: Vec<String> = args.into_iter().collect();
    if args.first().map(String::as_str) == Some("--version") {
        println!("{}", super::version::<R>("maildir-server"));
        return ExitCode::SUCCESS;
    }
    let options = match parse_args(args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("maildir-server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(if options.quiet {
            tracing::Level::ERROR
        } else {
            tracing::Level::INFO
        })
        .init();
    match run::<R>(options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("maildir-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves with parsed options until `shutdown` completes.
pub async fn run<R: Runtime>(
    o: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let hostname = o.hostname.clone().unwrap_or_else(local_hostname);
    let tls = tls_config(&o, &hostname)?;
    if !o.implicit_tls.is_empty() && tls.is_none() {
        return Err("--implicit-tls needs --tls-cert/--tls-key or --tls-self-signed".into());
    }

    let mut config = ServerConfig::new(hostname.clone());
    if o.lmtp {
        config.protocol = Protocol::Lmtp;
    }
    if let Some(size) = o.max_size {
        config.limits.max_message_size = Some(size);
    }
    if let Some(n) = o.max_recipients {
        config.limits.max_recipients = n;
    }
    let maildir_path = o
        .maildir
        .clone()
        .unwrap_or_else(|| PathBuf::from("maildir"));
    let maildir = Maildir::<R>::create(&maildir_path, &hostname)
        .await
        .map_err(|e| format!("{}: {e}", maildir_path.display()))?;
    let mut policy = MaildirPolicy::new(maildir, hostname.clone());
    if !o.auth.is_empty() {
        config.extensions.auth = vec![Mechanism::Plain, Mechanism::Login];
        config.policy.mail_auth = MailAuthPolicy::Required;
        if tls.is_none() {
            // Without TLS nobody could ever authenticate, and MAIL needs AUTH.
            tracing::warn!("AUTH offered over plaintext: no certificate configured");
            config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
        }
        for (user, password) in &o.auth {
            policy = policy.with_user(user, password);
        }
    }

    let mut builder = Server::<R>::builder(config);
    for addr in &o.listen {
        builder = builder.listen(*addr);
    }
    for addr in &o.implicit_tls {
        builder = builder.listen_implicit_tls(*addr);
    }
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    let server = builder.bind().await.map_err(|e| e.to_string())?;
    for addr in server.local_addrs() {
        tracing::info!(%addr, maildir = %maildir_path.display(), "listening");
    }
    for addr in server.implicit_tls_addrs() {
        tracing::info!(%addr, "listening (implicit TLS)");
    }

    let handle = server.shutdown_handle();
    R::spawn(async move {
        shutdown.await;
        tracing::info!("signal received: shutting down (sessions get up to 30 s)");
        handle.shutdown();
    });
    let policy = Arc::new(policy);
    server
        .serve(move |c: &ConnectionInfo| MaildirHandler::new(Arc::clone(&policy), c))
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn every_flag_in_both_spellings() {
        let o = parse(&[
            "--listen",
            "127.0.0.1:25",
            "--listen=[::1]:26",
            "--implicit-tls",
            "127.0.0.1:465",
            "--maildir=/tmp/md",
            "--hostname",
            "mx.test",
            "--max-size",
            "1000",
            "--max-recipients=5",
            "--auth",
            "alice:s3:cret",
            "--tls-self-signed",
            "--lmtp",
            "--quiet",
        ])
        .expect("valid flags");
        assert_eq!(o.listen.len(), 2);
        assert_eq!(o.implicit_tls, vec![addr("127.0.0.1:465").expect("addr")]);
        assert_eq!(o.maildir, Some(PathBuf::from("/tmp/md")));
        assert_eq!(o.hostname.as_deref(), Some("mx.test"));
        assert_eq!((o.max_size, o.max_recipients), (Some(1000), Some(5)));
        assert_eq!(o.auth, vec![("alice".to_owned(), "s3:cret".to_owned())]);
        assert!(o.tls_self_signed && o.lmtp && o.quiet);
    }

    #[test]
    fn defaults_and_refusals() {
        let o = parse(&[]).expect("no flags");
        assert_eq!(o.listen, vec![addr("127.0.0.1:2525").expect("addr")]);
        assert_eq!(parse(&["--help"]), Err(String::new()));
        assert!(parse(&["--listen"]).is_err(), "missing value");
        assert!(parse(&["--listen", "nowhere"]).is_err());
        assert!(parse(&["--auth", ":pw"]).is_err(), "empty user");
        assert!(parse(&["--tls-cert", "c.pem"]).is_err(), "cert without key");
        assert!(parse(&["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"]).is_err());
        assert!(parse(&["--max-size", "ten"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
