//! Shared pieces of the server interop tests: an in-process Maildir server on 127.0.0.1 with
//! a self-signed certificate, peers that may be missing, and Maildir inspection.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use smtp_proto::sasl::Mechanism;
use smtp_proto::server::{AuthTlsPolicy, MailAuthPolicy, ServerConfig};
use smtp_tokio::maildir::{Maildir, MaildirHandler, MaildirPolicy};
use smtp_tokio::server::{ConnectionInfo, Server, ShutdownHandle};
use tokio::task::JoinHandle;

/// Whether a missing peer fails the test (CI) or skips it (a developer's machine).
pub fn peers_required() -> bool {
    std::env::var("SMTP_INTEROP_REQUIRED").is_ok_and(|v| v == "1")
}

/// Finds an external program; when it is missing, says so and either fails (CI) or tells
/// the caller to skip.
pub fn peer(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        let msg = format!("interop peer `{program}` is not installed (.ci/run installs it)");
        assert!(!peers_required(), "{msg}");
        eprintln!("SKIPPED: {msg}");
    }
    found
}

/// Whether swaks can speak TLS (it needs Perl's Net::SSLeay); like [`peer`] otherwise.
pub fn swaks_tls() -> bool {
    let ok = std::process::Command::new("perl")
        .args(["-MNet::SSLeay", "-e1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "Perl's Net::SSLeay (libnet-ssleay-perl) is missing: swaks cannot do TLS";
        assert!(!peers_required(), "{msg}");
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

/// Whether `python3` can import `module`; like [`peer`] otherwise.
pub fn python_module(module: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = format!("python3 module `{module}` is not available");
        assert!(!peers_required(), "{msg}");
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "smtp-interop-{name}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A self-signed certificate for `localhost`, as rustls wants it and as a PEM file.
pub struct TestCert {
    pub der: CertificateDer<'static>,
    pub pem_path: PathBuf,
    pub key_pem_path: PathBuf,
    pub config: Arc<rustls::ServerConfig>,
}

pub fn test_cert(dir: &Path) -> TestCert {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("self-signed certificate");
    let pem_path = dir.join("cert.pem");
    let key_pem_path = dir.join("key.pem");
    std::fs::write(&pem_path, generated.cert.pem()).expect("write cert");
    std::fs::write(&key_pem_path, generated.signing_key.serialize_pem()).expect("write key");
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).expect("key");
    let der = generated.cert.der().clone();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .expect("server config");
    TestCert {
        der,
        pem_path,
        key_pem_path,
        config: Arc::new(config),
    }
}

/// How to set up the in-process server.
#[derive(Default)]
pub struct Options {
    pub tls: bool,
    pub implicit_tls: bool,
    pub users: Vec<(&'static str, &'static str)>,
    pub max_connections: Option<usize>,
    pub lmtp: bool,
}

/// The Maildir server of the example, run in-process on 127.0.0.1 with an ephemeral port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub implicit_tls_addr: Option<SocketAddr>,
    pub dir: PathBuf,
    pub maildir: PathBuf,
    pub cert: TestCert,
    shutdown: ShutdownHandle,
    task: JoinHandle<Result<(), smtp_tokio::Error>>,
}

pub const HOSTNAME: &str = "mx.test.example";

impl TestServer {
    pub async fn start(name: &str, options: Options) -> TestServer {
        let dir = scratch_dir(name);
        let cert = test_cert(&dir);
        let maildir_path = dir.join("maildir");
        let maildir = Maildir::create(&maildir_path, HOSTNAME)
            .await
            .expect("maildir");
        let mut policy = MaildirPolicy::new(maildir, HOSTNAME);
        let mut config = ServerConfig::new(HOSTNAME);
        if options.lmtp {
            config.protocol = smtp_proto::server::Protocol::Lmtp;
        }
        if !options.users.is_empty() {
            config.extensions.auth = vec![Mechanism::Plain, Mechanism::Login];
            config.policy.mail_auth = MailAuthPolicy::Required;
            if !options.tls {
                config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
            }
            for (u, p) in &options.users {
                policy = policy.with_user(*u, *p);
            }
        }
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut builder = Server::builder(config).listen(loopback);
        if options.tls || options.implicit_tls {
            builder = builder.tls(Arc::clone(&cert.config));
        }
        if options.implicit_tls {
            builder = builder.listen_implicit_tls(loopback);
        }
        if let Some(n) = options.max_connections {
            builder = builder.max_connections(n);
        }
        let server = builder
            .shutdown_grace(Duration::from_secs(5))
            .bind()
            .await
            .expect("bind");
        let addr = server.local_addrs()[0];
        let implicit_tls_addr = server.implicit_tls_addrs().first().copied();
        let shutdown = server.shutdown_handle();
        let policy = Arc::new(policy);
        let task = tokio::spawn(
            server.serve(move |c: &ConnectionInfo| MaildirHandler::new(Arc::clone(&policy), c)),
        );
        TestServer {
            addr,
            implicit_tls_addr,
            dir,
            maildir: maildir_path,
            cert,
            shutdown,
            task,
        }
    }

    /// The messages in `new/`, sorted by file name, each split into its `Received:` header
    /// and the rest.
    pub fn messages(&self) -> Vec<Stored> {
        stored_messages(&self.maildir)
    }

    /// Shuts the server down and removes its directory.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("server stops within its shutdown deadline")
            .expect("server task")
            .expect("server result");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A message as stored: the file name, the `Received:` header we prepended, the rest.
#[derive(Debug)]
pub struct Stored {
    pub name: String,
    pub received: String,
    pub content: Vec<u8>,
}

pub fn stored_messages(maildir: &Path) -> Vec<Stored> {
    assert!(
        std::fs::read_dir(maildir.join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "tmp/ must be empty once every message is answered"
    );
    let mut names: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .expect("new/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(maildir.join("new").join(&name)).expect("read message");
            let (received, content) = split_received(&bytes);
            Stored {
                name,
                received,
                content,
            }
        })
        .collect()
}

/// Splits off the first header field (with its folded continuation lines).
pub fn split_received(message: &[u8]) -> (String, Vec<u8>) {
    let mut end = 0;
    loop {
        let Some(nl) = message[end..].windows(2).position(|w| w == b"\r\n") else {
            return (String::new(), message.to_vec());
        };
        end += nl + 2;
        if !matches!(message.get(end), Some(b' ' | b'\t')) {
            break;
        }
    }
    (
        String::from_utf8_lossy(&message[..end]).into_owned(),
        message[end..].to_vec(),
    )
}

/// Checks the shape of our `Received:` header (RFC 5321 4.4) and returns it unfolded.
pub fn check_received(received: &str, with: &str) -> String {
    let unfolded = received.replace("\r\n\t", " ").replace("\r\n ", " ");
    assert!(unfolded.starts_with("Received: from "), "{received:?}");
    assert!(unfolded.contains("([127.0.0.1])"), "{received:?}");
    assert!(
        unfolded.contains(&format!("by {HOSTNAME} (smtp-tokio) with {with} ")),
        "want `with {with}` in {received:?}"
    );
    assert!(unfolded.ends_with(" +0000\r\n"), "{received:?}");
    assert_eq!(unfolded.matches("\r\n").count(), 1, "{received:?}");
    unfolded
}

/// A test message with CRLF line ends, a leading-dot line and 8-bit text, ending in CRLF.
pub fn sample_message(tag: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@client.example>\r\n\
         To: Rcpt <rcpt@test.example>\r\n\
         Subject: interop {tag}\r\n\
         Message-ID: <{tag}@client.example>\r\n\
         \r\n\
         Hello from {tag}.\r\n\
         .a line that starts with a dot\r\n\
         ..two dots\r\n\
         \r\n\
         last line\r\n"
    )
    .into_bytes()
}

/// Runs an external program with a deadline; returns its output. Killed if it overruns.
pub async fn run_peer(
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    deadline: Duration,
) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.unwrap_or_default().to_vec();
    let feed = tokio::spawn(async move {
        let _ = input.write_all(&data).await;
        drop(input);
    });
    let output = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {deadline:?}", program.display()))
        .expect("peer output");
    let _ = feed.await;
    output
}

pub fn show(output: &std::process::Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
