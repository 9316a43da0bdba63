//! proptest strategies for codec values (test support only: no `Arbitrary` on public types).
//!
//! Every strategy produces values that the writer renders into a line the parser accepts, so
//! `parse(write(x)) == x` can be checked for all of them.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::collection::vec as pvec;
use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::address::{AddressLiteral, Domain, Host, Mailbox};
use crate::sasl::Mechanism;
use crate::Secret;
use alloc::boxed::Box;

fn bytes(s: String) -> Bytes {
    Bytes::from(s.into_bytes())
}

/// One LDH label, sometimes a U-label.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?",
        1 => "[a-z0-9]{0,3}(ü|é|例|子|ß)[a-z0-9]{0,3}",
        1 => "[a-z0-9]{1,63}",
    ]
}

pub(crate) fn domain() -> impl Strategy<Value = Domain> {
    pvec(label(), 1..4).prop_map(|l| Domain::from_bytes(bytes(l.join("."))))
}

pub(crate) fn ascii_domain() -> impl Strategy<Value = Domain> {
    pvec("[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", 1..4)
        .prop_map(|l| Domain::from_bytes(bytes(l.join("."))))
}

fn address_literal() -> impl Strategy<Value = AddressLiteral> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| AddressLiteral::Ipv4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| AddressLiteral::Ipv6(Ipv6Addr::from(o))),
        (
            "X-[a-zA-Z0-9-]{0,6}[a-zA-Z0-9]",
            "[!-Z^-~]{1,20}" // dcontent
        )
            .prop_map(|(t, c)| AddressLiteral::General {
                tag: bytes(t),
                content: bytes(c)
            }),
    ]
}

pub(crate) fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        4 => domain().prop_map(Host::Domain),
        1 => address_literal().prop_map(Host::Literal),
    ]
}

fn local_part() -> impl Strategy<Value = String> {
    // atext: ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~" / UTF8-non-ascii
    let atom = "([a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]|ä|ø|用){1,8}";
    let dot_string = pvec(atom, 1..4).prop_map(|a| a.join("."));
    // qtextSMTP / quoted-pairSMTP
    let quoted = pvec(prop_oneof!["[ !#-\\[\\]-~]", "\\\\[ -~]", "é"], 0..10)
        .prop_map(|parts| alloc::format!("\"{}\"", parts.concat()));
    prop_oneof![3 => dot_string, 1 => quoted].prop_filter("local part limit", |s| s.len() <= 64)
}

pub(crate) fn mailbox() -> impl Strategy<Value = Mailbox> {
    (local_part(), host()).prop_map(|(local_part, host)| {
        // The strategies only produce valid parts.
        #[allow(clippy::unwrap_used)]
        Mailbox::new(local_part.as_bytes(), &host).unwrap()
    })
}

pub(crate) fn reverse_path() -> impl Strategy<Value = ReversePath> {
    prop_oneof![
        1 => Just(ReversePath::Null),
        4 => mailbox().prop_map(ReversePath::Mailbox),
    ]
}

pub(crate) fn forward_path() -> impl Strategy<Value = ForwardPath> {
    prop_oneof![
        1 => Just(ForwardPath::Postmaster),
        4 => mailbox().prop_map(ForwardPath::Mailbox),
    ]
}

/// `esmtp-value` text (no `=`, SP or controls), sometimes with UTF-8.
fn esmtp_value() -> impl Strategy<Value = Bytes> {
    "([!-<>-~]|é){1,16}".prop_map(bytes)
}

fn unknown_params() -> impl Strategy<Value = Vec<UnknownParam>> {
    pvec(
        ("X-[A-Za-z0-9-]{1,8}", option::of(esmtp_value())).prop_map(|(k, v)| UnknownParam {
            keyword: bytes(k),
            value: v,
        }),
        0..3,
    )
}

fn date_time() -> impl Strategy<Value = Bytes> {
    (
        1970u32..2100,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..61,
        option::of(0u32..1000),
        prop_oneof![
            Just(String::from("Z")),
            "[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]"
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, tz)| {
            let frac = frac.map(|f| alloc::format!(".{f}")).unwrap_or_default();
            bytes(alloc::format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{tz}"
            ))
        })
}

fn xtext_source() -> impl Strategy<Value = Bytes> {
    pvec(any::<u8>(), 1..20).prop_map(Bytes::from)
}

pub(crate) fn mail_params() -> impl Strategy<Value = MailParams> {
    let dsn = (
        option::of(any::<u64>()),
        option::of(prop_oneof![
            Just(BodyType::SevenBit),
            Just(BodyType::EightBitMime),
            Just(BodyType::BinaryMime)
        ]),
        any::<bool>(),
        option::of(prop_oneof![Just(DsnReturn::Full), Just(DsnReturn::Headers)]),
        option::of(xtext_source()),
        option::of(xtext_source()),
        any::<bool>(),
    );
    let more = (
        option::of(-9i8..=9),
        option::of(prop_oneof![
            (1u64..=999_999_999).prop_map(FutureRelease::For),
            date_time().prop_map(FutureRelease::Until),
        ]),
        option::of(
            (
                -999_999_999i64..=999_999_999,
                prop_oneof![Just(ByMode::Notify), Just(ByMode::Return)],
                any::<bool>(),
            )
                .prop_map(|(time, mode, trace)| DeliverBy { time, mode, trace }),
        ),
        option::of(
            ("[A-Za-z0-9+/]{1,20}={0,2}", option::of(0u64..=999_999_999)).prop_map(
                |(c, timeout)| Mtrk {
                    certifier: bytes(c),
                    timeout,
                },
            ),
        ),
        option::of(
            "[a-zA-Z][a-zA-Z0-9.:_-]{0,8}(,[a-zA-Z][a-zA-Z0-9.:_-]{0,8}){0,2}".prop_map(bytes),
        ),
        any::<bool>(),
        unknown_params(),
    );
    (dsn, more).prop_map(
        |(
            (size, body, smtputf8, ret, envid, auth, requiretls),
            (mt_priority, future_release, by, mtrk, solicit, conperm, unknown),
        )| {
            let extra = MailExtras {
                ret,
                envid,
                auth,
                mt_priority,
                future_release,
                by,
                mtrk,
                solicit,
                conperm,
                unknown,
            };
            MailParams {
                size,
                body,
                smtputf8,
                requiretls,
                // Mostly none, as the parser gives it, sometimes an empty box: both are equal.
                extra: (!extra.is_empty() || size == Some(7)).then(|| Box::new(extra)),
            }
        },
    )
}

pub(crate) fn rcpt_params() -> impl Strategy<Value = RcptParams> {
    (
        option::of(prop_oneof![
            Just(Notify::Never),
            (any::<bool>(), any::<bool>(), any::<bool>())
                .prop_filter("at least one", |(s, f, d)| *s || *f || *d)
                .prop_map(|(success, failure, delay)| Notify::On {
                    success,
                    failure,
                    delay
                }),
        ]),
        option::of(
            (
                prop_oneof!["rfc822", "utf-8", "X-[a-z]{1,5}"],
                xtext_source(),
            )
                .prop_map(|(t, address)| {
                    // The strategies only produce valid parts.
                    #[allow(clippy::unwrap_used)]
                    Orcpt::new(t.as_bytes(), &address).unwrap()
                }),
        ),
        option::of(
            (
                date_time(),
                option::of(prop_oneof![
                    Just(RrvsAction::Continue),
                    Just(RrvsAction::Reject)
                ]),
            )
                .prop_map(|(time, action)| Rrvs { time, action }),
        ),
        any::<bool>(),
        unknown_params(),
    )
        .prop_map(|(notify, orcpt, rrvs, conneg, unknown)| RcptParams {
            notify,
            orcpt,
            extra: Some(Box::new(RcptExtras {
                rrvs,
                conneg,
                unknown,
            })),
        })
}

/// Free text for NOOP / HELP / VRFY / EXPN / unknown arguments: no CR, LF or NUL, and no
/// leading or trailing white space (the parser strips trailing white space always, and leading
/// white space in lenient mode).
fn text_arg() -> impl Strategy<Value = Bytes> {
    "[!-~](([ -~]|é|\t){0,20}[!-~])?".prop_map(bytes)
}

fn mechanism() -> impl Strategy<Value = Mechanism> {
    prop_oneof![
        Just(Mechanism::Plain),
        Just(Mechanism::Login),
        Just(Mechanism::XOAuth2),
        Just(Mechanism::CramMd5),
        Just(Mechanism::ScramSha256),
        "X-[A-Z0-9_-]{1,10}".prop_map(|n| Mechanism::from_name(n.as_bytes())),
    ]
}

fn x_attributes() -> impl Strategy<Value = Vec<XAttribute>> {
    pvec(
        ("[A-Z][A-Z0-9_-]{0,8}", "[!-~]{0,12}").prop_map(|(n, v)| XAttribute {
            name: bytes(n),
            value: bytes(v),
        }),
        1..4,
    )
}

fn chunk_kind() -> impl Strategy<Value = ChunkKind> {
    prop_oneof![Just(ChunkKind::More), Just(ChunkKind::Last)]
}

const KNOWN_VERBS: &[&str] = &[
    "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN",
    "HELP", "STARTTLS", "AUTH", "ETRN", "ATRN", "BURL", "XCLIENT", "XFORWARD",
];

pub(crate) fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        host().prop_map(Command::Helo),
        host().prop_map(Command::Ehlo),
        host().prop_map(Command::Lhlo),
        (reverse_path(), mail_params()).prop_map(|(from, params)| Command::Mail { from, params }),
        (forward_path(), rcpt_params()).prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        (any::<u64>(), chunk_kind()).prop_map(|(size, kind)| Command::Bdat { size, kind }),
        Just(Command::Rset),
        option::of(text_arg()).prop_map(Command::Noop),
        Just(Command::Quit),
        text_arg().prop_map(Command::Vrfy),
        text_arg().prop_map(Command::Expn),
        option::of(text_arg()).prop_map(Command::Help),
        Just(Command::StartTls),
        (
            mechanism(),
            option::of(prop_oneof![
                Just(InitialResponse::Empty),
                "[A-Za-z0-9+/]{1,40}={0,2}"
                    .prop_map(|s| InitialResponse::Base64(Secret::new(bytes(s)))),
            ])
        )
            .prop_map(|(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }),
        prop_oneof![
            ascii_domain().prop_map(|d| Bytes::copy_from_slice(d.as_bytes())),
            ascii_domain().prop_map(|d| bytes(alloc::format!("@{}", d.as_str()))),
            "#[!-~]{1,10}".prop_map(bytes),
        ]
        .prop_map(Command::Etrn),
        pvec(ascii_domain(), 0..3).prop_map(Command::Atrn),
        ("[a-z]{2,6}://[!-~]{1,30}", chunk_kind()).prop_map(|(u, kind)| Command::Burl {
            url: bytes(u),
            kind
        }),
        x_attributes().prop_map(Command::Xclient),
        x_attributes().prop_map(Command::Xforward),
        ("[A-Za-z][!-~]{0,9}", option::of(text_arg()))
            .prop_filter("not a known verb", |(v, _)| {
                !KNOWN_VERBS.iter().any(|k| k.eq_ignore_ascii_case(v))
            })
            .prop_map(|(verb, args)| Command::Unknown {
                verb: bytes(verb),
                args
            }),
    ]
}
