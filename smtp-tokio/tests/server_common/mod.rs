//! A minimal line client and an in-process Maildir server for the adapter tests.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use smtp_proto::server::ServerConfig;
use smtp_tokio::maildir::{Maildir, MaildirHandler, MaildirPolicy};
use smtp_tokio::server::{ConnectionInfo, ServerBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

static SCRATCH: AtomicU32 = AtomicU32::new(0);

pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "smtp-tokio-test-{name}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A Maildir policy in a fresh directory.
pub async fn maildir_policy(dir: &Path) -> Arc<MaildirPolicy> {
    let maildir = Maildir::create(dir.join("maildir"), "mx.test")
        .await
        .expect("maildir");
    Arc::new(MaildirPolicy::new(maildir, "mx.test"))
}

pub fn maildir_factory(
    policy: Arc<MaildirPolicy>,
) -> impl Fn(&ConnectionInfo) -> MaildirHandler + Send + Sync + 'static {
    move |c: &ConnectionInfo| MaildirHandler::new(Arc::clone(&policy), c)
}

pub fn builder() -> ServerBuilder {
    smtp_tokio::server::Server::builder(ServerConfig::new("mx.test")).listen(loopback())
}

/// File names in `dir`.
pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A client that writes lines and reads (multi-line) replies.
pub struct LineClient {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl LineClient {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<LineClient> {
        let stream = TcpStream::connect(addr).await?;
        let (r, w) = stream.into_split();
        Ok(LineClient {
            reader: BufReader::new(r),
            writer: w,
        })
    }

    /// Reads one reply (all its lines); empty at EOF.
    pub async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.unwrap_or(0);
            if n == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    pub async fn send(&mut self, data: &[u8]) {
        self.writer.write_all(data).await.expect("write");
    }

    /// Sends a line and returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Runs one whole transaction; returns the final reply.
    pub async fn send_message(&mut self, from: &str, to: &str, body: &[u8]) -> String {
        let r = self.cmd(&format!("MAIL FROM:<{from}>")).await;
        assert!(r.starts_with("250"), "{r}");
        let r = self.cmd(&format!("RCPT TO:<{to}>")).await;
        assert!(r.starts_with("250"), "{r}");
        let r = self.cmd("DATA").await;
        assert!(r.starts_with("354"), "{r}");
        self.send(body).await;
        self.send(b".\r\n").await;
        self.reply().await
    }
}

/// Whether a missing interop peer fails the test (CI sets `SMTP_INTEROP_REQUIRED=1`).
pub fn peers_required() -> bool {
    std::env::var("SMTP_INTEROP_REQUIRED").is_ok_and(|v| v == "1")
}

/// Finds an external program; when it is missing, says so and fails (CI) or skips.
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
