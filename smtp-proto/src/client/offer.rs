//! What the server offers, boiled down from its EHLO capabilities to what the client
//! session decides on.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::ehlo::{Capabilities, EhloKeyword};
use crate::reply::Reply;
use crate::sasl::Mechanism;

/// RFC 9422 LIMITS values (0 or absent means no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    pub(crate) mail_max: Option<u64>,
    pub(crate) rcpt_max: Option<u64>,
    pub(crate) rcpt_domain_max: Option<u64>,
}

/// Flags and values of the extensions the client acts on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Offer {
    pub(crate) pipelining: bool,
    pub(crate) chunking: bool,
    pub(crate) binary_mime: bool,
    pub(crate) eight_bit_mime: bool,
    pub(crate) smtputf8: bool,
    pub(crate) dsn: bool,
    /// `Some(limit)` when SIZE is advertised; `Some(0)` means no fixed limit.
    pub(crate) size: Option<u64>,
    pub(crate) starttls: bool,
    pub(crate) auth: Vec<Mechanism>,
    pub(crate) require_tls: bool,
    pub(crate) limits: Limits,
    /// Other keywords, upper-cased (MT-PRIORITY, FUTURERELEASE, DELIVERBY, ...).
    pub(crate) other: Vec<Bytes>,
}

impl Offer {
    pub(crate) fn from_capabilities(caps: &Capabilities) -> Offer {
        let mut o = Offer::default();
        for k in &caps.keywords {
            match k {
                EhloKeyword::Size(n) => o.size = Some(n.unwrap_or(0)),
                EhloKeyword::Pipelining => o.pipelining = true,
                EhloKeyword::EightBitMime => o.eight_bit_mime = true,
                EhloKeyword::BinaryMime => o.binary_mime = true,
                EhloKeyword::Chunking => o.chunking = true,
                EhloKeyword::SmtpUtf8 => o.smtputf8 = true,
                EhloKeyword::Dsn => o.dsn = true,
                EhloKeyword::StartTls => o.starttls = true,
                EhloKeyword::Auth(m) => {
                    for mech in m {
                        if !o.auth.contains(mech) {
                            o.auth.push(mech.clone());
                        }
                    }
                }
                EhloKeyword::RequireTls => o.require_tls = true,
                EhloKeyword::Unknown { keyword, params } => {
                    let upper = Bytes::from(keyword.to_ascii_uppercase());
                    if &upper[..] == b"LIMITS" {
                        o.limits = parse_limits(params);
                    }
                    o.other.push(upper);
                }
                _ => {}
            }
        }
        o
    }

    /// Whether an extension without a typed keyword was advertised.
    pub(crate) fn has(&self, keyword: &[u8]) -> bool {
        self.other.iter().any(|k| &k[..] == keyword)
    }
}

/// `LIMITS` parameters (RFC 9422 section 4): `NAME=number`, unknown names ignored.
fn parse_limits(params: &[Bytes]) -> Limits {
    let mut l = Limits::default();
    for p in params {
        let Some(eq) = p.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&p[..eq], &p[eq + 1..]);
        let Some(n) = parse_u64(value).filter(|&n| n > 0) else {
            continue;
        };
        if name.eq_ignore_ascii_case(b"MAILMAX") {
            l.mail_max = Some(n);
        } else if name.eq_ignore_ascii_case(b"RCPTMAX") {
            l.rcpt_max = Some(n);
        } else if name.eq_ignore_ascii_case(b"RCPTDOMAINMAX") {
            l.rcpt_domain_max = Some(n);
        }
    }
    l
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Reads an EHLO/LHLO reply into [`Capabilities`], leniently: a line that does not parse
/// as a keyword is kept as an unknown keyword, never an error (real servers send odd first
/// lines, e.g. mailin's `250-server offers extensions:`).
pub(crate) fn capabilities_from_reply(reply: &Reply) -> Capabilities {
    let mut lines = reply.lines();
    let first = lines.next().cloned().unwrap_or_default();
    let mut keywords = Vec::new();
    for line in lines {
        let mut words = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .map(|w| line.slice_ref(w));
        let Some(keyword) = words.next() else {
            continue; // smtp-sink ends its reply with an empty `250 ` line
        };
        let params: Vec<Bytes> = words.collect();
        keywords.push(keyword_from(keyword, params));
    }
    Capabilities {
        host: None,
        greeting: first,
        keywords,
    }
}

fn keyword_from(keyword: Bytes, params: Vec<Bytes>) -> EhloKeyword {
    let k = keyword.to_ascii_uppercase();
    match &k[..] {
        b"SIZE" => EhloKeyword::Size(params.first().and_then(|p| parse_u64(p))),
        b"PIPELINING" => EhloKeyword::Pipelining,
        b"8BITMIME" => EhloKeyword::EightBitMime,
        b"BINARYMIME" => EhloKeyword::BinaryMime,
        b"CHUNKING" => EhloKeyword::Chunking,
        b"SMTPUTF8" => EhloKeyword::SmtpUtf8,
        b"DSN" => EhloKeyword::Dsn,
        b"ENHANCEDSTATUSCODES" => EhloKeyword::EnhancedStatusCodes,
        b"STARTTLS" => EhloKeyword::StartTls,
        b"REQUIRETLS" => EhloKeyword::RequireTls,
        b"AUTH" => EhloKeyword::Auth(params.iter().map(|p| Mechanism::from_name(p)).collect()),
        _ => EhloKeyword::Unknown { keyword, params },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyParser;

    fn reply(wire: &'static [u8]) -> Reply {
        let mut p = ReplyParser::default();
        let mut out = None;
        for line in wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            out = p.push_line(&Bytes::from_static(line)).unwrap();
        }
        out.unwrap()
    }

    #[test]
    fn postfix_smtpd() {
        let r = reply(include_bytes!("../../tests/fixtures/postfix-ehlo.txt"));
        let o = Offer::from_capabilities(&capabilities_from_reply(&r));
        assert!(o.pipelining && o.chunking && o.smtputf8 && o.dsn && o.eight_bit_mime);
        assert!(o.starttls);
        assert_eq!(o.size, Some(20480000));
        assert_eq!(o.auth, [Mechanism::Plain, Mechanism::Login]);
    }

    #[test]
    fn limits_and_empty_last_line() {
        let r = reply(b"250-mx.example\r\n250-LIMITS RCPTMAX=3 MAILMAX=2 RCPTDOMAINMAX=1 FOO=9\r\n250 \r\n");
        let o = Offer::from_capabilities(&capabilities_from_reply(&r));
        assert_eq!(
            o.limits,
            Limits {
                mail_max: Some(2),
                rcpt_max: Some(3),
                rcpt_domain_max: Some(1)
            }
        );
        assert!(o.has(b"LIMITS"));
    }
}
