//! Known-answer tests: parse, check the value, write, parse again.
#![allow(clippy::unwrap_used)]

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::address::{AddressLiteral, Host};
use crate::error::{ParseError, PathRole};
use crate::options::{LineEnding, ParseOptions, PathSyntax};
use crate::reply::ReplyCode;
use crate::{Mailbox, Status};

fn strict() -> ParseOptions {
    ParseOptions::default()
}

fn lenient() -> ParseOptions {
    ParseOptions {
        path_syntax: PathSyntax::Lenient,
        ..ParseOptions::default()
    }
}

/// Writes `cmd`, checks the wire form, parses it back with `Command::parse` and compares.
fn roundtrip(cmd: &Command, opts: &ParseOptions) -> Bytes {
    let mut out = BytesMut::new();
    cmd.write(&mut out);
    let wire = out.freeze();
    assert!(wire.ends_with(b"\r\n"), "{wire:?}");
    match Command::parse(&wire, opts) {
        Ok(Status::Complete((again, used))) => {
            assert_eq!(used, wire.len());
            assert_eq!(&again, cmd, "wire: {wire:?}");
        }
        other => panic!("re-parse of {wire:?} gave {other:?}"),
    }
    wire
}

/// `kat!(name, opts, b"line" => b"WRITTEN\r\n", |cmd| { checks })`
macro_rules! kat {
    ($name:ident, $opts:expr, $line:expr => $wire:expr, |$c:ident| $check:block) => {
        #[test]
        fn $name() {
            let opts: ParseOptions = $opts;
            let line = Bytes::from_static($line);
            let $c = Command::parse_line(&line, &opts)
                .unwrap_or_else(|e| panic!("{:?}: {e:?}", line));
            $check
            let wire = roundtrip(&$c, &opts);
            assert_eq!(&wire[..], &$wire[..], "written form");
        }
    };
    ($name:ident, $line:expr => $wire:expr, |$c:ident| $check:block) => {
        kat!($name, strict(), $line => $wire, |$c| $check);
    };
}

/// `err!(name, opts, b"line" => ParseError::X)`
macro_rules! err {
    ($name:ident, $opts:expr, $line:expr => $err:expr) => {
        #[test]
        fn $name() {
            let opts: ParseOptions = $opts;
            let line = Bytes::from_static($line);
            assert_eq!(Command::parse_line(&line, &opts), Err($err), "{line:?}");
        }
    };
    ($name:ident, $line:expr => $err:expr) => {
        err!($name, strict(), $line => $err);
    };
}

fn mailbox(cmd: &Command) -> &Mailbox {
    match cmd {
        Command::Mail {
            from: ReversePath::Mailbox(m),
            ..
        } => m,
        Command::Rcpt {
            to: ForwardPath::Mailbox(m),
            ..
        } => m,
        other => panic!("no mailbox in {other:?}"),
    }
}

fn mail_params(cmd: &Command) -> &MailParams {
    match cmd {
        Command::Mail { params, .. } => params,
        other => panic!("not MAIL: {other:?}"),
    }
}

fn rcpt_params(cmd: &Command) -> &RcptParams {
    match cmd {
        Command::Rcpt { params, .. } => params,
        other => panic!("not RCPT: {other:?}"),
    }
}

fn domain(host: &Host) -> &str {
    match host {
        Host::Domain(d) => d.as_str(),
        other => panic!("not a domain: {other:?}"),
    }
}

// --- HELO / EHLO / LHLO (RFC 5321 4.1.1.1, App. D; RFC 2033) ---------------------------------

kat!(ehlo_domain, b"EHLO bar.com" => b"EHLO bar.com\r\n", |c| {
    let Command::Ehlo(h) = &c else { panic!("{c:?}") };
    assert_eq!(domain(h), "bar.com");
});
kat!(helo_lowercase, b"helo foo.bar.example" => b"HELO foo.bar.example\r\n", |c| {
    assert!(matches!(&c, Command::Helo(h) if domain(h) == "foo.bar.example"));
});
kat!(lhlo, b"LHLO foo.edu" => b"LHLO foo.edu\r\n", |c| {
    assert!(matches!(&c, Command::Lhlo(_)));
});
kat!(ehlo_ipv4_literal, b"EHLO [192.0.2.1]" => b"EHLO [192.0.2.1]\r\n", |c| {
    assert_eq!(c, Command::Ehlo(Host::Literal(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))));
});
kat!(ehlo_ipv6_literal, b"EHLO [IPv6:2001:db8::1]" => b"EHLO [IPv6:2001:db8::1]\r\n", |c| {
    let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(c, Command::Ehlo(Host::Literal(AddressLiteral::Ipv6(ip))));
});
kat!(ehlo_ipv6v4_full, b"EHLO [ipv6:0:0:0:0:0:ffff:192.0.2.1]" => b"EHLO [IPv6:::ffff:192.0.2.1]\r\n", |c| {
    let ip: Ipv6Addr = "::ffff:192.0.2.1".parse().unwrap();
    assert_eq!(c, Command::Ehlo(Host::Literal(AddressLiteral::Ipv6(ip))));
});
kat!(ehlo_general_literal, b"EHLO [x-tag:some-content]" => b"EHLO [x-tag:some-content]\r\n", |c| {
    let Command::Ehlo(Host::Literal(AddressLiteral::General { tag, content })) = &c else { panic!() };
    assert_eq!((&tag[..], &content[..]), (&b"x-tag"[..], &b"some-content"[..]));
});
kat!(ehlo_trailing_space, b"EHLO client.example  \t" => b"EHLO client.example\r\n", |c| {
    assert!(matches!(&c, Command::Ehlo(h) if domain(h) == "client.example"));
});
kat!(ehlo_u_label, "EHLO bücher.example".as_bytes() => "EHLO bücher.example\r\n".as_bytes(), |c| {
    let Command::Ehlo(h) = &c else { panic!() };
    assert!(h.is_utf8());
});
kat!(ehlo_underscore_lenient, lenient(), b"EHLO my_host.local" => b"EHLO my_host.local\r\n", |c| {
    assert!(matches!(&c, Command::Ehlo(_)));
});
kat!(ehlo_tab_lenient, lenient(), b"EHLO\t  host.example" => b"EHLO host.example\r\n", |c| {
    assert!(matches!(&c, Command::Ehlo(h) if domain(h) == "host.example"));
});
err!(ehlo_underscore_strict, b"EHLO my_host.local" => ParseError::ArgumentSyntax);
err!(ehlo_missing, b"EHLO" => ParseError::ArgumentSyntax);
err!(ehlo_two_words, b"EHLO a.example b" => ParseError::ArgumentSyntax);
err!(ehlo_label_hyphen_end, b"EHLO a-.example" => ParseError::ArgumentSyntax);
err!(ehlo_empty_label, b"EHLO a..example" => ParseError::ArgumentSyntax);
err!(ehlo_trailing_dot, b"EHLO a.example." => ParseError::ArgumentSyntax);
err!(ehlo_bad_ipv4, b"EHLO [192.0.2.256]" => ParseError::ArgumentSyntax);
err!(ehlo_bad_ipv6, b"EHLO [IPv6:2001:db8:::1]" => ParseError::ArgumentSyntax);
err!(ehlo_unclosed_literal, b"EHLO [192.0.2.1" => ParseError::ArgumentSyntax);
err!(ehlo_tab_strict, b"EHLO\thost.example" => ParseError::ArgumentSyntax);
err!(ehlo_invalid_utf8, b"EHLO b\xfccher.example" => ParseError::ArgumentSyntax);

#[test]
fn ehlo_label_limits() {
    let ok = alloc::format!("EHLO {}.example", "a".repeat(63));
    assert!(Command::parse_line(&Bytes::from(ok), &strict()).is_ok());
    let long = alloc::format!("EHLO {}.example", "a".repeat(64));
    assert_eq!(
        Command::parse_line(&Bytes::from(long), &strict()),
        Err(ParseError::ArgumentSyntax)
    );
}

// --- MAIL (RFC 5321 4.1.1.2, App. D; RFC 1870, 6152, 3461, 4954, 6531, ...) -------------------

kat!(mail_simple, b"MAIL FROM:<Smith@bar.com>" => b"MAIL FROM:<Smith@bar.com>\r\n", |c| {
    let m = mailbox(&c);
    assert_eq!(m.local_part().as_bytes(), b"Smith");
    assert_eq!(domain(&m.host()), "bar.com");
    assert_eq!(m.domain(), Some("bar.com"));
    assert!(mail_params(&c).is_empty());
});
kat!(mail_null, b"MAIL FROM:<>" => b"MAIL FROM:<>\r\n", |c| {
    assert_eq!(c, Command::Mail { from: ReversePath::Null, params: MailParams::default() });
});
kat!(mail_smtplib_lowercase, b"mail FROM:<a@b> size=10" => b"MAIL FROM:<a@b> SIZE=10\r\n", |c| {
    assert_eq!(mail_params(&c).size, Some(10));
});
kat!(mail_size_body, b"MAIL FROM:<userx@y.foo.org> SIZE=500000 BODY=8BITMIME" =>
    b"MAIL FROM:<userx@y.foo.org> SIZE=500000 BODY=8BITMIME\r\n", |c| {
    let p = mail_params(&c);
    assert_eq!((p.size, p.body), (Some(500000), Some(BodyType::EightBitMime)));
});
kat!(mail_size_saturates, b"MAIL FROM:<a@b.c> SIZE=99999999999999999999999999999999" =>
    b"MAIL FROM:<a@b.c> SIZE=18446744073709551615\r\n", |c| {
    assert_eq!(mail_params(&c).size, Some(u64::MAX));
});
kat!(mail_bodies, b"MAIL FROM:<a@b.c> BODY=binarymime" => b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\n", |c| {
    assert_eq!(mail_params(&c).body, Some(BodyType::BinaryMime));
});
kat!(mail_dsn_rfc3461, b"MAIL FROM:<Alice@Example.ORG> RET=HDRS ENVID=QQ314159" =>
    b"MAIL FROM:<Alice@Example.ORG> RET=HDRS ENVID=QQ314159\r\n", |c| {
    let p = mail_params(&c);
    assert_eq!(p.extra().ret, Some(DsnReturn::Headers));
    assert_eq!(p.extra().envid.as_deref(), Some(&b"QQ314159"[..]));
});
kat!(mail_envid_xtext, b"MAIL FROM:<a@b.c> ENVID=a+2Bb+3Dc" => b"MAIL FROM:<a@b.c> ENVID=a+2Bb+3Dc\r\n", |c| {
    assert_eq!(mail_params(&c).extra().envid.as_deref(), Some(&b"a+b=c"[..]));
});
kat!(mail_auth_rfc4954, b"MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com" =>
    b"MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com\r\n", |c| {
    assert_eq!(mail_params(&c).extra().auth.as_deref(), Some(&b"e=mc2@example.com"[..]));
});
kat!(mail_auth_empty, b"MAIL FROM:<a@b.c> AUTH=<>" => b"MAIL FROM:<a@b.c> AUTH=<>\r\n", |c| {
    assert_eq!(mail_params(&c).extra().auth.as_deref(), Some(&b"<>"[..]));
});
kat!(mail_smtputf8, "MAIL FROM:<用户@例子.广告> SMTPUTF8".as_bytes() =>
    "MAIL FROM:<用户@例子.广告> SMTPUTF8\r\n".as_bytes(), |c| {
    assert!(mailbox(&c).is_utf8());
    assert!(mail_params(&c).smtputf8);
});
kat!(mail_utf8_without_param, "MAIL FROM:<jösé@example.org>".as_bytes() =>
    "MAIL FROM:<jösé@example.org>\r\n".as_bytes(), |c| {
    // The codec accepts and flags; the session requires SMTPUTF8.
    assert!(mailbox(&c).is_utf8());
    assert!(!mail_params(&c).smtputf8);
});
kat!(mail_many_params,
    b"MAIL FROM:<a@b.c> REQUIRETLS MT-PRIORITY=-3 HOLDFOR=3600 BY=120;RT MTRK=dGVzdA==:3600 SOLICIT=org.example:ADV CONPERM" =>
    b"MAIL FROM:<a@b.c> REQUIRETLS MT-PRIORITY=-3 HOLDFOR=3600 BY=120;RT MTRK=dGVzdA==:3600 SOLICIT=org.example:ADV CONPERM\r\n", |c| {
    let p = mail_params(&c);
    assert!(p.requiretls && p.extra().conperm);
    assert_eq!(p.extra().mt_priority, Some(-3));
    assert_eq!(p.extra().future_release, Some(FutureRelease::For(3600)));
    assert_eq!(p.extra().by, Some(DeliverBy { time: 120, mode: ByMode::Return, trace: true }));
    let mtrk = p.extra().mtrk.as_ref().unwrap();
    assert_eq!((&mtrk.certifier[..], mtrk.timeout), (&b"dGVzdA=="[..], Some(3600)));
    assert_eq!(p.extra().solicit.as_deref(), Some(&b"org.example:ADV"[..]));
});
kat!(mail_holduntil_by_negative, b"MAIL FROM:<a@b.c> HOLDUNTIL=2026-12-01T08:00:00.5+01:00 BY=-60;n" =>
    b"MAIL FROM:<a@b.c> HOLDUNTIL=2026-12-01T08:00:00.5+01:00 BY=-60;N\r\n", |c| {
    let p = mail_params(&c);
    assert!(matches!(&p.extra().future_release, Some(FutureRelease::Until(t)) if &t[..] == b"2026-12-01T08:00:00.5+01:00"));
    assert_eq!(p.extra().by, Some(DeliverBy { time: -60, mode: ByMode::Notify, trace: false }));
});
kat!(mail_unknown_params, b"MAIL FROM:<a@b.c> X-FOO=bar XYZZY SIZE=1" =>
    b"MAIL FROM:<a@b.c> SIZE=1 X-FOO=bar XYZZY\r\n", |c| {
    let p = mail_params(&c);
    assert_eq!(p.extra().unknown.len(), 2);
    assert_eq!(&p.extra().unknown[0].keyword[..], b"X-FOO");
    assert_eq!(p.extra().unknown[0].value.as_deref(), Some(&b"bar"[..]));
    assert_eq!(p.extra().unknown[1].value, None);
});
kat!(mail_notify_is_unknown_on_mail, b"MAIL FROM:<a@b.c> NOTIFY=NEVER" =>
    b"MAIL FROM:<a@b.c> NOTIFY=NEVER\r\n", |c| {
    assert_eq!(mail_params(&c).extra().unknown.len(), 1);
});
kat!(mail_source_route, b"MAIL FROM:<@hosta.int,@jkl.org:userc@d.bar.org>" =>
    b"MAIL FROM:<userc@d.bar.org>\r\n", |c| {
    assert_eq!(mailbox(&c).to_string(), "userc@d.bar.org");
});
kat!(mail_quoted_local, br#"MAIL FROM:<"John \"Q\" Public"@example.com>"# =>
    b"MAIL FROM:<\"John \\\"Q\\\" Public\"@example.com>\r\n", |c| {
    assert!(mailbox(&c).local_part().is_quoted());
});
kat!(mail_quoted_empty, br#"MAIL FROM:<""@example.com>"# => b"MAIL FROM:<\"\"@example.com>\r\n", |c| {
    assert!(mailbox(&c).local_part().is_quoted());
});
kat!(mail_quoted_gt, br#"MAIL FROM:<"a>b"@example.com> SIZE=1"# => b"MAIL FROM:<\"a>b\"@example.com> SIZE=1\r\n", |c| {
    assert_eq!(mailbox(&c).local_part().as_bytes(), b"\"a>b\"");
});
kat!(mail_literal_host, b"MAIL FROM:<user@[IPv6:::1]>" => b"MAIL FROM:<user@[IPv6:::1]>\r\n", |c| {
    assert_eq!(mailbox(&c).host(), Host::Literal(AddressLiteral::Ipv6(Ipv6Addr::LOCALHOST)));
    assert_eq!(mailbox(&c).domain(), None);
});
kat!(mail_lenient_space, lenient(), b"MAIL FROM: <a@b.example>" => b"MAIL FROM:<a@b.example>\r\n", |c| {
    assert_eq!(mailbox(&c).to_string(), "a@b.example");
});
kat!(mail_lenient_no_brackets, lenient(), b"MAIL FROM:a@b.example  SIZE=5" => b"MAIL FROM:<a@b.example> SIZE=5\r\n", |c| {
    assert_eq!(mail_params(&c).size, Some(5));
});
kat!(mail_trailing_space, b"MAIL FROM:<a@b.example> " => b"MAIL FROM:<a@b.example>\r\n", |c| {
    assert!(mail_params(&c).is_empty());
});
err!(mail_strict_space, b"MAIL FROM: <a@b.example>" => ParseError::ArgumentSyntax);
err!(mail_strict_no_brackets, b"MAIL FROM:a@b.example" => ParseError::ArgumentSyntax);
err!(mail_no_from, b"MAIL <a@b.example>" => ParseError::ArgumentSyntax);
err!(mail_no_args, b"MAIL" => ParseError::ArgumentSyntax);
err!(mail_postmaster, b"MAIL FROM:<postmaster>" => ParseError::BadMailbox(PathRole::Sender));
err!(mail_no_at, b"MAIL FROM:<user>" => ParseError::BadMailbox(PathRole::Sender));
err!(mail_unclosed, b"MAIL FROM:<a@b.example" => ParseError::BadMailbox(PathRole::Sender));
err!(mail_double_dot, b"MAIL FROM:<a..b@example.org>" => ParseError::BadMailbox(PathRole::Sender));
err!(mail_invalid_utf8, b"MAIL FROM:<\xc3(@example.org>" => ParseError::BadMailbox(PathRole::Sender));
err!(mail_8bit_latin1, b"MAIL FROM:<j\xe9r\xf4me@example.org>" => ParseError::BadMailbox(PathRole::Sender));
err!(mail_junk_after_path, b"MAIL FROM:<a@b.example>SIZE=1" => ParseError::ArgumentSyntax);
err!(mail_two_spaces_strict, b"MAIL FROM:<a@b.example>  SIZE=1" => ParseError::ArgumentSyntax);
err!(mail_dup_size, b"MAIL FROM:<a@b.c> SIZE=1 size=2" => ParseError::InvalidParameter);
err!(mail_dup_flag, b"MAIL FROM:<a@b.c> SMTPUTF8 SMTPUTF8" => ParseError::InvalidParameter);
err!(mail_holdfor_and_until, b"MAIL FROM:<a@b.c> HOLDFOR=1 HOLDUNTIL=2026-01-01T00:00:00Z" => ParseError::InvalidParameter);
err!(mail_size_not_number, b"MAIL FROM:<a@b.c> SIZE=12k" => ParseError::InvalidParameter);
err!(mail_size_no_value, b"MAIL FROM:<a@b.c> SIZE" => ParseError::InvalidParameter);
err!(mail_empty_value, b"MAIL FROM:<a@b.c> X-FOO=" => ParseError::InvalidParameter);
err!(mail_flag_with_value, b"MAIL FROM:<a@b.c> SMTPUTF8=yes" => ParseError::InvalidParameter);
err!(mail_bad_body, b"MAIL FROM:<a@b.c> BODY=9BIT" => ParseError::InvalidParameter);
err!(mail_bad_keyword, b"MAIL FROM:<a@b.c> -X=1" => ParseError::InvalidParameter);
err!(mail_eq_in_value, b"MAIL FROM:<a@b.c> X=a=b" => ParseError::InvalidParameter);
err!(mail_bad_priority, b"MAIL FROM:<a@b.c> MT-PRIORITY=10" => ParseError::InvalidParameter);
err!(mail_bad_priority_plus, b"MAIL FROM:<a@b.c> MT-PRIORITY=+1" => ParseError::InvalidParameter);
err!(mail_bad_envid, b"MAIL FROM:<a@b.c> ENVID=a+2b" => ParseError::InvalidParameter);
err!(mail_bad_by, b"MAIL FROM:<a@b.c> BY=1234567890;R" => ParseError::InvalidParameter);
err!(mail_bad_holduntil, b"MAIL FROM:<a@b.c> HOLDUNTIL=2026-13-01T00:00:00Z" => ParseError::InvalidParameter);
err!(mail_holdfor_zero, b"MAIL FROM:<a@b.c> HOLDFOR=0" => ParseError::InvalidParameter);

// Limits of RFC 5321 4.5.3.1.
#[test]
fn path_limits() {
    let line = |local: usize, dom: &str| {
        Bytes::from(alloc::format!("MAIL FROM:<{}@{}>", "a".repeat(local), dom))
    };
    let labels = |n: usize| -> alloc::string::String {
        // n octets of labels of at most 63 octets each.
        let mut s = alloc::string::String::new();
        while s.len() < n {
            if !s.is_empty() {
                s.push('.');
            }
            let take = (n - s.len()).min(63);
            s.push_str(&"b".repeat(take));
        }
        s
    };
    let opts = ParseOptions {
        max_line: 4096,
        ..strict()
    };
    assert!(Command::parse_line(&line(64, "x.example"), &opts).is_ok());
    assert_eq!(
        Command::parse_line(&line(65, "x.example"), &opts),
        Err(ParseError::LocalPartTooLong(PathRole::Sender))
    );
    assert_eq!(
        Command::parse_line(&line(1, &labels(256)), &opts),
        Err(ParseError::DomainTooLong(PathRole::Sender))
    );
    // 64 + 1 + 189 + 2 = 256 octets: fine; one more is too long.
    let d189 = labels(189);
    assert_eq!(d189.len(), 189);
    assert!(Command::parse_line(&line(64, &d189), &opts).is_ok());
    let d190 = labels(190);
    assert_eq!(
        Command::parse_line(&line(64, &d190), &opts),
        Err(ParseError::PathTooLong)
    );
    let rcpt = Bytes::from(alloc::format!(
        "RCPT TO:<{}@{}>",
        "a".repeat(65),
        "x.example"
    ));
    assert_eq!(
        Command::parse_line(&rcpt, &opts),
        Err(ParseError::LocalPartTooLong(PathRole::Recipient))
    );
}

// --- RCPT (RFC 5321 4.1.1.3; RFC 3461; RFC 7293) -----------------------------------------------

kat!(rcpt_simple, b"RCPT TO:<Jones@XYZ.COM>" => b"RCPT TO:<Jones@XYZ.COM>\r\n", |c| {
    assert_eq!(mailbox(&c).to_string(), "Jones@XYZ.COM");
});
kat!(rcpt_postmaster, b"RCPT TO:<Postmaster>" => b"RCPT TO:<Postmaster>\r\n", |c| {
    assert_eq!(c, Command::Rcpt { to: ForwardPath::Postmaster, params: RcptParams::default() });
});
kat!(rcpt_postmaster_upper, b"rcpt to:<POSTMASTER>" => b"RCPT TO:<Postmaster>\r\n", |c| {
    assert!(matches!(c, Command::Rcpt { to: ForwardPath::Postmaster, .. }));
});
kat!(rcpt_postmaster_domain, b"RCPT TO:<Postmaster@example.org>" => b"RCPT TO:<Postmaster@example.org>\r\n", |c| {
    assert_eq!(mailbox(&c).local_part().as_bytes(), b"Postmaster");
});
kat!(rcpt_postmaster_lenient, lenient(), b"RCPT TO:postmaster" => b"RCPT TO:<Postmaster>\r\n", |c| {
    assert!(matches!(c, Command::Rcpt { to: ForwardPath::Postmaster, .. }));
});
kat!(rcpt_dsn, b"RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.COM" =>
    b"RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.COM\r\n", |c| {
    let p = rcpt_params(&c);
    assert_eq!(p.notify, Some(Notify::On { success: true, failure: true, delay: false }));
    let o = p.orcpt.as_ref().unwrap();
    assert_eq!((o.addr_type(), &o.address()[..]), (&b"rfc822"[..], &b"Bob@Example.COM"[..]));
});
kat!(rcpt_notify_order, b"RCPT TO:<a@b.c> notify=delay,success" => b"RCPT TO:<a@b.c> NOTIFY=SUCCESS,DELAY\r\n", |c| {
    assert_eq!(rcpt_params(&c).notify, Some(Notify::On { success: true, failure: false, delay: true }));
});
kat!(rcpt_notify_never, b"RCPT TO:<a@b.c> NOTIFY=never" => b"RCPT TO:<a@b.c> NOTIFY=NEVER\r\n", |c| {
    assert_eq!(rcpt_params(&c).notify, Some(Notify::Never));
});
kat!(rcpt_orcpt_xtext, b"RCPT TO:<a@b.c> ORCPT=rfc822;joe+2Bspam@example.com" =>
    b"RCPT TO:<a@b.c> ORCPT=rfc822;joe+2Bspam@example.com\r\n", |c| {
    let o = rcpt_params(&c).orcpt.as_ref().unwrap();
    assert_eq!(&o.address()[..], b"joe+spam@example.com");
    assert!(matches!(o.address(), alloc::borrow::Cow::Owned(_)));
});
kat!(rcpt_orcpt_utf8, "RCPT TO:<a@b.c> ORCPT=utf-8;jösé@example.org".as_bytes() =>
    "RCPT TO:<a@b.c> ORCPT=utf-8;jösé@example.org\r\n".as_bytes(), |c| {
    // Kept as sent (RFC 6533 utf-8-addr-unitext); decoding borrows.
    let o = rcpt_params(&c).orcpt.as_ref().unwrap();
    assert_eq!(&o.address()[..], "jösé@example.org".as_bytes());
    assert!(matches!(o.address(), alloc::borrow::Cow::Borrowed(_)));
});
kat!(rcpt_rrvs_conneg, b"RCPT TO:<a@b.c> RRVS=2014-04-03T23:01:00Z;C CONNEG" =>
    b"RCPT TO:<a@b.c> RRVS=2014-04-03T23:01:00Z;C CONNEG\r\n", |c| {
    let p = rcpt_params(&c);
    assert_eq!(p.extra().rrvs.as_ref().unwrap().action, Some(RrvsAction::Continue));
    assert!(p.extra().conneg);
});
kat!(rcpt_source_route, b"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>" => b"RCPT TO:<userc@d.bar.org>\r\n", |c| {
    assert_eq!(mailbox(&c).to_string(), "userc@d.bar.org");
});
err!(rcpt_null, b"RCPT TO:<>" => ParseError::BadMailbox(PathRole::Recipient));
err!(rcpt_no_to, b"RCPT <a@b.c>" => ParseError::ArgumentSyntax);
err!(rcpt_notify_never_and, b"RCPT TO:<a@b.c> NOTIFY=NEVER,SUCCESS" => ParseError::InvalidParameter);
err!(rcpt_notify_empty_item, b"RCPT TO:<a@b.c> NOTIFY=SUCCESS," => ParseError::InvalidParameter);
err!(rcpt_orcpt_no_type, b"RCPT TO:<a@b.c> ORCPT=a@b.c" => ParseError::InvalidParameter);
err!(rcpt_orcpt_utf8_in_rfc822, "RCPT TO:<a@b.c> ORCPT=rfc822;jösé@example.org".as_bytes() => ParseError::InvalidParameter);
err!(rcpt_dup_notify, b"RCPT TO:<a@b.c> NOTIFY=NEVER NOTIFY=NEVER" => ParseError::InvalidParameter);
err!(rcpt_bad_route, b"RCPT TO:<@:a@b.c>" => ParseError::BadMailbox(PathRole::Recipient));

// --- Commands without arguments, and the rest -------------------------------------------------

kat!(data, b"DATA" => b"DATA\r\n", |c| { assert_eq!(c, Command::Data); });
kat!(data_trailing, b"data \t " => b"DATA\r\n", |c| { assert_eq!(c, Command::Data); });
kat!(rset_trailing, b"RSET " => b"RSET\r\n", |c| { assert_eq!(c, Command::Rset); });
kat!(quit, b"Quit" => b"QUIT\r\n", |c| { assert_eq!(c, Command::Quit); });
kat!(starttls, b"starttls" => b"STARTTLS\r\n", |c| { assert_eq!(c, Command::StartTls); });
err!(data_arg, b"DATA now" => ParseError::ArgumentSyntax);
err!(rset_arg, b"RSET x" => ParseError::ArgumentSyntax);
err!(quit_arg, b"QUIT bye" => ParseError::ArgumentSyntax);
err!(starttls_arg, b"STARTTLS x" => ParseError::ArgumentSyntax);

kat!(noop, b"NOOP" => b"NOOP\r\n", |c| { assert_eq!(c, Command::Noop(None)); });
kat!(noop_arg, b"NOOP hello there" => b"NOOP hello there\r\n", |c| {
    assert_eq!(c, Command::Noop(Some(Bytes::from_static(b"hello there"))));
});
kat!(help, b"HELP" => b"HELP\r\n", |c| { assert_eq!(c, Command::Help(None)); });
kat!(help_arg, b"help MAIL" => b"HELP MAIL\r\n", |c| {
    assert_eq!(c, Command::Help(Some(Bytes::from_static(b"MAIL"))));
});
kat!(vrfy, b"VRFY Smith" => b"VRFY Smith\r\n", |c| {
    assert_eq!(c, Command::Vrfy(Bytes::from_static(b"Smith")));
});
kat!(expn, b"EXPN Example-People" => b"EXPN Example-People\r\n", |c| {
    assert_eq!(c, Command::Expn(Bytes::from_static(b"Example-People")));
});
err!(vrfy_missing, b"VRFY" => ParseError::ArgumentSyntax);
err!(expn_missing, b"EXPN " => ParseError::ArgumentSyntax);

// RFC 3030
kat!(bdat, b"BDAT 86" => b"BDAT 86\r\n", |c| {
    assert_eq!(c, Command::Bdat { size: 86, kind: ChunkKind::More });
});
kat!(bdat_last, b"BDAT 0 last" => b"BDAT 0 LAST\r\n", |c| {
    assert_eq!(c, Command::Bdat { size: 0, kind: ChunkKind::Last });
});
err!(bdat_missing, b"BDAT" => ParseError::ArgumentSyntax);
err!(bdat_not_number, b"BDAT x" => ParseError::ArgumentSyntax);
err!(bdat_bad_marker, b"BDAT 1 FIRST" => ParseError::ArgumentSyntax);
err!(bdat_overflow, b"BDAT 99999999999999999999999" => ParseError::ArgumentSyntax);
err!(bdat_extra, b"BDAT 1 LAST x" => ParseError::ArgumentSyntax);

// RFC 4954
kat!(auth_plain_ir, b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=" => b"AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n", |c| {
    let Command::Auth { mechanism, initial_response: Some(InitialResponse::Base64(r)) } = &c else { panic!() };
    assert_eq!(mechanism, &Mechanism::Plain);
    assert_eq!(&r.expose()[..], b"dGVzdAB0ZXN0ADEyMzQ=");
});
kat!(auth_empty_ir, b"auth plain =" => b"AUTH PLAIN =\r\n", |c| {
    assert_eq!(c, Command::Auth { mechanism: Mechanism::Plain, initial_response: Some(InitialResponse::Empty) });
});
kat!(auth_login, b"AUTH LOGIN" => b"AUTH LOGIN\r\n", |c| {
    assert_eq!(c, Command::Auth { mechanism: Mechanism::Login, initial_response: None });
});
kat!(auth_other, b"AUTH X-CUSTOM_1" => b"AUTH X-CUSTOM_1\r\n", |c| {
    assert!(matches!(&c, Command::Auth { mechanism: Mechanism::Other(_), .. }));
});
err!(auth_missing, b"AUTH" => ParseError::ArgumentSyntax);
err!(auth_bad_mech, b"AUTH PL@IN" => ParseError::ArgumentSyntax);
err!(auth_bad_ir, b"AUTH PLAIN abc!" => ParseError::ArgumentSyntax);
err!(auth_extra, b"AUTH PLAIN abc def" => ParseError::ArgumentSyntax);

// RFC 1985, 2645, 4468
kat!(etrn, b"ETRN @example.org" => b"ETRN @example.org\r\n", |c| {
    assert_eq!(c, Command::Etrn(Bytes::from_static(b"@example.org")));
});
kat!(etrn_queue, b"ETRN #queue1" => b"ETRN #queue1\r\n", |c| { assert!(matches!(c, Command::Etrn(_))); });
err!(etrn_bad, b"ETRN a b" => ParseError::ArgumentSyntax);
kat!(atrn, b"ATRN" => b"ATRN\r\n", |c| { assert_eq!(c, Command::Atrn(Vec::new())); });
kat!(atrn_list, b"ATRN example.org,example.net" => b"ATRN example.org,example.net\r\n", |c| {
    let Command::Atrn(d) = &c else { panic!() };
    assert_eq!(d.len(), 2);
});
err!(atrn_empty_item, b"ATRN example.org," => ParseError::ArgumentSyntax);
kat!(burl, b"BURL imap://harry@gray.example.com/outbox;uidvalidity=1078863300/;uid=25;urlauth=submit+harry:internal:91354a473744909de610943775f92038 LAST" =>
    b"BURL imap://harry@gray.example.com/outbox;uidvalidity=1078863300/;uid=25;urlauth=submit+harry:internal:91354a473744909de610943775f92038 LAST\r\n", |c| {
    assert!(matches!(c, Command::Burl { kind: ChunkKind::Last, .. }));
});

// Postfix XCLIENT / XFORWARD
kat!(xclient, b"XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2" =>
    b"XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2\r\n", |c| {
    let Command::Xclient(a) = &c else { panic!() };
    assert_eq!(a.len(), 2);
    assert_eq!((&a[1].name[..], &a[1].value[..]), (&b"ADDR"[..], &b"168.100.189.2"[..]));
});
kat!(xforward, b"xforward PROTO=ESMTP HELO=[UNAVAILABLE] SOURCE=REMOTE" =>
    b"XFORWARD PROTO=ESMTP HELO=[UNAVAILABLE] SOURCE=REMOTE\r\n", |c| {
    assert!(matches!(&c, Command::Xforward(a) if a.len() == 3));
});
err!(xclient_missing, b"XCLIENT" => ParseError::ArgumentSyntax);
err!(xclient_no_eq, b"XCLIENT NAME" => ParseError::ArgumentSyntax);

// Unknown verbs
kat!(unknown_verb, b"XYZZY  magic words" => b"XYZZY  magic words\r\n", |c| {
    assert_eq!(c, Command::Unknown { verb: Bytes::from_static(b"XYZZY"), args: Some(Bytes::from_static(b" magic words")) });
});
kat!(unknown_bare, b"TURN" => b"TURN\r\n", |c| {
    assert_eq!(c, Command::Unknown { verb: Bytes::from_static(b"TURN"), args: None });
});
kat!(unknown_8bit_args, b"X-FOO caf\xe9" => b"X-FOO caf\xe9\r\n", |c| {
    assert!(matches!(c, Command::Unknown { args: Some(_), .. }));
});

// --- Line-level errors ----------------------------------------------------------------------

err!(empty_line, b"" => ParseError::Syntax);
err!(only_spaces, b"   " => ParseError::Syntax);
err!(leading_space, b" DATA" => ParseError::Syntax);
err!(nul_in_verb, b"DA\0TA" => ParseError::Syntax);
err!(nul_in_path, b"MAIL FROM:<a\0@b.c>" => ParseError::Syntax);
err!(bare_cr, b"DATA\rX" => ParseError::BareLineEnding);
err!(bare_lf_inside, b"NOOP a\nb" => ParseError::BareLineEnding);
err!(eight_bit_verb, b"D\xc3\xa4TA" => ParseError::Syntax);

#[test]
fn parse_framing() {
    let opts = strict();
    let buf = Bytes::from_static(b"EHLO a.example\r\nMAIL FROM:<>\r\nRCPT");
    let Ok(Status::Complete((cmd, used))) = Command::parse(&buf, &opts) else {
        panic!()
    };
    assert!(matches!(cmd, Command::Ehlo(_)));
    assert_eq!(used, 16);
    let rest = buf.slice(used..);
    let Ok(Status::Complete((cmd, used))) = Command::parse(&rest, &opts) else {
        panic!()
    };
    assert_eq!(
        cmd,
        Command::Mail {
            from: ReversePath::Null,
            params: MailParams::default()
        }
    );
    assert_eq!(
        Command::parse(&rest.slice(used..), &opts),
        Ok(Status::Incomplete)
    );
    // A CR at the end may be the first half of CRLF.
    assert_eq!(
        Command::parse(&Bytes::from_static(b"DATA\r"), &opts),
        Ok(Status::Incomplete)
    );
    assert_eq!(Command::parse(&Bytes::new(), &opts), Ok(Status::Incomplete));
}

#[test]
fn bare_lf_needs_option() {
    let buf = Bytes::from_static(b"QUIT\n");
    assert_eq!(
        Command::parse(&buf, &strict()),
        Err(ParseError::BareLineEnding)
    );
    let opts = ParseOptions {
        line_ending: LineEnding::CrLfOrLf,
        ..strict()
    };
    assert_eq!(
        Command::parse(&buf, &opts),
        Ok(Status::Complete((Command::Quit, 5)))
    );
    // CRLF still works, and a CR inside the line is still an error.
    let crlf = Bytes::from_static(b"QUIT\r\n");
    assert_eq!(
        Command::parse(&crlf, &opts),
        Ok(Status::Complete((Command::Quit, 6)))
    );
    let cr = Bytes::from_static(b"QU\rIT\n");
    assert_eq!(Command::parse(&cr, &opts), Err(ParseError::BareLineEnding));
}

#[test]
fn line_length_limit() {
    let opts = ParseOptions {
        max_line: 16,
        ..strict()
    };
    // 14 octets + CRLF = 16: fits exactly.
    let ok = Bytes::from_static(b"NOOP 123456789\r\n");
    assert!(matches!(
        Command::parse(&ok, &opts),
        Ok(Status::Complete((_, 16)))
    ));
    let long = Bytes::from_static(b"NOOP 1234567890\r\n");
    assert_eq!(Command::parse(&long, &opts), Err(ParseError::LineTooLong));
    // Too long is known before the line ends.
    assert_eq!(
        Command::parse(&long.slice(..16), &opts),
        Err(ParseError::LineTooLong)
    );
    assert_eq!(
        Command::parse(&long.slice(..15), &opts),
        Ok(Status::Incomplete)
    );
    assert_eq!(
        Command::parse_line(&long.slice(..15), &opts),
        Err(ParseError::LineTooLong)
    );
    assert!(Command::parse_line(&ok.slice(..14), &opts).is_ok());
}

#[test]
fn huge_parameters_rejected_by_length() {
    let mut line = alloc::vec::Vec::from(&b"MAIL FROM:<a@b.c> X-BIG="[..]);
    line.extend(core::iter::repeat(b'x').take(5000));
    line.extend_from_slice(b"\r\n");
    let buf = Bytes::from(line);
    assert_eq!(
        Command::parse(&buf, &strict()),
        Err(ParseError::LineTooLong)
    );
    let opts = ParseOptions {
        max_line: 8192,
        ..strict()
    };
    let Ok(Status::Complete((cmd, _))) = Command::parse(&buf, &opts) else {
        panic!()
    };
    assert_eq!(
        mail_params(&cmd).extra().unknown[0]
            .value
            .as_ref()
            .map(|v| v.len()),
        Some(5000)
    );
}

#[test]
fn fields_are_slices_of_the_line() {
    // Long enough that the mailbox and the ORCPT are not held in place.
    let line = Bytes::from_static(
        b"RCPT TO:<a.rather.longer.local.part.for.this.test@mail.example.org> ORCPT=rfc822;a.rather.longer.local.part.for.this.test@mail.example.org X-P=abc",
    );
    let cmd = Command::parse_line(&line, &strict()).unwrap();
    let range = line.as_ptr_range();
    let m = mailbox(&cmd);
    assert!(m.as_bytes().len() > Mailbox::INLINE);
    assert!(range.contains(&m.local_part().as_bytes().as_ptr()));
    assert!(range.contains(&m.host_bytes().as_ptr()));
    let p = rcpt_params(&cmd);
    assert!(range.contains(&p.orcpt.as_ref().unwrap().addr_type().as_ptr()));
    assert!(range.contains(&p.extra().unknown[0].value.as_ref().unwrap().as_ptr()));
    // Short ones are copied, and equal all the same.
    let short = Bytes::from_static(b"MAIL FROM:<user@example.org> ENVID=abc");
    let cmd = Command::parse_line(&short, &strict()).unwrap();
    assert!(!short
        .as_ptr_range()
        .contains(&mailbox(&cmd).as_bytes().as_ptr()));
    assert!(short
        .as_ptr_range()
        .contains(&mail_params(&cmd).extra().envid.as_ref().unwrap().as_ptr()));
    let copy = Bytes::copy_from_slice(&short);
    assert_eq!(Command::parse_line(&copy, &strict()).unwrap(), cmd);
}

fn domain_ptr(h: &Host) -> *const u8 {
    match h {
        Host::Domain(d) => d.as_bytes().as_ptr(),
        _ => core::ptr::null(),
    }
}

#[test]
fn short_domains_are_held_in_place_long_ones_shared() {
    let short = Bytes::from_static(b"EHLO client.example.org");
    let Command::Ehlo(h) = Command::parse_line(&short, &strict()).unwrap() else {
        panic!()
    };
    assert!(!short.as_ptr_range().contains(&domain_ptr(&h)));
    assert_eq!(domain(&h), "client.example.org");
    let name = alloc::format!("{}.example.org", "a".repeat(60));
    let long = Bytes::from(alloc::format!("EHLO {name}"));
    let Command::Ehlo(h) = Command::parse_line(&long, &strict()).unwrap() else {
        panic!()
    };
    assert!(long.as_ptr_range().contains(&domain_ptr(&h)));
    assert_eq!(domain(&h), name);
}

#[test]
fn error_replies() {
    let cases: Vec<(ParseError, u16, &str)> = vec![
        (ParseError::Syntax, 500, "5.5.2"),
        (ParseError::BareLineEnding, 500, "5.5.2"),
        (ParseError::ArgumentSyntax, 501, "5.5.4"),
        (ParseError::InvalidParameter, 501, "5.5.4"),
        (ParseError::LineTooLong, 500, "5.5.6"),
        (ParseError::BadMailbox(PathRole::Sender), 553, "5.1.7"),
        (ParseError::BadMailbox(PathRole::Recipient), 553, "5.1.3"),
        (ParseError::LocalPartTooLong(PathRole::Sender), 553, "5.1.7"),
        (ParseError::DomainTooLong(PathRole::Recipient), 553, "5.1.3"),
        (ParseError::PathTooLong, 501, "5.5.4"),
    ];
    for (e, code, enhanced) in cases {
        let r = e.reply();
        assert_eq!(r.code().as_u16(), code, "{e:?}");
        assert_eq!(
            r.enhanced().map(|x| x.to_string()).as_deref(),
            Some(enhanced),
            "{e:?}"
        );
    }
    let text: Vec<u8> = ParseError::PathTooLong
        .reply()
        .lines()
        .flat_map(|l| l.to_vec())
        .collect();
    assert_eq!(&text[..], b"Path too long");
    assert_eq!(ParseError::Syntax.reply().code(), ReplyCode::SYNTAX_ERROR);
}

#[test]
fn display_paths() {
    let opts = strict();
    let rp = ReversePath::parse(&Bytes::from_static(b"<a@[192.0.2.1]>"), &opts).unwrap();
    assert_eq!(rp.to_string(), "<a@[192.0.2.1]>");
    assert_eq!(ReversePath::Null.to_string(), "<>");
    assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
    let d = crate::Domain::parse(&Bytes::from_static(b"Example.ORG"), &opts).unwrap();
    assert_eq!(d.to_string(), "Example.ORG");
    assert!(crate::Domain::parse(&Bytes::from_static(b"a_b.org"), &opts).is_err());
    assert!(crate::Domain::parse(&Bytes::from_static(b"a_b.org"), &lenient()).is_ok());
    assert_eq!(
        ReversePath::parse(&Bytes::from_static(b"<a@b.c> x"), &opts),
        Err(ParseError::BadMailbox(PathRole::Sender))
    );
}

// --- Edge cases of the table-driven scanners (domain classes, folded keywords, xtext) -------

err!(ehlo_label_hyphen_start_inner, b"EHLO a.-b.example" => ParseError::ArgumentSyntax);
err!(ehlo_label_hyphen_end_last, b"EHLO a.example-" => ParseError::ArgumentSyntax);
err!(ehlo_leading_dot, b"EHLO .example" => ParseError::ArgumentSyntax);
err!(mail_body_near_miss, b"MAIL FROM:<a@b.c> BODY=8BITMIMEX" => ParseError::InvalidParameter);
err!(mail_body_seven_near_miss, b"MAIL FROM:<a@b.c> BODY=7BIS" => ParseError::InvalidParameter);
err!(rcpt_notify_near_miss, b"RCPT TO:<a@b.c> NOTIFY=SUCCES" => ParseError::InvalidParameter);
err!(rcpt_orcpt_equals_in_xtext, b"RCPT TO:<a@b.c> ORCPT=rfc822;a=b@c" => ParseError::InvalidParameter);
err!(rcpt_orcpt_raw_utf8_needs_utf8_type, b"RCPT TO:<a@b.c> ORCPT=rfc822;\xc3\xa9@c" =>
    ParseError::InvalidParameter);

#[test]
fn ehlo_last_label_limits() {
    let ok = alloc::format!("EHLO example.{}", "a".repeat(63));
    assert!(Command::parse_line(&Bytes::from(ok), &strict()).is_ok());
    let long = alloc::format!("EHLO example.{}", "a".repeat(64));
    assert_eq!(
        Command::parse_line(&Bytes::from(long), &strict()),
        Err(ParseError::ArgumentSyntax)
    );
}

#[test]
fn keywords_of_other_lengths_are_unknown_parameters() {
    // Same first octets as SIZE / BODY / NOTIFY, other lengths: kept as unknown, not matched.
    let c = Command::parse_line(
        &Bytes::from_static(b"MAIL FROM:<a@b.c> SIZ=1 SIZEX=2"),
        &strict(),
    )
    .unwrap();
    let p = mail_params(&c);
    assert_eq!(p.size, None);
    let names: Vec<&[u8]> = p.extra().unknown.iter().map(|u| &u.keyword[..]).collect();
    assert_eq!(names, [&b"SIZ"[..], b"SIZEX"]);
    let c = Command::parse_line(
        &Bytes::from_static(b"RCPT TO:<a@b.c> notify=delay,Failure"),
        &strict(),
    )
    .unwrap();
    let Command::Rcpt { params, .. } = c else {
        panic!("not RCPT")
    };
    assert_eq!(
        params.notify,
        Some(Notify::On {
            success: false,
            failure: true,
            delay: true
        })
    );
}

#[test]
fn orcpt_utf8_type_passes_raw_utf8() {
    let c = Command::parse_line(
        &Bytes::from_static(b"RCPT TO:<a@b.c> ORCPT=utf-8;\xc3\xa9@c.example"),
        &strict(),
    )
    .unwrap();
    let Command::Rcpt { params, .. } = c else {
        panic!("not RCPT")
    };
    assert_eq!(
        &params.orcpt.unwrap().address()[..],
        "é@c.example".as_bytes()
    );
}

#[test]
fn mailbox_with_general_literal_and_quoted_at() {
    let c = Command::parse_line(
        &Bytes::from_static(b"RCPT TO:<\"a@b\"@[x-tag:some:thing]>"),
        &strict(),
    )
    .unwrap();
    let m = mailbox(&c);
    assert_eq!(m.local_part().as_bytes(), b"\"a@b\"");
    assert_eq!(m.host_bytes(), b"[x-tag:some:thing]");
    assert_eq!(
        m.host(),
        Host::Literal(AddressLiteral::General {
            tag: Bytes::from_static(b"x-tag"),
            content: Bytes::from_static(b"some:thing"),
        })
    );
    assert_eq!(m.domain(), None);
    let ipv4 =
        Command::parse_line(&Bytes::from_static(b"RCPT TO:<a@[192.0.2.1]>"), &strict()).unwrap();
    assert_eq!(
        mailbox(&ipv4).host(),
        Host::Literal(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
    );
}
