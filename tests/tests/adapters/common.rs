//! Runtime-neutral pieces of the suite: peers that may be missing, scratch directories, a
//! self-signed certificate, a Maildir test server and its inspection, subprocesses with
//! deadlines.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use smtp_proto::sasl::Mechanism;
use smtp_proto::server::{AuthTlsPolicy, MailAuthPolicy, ServerConfig};

use crate::harness::{AdapterUnderTest, HandlerSpec, RunningServer, ServerSpec, HOSTNAME};

/// Whether a missing peer fails the test (CI: `SMTP_INTEROP_REQUIRED=1`) or skips it.
pub fn peers_required() -> bool {
    std::env::var("SMTP_INTEROP_REQUIRED").is_ok_and(|v| v == "1")
}

fn missing(msg: &str) {
    assert!(!peers_required(), "{msg} (SMTP_INTEROP_REQUIRED=1)");
    eprintln!("SKIPPED: {msg}");
}

/// Finds an external program; when it is missing, fails (CI) or tells the caller to skip.
pub fn peer(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        missing(&format!(
            "interop peer `{program}` is not installed (.ci/run installs it)"
        ));
    }
    found
}

/// Whether swaks can speak TLS (Perl's Net::SSLeay); like [`peer`] otherwise.
pub fn swaks_tls() -> bool {
    let ok = Command::new("perl")
        .args(["-MNet::SSLeay", "-e1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        missing("Perl's Net::SSLeay (libnet-ssleay-perl) is missing: swaks cannot do TLS");
    }
    ok
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "smtp-suite-{name}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A self-signed certificate for `localhost`: as rustls wants it, as PEM files, and a
/// client configuration that trusts it.
pub struct TestCert {
    pub der: CertificateDer<'static>,
    pub pem_path: PathBuf,
    pub config: Arc<rustls::ServerConfig>,
    pub client: Arc<rustls::ClientConfig>,
}

pub fn test_cert(dir: &Path) -> TestCert {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("self-signed certificate");
    let pem_path = dir.join("cert.pem");
    std::fs::write(&pem_path, generated.cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem()).expect("key");
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).expect("key");
    let der = generated.cert.der().clone();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).expect("root");
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TestCert {
        der,
        pem_path,
        config: Arc::new(config),
        client: Arc::new(client),
    }
}

/// How to set up the Maildir test server.
#[derive(Default)]
pub struct Options {
    pub tls: bool,
    pub implicit_tls: bool,
    pub users: Vec<(&'static str, &'static str)>,
    pub max_connections: Option<usize>,
    pub shutdown_grace: Option<Duration>,
    /// Changes to the session configuration after the above are applied.
    pub config: Option<fn(&mut ServerConfig)>,
}

/// The crate's Maildir server on 127.0.0.1, in its own runtime thread.
pub struct TestServer {
    pub server: RunningServer,
    pub addr: SocketAddr,
    pub implicit_tls_addr: Option<SocketAddr>,
    pub dir: PathBuf,
    pub maildir: PathBuf,
    pub cert: TestCert,
}

impl TestServer {
    pub fn start<A: AdapterUnderTest>(name: &str, options: Options) -> TestServer {
        let dir = scratch_dir(&format!("{}-{name}", A::PRODUCT));
        let cert = test_cert(&dir);
        let maildir = dir.join("maildir");
        let mut config = ServerConfig::new(HOSTNAME);
        if !options.users.is_empty() {
            config.extensions.auth = vec![Mechanism::Plain, Mechanism::Login];
            config.policy.mail_auth = MailAuthPolicy::Required;
            if !options.tls {
                config.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
            }
        }
        if let Some(change) = options.config {
            change(&mut config);
        }
        let users = options
            .users
            .iter()
            .map(|(u, p)| ((*u).to_owned(), (*p).to_owned()))
            .collect();
        let mut spec = ServerSpec::new(
            config,
            HandlerSpec::Maildir {
                root: maildir.clone(),
                users,
            },
        );
        if options.tls || options.implicit_tls {
            spec.tls = Some(Arc::clone(&cert.config));
        }
        spec.implicit_tls = options.implicit_tls;
        spec.max_connections = options.max_connections;
        if let Some(grace) = options.shutdown_grace {
            spec.shutdown_grace = grace;
        }
        let server = A::start_server(spec);
        TestServer {
            addr: server.addr,
            implicit_tls_addr: server.implicit_tls_addr,
            server,
            dir,
            maildir,
            cert,
        }
    }

    /// The messages in `new/`, sorted by file name.
    pub fn messages(&self) -> Vec<Stored> {
        stored_messages(&self.maildir)
    }

    /// Shuts the server down (checking `serve` returns `Ok`) and removes its directory.
    pub fn stop(self) {
        self.server.stop();
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

/// File names in `dir`, sorted (empty when it does not exist).
pub fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn stored_messages(maildir: &Path) -> Vec<Stored> {
    assert!(
        files(&maildir.join("tmp")).is_empty(),
        "tmp/ must be empty once every message is answered"
    );
    files(&maildir.join("new"))
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
pub fn check_received<A: AdapterUnderTest>(received: &str, with: &str) -> String {
    let unfolded = received.replace("\r\n\t", " ").replace("\r\n ", " ");
    assert!(unfolded.starts_with("Received: from "), "{received:?}");
    assert!(unfolded.contains("([127.0.0.1])"), "{received:?}");
    let by = format!("by {HOSTNAME} ({}) with {with} ", A::PRODUCT);
    assert!(unfolded.contains(&by), "want `{by}` in {received:?}");
    assert!(unfolded.ends_with(" +0000\r\n"), "{received:?}");
    assert_eq!(unfolded.matches("\r\n").count(), 1, "{received:?}");
    unfolded
}

/// Asserts two byte strings are equal, showing them as text.
#[track_caller]
pub fn assert_bytes_eq(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what} differs:\n got {:?}\nwant {:?}",
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want)
    );
}

/// A test message with CRLF line ends, a leading-dot line and 8-bit text, ending in CRLF.
pub fn sample_message(tag: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@client.example>\r\n\
         To: Rcpt <rcpt@test.example>\r\n\
         Subject: interop {tag}\r\n\
         Message-ID: <{tag}@client.example>\r\n\
         \r\n\
         Hello from {tag} (\u{e9}t\u{e9}).\r\n\
         .a line that starts with a dot\r\n\
         ..two dots\r\n\
         \r\n\
         last line\r\n"
    )
    .into_bytes()
}

/// Runs an external program with a deadline (killed when it overruns, which fails the
/// test) and returns its output.
pub fn run_peer(
    program: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
    deadline: Duration,
) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.unwrap_or_default().to_vec();
    let feed = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the peer") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within {deadline:?}", program.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = feed.join();
    std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

pub fn show(output: &std::process::Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The soft limit on open files, raised towards `want` (past the hard limit only as root) with
/// util-linux's `prlimit` on this process when it is lower: the workspace forbids the
/// `unsafe` a direct `setrlimit` would need.
pub fn raise_fd_limit(want: u64) -> u64 {
    fn current() -> (u64, u64) {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap_or_default();
        let mut numbers = line.split_whitespace().filter_map(|w| {
            w.parse::<u64>()
                .ok()
                .or((w == "unlimited").then_some(u64::MAX))
        });
        (
            numbers.next().unwrap_or(1024),
            numbers.next().unwrap_or(1024),
        )
    }
    let (soft, hard) = current();
    if soft >= want {
        return soft;
    }
    let prlimit = |soft: u64, hard: u64| {
        let _ = std::process::Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={soft}:{hard}"))
            .stderr(std::process::Stdio::null())
            .status();
    };
    if hard < want {
        // Raising the hard limit needs CAP_SYS_RESOURCE (CI runs as root).
        prlimit(want, want);
    }
    if current().0 < want {
        prlimit(want.min(hard), hard);
    }
    current().0
}

/// Open files this test may use: all of the soft limit (raised towards `want`, less what the
/// rest of the process holds) when it reaches `want`, otherwise half of it, since another
/// test with many connections may run at the same time in this process.
pub fn fd_budget(want: u64) -> u64 {
    let soft = raise_fd_limit(want);
    let usable = soft.saturating_sub(256);
    if soft >= want {
        usable
    } else {
        usable / 2
    }
}
