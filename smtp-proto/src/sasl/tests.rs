use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use base64::Engine as _;
use bytes::Bytes;
use proptest::prelude::*;

use super::*;

// --- base64 (RFC 4954 4, RFC 4648) ---

#[test]
fn base64_strict() {
    assert_eq!(
        &decode_base64(b"AHVzZXIAc2VjcmV0").expect("ok").expose()[..],
        b"\0user\0secret"
    );
    assert!(decode_base64(b"=").expect("empty").expose().is_empty());
    assert!(decode_base64(b"").expect("empty line").expose().is_empty());
    assert_eq!(decode_base64(b"*"), Err(SaslError::Cancelled));
    for bad in [
        &b"dXNlcg"[..], // missing padding
        b"dXNlcg=",     // short padding
        b"dXNl cg==",   // space inside
        b"dXNlcg==\r",  // stray CR
        b"dXNlcg===",
        b"dXNlch==", // non-canonical trailing bits ("user" is dXNlcg==)
        b"*=",
        b"==",
        b"d\0Nlcg==",
        b"dXNlcg-_", // URL-safe alphabet
    ] {
        assert_eq!(decode_base64(bad), Err(SaslError::InvalidBase64), "{bad:?}");
    }
    assert_eq!(&encode_base64(b"user")[..], b"dXNlcg==");
    assert_eq!(&encode_base64(b"")[..], b"");
    assert_eq!(&encode_initial_response(b"")[..], b"=");
    assert_eq!(&encode_initial_response(b"user")[..], b"dXNlcg==");
    assert_eq!(&decode_challenge(b"").expect("empty challenge")[..], b"");
    assert_eq!(
        &decode_challenge(b"VXNlcm5hbWU6").expect("login")[..],
        b"Username:"
    );
    assert_eq!(decode_challenge(b"="), Err(SaslError::InvalidBase64));
}

#[test]
fn error_replies() {
    let wire = |e: SaslError| {
        let r = e.reply();
        format!(
            "{} {}",
            r.code().as_u16(),
            r.enhanced().map(|e| format!("{e}")).unwrap_or_default()
        )
    };
    assert_eq!(wire(SaslError::InvalidBase64), "501 5.5.2");
    assert_eq!(wire(SaslError::Cancelled), "501 5.7.0");
    assert_eq!(wire(SaslError::Malformed("x")), "501 5.5.2");
    assert_eq!(wire(SaslError::FieldTooLong), "501 5.5.2");
    assert_eq!(wire(SaslError::AuthenticationFailed), "535 5.7.8");
    assert_eq!(wire(SaslError::OutOfOrder), "503 5.5.1");
}

// --- PLAIN (RFC 4616) ---

#[test]
fn plain_rfc4616_examples() {
    // Section 4: "tim" / "tanstaaftanstaaf", then authzid "Ursel", authcid "Kurt", "xipj3plmq".
    let c = PlainCredentials::decode(b"\0tim\0tanstaaftanstaaf").expect("valid");
    assert_eq!(c.authzid, None);
    assert_eq!(c.authcid_str(), "tim");
    assert_eq!(&c.password.expose()[..], b"tanstaaftanstaaf");
    let c = PlainCredentials::decode(b"Ursel\0Kurt\0xipj3plmq").expect("valid");
    assert_eq!(c.authzid.as_deref(), Some(&b"Ursel"[..]));
    assert_eq!(&c.authcid[..], b"Kurt");
    assert_eq!(&c.encode().expose()[..], b"Ursel\0Kurt\0xipj3plmq");
}

#[test]
fn plain_from_recorded_clients() {
    // smtplib: `AUTH PLAIN AHVzZXIAc2VjcmV0`; Perl Net::SMTP: `AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==`.
    let c = PlainCredentials::decode(decode_base64(b"AHVzZXIAc2VjcmV0").expect("b64").expose())
        .expect("plain");
    assert_eq!((c.authzid, &c.authcid[..]), (None, &b"user"[..]));
    let c = PlainCredentials::decode(
        decode_base64(b"dXNlcgB1c2VyAHNlY3JldA==")
            .expect("b64")
            .expose(),
    )
    .expect("plain");
    assert_eq!(c.authzid.as_deref(), Some(&b"user"[..]));
    assert_eq!(&c.password.expose()[..], b"secret");
}

#[test]
fn plain_malformed() {
    let long = vec![b'a'; 256];
    let mut oversized_password = b"\0user\0".to_vec();
    oversized_password.extend_from_slice(&long);
    let mut oversized_authzid = long.clone();
    oversized_authzid.extend_from_slice(b"\0user\0pw");
    let cases: Vec<(&[u8], SaslError)> = vec![
        (
            b"",
            SaslError::Malformed("PLAIN needs exactly two NUL separators"),
        ),
        (
            b"user secret",
            SaslError::Malformed("PLAIN needs exactly two NUL separators"),
        ),
        (
            b"\0usersecret",
            SaslError::Malformed("PLAIN needs exactly two NUL separators"),
        ),
        (
            b"\0user\0secret\0",
            SaslError::Malformed("PLAIN needs exactly two NUL separators"),
        ),
        (
            b"a\0b\0c\0d",
            SaslError::Malformed("PLAIN needs exactly two NUL separators"),
        ),
        (
            b"\0\0secret",
            SaslError::Malformed("PLAIN authcid is empty"),
        ),
        (b"\0user\0", SaslError::Malformed("PLAIN password is empty")),
        (
            b"\0us\xffer\0pw",
            SaslError::Malformed("PLAIN field is not UTF-8"),
        ),
        (&oversized_password, SaslError::FieldTooLong),
        (&oversized_authzid, SaslError::FieldTooLong),
    ];
    for (input, want) in cases {
        assert_eq!(PlainCredentials::decode(input), Err(want), "{input:?}");
    }
    // 255 octets each is fine, multi-byte UTF-8 too.
    let max = "é".repeat(127) + "a";
    let msg = format!("{max}\0{max}\0{max}");
    let c = PlainCredentials::decode(msg.as_bytes()).expect("255 octets each");
    assert_eq!(c.authcid.len(), 255);
}

#[test]
fn plain_debug_hides_password() {
    let c = PlainCredentials::new("user", "hunter2");
    let s = format!("{c:?}");
    assert!(s.contains("user") && !s.contains("hunter2"), "{s}");
}

// --- LOGIN ---

#[test]
fn login_client_follows_the_draft_example() {
    // draft-murchison-sasl-login-00 2.3: the server asks "User Name\0" (VXNlciBOYW1lAA==).
    let mut c = LoginClient::new("tim", "tanstaaftanstaaf");
    let ch = decode_challenge(b"VXNlciBOYW1lAA==").expect("b64");
    assert_eq!(&ch[..], b"User Name\0");
    assert_eq!(
        &encode_base64(c.step(&ch).expect("user").expose())[..],
        b"dGlt"
    );
    assert!(!c.is_done());
    let ch = decode_challenge(b"UGFzc3dvcmQA").expect("b64");
    assert_eq!(
        &encode_base64(c.step(&ch).expect("pw").expose())[..],
        b"dGFuc3RhYWZ0YW5zdGFhZg=="
    );
    assert!(c.is_done());
    assert_eq!(c.step(b""), Err(SaslError::OutOfOrder));
    assert!(!format!("{c:?}").contains("tanstaaf"));
}

#[test]
fn login_constants_and_initial_response() {
    assert_eq!(
        &encode_base64(login::USERNAME_CHALLENGE)[..],
        login::USERNAME_CHALLENGE_BASE64
    );
    assert_eq!(
        &encode_base64(login::PASSWORD_CHALLENGE)[..],
        login::PASSWORD_CHALLENGE_BASE64
    );
    // smtplib: `AUTH LOGIN dXNlcg==`, then the password after `334 UGFzc3dvcmQ6`.
    let mut c = LoginClient::new("user", "secret");
    assert_eq!(
        &encode_base64(c.initial_response().expect("ir").expose())[..],
        b"dXNlcg=="
    );
    assert_eq!(
        &c.step(login::PASSWORD_CHALLENGE).expect("pw").expose()[..],
        b"secret"
    );
}

// --- XOAUTH2 ---

#[test]
fn xoauth2_google_example() {
    // Google's documented example (base64 of the message below).
    let wire = b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
    let m = XOAuth2::decode(decode_base64(wire).expect("b64").expose()).expect("xoauth2");
    assert_eq!(&m.user[..], b"someuser@example.com");
    assert_eq!(
        &m.token.expose()[..],
        b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
    );
    assert_eq!(&encode_base64(m.encode().expose())[..], &wire[..]);
    assert!(!format!("{m:?}").contains("ya29"));
}

#[test]
fn xoauth2_malformed() {
    for bad in [
        &b""[..],
        b"user=a\x01auth=Bearer t\x01",
        b"user=a\x01auth=Bearer t",
        b"user=\x01auth=Bearer t\x01\x01",
        b"usr=a\x01auth=Bearer t\x01\x01",
        b"user=a\x01auth=Basic t\x01\x01",
        b"user=a\x01auth=Bearer \x01\x01",
        b"user=a\x01auth=Bearert\x01\x01",
        b"user=a\x01auth=Bearer t t\x01\x01",
        b"user=a\x01auth=Bearer t\x01x=y\x01\x01",
        b"\x01\x01",
    ] {
        assert!(
            matches!(XOAuth2::decode(bad), Err(SaslError::Malformed(_))),
            "{bad:?}"
        );
    }
    // Case-insensitive scheme, several spaces, padding `=`.
    let m = XOAuth2::decode(b"user=a\x01auth=bearer   tok==\x01\x01").expect("lenient");
    assert_eq!(&m.token.expose()[..], b"tok==");
}

// --- OAUTHBEARER (RFC 7628) ---

#[test]
fn oauthbearer_rfc7628_examples() {
    // 4.1 (IMAP, port 143) and the SMTP variant (port 587).
    let imap = b"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
    let m = OAuthBearer::decode(decode_base64(imap).expect("b64").expose()).expect("valid");
    let want = OAuthBearer {
        authzid: Some(Bytes::from_static(b"user@example.com")),
        host: Some(Bytes::from_static(b"server.example.com")),
        port: Some(143),
        token: Secret::new(Bytes::from_static(
            b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        )),
    };
    assert_eq!(m, want);
    assert_eq!(&encode_base64(m.encode().expose())[..], &imap[..]);
    assert!(!format!("{m:?}").contains("vF9dft"));

    // 4.3: empty auth= to discover the scope; the server answers with JSON, the client ^A.
    let failed =
        b"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE=";
    let m = OAuthBearer::decode(decode_base64(failed).expect("b64").expose()).expect("valid");
    assert!(m.token.expose().is_empty());
    assert_eq!(&encode_base64(m.encode().expose())[..], &failed[..]);
    let json = decode_challenge(b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=").expect("json");
    assert!(json.starts_with(b"{\"status\":\"invalid_token\""));
    let ack = decode_base64(b"AQ==").expect("b64");
    assert!(oauthbearer::is_error_ack(ack.expose()));
    assert_eq!(&encode_base64(oauthbearer::ERROR_ACK)[..], b"AQ==");
}

#[test]
fn oauthbearer_variants_and_malformed() {
    // No authzid, unknown keys ignored, escaped saslname.
    let m = OAuthBearer::decode(b"n,,\x01qs=x\x01auth=Bearer abc\x01\x01").expect("valid");
    assert_eq!((m.authzid, m.host, m.port), (None, None, None));
    let m = OAuthBearer::decode(b"y,a=a=2Cb=3Dc,\x01auth=Bearer abc\x01\x01").expect("valid");
    assert_eq!(m.authzid.as_deref(), Some(&b"a,b=c"[..]));
    let enc = OAuthBearer {
        authzid: Some(Bytes::from_static(b"a,b=c")),
        ..OAuthBearer::new("x", "abc")
    };
    assert!(enc.encode().expose().starts_with(b"n,a=a=2Cb=3Dc,\x01"));
    assert_eq!(
        OAuthBearer::decode(b"p=tls-unique,,\x01auth=Bearer abc\x01\x01"),
        Err(SaslError::ChannelBindingNotSupported)
    );
    for bad in [
        &b""[..],
        b"\x01",
        b"n,,",
        b"n,,\x01",
        b"n,,\x01\x01",
        b"n,,\x01auth=Bearer abc\x01",
        b"n,,\x01auth=Bearer abc\x01\x01\x01",
        b"n,,auth=Bearer abc\x01\x01",
        b"n,a=,\x01auth=Bearer abc\x01\x01",
        b"n,a=x=41,\x01auth=Bearer abc\x01\x01",
        b"n,b=x,\x01auth=Bearer abc\x01\x01",
        b"x,,\x01auth=Bearer abc\x01\x01",
        b"F,n,,\x01auth=Bearer abc\x01\x01",
        b"n,,\x01auth=Basic abc\x01\x01",
        b"n,,\x01auth=Bearer abc\x01auth=Bearer d\x01\x01",
        b"n,,\x01port=0143\x01auth=Bearer abc\x01\x01",
        b"n,,\x01port=70000\x01auth=Bearer abc\x01\x01",
        b"n,,\x01port=\x01auth=Bearer abc\x01\x01",
        b"n,,\x01h0st=x\x01auth=Bearer abc\x01\x01",
        b"n,,\x01noequals\x01auth=Bearer abc\x01\x01",
        b"n,,\x01host=a\x00b\x01auth=Bearer abc\x01\x01",
    ] {
        assert!(OAuthBearer::decode(bad).is_err(), "{bad:?}");
    }
}

// --- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---

const RFC7677_CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC7677_SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC7677_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC7677_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
const RFC7677_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

fn rfc7677_stored() -> ScramStoredKey {
    let salt = base64::engine::general_purpose::STANDARD
        .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
        .expect("salt");
    ScramStoredKey::derive("pencil", salt, 4096).expect("derive")
}

#[test]
fn scram_client_rfc7677_vector() {
    let mut c = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO").expect("client");
    assert_eq!(&c.client_first()[..], RFC7677_CLIENT_FIRST);
    assert_eq!(
        &c.handle_server_first(RFC7677_SERVER_FIRST).expect("final")[..],
        RFC7677_CLIENT_FINAL
    );
    assert!(!c.is_verified());
    c.handle_server_final(RFC7677_SERVER_FINAL)
        .expect("verified");
    assert!(c.is_verified());
    assert_eq!(
        c.handle_server_final(RFC7677_SERVER_FINAL),
        Err(SaslError::OutOfOrder)
    );
    assert!(!format!("{c:?}").contains("pencil"));
}

#[test]
fn scram_server_rfc7677_vector() {
    let first = ScramServer::parse_client_first(RFC7677_CLIENT_FIRST).expect("client-first");
    assert_eq!(&first.username()[..], b"user");
    assert_eq!(first.authzid(), None);
    let stored = rfc7677_stored();
    assert!(!format!("{stored:?}").contains(&format!("{:?}", stored.stored_key.expose())));
    let mut s = ScramServer::new(first, stored, RFC7677_SERVER_NONCE).expect("server");
    assert_eq!(&s.server_first()[..], RFC7677_SERVER_FIRST);
    assert_eq!(
        &s.handle_client_final(RFC7677_CLIENT_FINAL)
            .expect("verified")[..],
        RFC7677_SERVER_FINAL
    );
    assert!(s.is_verified());
    assert_eq!(
        s.handle_client_final(RFC7677_CLIENT_FINAL),
        Err(SaslError::OutOfOrder)
    );
}

#[test]
fn scram_wrong_password_and_forged_server() {
    // Wrong password: the server refuses the proof.
    let mut c = ScramClient::new("user", "pencil!", "rOprNGfwEbeRWgbNEkqO").expect("client");
    let first = ScramServer::parse_client_first(&c.client_first()).expect("first");
    let mut s = ScramServer::new(first, rfc7677_stored(), RFC7677_SERVER_NONCE).expect("server");
    let fin = c.handle_server_first(&s.server_first()).expect("final");
    assert_eq!(
        s.handle_client_final(&fin),
        Err(SaslError::AuthenticationFailed)
    );
    assert_eq!(SaslError::AuthenticationFailed.reply().code().as_u16(), 535);

    // A server that does not know the password cannot produce the signature.
    let mut c = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO").expect("client");
    c.handle_server_first(RFC7677_SERVER_FIRST).expect("final");
    assert_eq!(
        c.handle_server_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        Err(SaslError::AuthenticationFailed)
    );
    assert!(!c.is_verified());
    let mut c = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO").expect("client");
    c.handle_server_first(RFC7677_SERVER_FIRST).expect("final");
    assert_eq!(
        c.handle_server_final(b"e=invalid-proof"),
        Err(SaslError::ServerRejected(Bytes::from_static(
            b"invalid-proof"
        )))
    );
}

#[test]
fn scram_client_rejects_bad_server_first() {
    let fresh = || ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO").expect("client");
    for bad in [
        &b""[..],
        b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", // nonce not extended
        b"r=other%hvYDp,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",          // foreign nonce
        b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", // bad base64
        b"r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
        b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
        b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=x",
        b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        b"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
    ] {
        let mut c = fresh();
        assert!(c.handle_server_first(bad).is_err(), "{bad:?}");
        // A failed exchange accepts nothing more.
        assert_eq!(
            c.handle_server_first(RFC7677_SERVER_FIRST),
            Err(SaslError::OutOfOrder)
        );
    }
    // Iteration counts outside the accepted range (a hostile server cannot make us spin).
    for (count, want) in [("1", 1u32), ("4095", 4095), ("4000000000", 4_000_000_000)] {
        let msg = format!("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={count}");
        assert_eq!(
            fresh().handle_server_first(msg.as_bytes()),
            Err(SaslError::IterationCount(want))
        );
    }
    let mut lenient = fresh().with_iteration_limits(1, 10);
    assert!(lenient
        .handle_server_first(b"r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=1")
        .is_ok());
    // Extensions after i= are ignored.
    let mut c = fresh();
    assert!(c
        .handle_server_first(b"r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=4096,x=y")
        .is_ok());
}

#[test]
fn scram_saslprep_choice_and_nonces() {
    assert!(ScramClient::new("us,e=r", "pw d", "n").is_ok());
    let c = ScramClient::new("us,e=r", "pw", "nonce").expect("client");
    assert_eq!(&c.client_first()[..], b"n,,n=us=2Ce=3Dr,r=nonce");
    for (user, pw) in [
        ("usér", "pw"),
        ("user", "pässword"),
        ("user", "pw\t"),
        ("", "pw"),
    ] {
        assert_eq!(
            ScramClient::new(user, pw, "n").err(),
            Some(SaslError::UnsupportedCharacters),
            "{user}"
        );
    }
    assert_eq!(
        ScramStoredKey::derive("pässword", &b"s"[..], 4096),
        Err(SaslError::UnsupportedCharacters)
    );
    assert_eq!(
        ScramStoredKey::derive("pw", &b"s"[..], 0),
        Err(SaslError::IterationCount(0))
    );
    for nonce in ["", "a,b", "a b", "é"] {
        assert!(
            matches!(
                ScramClient::new("u", "p", nonce),
                Err(SaslError::Malformed(_))
            ),
            "{nonce:?}"
        );
    }
    let first = ScramServer::parse_client_first(b"n,,n=user,r=abc").expect("first");
    assert!(ScramServer::new(first, rfc7677_stored(), "x,y").is_err());
}

#[test]
fn scram_server_parses_and_rejects_client_first() {
    // Non-ASCII user names pass through as sent; authzid is unescaped.
    let f = ScramServer::parse_client_first("y,a=ad=3Dmin,n=jürgen,r=abc,x=ext".as_bytes())
        .expect("first");
    assert_eq!(&f.username()[..], "jürgen".as_bytes());
    assert_eq!(f.authzid().map(|a| &a[..]), Some(&b"ad=min"[..]));
    assert_eq!(
        ScramServer::parse_client_first(b"p=tls-unique,,n=user,r=abc"),
        Err(SaslError::ChannelBindingNotSupported)
    );
    for bad in [
        &b""[..],
        b"n,,",
        b"n,,n=user",
        b"n,,n=,r=abc",
        b"n,,r=abc,n=user",
        b"n,,n=user,r=",
        b"n,,n=us=41er,r=abc",
        b"n,,m=ext,n=user,r=abc",
        b"n,,n=user,r=a b",
        b"n,,n=u\x01ser,r=abc",
        b"n,,n=u\xffser,r=abc",
        b"n,n=user,r=abc",
    ] {
        assert!(ScramServer::parse_client_first(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn scram_with_authzid() {
    let mut c = ScramClient::new("user", "pencil", "abc")
        .expect("client")
        .with_authzid("ad,min")
        .expect("authzid");
    let first_msg = c.client_first();
    assert_eq!(&first_msg[..], b"n,a=ad=2Cmin,n=user,r=abc");
    let first = ScramServer::parse_client_first(&first_msg).expect("first");
    assert_eq!(first.authzid().map(|a| &a[..]), Some(&b"ad,min"[..]));
    let mut s = ScramServer::new(first, rfc7677_stored(), "xyz").expect("server");
    let fin = c.handle_server_first(&s.server_first()).expect("final");
    assert!(fin.starts_with(b"c=bixhPWFkPTJDbWluLA==,"), "{fin:?}");
    let server_final = s.handle_client_final(&fin).expect("verified");
    c.handle_server_final(&server_final).expect("verified");
    assert!(ScramClient::new("u", "p", "n")
        .expect("c")
        .with_authzid("é")
        .is_err());
}

#[test]
fn scram_server_rejects_bad_client_final() {
    let server = || {
        let first = ScramServer::parse_client_first(RFC7677_CLIENT_FIRST).expect("first");
        ScramServer::new(first, rfc7677_stored(), RFC7677_SERVER_NONCE).expect("server")
    };
    let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let cases: Vec<(String, SaslError)> = vec![
        (
            format!("c=eSws,r={nonce},p={proof}"),
            SaslError::ChannelBindingNotSupported,
        ),
        (
            format!("c=biws,r={nonce}x,p={proof}"),
            SaslError::Malformed("SCRAM nonce mismatch"),
        ),
        (
            format!("c=biws,r={nonce},p=AAAA"),
            SaslError::Malformed("bad SCRAM client-final-message"),
        ),
        (format!("c=biws,r={nonce},p=!!"), SaslError::InvalidBase64),
        (
            format!("c=biws,r={nonce}"),
            SaslError::Malformed("bad SCRAM client-final-message"),
        ),
        (
            format!("r={nonce},c=biws,p={proof}"),
            SaslError::Malformed("bad SCRAM client-final-message"),
        ),
        (
            String::new(),
            SaslError::Malformed("bad SCRAM client-final-message"),
        ),
        (
            format!("c=biws,r={nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVM="),
            SaslError::AuthenticationFailed,
        ),
    ];
    for (msg, want) in cases {
        let mut s = server();
        assert_eq!(s.handle_client_final(msg.as_bytes()), Err(want), "{msg}");
        assert!(!s.is_verified());
        assert_eq!(
            s.handle_client_final(RFC7677_CLIENT_FINAL),
            Err(SaslError::OutOfOrder)
        );
    }
}

// --- Credentials ---

#[test]
fn mechanism_choice() {
    use Mechanism as M;
    let pw = Credentials::password("user", "secret");
    let all = [
        M::Login,
        M::Plain,
        M::ScramSha256,
        M::XOAuth2,
        M::OAuthBearer,
    ];
    assert_eq!(pw.best_mechanism(&all, true), Some(M::ScramSha256));
    assert_eq!(pw.best_mechanism(&all, false), Some(M::ScramSha256));
    assert_eq!(
        pw.best_mechanism(&[M::Login, M::Plain], true),
        Some(M::Plain)
    );
    assert_eq!(pw.best_mechanism(&[M::Login], true), Some(M::Login));
    assert_eq!(pw.best_mechanism(&[M::Login, M::Plain], false), None);
    assert_eq!(
        pw.select_mechanism(&[M::Login, M::Plain], false, CleartextPolicy::Allow),
        Some(M::Plain)
    );
    assert_eq!(pw.best_mechanism(&[M::CramMd5, M::XOAuth2], true), None);

    let tok = Credentials::token("user@example.com", "ya29.token");
    assert_eq!(tok.best_mechanism(&all, true), Some(M::OAuthBearer));
    assert_eq!(
        tok.best_mechanism(&[M::XOAuth2, M::Plain], true),
        Some(M::XOAuth2)
    );
    assert_eq!(tok.best_mechanism(&all, false), None);
    assert_eq!(
        tok.select_mechanism(&all, false, CleartextPolicy::Allow),
        Some(M::OAuthBearer)
    );
    assert_eq!(tok.best_mechanism(&[M::Plain], true), None);
    assert_eq!(tok.username(), "user@example.com");
    assert!(!format!("{tok:?}").contains("ya29"));
    assert!(!format!("{pw:?}").contains("secret"));
}

// --- Properties ---

fn field(max: usize) -> impl Strategy<Value = alloc::string::String> {
    proptest::string::string_regex(&format!("[^\\x00]{{1,{max}}}"))
        .expect("regex")
        .prop_filter("fits in 255 octets", |s| s.len() <= 255)
}

proptest! {
    #[test]
    fn base64_round_trip(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let wire = encode_base64(&data);
        let back = decode_base64(&wire)?;
        prop_assert_eq!(&back.expose()[..], &data[..]);
        let ir = encode_initial_response(&data);
        let back = decode_base64(&ir)?;
        prop_assert_eq!(&back.expose()[..], &data[..]);
    }

    #[test]
    fn plain_round_trip(authzid in proptest::option::of(field(60)), authcid in field(60), password in field(60)) {
        let c = PlainCredentials {
            authzid: authzid.map(Bytes::from),
            authcid: Bytes::from(authcid),
            password: Secret::new(Bytes::from(password)),
        };
        prop_assert_eq!(PlainCredentials::decode(c.encode().expose())?, c);
    }

    #[test]
    fn xoauth2_round_trip(user in "[!-~]{1,40}", token in "[A-Za-z0-9._~+/-]{1,60}=*") {
        let m = XOAuth2::new(user, token);
        prop_assert_eq!(XOAuth2::decode(m.encode().expose())?, m);
    }

    #[test]
    fn oauthbearer_round_trip(
        user in proptest::option::of("[!-~]{1,30}"),
        host in proptest::option::of("[a-z0-9.-]{1,30}"),
        port in proptest::option::of(1u16..),
        token in "([A-Za-z0-9._~+/-]{1,60}=*)?",
    ) {
        let m = OAuthBearer {
            authzid: user.map(Bytes::from),
            host: host.map(Bytes::from),
            port,
            token: Secret::new(Bytes::from(token)),
        };
        prop_assert_eq!(OAuthBearer::decode(m.encode().expose())?, m);
    }

    #[test]
    fn scram_client_and_server_agree(
        user in "[ -~]{1,20}",
        password in "[ -~]{0,20}",
        cnonce in "[!-+\\--~]{1,24}",
        snonce in "[!-+\\--~]{1,24}",
        salt in proptest::collection::vec(any::<u8>(), 1..20),
        wrong in any::<bool>(),
    ) {
        let mut client = ScramClient::new(&user, &password, &cnonce)?.with_iteration_limits(1, 16);
        let first = ScramServer::parse_client_first(&client.client_first())?;
        prop_assert_eq!(first.username(), &Bytes::from(user.clone()));
        let stored_pw = if wrong { format!("{password}x") } else { password.clone() };
        let stored = ScramStoredKey::derive(&stored_pw, salt, 16)?;
        let mut server = ScramServer::new(first, stored, &snonce)?;
        let client_final = client.handle_server_first(&server.server_first())?;
        match server.handle_client_final(&client_final) {
            Ok(server_final) => {
                prop_assert!(!wrong);
                client.handle_server_final(&server_final)?;
                prop_assert!(client.is_verified() && server.is_verified());
            }
            Err(e) => {
                prop_assert!(wrong);
                prop_assert_eq!(e, SaslError::AuthenticationFailed);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_base64(&data);
        let _ = decode_challenge(&data);
        let _ = PlainCredentials::decode(&data);
        let _ = XOAuth2::decode(&data);
        let _ = OAuthBearer::decode(&data);
        let _ = ScramServer::parse_client_first(&data);
        let mut c = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO")?.with_iteration_limits(1, 16);
        let _ = c.handle_server_first(&data);
        let _ = c.handle_server_final(&data);
        let mut c = ScramClient::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO")?.with_iteration_limits(1, 1);
        c.handle_server_first(b"r=rOprNGfwEbeRWgbNEkqOx,s=c2FsdA==,i=1")?;
        let _ = c.handle_server_final(&data);
    }
}

/// Regression (fuzz target `sasl`): `port=+0` decoded to port 0 because `str::parse` takes
/// a sign; only digits without a leading zero are a port (RFC 7628 3.1).
#[test]
fn oauthbearer_port_must_be_digits() {
    for port in ["+0", "+25", "-1", " 25", "0", "025", "65536"] {
        let msg = format!("n,,\x01port={port}\x01auth=Bearer t\x01\x01");
        assert_eq!(
            OAuthBearer::decode(msg.as_bytes()),
            Err(SaslError::Malformed("OAUTHBEARER port is not a number")),
            "port={port}"
        );
    }
    let m = OAuthBearer::decode(b"n,,\x01port=587\x01auth=Bearer t\x01\x01").expect("valid");
    assert_eq!(m.port, Some(587));
}
