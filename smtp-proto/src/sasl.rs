//! SASL mechanisms for AUTH (RFC 4954): names, and the messages each one exchanges.

use bytes::Bytes;

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
}
