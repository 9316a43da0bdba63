//! The client side of AUTH (RFC 4954): choosing a mechanism and answering challenges.

use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::config::{CredentialSecret, Credentials, PlaintextAuth};
use super::event::ClientError;
use super::offer::Offer;
use crate::sasl::Mechanism;

/// An initial response longer than this goes after an empty `334` instead of on the AUTH
/// line, which must stay within 512 octets (RFC 4954 4, RFC 5321 4.5.3.1.4).
const MAX_INLINE_RESPONSE: usize = 512 - 2 - b"AUTH OAUTHBEARER ".len();

/// Mechanisms in order of preference for each kind of secret.
const PASSWORD_ORDER: [Mechanism; 3] = [Mechanism::ScramSha256, Mechanism::Plain, Mechanism::Login];
const TOKEN_ORDER: [Mechanism; 2] = [Mechanism::OAuthBearer, Mechanism::XOAuth2];

/// Picks the best mechanism both sides allow, or `None`.
pub(crate) fn choose(
    creds: &Credentials,
    offer: &Offer,
    secure: bool,
    plaintext: PlaintextAuth,
) -> Option<Mechanism> {
    if !secure && plaintext == PlaintextAuth::Forbid {
        return None;
    }
    let order: &[Mechanism] = match creds.secret {
        CredentialSecret::Password(_) => &PASSWORD_ORDER,
        CredentialSecret::OAuthToken(_) => &TOKEN_ORDER,
    };
    let usable = |m: &Mechanism| {
        offer.auth.contains(m)
            && (*m != Mechanism::ScramSha256 || creds.scram_nonce.is_some())
            && creds.allowed.as_ref().is_none_or(|a| a.contains(m))
    };
    match &creds.allowed {
        // The caller's order wins when it gave one.
        Some(allowed) => allowed.iter().find(|m| order.contains(m) && usable(m)).cloned(),
        None => order.iter().find(|m| usable(m)).cloned(),
    }
}

/// Where an exchange is.
#[derive(Debug)]
enum Step {
    /// The AUTH line went out with the initial response (or none is due).
    Started,
    /// The initial response waits for an empty `334` (it was too long for the AUTH line).
    ResponsePending(Bytes),
    /// LOGIN: the user name went out; the password is next.
    LoginPasswordNext,
    /// LOGIN: both went out.
    LoginDone,
    /// OAuth: the server sent an error challenge; we answered and expect 535 next.
    ErrorAcknowledged,
    /// SCRAM: waiting for server-first.
    ScramFirstSent(crate::client::scram::ScramState),
    /// SCRAM: client-final sent; waiting for server-final.
    ScramFinalSent(crate::client::scram::ScramState),
    /// SCRAM: server signature verified; answered with an empty response.
    ScramVerified,
}

/// One AUTH exchange.
#[derive(Debug)]
pub(crate) struct AuthExchange {
    mechanism: Mechanism,
    creds: Credentials,
    step: Step,
}

fn b64(data: &[u8]) -> Bytes {
    Bytes::from(B64.encode(data))
}

impl AuthExchange {
    /// Writes the AUTH command and returns the exchange.
    pub(crate) fn start(mechanism: Mechanism, creds: &Credentials, out: &mut BytesMut) -> Self {
        let creds = creds.clone();
        let secret = match &creds.secret {
            CredentialSecret::Password(s) | CredentialSecret::OAuthToken(s) => s.expose().clone(),
        };
        let user = creds.authcid.clone();
        let authzid = creds.authzid.clone().unwrap_or_default();
        let initial: Option<Vec<u8>> = match mechanism {
            // RFC 4616: authzid NUL authcid NUL passwd.
            Mechanism::Plain => Some([&authzid[..], b"\0", &user, b"\0", &secret].concat()),
            Mechanism::Login => None,
            Mechanism::XOAuth2 => {
                Some([&b"user="[..], &user, b"\x01auth=Bearer ", &secret, b"\x01\x01"].concat())
            }
            // RFC 7628 3.1: gs2-header "n,a=authzid," then kvpairs.
            Mechanism::OAuthBearer => {
                let mut v = Vec::new();
                v.extend_from_slice(b"n,");
                if !creds.authzid.as_ref().is_none_or(|a| a.is_empty()) {
                    v.extend_from_slice(b"a=");
                    gs2_escape(&authzid, &mut v);
                } else {
                    v.extend_from_slice(b"a=");
                    gs2_escape(&user, &mut v);
                }
                v.extend_from_slice(b",\x01auth=Bearer ");
                v.extend_from_slice(&secret);
                v.extend_from_slice(b"\x01\x01");
                Some(v)
            }
            Mechanism::ScramSha256 => None,
            _ => None,
        };
        out.put_slice(b"AUTH ");
        out.put_slice(mechanism.name());
        let mut step = Step::Started;
        if mechanism == Mechanism::ScramSha256 {
            let nonce = creds.scram_nonce.as_ref().map(|n| n.expose().clone()).unwrap_or_default();
            let (state, first) =
                crate::client::scram::ScramState::start(&user, &creds.authzid, &secret, &nonce);
            let enc = b64(&first);
            out.put_u8(b' ');
            out.put_slice(&enc);
            step = Step::ScramFirstSent(state);
        } else if let Some(ir) = initial {
            let enc = if ir.is_empty() {
                Bytes::from_static(b"=")
            } else {
                b64(&ir)
            };
            if enc.len() <= MAX_INLINE_RESPONSE {
                out.put_u8(b' ');
                out.put_slice(&enc);
            } else {
                step = Step::ResponsePending(enc);
            }
        }
        out.put_slice(b"\r\n");
        AuthExchange {
            mechanism,
            creds,
            step,
        }
    }

    /// The mechanism in use.
    pub(crate) fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// Answers a `334` challenge (its text, still base64) by writing a response line.
    pub(crate) fn challenge(&mut self, text: &[u8], out: &mut BytesMut) -> Result<(), ClientError> {
        let text = text.trim_ascii();
        let decoded = B64.decode(text).ok();
        let secret = match &self.creds.secret {
            CredentialSecret::Password(s) | CredentialSecret::OAuthToken(s) => s.expose().clone(),
        };
        let step = core::mem::replace(&mut self.step, Step::Started);
        let response: Bytes = match (step, &self.mechanism) {
            (Step::ResponsePending(enc), _) => {
                // The initial response we held back.
                self.step = Step::Started;
                enc
            }
            (Step::Started, Mechanism::Login) => {
                self.step = Step::LoginPasswordNext;
                b64(&self.creds.authcid)
            }
            (Step::LoginPasswordNext, Mechanism::Login) => {
                self.step = Step::LoginDone;
                b64(&secret)
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
            (Step::ScramFirstSent(mut st), _) => {
                let server_first = decoded.ok_or(ClientError::AuthProtocol)?;
                let final_msg = st.client_final(&server_first).ok_or(ClientError::AuthProtocol)?;
                self.step = Step::ScramFinalSent(st);
                b64(&final_msg)
            }
            (Step::ScramFinalSent(st), _) => {
                let server_final = decoded.ok_or(ClientError::AuthProtocol)?;
                if !st.verify_server_final(&server_final) {
                    return Err(ClientError::AuthProtocol);
                }
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
        match &self.step {
            Step::ScramFirstSent(_) | Step::ScramFinalSent(_) => false,
            _ => true,
        }
    }
}

/// RFC 5801 saslname escaping: `,` as `=2C`, `=` as `=3D`.
fn gs2_escape(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
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
        assert_eq!(choose(&pw, &o, true, PlaintextAuth::Forbid), Some(Mechanism::Plain));
        assert_eq!(choose(&pw, &o, false, PlaintextAuth::Forbid), None);
        assert_eq!(choose(&pw, &o, false, PlaintextAuth::Allow), Some(Mechanism::Plain));
        let scram = offer(&[Mechanism::ScramSha256, Mechanism::Plain]);
        assert_eq!(choose(&pw, &scram, true, PlaintextAuth::Forbid), Some(Mechanism::Plain));
        let pw_n = pw.clone().with_scram_nonce("abcdefghijklmnopqrstuvwx");
        assert_eq!(choose(&pw_n, &scram, true, PlaintextAuth::Forbid), Some(Mechanism::ScramSha256));
        let only_login = pw.clone().with_mechanisms([Mechanism::Login]);
        assert_eq!(choose(&only_login, &o, true, PlaintextAuth::Forbid), Some(Mechanism::Login));
        let tok = Credentials::oauth_token("u", "t");
        assert_eq!(choose(&tok, &o, true, PlaintextAuth::Forbid), None);
        let oa = offer(&[Mechanism::XOAuth2, Mechanism::OAuthBearer]);
        assert_eq!(choose(&tok, &oa, true, PlaintextAuth::Forbid), Some(Mechanism::OAuthBearer));
    }

    #[test]
    fn plain_initial_response() {
        let mut out = BytesMut::new();
        let c = Credentials::password("user", "secret");
        AuthExchange::start(Mechanism::Plain, &c, &mut out);
        assert_eq!(&out[..], b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    }

    #[test]
    fn login_two_challenges() {
        let mut out = BytesMut::new();
        let c = Credentials::password("user", "secret");
        let mut x = AuthExchange::start(Mechanism::Login, &c, &mut out);
        assert_eq!(&out.split()[..], b"AUTH LOGIN\r\n");
        x.challenge(b"VXNlcm5hbWU6", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"dXNlcg==\r\n");
        x.challenge(b"UGFzc3dvcmQ6", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"c2VjcmV0\r\n");
        x.challenge(b"", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"*\r\n");
    }

    #[test]
    fn long_token_waits_for_empty_challenge() {
        let mut out = BytesMut::new();
        let token = "t".repeat(900);
        let c = Credentials::oauth_token("user@example.com", token);
        let mut x = AuthExchange::start(Mechanism::XOAuth2, &c, &mut out);
        assert_eq!(&out.split()[..], b"AUTH XOAUTH2\r\n");
        x.challenge(b"", &mut out).unwrap();
        let line = out.split();
        assert!(line.len() > 1000 && line.ends_with(b"\r\n"));
        // A later challenge is Google's JSON error: answered with an empty line.
        x.challenge(b"eyJzdGF0dXMiOiI0MDEifQ==", &mut out).unwrap();
        assert_eq!(&out.split()[..], b"\r\n");
    }
}
