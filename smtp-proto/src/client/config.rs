//! Client configuration: [`ClientConfig`] and its parts.

use bytes::Bytes;
use core::time::Duration;

use crate::address::{Domain, Host};
use crate::reply::ReplyLimits;
use crate::sasl::{CleartextPolicy, Credentials};

/// SMTP (RFC 5321) or LMTP (RFC 2033).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// SMTP: `EHLO`, falling back to `HELO`; one reply after the body.
    #[default]
    Smtp,
    /// LMTP: `LHLO`; one reply per accepted recipient after the body.
    Lmtp,
}

/// When to use STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TlsPolicy {
    /// Never: stay in plaintext even when STARTTLS is offered.
    None,
    /// Use STARTTLS when offered; go on in plaintext when it is not offered or is refused.
    #[default]
    Opportunistic,
    /// Use STARTTLS; when the server does not offer it or refuses it, send QUIT and close
    /// with [`super::ClientError::TlsUnavailable`] / [`super::ClientError::StartTlsRejected`].
    /// Nothing else is ever sent in plaintext.
    Required,
}

/// Whether to use an extension the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Usage {
    /// Use it when the server advertises it.
    #[default]
    WhenOffered,
    /// Never use it.
    Never,
}

/// What happens to line endings in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEndings {
    /// Bare LF and bare CR become CRLF and a non-empty body that does not end in CRLF gets
    /// one; with DATA, lines starting with `.` are dot-stuffed. The message arrives as it
    /// would be stored after that normalisation, whether DATA or BDAT carries it.
    #[default]
    Normalize,
    /// The bytes go exactly as given, which needs BDAT (CHUNKING offered and
    /// [`ClientConfig::chunking`] not `Never`). When a transaction must fall back to DATA,
    /// the body is normalised as with [`LineEndings::Normalize`], since DATA cannot carry
    /// bare line endings safely. `BODY=BINARYMIME` always uses this mode.
    Preserve,
}

/// Per-reply timeouts. Defaults are the client minimums of RFC 5321 4.5.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// Waiting for the `220` greeting (4.5.3.2.1): 5 minutes.
    pub greeting: Duration,
    /// Waiting for the reply to `MAIL` (4.5.3.2.2): 5 minutes.
    pub mail: Duration,
    /// Waiting for the reply to `RCPT` (4.5.3.2.3): 5 minutes.
    pub rcpt: Duration,
    /// Waiting for the `354` to `DATA` (4.5.3.2.4): 2 minutes.
    pub data_initiation: Duration,
    /// Body bytes waiting for `poll_transmit` (the adapter's write is stuck), and the reply to
    /// a non-last `BDAT` (4.5.3.2.5): 3 minutes.
    pub data_block: Duration,
    /// Waiting for the reply to the end of data or `BDAT LAST` (4.5.3.2.6): 10 minutes.
    pub data_termination: Duration,
    /// Any other reply (EHLO, STARTTLS, AUTH, RSET, QUIT): 5 minutes.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MIN: u64 = 60;
        Timeouts {
            greeting: Duration::from_secs(5 * MIN),
            mail: Duration::from_secs(5 * MIN),
            rcpt: Duration::from_secs(5 * MIN),
            data_initiation: Duration::from_secs(2 * MIN),
            data_block: Duration::from_secs(3 * MIN),
            data_termination: Duration::from_secs(10 * MIN),
            command: Duration::from_secs(5 * MIN),
        }
    }
}

/// Everything that shapes a client session. Share one per destination with `Arc`.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The argument of EHLO/HELO/LHLO: this host's name or address literal.
    /// Default: `localhost`.
    pub hello_name: Host,
    /// SMTP or LMTP. Default: SMTP.
    pub protocol: Protocol,
    /// STARTTLS policy. Default: opportunistic.
    pub tls: TlsPolicy,
    /// Credentials for AUTH; `None` (the default) skips AUTH. When set, AUTH is required:
    /// no usable mechanism or a refusal ends the session. The mechanism is the best one
    /// the server offers and the credentials allow ([`Credentials::select_mechanism`]);
    /// SCRAM-SHA-256 also needs a nonce per session ([`super::Session::set_scram_nonce`]).
    pub credentials: Option<Credentials>,
    /// Whether mechanisms that reveal the secret (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) may
    /// be used without TLS. Default: only over TLS.
    pub cleartext_auth: CleartextPolicy,
    /// Pipelining (RFC 2920). Default: when offered.
    pub pipelining: Usage,
    /// BDAT (RFC 3030 CHUNKING). Default: when offered.
    pub chunking: Usage,
    /// Body line-ending handling. Default: normalise.
    pub line_endings: LineEndings,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Limits on one reply from the server (line length, lines per reply): a longer reply
    /// ends the session, so an endless multi-line reply cannot grow memory.
    pub reply_limits: ReplyLimits,
    /// Body bytes held before `body` pushes back. Default 64 KiB.
    pub max_body_buffer: usize,
    /// Unprocessed input above which `wants_read` turns false. Default 64 KiB.
    pub max_input_buffer: usize,
}

impl ClientConfig {
    /// The defaults with this hello name.
    pub fn new(hello_name: Host) -> Self {
        ClientConfig {
            hello_name,
            ..ClientConfig::default()
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            hello_name: Host::Domain(Domain::from_bytes(Bytes::from_static(b"localhost"))),
            protocol: Protocol::Smtp,
            tls: TlsPolicy::Opportunistic,
            credentials: None,
            cleartext_auth: CleartextPolicy::RequireTls,
            pipelining: Usage::WhenOffered,
            chunking: Usage::WhenOffered,
            line_endings: LineEndings::Normalize,
            timeouts: Timeouts::default(),
            reply_limits: ReplyLimits::default(),
            max_body_buffer: 64 * 1024,
            max_input_buffer: 64 * 1024,
        }
    }
}
