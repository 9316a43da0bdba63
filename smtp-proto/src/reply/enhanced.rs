//! Enhanced mail system status codes (RFC 3463, advertised per RFC 2034).

use core::fmt;

/// `class.subject.detail`, for example `5.1.1` (RFC 3463 section 2).
///
/// ```
/// use smtp_proto::EnhancedCode;
/// let c = EnhancedCode::parse(b"5.7.11").unwrap();
/// assert_eq!((c.class(), c.subject(), c.detail()), (5, 7, 11));
/// assert_eq!(c.to_string(), "5.7.11");
/// assert!(EnhancedCode::parse(b"3.0.0").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    /// Builds a code; `class` must be 2, 4 or 5 and the others at most 999.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<EnhancedCode> {
        if (class == 2 || class == 4 || class == 5) && subject <= 999 && detail <= 999 {
            Some(EnhancedCode {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    /// Used for the constants below; a bad constant fails the build.
    pub(crate) const fn known(class: u8, subject: u16, detail: u16) -> EnhancedCode {
        match EnhancedCode::new(class, subject, detail) {
            Some(c) => c,
            None => panic!("invalid enhanced code constant"),
        }
    }

    /// The class: 2 success, 4 persistent transient failure, 5 permanent failure.
    pub const fn class(self) -> u8 {
        self.class
    }
    /// The subject (0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network, 5 protocol,
    /// 6 content, 7 security).
    pub const fn subject(self) -> u16 {
        self.subject
    }
    /// The detail.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// The same code with another class, e.g. to turn `5.3.4` into `4.3.4`.
    pub const fn with_class(self, class: u8) -> Option<EnhancedCode> {
        EnhancedCode::new(class, self.subject, self.detail)
    }

    /// Parses exactly `class "." subject "." detail` with 1 to 3 digits each.
    pub fn parse(s: &[u8]) -> Option<EnhancedCode> {
        let (code, used) = Self::parse_prefix(s)?;
        (used == s.len()).then_some(code)
    }

    /// Parses a code at the start of `s`, returning it and the number of bytes used.
    /// The code must be followed by the end of `s` or a space.
    pub(crate) fn parse_prefix(s: &[u8]) -> Option<(EnhancedCode, usize)> {
        let class = match s.first()? {
            b'2' => 2,
            b'4' => 4,
            b'5' => 5,
            _ => return None,
        };
        if s.get(1) != Some(&b'.') {
            return None;
        }
        let (subject, n1) = digits3(&s[2..])?;
        let at = 2 + n1;
        if s.get(at) != Some(&b'.') {
            return None;
        }
        let (detail, n2) = digits3(&s[at + 1..])?;
        let end = at + 1 + n2;
        match s.get(end) {
            None | Some(b' ') => Some((EnhancedCode::new(class, subject, detail)?, end)),
            _ => None,
        }
    }

    /// Writes `c.s.d` into `out`, returning the number of bytes (at most 9).
    pub(crate) fn write_to(self, out: &mut [u8; 9]) -> usize {
        let mut n = 0;
        out[n] = b'0' + self.class;
        n += 1;
        out[n] = b'.';
        n += 1;
        n += write_num(self.subject, &mut out[n..]);
        out[n] = b'.';
        n += 1;
        n += write_num(self.detail, &mut out[n..]);
        n
    }

    /// 2.0.0 Other/undefined status (success).
    pub const OK: EnhancedCode = EnhancedCode::known(2, 0, 0);
    /// 2.1.0 Other address status (sender ok).
    pub const SENDER_OK: EnhancedCode = EnhancedCode::known(2, 1, 0);
    /// 2.1.5 Destination address valid.
    pub const DESTINATION_OK: EnhancedCode = EnhancedCode::known(2, 1, 5);
    /// 2.7.0 Other or undefined security status (authentication succeeded).
    pub const SECURITY_OK: EnhancedCode = EnhancedCode::known(2, 7, 0);
    /// 4.3.0 Other or undefined mail system status.
    pub const TEMP_SYSTEM: EnhancedCode = EnhancedCode::known(4, 3, 0);
    /// 4.3.2 System not accepting network messages.
    pub const NOT_ACCEPTING: EnhancedCode = EnhancedCode::known(4, 3, 2);
    /// 4.4.2 Bad connection (timeout).
    pub const BAD_CONNECTION: EnhancedCode = EnhancedCode::known(4, 4, 2);
    /// 4.5.3 Too many recipients.
    pub const TOO_MANY_RECIPIENTS: EnhancedCode = EnhancedCode::known(4, 5, 3);
    /// 4.7.0 Other or undefined security status (temporary).
    pub const TEMP_SECURITY: EnhancedCode = EnhancedCode::known(4, 7, 0);
    /// 5.1.1 Bad destination mailbox address.
    pub const BAD_DESTINATION_MAILBOX: EnhancedCode = EnhancedCode::known(5, 1, 1);
    /// 5.1.3 Bad destination mailbox address syntax.
    pub const BAD_DESTINATION_SYNTAX: EnhancedCode = EnhancedCode::known(5, 1, 3);
    /// 5.1.7 Bad sender's mailbox address syntax.
    pub const BAD_SENDER_SYNTAX: EnhancedCode = EnhancedCode::known(5, 1, 7);
    /// 5.3.4 Message too big for system.
    pub const MESSAGE_TOO_BIG: EnhancedCode = EnhancedCode::known(5, 3, 4);
    /// 5.5.0 Other or undefined protocol status.
    pub const PROTOCOL_ERROR: EnhancedCode = EnhancedCode::known(5, 5, 0);
    /// 5.5.1 Invalid command (bad sequence).
    pub const INVALID_COMMAND: EnhancedCode = EnhancedCode::known(5, 5, 1);
    /// 5.5.2 Syntax error.
    pub const SYNTAX_ERROR: EnhancedCode = EnhancedCode::known(5, 5, 2);
    /// 5.5.3 Too many recipients (permanent).
    pub const TOO_MANY_RECIPIENTS_PERM: EnhancedCode = EnhancedCode::known(5, 5, 3);
    /// 5.5.4 Invalid command arguments.
    pub const INVALID_ARGUMENTS: EnhancedCode = EnhancedCode::known(5, 5, 4);
    /// 5.5.6 Authentication exchange line is too long / line too long.
    pub const LINE_TOO_LONG: EnhancedCode = EnhancedCode::known(5, 5, 6);
    /// 5.6.0 Other or undefined media error (bad content).
    pub const BAD_CONTENT: EnhancedCode = EnhancedCode::known(5, 6, 0);
    /// 5.6.7 Non-ASCII addresses not permitted for that sender/recipient (RFC 6531).
    pub const NON_ASCII_ADDRESS: EnhancedCode = EnhancedCode::known(5, 6, 7);
    /// 5.7.0 Other or undefined security status.
    pub const SECURITY_ERROR: EnhancedCode = EnhancedCode::known(5, 7, 0);
    /// 5.7.8 Authentication credentials invalid (RFC 4954).
    pub const AUTH_INVALID: EnhancedCode = EnhancedCode::known(5, 7, 8);
    /// 5.7.9 Authentication mechanism is too weak (RFC 4954).
    pub const AUTH_TOO_WEAK: EnhancedCode = EnhancedCode::known(5, 7, 9);
    /// 5.7.10 Encryption needed / REQUIRETLS needed (RFC 8689).
    pub const ENCRYPTION_NEEDED: EnhancedCode = EnhancedCode::known(5, 7, 10);
    /// 5.7.11 Encryption required for requested authentication mechanism (RFC 4954).
    pub const ENCRYPTION_REQUIRED: EnhancedCode = EnhancedCode::known(5, 7, 11);
}

fn digits3(s: &[u8]) -> Option<(u16, usize)> {
    let n = s.iter().take(4).take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 3 {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Some((v, n))
}

fn write_num(v: u16, out: &mut [u8]) -> usize {
    if v >= 100 {
        out[0] = b'0' + (v / 100) as u8;
        out[1] = b'0' + ((v / 10) % 10) as u8;
        out[2] = b'0' + (v % 10) as u8;
        3
    } else if v >= 10 {
        out[0] = b'0' + (v / 10) as u8;
        out[1] = b'0' + (v % 10) as u8;
        2
    } else {
        out[0] = b'0' + v as u8;
        1
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}
