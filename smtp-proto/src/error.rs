//! Errors of the codec layer. Each parse error knows the reply it deserves.

use crate::reply::{standard, EnhancedCode, Reply, ReplyCode};

/// Which path a mailbox error is about: it picks the enhanced code (X.1.7 vs X.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathRole {
    /// The reverse-path of MAIL.
    Sender,
    /// A forward-path of RCPT.
    Recipient,
}

/// Why a command line could not be parsed. `Incomplete` is not an error: see [`crate::Status`].
///
/// ```
/// use smtp_proto::ParseError;
/// assert_eq!(ParseError::LineTooLong.reply().code().as_u16(), 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is longer than the limit (RFC 5321 4.5.3.1.4): 500 5.5.6.
    #[error("line too long")]
    LineTooLong,
    /// A line ended in a bare LF or held a bare CR while only CRLF is accepted: 500 5.5.2.
    #[error("bare CR or LF in command line")]
    BareLineEnding,
    /// The command itself is malformed (verb, missing space, NUL byte): 500 5.5.2.
    #[error("syntax error")]
    Syntax,
    /// The arguments of a known verb are malformed: 501 5.5.4.
    #[error("syntax error in parameters or arguments")]
    ArgumentSyntax,
    /// An ESMTP parameter is malformed or repeated: 501 5.5.4.
    #[error("invalid ESMTP parameter")]
    InvalidParameter,
    /// The path is not a valid mailbox: 553 5.1.7 (sender) or 5.1.3 (recipient).
    #[error("invalid mailbox syntax")]
    BadMailbox(PathRole),
    /// Local part over 64 octets (RFC 5321 4.5.3.1.1): 553 5.1.7 / 5.1.3.
    #[error("local part too long")]
    LocalPartTooLong(PathRole),
    /// Domain over 255 octets (RFC 5321 4.5.3.1.2): 553 5.1.7 / 5.1.3.
    #[error("domain too long")]
    DomainTooLong(PathRole),
    /// Path over 256 octets (RFC 5321 4.5.3.1.3): 501 5.5.4 "Path too long".
    #[error("path too long")]
    PathTooLong,
}

impl ParseError {
    /// The reply a server sends for this error.
    pub fn reply(&self) -> Reply {
        use EnhancedCode as E;
        use ReplyCode as C;
        let mailbox = |role: &PathRole| match role {
            PathRole::Sender => E::BAD_SENDER_SYNTAX,
            PathRole::Recipient => E::BAD_DESTINATION_SYNTAX,
        };
        match self {
            ParseError::LineTooLong => standard::LINE_TOO_LONG,
            ParseError::BareLineEnding => Reply::from_static(
                C::SYNTAX_ERROR,
                Some(E::SYNTAX_ERROR),
                "Bare CR or LF not allowed in commands",
            ),
            ParseError::Syntax => standard::UNKNOWN_COMMAND,
            ParseError::ArgumentSyntax => standard::ARGUMENT_SYNTAX,
            ParseError::InvalidParameter => Reply::from_static(
                C::ARGUMENT_SYNTAX_ERROR,
                Some(E::INVALID_ARGUMENTS),
                "Invalid parameter",
            ),
            ParseError::BadMailbox(role) => Reply::from_static(
                C::MAILBOX_NAME_NOT_ALLOWED,
                Some(mailbox(role)),
                "Invalid mailbox syntax",
            ),
            ParseError::LocalPartTooLong(role) => Reply::from_static(
                C::MAILBOX_NAME_NOT_ALLOWED,
                Some(mailbox(role)),
                "Local part too long",
            ),
            ParseError::DomainTooLong(role) => Reply::from_static(
                C::MAILBOX_NAME_NOT_ALLOWED,
                Some(mailbox(role)),
                "Domain too long",
            ),
            ParseError::PathTooLong => Reply::from_static(
                C::ARGUMENT_SYNTAX_ERROR,
                Some(E::INVALID_ARGUMENTS),
                "Path too long",
            ),
        }
    }
}

/// Why a reply from a server could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Not `code [SP/- text]` with a valid code.
    #[error("malformed reply line")]
    Syntax,
    /// The lines of one multi-line reply carry different codes.
    #[error("reply lines carry different codes")]
    MixedCodes,
    /// A reply line is longer than the limit.
    #[error("reply line too long")]
    LineTooLong,
    /// A multi-line reply has more lines than the limit.
    #[error("too many reply lines")]
    TooManyLines,
}
