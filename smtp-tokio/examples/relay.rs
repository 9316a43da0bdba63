//! `relay`: a gateway. Accepts mail like a server and forwards each message to an upstream
//! server with the smtp-tokio client, answering the sender only after the upstream's verdict.
//!
//! ```text
//! cargo run -p smtp-tokio --example relay -- --upstream mx.example.org:25 \
//!     [--listen 127.0.0.1:2526]... [--hostname NAME] [--max-size BYTES] [--lmtp] \
//!     [--upstream-starttls | --upstream-tls] [--upstream-auth USER:PASSWORD] \
//!     [--upstream-plaintext-auth] [--upstream-pin-cert PEM | --upstream-insecure-accept-any-cert] \
//!     [--upstream-lmtp]
//! ```
//!
//! Each inbound connection gets its own upstream connection, opened at its first message and
//! reused for the next ones (QUIT when the inbound connection ends). A message is held in
//! memory (at most `--max-size`, which the inbound session advertises and enforces) and sent
//! upstream when its end of data arrives; the sender's final reply is the upstream's:
//!
//! - every recipient accepted upstream: the upstream's `250`, passed through;
//! - none accepted: the upstream's refusal, passed through (a transient one when any
//!   refusal was transient, so the sender retries);
//! - with `--lmtp` inbound, one reply per recipient, each the upstream's verdict for it;
//! - upstream unreachable or broken mid-way: `451 4.4.1`, so the sender retries.
//!
//! An SMTP sender can receive only one reply per message, so when the upstream accepts some
//! recipients and refuses others, the relay answers `250` and logs the refused ones: it has no
//! queue to bounce from. (RCPT-time mapping would need the client session to take recipients
//! one at a time; see the adapter's notes.)

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use smtp_proto::client::{
    CleartextPolicy, ClientConfig as SessionConfig, Credentials, Envelope, OutcomeClass, Protocol,
    Recipient, TlsPolicy,
};
use smtp_proto::reply::{EnhancedCode, Reply, ReplyCode};
use smtp_proto::server::{
    AbortReason, CloseReason, EndOfMessage, MailRequest, RcptRequest, ServerConfig,
};
use smtp_tokio::client::{Client, ClientConfig, Delivery, ServerCertificate, TlsMode};
use smtp_tokio::server::{ConnectionInfo, Decision, Handler, Server};

const USAGE: &str = "usage: relay --upstream HOST:PORT [--listen ADDR]... [--hostname NAME] \
[--max-size BYTES] [--lmtp] [--upstream-starttls|--upstream-tls] [--upstream-auth USER:PASSWORD] \
[--upstream-plaintext-auth] [--upstream-pin-cert PEM|--upstream-insecure-accept-any-cert] [--upstream-lmtp]";

#[derive(Debug)]
struct Args {
    upstream: String,
    listen: Vec<SocketAddr>,
    hostname: String,
    max_size: u64,
    lmtp: bool,
    upstream_starttls: bool,
    upstream_tls: bool,
    upstream_auth: Option<(String, String)>,
    upstream_plaintext_auth: bool,
    upstream_pin_cert: Option<String>,
    upstream_accept_any_cert: bool,
    upstream_lmtp: bool,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut upstream = None;
    let mut a = Args {
        upstream: String::new(),
        listen: Vec::new(),
        hostname: "relay.localhost".into(),
        max_size: 25 * 1024 * 1024,
        lmtp: false,
        upstream_starttls: false,
        upstream_tls: false,
        upstream_auth: None,
        upstream_plaintext_auth: false,
        upstream_pin_cert: None,
        upstream_accept_any_cert: false,
        upstream_lmtp: false,
    };
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| argv.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--upstream" => upstream = Some(value("--upstream")?),
            "--listen" => {
                let v = value("--listen")?;
                a.listen
                    .push(v.parse().map_err(|e| format!("--listen {v}: {e}"))?);
            }
            "--hostname" => a.hostname = value("--hostname")?,
            "--max-size" => {
                let v = value("--max-size")?;
                a.max_size = v.parse().map_err(|e| format!("--max-size {v}: {e}"))?;
            }
            "--lmtp" => a.lmtp = true,
            "--upstream-starttls" => a.upstream_starttls = true,
            "--upstream-tls" => a.upstream_tls = true,
            "--upstream-auth" => {
                let v = value("--upstream-auth")?;
                let (u, p) = v
                    .split_once(':')
                    .ok_or("--upstream-auth wants USER:PASSWORD")?;
                a.upstream_auth = Some((u.to_owned(), p.to_owned()));
            }
            "--upstream-plaintext-auth" => a.upstream_plaintext_auth = true,
            "--upstream-pin-cert" => a.upstream_pin_cert = Some(value("--upstream-pin-cert")?),
            "--upstream-insecure-accept-any-cert" => a.upstream_accept_any_cert = true,
            "--upstream-lmtp" => a.upstream_lmtp = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    a.upstream = upstream.ok_or("--upstream is required")?;
    if a.listen.is_empty() {
        a.listen
            .push("127.0.0.1:2526".parse().map_err(|_| "default address")?);
    }
    if a.upstream_starttls && a.upstream_tls {
        return Err("--upstream-starttls and --upstream-tls exclude each other".into());
    }
    Ok(a)
}

fn upstream_config(a: &Args) -> Result<ClientConfig, String> {
    let session = SessionConfig {
        protocol: if a.upstream_lmtp {
            Protocol::Lmtp
        } else {
            Protocol::Smtp
        },
        tls: if a.upstream_starttls {
            TlsPolicy::Required
        } else {
            TlsPolicy::None
        },
        credentials: a
            .upstream_auth
            .as_ref()
            .map(|(user, password)| Credentials::password(user.as_str(), password.as_str())),
        cleartext_auth: if a.upstream_plaintext_auth {
            CleartextPolicy::Allow
        } else {
            CleartextPolicy::RequireTls
        },
        ..SessionConfig::default()
    };
    let trust = match (&a.upstream_pin_cert, a.upstream_accept_any_cert) {
        (Some(path), _) => {
            use rustls::pki_types::pem::PemObject;
            ServerCertificate::Pinned(
                rustls::pki_types::CertificateDer::from_pem_file(path)
                    .map_err(|e| format!("--upstream-pin-cert {path}: {e}"))?,
            )
        }
        (None, true) => ServerCertificate::DangerousAcceptAnyCertificate,
        (None, false) => ServerCertificate::WebPkiRoots,
    };
    Ok(ClientConfig::new(Arc::new(session))
        .with_tls_mode(if a.upstream_tls {
            TlsMode::Implicit
        } else {
            TlsMode::StartTls
        })
        .with_server_certificate(trust))
}

/// Where and how to forward.
struct Upstream {
    addr: String,
    config: ClientConfig,
}

/// One inbound connection: the message being received and the upstream connection.
struct Relay {
    upstream: Arc<Upstream>,
    max_size: u64,
    lmtp_inbound: bool,
    client: Option<Client>,
    envelope: Option<Envelope>,
    body: BytesMut,
}

fn reply(code: ReplyCode, enhanced: &str, text: &'static str) -> Reply {
    Reply::new(
        code,
        EnhancedCode::parse(enhanced.as_bytes()),
        Bytes::from_static(text.as_bytes()),
    )
}

/// The sender's reply for one recipient: the upstream's verdict for it.
fn recipient_reply(r: &smtp_tokio::client::RecipientDelivery) -> Reply {
    match r.reply() {
        // A 2yz RCPT reply without a final reply means the message failed after RCPT.
        Some(reply) if r.class() != OutcomeClass::Success && reply.is_positive() => {
            reply_for_failure(r.class())
        }
        Some(reply) if !reply.code().is_positive_intermediate() => reply.clone(),
        _ => reply_for_failure(r.class()),
    }
}

fn reply_for_failure(class: OutcomeClass) -> Reply {
    match class {
        OutcomeClass::Permanent => {
            reply(ReplyCode::TRANSACTION_FAILED, "5.0.0", "rejected upstream")
        }
        _ => reply(
            ReplyCode::LOCAL_ERROR,
            "4.4.0",
            "upstream did not deliver; try again later",
        ),
    }
}

/// One reply for the whole message (SMTP inbound).
fn message_reply(d: &Delivery) -> Reply {
    let delivered: Vec<_> = d
        .recipients
        .iter()
        .filter(|r| r.class() == OutcomeClass::Success)
        .collect();
    if let Some(first) = delivered.first() {
        if delivered.len() < d.recipients.len() {
            for r in d
                .recipients
                .iter()
                .filter(|r| r.class() != OutcomeClass::Success)
            {
                let reply = r.reply().map(show).unwrap_or_default();
                tracing::warn!(
                    recipient = r.index,
                    %reply,
                    "refused upstream while others were accepted: not retried"
                );
            }
        }
        return recipient_reply(first);
    }
    // Nobody accepted: transient wins, so the sender retries.
    let refused = d
        .recipients
        .iter()
        .find(|r| r.class() == OutcomeClass::Transient)
        .or_else(|| d.recipients.first());
    refused
        .map(recipient_reply)
        .unwrap_or_else(|| reply_for_failure(OutcomeClass::Transient))
}

/// A reply on one line, for logs.
fn show(reply: &Reply) -> String {
    let mut s = reply.code().to_string();
    if let Some(e) = reply.enhanced() {
        s.push_str(&format!(" {e}"));
    }
    s.push(' ');
    s.push_str(&String::from_utf8_lossy(reply.first_line()));
    s
}

impl Relay {
    async fn forward(
        &mut self,
        envelope: Envelope,
        body: Bytes,
    ) -> Result<Delivery, smtp_tokio::client::Error> {
        let client = match self.client.as_mut() {
            Some(client) => client,
            None => self
                .client
                .insert(Client::connect(&self.upstream.addr, &self.upstream.config).await?),
        };
        let result = client.send(envelope, body).await;
        if result.is_err() {
            // The upstream connection is unusable; the next message opens a new one.
            self.client = None;
        }
        result
    }
}

impl Handler for Relay {
    async fn mail(&mut self, request: &MailRequest) -> Decision {
        let mut envelope = Envelope::new(request.reverse_path.clone());
        envelope.params = request.params.clone();
        self.envelope = Some(envelope);
        self.body.clear();
        Decision::Accept
    }

    async fn rcpt(&mut self, request: &RcptRequest) -> Decision {
        if let Some(envelope) = self.envelope.as_mut() {
            envelope.recipients.push(Recipient {
                forward_path: request.forward_path.clone(),
                params: request.params.clone(),
            });
        }
        Decision::Accept
    }

    async fn body(&mut self, chunk: Bytes) {
        // The inbound session enforces SIZE; this bound only guards the relay's memory.
        if (self.body.len() + chunk.len()) as u64 <= self.max_size {
            self.body.extend_from_slice(&chunk);
        }
    }

    async fn end_of_message(&mut self, message: &EndOfMessage) -> Decision {
        let Some(envelope) = self.envelope.take() else {
            return Decision::Reject(reply(ReplyCode::LOCAL_ERROR, "4.3.0", "no transaction"));
        };
        let body = std::mem::take(&mut self.body).freeze();
        if body.len() as u64 != message.size {
            return Decision::Reject(reply(
                ReplyCode::EXCEEDED_STORAGE,
                "5.3.4",
                "message too big for the relay",
            ));
        }
        let recipients = envelope.recipients.len();
        match self.forward(envelope, body).await {
            Ok(delivery) => {
                let delivered = delivery
                    .recipients
                    .iter()
                    .filter(|r| r.class() == OutcomeClass::Success)
                    .count();
                tracing::info!(octets = message.size, delivered, recipients, "relayed");
                if self.lmtp_inbound {
                    Decision::PerRecipient(
                        delivery.recipients.iter().map(recipient_reply).collect(),
                    )
                } else {
                    let r = message_reply(&delivery);
                    if r.is_positive() {
                        Decision::AcceptWith(r)
                    } else {
                        Decision::Reject(r)
                    }
                }
            }
            Err(e) => {
                tracing::warn!(upstream = %self.upstream.addr, error = %e, "upstream failed");
                let r = reply(
                    ReplyCode::LOCAL_ERROR,
                    "4.4.1",
                    "upstream unavailable; try again later",
                );
                if self.lmtp_inbound {
                    Decision::PerRecipient(vec![r; recipients])
                } else {
                    Decision::Reject(r)
                }
            }
        }
    }

    async fn message_aborted(&mut self, _reason: AbortReason) {
        self.envelope = None;
        self.body.clear();
    }

    async fn closed(&mut self, _reason: CloseReason) {
        if let Some(client) = self.client.take() {
            let _ = client.quit().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("relay: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let config = match upstream_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("relay: {e}");
            return ExitCode::from(2);
        }
    };
    let upstream = Arc::new(Upstream {
        addr: args.upstream.clone(),
        config,
    });
    let mut server_config = ServerConfig::new(args.hostname.as_str());
    server_config.limits.max_message_size = Some(args.max_size);
    if args.lmtp {
        server_config.protocol = smtp_proto::server::Protocol::Lmtp;
    }
    let mut builder = Server::builder(server_config);
    for addr in &args.listen {
        builder = builder.listen(*addr);
    }
    let server = match builder.bind().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("relay: {e}");
            return ExitCode::from(2);
        }
    };
    for addr in server.local_addrs() {
        tracing::info!(%addr, upstream = %args.upstream, "listening");
    }
    let max_size = args.max_size;
    let lmtp = args.lmtp;
    let result = server
        .serve(move |_: &ConnectionInfo| Relay {
            upstream: Arc::clone(&upstream),
            max_size,
            lmtp_inbound: lmtp,
            client: None,
            envelope: None,
            body: BytesMut::new(),
        })
        .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay: {e}");
            ExitCode::from(1)
        }
    }
}
