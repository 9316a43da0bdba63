//! A Maildir store (the `maildir` format of qmail and Dovecot), written atomically and
//! streamed: each message goes to `tmp/` chunk by chunk as it arrives, is fsynced, then
//! renamed into `new/`. A message never appears in `new/` half written, and a delivery that
//! is dropped before [`Delivery::commit`] removes its `tmp/` file.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use smtp_proto::reply::{standard, EnhancedCode, Reply, ReplyCode};
use smtp_proto::server::{
    AbortReason, AuthRequest, DataStart, EndOfMessage, HeloRequest, HeloVerb, MailRequest,
    RcptRequest, TlsInfo,
};
use smtp_proto::trace::{Greeting, ReceivedHeader, Rfc5322Date, WithProtocol};
use smtp_proto::{AddressLiteral, Host, Secret};

use tokio::fs::{self, File, OpenOptions};
use tokio::io::AsyncWriteExt;

use crate::server::{ConnectionInfo, Decision, Handler};

/// A Maildir directory with its `tmp/`, `new/` and `cur/` subdirectories.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    host: String,
}

/// Unique within the process; with the time and the pid it makes names unique on a host.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Maildir {
    /// Opens (creating if needed) the Maildir at `root`. `host` goes into file names; `/` and
    /// `:` in it are escaped as the Maildir convention says (`\057`, `\072`).
    pub async fn create(root: impl Into<PathBuf>, host: &str) -> io::Result<Self> {
        let root = root.into();
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub)).await?;
        }
        let host = host.replace('/', "\\057").replace(':', "\\072");
        Ok(Maildir { root, host })
    }

    /// The Maildir's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a message: creates a new, uniquely named file in `tmp/`.
    pub async fn begin(&self) -> io::Result<Delivery> {
        let pid = std::process::id();
        loop {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let name = format!("{secs}.{pid}_{seq}.{}", self.host);
            let tmp_path = self.root.join("tmp").join(&name);
            // `create_new`: an existing file (another process that reused our pid in the same
            // second) is never overwritten; take the next sequence number instead.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp_path)
                .await
            {
                Ok(file) => {
                    return Ok(Delivery {
                        file: Some(file),
                        tmp_path,
                        new_dir: self.root.join("new"),
                        name,
                        size: 0,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A message being written into `tmp/`.
#[derive(Debug)]
pub struct Delivery {
    /// `None` once committed or aborted.
    file: Option<File>,
    tmp_path: PathBuf,
    new_dir: PathBuf,
    name: String,
    size: u64,
}

impl Delivery {
    /// The file's unique name (the same in `tmp/` and `new/`): the message's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a chunk.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(finished)?;
        file.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Makes the message durable and visible: fsync the file, rename it into `new/`, fsync
    /// `new/` so the rename itself survives a crash. Returns the file name.
    pub async fn commit(mut self) -> io::Result<String> {
        let mut file = self.file.take().ok_or_else(finished)?;
        let result = async {
            file.flush().await?;
            file.sync_all().await?;
            drop(file);
            let new_path = self.new_dir.join(&self.name);
            fs::rename(&self.tmp_path, &new_path).await?;
            sync_dir(&self.new_dir).await
        }
        .await;
        match result {
            Ok(()) => Ok(std::mem::take(&mut self.name)),
            Err(e) => {
                let _ = fs::remove_file(&self.tmp_path).await;
                Err(e)
            }
        }
    }

    /// Drops the message: removes its `tmp/` file.
    pub async fn abort(mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp_path).await;
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // Neither committed nor aborted: the connection task died mid-message (peer gone,
        // task aborted at shutdown). Leave nothing behind.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn finished() -> io::Error {
    io::Error::other("delivery already committed or aborted")
}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

/// What every connection of a Maildir server shares: the store, the server's name and the
/// accounts allowed to authenticate.
#[derive(Debug)]
pub struct MaildirPolicy {
    maildir: Maildir,
    hostname: String,
    users: HashMap<String, Secret<String>>,
}

impl MaildirPolicy {
    /// A policy storing into `maildir`, naming itself `hostname` in `Received:` headers.
    pub fn new(maildir: Maildir, hostname: impl Into<String>) -> Self {
        MaildirPolicy {
            maildir,
            hostname: hostname.into(),
            users: HashMap::new(),
        }
    }

    /// Adds an account for AUTH PLAIN/LOGIN.
    pub fn with_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.insert(user.into(), Secret::new(password.into()));
        self
    }

    /// The store.
    pub fn maildir(&self) -> &Maildir {
        &self.maildir
    }

    fn check(&self, user: &[u8], password: &[u8]) -> Option<String> {
        let user = std::str::from_utf8(user).ok()?;
        let expected = self.users.get(user)?;
        constant_time_eq(expected.expose().as_bytes(), password).then(|| user.to_owned())
    }
}

/// Compares without an early exit, so timing does not reveal how much of a password matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// A [`Handler`] that accepts every recipient and stores each message in a Maildir with a
/// `Received:` header (RFC 5321 4.4) prepended; the `250` reply names the file.
#[derive(Debug)]
pub struct MaildirHandler {
    policy: Arc<MaildirPolicy>,
    peer: IpAddr,
    helo: Option<(HeloVerb, String)>,
    tls: Option<String>,
    user: Option<String>,
    sender: Option<String>,
    smtputf8: bool,
    recipients: Vec<String>,
    delivery: Option<Delivery>,
    store_error: Option<io::Error>,
}

impl MaildirHandler {
    /// The handler of one connection.
    pub fn new(policy: Arc<MaildirPolicy>, connection: &ConnectionInfo) -> Self {
        MaildirHandler {
            policy,
            peer: connection.peer.ip(),
            helo: None,
            tls: None,
            user: None,
            sender: None,
            smtputf8: false,
            recipients: Vec::new(),
            delivery: None,
            store_error: None,
        }
    }

    fn end_transaction(&mut self) {
        self.sender = None;
        self.smtputf8 = false;
        self.recipients.clear();
        self.store_error = None;
    }

    fn received_header(&self, id: &str) -> BytesMut {
        let greeting = match self.helo.as_ref().map(|(verb, _)| *verb) {
            Some(HeloVerb::Helo) => Greeting::Helo,
            Some(HeloVerb::Lhlo) => Greeting::Lhlo,
            _ => Greeting::Ehlo,
        };
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let recipient = match self.recipients.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        };
        let mut with = WithProtocol::new(greeting);
        if self.tls.is_some() {
            with = with.tls();
        }
        if self.user.is_some() {
            with = with.authenticated();
        }
        if self.smtputf8 {
            with = with.smtputf8();
        }
        let header = ReceivedHeader {
            from_helo: self.helo.as_ref().map(|(_, host)| host.as_str()),
            peer_ip: Some(self.peer),
            by: &self.policy.hostname,
            software: Some("smtp-tokio"),
            with,
            id: Some(id),
            recipient,
            tls: self.tls.as_deref(),
            date: Rfc5322Date::from_unix_seconds(i64::try_from(unix).unwrap_or(i64::MAX)),
        };
        let mut out = BytesMut::new();
        header.write(&mut out);
        out
    }
}

fn local_error() -> Reply {
    Reply::new(
        ReplyCode::LOCAL_ERROR,
        Some(EnhancedCode::TEMP_SYSTEM),
        "Local error in processing",
    )
}

fn host_text(host: &Host) -> String {
    match host {
        Host::Domain(d) => d.as_str().to_owned(),
        Host::Literal(AddressLiteral::Ipv4(ip)) => format!("[{ip}]"),
        Host::Literal(AddressLiteral::Ipv6(ip)) => format!("[IPv6:{ip}]"),
        Host::Literal(AddressLiteral::General { tag, content }) => format!(
            "[{}:{}]",
            String::from_utf8_lossy(tag),
            String::from_utf8_lossy(content)
        ),
    }
}

impl Handler for MaildirHandler {
    async fn helo(&mut self, request: &HeloRequest) -> Decision {
        self.helo = Some((request.verb, host_text(&request.host)));
        self.end_transaction();
        Decision::Accept
    }

    async fn mail(&mut self, request: &MailRequest) -> Decision {
        self.end_transaction();
        self.sender = Some(request.reverse_path.to_string());
        self.smtputf8 = request.params.smtputf8;
        Decision::Accept
    }

    async fn rcpt(&mut self, request: &RcptRequest) -> Decision {
        self.recipients.push(request.forward_path.to_string());
        Decision::Accept
    }

    async fn data_start(&mut self, _: &DataStart) -> Decision {
        let started = async {
            let mut delivery = self.policy.maildir.begin().await?;
            let header = self.received_header(delivery.name());
            delivery.write(&header).await?;
            Ok::<_, io::Error>(delivery)
        }
        .await;
        match started {
            Ok(delivery) => {
                self.delivery = Some(delivery);
                Decision::Accept
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot create a Maildir file");
                Decision::Reject(local_error())
            }
        }
    }

    async fn body(&mut self, chunk: Bytes) {
        if self.store_error.is_some() {
            return;
        }
        if let Some(delivery) = self.delivery.as_mut() {
            if let Err(e) = delivery.write(&chunk).await {
                self.store_error = Some(e);
            }
        }
    }

    async fn end_of_message(&mut self, message: &EndOfMessage) -> Decision {
        let delivery = self.delivery.take();
        let outcome = match (delivery, self.store_error.take()) {
            (Some(delivery), None) => delivery.commit().await,
            (Some(delivery), Some(e)) => {
                delivery.abort().await;
                Err(e)
            }
            (None, _) => Err(io::Error::other("no message in progress")),
        };
        let sender = self.sender.take().unwrap_or_default();
        let recipients = std::mem::take(&mut self.recipients);
        self.end_transaction();
        match outcome {
            Ok(id) => {
                tracing::info!(
                    %id,
                    from = %sender,
                    to = %recipients.join(","),
                    size = message.size,
                    "message stored"
                );
                let reply = Reply::new(
                    ReplyCode::OK,
                    Some(EnhancedCode::OK),
                    format!("Ok: queued as {id}"),
                );
                if self
                    .helo
                    .as_ref()
                    .is_some_and(|(v, _)| *v == HeloVerb::Lhlo)
                {
                    Decision::PerRecipient(vec![reply; message.recipients])
                } else {
                    Decision::AcceptWith(reply)
                }
            }
            Err(e) => {
                tracing::error!(error = %e, from = %sender, "message not stored");
                if self
                    .helo
                    .as_ref()
                    .is_some_and(|(v, _)| *v == HeloVerb::Lhlo)
                {
                    Decision::PerRecipient(vec![local_error(); message.recipients])
                } else {
                    Decision::Reject(local_error())
                }
            }
        }
    }

    async fn message_aborted(&mut self, reason: AbortReason) {
        if let Some(delivery) = self.delivery.take() {
            delivery.abort().await;
        }
        tracing::info!(?reason, from = ?self.sender, "message aborted");
        self.end_transaction();
    }

    async fn reset(&mut self) {
        if let Some(delivery) = self.delivery.take() {
            delivery.abort().await;
        }
        self.end_transaction();
    }

    async fn auth(&mut self, request: &AuthRequest) -> Decision {
        // An authorization identity other than the user would be acting for someone else,
        // which this server does not support.
        let proxy = request
            .authzid
            .as_ref()
            .is_some_and(|z| !z.is_empty() && z[..] != request.authcid[..]);
        match self
            .policy
            .check(&request.authcid, request.password.expose())
            .filter(|_| !proxy)
        {
            Some(user) => {
                tracing::info!(%user, "authenticated");
                self.user = Some(user);
                Decision::Accept
            }
            None => {
                tracing::info!(user = %String::from_utf8_lossy(&request.authcid), "authentication failed");
                Decision::Reject(standard::AUTH_INVALID)
            }
        }
    }

    async fn tls_established(&mut self, info: &TlsInfo) {
        // The session starts over under TLS (RFC 3207 4.2): the greeting and any
        // authentication from before no longer count, so they must not reach `Received:`.
        self.helo = None;
        self.user = None;
        self.end_transaction();
        let text = |b: &Option<Bytes>| {
            b.as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        self.tls = Some(format!(
            "version={} cipher={}",
            text(&info.version),
            text(&info.cipher)
        ));
    }
}

/// This machine's host name for Maildir names and `Received:` headers, from the kernel;
/// `localhost` when it cannot be read.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "smtp-tokio-maildir-{name}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
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

    #[tokio::test]
    async fn commit_moves_the_whole_message_into_new() -> io::Result<()> {
        let root = scratch("commit");
        let md = Maildir::create(&root, "host/with:odd").await?;
        let mut d = md.begin().await?;
        assert!(d.name().ends_with(".host\\057with\\072odd"), "{}", d.name());
        assert_eq!(names(&root.join("tmp")), vec![d.name().to_owned()]);
        d.write(b"Subject: x\r\n\r\n").await?;
        d.write(b"body\r\n").await?;
        assert_eq!(d.size(), 20);
        assert!(names(&root.join("new")).is_empty());
        let name = d.commit().await?;
        assert!(names(&root.join("tmp")).is_empty());
        assert_eq!(names(&root.join("new")), vec![name.clone()]);
        assert_eq!(
            std::fs::read(root.join("new").join(&name))?,
            b"Subject: x\r\n\r\nbody\r\n"
        );
        std::fs::remove_dir_all(&root)
    }

    #[tokio::test]
    async fn abort_and_drop_leave_nothing() -> io::Result<()> {
        let root = scratch("abort");
        let md = Maildir::create(&root, "h").await?;
        let mut a = md.begin().await?;
        a.write(b"partial").await?;
        a.abort().await;
        let mut b = md.begin().await?;
        b.write(b"partial").await?;
        drop(b);
        assert!(names(&root.join("tmp")).is_empty());
        assert!(names(&root.join("new")).is_empty());
        std::fs::remove_dir_all(&root)
    }

    #[tokio::test]
    async fn names_are_unique() -> io::Result<()> {
        let root = scratch("unique");
        let md = Maildir::create(&root, "h").await?;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = md.begin().await?;
            assert!(seen.insert(d.name().to_owned()));
            d.commit().await?;
        }
        assert_eq!(names(&root.join("new")).len(), 200);
        std::fs::remove_dir_all(&root)
    }
}
