use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

use super::*;
use crate::address::{AddressLiteral, Domain};
use crate::reply::{Reply, ReplyCode};
use crate::Status;

fn reply(wire: &'static [u8]) -> Reply {
    let buf = Bytes::from_static(wire);
    match Reply::parse(&buf) {
        Ok(Status::Complete((r, used))) => {
            assert_eq!(used, buf.len(), "fixture holds exactly one reply");
            r
        }
        other => panic!("fixture does not parse: {other:?}"),
    }
}

fn caps(wire: &'static [u8]) -> Capabilities {
    Capabilities::from_reply(&reply(wire)).expect("a 250 reply")
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn domain(s: &'static str) -> Option<Host> {
    Some(Host::Domain(Domain::from_bytes(b(s))))
}

fn kw(line: &'static str) -> EhloKeyword {
    EhloKeyword::parse(&b(line))
}

// --- Real servers (recorded in /work/shared/transcripts/server-*.s2c) ---

#[test]
fn postfix_smtpd() {
    let c = caps(include_bytes!("fixtures/postfix-smtpd.txt"));
    assert_eq!(c.host, domain("pfx.interop.test"));
    assert!(c.greeting.is_empty());
    assert_eq!(
        c.keywords,
        vec![
            EhloKeyword::Pipelining,
            EhloKeyword::Size(Some(20_480_000)),
            EhloKeyword::Vrfy,
            EhloKeyword::Etrn,
            EhloKeyword::StartTls,
            EhloKeyword::Auth(vec![Mechanism::Plain, Mechanism::Login]),
            EhloKeyword::EnhancedStatusCodes,
            EhloKeyword::EightBitMime,
            EhloKeyword::Dsn,
            EhloKeyword::SmtpUtf8,
            EhloKeyword::Chunking,
        ]
    );
    assert!(c.supports_pipelining() && c.supports_chunking() && c.supports_smtputf8());
    assert!(c.supports_8bitmime() && c.supports_dsn() && c.supports_starttls());
    assert!(c.supports_enhanced_status_codes() && c.supports_size());
    assert!(!c.supports_binarymime() && !c.supports_requiretls());
    assert_eq!(c.max_size(), Some(20_480_000));
    assert_eq!(c.auth_mechanisms(), &[Mechanism::Plain, Mechanism::Login]);
    assert_eq!(c.limits(), None);
}

#[test]
fn postfix_smtp_sink_with_empty_last_line() {
    let c = caps(include_bytes!("fixtures/postfix-smtp-sink.txt"));
    assert_eq!(c.host, domain("smtp-sink.interop.test"));
    assert_eq!(
        c.keywords,
        vec![
            EhloKeyword::Pipelining,
            EhloKeyword::EightBitMime,
            EhloKeyword::Auth(vec![Mechanism::Plain, Mechanism::Login]),
            EhloKeyword::XClient(vec![b("NAME"), b("HELO")]),
            EhloKeyword::XForward(vec![b("NAME"), b("ADDR"), b("PROTO"), b("HELO")]),
            EhloKeyword::EnhancedStatusCodes,
            EhloKeyword::Dsn,
        ],
        "the empty `250 ` line is skipped"
    );
    assert_eq!(c.max_size(), None);
    assert!(!c.supports_size());
}

#[test]
fn aiosmtpd() {
    let c = caps(include_bytes!("fixtures/aiosmtpd.txt"));
    assert_eq!(c.host, domain("aiosmtpd.interop.test"));
    assert_eq!(c.max_size(), Some(67_108_864));
    assert_eq!(c.auth_mechanisms(), &[Mechanism::Login, Mechanism::Plain]);
    assert!(!c.supports_pipelining() && !c.supports_enhanced_status_codes());
    assert_eq!(c.keywords.last(), Some(&EhloKeyword::Help));
}

#[test]
fn go_smtp_first_word_is_a_valid_one_label_domain() {
    let c = caps(include_bytes!("fixtures/go-smtp.txt"));
    // `Hello` is syntactically a domain (RFC 5321 4.1.2); the grammar cannot tell.
    assert_eq!(c.host, domain("Hello"));
    assert_eq!(&c.greeting[..], b"client.interop.test");
    assert_eq!(c.keywords.len(), 7);
    assert_eq!(c.max_size(), Some(67_108_864));
    assert!(c.supports_pipelining() && c.supports_enhanced_status_codes());
}

#[test]
fn mailin_embedded() {
    let c = caps(include_bytes!("fixtures/mailin-embedded.txt"));
    assert_eq!(c.host, domain("server"));
    assert_eq!(&c.greeting[..], b"offers extensions:");
    assert_eq!(
        c.keywords,
        vec![EhloKeyword::EightBitMime, EhloKeyword::StartTls]
    );
    assert!(c.auth_mechanisms().is_empty());
}

#[test]
fn node_smtp_server() {
    let c = caps(include_bytes!("fixtures/node-smtp-server.txt"));
    assert_eq!(c.host, domain("smtp-server.interop.test"));
    assert_eq!(&c.greeting[..], b"Nice to meet you, [127.0.0.1]");
    assert_eq!(c.max_size(), Some(67_108_864));
    assert!(c.supports_starttls() && c.supports_smtputf8());
}

// --- Well-known public servers, written as fixtures ---

#[test]
fn gmail_submission() {
    let c = caps(include_bytes!("fixtures/gmail-submission.txt"));
    assert_eq!(c.host, domain("smtp.gmail.com"));
    assert_eq!(&c.greeting[..], b"at your service, [203.0.113.5]");
    assert_eq!(
        c.auth_mechanisms(),
        &[
            Mechanism::Login,
            Mechanism::Plain,
            Mechanism::XOAuth2,
            Mechanism::Other(b("PLAIN-CLIENTTOKEN")),
            Mechanism::OAuthBearer,
            Mechanism::Other(b("XOAUTH")),
        ]
    );
    assert_eq!(c.max_size(), Some(35_882_577));
    assert!(!c.supports_starttls(), "already under TLS");
}

#[test]
fn gmail_mx() {
    let c = caps(include_bytes!("fixtures/gmail-mx.txt"));
    assert_eq!(c.host, domain("mx.google.com"));
    assert!(c.supports_starttls() && c.supports_chunking() && c.supports_smtputf8());
    assert!(c.auth_mechanisms().is_empty());
}

#[test]
fn exim_with_limits_and_unknown_keywords() {
    let c = caps(include_bytes!("fixtures/exim.txt"));
    assert_eq!(c.host, domain("mail.example.org"));
    assert_eq!(&c.greeting[..], b"Hello client.example.com [192.0.2.10]");
    let limits = c.limits().expect("LIMITS");
    assert_eq!(limits.mail_max, Some(1000));
    assert_eq!(limits.rcpt_max, Some(50_000));
    assert_eq!(limits.rcpt_domain_max, None);
    assert!(limits.other.is_empty());
    assert_eq!(
        c.keyword(b"pipe_connect"),
        Some(&EhloKeyword::Unknown {
            keyword: b("PIPE_CONNECT"),
            params: vec![]
        })
    );
    assert!(c.keyword(b"PRDR").is_some());
    assert_eq!(c.keyword(b"help"), Some(&EhloKeyword::Help));
    assert_eq!(
        c.auth_mechanisms(),
        &[Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5]
    );
}

#[test]
fn exchange_with_legacy_auth_line() {
    let c = caps(include_bytes!("fixtures/exchange.txt"));
    assert_eq!(c.host, domain("mail.contoso.com"));
    assert_eq!(&c.greeting[..], b"Hello [192.0.2.1]");
    assert_eq!(
        c.auth_mechanisms(),
        &[Mechanism::Other(b("NTLM")), Mechanism::Login]
    );
    assert!(c
        .keywords
        .contains(&EhloKeyword::Auth(vec![Mechanism::Login])));
    assert!(c.supports_binarymime());
    assert!(
        matches!(c.keyword(b"X-EXPS"), Some(EhloKeyword::Unknown { params, .. }) if params.len() == 2)
    );
}

// --- First line ---

#[test]
fn first_line_forms() {
    let one = |first: &'static str| {
        let r = Reply::multiline(ReplyCode::OK, None, [b(first)]);
        let c = Capabilities::from_reply(&r).expect("250");
        (c.host, c.greeting)
    };
    assert_eq!(
        one("mx.example.com"),
        (domain("mx.example.com"), Bytes::new())
    );
    assert_eq!(
        one("[192.0.2.1] hi"),
        (
            Some(Host::Literal(AddressLiteral::Ipv4(Ipv4Addr::new(
                192, 0, 2, 1
            )))),
            b("hi")
        )
    );
    assert_eq!(
        one("[IPv6:2001:db8::1]").0,
        Some(Host::Literal(AddressLiteral::Ipv6(
            "2001:db8::1".parse::<Ipv6Addr>().expect("v6")
        )))
    );
    assert_eq!(
        one("[x-tag:abc]").0,
        Some(Host::Literal(AddressLiteral::General {
            tag: b("x-tag"),
            content: b("abc")
        }))
    );
    // U-label (RFC 6531 3.3).
    assert_eq!(one("bücher.example").0, domain("bücher.example"));
    // `_` is accepted (internal server names use it; PathSyntax::Lenient).
    assert_eq!(
        one("mail_server.example says hi"),
        (domain("mail_server.example"), b("says hi"))
    );
    // Not hosts: kept whole as greeting.
    for bad in [
        "mail!server.example says hi",
        "-bad.example",
        "bad-.example",
        "a..b",
        "[300.1.1.1]",
        "[IPv6:zz]",
        "example.com.",
        "",
        " leading space",
        "[unclosed",
    ] {
        assert_eq!(one(bad), (None, b(bad)), "{bad:?}");
    }
    // Two spaces after the host: one separates, the other belongs to the greeting.
    assert_eq!(one("mx.example  hi"), (domain("mx.example"), b(" hi")));
}

#[test]
fn non_250_is_an_error() {
    let r = Reply::new(
        ReplyCode::new(502).expect("code"),
        None,
        "EHLO not implemented",
    );
    assert_eq!(
        Capabilities::from_reply(&r),
        Err(EhloError::NotAccepted(ReplyCode::new(502).expect("code")))
    );
}

// --- Keyword lines ---

#[test]
fn keyword_case_and_spacing_leniency() {
    assert_eq!(kw("pipelining"), EhloKeyword::Pipelining);
    assert_eq!(kw("Size\t 100  "), EhloKeyword::Size(Some(100)));
    assert_eq!(kw("SIZE"), EhloKeyword::Size(None));
    assert_eq!(kw("SIZE 0"), EhloKeyword::Size(Some(0)));
    assert_eq!(
        kw("auth plain  login"),
        EhloKeyword::Auth(vec![Mechanism::Plain, Mechanism::Login])
    );
    assert_eq!(kw("AUTH"), EhloKeyword::Auth(vec![]));
    assert_eq!(
        kw("AUTH=LOGIN PLAIN"),
        EhloKeyword::Auth(vec![Mechanism::Login, Mechanism::Plain])
    );
    assert_eq!(kw("auth=login"), EhloKeyword::Auth(vec![Mechanism::Login]));
    assert_eq!(kw("AUTH= PLAIN"), EhloKeyword::Auth(vec![Mechanism::Plain]));
}

#[test]
fn keywords_with_parameters() {
    assert_eq!(kw("DELIVERBY"), EhloKeyword::DeliverBy(None));
    assert_eq!(kw("DELIVERBY 240"), EhloKeyword::DeliverBy(Some(240)));
    assert_eq!(kw("MT-PRIORITY"), EhloKeyword::MtPriority(None));
    assert_eq!(
        kw("MT-PRIORITY STANAG4406"),
        EhloKeyword::MtPriority(Some(b("STANAG4406")))
    );
    assert_eq!(
        kw("FUTURERELEASE 604800 2026-12-07T00:00:00Z"),
        EhloKeyword::FutureRelease {
            max_interval: 604_800,
            max_date_time: b("2026-12-07T00:00:00Z")
        }
    );
    assert_eq!(kw("BURL imap"), EhloKeyword::Burl(vec![b("imap")]));
    assert_eq!(kw("BURL"), EhloKeyword::Burl(vec![]));
    assert_eq!(
        kw("NO-SOLICITING net.example:ADV"),
        EhloKeyword::NoSoliciting(Some(b("net.example:ADV")))
    );
    assert_eq!(kw("EXPN SMTPUTF8"), EhloKeyword::Expn(vec![b("SMTPUTF8")]));
    assert_eq!(
        kw("LIMITS RCPTMAX=100 mailmax=5 RCPTDOMAINMAX=10 FOO=bar"),
        EhloKeyword::Limits(Limits {
            mail_max: Some(5),
            rcpt_max: Some(100),
            rcpt_domain_max: Some(10),
            other: vec![(b("FOO"), b("bar"))],
        })
    );
    // A known limit with a bad value or repeated is kept in `other`.
    assert_eq!(
        kw("LIMITS RCPTMAX=x RCPTMAX=3 RCPTMAX=4"),
        EhloKeyword::Limits(Limits {
            rcpt_max: Some(3),
            other: vec![(b("RCPTMAX"), b("x")), (b("RCPTMAX"), b("4"))],
            ..Limits::default()
        })
    );
    for (ext, line) in [
        (Extension::Atrn, "ATRN"),
        (Extension::Checkpoint, "CHECKPOINT"),
        (Extension::Conneg, "CONNEG"),
        (Extension::Conperm, "CONPERM"),
        (Extension::Mtrk, "MTRK"),
        (Extension::Rrvs, "RRVS"),
        (Extension::RequireTls, "REQUIRETLS"),
        (Extension::BinaryMime, "BINARYMIME"),
        (Extension::Verb, "VERB"),
        (Extension::Onex, "ONEX"),
        (Extension::Send, "SEND"),
        (Extension::Soml, "SOML"),
        (Extension::Saml, "SAML"),
        (Extension::Turn, "TURN"),
        (Extension::Submitter, "SUBMITTER"),
    ] {
        assert_eq!(kw(line).extension(), Some(ext), "{line}");
    }
}

#[test]
fn odd_lines_become_unknown() {
    for line in [
        "SIZE abc",
        "SIZE 1 2",
        "SIZE 123456789012345678901",
        "SIZE -1",
        "PIPELINING now",
        "DELIVERBY 1234567890",
        "DELIVERBY 10,x",
        "MT-PRIORITY a b",
        "MT-PRIORITY bad/name",
        "FUTURERELEASE 0 2026-12-07T00:00:00Z",
        "FUTURERELEASE 100",
        "LIMITS RCPTMAX",
        "LIMITS =5",
        "NO-SOLICITING a b",
        "X-CUSTOM a=b c",
        "250-nested",
        "\u{7f}\u{1}",
    ] {
        let k = kw(line);
        assert!(matches!(k, EhloKeyword::Unknown { .. }), "{line}: {k:?}");
        // Nothing is lost: writing gives the words back.
        let mut out = BytesMut::new();
        k.write(&mut out);
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        assert_eq!(String::from_utf8_lossy(&out), words.join(" "));
    }
    assert_eq!(
        kw(""),
        EhloKeyword::Unknown {
            keyword: Bytes::new(),
            params: vec![]
        }
    );
}

#[test]
fn write_keywords() {
    let cases: &[(EhloKeyword, &str)] = &[
        (EhloKeyword::Size(None), "SIZE"),
        (EhloKeyword::Size(Some(0)), "SIZE 0"),
        (
            EhloKeyword::Size(Some(u64::MAX)),
            "SIZE 18446744073709551615",
        ),
        (
            EhloKeyword::Auth(vec![Mechanism::ScramSha256, Mechanism::Plain]),
            "AUTH SCRAM-SHA-256 PLAIN",
        ),
        (EhloKeyword::EightBitMime, "8BITMIME"),
        (
            EhloKeyword::Limits(Limits {
                mail_max: Some(1),
                rcpt_max: Some(2),
                rcpt_domain_max: None,
                other: vec![(b("X"), b("y"))],
            }),
            "LIMITS MAILMAX=1 RCPTMAX=2 X=y",
        ),
        (EhloKeyword::DeliverBy(Some(60)), "DELIVERBY 60"),
        (
            EhloKeyword::XClient(vec![b("NAME"), b("ADDR")]),
            "XCLIENT NAME ADDR",
        ),
    ];
    for (k, want) in cases {
        let mut out = BytesMut::new();
        k.write(&mut out);
        assert_eq!(&out[..], want.as_bytes());
        assert_eq!(&kw_owned(&out), k);
    }
}

fn kw_owned(line: &[u8]) -> EhloKeyword {
    EhloKeyword::parse(&Bytes::copy_from_slice(line))
}

#[test]
fn to_reply_wire_form() {
    let c = Capabilities {
        host: domain("mx.example.com"),
        greeting: b("ready"),
        keywords: vec![
            EhloKeyword::Pipelining,
            EhloKeyword::Size(Some(1000)),
            EhloKeyword::Auth(vec![Mechanism::Plain]),
        ],
    };
    let mut out = BytesMut::new();
    c.to_reply().write(&mut out);
    assert_eq!(
        &out[..],
        b"250-mx.example.com ready\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 AUTH PLAIN\r\n"
    );
    // Nothing but the first line.
    let bare = Capabilities {
        host: domain("mx.example.com"),
        ..Capabilities::default()
    };
    let mut out = BytesMut::new();
    bare.to_reply().write(&mut out);
    assert_eq!(&out[..], b"250 mx.example.com\r\n");
}

#[test]
fn fixtures_round_trip() {
    for wire in [
        &include_bytes!("fixtures/postfix-smtpd.txt")[..],
        include_bytes!("fixtures/postfix-smtp-sink.txt"),
        include_bytes!("fixtures/aiosmtpd.txt"),
        include_bytes!("fixtures/go-smtp.txt"),
        include_bytes!("fixtures/mailin-embedded.txt"),
        include_bytes!("fixtures/node-smtp-server.txt"),
        include_bytes!("fixtures/gmail-submission.txt"),
        include_bytes!("fixtures/gmail-mx.txt"),
        include_bytes!("fixtures/exim.txt"),
        include_bytes!("fixtures/exchange.txt"),
    ] {
        let c = caps(wire);
        assert_eq!(Capabilities::from_reply(&c.to_reply()), Ok(c));
    }
}

#[test]
fn extension_names_are_unique_and_recognised() {
    let all: Vec<Extension> = Extension::all().collect();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(Extension::from_name(e.name().as_bytes()), Some(*e));
        assert_eq!(
            Extension::from_name(e.name().to_ascii_lowercase().as_bytes()),
            Some(*e)
        );
        assert!(all[i + 1..].iter().all(|o| o.name() != e.name()));
    }
    assert_eq!(Extension::from_name(b"XYZZY"), None);
}

// --- Property tests ---

fn bytes_of(re: &'static str) -> impl Strategy<Value = Bytes> {
    proptest::string::string_regex(re)
        .expect("regex")
        .prop_map(Bytes::from)
}

/// A word that is not a registered keyword and not the legacy `AUTH=` form.
fn unknown_keyword() -> impl Strategy<Value = Bytes> {
    bytes_of("[A-Za-z0-9][A-Za-z0-9_-]{0,15}").prop_filter("not registered", |k| {
        Extension::from_name(k).is_none() && !k.to_ascii_uppercase().starts_with(b"AUTH=")
    })
}

fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop_oneof![
        Just(Mechanism::Plain),
        Just(Mechanism::Login),
        Just(Mechanism::XOAuth2),
        Just(Mechanism::OAuthBearer),
        Just(Mechanism::ScramSha256),
        Just(Mechanism::ScramSha1),
        Just(Mechanism::CramMd5),
        bytes_of("[A-Z0-9_-]{1,20}").prop_map(|n| Mechanism::from_name(&n)),
    ]
}

fn param() -> impl Strategy<Value = Bytes> {
    bytes_of("[!-~]{1,12}")
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(
            (
                bytes_of("[A-Z][A-Z0-9]{0,8}").prop_filter("unknown name", |n| {
                    !matches!(&n[..], b"MAILMAX" | b"RCPTMAX" | b"RCPTDOMAINMAX")
                }),
                bytes_of("[!-<>-~]{0,8}"),
            ),
            0..3,
        ),
    )
        .prop_map(|(mail_max, rcpt_max, rcpt_domain_max, other)| Limits {
            mail_max,
            rcpt_max,
            rcpt_domain_max,
            other,
        })
}

fn keyword() -> impl Strategy<Value = EhloKeyword> {
    use EhloKeyword as K;
    let params = || proptest::collection::vec(param(), 0..4);
    prop_oneof![
        proptest::option::of(any::<u64>()).prop_map(K::Size),
        Just(K::Pipelining),
        Just(K::EightBitMime),
        Just(K::BinaryMime),
        Just(K::Chunking),
        Just(K::SmtpUtf8),
        Just(K::Dsn),
        Just(K::EnhancedStatusCodes),
        Just(K::StartTls),
        proptest::collection::vec(mechanism(), 0..6).prop_map(K::Auth),
        Just(K::RequireTls),
        proptest::option::of(0u32..=999_999_999).prop_map(K::DeliverBy),
        proptest::option::of(bytes_of("[A-Za-z0-9._-]{1,20}")).prop_map(K::MtPriority),
        (
            1u32..=999_999_999,
            bytes_of("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z")
        )
            .prop_map(|(max_interval, max_date_time)| K::FutureRelease {
                max_interval,
                max_date_time
            }),
        limits().prop_map(K::Limits),
        Just(K::Atrn),
        params().prop_map(K::Burl),
        Just(K::Checkpoint),
        Just(K::Conneg),
        Just(K::Conperm),
        Just(K::Etrn),
        params().prop_map(K::Expn),
        Just(K::Help),
        Just(K::Mtrk),
        proptest::option::of(bytes_of(
            "[A-Za-z][A-Za-z0-9.:_-]{0,10}(,[A-Za-z][A-Za-z0-9]{0,5}){0,2}"
        ))
        .prop_map(K::NoSoliciting),
        Just(K::Rrvs),
        Just(K::Vrfy),
        Just(K::Verb),
        Just(K::Onex),
        Just(K::Send),
        Just(K::Soml),
        Just(K::Saml),
        Just(K::Turn),
        Just(K::Submitter),
        params().prop_map(K::XClient),
        params().prop_map(K::XForward),
        (unknown_keyword(), params()).prop_map(|(keyword, params)| K::Unknown { keyword, params }),
    ]
}

fn host() -> impl Strategy<Value = Option<Host>> {
    prop_oneof![
        bytes_of("[a-z]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,10}[a-z0-9])?){0,3}")
            .prop_map(|d| Some(Host::Domain(Domain::from_bytes(d)))),
        any::<[u8; 4]>().prop_map(|o| Some(Host::Literal(AddressLiteral::Ipv4(Ipv4Addr::from(o))))),
        any::<[u16; 8]>()
            .prop_map(|s| Some(Host::Literal(AddressLiteral::Ipv6(Ipv6Addr::from(s))))),
        (
            bytes_of("[A-Za-z0-9]{1,6}")
                .prop_filter("not IPv6", |t| !t.eq_ignore_ascii_case(b"IPv6")),
            bytes_of("[!-Z^-~]{1,10}")
        )
            .prop_map(
                |(tag, content)| Some(Host::Literal(AddressLiteral::General { tag, content }))
            ),
        Just(None),
    ]
}

fn capabilities() -> impl Strategy<Value = Capabilities> {
    (
        host(),
        bytes_of("([A-Za-z][ -~]{0,40})?"),
        proptest::collection::vec(keyword(), 0..12),
    )
        .prop_map(|(host, greeting, keywords)| Capabilities {
            // Without a host, a greeting must not start with something that parses as one
            // (from_reply would then find a host): prefix a character no host has.
            greeting: if host.is_none() && !greeting.is_empty() {
                let mut g = BytesMut::from(&b"!"[..]);
                g.extend_from_slice(&greeting);
                g.freeze()
            } else {
                greeting
            },
            host,
            keywords,
        })
}

proptest! {
    #[test]
    fn keyword_round_trip(k in keyword()) {
        let mut out = BytesMut::new();
        k.write(&mut out);
        prop_assert_eq!(kw_owned(&out), k);
    }

    #[test]
    fn capabilities_round_trip(c in capabilities()) {
        let r = c.to_reply();
        prop_assert_eq!(Capabilities::from_reply(&r), Ok(c.clone()));
        // And through the wire form.
        let mut wire = BytesMut::new();
        r.write(&mut wire);
        let wire = wire.freeze();
        let parsed = match Reply::parse(&wire) {
            Ok(Status::Complete((reply, _))) => reply,
            other => return Err(TestCaseError::fail(alloc::format!("{other:?}"))),
        };
        prop_assert_eq!(Capabilities::from_reply(&parsed), Ok(c));
    }

    #[test]
    fn arbitrary_lines_never_panic_and_keep_their_words(line in proptest::collection::vec(any::<u8>(), 0..64)) {
        let line = Bytes::from(line);
        let k = EhloKeyword::parse(&line);
        let mut out = BytesMut::new();
        k.write(&mut out);
        // Re-parsing what was written gives the same keyword.
        prop_assert_eq!(kw_owned(&out), k);
    }

    #[test]
    fn arbitrary_replies_never_panic(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6)) {
        let r = Reply::multiline(ReplyCode::OK, None, lines.into_iter().map(Bytes::from));
        let c = Capabilities::from_reply(&r).expect("250");
        let _ = (c.max_size(), c.auth_mechanisms(), c.limits(), c.supports_pipelining());
    }
}
