//! SCRAM-SHA-256 client messages (RFC 5802, RFC 7677), without channel binding.

use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The most PBKDF2 iterations a server may ask for: the count is the server's to choose,
/// so without a cap a hostile server could make the client spin for hours.
const MAX_ITERATIONS: u32 = 1_000_000;

/// State between the client's messages.
#[derive(Debug)]
pub(crate) struct ScramState {
    password: Bytes,
    gs2_header: Vec<u8>,
    client_first_bare: Vec<u8>,
    nonce: Vec<u8>,
    /// Set by `client_final`: the expected server signature.
    server_signature: Option<[u8; 32]>,
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data);
    m.finalize().into_bytes().into()
}

fn saslname(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            _ => out.push(b),
        }
    }
}

impl ScramState {
    /// Builds client-first-message; returns the state and the message.
    pub(crate) fn start(
        user: &[u8],
        authzid: &Option<Bytes>,
        password: &Bytes,
        nonce: &[u8],
    ) -> (ScramState, Vec<u8>) {
        let mut gs2 = b"n,".to_vec();
        if let Some(a) = authzid.as_ref().filter(|a| !a.is_empty()) {
            gs2.extend_from_slice(b"a=");
            saslname(a, &mut gs2);
        }
        gs2.push(b',');
        let mut bare = b"n=".to_vec();
        saslname(user, &mut bare);
        bare.extend_from_slice(b",r=");
        bare.extend_from_slice(nonce);
        let first = [&gs2[..], &bare[..]].concat();
        (
            ScramState {
                password: password.clone(),
                gs2_header: gs2,
                client_first_bare: bare,
                nonce: nonce.to_vec(),
                server_signature: None,
            },
            first,
        )
    }

    /// From server-first-message, builds client-final-message; `None` when the server's
    /// message is malformed, its nonce does not extend ours, or the iteration count is
    /// outside 1..=MAX_ITERATIONS.
    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Option<Vec<u8>> {
        let mut r = None;
        let mut s = None;
        let mut i = None;
        for attr in server_first.split(|&b| b == b',') {
            match attr {
                [b'r', b'=', v @ ..] => r = Some(v),
                [b's', b'=', v @ ..] => s = Some(v),
                [b'i', b'=', v @ ..] => i = Some(v),
                [b'm', b'=', ..] => return None, // mandatory extension we do not know
                _ => {}
            }
        }
        let (r, s, i) = (r?, s?, i?);
        if !r.starts_with(&self.nonce) || r.len() == self.nonce.len() {
            return None;
        }
        let salt = B64.decode(s).ok()?;
        let iterations: u32 = core::str::from_utf8(i).ok()?.parse().ok()?;
        if iterations == 0 || iterations > MAX_ITERATIONS {
            return None;
        }
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&self.password, &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let mut without_proof = b"c=".to_vec();
        without_proof.extend_from_slice(B64.encode(&self.gs2_header).as_bytes());
        without_proof.extend_from_slice(b",r=");
        without_proof.extend_from_slice(r);
        let auth_message = [
            &self.client_first_bare[..],
            b",",
            server_first,
            b",",
            &without_proof[..],
        ]
        .concat();
        let client_signature = hmac(&stored_key, &auth_message);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = Some(hmac(&server_key, &auth_message));
        let mut out = without_proof;
        out.extend_from_slice(b",p=");
        out.extend_from_slice(B64.encode(proof).as_bytes());
        Some(out)
    }

    /// Checks server-final-message (`v=signature`).
    pub(crate) fn verify_server_final(&self, server_final: &[u8]) -> bool {
        let Some(expected) = self.server_signature else {
            return false;
        };
        let Some(v) = server_final.strip_prefix(b"v=") else {
            return false;
        };
        let v = v.split(|&b| b == b',').next().unwrap_or_default();
        B64.decode(v)
            .ok()
            .is_some_and(|sig| sig[..] == expected[..])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 7677 section 3 test vector.
    #[test]
    fn rfc7677_example() {
        let (mut st, first) = ScramState::start(
            b"user",
            &None,
            &Bytes::from_static(b"pencil"),
            b"rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = st.client_final(server_first).unwrap();
        assert_eq!(
            &fin[..],
            &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..]
        );
        assert!(st.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
        assert!(!st.verify_server_final(b"v=AAAA"));
    }

    #[test]
    fn refuses_foreign_nonce_and_huge_iterations() {
        let (mut st, _) = ScramState::start(b"u", &None, &Bytes::from_static(b"p"), b"abc");
        assert!(st.client_final(b"r=xyz1,s=AAAA,i=4096").is_none());
        assert!(st.client_final(b"r=abc1,s=AAAA,i=4000000000").is_none());
        assert!(st.client_final(b"r=abc,s=AAAA,i=4096").is_none());
    }
}
