//! Server configuration: identity, advertised extensions, limits, timeouts and policies.
//!
//! [`ServerConfig`] is plain data with documented defaults; tune its fields, then turn it into
//! a [`PreparedConfig`] once (it precomputes the greeting and the EHLO replies) and share that
//! between sessions: cloning a `PreparedConfig` is one reference-count increment.
//!
//! ```
//! use smtp_proto::server::{PreparedConfig, ServerConfig};
//! let mut config = ServerConfig::new("mx.example.org");
//! config.limits.max_recipients = 50;
//! config.extensions.starttls = true; // the adapter has a certificate
//! let prepared = PreparedConfig::new(config);
//! assert_eq!(prepared.limits.max_recipients, 50);
//! ```

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};
use core::time::Duration;

pub use crate::framing::data::BareLineEndingPolicy;
use crate::options::{LineEnding, ParseOptions, PathSyntax};
use crate::reply::{EnhancedCode, Reply, ReplyCode};
use crate::sasl::Mechanism;

/// SMTP (RFC 5321) or LMTP (RFC 2033).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// SMTP: HELO/EHLO, one reply at the end of data (the default).
    #[default]
    Smtp,
    /// LMTP: LHLO only, one reply per accepted recipient at the end of data.
    Lmtp,
}

/// What the session sends when the connection opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// `220 <hostname> ESMTP <text>` (or `LMTP`), then normal service.
    Banner(String),
    /// Refuse service (RFC 5321 3.1): send this reply (normally `554`), answer every command
    /// but QUIT with `503 5.5.1`, and QUIT with `221`.
    Reject(Reply),
    /// Send this reply (normally `421 4.3.2`, RFC 5321 3.8) and close at once, without
    /// waiting for QUIT: for a server over its connection limit or shutting down. The session
    /// emits `Closed { reason: Refused }` once the reply has been taken.
    Close(Reply),
}

impl Default for Greeting {
    fn default() -> Self {
        Greeting::Banner(String::from("Service ready"))
    }
}

/// Which service extensions the EHLO (or LHLO) reply advertises. A parameter that belongs to
/// an extension that is not advertised is refused with `555 5.5.4`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// `PIPELINING` (RFC 2920). Default on.
    pub pipelining: bool,
    /// `SIZE` (RFC 1870) with [`Limits::max_message_size`]. Default on.
    pub size: bool,
    /// `8BITMIME` (RFC 6152). Default on.
    pub eight_bit_mime: bool,
    /// `BINARYMIME` (RFC 3030); needs `chunking`. Default off.
    pub binary_mime: bool,
    /// `CHUNKING`: the BDAT command (RFC 3030). Default on.
    pub chunking: bool,
    /// `SMTPUTF8` (RFC 6531). Default on.
    pub smtputf8: bool,
    /// `DSN` (RFC 3461): the RET, ENVID, NOTIFY and ORCPT parameters. Default off.
    pub dsn: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034): replies carry `x.y.z` codes after EHLO/LHLO.
    /// Default on.
    pub enhanced_status_codes: bool,
    /// `STARTTLS` (RFC 3207). Set it only when the adapter can run a TLS handshake. It is
    /// never advertised once TLS is active. Default off.
    pub starttls: bool,
    /// `AUTH` mechanisms (RFC 4954). PLAIN and LOGIN are decoded by the session; any other
    /// mechanism is run by the application through `AuthStep` events. Empty (the default)
    /// means no AUTH.
    pub auth: Vec<Mechanism>,
    /// `REQUIRETLS` (RFC 8689), advertised only over TLS. Default off.
    pub requiretls: bool,
    /// `LIMITS` (RFC 9422) with `RCPTMAX` and, when set, `MAILMAX`. Default off.
    pub limits: bool,
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions {
            pipelining: true,
            size: true,
            eight_bit_mime: true,
            binary_mime: false,
            chunking: true,
            smtputf8: true,
            dsn: false,
            enhanced_status_codes: true,
            starttls: false,
            auth: Vec::new(),
            requiretls: false,
            limits: false,
        }
    }
}

/// Size and count limits. Every buffer the session keeps is bounded by one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Recipients accepted per transaction; more get `452 4.5.3` (RFC 5321 4.5.3.1.8 asks for
    /// at least 100, which is the default).
    pub max_recipients: usize,
    /// Largest message in octets (after dot-unstuffing); `None` for no limit. A larger
    /// `SIZE=` gets `552 5.3.4` at MAIL, a larger body is read to its end and refused with
    /// `552 5.3.4`. Default 10 MiB.
    pub max_message_size: Option<u64>,
    /// Longest command line in octets including CRLF. RFC 5321 4.5.3.1.4 says 512, plus the
    /// RFC 1869 allowance for parameters; default 2048.
    pub max_command_line: usize,
    /// Longest AUTH command or SASL response line (RFC 4954 4: 12288). Default 12288.
    pub max_auth_line: usize,
    /// Input the session keeps buffered while a decision is pending before
    /// `wants_read()` turns false. Default 64 KiB.
    pub max_pending_input: usize,
    /// Hard cap on buffered input for drivers that keep reading when `wants_read()` is false:
    /// past it the session answers `421 4.7.0` and closes. Default 1 MiB.
    pub max_buffered_input: usize,
    /// Negative replies before `421 4.7.0` and close. Default 20 (Postfix's hard limit).
    pub max_errors: u32,
    /// Transactions (MAIL commands accepted) per session; `None` (the default) for no limit.
    /// The next MAIL past the limit gets `421 4.7.0` and the connection closes.
    pub max_transactions: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_recipients: 100,
            max_message_size: Some(10 * 1024 * 1024),
            max_command_line: 2048,
            max_auth_line: 12288,
            max_pending_input: 64 * 1024,
            max_buffered_input: 1024 * 1024,
            max_errors: 20,
            max_transactions: None,
        }
    }
}

/// How long the session waits for the peer (RFC 5321 4.5.3.2.7: a server SHOULD wait at least
/// 5 minutes for the next command). No peer timer runs while the application's decision is
/// pending or during a TLS hand-off. An expired timer sends `421 4.4.2` and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Waiting for a command line. Default 5 minutes.
    pub command: Duration,
    /// Waiting for more DATA or BDAT octets. Default 5 minutes.
    pub data: Duration,
    /// Waiting for a SASL response line. Default 5 minutes.
    pub auth: Duration,
    /// Hold the greeting this long and treat anything the client sends before it as early
    /// talk (see [`EarlyTalkerPolicy`]). Default `None`: greet at once.
    pub greeting_delay: Option<Duration>,
    /// Close any session after this long, whatever it is doing. Default `None`.
    pub session: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            command: Duration::from_secs(300),
            data: Duration::from_secs(300),
            auth: Duration::from_secs(300),
            greeting_delay: None,
            session: None,
        }
    }
}

/// Whether AUTH is offered before TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthTlsPolicy {
    /// AUTH is advertised and accepted only over TLS; before, it gets `538 5.7.11`
    /// (the default; RFC 4954 4 and RFC 8314).
    #[default]
    RequireTls,
    /// AUTH works on plaintext connections too.
    AllowPlaintext,
}

/// Whether MAIL needs a successful AUTH first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MailAuthPolicy {
    /// Anyone may send MAIL (the default, for an MX).
    #[default]
    Optional,
    /// MAIL before AUTH gets `530 5.7.0` (a submission server).
    Required,
}

/// What to do with a client that talks before the greeting was sent (see
/// [`Timeouts::greeting_delay`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EarlyTalkerPolicy {
    /// Replace the greeting with `554 5.5.0` and refuse service as
    /// [`Greeting::Reject`] does (the default; Postfix postscreen's pregreet test).
    #[default]
    Refuse,
    /// Ignore it.
    Tolerate,
}

/// What to do with commands pipelined after a command that must end a group (RFC 2920 3.1:
/// EHLO, VRFY, EXPN, NOOP, HELP, AUTH, and any command when PIPELINING was not negotiated)
/// while its reply was still pending. DATA, BDAT, QUIT and STARTTLS have their own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PipeliningPolicy {
    /// Execute them (the default; many clients pipeline loosely).
    #[default]
    Tolerate,
    /// Answer each of them with `503 5.5.0` without executing it (Postfix
    /// `reject_unauth_pipelining`).
    Refuse,
}

/// What to do with plaintext that follows STARTTLS before the handshake (CVE-2011-0411).
/// Such input is never executed; this decides whether the session continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartTlsInjectionPolicy {
    /// Discard it, report the count in the `StartTls` event, run the handshake (the default).
    #[default]
    Discard,
    /// When input follows the STARTTLS line already, answer `421 4.7.0` and close instead.
    Close,
}

/// How VRFY is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VrfyPolicy {
    /// `252 2.0.0 Cannot VRFY user` (the default; RFC 5321 3.5.3).
    #[default]
    CannotVerify,
    /// Ask the application with a `Vrfy` event.
    Ask,
    /// `502 5.5.1`.
    Disabled,
}

/// How EXPN is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpnPolicy {
    /// `502 5.5.1` (the default: mailing-list expansion leaks addresses).
    #[default]
    Disabled,
    /// Ask the application with an `Expn` event.
    Ask,
}

/// Policies: the choices where RFCs leave room or where safety beats leniency.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// AUTH before TLS.
    pub auth_tls: AuthTlsPolicy,
    /// AUTH before MAIL.
    pub mail_auth: MailAuthPolicy,
    /// Bare CR / LF inside DATA.
    pub bare_line_endings: BareLineEndingPolicy,
    /// Line endings accepted on command lines (default CRLF only, RFC 5321 2.3.8).
    pub command_line_ending: LineEnding,
    /// Path leniency for MAIL/RCPT (default strict).
    pub path_syntax: PathSyntax,
    /// Talk before the greeting.
    pub early_talker: EarlyTalkerPolicy,
    /// Commands pipelined where RFC 2920 does not allow it.
    pub improper_pipelining: PipeliningPolicy,
    /// Plaintext pipelined after STARTTLS.
    pub starttls_injection: StartTlsInjectionPolicy,
    /// VRFY.
    pub vrfy: VrfyPolicy,
    /// EXPN.
    pub expn: ExpnPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            auth_tls: AuthTlsPolicy::RequireTls,
            mail_auth: MailAuthPolicy::Optional,
            bare_line_endings: BareLineEndingPolicy::Reject,
            command_line_ending: LineEnding::CrLf,
            path_syntax: PathSyntax::Strict,
            early_talker: EarlyTalkerPolicy::Refuse,
            improper_pipelining: PipeliningPolicy::Tolerate,
            starttls_injection: StartTlsInjectionPolicy::Discard,
            vrfy: VrfyPolicy::CannotVerify,
            expn: ExpnPolicy::Disabled,
        }
    }
}

/// Everything a server session is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The server's name in the greeting and the EHLO reply.
    pub hostname: String,
    /// The greeting, or a refusal of service.
    pub greeting: Greeting,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// What EHLO advertises.
    pub extensions: Extensions,
    /// Limits.
    pub limits: Limits,
    /// Peer timeouts.
    pub timeouts: Timeouts,
    /// Policies.
    pub policy: Policy,
    /// The text of the `214` reply to HELP.
    pub help_text: String,
}

impl ServerConfig {
    /// Defaults for a server called `hostname`.
    pub fn new(hostname: impl Into<String>) -> Self {
        ServerConfig {
            hostname: hostname.into(),
            greeting: Greeting::default(),
            protocol: Protocol::Smtp,
            extensions: Extensions::default(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            policy: Policy::default(),
            help_text: String::from("See RFC 5321"),
        }
    }

    /// The parse options for command lines under this configuration.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            line_ending: self.policy.command_line_ending,
            path_syntax: self.policy.path_syntax,
            max_line: self.limits.max_command_line,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new("localhost")
    }
}

/// A [`ServerConfig`] with its fixed replies computed once, shared by reference count.
///
/// Dereferences to the [`ServerConfig`] it was made from.
#[derive(Debug, Clone)]
pub struct PreparedConfig(Arc<Prepared>);

#[derive(Debug)]
struct Prepared {
    config: ServerConfig,
    parse: ParseOptions,
    parse_auth: ParseOptions,
    greeting: Bytes,
    helo: Bytes,
    /// EHLO/LHLO replies indexed by [`EhloVariant::index`].
    ehlo: [Bytes; 4],
}

/// Which EHLO reply a session needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EhloVariant {
    pub(crate) tls: bool,
    pub(crate) auth: bool,
}

impl EhloVariant {
    fn index(self) -> usize {
        usize::from(self.tls) * 2 + usize::from(self.auth)
    }
}

impl PreparedConfig {
    /// Precomputes the greeting, the HELO reply and the four EHLO replies (before and after
    /// TLS, with and without AUTH).
    pub fn new(config: ServerConfig) -> Self {
        let greeting = match &config.greeting {
            Greeting::Banner(text) => {
                let proto = match config.protocol {
                    Protocol::Smtp => "ESMTP",
                    Protocol::Lmtp => "LMTP",
                };
                let mut line = BytesMut::new();
                line.put_slice(config.hostname.as_bytes());
                line.put_u8(b' ');
                line.put_slice(proto.as_bytes());
                if !text.is_empty() {
                    line.put_u8(b' ');
                    line.put_slice(text.as_bytes());
                }
                wire(
                    &Reply::new(ReplyCode::SERVICE_READY, None, line.freeze()),
                    false,
                )
            }
            Greeting::Reject(r) | Greeting::Close(r) => wire(r, false),
        };
        let helo = wire(
            &Reply::new(ReplyCode::OK, None, Bytes::from(config.hostname.clone())),
            false,
        );
        let ehlo = [
            ehlo_reply(
                &config,
                EhloVariant {
                    tls: false,
                    auth: false,
                },
            ),
            ehlo_reply(
                &config,
                EhloVariant {
                    tls: false,
                    auth: true,
                },
            ),
            ehlo_reply(
                &config,
                EhloVariant {
                    tls: true,
                    auth: false,
                },
            ),
            ehlo_reply(
                &config,
                EhloVariant {
                    tls: true,
                    auth: true,
                },
            ),
        ];
        let parse = config.parse_options();
        let parse_auth = ParseOptions {
            max_line: parse.max_line.max(config.limits.max_auth_line),
            ..parse
        };
        PreparedConfig(Arc::new(Prepared {
            parse,
            parse_auth,
            config,
            greeting,
            helo,
            ehlo,
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// Parse options for a command line: AUTH lines may be as long as
    /// [`Limits::max_auth_line`] (RFC 4954 4), every other line keeps the command limit.
    pub(crate) fn parse_options_for(&self, line: &[u8]) -> &ParseOptions {
        let auth = line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ");
        if auth {
            &self.0.parse_auth
        } else {
            &self.0.parse
        }
    }

    pub(crate) fn greeting_wire(&self) -> &Bytes {
        &self.0.greeting
    }

    pub(crate) fn helo_wire(&self) -> &Bytes {
        &self.0.helo
    }

    pub(crate) fn ehlo_wire(&self, v: EhloVariant) -> &Bytes {
        &self.0.ehlo[v.index()]
    }
}

impl core::ops::Deref for PreparedConfig {
    type Target = ServerConfig;
    fn deref(&self) -> &ServerConfig {
        &self.0.config
    }
}

impl From<ServerConfig> for PreparedConfig {
    fn from(c: ServerConfig) -> Self {
        PreparedConfig::new(c)
    }
}

fn wire(reply: &Reply, enhanced: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(reply.wire_len());
    if enhanced {
        reply.write(&mut out);
    } else {
        reply.write_plain(&mut out);
    }
    out.freeze()
}

/// The EHLO reply lines, in Postfix's order. Written here rather than through
/// `Capabilities::to_reply` so that the server controls exactly what it advertises per variant.
fn ehlo_reply(c: &ServerConfig, v: EhloVariant) -> Bytes {
    let x = &c.extensions;
    let mut lines: Vec<Bytes> = Vec::new();
    lines.push(Bytes::from(c.hostname.clone()));
    let mut push = |s: &str| lines.push(Bytes::copy_from_slice(s.as_bytes()));
    if x.pipelining {
        push("PIPELINING");
    }
    if x.size {
        match c.limits.max_message_size {
            Some(n) => push(&alloc::format!("SIZE {n}")),
            None => push("SIZE"),
        }
    }
    if x.starttls && !v.tls {
        push("STARTTLS");
    }
    if v.auth && !x.auth.is_empty() {
        let mut s = String::from("AUTH");
        for m in &x.auth {
            s.push(' ');
            s.push_str(core::str::from_utf8(m.name()).unwrap_or("X"));
        }
        push(&s);
    }
    if x.enhanced_status_codes {
        push("ENHANCEDSTATUSCODES");
    }
    if x.eight_bit_mime {
        push("8BITMIME");
    }
    if x.binary_mime && x.chunking {
        push("BINARYMIME");
    }
    if x.dsn {
        push("DSN");
    }
    if x.smtputf8 {
        push("SMTPUTF8");
    }
    if x.chunking {
        push("CHUNKING");
    }
    if x.requiretls && v.tls {
        push("REQUIRETLS");
    }
    if x.limits {
        let mut s = alloc::format!("LIMITS RCPTMAX={}", c.limits.max_recipients);
        if let Some(m) = c.limits.max_transactions {
            s.push_str(&alloc::format!(" MAILMAX={m}"));
        }
        push(&s);
    }
    wire(&Reply::multiline(ReplyCode::OK, None, lines), false)
}

/// Replies the session itself sends that are not in `reply::standard`.
pub(crate) mod replies {
    use super::{EnhancedCode as E, Reply, ReplyCode as C};

    pub(crate) const EARLY_TALKER: Reply = Reply::from_static(
        C::TRANSACTION_FAILED,
        Some(E::PROTOCOL_ERROR),
        "Protocol error: talking before the greeting",
    );
    pub(crate) const IMPROPER_PIPELINING: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::PROTOCOL_ERROR),
        "Improper use of SMTP command pipelining",
    );
    pub(crate) const NEED_HELO: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Send HELO/EHLO first",
    );
    pub(crate) const NEED_MAIL: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Need MAIL command",
    );
    pub(crate) const NESTED_MAIL: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Nested MAIL command",
    );
    pub(crate) const NEED_LHLO: Reply = Reply::from_static(
        C::SYNTAX_ERROR,
        Some(E::INVALID_COMMAND),
        "Command not recognized in LMTP, use LHLO",
    );
    pub(crate) const REJECTING: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Service refused, only QUIT is accepted",
    );
    pub(crate) const BARE_LINE_ENDING: Reply = Reply::from_static(
        C::MAILBOX_UNAVAILABLE,
        Some(E::BAD_CONTENT),
        "Message contains a bare CR or LF",
    );
    pub(crate) const INPUT_OVERFLOW: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::TEMP_SECURITY),
        "Too much pipelined input, closing connection",
    );
    pub(crate) const TOO_MANY_TRANSACTIONS: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::TEMP_SECURITY),
        "Too many messages in this session, closing connection",
    );
    pub(crate) const STARTTLS_INJECTION: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::TEMP_SECURITY),
        "Commands pipelined after STARTTLS, closing connection",
    );
    pub(crate) const TLS_ACTIVE: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "TLS already active",
    );
    pub(crate) const IN_TRANSACTION: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Not allowed during a mail transaction",
    );
    pub(crate) const AUTH_NOT_ENABLED: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Authentication not enabled",
    );
    pub(crate) const ALREADY_AUTHENTICATED: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Already authenticated",
    );
    pub(crate) const UNSUPPORTED_MECHANISM: Reply = Reply::from_static(
        C::PARAMETER_NOT_IMPLEMENTED,
        Some(E::INVALID_ARGUMENTS),
        "Unrecognized authentication type",
    );
    pub(crate) const REQUIRETLS_NEEDS_TLS: Reply = Reply::from_static(
        C::AUTH_REQUIRED,
        Some(E::ENCRYPTION_NEEDED),
        "REQUIRETLS needs a TLS connection",
    );
    pub(crate) const BINARYMIME_NEEDS_BDAT: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "BINARYMIME requires BDAT",
    );
    pub(crate) const NO_MIXING: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "DATA and BDAT cannot be mixed in one transaction",
    );
    pub(crate) const AUTH_MALFORMED: Reply = Reply::from_static(
        C::ARGUMENT_SYNTAX_ERROR,
        Some(E::SYNTAX_ERROR),
        "Malformed authentication response",
    );
}
