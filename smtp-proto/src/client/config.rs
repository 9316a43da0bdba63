//! Client configuration: [`ClientConfig`] and its parts.

use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use crate::address::{Domain, Host};
use crate::reply::ReplyLimits;
use crate::sasl::Mechanism;
use crate::Secret;

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

/// Whether credentials may be sent on a connection without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PlaintextAuth {
    /// Never: without TLS, AUTH is not attempted and the session ends with
    /// [`super::ClientError::AuthUnavailable`].
    #[default]
    Forbid,
    /// Allow (tests, loopback, trusted networks).
    Allow,
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

/// The secret part of [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialSecret {
    /// For PLAIN, LOGIN and SCRAM-SHA-256.
    Password(Secret<Bytes>),
    /// For XOAUTH2 and OAUTHBEARER.
    OAuthToken(Secret<Bytes>),
}

/// What AUTH uses (RFC 4954): a user name and a password or an OAuth 2.0 bearer token.
/// `Debug` never prints the secret.
///
/// The session picks the strongest mechanism that the server advertises and the secret
/// allows: with a password SCRAM-SHA-256 (when a nonce was given), then PLAIN, then
/// LOGIN; with a token OAUTHBEARER, then XOAUTH2.
///
/// ```
/// use smtp_proto::client::Credentials;
/// let c = Credentials::password("user", "secret");
/// assert!(!format!("{c:?}").contains("secret"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub(crate) authcid: Bytes,
    pub(crate) authzid: Option<Bytes>,
    pub(crate) secret: CredentialSecret,
    pub(crate) allowed: Option<Vec<Mechanism>>,
    pub(crate) scram_nonce: Option<Secret<Bytes>>,
}

impl Credentials {
    /// A user name and a password.
    pub fn password(user: impl Into<Bytes>, password: impl Into<Bytes>) -> Self {
        Credentials {
            authcid: user.into(),
            authzid: None,
            secret: CredentialSecret::Password(Secret::new(password.into())),
            allowed: None,
            scram_nonce: None,
        }
    }

    /// A user name and an OAuth 2.0 bearer token (XOAUTH2, OAUTHBEARER RFC 7628).
    pub fn oauth_token(user: impl Into<Bytes>, token: impl Into<Bytes>) -> Self {
        Credentials {
            authcid: user.into(),
            authzid: None,
            secret: CredentialSecret::OAuthToken(Secret::new(token.into())),
            allowed: None,
            scram_nonce: None,
        }
    }

    /// Acts on behalf of another identity (the SASL authorization identity).
    pub fn with_authzid(mut self, authzid: impl Into<Bytes>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// Restricts the mechanisms the session may choose, in order of preference.
    pub fn with_mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.allowed = Some(mechanisms.into_iter().collect());
        self
    }

    /// Enables SCRAM-SHA-256 with this client nonce (printable ASCII without `,`; at least
    /// 16 random octets' worth). The core has no random source, so the caller supplies it;
    /// a nonce MUST NOT be reused.
    pub fn with_scram_nonce(mut self, nonce: impl Into<Bytes>) -> Self {
        self.scram_nonce = Some(Secret::new(nonce.into()));
        self
    }

    /// The user name (authentication identity).
    pub fn user(&self) -> &Bytes {
        &self.authcid
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
    /// no usable mechanism or a refusal ends the session.
    pub credentials: Option<Credentials>,
    /// Whether AUTH may happen without TLS. Default: forbidden.
    pub plaintext_auth: PlaintextAuth,
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
            hello_name: Host::Domain(Domain(Bytes::from_static(b"localhost"))),
            protocol: Protocol::Smtp,
            tls: TlsPolicy::Opportunistic,
            credentials: None,
            plaintext_auth: PlaintextAuth::Forbid,
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
