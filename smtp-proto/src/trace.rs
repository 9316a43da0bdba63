//! Trace information: the `Received:` header a server prepends to each message it accepts
//! (RFC 5321 4.4), with the `with` protocol names of RFC 3848 and RFC 6531, and the
//! RFC 5322 3.3 date it ends with.
//!
//! The core has no clock, so the date is built from a time the caller passes in
//! ([`Rfc5322Date::from_unix_seconds`]).
//!
//! ```
//! use bytes::BytesMut;
//! use core::net::{IpAddr, Ipv4Addr};
//! use smtp_proto::trace::{Greeting, ReceivedHeader, Rfc5322Date, WithProtocol};
//!
//! let date = Rfc5322Date::from_unix_seconds(1_000_000_000);
//! let header = ReceivedHeader {
//!     from_helo: Some("client.example"),
//!     peer_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
//!     by: "mx.example",
//!     software: Some("smtp-proto"),
//!     with: WithProtocol::new(Greeting::Ehlo).authenticated(),
//!     id: Some("A1B2"),
//!     recipient: Some("<rcpt@example.org>"),
//!     tls: None,
//!     date,
//! };
//! let mut out = BytesMut::new();
//! header.write(&mut out);
//! assert_eq!(
//!     &out[..],
//!     &b"Received: from client.example ([192.0.2.1])\r\n\
//!        \tby mx.example (smtp-proto) with ESMTPA id A1B2\r\n\
//!        \tfor <rcpt@example.org>; Sun, 9 Sep 2001 01:46:40 +0000\r\n"[..]
//! );
//! ```

use bytes::{BufMut, BytesMut};
use core::fmt;
use core::net::IpAddr;

/// How the client greeted: it selects SMTP, ESMTP or LMTP in the `with` clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Greeting {
    /// `HELO` (plain SMTP, RFC 5321).
    Helo,
    /// `EHLO` (ESMTP).
    Ehlo,
    /// `LHLO` (LMTP, RFC 2033).
    Lhlo,
}

/// The `with` protocol of a `Received:` header (the IANA "Mail Transmission Types" registry:
/// RFC 3848 for the TLS/AUTH suffixes, RFC 6531 for the UTF8 ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WithProtocol {
    greeting: Greeting,
    tls: bool,
    authenticated: bool,
    smtputf8: bool,
}

impl WithProtocol {
    /// The plain protocol of a greeting: `SMTP`, `ESMTP` or `LMTP`. Add what the session
    /// used with [`tls`](Self::tls), [`authenticated`](Self::authenticated) and
    /// [`smtputf8`](Self::smtputf8).
    pub const fn new(greeting: Greeting) -> Self {
        WithProtocol {
            greeting,
            tls: false,
            authenticated: false,
            smtputf8: false,
        }
    }

    /// The transaction ran under TLS (the `S` suffix of RFC 3848).
    pub const fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// The client authenticated (the `A` suffix of RFC 3848).
    pub const fn authenticated(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// The message used SMTPUTF8 (the `UTF8` prefix of RFC 6531 4.3).
    pub const fn smtputf8(mut self) -> Self {
        self.smtputf8 = true;
        self
    }

    /// The registered name, e.g. `ESMTPSA`, `LMTPS`, `UTF8SMTPA`.
    ///
    /// ```
    /// use smtp_proto::trace::{Greeting, WithProtocol};
    /// assert_eq!(WithProtocol::new(Greeting::Helo).name(), "SMTP");
    /// assert_eq!(WithProtocol::new(Greeting::Ehlo).tls().authenticated().name(), "ESMTPSA");
    /// assert_eq!(WithProtocol::new(Greeting::Lhlo).tls().name(), "LMTPS");
    /// assert_eq!(WithProtocol::new(Greeting::Ehlo).tls().smtputf8().name(), "UTF8SMTPS");
    /// ```
    pub const fn name(&self) -> &'static str {
        // HELO cannot negotiate extensions, so TLS/AUTH/UTF8 imply an extended greeting; the
        // registry has no "SMTPS": a HELO session that somehow used TLS is still "SMTP".
        match (self.greeting, self.smtputf8, self.tls, self.authenticated) {
            (Greeting::Helo, ..) => "SMTP",
            (Greeting::Ehlo, false, false, false) => "ESMTP",
            (Greeting::Ehlo, false, false, true) => "ESMTPA",
            (Greeting::Ehlo, false, true, false) => "ESMTPS",
            (Greeting::Ehlo, false, true, true) => "ESMTPSA",
            (Greeting::Ehlo, true, false, false) => "UTF8SMTP",
            (Greeting::Ehlo, true, false, true) => "UTF8SMTPA",
            (Greeting::Ehlo, true, true, false) => "UTF8SMTPS",
            (Greeting::Ehlo, true, true, true) => "UTF8SMTPSA",
            (Greeting::Lhlo, false, false, false) => "LMTP",
            (Greeting::Lhlo, false, false, true) => "LMTPA",
            (Greeting::Lhlo, false, true, false) => "LMTPS",
            (Greeting::Lhlo, false, true, true) => "LMTPSA",
            (Greeting::Lhlo, true, false, false) => "UTF8LMTP",
            (Greeting::Lhlo, true, false, true) => "UTF8LMTPA",
            (Greeting::Lhlo, true, true, false) => "UTF8LMTPS",
            (Greeting::Lhlo, true, true, true) => "UTF8LMTPSA",
        }
    }
}

impl fmt::Display for WithProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `date-time` of RFC 5322 3.3 in UTC, e.g. `Sun, 9 Sep 2001 01:46:40 +0000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rfc5322Date {
    year: i64,
    month: u8,
    day: u8,
    weekday: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Rfc5322Date {
    /// The date `secs` seconds after 1970-01-01T00:00:00Z (negative: before it).
    ///
    /// ```
    /// use smtp_proto::trace::Rfc5322Date;
    /// assert_eq!(Rfc5322Date::from_unix_seconds(0).to_string(), "Thu, 1 Jan 1970 00:00:00 +0000");
    /// assert_eq!(
    ///     Rfc5322Date::from_unix_seconds(951_782_400).to_string(),
    ///     "Tue, 29 Feb 2000 00:00:00 +0000"
    /// );
    /// ```
    pub fn from_unix_seconds(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Rfc5322Date {
            year,
            month,
            day,
            // 1970-01-01 was a Thursday (index 4 with Sunday = 0).
            weekday: (days + 4).rem_euclid(7) as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian (year, month 1-12, day 1-31).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Rfc5322Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let weekday = DAYS
            .get(usize::from(self.weekday))
            .copied()
            .unwrap_or("Sun");
        let month = MONTHS
            .get(usize::from(self.month).wrapping_sub(1))
            .copied()
            .unwrap_or("Jan");
        write!(
            f,
            "{weekday}, {} {month} {:04} {:02}:{:02}:{:02} +0000",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }
}

/// A `Received:` header field (RFC 5321 4.4 `Time-stamp-line`).
///
/// Every text field is written only if it is safe in a header: a field holding a control
/// character (CR, LF, NUL, ...) is replaced by `unknown`, so peer-supplied values can never
/// inject a header line. The core has validated HELO arguments and paths anyway; this is a
/// second fence.
#[derive(Debug, Clone)]
pub struct ReceivedHeader<'a> {
    /// The HELO/EHLO/LHLO argument as the client sent it (`From-domain`); `None` before one.
    pub from_helo: Option<&'a str>,
    /// The peer's IP address, written as the `TCP-info` address literal.
    pub peer_ip: Option<IpAddr>,
    /// This server's name (`By-domain`).
    pub by: &'a str,
    /// The server software, written as a comment after `by`.
    pub software: Option<&'a str>,
    /// The `with` protocol.
    pub with: WithProtocol,
    /// The queue or file id. An `Atom` is written as is; a dot-atom (a Maildir name) is
    /// written as `<id@by>` (the `msg-id` form that `ID` also allows); anything else is left
    /// out.
    pub id: Option<&'a str>,
    /// The recipient path, e.g. `<rcpt@example.org>`. Give it only for a single-recipient
    /// message: listing every recipient would disclose Bcc recipients.
    pub recipient: Option<&'a str>,
    /// A TLS comment such as `version=TLSv1.3 cipher=TLS13_AES_128_GCM_SHA256`, written in
    /// parentheses after the `with` clause.
    pub tls: Option<&'a str>,
    /// When the message was received.
    pub date: Rfc5322Date,
}

fn is_header_safe(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_control())
}

fn is_comment_safe(s: &str) -> bool {
    is_header_safe(s) && !s.contains(['(', ')', '\\'])
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn is_atom(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_atext)
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_atom)
}

struct Writer<'o> {
    out: &'o mut BytesMut,
    line_len: usize,
}

impl Writer<'_> {
    fn put(&mut self, s: &str) {
        self.out.put_slice(s.as_bytes());
        self.line_len += s.len();
    }
    /// Folds before `word` when the line would pass 78 characters (RFC 5322 2.1.1).
    fn word(&mut self, word: &str) {
        if self.line_len + 1 + word.len() > 78 {
            self.out.put_slice(b"\r\n\t");
            self.line_len = 1;
        } else {
            self.put(" ");
        }
        self.put(word);
    }
    /// Starts a clause on a new folded line, as most MTAs lay out `by` and `for`.
    fn clause(&mut self, word: &str) {
        self.out.put_slice(b"\r\n\t");
        self.line_len = 1;
        self.put(word);
    }
}

impl ReceivedHeader<'_> {
    /// Appends the header field, folded, ending with CRLF.
    pub fn write(&self, out: &mut BytesMut) {
        let mut w = Writer { out, line_len: 0 };
        w.put("Received:");
        let helo = self.from_helo.filter(|h| is_comment_safe(h));
        if helo.is_some() || self.peer_ip.is_some() {
            w.word("from");
            w.word(helo.unwrap_or("unknown"));
            if let Some(ip) = self.peer_ip {
                let literal = match ip {
                    IpAddr::V4(v4) => alloc::format!("([{v4}])"),
                    IpAddr::V6(v6) => alloc::format!("([IPv6:{v6}])"),
                };
                w.word(&literal);
            }
            w.clause("by");
        } else {
            w.word("by");
        }
        w.word(if is_header_safe(self.by) && !self.by.contains(' ') {
            self.by
        } else {
            "unknown"
        });
        if let Some(software) = self.software.filter(|s| is_comment_safe(s)) {
            w.word(&alloc::format!("({software})"));
        }
        w.word("with");
        w.word(self.with.name());
        if let Some(tls) = self.tls.filter(|s| is_comment_safe(s)) {
            w.word(&alloc::format!("({tls})"));
        }
        match self.id {
            Some(id) if is_atom(id) => {
                w.word("id");
                w.word(id);
            }
            Some(id) if is_dot_atom(id) && is_dot_atom(self.by) => {
                w.word("id");
                w.word(&alloc::format!("<{id}@{}>", self.by));
            }
            _ => {}
        }
        let recipient = self
            .recipient
            .filter(|r| is_header_safe(r) && !r.contains(' '));
        if let Some(recipient) = recipient {
            w.clause("for");
            w.word(recipient);
        }
        w.put(";");
        w.word(&alloc::format!("{}", self.date));
        w.out.put_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use core::net::Ipv6Addr;

    fn header(h: &ReceivedHeader<'_>) -> alloc::string::String {
        let mut out = BytesMut::new();
        h.write(&mut out);
        alloc::string::String::from_utf8(out.to_vec()).unwrap_or_default()
    }

    fn base() -> ReceivedHeader<'static> {
        ReceivedHeader {
            from_helo: Some("client.example"),
            peer_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            by: "mx.example",
            software: None,
            with: WithProtocol::new(Greeting::Ehlo).tls().authenticated(),
            id: Some("1700000000.42_7.mx.example"),
            recipient: None,
            tls: Some("version=TLSv1.3 cipher=TLS13_AES_128_GCM_SHA256"),
            date: Rfc5322Date::from_unix_seconds(1_700_000_000),
        }
    }

    #[test]
    fn dot_atom_id_becomes_msg_id_and_long_lines_fold() {
        assert_eq!(
            header(&base()),
            "Received: from client.example ([IPv6:::1])\r\n\
             \tby mx.example with ESMTPSA (version=TLSv1.3 cipher=TLS13_AES_128_GCM_SHA256)\r\n\
             \tid <1700000000.42_7.mx.example@mx.example>; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        );
    }

    #[test]
    fn injected_line_breaks_are_never_written() {
        let h = ReceivedHeader {
            from_helo: Some("evil\r\nX-Injected: 1"),
            recipient: Some("<a@b>\r\nX-Injected: 2"),
            id: Some("x\r\ny"),
            software: Some("a)b"),
            tls: None,
            ..base()
        };
        let text = header(&h);
        assert!(!text.contains("X-Injected"), "{text}");
        assert!(
            text.starts_with("Received: from unknown ([IPv6:::1])\r\n"),
            "{text}"
        );
        // Only folding CRLFs (followed by a tab) and the final one.
        assert_eq!(
            text.matches("\r\n").count(),
            text.matches("\r\n\t").count() + 1
        );
    }

    #[test]
    fn no_from_clause_without_helo_or_peer() {
        let h = ReceivedHeader {
            from_helo: None,
            peer_ip: None,
            id: None,
            tls: None,
            with: WithProtocol::new(Greeting::Lhlo),
            ..base()
        };
        assert_eq!(
            header(&h),
            "Received: by mx.example with LMTP; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        );
    }

    #[test]
    fn every_registered_with_protocol() {
        let mut names = alloc::vec::Vec::new();
        for greeting in [Greeting::Ehlo, Greeting::Lhlo] {
            for bits in 0..8u8 {
                let mut with = WithProtocol::new(greeting);
                if bits & 1 != 0 {
                    with = with.tls();
                }
                if bits & 2 != 0 {
                    with = with.authenticated();
                }
                if bits & 4 != 0 {
                    with = with.smtputf8();
                }
                names.push(with.name());
            }
        }
        assert_eq!(
            names,
            [
                "ESMTP",
                "ESMTPS",
                "ESMTPA",
                "ESMTPSA",
                "UTF8SMTP",
                "UTF8SMTPS",
                "UTF8SMTPA",
                "UTF8SMTPSA",
                "LMTP",
                "LMTPS",
                "LMTPA",
                "LMTPSA",
                "UTF8LMTP",
                "UTF8LMTPS",
                "UTF8LMTPA",
                "UTF8LMTPSA"
            ]
        );
        // HELO negotiates nothing: plain SMTP whatever else is set.
        assert_eq!(
            WithProtocol::new(Greeting::Helo)
                .tls()
                .authenticated()
                .name(),
            "SMTP"
        );
    }

    #[test]
    fn dates_across_eras() {
        for (secs, text) in [
            (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
            (68_169_600, "Tue, 29 Feb 1972 00:00:00 +0000"),
            (4_107_542_400, "Mon, 1 Mar 2100 00:00:00 +0000"),
            (4_102_444_800, "Fri, 1 Jan 2100 00:00:00 +0000"),
            (1_798_761_599, "Thu, 31 Dec 2026 23:59:59 +0000"),
        ] {
            assert_eq!(
                Rfc5322Date::from_unix_seconds(secs).to_string(),
                text,
                "{secs}"
            );
        }
    }
}
