//! What the server offers, boiled down from its EHLO capabilities to what the client
//! session decides on.

use alloc::vec::Vec;

use crate::ehlo::{Capabilities, EhloKeyword, Extension};
use crate::reply::Reply;
use crate::sasl::Mechanism;

/// RFC 9422 LIMITS values (absent means no limit).
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
    /// Registered extensions without a flag above (MT-PRIORITY, FUTURERELEASE, ...).
    pub(crate) other: Vec<Extension>,
}

impl Offer {
    pub(crate) fn from_capabilities(caps: &Capabilities) -> Offer {
        let nonzero = |v: Option<u32>| v.filter(|&n| n > 0).map(u64::from);
        Offer {
            pipelining: caps.supports_pipelining(),
            chunking: caps.supports_chunking(),
            binary_mime: caps.supports_binarymime(),
            eight_bit_mime: caps.supports_8bitmime(),
            smtputf8: caps.supports_smtputf8(),
            dsn: caps.supports_dsn(),
            size: caps.supports_size().then(|| caps.max_size().unwrap_or(0)),
            starttls: caps.supports_starttls(),
            auth: caps.auth_mechanisms().to_vec(),
            require_tls: caps.supports_requiretls(),
            limits: caps
                .limits()
                .map(|l| Limits {
                    mail_max: nonzero(l.mail_max),
                    rcpt_max: nonzero(l.rcpt_max),
                    rcpt_domain_max: nonzero(l.rcpt_domain_max),
                })
                .unwrap_or_default(),
            other: caps
                .keywords
                .iter()
                .filter_map(EhloKeyword::extension)
                .collect(),
        }
    }

    /// Whether a registered extension without its own flag was advertised.
    pub(crate) fn has(&self, extension: Extension) -> bool {
        self.other.contains(&extension)
    }
}

/// Reads an EHLO/LHLO reply into [`Capabilities`]. The codec reads lines leniently (odd
/// first lines such as mailin's `250-server offers extensions:`, smtp-sink's empty last
/// line); a positive reply with a code other than 250 gives no extensions.
pub(crate) fn capabilities_from_reply(reply: &Reply) -> Capabilities {
    Capabilities::from_reply(reply).unwrap_or_else(|_| Capabilities {
        host: None,
        greeting: reply.first_line().clone(),
        keywords: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::reply::ReplyParser;
    use bytes::Bytes;

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
        let r = reply(include_bytes!(
            "../../tests/fixtures/client/postfix-ehlo.txt"
        ));
        let o = Offer::from_capabilities(&capabilities_from_reply(&r));
        assert!(o.pipelining && o.chunking && o.smtputf8 && o.dsn && o.eight_bit_mime);
        assert!(o.starttls);
        assert_eq!(o.size, Some(20480000));
        assert_eq!(o.auth, [Mechanism::Plain, Mechanism::Login]);
    }

    #[test]
    fn limits_and_empty_last_line() {
        let r = reply(
            b"250-mx.example\r\n250-LIMITS RCPTMAX=3 MAILMAX=2 RCPTDOMAINMAX=1 FOO=9\r\n250 \r\n",
        );
        let o = Offer::from_capabilities(&capabilities_from_reply(&r));
        assert_eq!(
            o.limits,
            Limits {
                mail_max: Some(2),
                rcpt_max: Some(3),
                rcpt_domain_max: Some(1)
            }
        );
        assert!(o.has(Extension::Limits));
    }
}
