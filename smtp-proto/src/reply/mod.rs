//! SMTP replies: [`ReplyCode`], [`EnhancedCode`] and multi-line [`Reply`], parsed and written.
//!
//! A reply is one or more lines that share a code (RFC 5321 4.2). Every line but the last
//! has `-` after the code. When the first line's text starts with an enhanced status code
//! (RFC 3463) of the same class, the code is lifted into [`Reply::enhanced`] and stripped from
//! every line that repeats it; the writer puts it back on every line (RFC 2034 section 4).

mod code;
mod enhanced;
mod parse;
mod write;

use alloc::vec::Vec;
use bytes::Bytes;

pub use code::{ReplyClass, ReplyCode};
pub use enhanced::EnhancedCode;
pub use parse::{ReplyLimits, ReplyLine, ReplyParser};

/// The longest text per line that [`Reply::new`] produces, so that a line with its code, an
/// enhanced code and CRLF stays within the 512 octets of RFC 5321 4.5.3.1.5.
pub const MAX_REPLY_TEXT: usize = 512 - 4 - 10 - 2;

/// One SMTP reply: a code, an optional enhanced status code and one or more lines of text.
///
/// ```
/// use bytes::BytesMut;
/// use smtp_proto::{EnhancedCode, Reply, ReplyCode};
/// let r = Reply::new(ReplyCode::OK, Some(EnhancedCode::OK), "queued as 42");
/// let mut out = BytesMut::new();
/// r.write(&mut out);
/// assert_eq!(&out[..], b"250 2.0.0 queued as 42\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    text: Text,
}

/// Lines of text. The single-line form keeps static replies allocation-free.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Reply {
    /// A reply from a constant; `text` must be one line within [`MAX_REPLY_TEXT`] without CR or
    /// LF (checked by tests, not at run time). Costs no allocation.
    pub const fn from_static(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        text: &'static str,
    ) -> Reply {
        Reply {
            code,
            enhanced,
            text: Text::One(Bytes::from_static(text.as_bytes())),
        }
    }

    /// A reply from text of any length: it is split at CR/LF into lines and long lines are
    /// wrapped (at a space when there is one) to fit 512 octets per line.
    pub fn new(code: ReplyCode, enhanced: Option<EnhancedCode>, text: impl Into<Bytes>) -> Reply {
        let text: Bytes = text.into();
        if text.len() <= MAX_REPLY_TEXT && !text.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Reply {
                code,
                enhanced,
                text: Text::One(text),
            };
        }
        Self::multiline(code, enhanced, core::iter::once(text))
    }

    /// A multi-line reply; each item is split and wrapped like [`Reply::new`] does.
    /// An empty iterator gives one empty line.
    pub fn multiline<I, T>(code: ReplyCode, enhanced: Option<EnhancedCode>, lines: I) -> Reply
    where
        I: IntoIterator<Item = T>,
        T: Into<Bytes>,
    {
        let mut out = Vec::new();
        for line in lines {
            let line: Bytes = line.into();
            split_text(&line, &mut out);
        }
        Self::from_lines_unchecked(code, enhanced, out)
    }

    /// Assumes every line is valid (no CR/LF); used by the parser.
    pub(crate) fn from_lines_unchecked(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        mut lines: Vec<Bytes>,
    ) -> Reply {
        let text = match lines.len() {
            0 => Text::One(Bytes::new()),
            1 => Text::One(lines.pop().unwrap_or_default()),
            _ => Text::Many(lines),
        };
        Reply {
            code,
            enhanced,
            text,
        }
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, when the reply carries one.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The same reply with another enhanced code (or none).
    pub fn with_enhanced(mut self, enhanced: Option<EnhancedCode>) -> Reply {
        self.enhanced = enhanced;
        self
    }

    /// The lines of text, without code, separator or enhanced code.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &Bytes> + '_ {
        match &self.text {
            Text::One(b) => core::slice::from_ref(b).iter(),
            Text::Many(v) => v.iter(),
        }
    }

    /// The first line of text.
    pub fn first_line(&self) -> &Bytes {
        match &self.text {
            Text::One(b) => b,
            Text::Many(v) => &v[0],
        }
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        match &self.text {
            Text::One(_) => 1,
            Text::Many(v) => v.len(),
        }
    }

    /// `2yz`.
    pub fn is_positive(&self) -> bool {
        self.code.is_positive_completion()
    }
    /// `4yz`.
    pub fn is_transient(&self) -> bool {
        self.code.is_transient()
    }
    /// `5yz`.
    pub fn is_permanent(&self) -> bool {
        self.code.is_permanent()
    }
}

/// Splits at CR/LF and wraps long lines at [`MAX_REPLY_TEXT`].
fn split_text(text: &Bytes, out: &mut Vec<Bytes>) {
    let mut rest = &text[..];
    loop {
        let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        let mut line = &rest[..end];
        while line.len() > MAX_REPLY_TEXT {
            // Prefer breaking after the last space within the limit.
            let cut = line[..MAX_REPLY_TEXT]
                .iter()
                .rposition(|&b| b == b' ')
                .filter(|&p| p > 0)
                .unwrap_or(MAX_REPLY_TEXT);
            out.push(text.slice_ref(&line[..cut]));
            line = &line[cut..];
            if line.first() == Some(&b' ') {
                line = &line[1..];
            }
        }
        out.push(text.slice_ref(line));
        if end == rest.len() {
            break;
        }
        // Skip CRLF, CR or LF as one break.
        let mut next = end + 1;
        if rest[end] == b'\r' && rest.get(next) == Some(&b'\n') {
            next += 1;
        }
        rest = &rest[next..];
        if rest.is_empty() {
            break;
        }
    }
}

/// Standard replies, as constants (no allocation). Their enhanced codes are stripped by the
/// server session when ENHANCEDSTATUSCODES is not in effect.
pub mod standard {
    use super::{EnhancedCode as E, Reply, ReplyCode as C};

    /// `250 2.0.0 OK`
    pub const OK: Reply = Reply::from_static(C::OK, Some(E::OK), "OK");
    /// `250 2.1.0 Sender OK`
    pub const SENDER_OK: Reply = Reply::from_static(C::OK, Some(E::SENDER_OK), "Sender OK");
    /// `250 2.1.5 Recipient OK`
    pub const RECIPIENT_OK: Reply =
        Reply::from_static(C::OK, Some(E::DESTINATION_OK), "Recipient OK");
    /// `354 End data with <CR><LF>.<CR><LF>`
    pub const START_DATA: Reply =
        Reply::from_static(C::START_MAIL_INPUT, None, "End data with <CR><LF>.<CR><LF>");
    /// `250 2.0.0 Message accepted`
    pub const MESSAGE_ACCEPTED: Reply =
        Reply::from_static(C::OK, Some(E::OK), "Message accepted for delivery");
    /// `221 2.0.0 Bye`
    pub const BYE: Reply = Reply::from_static(C::CLOSING, Some(E::OK), "Bye");
    /// `252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery`
    pub const CANNOT_VRFY: Reply = Reply::from_static(
        C::CANNOT_VRFY,
        Some(E::OK),
        "Cannot VRFY user, but will accept message and attempt delivery",
    );
    /// `220 2.0.0 Ready to start TLS`
    pub const READY_TO_START_TLS: Reply =
        Reply::from_static(C::SERVICE_READY, Some(E::OK), "Ready to start TLS");
    /// `235 2.7.0 Authentication successful`
    pub const AUTH_SUCCEEDED: Reply = Reply::from_static(
        C::AUTH_SUCCEEDED,
        Some(E::SECURITY_OK),
        "Authentication successful",
    );
    /// `535 5.7.8 Authentication credentials invalid`
    pub const AUTH_INVALID: Reply = Reply::from_static(
        C::AUTH_INVALID,
        Some(E::AUTH_INVALID),
        "Authentication credentials invalid",
    );
    /// `538 5.7.11 Encryption required for requested authentication mechanism`
    pub const ENCRYPTION_REQUIRED: Reply = Reply::from_static(
        C::ENCRYPTION_REQUIRED,
        Some(E::ENCRYPTION_REQUIRED),
        "Encryption required for requested authentication mechanism",
    );
    /// `530 5.7.0 Authentication required`
    pub const AUTH_REQUIRED: Reply = Reply::from_static(
        C::AUTH_REQUIRED,
        Some(E::SECURITY_ERROR),
        "Authentication required",
    );
    /// `501 5.7.0 Authentication cancelled`
    pub const AUTH_CANCELLED: Reply = Reply::from_static(
        C::ARGUMENT_SYNTAX_ERROR,
        Some(E::SECURITY_ERROR),
        "Authentication cancelled",
    );
    /// `500 5.5.2 Command not recognized`
    pub const UNKNOWN_COMMAND: Reply = Reply::from_static(
        C::SYNTAX_ERROR,
        Some(E::SYNTAX_ERROR),
        "Command not recognized",
    );
    /// `500 5.5.6 Line too long`
    pub const LINE_TOO_LONG: Reply =
        Reply::from_static(C::SYNTAX_ERROR, Some(E::LINE_TOO_LONG), "Line too long");
    /// `501 5.5.4 Syntax error in parameters or arguments`
    pub const ARGUMENT_SYNTAX: Reply = Reply::from_static(
        C::ARGUMENT_SYNTAX_ERROR,
        Some(E::INVALID_ARGUMENTS),
        "Syntax error in parameters or arguments",
    );
    /// `502 5.5.1 Command not implemented`
    pub const NOT_IMPLEMENTED: Reply = Reply::from_static(
        C::NOT_IMPLEMENTED,
        Some(E::INVALID_COMMAND),
        "Command not implemented",
    );
    /// `503 5.5.1 Bad sequence of commands`
    pub const BAD_SEQUENCE: Reply = Reply::from_static(
        C::BAD_SEQUENCE,
        Some(E::INVALID_COMMAND),
        "Bad sequence of commands",
    );
    /// `552 5.3.4 Message size exceeds fixed maximum message size`
    pub const MESSAGE_TOO_BIG: Reply = Reply::from_static(
        C::EXCEEDED_STORAGE,
        Some(E::MESSAGE_TOO_BIG),
        "Message size exceeds fixed maximum message size",
    );
    /// `452 4.5.3 Too many recipients`
    pub const TOO_MANY_RECIPIENTS: Reply = Reply::from_static(
        C::INSUFFICIENT_STORAGE,
        Some(E::TOO_MANY_RECIPIENTS),
        "Too many recipients",
    );
    /// `554 5.5.1 No valid recipients`
    pub const NO_VALID_RECIPIENTS: Reply = Reply::from_static(
        C::TRANSACTION_FAILED,
        Some(E::INVALID_COMMAND),
        "No valid recipients",
    );
    /// `555 5.5.4 Unsupported parameter`
    pub const UNKNOWN_PARAMETER: Reply = Reply::from_static(
        C::PARAMETERS_NOT_RECOGNIZED,
        Some(E::INVALID_ARGUMENTS),
        "Unsupported parameter",
    );
    /// `553 5.6.7 SMTPUTF8 is required for a non-ASCII address`
    pub const UTF8_NEEDS_SMTPUTF8: Reply = Reply::from_static(
        C::MAILBOX_NAME_NOT_ALLOWED,
        Some(E::NON_ASCII_ADDRESS),
        "SMTPUTF8 is required for a non-ASCII address",
    );
    /// `421 4.4.2 Timeout, closing connection`
    pub const TIMEOUT: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::BAD_CONNECTION),
        "Timeout, closing connection",
    );
    /// `421 4.7.0 Too many errors, closing connection`
    pub const TOO_MANY_ERRORS: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::TEMP_SECURITY),
        "Too many errors, closing connection",
    );
    /// `421 4.3.2 Service shutting down`
    pub const SHUTTING_DOWN: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::NOT_ACCEPTING),
        "Service shutting down, closing connection",
    );
    /// `421 4.3.2 Too many connections`
    pub const TOO_MANY_CONNECTIONS: Reply = Reply::from_static(
        C::SERVICE_NOT_AVAILABLE,
        Some(E::NOT_ACCEPTING),
        "Too many connections, try again later",
    );
}

#[cfg(test)]
mod tests;
