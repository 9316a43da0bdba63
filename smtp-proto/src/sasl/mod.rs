//! SASL mechanisms for AUTH (RFC 4954): names, and the messages each one exchanges.
//!
//! Everything here is sans-IO and works on decoded messages; [`decode_base64`] and
//! [`encode_base64`] convert to and from the base64 text of the `AUTH` command, the `334`
//! challenges and the client's responses (RFC 4954 4).
//!
//! | mechanism | module | client builds | server reads |
//! | --- | --- | --- | --- |
//! | PLAIN (RFC 4616) | [`plain`] | [`PlainCredentials::encode`] | [`PlainCredentials::decode`] |
//! | LOGIN (draft-murchison-sasl-login) | [`login`] | [`LoginClient`] | two [`decode_base64`] responses |
//! | XOAUTH2 (Google) | [`xoauth2`] | [`XOAuth2::encode`] | [`XOAuth2::decode`] |
//! | OAUTHBEARER (RFC 7628) | [`oauthbearer`] | [`OAuthBearer::encode`] | [`OAuthBearer::decode`] |
//! | SCRAM-SHA-256 (RFC 5802, 7677) | [`scram`] | [`ScramClient`] | [`ScramServer`] |
//!
//! Secrets (passwords, tokens, whole decoded responses) travel in [`Secret`], whose `Debug`
//! never shows them.
//!
//! ```
//! use smtp_proto::sasl::{decode_base64, encode_base64, PlainCredentials};
//! // RFC 4616 4: "tim" with password "tanstaaftanstaaf".
//! let wire = encode_base64(b"\0tim\0tanstaaftanstaaf");
//! assert_eq!(&wire[..], b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
//! let creds = PlainCredentials::decode(decode_base64(&wire)?.expose())?;
//! assert_eq!(&creds.authcid[..], b"tim");
//! # Ok::<(), smtp_proto::sasl::SaslError>(())
//! ```

use alloc::string::String;
use base64::Engine as _;
use bytes::Bytes;

use crate::reply::{standard, EnhancedCode, Reply, ReplyCode};
use crate::Secret;

pub mod login;
pub mod oauthbearer;
pub mod plain;
pub mod scram;
pub mod xoauth2;

#[cfg(test)]
mod tests;

pub use login::LoginClient;
pub use oauthbearer::OAuthBearer;
pub use plain::PlainCredentials;
pub use scram::{ScramClient, ScramClientFirst, ScramServer, ScramStoredKey};
pub use xoauth2::XOAuth2;

/// A SASL mechanism name as used in `AUTH` and the EHLO `AUTH` keyword.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login).
    Login,
    /// `XOAUTH2` (Google).
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628).
    OAuthBearer,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-1` (RFC 5802).
    ScramSha1,
    /// `CRAM-MD5` (RFC 2195).
    CramMd5,
    /// Any other mechanism name, as sent (upper-cased).
    Other(Bytes),
}

impl Mechanism {
    /// Recognises a mechanism name, case-insensitively.
    pub fn from_name(name: &[u8]) -> Mechanism {
        const KNOWN: &[(&[u8], Mechanism)] = &[
            (b"PLAIN", Mechanism::Plain),
            (b"LOGIN", Mechanism::Login),
            (b"XOAUTH2", Mechanism::XOAuth2),
            (b"OAUTHBEARER", Mechanism::OAuthBearer),
            (b"SCRAM-SHA-256", Mechanism::ScramSha256),
            (b"SCRAM-SHA-1", Mechanism::ScramSha1),
            (b"CRAM-MD5", Mechanism::CramMd5),
        ];
        for (n, m) in KNOWN {
            if name.eq_ignore_ascii_case(n) {
                return m.clone();
            }
        }
        Mechanism::Other(Bytes::from(name.to_ascii_uppercase()))
    }

    /// The mechanism name in upper case.
    pub fn name(&self) -> &[u8] {
        match self {
            Mechanism::Plain => b"PLAIN",
            Mechanism::Login => b"LOGIN",
            Mechanism::XOAuth2 => b"XOAUTH2",
            Mechanism::OAuthBearer => b"OAUTHBEARER",
            Mechanism::ScramSha256 => b"SCRAM-SHA-256",
            Mechanism::ScramSha1 => b"SCRAM-SHA-1",
            Mechanism::CramMd5 => b"CRAM-MD5",
            Mechanism::Other(n) => n,
        }
    }

    /// `true` for mechanisms that send the password or token itself (PLAIN, LOGIN, XOAUTH2,
    /// OAUTHBEARER): they belong on a TLS connection only (RFC 4954 4, RFC 7628 5).
    pub fn reveals_secret(&self) -> bool {
        matches!(
            self,
            Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2 | Mechanism::OAuthBearer
        )
    }
}

/// Why a SASL message could not be used. Each error names the reply a server sends for it
/// ([`SaslError::reply`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The response is not valid base64 (RFC 4954 4): `501 5.5.2`.
    #[error("invalid base64 in SASL message")]
    InvalidBase64,
    /// The client sent `*` (RFC 4954 4): `501 5.7.0`.
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The decoded message does not follow the mechanism's grammar: `501 5.5.2`.
    #[error("malformed SASL message: {0}")]
    Malformed(&'static str),
    /// A field is longer than the mechanism allows (RFC 4616 2: 255 octets): `501 5.5.2`.
    #[error("SASL field too long")]
    FieldTooLong,
    /// A name or password outside what this crate's SASLprep handles (SCRAM accepts printable
    /// ASCII only): `535 5.7.8`.
    #[error("unsupported characters in SASL name or password")]
    UnsupportedCharacters,
    /// Channel binding was requested (`p=`), which these mechanisms do not offer: `535 5.7.8`.
    #[error("channel binding not supported")]
    ChannelBindingNotSupported,
    /// The proof or signature did not verify (SCRAM): `535 5.7.8`.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The SCRAM server answered `e=...` (RFC 5802 7); the value is kept: `535 5.7.8`.
    #[error("server rejected authentication")]
    ServerRejected(Bytes),
    /// A SCRAM iteration count outside the accepted range (too costly, or zero): `535 5.7.8`.
    #[error("SCRAM iteration count out of range")]
    IterationCount(u32),
    /// A step was called out of order (the exchange is over or not yet there): `503 5.5.1`.
    #[error("SASL step out of order")]
    OutOfOrder,
}

impl SaslError {
    /// The reply a server sends for this error.
    ///
    /// ```
    /// use smtp_proto::sasl::SaslError;
    /// assert_eq!(SaslError::InvalidBase64.reply().code().as_u16(), 501);
    /// assert_eq!(SaslError::Cancelled.reply().enhanced().unwrap().to_string(), "5.7.0");
    /// ```
    pub fn reply(&self) -> Reply {
        match self {
            SaslError::InvalidBase64 => Reply::from_static(
                ReplyCode::ARGUMENT_SYNTAX_ERROR,
                Some(EnhancedCode::SYNTAX_ERROR),
                "Cannot decode base64 response",
            ),
            SaslError::Cancelled => standard::AUTH_CANCELLED,
            SaslError::Malformed(_) | SaslError::FieldTooLong => Reply::from_static(
                ReplyCode::ARGUMENT_SYNTAX_ERROR,
                Some(EnhancedCode::SYNTAX_ERROR),
                "Malformed authentication response",
            ),
            SaslError::UnsupportedCharacters
            | SaslError::ChannelBindingNotSupported
            | SaslError::AuthenticationFailed
            | SaslError::ServerRejected(_)
            | SaslError::IterationCount(_) => standard::AUTH_INVALID,
            SaslError::OutOfOrder => standard::BAD_SEQUENCE,
        }
    }
}

/// Decodes a client's response line (RFC 4954 4): strict base64 (STANDARD alphabet, canonical
/// padding, no whitespace); `*` is [`SaslError::Cancelled`] and `=` is the empty response
/// (allowed for an initial response; harmless elsewhere).
///
/// ```
/// use smtp_proto::sasl::{decode_base64, SaslError};
/// assert_eq!(&decode_base64(b"dXNlcg==")?.expose()[..], b"user");
/// assert!(decode_base64(b"=")?.expose().is_empty());
/// assert_eq!(decode_base64(b"*"), Err(SaslError::Cancelled));
/// assert_eq!(decode_base64(b"dXNlcg"), Err(SaslError::InvalidBase64));
/// # Ok::<(), SaslError>(())
/// ```
pub fn decode_base64(response: &[u8]) -> Result<Secret<Bytes>, SaslError> {
    match response {
        b"*" => Err(SaslError::Cancelled),
        b"=" => Ok(Secret::new(Bytes::new())),
        _ => base64::engine::general_purpose::STANDARD
            .decode(response)
            .map(|v| Secret::new(Bytes::from(v)))
            .map_err(|_| SaslError::InvalidBase64),
    }
}

/// Decodes a server's `334` challenge text. An empty text is the empty challenge; `=` and
/// `*` have no special meaning here.
pub fn decode_challenge(text: &[u8]) -> Result<Bytes, SaslError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Bytes::from)
        .map_err(|_| SaslError::InvalidBase64)
}

/// Encodes a message as base64 (STANDARD alphabet, padded). The empty message gives the empty
/// string, as a response to a `334` or a challenge; for an initial response use
/// [`encode_initial_response`].
pub fn encode_base64(message: &[u8]) -> Bytes {
    Bytes::from(base64::engine::general_purpose::STANDARD.encode(message))
}

/// Encodes an initial response for `AUTH mech initial-response`: like [`encode_base64`], but
/// the empty message is `=` (RFC 4954 4).
pub fn encode_initial_response(message: &[u8]) -> Bytes {
    if message.is_empty() {
        Bytes::from_static(b"=")
    } else {
        encode_base64(message)
    }
}

/// Whether mechanisms that reveal the secret may be chosen on a connection without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleartextPolicy {
    /// PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER only over TLS (the default; RFC 4954 4,
    /// RFC 8314).
    #[default]
    RequireTls,
    /// Also without TLS: for loopback and test setups only.
    Allow,
}

/// What a client authenticates with.
///
/// `Debug` shows the user name but never the password or token.
///
/// ```
/// use smtp_proto::sasl::{Credentials, Mechanism};
/// let c = Credentials::password("user", "secret");
/// assert!(!format!("{c:?}").contains("secret"));
/// let offered = [Mechanism::Login, Mechanism::Plain];
/// assert_eq!(c.best_mechanism(&offered, true), Some(Mechanism::Plain));
/// assert_eq!(c.best_mechanism(&offered, false), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password: SCRAM-SHA-256, PLAIN or LOGIN.
    Password {
        /// The authentication identity.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// A user name and OAuth 2.0 bearer token: OAUTHBEARER or XOAUTH2.
    Token {
        /// The user the token was issued for.
        username: String,
        /// The bearer token.
        token: Secret<String>,
    },
}

impl Credentials {
    /// User name and password.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Password {
            username: username.into(),
            password: Secret::new(password.into()),
        }
    }

    /// User name and OAuth 2.0 bearer token.
    pub fn token(username: impl Into<String>, token: impl Into<String>) -> Credentials {
        Credentials::Token {
            username: username.into(),
            token: Secret::new(token.into()),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        match self {
            Credentials::Password { username, .. } | Credentials::Token { username, .. } => {
                username
            }
        }
    }

    /// The best of the `offered` mechanisms for these credentials, with the default
    /// [`CleartextPolicy::RequireTls`]: passwords prefer SCRAM-SHA-256 > PLAIN > LOGIN, tokens
    /// OAUTHBEARER > XOAUTH2. Without TLS only SCRAM-SHA-256 qualifies.
    pub fn best_mechanism(&self, offered: &[Mechanism], over_tls: bool) -> Option<Mechanism> {
        self.select_mechanism(offered, over_tls, CleartextPolicy::RequireTls)
    }

    /// [`Credentials::best_mechanism`] with an explicit cleartext policy.
    pub fn select_mechanism(
        &self,
        offered: &[Mechanism],
        over_tls: bool,
        policy: CleartextPolicy,
    ) -> Option<Mechanism> {
        let preference: &[Mechanism] = match self {
            Credentials::Password { .. } => {
                &[Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login]
            }
            Credentials::Token { .. } => &[Mechanism::OAuthBearer, Mechanism::XOAuth2],
        };
        let cleartext_ok = over_tls || policy == CleartextPolicy::Allow;
        preference
            .iter()
            .find(|m| offered.contains(m) && (cleartext_ok || !m.reveals_secret()))
            .cloned()
    }
}

/// `saslname` of RFC 5802 5.1 and RFC 5801 4 (shared by SCRAM and OAUTHBEARER): `,` is sent
/// as `=2C` and `=` as `=3D`.
pub(crate) fn encode_saslname(name: &[u8], out: &mut bytes::BytesMut) {
    use bytes::BufMut as _;
    for &b in name {
        match b {
            b',' => out.put_slice(b"=2C"),
            b'=' => out.put_slice(b"=3D"),
            _ => out.put_u8(b),
        }
    }
}

/// The inverse of [`encode_saslname`]; any other `=` sequence, a bare `,`, NUL, or invalid
/// UTF-8 is malformed.
pub(crate) fn decode_saslname(name: &[u8]) -> Result<Bytes, SaslError> {
    const BAD: SaslError = SaslError::Malformed("bad saslname escape");
    let mut out = alloc::vec::Vec::with_capacity(name.len());
    let mut i = 0;
    while let Some(&b) = name.get(i) {
        match b {
            b'=' => {
                match name.get(i + 1..i + 3) {
                    Some(b"2C") => out.push(b','),
                    Some(b"3D") => out.push(b'='),
                    _ => return Err(BAD),
                }
                i += 3;
            }
            b',' | 0 => return Err(BAD),
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if core::str::from_utf8(&out).is_err() {
        return Err(SaslError::Malformed("saslname is not UTF-8"));
    }
    Ok(Bytes::from(out))
}

/// Printable ASCII and space: the strings on which SASLprep (RFC 4013) is the identity. Control
/// characters are prohibited by SASLprep (table C.2.1); non-ASCII would need the Unicode
/// tables, which this crate does not carry (see [`scram`]).
pub(crate) fn is_saslprep_identity(s: &[u8]) -> bool {
    s.iter().all(|&b| (0x20..0x7f).contains(&b))
}
