//! ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 `Mail-parameters` / `Rcpt-parameters`).

use alloc::vec::Vec;
use bytes::Bytes;

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `7BIT`
    SevenBit,
    /// `8BITMIME`
    EightBitMime,
    /// `BINARYMIME` (requires BDAT)
    BinaryMime,
}

/// `RET=` (RFC 3461 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsnReturn {
    /// `FULL`
    Full,
    /// `HDRS`
    Headers,
}

/// `NOTIFY=` (RFC 3461 4.1): `NEVER`, or any of `SUCCESS`, `FAILURE`, `DELAY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NEVER`
    Never,
    /// Some of SUCCESS / FAILURE / DELAY.
    On {
        /// `SUCCESS`
        success: bool,
        /// `FAILURE`
        failure: bool,
        /// `DELAY`
        delay: bool,
    },
}

/// `ORCPT=addr-type;xtext` (RFC 3461 4.2), value decoded from xtext.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt {
    /// Address type, e.g. `rfc822` or `utf-8`.
    pub addr_type: Bytes,
    /// The original recipient, xtext-decoded.
    pub address: Bytes,
}

/// `HOLDFOR=` / `HOLDUNTIL=` (RFC 4865 FUTURERELEASE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FutureRelease {
    /// `HOLDFOR=seconds`
    For(u64),
    /// `HOLDUNTIL=date-time` (RFC 3339), kept as text.
    Until(Bytes),
}

/// The mode of `BY=` (RFC 2852).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByMode {
    /// `N`: notify if the deadline passes.
    Notify,
    /// `R`: return the message if the deadline passes.
    Return,
}

/// `BY=time;mode[T]` (RFC 2852 DELIVERBY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    /// Seconds (may be negative with mode N).
    pub time: i64,
    /// The mode.
    pub mode: ByMode,
    /// `T`: trace requested.
    pub trace: bool,
}

/// The action of `RRVS=` (RFC 7293).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RrvsAction {
    /// `C`: continue.
    Continue,
    /// `R`: reject.
    Reject,
}

/// `RRVS=date-time[;C|R]` (RFC 7293).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rrvs {
    /// The date-time, kept as text.
    pub time: Bytes,
    /// The action, if given.
    pub action: Option<RrvsAction>,
}

/// `MTRK=certifier[:timeout]` (RFC 3885).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mtrk {
    /// The certifier (base64 text).
    pub certifier: Bytes,
    /// The timeout in seconds.
    pub timeout: Option<u64>,
}

/// An ESMTP parameter this crate does not know, kept for a 555 reply or for forwarding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownParam {
    /// The keyword as sent.
    pub keyword: Bytes,
    /// The value after `=`, if any.
    pub value: Option<Bytes>,
}

/// Parameters of `MAIL FROM`. Absent parameters are `None`/`false`; the common case allocates
/// nothing (an empty `Vec` does not allocate).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MailParams {
    /// `SIZE=` (RFC 1870); a value beyond `u64` saturates to `u64::MAX`.
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<DsnReturn>,
    /// `ENVID=` (RFC 3461), xtext-decoded.
    pub envid: Option<Bytes>,
    /// `AUTH=` (RFC 4954 5), xtext-decoded; `<>` is kept as `<>`.
    pub auth: Option<Bytes>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `MT-PRIORITY=` (RFC 6710), -9..=9.
    pub mt_priority: Option<i8>,
    /// `HOLDFOR=` / `HOLDUNTIL=` (RFC 4865).
    pub future_release: Option<FutureRelease>,
    /// `BY=` (RFC 2852).
    pub by: Option<DeliverBy>,
    /// `MTRK=` (RFC 3885).
    pub mtrk: Option<Mtrk>,
    /// `SOLICIT=` (RFC 3865), the keyword list as text.
    pub solicit: Option<Bytes>,
    /// `CONPERM` (RFC 4141).
    pub conperm: bool,
    /// Parameters this crate does not know.
    pub unknown: Vec<UnknownParam>,
}

/// Parameters of `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt>,
    /// `RRVS=` (RFC 7293).
    pub rrvs: Option<Rrvs>,
    /// `CONNEG` (RFC 4141).
    pub conneg: bool,
    /// Parameters this crate does not know.
    pub unknown: Vec<UnknownParam>,
}
