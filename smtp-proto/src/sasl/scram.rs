//! SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding, as two small state machines.
//!
//! The exchange in SMTP (RFC 4954 4): the client sends client-first as the initial response,
//! the server answers `334 base64(server-first)`, the client sends client-final, the server
//! answers `334 base64(server-final)` (`v=` signature), the client sends an empty line and the
//! server ends with `235` (or `535` at any failure).
//!
//! Nonces are arguments: the core reads no randomness (sans-IO). Each side must pass a fresh
//! unpredictable nonce of printable ASCII without `,` (for example 18 random octets in
//! base64) for every exchange.
//!
//! **SASLprep (RFC 4013).** This crate carries no Unicode tables, so it normalises only what
//! needs none: printable ASCII and space, on which SASLprep is the identity. A client user
//! name or password, and a password given to [`ScramStoredKey::derive`], with any other octet
//! (control characters, which SASLprep prohibits, or non-ASCII) is refused with
//! [`SaslError::UnsupportedCharacters`] rather than hashed un-normalised, which would fail
//! against a correct peer in confusing ways. The server passes UTF-8 user names through as
//! sent (the client is the one that prepares them), for the application's lookup.
//!
//! ```
//! use smtp_proto::sasl::{ScramClient, ScramServer, ScramStoredKey};
//! let mut client = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO")?;
//! let first = client.client_first();
//! // Server: read the user name, look up what was stored for it, answer.
//! let client_first = ScramServer::parse_client_first(&first)?;
//! assert_eq!(&client_first.username()[..], b"user");
//! let stored = ScramStoredKey::derive("pencil", &b"salt of user"[..], 4096)?;
//! let mut server = ScramServer::new(client_first, stored, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")?;
//! let client_final = client.handle_server_first(&server.server_first())?;
//! let server_final = server.handle_client_final(&client_final)?;
//! client.handle_server_final(&server_final)?;
//! assert!(client.is_verified());
//! # Ok::<(), smtp_proto::sasl::SaslError>(())
//! ```

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{decode_saslname, encode_saslname, is_saslprep_identity, SaslError};
use crate::sasl::oauthbearer::parse_gs2_header;
use crate::Secret;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Octets of a SHA-256 output: the size of every key, proof and signature.
pub const KEY_LEN: usize = 32;

/// The least iteration count a client accepts by default (RFC 7677 4: "SHOULD be at least
/// 4096").
pub const DEFAULT_MIN_ITERATIONS: u32 = 4096;
/// The greatest iteration count a client accepts by default, so that a hostile server cannot
/// make it spin (one million rounds is well under a second of PBKDF2-SHA-256).
pub const DEFAULT_MAX_ITERATIONS: u32 = 1_000_000;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; KEY_LEN], SaslError> {
    // HMAC takes keys of any length; the error cannot occur but is not unwrapped.
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| SaslError::AuthenticationFailed)?;
    for p in parts {
        mac.update(p);
    }
    Ok(mac.finalize().into_bytes().into())
}

fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    Sha256::digest(data).into()
}

/// Compares without an early exit, so timing does not tell how much of a proof was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `c-nonce`/`s-nonce`: printable ASCII except `,` (RFC 5802 7).
fn is_nonce(n: &[u8]) -> bool {
    !n.is_empty() && n.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b',')
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

/// What a server stores for a user instead of the password (RFC 5802 3): the salt, the
/// iteration count, `StoredKey` and `ServerKey`. `Debug` hides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramStoredKey {
    /// The salt (random octets, at least 16 recommended).
    pub salt: Bytes,
    /// The PBKDF2 iteration count (at least 4096: RFC 7677 4).
    pub iterations: u32,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Secret<[u8; KEY_LEN]>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Secret<[u8; KEY_LEN]>,
}

impl ScramStoredKey {
    /// Derives the stored keys from a password (when a user sets a password, or for tests).
    /// The password must be printable ASCII (see the module documentation on SASLprep);
    /// `iterations` must not be zero. The salt should be fresh random octets.
    pub fn derive(
        password: impl AsRef<[u8]>,
        salt: impl Into<Bytes>,
        iterations: u32,
    ) -> Result<ScramStoredKey, SaslError> {
        let password = password.as_ref();
        if !is_saslprep_identity(password) {
            return Err(SaslError::UnsupportedCharacters);
        }
        if iterations == 0 {
            return Err(SaslError::IterationCount(iterations));
        }
        let salt = salt.into();
        let salted = salted_password(password, &salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"])?;
        Ok(ScramStoredKey {
            salt,
            iterations,
            stored_key: Secret::new(sha256(&client_key)),
            server_key: Secret::new(hmac(&salted, &[b"Server Key"])?),
        })
    }
}

/// Where a client is in the exchange.
#[derive(Debug, Clone)]
enum ClientState {
    /// client-first made; waiting for server-first.
    First,
    /// client-final sent; waiting for server-final, which must carry this signature.
    Final { server_signature: [u8; KEY_LEN] },
    /// The server proved it knows the password.
    Verified,
    /// The exchange failed; nothing more is accepted.
    Failed,
}

/// The client side of SCRAM-SHA-256 (RFC 5802 3, 7).
///
/// Steps: [`ScramClient::client_first`] (send as the initial response),
/// [`ScramClient::handle_server_first`] (returns client-final),
/// [`ScramClient::handle_server_final`] (checks the server's signature: only then may the
/// client trust that the server knew the password). Any error ends the exchange.
#[derive(Debug, Clone)]
pub struct ScramClient {
    /// `n,,` or `n,a=authzid,`.
    gs2_header: Bytes,
    password: Secret<Bytes>,
    client_nonce: Bytes,
    /// `n=user,r=nonce`, part of the AuthMessage.
    client_first_bare: Bytes,
    min_iterations: u32,
    max_iterations: u32,
    state: ClientState,
}

impl ScramClient {
    /// A client for `username`/`password` with a fresh `client_nonce` (printable ASCII without
    /// `,`; see the module documentation). User name and password must be printable ASCII
    /// ([`SaslError::UnsupportedCharacters`] otherwise); the nonce, too
    /// ([`SaslError::Malformed`] otherwise).
    pub fn new(
        username: impl AsRef<[u8]>,
        password: impl AsRef<[u8]>,
        client_nonce: impl AsRef<[u8]>,
    ) -> Result<ScramClient, SaslError> {
        let (username, password, nonce) =
            (username.as_ref(), password.as_ref(), client_nonce.as_ref());
        if username.is_empty() || !is_saslprep_identity(username) || !is_saslprep_identity(password)
        {
            return Err(SaslError::UnsupportedCharacters);
        }
        if !is_nonce(nonce) {
            return Err(SaslError::Malformed(
                "SCRAM nonce must be printable ASCII without ','",
            ));
        }
        let mut bare = BytesMut::with_capacity(username.len() + nonce.len() + 8);
        bare.put_slice(b"n=");
        encode_saslname(username, &mut bare);
        bare.put_slice(b",r=");
        bare.put_slice(nonce);
        Ok(ScramClient {
            gs2_header: Bytes::from_static(b"n,,"),
            password: Secret::new(Bytes::copy_from_slice(password)),
            client_nonce: Bytes::copy_from_slice(nonce),
            client_first_bare: bare.freeze(),
            min_iterations: DEFAULT_MIN_ITERATIONS,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            state: ClientState::First,
        })
    }

    /// Accepts server iteration counts in `min..=max` instead of the defaults
    /// ([`DEFAULT_MIN_ITERATIONS`], [`DEFAULT_MAX_ITERATIONS`]).
    pub fn with_iteration_limits(mut self, min: u32, max: u32) -> ScramClient {
        self.min_iterations = min;
        self.max_iterations = max;
        self
    }

    /// Asks to act as `authzid` (sent as `a=` in the GS2 header, RFC 5802 5.1). It must be
    /// printable ASCII ([`SaslError::UnsupportedCharacters`] otherwise). Call before
    /// [`ScramClient::client_first`].
    pub fn with_authzid(mut self, authzid: impl AsRef<[u8]>) -> Result<ScramClient, SaslError> {
        let authzid = authzid.as_ref();
        if authzid.is_empty() || !is_saslprep_identity(authzid) {
            return Err(SaslError::UnsupportedCharacters);
        }
        let mut header = BytesMut::with_capacity(authzid.len() + 6);
        header.put_slice(b"n,a=");
        encode_saslname(authzid, &mut header);
        header.put_u8(b',');
        self.gs2_header = header.freeze();
        Ok(self)
    }

    /// client-first-message: `n,,n=user,r=nonce` (no channel binding; `n,a=authzid,...` with
    /// [`ScramClient::with_authzid`]).
    pub fn client_first(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.gs2_header.len() + self.client_first_bare.len());
        out.put_slice(&self.gs2_header);
        out.put_slice(&self.client_first_bare);
        out.freeze()
    }

    /// Reads server-first-message (decoded) and returns client-final-message.
    pub fn handle_server_first(&mut self, server_first: &[u8]) -> Result<Bytes, SaslError> {
        if !matches!(self.state, ClientState::First) {
            return Err(SaslError::OutOfOrder);
        }
        self.state = ClientState::Failed;
        let (nonce, salt, iterations) = self.parse_server_first(server_first)?;
        let salted = salted_password(self.password.expose(), &salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"])?;
        let stored_key = sha256(&client_key);
        let server_key = hmac(&salted, &[b"Server Key"])?;

        // Without channel binding, c= carries the GS2 header (`biws` for `n,,`).
        let mut without_proof = BytesMut::with_capacity(16 + self.gs2_header.len() + nonce.len());
        without_proof.put_slice(b"c=");
        without_proof.put_slice(B64.encode(&self.gs2_header).as_bytes());
        without_proof.put_slice(b",r=");
        without_proof.put_slice(nonce);
        let auth_message: [&[u8]; 5] = [
            &self.client_first_bare,
            b",",
            server_first,
            b",",
            &without_proof,
        ];
        let client_signature = hmac(&stored_key, &auth_message)?;
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_signature) {
            *p ^= s;
        }
        let server_signature = hmac(&server_key, &auth_message)?;

        let mut out = without_proof;
        out.put_slice(b",p=");
        out.put_slice(B64.encode(proof).as_bytes());
        self.state = ClientState::Final { server_signature };
        Ok(out.freeze())
    }

    /// `r=nonce,s=salt,i=count[,ext]`: checks the nonce extends ours and the count is in range.
    fn parse_server_first<'a>(&self, msg: &'a [u8]) -> Result<(&'a [u8], Bytes, u32), SaslError> {
        const BAD: SaslError = SaslError::Malformed("bad SCRAM server-first-message");
        let mut attrs = msg.split(|&b| b == b',');
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix(b"r="))
            .ok_or(BAD)?;
        let salt = attrs
            .next()
            .and_then(|a| a.strip_prefix(b"s="))
            .ok_or(BAD)?;
        let count = attrs
            .next()
            .and_then(|a| a.strip_prefix(b"i="))
            .ok_or(BAD)?;
        if !is_nonce(nonce)
            || !nonce.starts_with(&self.client_nonce)
            || nonce.len() == self.client_nonce.len()
        {
            return Err(SaslError::Malformed(
                "SCRAM server nonce does not extend the client's",
            ));
        }
        let salt = B64.decode(salt).map_err(|_| SaslError::InvalidBase64)?;
        if salt.is_empty() {
            return Err(BAD);
        }
        let iterations = parse_count(count).ok_or(BAD)?;
        if !(self.min_iterations..=self.max_iterations).contains(&iterations) {
            return Err(SaslError::IterationCount(iterations));
        }
        Ok((nonce, Bytes::from(salt), iterations))
    }

    /// Reads server-final-message (decoded): `v=signature` must match, `e=error` is
    /// [`SaslError::ServerRejected`].
    pub fn handle_server_final(&mut self, server_final: &[u8]) -> Result<(), SaslError> {
        let ClientState::Final { server_signature } = self.state else {
            return Err(SaslError::OutOfOrder);
        };
        self.state = ClientState::Failed;
        let first = server_final
            .split(|&b| b == b',')
            .next()
            .unwrap_or_default();
        if let Some(error) = first.strip_prefix(b"e=") {
            return Err(SaslError::ServerRejected(Bytes::copy_from_slice(error)));
        }
        let v = first
            .strip_prefix(b"v=")
            .ok_or(SaslError::Malformed("bad SCRAM server-final-message"))?;
        let v = B64.decode(v).map_err(|_| SaslError::InvalidBase64)?;
        if !constant_time_eq(&v, &server_signature) {
            return Err(SaslError::AuthenticationFailed);
        }
        self.state = ClientState::Verified;
        Ok(())
    }

    /// `true` once the server's signature checked out.
    pub fn is_verified(&self) -> bool {
        matches!(self.state, ClientState::Verified)
    }
}

/// `posit-number = %x31-39 *DIGIT` as a `u32`.
fn parse_count(s: &[u8]) -> Option<u32> {
    if matches!(s.first(), None | Some(b'0')) || s.len() > 10 {
        return None;
    }
    core::str::from_utf8(s).ok()?.parse().ok()
}

/// The client-first-message as a server reads it (RFC 5802 7), before the user is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramClientFirst {
    gs2_header: Bytes,
    authzid: Option<Bytes>,
    username: Bytes,
    client_nonce: Bytes,
    bare: Bytes,
}

impl ScramClientFirst {
    /// The authentication identity (`n=`), unescaped, UTF-8 as sent.
    pub fn username(&self) -> &Bytes {
        &self.username
    }
    /// The authorization identity (`a=` in the GS2 header), when the client asks to act as
    /// someone else.
    pub fn authzid(&self) -> Option<&Bytes> {
        self.authzid.as_ref()
    }
}

/// Where a server is in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    /// server-first sent; waiting for client-final.
    First,
    /// The client's proof checked out; server-final was returned.
    Verified,
    /// The exchange failed.
    Failed,
}

/// The server side of SCRAM-SHA-256 (RFC 5802 3, 7).
///
/// Steps: [`ScramServer::parse_client_first`] (gives the user name to look up),
/// [`ScramServer::new`] with that user's [`ScramStoredKey`] and a fresh nonce,
/// [`ScramServer::server_first`] (send in a `334`), [`ScramServer::handle_client_final`]
/// (verifies the proof and returns server-final to send in a `334`; then expect an empty
/// response and answer `235`).
///
/// For an unknown user, run the exchange with made-up keys (a fixed salt per user name and
/// random keys) so that the failure comes at the proof, as RFC 5802 9 advises, and the
/// client cannot tell unknown users from wrong passwords.
#[derive(Debug, Clone)]
pub struct ScramServer {
    client_first: ScramClientFirst,
    stored: ScramStoredKey,
    /// `c-nonce s-nonce`.
    nonce: Bytes,
    server_first: Bytes,
    state: ServerState,
}

impl ScramServer {
    /// Parses client-first-message (decoded): `gs2-header n=user,r=nonce[,ext]`. Refuses
    /// channel binding (`p=`) and mandatory extensions (`m=`).
    pub fn parse_client_first(message: &[u8]) -> Result<ScramClientFirst, SaslError> {
        const BAD: SaslError = SaslError::Malformed("bad SCRAM client-first-message");
        let (authzid, bare) = parse_gs2_header(message)?;
        let gs2_len = message.len() - bare.len();
        let mut attrs = bare.split(|&b| b == b',');
        let user = attrs.next().ok_or(BAD)?;
        if user.starts_with(b"m=") {
            return Err(SaslError::Malformed(
                "SCRAM mandatory extension not supported",
            ));
        }
        let user = user
            .strip_prefix(b"n=")
            .filter(|u| !u.is_empty())
            .ok_or(BAD)?;
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix(b"r="))
            .ok_or(BAD)?;
        if !is_nonce(nonce) {
            return Err(BAD);
        }
        let username = decode_saslname(user)?;
        if username.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(SaslError::UnsupportedCharacters);
        }
        let owned = Bytes::copy_from_slice(message);
        let bare = owned.slice(gs2_len..);
        Ok(ScramClientFirst {
            gs2_header: owned.slice(..gs2_len),
            authzid,
            username,
            client_nonce: Bytes::copy_from_slice(nonce),
            bare,
        })
    }

    /// Starts the server side for a parsed client-first, the stored keys of that user and a
    /// fresh `server_nonce` (printable ASCII without `,`).
    pub fn new(
        client_first: ScramClientFirst,
        stored: ScramStoredKey,
        server_nonce: impl AsRef<[u8]>,
    ) -> Result<ScramServer, SaslError> {
        let server_nonce = server_nonce.as_ref();
        if !is_nonce(server_nonce) {
            return Err(SaslError::Malformed(
                "SCRAM nonce must be printable ASCII without ','",
            ));
        }
        if stored.iterations == 0 {
            return Err(SaslError::IterationCount(0));
        }
        let mut nonce =
            BytesMut::with_capacity(client_first.client_nonce.len() + server_nonce.len());
        nonce.put_slice(&client_first.client_nonce);
        nonce.put_slice(server_nonce);
        let nonce = nonce.freeze();
        let mut first = BytesMut::with_capacity(nonce.len() + stored.salt.len() * 2 + 20);
        first.put_slice(b"r=");
        first.put_slice(&nonce);
        first.put_slice(b",s=");
        first.put_slice(B64.encode(&stored.salt).as_bytes());
        let _ = core::fmt::Write::write_fmt(&mut first, format_args!(",i={}", stored.iterations));
        Ok(ScramServer {
            client_first,
            stored,
            nonce,
            server_first: first.freeze(),
            state: ServerState::First,
        })
    }

    /// server-first-message: `r=nonce,s=salt,i=count`.
    pub fn server_first(&self) -> Bytes {
        self.server_first.clone()
    }

    /// The client's parsed first message (user name, authzid).
    pub fn client(&self) -> &ScramClientFirst {
        &self.client_first
    }

    /// Verifies client-final-message (decoded) and returns server-final-message (`v=...`).
    /// A wrong proof is [`SaslError::AuthenticationFailed`] (`535 5.7.8`).
    pub fn handle_client_final(&mut self, client_final: &[u8]) -> Result<Bytes, SaslError> {
        const BAD: SaslError = SaslError::Malformed("bad SCRAM client-final-message");
        if self.state != ServerState::First {
            return Err(SaslError::OutOfOrder);
        }
        self.state = ServerState::Failed;
        // client-final-message-without-proof "," proof; the proof is the last attribute.
        let comma = client_final.iter().rposition(|&b| b == b',').ok_or(BAD)?;
        let (without_proof, proof) = (&client_final[..comma], &client_final[comma + 1..]);
        let proof = proof.strip_prefix(b"p=").ok_or(BAD)?;
        let mut attrs = without_proof.split(|&b| b == b',');
        let cbind = attrs
            .next()
            .and_then(|a| a.strip_prefix(b"c="))
            .ok_or(BAD)?;
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix(b"r="))
            .ok_or(BAD)?;
        // Without channel binding, c= is the base64 of the GS2 header (RFC 5802 7).
        let cbind = B64.decode(cbind).map_err(|_| SaslError::InvalidBase64)?;
        if cbind != self.client_first.gs2_header {
            return Err(SaslError::ChannelBindingNotSupported);
        }
        if nonce != &self.nonce[..] {
            return Err(SaslError::Malformed("SCRAM nonce mismatch"));
        }
        let proof = B64.decode(proof).map_err(|_| SaslError::InvalidBase64)?;
        if proof.len() != KEY_LEN {
            return Err(BAD);
        }
        let auth_message: [&[u8]; 5] = [
            &self.client_first.bare,
            b",",
            &self.server_first,
            b",",
            without_proof,
        ];
        let client_signature = hmac(self.stored.stored_key.expose(), &auth_message)?;
        let mut client_key = [0u8; KEY_LEN];
        for ((k, p), s) in client_key.iter_mut().zip(&proof).zip(client_signature) {
            *k = p ^ s;
        }
        if !constant_time_eq(&sha256(&client_key), self.stored.stored_key.expose()) {
            return Err(SaslError::AuthenticationFailed);
        }
        let server_signature = hmac(self.stored.server_key.expose(), &auth_message)?;
        let mut out = BytesMut::with_capacity(2 + 44);
        out.put_slice(b"v=");
        out.put_slice(B64.encode(server_signature).as_bytes());
        self.state = ServerState::Verified;
        Ok(out.freeze())
    }

    /// `true` once the client's proof checked out.
    pub fn is_verified(&self) -> bool {
        self.state == ServerState::Verified
    }
}
