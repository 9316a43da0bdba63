//! OAUTHBEARER (RFC 7628): a GS2 header, then `key=value` pairs separated by `^A` (%x01).
//!
//! ```text
//! n,a=user@example.com,^Ahost=server.example.com^Aport=587^Aauth=Bearer <token>^A^A
//! ```
//!
//! On failure the server sends a `334` challenge with a JSON error (RFC 7628 3.2.2; decode it
//! with [`super::decode_challenge`], it is passed through as bytes), the client answers with
//! the single `^A` of [`ERROR_ACK`] (3.2.3) and the server then fails the exchange with `535`.

use bytes::{BufMut, Bytes, BytesMut};

use super::xoauth2::bearer_token;
use super::{decode_saslname, encode_saslname, SaslError};
use crate::Secret;

/// The dummy client response after an error challenge (RFC 7628 3.2.3).
pub const ERROR_ACK: &[u8] = b"\x01";

/// `true` when a decoded client response is the dummy [`ERROR_ACK`].
pub fn is_error_ack(message: &[u8]) -> bool {
    message == ERROR_ACK
}

/// The OAUTHBEARER initial client response, decoded (RFC 7628 3.1).
///
/// Unknown keys are ignored as 3.1 requires. An empty `auth=` (a client asking for the
/// server's error document to learn the scope, 4.3) gives an empty token; any other scheme
/// than `Bearer` is malformed.
///
/// ```
/// use smtp_proto::sasl::{decode_base64, OAuthBearer};
/// // RFC 7628 4.1, the SMTP example.
/// let wire = b"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
/// let m = OAuthBearer::decode(decode_base64(wire)?.expose())?;
/// assert_eq!(m.authzid.as_deref(), Some(&b"user@example.com"[..]));
/// assert_eq!(m.host.as_deref(), Some(&b"server.example.com"[..]));
/// assert_eq!(m.port, Some(587));
/// assert_eq!(&m.token.expose()[..], b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
/// # Ok::<(), smtp_proto::sasl::SaslError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearer {
    /// The user (`a=` in the GS2 header), unescaped.
    pub authzid: Option<Bytes>,
    /// `host=`: the name the client connected to.
    pub host: Option<Bytes>,
    /// `port=`: the port the client connected to.
    pub port: Option<u16>,
    /// The bearer token from `auth=Bearer <token>`.
    pub token: Secret<Bytes>,
}

impl OAuthBearer {
    /// A message for this user and token, without host and port.
    pub fn new(user: impl Into<Bytes>, token: impl Into<Bytes>) -> OAuthBearer {
        OAuthBearer {
            authzid: Some(user.into()),
            host: None,
            port: None,
            token: Secret::new(token.into()),
        }
    }

    /// The message to send (before base64). Host and token must not contain `^A`; not
    /// checked.
    pub fn encode(&self) -> Secret<Bytes> {
        let token = self.token.expose();
        let mut out = BytesMut::with_capacity(64 + token.len());
        out.put_slice(b"n,");
        if let Some(a) = &self.authzid {
            out.put_slice(b"a=");
            encode_saslname(a, &mut out);
        }
        out.put_slice(b",\x01");
        if let Some(h) = &self.host {
            out.put_slice(b"host=");
            out.put_slice(h);
            out.put_u8(1);
        }
        if let Some(p) = self.port {
            let _ = core::fmt::Write::write_fmt(&mut out, format_args!("port={p}\x01"));
        }
        out.put_slice(b"auth=");
        if !token.is_empty() {
            out.put_slice(b"Bearer ");
            out.put_slice(token);
        }
        out.put_slice(b"\x01\x01");
        Secret::new(out.freeze())
    }

    /// Parses the decoded client response. The lone `^A` of [`ERROR_ACK`] is not a credential
    /// message: check [`is_error_ack`] first where it may come.
    pub fn decode(message: &[u8]) -> Result<OAuthBearer, SaslError> {
        let (authzid, rest) = parse_gs2_header(message)?;
        let body = rest
            .strip_prefix(b"\x01")
            .and_then(|r| r.strip_suffix(b"\x01"))
            .ok_or(SaslError::Malformed(
                "OAUTHBEARER message must end with ^A^A",
            ))?;
        let (mut host, mut port, mut auth) = (None, None, None);
        // `body` is `*kvpair`, each pair ending with ^A.
        let pairs = if body.is_empty() {
            body
        } else {
            body.strip_suffix(b"\x01").ok_or(SaslError::Malformed(
                "OAUTHBEARER key/value pair not terminated",
            ))?
        };
        for pair in pairs.split(|&c| c == 1).filter(|_| !body.is_empty()) {
            let eq = pair
                .iter()
                .position(|&b| b == b'=')
                .ok_or(SaslError::Malformed("OAUTHBEARER key/value pair without ="))?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            // key = 1*ALPHA; value = *(VCHAR / SP / HTAB / CR / LF).
            if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
                return Err(SaslError::Malformed("OAUTHBEARER key is not alphabetic"));
            }
            if !value
                .iter()
                .all(|&b| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7e))
            {
                return Err(SaslError::Malformed(
                    "OAUTHBEARER value has a control character",
                ));
            }
            let slot = match key {
                b"auth" => &mut auth,
                b"host" => &mut host,
                b"port" => &mut port,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(SaslError::Malformed("OAUTHBEARER key repeated"));
            }
        }
        let auth = auth.ok_or(SaslError::Malformed("OAUTHBEARER auth= missing"))?;
        let token = if auth.is_empty() {
            &[][..]
        } else {
            bearer_token(auth)?
        };
        let port = match port {
            None => None,
            // "a decimal positive integer string without leading zeros". Digits only:
            // `str::parse` also takes a leading `+`, so `port=+0` decoded to port 0, which
            // encodes as the refused `port=0` (found by the `sasl` fuzz target).
            Some(p)
                if p.first().is_some_and(|&d| d != b'0')
                    && p.len() <= 5
                    && p.iter().all(u8::is_ascii_digit) =>
            {
                Some(
                    core::str::from_utf8(p)
                        .ok()
                        .and_then(|s| s.parse::<u16>().ok())
                        .ok_or(SaslError::Malformed("OAUTHBEARER port is not a number"))?,
                )
            }
            Some(_) => return Err(SaslError::Malformed("OAUTHBEARER port is not a number")),
        };
        Ok(OAuthBearer {
            authzid,
            host: host.map(Bytes::copy_from_slice),
            port,
            token: Secret::new(Bytes::copy_from_slice(token)),
        })
    }
}

/// `gs2-header = gs2-cb-flag "," [gs2-authzid] ","` (RFC 5801 4); returns the authzid and what
/// follows the header. `p=` (channel binding) is refused: neither SCRAM-SHA-256 (without
/// -PLUS) nor OAUTHBEARER offers it.
pub(crate) fn parse_gs2_header(message: &[u8]) -> Result<(Option<Bytes>, &[u8]), SaslError> {
    const BAD: SaslError = SaslError::Malformed("bad GS2 header");
    let rest = match message {
        [b'n' | b'y', b',', rest @ ..] => rest,
        [b'p', b'=', ..] => return Err(SaslError::ChannelBindingNotSupported),
        _ => return Err(BAD),
    };
    let comma = rest.iter().position(|&b| b == b',').ok_or(BAD)?;
    let (authzid, rest) = (&rest[..comma], &rest[comma + 1..]);
    let authzid = match authzid {
        [] => None,
        [b'a', b'=', name @ ..] if !name.is_empty() => Some(decode_saslname(name)?),
        _ => return Err(BAD),
    };
    Ok((authzid, rest))
}
