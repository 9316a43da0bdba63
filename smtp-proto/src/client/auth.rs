//! The client side of AUTH (RFC 4954): choosing a mechanism and answering challenges.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use super::event::ClientError;
use super::offer::Offer;
use crate::sasl::{
    decode_challenge, encode_base64, encode_initial_response, CleartextPolicy, Credentials,
    LoginClient, Mechanism, OAuthBearer, PlainCredentials, ScramClient, XOAuth2,
};

/// An initial response longer than this goes after an empty `334` instead of on the AUTH
/// line, which must stay within 512 octets (RFC 4954 4, RFC 5321 4.5.3.1.4).
const MAX_INLINE_RESPONSE: usize = 512 - 2 - b"AUTH OAUTHBEARER ".len();

/// The user name and the password or token, as octets.
fn parts(creds: &Credentials) -> (Bytes, Bytes) {
    let (user, secret) = match creds {
        Credentials::Password { username, password } => (username, password.expose()),
        Credentials::Token { username, token } => (username, token.expose()),
    };
    (
        Bytes::copy_from_slice(user.as_bytes()),
        Bytes::copy_from_slice(secret.as_bytes()),
    )
}

/// A SCRAM client for these credentials, when they and the nonce suit SCRAM-SHA-256.
fn scram_client(creds: &Credentials, nonce: Option<&Bytes>) -> Option<ScramClient> {
    let Credentials::Password { .. } = creds else {
        return None;
    };
    let (user, password) = parts(creds);
    ScramClient::new(user, password, nonce?).ok()
}

/// Picks the best mechanism both sides allow, or `None`. SCRAM-SHA-256 needs a nonce and
/// credentials SCRAM can carry (printable ASCII).
pub(crate) fn choose(
    creds: &Credentials,
    offer: &Offer,
    secure: bool,
    policy: CleartextPolicy,
    scram_nonce: Option<&Bytes>,
) -> Option<Mechanism> {
    let scram_ok = scram_client(creds, scram_nonce).is_some();
    let offered: Vec<Mechanism> = offer
        .auth
        .iter()
        .filter(|m| scram_ok || **m != Mechanism::ScramSha256)
        .cloned()
        .collect();
    creds.select_mechanism(&offered, secure, policy)
}

/// Where an exchange is.
#[derive(Debug)]
enum Step {
    /// The AUTH line went out with the initial response (or none is due).
    Started,
    /// The initial response waits for an empty `334` (it was too long for the AUTH line).
    ResponsePending(Bytes),
    /// LOGIN: answering the two challenges.
    Login(LoginClient),
    /// OAuth: the server sent an error challenge; we answered and expect 535 next.
    ErrorAcknowledged,
    /// SCRAM: waiting for server-first.
    ScramFirstSent(ScramClient),
    /// SCRAM: client-final sent; waiting for server-final.
    ScramFinalSent(ScramClient),
    /// SCRAM: server signature verified; answered with an empty response.
    ScramVerified,
}

/// One AUTH exchange.
#[derive(Debug)]
pub(crate) struct AuthExchange {
    mechanism: Mechanism,
    step: Step,
}

fn b64(data: &[u8]) -> Bytes {
    encode_base64(data)
}

impl AuthExchange {
    /// Writes the AUTH command and returns the exchange.
    pub(crate) fn start(
        mechanism: Mechanism,
        creds: &Credentials,
        scram_nonce: Option<&Bytes>,
        out: &mut BytesMut,
    ) -> Self {
        let (user, secret) = parts(creds);
        let mut step = Step::Started;
        let initial: Option<Bytes> = match mechanism {
            Mechanism::Plain => Some(PlainCredentials::new(user, secret).encode().into_inner()),
            Mechanism::XOAuth2 => Some(XOAuth2::new(user, secret).encode().into_inner()),
            Mechanism::OAuthBearer => Some(OAuthBearer::new(user, secret).encode().into_inner()),
            Mechanism::ScramSha256 => match scram_client(creds, scram_nonce) {
                Some(client) => {
                    let first = client.client_first();
                    step = Step::ScramFirstSent(client);
                    Some(first)
                }
                // `choose` only picks SCRAM when this works; cancel should it not.
                None => None,
            },
            _ => {
                step = Step::Login(LoginClient::new(user, secret));
                None
            }
        };
        out.put_slice(b"AUTH ");
        out.put_slice(mechanism.name());
        if let Some(ir) = initial {
            let enc = encode_initial_response(&ir);
            if enc.len() <= MAX_INLINE_RESPONSE {
                out.put_u8(b' ');
                out.put_slice(&enc);
            } else {
                step = match step {
                    Step::ScramFirstSent(_) => step,
                    _ => Step::ResponsePending(enc),
                };
            }
        }
        out.put_slice(b"\r\n");
        AuthExchange { mechanism, step }
    }

    /// Answers a `334` challenge (its text, still base64) by writing a response line.
    pub(crate) fn challenge(&mut self, text: &[u8], out: &mut BytesMut) -> Result<(), ClientError> {
        let decoded = decode_challenge(text.trim_ascii()).ok();
        let step = core::mem::replace(&mut self.step, Step::Started);
        let response: Bytes = match (step, &self.mechanism) {
            (Step::ResponsePending(enc), _) => {
                // The initial response we held back.
                self.step = Step::Started;
                enc
            }
            (Step::Login(mut login), _) if !login.is_done() => {
                let r = login
                    .step(decoded.as_deref().unwrap_or_default())
                    .map_err(|_| ClientError::AuthProtocol)?;
                self.step = Step::Login(login);
                b64(r.expose())
            }
            (Step::Started, Mechanism::XOAuth2) => {
                // An error report in JSON; RFC-less but documented by Google: answer with an
                // empty response, then the server sends 535.
                self.step = Step::ErrorAcknowledged;
                Bytes::new()
            }
            (Step::Started, Mechanism::OAuthBearer) => {
                // RFC 7628 3.2.3: the client answers an error challenge with %x01.
                self.step = Step::ErrorAcknowledged;
                b64(b"\x01")
            }
            (Step::ScramFirstSent(mut client), _) => {
                let server_first = decoded.ok_or(ClientError::AuthProtocol)?;
                let final_msg = client
                    .handle_server_first(&server_first)
                    .map_err(|_| ClientError::AuthProtocol)?;
                self.step = Step::ScramFinalSent(client);
                b64(&final_msg)
            }
            (Step::ScramFinalSent(mut client), _) => {
                // RFC 5802 3: only a correct server signature proves the server knew the
                // password.
                let server_final = decoded.ok_or(ClientError::AuthProtocol)?;
                client
                    .handle_server_final(&server_final)
                    .map_err(|_| ClientError::AuthProtocol)?;
                self.step = Step::ScramVerified;
                Bytes::new()
            }
            // Any other challenge: cancel (RFC 4954 4: "*"), the server answers 501.
            (s, _) => {
                self.step = s;
                Bytes::from_static(b"*")
            }
        };
        out.put_slice(&response);
        out.put_slice(b"\r\n");
        Ok(())
    }

    /// On `235`: a SCRAM exchange must have checked the server's signature (it may come as
    /// a last 334, which [`AuthExchange::challenge`] verified).
    pub(crate) fn success_is_trusted(&self) -> bool {
        !matches!(
            &self.step,
            Step::ScramFirstSent(_) | Step::ScramFinalSent(_)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn offer(mechs: &[Mechanism]) -> Offer {
        Offer {
            auth: mechs.to_vec(),
            ..Offer::default()
        }
    }

    #[test]
    fn picks_best_offered() {
        let pw = Credentials::password("u", "p");
        let o = offer(&[Mechanism::Login, Mechanism::Plain]);
        let tls = CleartextPolicy::RequireTls;
        assert_eq!(choose(&pw, &o, true, tls, None), Some(Mechanism::Plain));
        assert_eq!(choose(&pw, &o, false, tls, None), None);
        assert_eq!(
            choose(&pw, &o, false, CleartextPolicy::Allow, None),
            Some(Mechanism::Plain)
        );
        let scram = offer(&[Mechanism::ScramSha256, Mechanism::Plain]);
        let nonce = Bytes::from_static(b"fyko+d2lbbFgONRv9qkxdawL");
        // SCRAM cannot carry a non-ASCII password: PLAIN then.
        let utf8 = Credentials::password("u", "pässword");
        assert_eq!(
            choose(&utf8, &scram, true, tls, Some(&nonce)),
            Some(Mechanism::Plain)
        );
        assert_eq!(choose(&pw, &scram, true, tls, None), Some(Mechanism::Plain));
        assert_eq!(
            choose(&pw, &scram, true, tls, Some(&nonce)),
            Some(Mechanism::ScramSha256)
        );
        // SCRAM does not reveal the password: fine without TLS.
        assert_eq!(
            choose(&pw, &scram, false, tls, Some(&nonce)),
            Some(Mechanism::ScramSha256)
        );
        let tok = Credentials::token("u", "t");
        assert_eq!(choose(&tok, &o, true, tls, None), None);
        let oa = offer(&[Mechanism::XOAuth2, Mechanism::OAuthBearer]);
        assert_eq!(
            choose(&tok, &oa, true, tls, None),
            Some(Mechanism::OAuthBearer)
        );
    }

    #[test]
    fn plain_initial_response() {
        let mut out = BytesMut::new();
        let c = Credentials::password("user", "secret");
        AuthExchange::start(Mechanism::Plain, &c, None, &mut out);
        assert_eq!(&out[..], b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    }

    #[test]
    fn login_two_challenges() {
        let mut out = BytesMut::new();
        let c = Credentials::password("user", "secret");
        let mut x = AuthExchange::start(Mechanism::Login, &c, None, &mut out);
        assert_eq!(&out.split()[..], b"AUTH LOGIN\r\n");
        x.challenge(b"VXNlcm5hbWU6", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"dXNlcg==\r\n");
        x.challenge(b"UGFzc3dvcmQ6", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"c2VjcmV0\r\n");
        x.challenge(b"", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"*\r\n");
    }

    #[test]
    fn oauthbearer_message() {
        let mut out = BytesMut::new();
        let c = Credentials::token(
            "user@example.com",
            "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        );
        let mut x = AuthExchange::start(Mechanism::OAuthBearer, &c, None, &mut out);
        let line = out.split();
        let b64 = &line[b"AUTH OAUTHBEARER ".len()..line.len() - 2];
        let decoded = decode_challenge(b64).unwrap();
        // RFC 7628 4.1, without host and port.
        assert_eq!(
            &decoded[..],
            &b"n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"[..]
        );
        // An error challenge is answered with %x01.
        x.challenge(b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=", &mut out)
            .unwrap();
        assert_eq!(&out.split()[..], b"AQ==\r\n");
    }

    #[test]
    fn long_token_waits_for_empty_challenge() {
        let mut out = BytesMut::new();
        let token = "t".repeat(900);
        let c = Credentials::token("user@example.com", token);
        let mut x = AuthExchange::start(Mechanism::XOAuth2, &c, None, &mut out);
        assert_eq!(&out.split()[..], b"AUTH XOAUTH2\r\n");
        x.challenge(b"", &mut out).unwrap();
        let line = out.split();
        assert!(line.len() > 1000 && line.ends_with(b"\r\n"));
        // A later challenge is Google's JSON error: answered with an empty line.
        x.challenge(b"eyJzdGF0dXMiOiI0MDEifQ==", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"\r\n");
    }
}
