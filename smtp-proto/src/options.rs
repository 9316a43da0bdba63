//! Parser options: how strict the codec is with what peers send.

/// Which line endings end a command line.
///
/// RFC 5321 2.3.8: a server SHOULD NOT recognise a bare LF as a line end. Accepting it is a
/// leniency for broken clients; it never applies inside DATA (see the smuggling policy of the
/// server session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// Only CRLF ends a line; a bare LF or CR is an error (the default).
    #[default]
    CrLf,
    /// CRLF or a bare LF ends a line.
    CrLfOrLf,
}

/// How strictly `MAIL FROM:` / `RCPT TO:` paths are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PathSyntax {
    /// Exactly RFC 5321 4.1.2 (the default).
    #[default]
    Strict,
    /// Also what Postfix tolerates: spaces after the colon (`MAIL FROM: <a@b>`), a path without
    /// angle brackets (`MAIL FROM:a@b`), `_` in domain labels of HELO/EHLO/LHLO arguments, and
    /// a TAB or several spaces between the verb and its arguments and between ESMTP
    /// parameters. (Trailing SP/TAB at the end of a line is accepted in both modes.)
    Lenient,
}

/// Options for [`crate::Command::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseOptions {
    /// Accepted line endings.
    pub line_ending: LineEnding,
    /// Path leniency.
    pub path_syntax: PathSyntax,
    /// Longest command line in octets including CRLF. RFC 5321 4.5.3.1.4 says 512; RFC 1870
    /// and friends allow more for parameters, so the default is 2048 (Postfix allows 2048 too).
    pub max_line: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            line_ending: LineEnding::CrLf,
            path_syntax: PathSyntax::Strict,
            max_line: 2048,
        }
    }
}
