//! XOAUTH2 (Google's OAuth 2.0 SASL mechanism): `user=U ^A auth=Bearer T ^A ^A`.
//!
//! On a bad token the server sends a `334` challenge holding a JSON error (decode it with
//! [`super::decode_challenge`]; it is passed through as bytes), the client answers with an
//! empty response ([`ERROR_ACK`]) and the server then sends `535`.

use bytes::{BufMut, Bytes, BytesMut};

use super::SaslError;
use crate::Secret;

/// The client's empty response to an error challenge.
pub const ERROR_ACK: &[u8] = b"";

/// The XOAUTH2 client message, decoded.
///
/// ```
/// use smtp_proto::sasl::XOAuth2;
/// let m = XOAuth2::new("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
/// let wire = m.encode();
/// assert_eq!(
///     &wire.expose()[..],
///     &b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"[..],
/// );
/// assert_eq!(XOAuth2::decode(wire.expose())?, m);
/// # Ok::<(), smtp_proto::sasl::SaslError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XOAuth2 {
    /// The user (an e-mail address).
    pub user: Bytes,
    /// The bearer token.
    pub token: Secret<Bytes>,
}

impl XOAuth2 {
    /// A message for this user and token.
    pub fn new(user: impl Into<Bytes>, token: impl Into<Bytes>) -> XOAuth2 {
        XOAuth2 {
            user: user.into(),
            token: Secret::new(token.into()),
        }
    }

    /// The message to send (before base64). Fields must not contain `^A`; not checked.
    pub fn encode(&self) -> Secret<Bytes> {
        let token = self.token.expose();
        let mut out = BytesMut::with_capacity(5 + self.user.len() + 13 + token.len() + 2);
        out.put_slice(b"user=");
        out.put_slice(&self.user);
        out.put_slice(b"\x01auth=Bearer ");
        out.put_slice(token);
        out.put_slice(b"\x01\x01");
        Secret::new(out.freeze())
    }

    /// Parses the decoded client message. The `Bearer` scheme is matched case-insensitively
    /// and may be followed by several spaces.
    pub fn decode(message: &[u8]) -> Result<XOAuth2, SaslError> {
        let body = message
            .strip_suffix(b"\x01\x01")
            .ok_or(SaslError::Malformed("XOAUTH2 message must end with ^A^A"))?;
        let mut parts = body.split(|&b| b == 1);
        let (Some(user), Some(auth), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SaslError::Malformed("XOAUTH2 needs user= and auth= fields"));
        };
        let user = user
            .strip_prefix(b"user=")
            .filter(|u| !u.is_empty())
            .ok_or(SaslError::Malformed("XOAUTH2 user= field missing"))?;
        let token = bearer_token(
            auth.strip_prefix(b"auth=")
                .ok_or(SaslError::Malformed("XOAUTH2 auth= field missing"))?,
        )?;
        Ok(XOAuth2 {
            user: Bytes::copy_from_slice(user),
            token: Secret::new(Bytes::copy_from_slice(token)),
        })
    }
}

/// `"Bearer" 1*SP b64token` (RFC 6750 2.1, RFC 7628 3.1): the token.
pub(crate) fn bearer_token(value: &[u8]) -> Result<&[u8], SaslError> {
    const BAD: SaslError = SaslError::Malformed("expected auth=Bearer <token>");
    if value.len() < 7 || !value[..6].eq_ignore_ascii_case(b"Bearer") || value[6] != b' ' {
        return Err(BAD);
    }
    let token = value[6..].trim_ascii_start();
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body_end = token
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)))
        .unwrap_or(token.len());
    if body_end == 0 || !token[body_end..].iter().all(|&b| b == b'=') {
        return Err(BAD);
    }
    Ok(token)
}
