//! Framing below the sessions: finding where lines and bodies begin and end.

pub(crate) mod stuff;
