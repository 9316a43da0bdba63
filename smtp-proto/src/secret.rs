//! A wrapper for credentials whose `Debug` never prints the secret.

use core::fmt;

/// A value that must not appear in logs: passwords, SASL responses, tokens.
///
/// `Debug` prints `Secret(..)`; use [`Secret::expose`] to read the value on purpose.
///
/// ```
/// use smtp_proto::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(..)");
/// assert_eq!(*s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub const fn new(value: T) -> Self {
        Secret(value)
    }

    /// Gives access to the secret. Call sites are easy to audit by grepping for `expose`.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}
