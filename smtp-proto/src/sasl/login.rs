//! LOGIN (draft-murchison-sasl-login-00): the server asks for the user name, then the password,
//! each in a `334` challenge; the client answers each with the bare value.
//!
//! The draft says challenges are `User Name` and `Password`, and that servers MAY send
//! `Username:` and `Password:` for a widely deployed client (2.2); everyone does, so those are
//! the constants here. A client ignores the challenge text (2.1), as [`LoginClient`] does.

use bytes::Bytes;

use super::SaslError;
use crate::Secret;

/// The first challenge, decoded.
pub const USERNAME_CHALLENGE: &[u8] = b"Username:";
/// The second challenge, decoded.
pub const PASSWORD_CHALLENGE: &[u8] = b"Password:";
/// [`USERNAME_CHALLENGE`] in base64, as in `334 VXNlcm5hbWU6`.
pub const USERNAME_CHALLENGE_BASE64: &[u8] = b"VXNlcm5hbWU6";
/// [`PASSWORD_CHALLENGE`] in base64, as in `334 UGFzc3dvcmQ6`.
pub const PASSWORD_CHALLENGE_BASE64: &[u8] = b"UGFzc3dvcmQ6";

/// Where a LOGIN client is in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Username,
    Password,
    Done,
}

/// The client side of LOGIN: answers the first challenge with the user name and the second
/// with the password, whatever the challenges say (draft 2.1).
///
/// ```
/// use smtp_proto::sasl::{login, LoginClient};
/// let mut c = LoginClient::new("tim", "tanstaaftanstaaf");
/// assert_eq!(&c.step(login::USERNAME_CHALLENGE)?.expose()[..], b"tim");
/// assert_eq!(&c.step(b"Password")?.expose()[..], b"tanstaaftanstaaf");
/// assert!(c.step(b"?").is_err());
/// # Ok::<(), smtp_proto::sasl::SaslError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoginClient {
    username: Bytes,
    password: Secret<Bytes>,
    step: Step,
}

impl LoginClient {
    /// A client for this user.
    pub fn new(username: impl Into<Bytes>, password: impl Into<Bytes>) -> LoginClient {
        LoginClient {
            username: username.into(),
            password: Secret::new(password.into()),
            step: Step::Username,
        }
    }

    /// The user name as initial response (`AUTH LOGIN dXNlcg==`, as Python's smtplib sends);
    /// the next [`LoginClient::step`] then answers with the password.
    pub fn initial_response(&mut self) -> Result<Secret<Bytes>, SaslError> {
        self.step(USERNAME_CHALLENGE)
    }

    /// Answers one decoded challenge. A third call is [`SaslError::OutOfOrder`].
    pub fn step(&mut self, _challenge: &[u8]) -> Result<Secret<Bytes>, SaslError> {
        match self.step {
            Step::Username => {
                self.step = Step::Password;
                Ok(Secret::new(self.username.clone()))
            }
            Step::Password => {
                self.step = Step::Done;
                Ok(self.password.clone())
            }
            Step::Done => Err(SaslError::OutOfOrder),
        }
    }

    /// `true` once the password has been sent.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }
}
