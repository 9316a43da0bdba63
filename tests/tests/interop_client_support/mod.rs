//! Real SMTP servers that no one here wrote, started on 127.0.0.1 for the client interop tests:
//! Postfix's `smtp-sink` and Python's `aiosmtpd` (through `tests/peers/aiosmtpd_capture.py`).
//!
//! Every peer is a child process that is killed when its handle drops and that also ends by
//! itself (a session count or a lifetime), so no test leaves a server behind. A missing peer
//! makes the test print which one and return, unless `SMTP_INTEROP_REQUIRED=1` (set by
//! `.ci/run`), where it fails.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `true` when a missing peer must fail the test (CI).
pub fn interop_required() -> bool {
    std::env::var("SMTP_INTEROP_REQUIRED").is_ok_and(|v| v == "1")
}

/// Reports a missing peer: panics in CI, prints and lets the test return elsewhere.
pub fn missing_peer(what: &str) {
    if interop_required() {
        panic!("interop peer missing: {what} (SMTP_INTEROP_REQUIRED=1)");
    }
    eprintln!("SKIPPED: interop peer missing: {what}");
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "smtp-interop-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (by its own pid) and reaped on drop.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    pub addr: SocketAddr,
    pub dir: TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Waits (bounded: 5 s) until something accepts connections on `addr`.
fn wait_listening(addr: SocketAddr, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// Starts `smtp-sink` dumping each transaction into its own file under `dir`.
///
/// `sessions` bounds how many connections it serves before it exits by itself; `extra`
/// are further options (for example `-L` for LMTP, `-p` to hide PIPELINING). Returns `None`
/// (after [`missing_peer`]) when smtp-sink is not installed.
pub fn smtp_sink(sessions: u32, extra: &[&str]) -> Option<Peer> {
    smtp_sink_with(sessions, extra, true)
}

/// `smtp-sink` without the dump (for measurements: a dump file per message measures the disk).
pub fn smtp_sink_no_dump(sessions: u32) -> Option<Peer> {
    smtp_sink_with(sessions, &[], false)
}

fn smtp_sink_with(sessions: u32, extra: &[&str], dump: bool) -> Option<Peer> {
    if !Path::new(SMTP_SINK).exists() {
        missing_peer("Postfix smtp-sink (/usr/sbin/smtp-sink; Debian package postfix)");
        return None;
    }
    // The port comes from binding :0 and releasing it; another process could take it in
    // between, so a start that does not come up is retried with a fresh port.
    for _ in 0..3 {
        let dir = TempDir::new("sink");
        // smtp-sink drops privileges to `nobody` when run as root; it must be able to write.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod dump dir");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut cmd = Command::new(SMTP_SINK);
        if running_as_root() {
            cmd.args(["-u", "nobody"]);
        }
        if dump {
            cmd.arg("-d").arg(format!("{}/%M%S.", dir.path().display()));
        }
        // +1: the readiness probe below is a session too.
        cmd.args(["-n", &(sessions + 1).to_string(), "-t", "30"])
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn smtp-sink");
        if wait_listening(addr, &mut child) {
            return Some(Peer { child, addr, dir });
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("smtp-sink did not start listening");
}

/// One message as smtp-sink dumped it: its generated headers and the content that followed.
#[derive(Debug, Clone)]
pub struct SinkDump {
    pub mail_args: String,
    pub rcpt_args: Vec<String>,
    pub helo_args: Option<String>,
    /// The message as received, lines ended by LF (smtp-sink drops the CR), without the empty
    /// line smtp-sink appends.
    pub content: Vec<u8>,
}

/// Reads every dump file under the peer's directory (order: unspecified).
pub fn sink_dumps(peer: &Peer) -> Vec<SinkDump> {
    let mut out = Vec::new();
    let mut stack = vec![peer.dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dump dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(parse_sink_dump(&std::fs::read(&path).expect("read dump")));
            }
        }
    }
    out
}

fn parse_sink_dump(raw: &[u8]) -> SinkDump {
    let mut rest = raw;
    let mut dump = SinkDump {
        mail_args: String::new(),
        rcpt_args: Vec::new(),
        helo_args: None,
        content: Vec::new(),
    };
    // Generated headers end with the three-line Received header.
    loop {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .expect("dump header line");
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
            dump.mail_args = v.to_owned();
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
            dump.rcpt_args.push(v.to_owned());
        } else if let Some(v) = line.strip_prefix("X-Helo-Args: ") {
            dump.helo_args = Some(v.to_owned());
        } else if line.starts_with("Received: ") {
            for _ in 0..2 {
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .expect("Received line");
                rest = &rest[end + 1..];
            }
            break;
        }
    }
    let content = rest
        .strip_suffix(b"\n")
        .expect("smtp-sink's closing empty line");
    dump.content = content.to_vec();
    dump
}

/// What smtp-sink's dump holds for a body the client sent as `canonical` (CRLF lines).
pub fn as_sink_dump(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len());
    let mut i = 0;
    while i < canonical.len() {
        if canonical[i..].starts_with(b"\r\n") {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(canonical[i]);
            i += 1;
        }
    }
    out
}

/// Relative to either crate that includes this module (`tests/` or `smtp-tokio/`).
pub const AIOSMTPD_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/peers/aiosmtpd_capture.py"
);

/// Options for the aiosmtpd capture server.
#[derive(Debug, Default, Clone)]
pub struct AiosmtpdOptions {
    pub auth: Option<(String, String)>,
    pub tls_cert_and_key: Option<(PathBuf, PathBuf)>,
    pub require_starttls: bool,
    pub lmtp: bool,
}

/// Starts the aiosmtpd capture server (lifetime 60 s, or until this handle drops).
pub fn aiosmtpd(options: &AiosmtpdOptions) -> Option<Peer> {
    let probe = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        missing_peer("Python aiosmtpd (python3 -m pip install aiosmtpd)");
        return None;
    }
    let dir = TempDir::new("aiosmtpd");
    let mut cmd = Command::new("python3");
    cmd.arg(AIOSMTPD_SCRIPT)
        .arg(dir.path())
        .args(["--lifetime", "60", "--exit-on-stdin-eof"]);
    if let Some((user, password)) = &options.auth {
        cmd.arg("--auth").arg(format!("{user}:{password}"));
    }
    if let Some((cert, key)) = &options.tls_cert_and_key {
        cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
    }
    if options.require_starttls {
        cmd.arg("--require-starttls");
    }
    if options.lmtp {
        cmd.arg("--lmtp");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn python3");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read READY line");
    let port: u16 = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("aiosmtpd capture did not start: {line:?}"));
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    Some(Peer { child, addr, dir })
}

/// One message captured by aiosmtpd.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The JSON metadata (mail_from, rcpt_tos, mail_options, tls, auth) as text.
    pub meta: String,
    /// The content bytes exactly as received (dot-unstuffed).
    pub content: Vec<u8>,
}

/// The messages captured so far, in arrival order.
pub fn captured(peer: &Peer) -> Vec<Captured> {
    let mut out = Vec::new();
    for n in 1.. {
        let base = peer.dir.path().join(format!("{n:04}"));
        let (Ok(meta), Ok(content)) = (
            std::fs::read_to_string(base.with_extension("env")),
            std::fs::read(base.with_extension("eml")),
        ) else {
            break;
        };
        out.push(Captured { meta, content });
    }
    out
}

// ---- client side -----------------------------------------------------------------------

use bytes::Bytes;
use smtp_proto::client::{CleartextPolicy, ClientConfig as SessionConfig, Envelope, TlsPolicy};
use smtp_proto::{ForwardPath, ParseOptions, ReversePath};
use smtp_tokio::client::ClientConfig;
use std::sync::Arc;

/// A plaintext client configuration (no STARTTLS) with the session defaults otherwise.
pub fn plain_config() -> ClientConfig {
    let session = SessionConfig {
        tls: TlsPolicy::None,
        ..SessionConfig::default()
    };
    ClientConfig::new(Arc::new(session))
}

/// A configuration that logs in with `user`/`password`, allowing it without TLS (loopback).
pub fn plain_auth_config(user: &str, password: &str) -> ClientConfig {
    let session = SessionConfig {
        tls: TlsPolicy::None,
        credentials: Some(smtp_proto::client::Credentials::password(user, password)),
        cleartext_auth: CleartextPolicy::Allow,
        ..SessionConfig::default()
    };
    ClientConfig::new(Arc::new(session))
}

pub fn reverse_path(s: &'static str) -> ReversePath {
    ReversePath::parse(&Bytes::from_static(s.as_bytes()), &ParseOptions::default())
        .expect("reverse path")
}

pub fn forward_path(s: &'static str) -> ForwardPath {
    ForwardPath::parse(&Bytes::from_static(s.as_bytes()), &ParseOptions::default())
        .expect("forward path")
}

/// `<from>` to each of `to`.
pub fn envelope(from: &'static str, to: &[&'static str]) -> Envelope {
    to.iter().fold(Envelope::new(reverse_path(from)), |e, t| {
        e.to(forward_path(t))
    })
}

/// The body as the server must store it when the client normalises line endings (the
/// session's default): bare CR and bare LF become CRLF, and a non-empty body that does not
/// end with CRLF gets one. This is the test's oracle, written independently of the core.
pub fn canonical(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bodies that exercise dot-stuffing, line endings and sizes.
pub fn tricky_bodies() -> Vec<Bytes> {
    let mut big = Vec::new();
    for i in 0..6000 {
        // Every third line starts with a dot; some lines are a lone dot.
        match i % 3 {
            0 => big.extend_from_slice(format!(".line {i} starts with a dot\r\n").as_bytes()),
            1 => big.extend_from_slice(b".\r\n"),
            _ => big
                .extend_from_slice(format!("plain line {i} {}\r\n", "x".repeat(i % 70)).as_bytes()),
        }
    }
    let long_line = format!("Subject: long\r\n\r\n{}\r\n", "L".repeat(998));
    vec![
        Bytes::from_static(b"Subject: one\r\n\r\nHello, world.\r\n"),
        Bytes::from_static(
            b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nno final newline",
        ),
        Bytes::from_static(b"Subject: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9 \xff\xfe bytes\r\n"),
        Bytes::from_static(b"Subject: bare lf\n\na\nb\n.\nc\n"),
        Bytes::from_static(b""),
        Bytes::from(long_line),
        Bytes::from(big),
    ]
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files into `dir`.
/// Returns (certificate DER, cert path, key path).
pub fn self_signed_cert(
    dir: &Path,
) -> (rustls::pki_types::CertificateDer<'static>, PathBuf, PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("rcgen");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    (cert.cert.der().clone(), cert_path, key_path)
}
