use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
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
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_base64(&data);
        let _ = decode_challenge(&data);
        let _ = PlainCredentials::decode(&data);
        let _ = XOAuth2::decode(&data);
    }
}
