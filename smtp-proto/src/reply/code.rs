//! Three-digit reply codes (RFC 5321 section 4.2).

use core::fmt;

/// The first digit of a reply code (RFC 5321 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyClass {
    /// `2yz`: the requested action has been completed.
    PositiveCompletion,
    /// `3yz`: accepted, waiting for more information (354, 334).
    PositiveIntermediate,
    /// `4yz`: temporary failure; the same request may succeed later.
    TransientNegative,
    /// `5yz`: permanent failure; do not repeat the same request.
    PermanentNegative,
}

/// A validated SMTP reply code: `%x32-35 %x30-35 %x30-39` (RFC 5321 4.2).
///
/// ```
/// use smtp_proto::{ReplyClass, ReplyCode};
/// let c = ReplyCode::new(550).unwrap();
/// assert_eq!(c.class(), ReplyClass::PermanentNegative);
/// assert_eq!((c.subject(), c.detail()), (5, 0));
/// assert!(ReplyCode::new(199).is_none());
/// assert!(ReplyCode::new(260).is_none()); // second digit above 5
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// Validates a code: first digit 2..=5, second 0..=5, third 0..=9.
    pub const fn new(code: u16) -> Option<ReplyCode> {
        let (a, b) = (code / 100, (code / 10) % 10);
        if a >= 2 && a <= 5 && b <= 5 && code < 600 {
            Some(ReplyCode(code))
        } else {
            None
        }
    }

    /// Builds a code from a constant; fails at compile time when used in a `const` with a bad code.
    const fn known(code: u16) -> ReplyCode {
        match ReplyCode::new(code) {
            Some(c) => c,
            None => panic!("invalid reply code constant"),
        }
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The class (first digit).
    pub const fn class(self) -> ReplyClass {
        match self.0 / 100 {
            2 => ReplyClass::PositiveCompletion,
            3 => ReplyClass::PositiveIntermediate,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// The second digit (0 syntax, 1 information, 2 connections, 5 mail system).
    pub const fn subject(self) -> u8 {
        ((self.0 / 10) % 10) as u8
    }

    /// The third digit.
    pub const fn detail(self) -> u8 {
        (self.0 % 10) as u8
    }

    /// `2yz`.
    pub const fn is_positive_completion(self) -> bool {
        self.0 / 100 == 2
    }
    /// `3yz`.
    pub const fn is_positive_intermediate(self) -> bool {
        self.0 / 100 == 3
    }
    /// `4yz`.
    pub const fn is_transient(self) -> bool {
        self.0 / 100 == 4
    }
    /// `5yz`.
    pub const fn is_permanent(self) -> bool {
        self.0 / 100 == 5
    }

    /// The three ASCII digits.
    pub const fn digits(self) -> [u8; 3] {
        [
            b'0' + (self.0 / 100) as u8,
            b'0' + ((self.0 / 10) % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ]
    }

    /// 211 System status.
    pub const SYSTEM_STATUS: ReplyCode = ReplyCode::known(211);
    /// 214 Help message.
    pub const HELP: ReplyCode = ReplyCode::known(214);
    /// 220 Service ready.
    pub const SERVICE_READY: ReplyCode = ReplyCode::known(220);
    /// 221 Service closing transmission channel.
    pub const CLOSING: ReplyCode = ReplyCode::known(221);
    /// 235 Authentication succeeded (RFC 4954).
    pub const AUTH_SUCCEEDED: ReplyCode = ReplyCode::known(235);
    /// 250 Requested mail action okay, completed.
    pub const OK: ReplyCode = ReplyCode::known(250);
    /// 251 User not local; will forward.
    pub const USER_NOT_LOCAL_WILL_FORWARD: ReplyCode = ReplyCode::known(251);
    /// 252 Cannot VRFY user, but will accept message and attempt delivery.
    pub const CANNOT_VRFY: ReplyCode = ReplyCode::known(252);
    /// 334 Server challenge (RFC 4954).
    pub const AUTH_CHALLENGE: ReplyCode = ReplyCode::known(334);
    /// 354 Start mail input.
    pub const START_MAIL_INPUT: ReplyCode = ReplyCode::known(354);
    /// 421 Service not available, closing transmission channel.
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode::known(421);
    /// 432 A password transition is needed (RFC 4954).
    pub const PASSWORD_TRANSITION_NEEDED: ReplyCode = ReplyCode::known(432);
    /// 450 Mailbox unavailable (busy, temporarily blocked).
    pub const MAILBOX_BUSY: ReplyCode = ReplyCode::known(450);
    /// 451 Local error in processing.
    pub const LOCAL_ERROR: ReplyCode = ReplyCode::known(451);
    /// 452 Insufficient system storage; also "too many recipients" (RFC 5321 4.5.3.1.10).
    pub const INSUFFICIENT_STORAGE: ReplyCode = ReplyCode::known(452);
    /// 454 TLS not available / temporary authentication failure.
    pub const TEMPORARY_FAILURE: ReplyCode = ReplyCode::known(454);
    /// 455 Server unable to accommodate parameters.
    pub const PARAMETERS_NOT_ACCOMMODATED: ReplyCode = ReplyCode::known(455);
    /// 500 Syntax error, command unrecognized (also: line too long).
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode::known(500);
    /// 501 Syntax error in parameters or arguments.
    pub const ARGUMENT_SYNTAX_ERROR: ReplyCode = ReplyCode::known(501);
    /// 502 Command not implemented.
    pub const NOT_IMPLEMENTED: ReplyCode = ReplyCode::known(502);
    /// 503 Bad sequence of commands.
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode::known(503);
    /// 504 Command parameter not implemented.
    pub const PARAMETER_NOT_IMPLEMENTED: ReplyCode = ReplyCode::known(504);
    /// 521 Host does not accept mail (RFC 7504).
    pub const DOES_NOT_ACCEPT_MAIL: ReplyCode = ReplyCode::known(521);
    /// 530 Authentication required (RFC 4954).
    pub const AUTH_REQUIRED: ReplyCode = ReplyCode::known(530);
    /// 534 Authentication mechanism is too weak (RFC 4954).
    pub const AUTH_TOO_WEAK: ReplyCode = ReplyCode::known(534);
    /// 535 Authentication credentials invalid (RFC 4954).
    pub const AUTH_INVALID: ReplyCode = ReplyCode::known(535);
    /// 538 Encryption required for requested authentication mechanism (RFC 4954).
    pub const ENCRYPTION_REQUIRED: ReplyCode = ReplyCode::known(538);
    /// 550 Mailbox unavailable / policy rejection.
    pub const MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode::known(550);
    /// 551 User not local.
    pub const USER_NOT_LOCAL: ReplyCode = ReplyCode::known(551);
    /// 552 Exceeded storage allocation (too much mail data).
    pub const EXCEEDED_STORAGE: ReplyCode = ReplyCode::known(552);
    /// 553 Mailbox name not allowed.
    pub const MAILBOX_NAME_NOT_ALLOWED: ReplyCode = ReplyCode::known(553);
    /// 554 Transaction failed (or, as a greeting, no SMTP service here).
    pub const TRANSACTION_FAILED: ReplyCode = ReplyCode::known(554);
    /// 555 MAIL FROM/RCPT TO parameters not recognized or not implemented.
    pub const PARAMETERS_NOT_RECOGNIZED: ReplyCode = ReplyCode::known(555);
    /// 556 Domain does not accept mail (RFC 7504).
    pub const DOMAIN_DOES_NOT_ACCEPT_MAIL: ReplyCode = ReplyCode::known(556);
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
