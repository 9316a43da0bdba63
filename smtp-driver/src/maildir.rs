//! A Maildir store (the `maildir` format of qmail and Dovecot), written atomically and
//! streamed: each message goes to `tmp/` as it arrives, is fsynced, then renamed into
//! `new/`. A message never appears in `new/` half written, and a delivery that is dropped
//! before [`Delivery::commit`] removes its `tmp/` file.
//!
//! File I/O is blocking `std::fs` work run through the runtime's
//! [`spawn_blocking`](crate::runtime::Runtime::spawn_blocking). Body chunks are gathered in
//! memory up to [`WRITE_BATCH`] octets and written in one blocking trip, so a message costs
//! a few trips rather than one per network read.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::marker::PhantomData;
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

use crate::runtime::Runtime;
use crate::server::{ConnectionInfo, Decision, Handler};

/// Body octets gathered before they are written to the file in one blocking trip.
pub const WRITE_BATCH: usize = 64 * 1024;

/// A Maildir directory with its `tmp/`, `new/` and `cur/` subdirectories, whose file I/O
/// runs on runtime `R`'s blocking threads.
#[derive(Debug)]
pub struct Maildir<R> {
    root: PathBuf,
    host: String,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for Maildir<R> {
    fn clone(&self) -> Self {
        Maildir {
            root: self.root.clone(),
            host: self.host.clone(),
            runtime: PhantomData,
        }
    }
}

/// Unique within the process; with the time and the pid it makes names unique on a host.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl<R: Runtime> Maildir<R> {
    /// Opens (creating if needed) the Maildir at `root`. `host` goes into file names; `/` and
    /// `:` in it are escaped as the Maildir convention says (`\057`, `\072`).
    pub async fn create(root: impl Into<PathBuf>, host: &str) -> io::Result<Self> {
        let root = root.into();
        let dirs = root.clone();
        R::spawn_blocking(move || {
            ["tmp", "new", "cur"]
                .into_iter()
                .try_for_each(|sub| fs::create_dir_all(dirs.join(sub)))
        })
        .await??;
        let host = host.replace('/', "\\057").replace(':', "\\072");
        Ok(Maildir {
            root,
            host,
            runtime: PhantomData,
        })
    }

    /// The Maildir's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a message: creates a new, uniquely named file in `tmp/`.
    pub async fn begin(&self) -> io::Result<Delivery<R>> {
        let root = self.root.clone();
        let host = self.host.clone();
        let (file, name, tmp_path) = R::spawn_blocking(move || {
            let pid = std::process::id();
            loop {
                let secs = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
                let name = format!("{secs}.{pid}_{seq}.{host}");
                let tmp_path = root.join("tmp").join(&name);
                // `create_new`: an existing file (another process that reused our pid in the
                // same second) is never overwritten; take the next sequence number instead.
                match OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp_path)
                {
                    Ok(file) => return Ok((file, name, tmp_path)),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await??;
        Ok(Delivery {
            file: Some(file),
            buffer: Vec::new(),
            tmp_path,
            new_dir: self.root.join("new"),
            name,
            size: 0,
            runtime: PhantomData,
        })
    }
}

/// A message being written into `tmp/`.
#[derive(Debug)]
pub struct Delivery<R> {
    /// `None` once committed or aborted (or while a write is on the blocking threads).
    file: Option<File>,
    /// Octets not yet written to the file.
    buffer: Vec<u8>,
    tmp_path: PathBuf,
    new_dir: PathBuf,
    name: String,
    size: u64,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Delivery<R> {
    /// The file's unique name (the same in `tmp/` and `new/`): the message's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a chunk. It is gathered in memory and written with the next
    /// [`WRITE_BATCH`] octets, or at [`commit`](Delivery::commit).
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            return Err(finished());
        }
        self.buffer.extend_from_slice(chunk);
        self.size += chunk.len() as u64;
        if self.buffer.len() >= WRITE_BATCH {
            self.write_buffer().await?;
        }
        Ok(())
    }

    /// Writes the gathered octets to the file in one blocking trip.
    async fn write_buffer(&mut self) -> io::Result<()> {
        let mut file = self.file.take().ok_or_else(finished)?;
        let mut buffer = std::mem::take(&mut self.buffer);
        let (file, buffer) = R::spawn_blocking(move || {
            let written = file.write_all(&buffer);
            buffer.clear();
            written.map(|()| (file, buffer))
        })
        .await??;
        // The emptied buffer keeps its capacity for the next batch.
        self.file = Some(file);
        self.buffer = buffer;
        Ok(())
    }

    /// Makes the message durable and visible: write what is gathered, fsync the file, rename
    /// it into `new/`, fsync `new/` so the rename itself survives a crash (all in one
    /// blocking trip). Returns the file name.
    pub async fn commit(mut self) -> io::Result<String> {
        let mut file = self.file.take().ok_or_else(finished)?;
        let buffer = std::mem::take(&mut self.buffer);
        let tmp_path = self.tmp_path.clone();
        let new_dir = self.new_dir.clone();
        let new_path = new_dir.join(&self.name);
        let result = R::spawn_blocking(move || {
            let result = (|| {
                file.write_all(&buffer)?;
                file.sync_all()?;
                drop(file);
                fs::rename(&tmp_path, &new_path)?;
                File::open(&new_dir)?.sync_all()
            })();
            if result.is_err() {
                let _ = fs::remove_file(&tmp_path);
            }
            result
        })
        .await
        .and_then(|r| r);
        match result {
            Ok(()) => Ok(std::mem::take(&mut self.name)),
            Err(e) => Err(e),
        }
    }

    /// Drops the message: removes its `tmp/` file.
    pub async fn abort(mut self) {
        if self.file.take().is_some() {
            let tmp_path = self.tmp_path.clone();
            let _ = R::spawn_blocking(move || fs::remove_file(tmp_path)).await;
        }
    }
}

impl<R> Drop for Delivery<R> {
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

/// What every connection of a Maildir server shares: the store, the server's name and the
/// accounts allowed to authenticate.
#[derive(Debug)]
pub struct MaildirPolicy<R> {
    maildir: Maildir<R>,
    hostname: String,
    users: HashMap<String, Secret<String>>,
}

impl<R: Runtime> MaildirPolicy<R> {
    /// A policy storing into `maildir`, naming itself `hostname` in `Received:` headers.
    pub fn new(maildir: Maildir<R>, hostname: impl Into<String>) -> Self {
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
    pub fn maildir(&self) -> &Maildir<R> {
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
pub struct MaildirHandler<R> {
    policy: Arc<MaildirPolicy<R>>,
    peer: IpAddr,
    helo: Option<(HeloVerb, String)>,
    tls: Option<String>,
    user: Option<String>,
    sender: Option<String>,
    smtputf8: bool,
    recipients: Vec<String>,
    delivery: Option<Delivery<R>>,
    store_error: Option<io::Error>,
}

impl<R: Runtime> MaildirHandler<R> {
    /// The handler of one connection.
    pub fn new(policy: Arc<MaildirPolicy<R>>, connection: &ConnectionInfo) -> Self {
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
            software: Some(R::NAME),
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

impl<R: Runtime> Handler for MaildirHandler<R> {
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
