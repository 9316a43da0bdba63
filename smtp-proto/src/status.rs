//! The result of an incremental parse, in the style of `httparse::Status`.

/// Outcome of parsing a buffer that may hold only part of a unit (a command line, a reply).
///
/// `Incomplete` is a value, never an error: feed more bytes and parse again.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole unit was parsed; the value usually carries how many input bytes it used.
    Complete(T),
    /// The buffer ends before the unit does.
    Incomplete,
}

impl<T> Status<T> {
    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Incomplete => None,
        }
    }

    /// `true` when more input is needed.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Status::Incomplete)
    }

    /// Maps the complete value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::Complete(t) => Status::Complete(f(t)),
            Status::Incomplete => Status::Incomplete,
        }
    }
}
