//! PLAIN (RFC 4616): one message, `[authzid] NUL authcid NUL passwd`.

use bytes::{BufMut, Bytes, BytesMut};

use super::SaslError;
use crate::Secret;

/// The decoded PLAIN message (RFC 4616 2).
///
/// `Debug` never shows the password.
///
/// ```
/// use smtp_proto::sasl::PlainCredentials;
/// // Perl's Authen::SASL fills in the authorization identity.
/// let c = PlainCredentials::decode(b"user\0user\0secret")?;
/// assert_eq!(c.authzid.as_deref(), Some(&b"user"[..]));
/// assert_eq!(&c.password.expose()[..], b"secret");
/// assert!(!format!("{c:?}").contains("secret"));
/// assert_eq!(&c.encode().expose()[..], b"user\0user\0secret");
/// # Ok::<(), smtp_proto::sasl::SaslError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The authorization identity, when the client asks to act as someone else; `None` when
    /// empty (then it is derived from `authcid`).
    pub authzid: Option<Bytes>,
    /// The authentication identity (user name); never empty.
    pub authcid: Bytes,
    /// The password; never empty.
    pub password: Secret<Bytes>,
}

impl PlainCredentials {
    /// The longest field accepted, in octets (RFC 4616 2: "MUST accept up to 255 octets").
    pub const MAX_FIELD_LEN: usize = 255;

    /// Credentials without an authorization identity.
    pub fn new(authcid: impl Into<Bytes>, password: impl Into<Bytes>) -> PlainCredentials {
        PlainCredentials {
            authzid: None,
            authcid: authcid.into(),
            password: Secret::new(password.into()),
        }
    }

    /// Parses the decoded message. Rejects a NUL count other than two
    /// ([`SaslError::Malformed`]), an empty authcid or password ([`SaslError::Malformed`]),
    /// fields that are not UTF-8 ([`SaslError::Malformed`]) and fields over
    /// [`Self::MAX_FIELD_LEN`] octets ([`SaslError::FieldTooLong`]).
    pub fn decode(message: &[u8]) -> Result<PlainCredentials, SaslError> {
        let mut fields = message.split(|&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(SaslError::Malformed(
                "PLAIN needs exactly two NUL separators",
            ));
        };
        if authcid.is_empty() {
            return Err(SaslError::Malformed("PLAIN authcid is empty"));
        }
        if password.is_empty() {
            return Err(SaslError::Malformed("PLAIN password is empty"));
        }
        for f in [authzid, authcid, password] {
            if f.len() > Self::MAX_FIELD_LEN {
                return Err(SaslError::FieldTooLong);
            }
            if core::str::from_utf8(f).is_err() {
                return Err(SaslError::Malformed("PLAIN field is not UTF-8"));
            }
        }
        // One copy of the (short) message, then zero-copy fields.
        let owned = Bytes::copy_from_slice(message);
        let (zl, cl) = (authzid.len(), authcid.len());
        Ok(PlainCredentials {
            authzid: (zl > 0).then(|| owned.slice(..zl)),
            authcid: owned.slice(zl + 1..zl + 1 + cl),
            password: Secret::new(owned.slice(zl + 1 + cl + 1..)),
        })
    }

    /// The message to send (before base64). Fields must not contain NUL; this is not checked.
    pub fn encode(&self) -> Secret<Bytes> {
        let zid = self.authzid.as_deref().unwrap_or_default();
        let pw = self.password.expose();
        let mut out = BytesMut::with_capacity(zid.len() + self.authcid.len() + pw.len() + 2);
        out.put_slice(zid);
        out.put_u8(0);
        out.put_slice(&self.authcid);
        out.put_u8(0);
        out.put_slice(pw);
        Secret::new(out.freeze())
    }

    /// The user name as text (always valid UTF-8 after [`PlainCredentials::decode`]).
    pub fn authcid_str(&self) -> &str {
        core::str::from_utf8(&self.authcid).unwrap_or_default()
    }
}
