//! ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 `Mail-parameters` / `Rcpt-parameters`).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::ParseError;
use crate::options::{ParseOptions, PathSyntax};
use crate::text::Text;
use crate::xtext;

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

/// `ORCPT=addr-type;xtext` (RFC 3461 4.2), held as sent in one piece (in place when short,
/// see [`Domain`](crate::Domain) for why) and decoded on demand.
///
/// Two values are equal when they are written alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt {
    /// `addr-type ";" xtext` as sent.
    text: Text<{ Orcpt::INLINE }>,
    /// Offset of the `;`.
    semi: usize,
}

impl Orcpt {
    /// The longest value held in place rather than as a slice of the input.
    pub const INLINE: usize = 46;

    /// Builds the parameter from an address type (an atom, e.g. `rfc822`) and the original
    /// recipient, which is xtext-encoded here.
    ///
    /// ```
    /// use smtp_proto::command::Orcpt;
    /// let o = Orcpt::new(b"rfc822", b"a+b@example.org").unwrap();
    /// assert_eq!(o.address_xtext(), b"a+2Bb@example.org");
    /// assert_eq!(&o.address()[..], b"a+b@example.org");
    /// assert!(Orcpt::new(b"rfc 822", b"a@b").is_err());
    /// ```
    pub fn new(addr_type: &[u8], address: &[u8]) -> Result<Orcpt, ParseError> {
        let mut text = BytesMut::with_capacity(addr_type.len() + 1 + xtext::encoded_len(address));
        text.extend_from_slice(addr_type);
        text.put_u8(b';');
        xtext::encode_into(address, &mut text);
        let text = text.freeze();
        parse_orcpt(&text, &text)
    }

    /// The address type, e.g. `rfc822` or `utf-8`.
    pub fn addr_type(&self) -> &[u8] {
        self.text.as_bytes().get(..self.semi).unwrap_or_default()
    }

    /// The original recipient as sent (xtext; raw UTF-8 may occur with the `utf-8` type).
    pub fn address_xtext(&self) -> &[u8] {
        self.text
            .as_bytes()
            .get(self.semi + 1..)
            .unwrap_or_default()
    }

    /// The original recipient, xtext-decoded; allocates only when it holds `+XX`.
    pub fn address(&self) -> Cow<'_, [u8]> {
        let raw = self.address_xtext();
        // Checked when built, so decoding cannot fail.
        xtext::decode_cow(raw, true).unwrap_or(Cow::Borrowed(raw))
    }

    /// Appends `addr-type;xtext` as sent.
    fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.text.as_bytes());
    }
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

/// Parameters of `MAIL FROM`. Absent parameters are `None`/`false`.
///
/// The parameters nearly every client sends (SIZE, BODY, SMTPUTF8, REQUIRETLS) are fields;
/// the rare ones live in [`MailExtras`] behind one box, allocated only when one of them was
/// given. That keeps a parsed [`Command`](crate::Command) small (it is written, moved and
/// dropped once per command) and the common case free of allocations.
#[derive(Debug, Clone, Eq, Default)]
#[non_exhaustive]
pub struct MailParams {
    /// `SIZE=` (RFC 1870); a value beyond `u64` saturates to `u64::MAX`.
    pub size: Option<u64>,
    /// `BODY=`.
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// The rarer parameters; `None` when none of them was given. Read them with
    /// [`MailParams::extra`], set them with [`MailParams::extra_mut`].
    pub extra: Option<Box<MailExtras>>,
}

/// The rarer parameters of `MAIL FROM` (see [`MailParams::extra`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MailExtras {
    /// `RET=` (RFC 3461).
    pub ret: Option<DsnReturn>,
    /// `ENVID=` (RFC 3461), xtext-decoded.
    pub envid: Option<Bytes>,
    /// `AUTH=` (RFC 4954 5), xtext-decoded; `<>` is kept as `<>`.
    pub auth: Option<Bytes>,
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

impl MailExtras {
    /// No parameter at all (what [`MailParams::extra`] shows when none was given).
    pub const NONE: MailExtras = MailExtras {
        ret: None,
        envid: None,
        auth: None,
        mt_priority: None,
        future_release: None,
        by: None,
        mtrk: None,
        solicit: None,
        conperm: false,
        unknown: Vec::new(),
    };

    /// `true` when no parameter is set.
    pub fn is_empty(&self) -> bool {
        *self == MailExtras::NONE
    }
}

/// The value [`MailParams::extra`] lends out when no rare parameter was given.
static NO_MAIL_EXTRAS: MailExtras = MailExtras::NONE;

/// Parameters of `RCPT TO`. NOTIFY and ORCPT (DSN, RFC 3461) are fields; the rarer ones live
/// in [`RcptExtras`] behind one box, allocated only when one of them was given.
#[derive(Debug, Clone, Eq, Default)]
#[non_exhaustive]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt>,
    /// The rarer parameters; `None` when none of them was given. Read them with
    /// [`RcptParams::extra`], set them with [`RcptParams::extra_mut`].
    pub extra: Option<Box<RcptExtras>>,
}

/// The rarer parameters of `RCPT TO` (see [`RcptParams::extra`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RcptExtras {
    /// `RRVS=` (RFC 7293).
    pub rrvs: Option<Rrvs>,
    /// `CONNEG` (RFC 4141).
    pub conneg: bool,
    /// Parameters this crate does not know.
    pub unknown: Vec<UnknownParam>,
}

impl RcptExtras {
    /// No parameter at all (what [`RcptParams::extra`] shows when none was given).
    pub const NONE: RcptExtras = RcptExtras {
        rrvs: None,
        conneg: false,
        unknown: Vec::new(),
    };

    /// `true` when no parameter is set.
    pub fn is_empty(&self) -> bool {
        *self == RcptExtras::NONE
    }
}

/// The value [`RcptParams::extra`] lends out when no rare parameter was given.
static NO_RCPT_EXTRAS: RcptExtras = RcptExtras::NONE;

/// Boxed extras compare equal when both are absent or empty, so that a value built by hand
/// with an empty box equals the parsed one.
fn same_extras<T: PartialEq>(a: Option<&T>, b: Option<&T>, none: &T) -> bool {
    a.unwrap_or(none) == b.unwrap_or(none)
}

impl PartialEq for MailParams {
    fn eq(&self, other: &Self) -> bool {
        self.size == other.size
            && self.body == other.body
            && self.smtputf8 == other.smtputf8
            && self.requiretls == other.requiretls
            && same_extras(
                self.extra.as_deref(),
                other.extra.as_deref(),
                &NO_MAIL_EXTRAS,
            )
    }
}

impl PartialEq for RcptParams {
    fn eq(&self, other: &Self) -> bool {
        self.notify == other.notify
            && self.orcpt == other.orcpt
            && same_extras(
                self.extra.as_deref(),
                other.extra.as_deref(),
                &NO_RCPT_EXTRAS,
            )
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Splits `rest` (what follows the path: empty, or `SP param SP param...`) into parameters and
/// hands each one, as `(keyword, value)`, to `f`. Syntax per RFC 5321 4.1.2:
///
/// ```text
/// esmtp-param   = esmtp-keyword ["=" esmtp-value]
/// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
/// esmtp-value   = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)   ; RFC 6531 3.3
/// ```
///
/// Strict syntax wants exactly one SP before each parameter; lenient syntax takes any run of
/// SP / TAB (trailing white space is stripped from the line before this runs).
fn for_each_param<'a>(
    rest: &'a [u8],
    syntax: PathSyntax,
    mut f: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut rest = rest;
    while !rest.is_empty() {
        let sep = match syntax {
            PathSyntax::Strict => usize::from(rest.first() == Some(&b' ')),
            PathSyntax::Lenient => rest
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(rest.len()),
        };
        if sep == 0 {
            return Err(ParseError::ArgumentSyntax);
        }
        rest = &rest[sep..];
        // The keyword, then the value: one table lookup per octet (this runs over every
        // parameter of every MAIL and RCPT). Each loop runs while the octets are of its
        // class; the octet it stops at must end the keyword (`=`, SP / TAB, the end) or the
        // value (SP / TAB, the end).
        let mut k = 0;
        while rest
            .get(k)
            .is_some_and(|&b| CLASS[usize::from(b)] & KEYWORD != 0)
        {
            k += 1;
        }
        let mut bad = rest
            .get(k)
            .is_some_and(|&b| CLASS[usize::from(b)] & (SEP | EQ) == 0);
        let mut eq = None;
        let mut end = k;
        let mut seen = 0u8;
        if !bad && rest.get(k) == Some(&b'=') {
            eq = Some(k);
            end = k + 1;
            // A `=` inside a value is allowed for MTRK only (checked below).
            while let Some(&b) = rest.get(end) {
                let c = CLASS[usize::from(b)];
                if c & VALUE_OR_EQ == 0 {
                    break;
                }
                seen |= c;
                end += 1;
            }
            bad = rest
                .get(end)
                .is_some_and(|&b| CLASS[usize::from(b)] & SEP == 0);
        }
        if bad {
            return Err(ParseError::InvalidParameter);
        }
        let extra_eq = seen & EQ != 0;
        let high = seen & HIGH != 0;
        let (token, tail) = rest.split_at(end);
        rest = tail;
        if token.is_empty() {
            // Two separators in a row (strict syntax).
            return Err(ParseError::ArgumentSyntax);
        }
        let (keyword, value) = match eq {
            Some(e) => (&token[..e], Some(&token[e + 1..])),
            None => (token, None),
        };
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        bad |= !keyword.first().is_some_and(u8::is_ascii_alphanumeric);
        if let Some(v) = value {
            // base64 padding of MTRK (RFC 3885) is the one place where `=` occurs in a value.
            bad |= v.is_empty() || (extra_eq && !keyword.eq_ignore_ascii_case(b"MTRK"));
            bad |= high && core::str::from_utf8(v).is_err();
        }
        if bad {
            return Err(ParseError::InvalidParameter);
        }
        f(keyword, value)?;
    }
    Ok(())
}

/// Octet classes for parameter scanning.
const SEP: u8 = 1; // SP / TAB
const EQ: u8 = 2; // `=`
const KEYWORD: u8 = 4; // `esmtp-keyword` octet: ALPHA / DIGIT / "-"
const VALUE: u8 = 8; // `esmtp-value` octet: %d33-60 / %d62-126 / UTF8-non-ascii (RFC 6531 3.3)
const HIGH: u8 = 16; // non-ASCII
const VALUE_OR_EQ: u8 = 32; // VALUE or `=`

const fn class(b: u8) -> u8 {
    let mut c = 0;
    if b == b' ' || b == b'\t' {
        c |= SEP;
    }
    if b == b'=' {
        c |= EQ;
    }
    if b.is_ascii_alphanumeric() || b == b'-' {
        c |= KEYWORD;
    }
    if matches!(b, 33..=60 | 62..=126) || b >= 0x80 {
        c |= VALUE;
    }
    if b >= 0x80 {
        c |= HIGH;
    }
    if c & (VALUE | EQ) != 0 {
        c |= VALUE_OR_EQ;
    }
    c
}

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class(i as u8);
        i += 1;
    }
    t
};

/// A word of at most 8 octets folded to lower case in one `u64` (OR 0x20 into every octet),
/// so that a keyword is recognised with one integer compare (the caller compares lengths too;
/// longer words give 0). Exact for words of letters, digits and `-` when the input holds no
/// octet below 33, which [`for_each_param`] has checked for keywords and values: only
/// 0x0D or 0x10..=0x19 would fold onto `-` or a digit.
#[inline(always)]
pub(crate) const fn word_key(s: &[u8]) -> u64 {
    if s.len() > 8 {
        return 0;
    }
    // A fixed count of steps (unrolled, no variable shifts); padding folds to 0x20 on both
    // sides of the compare.
    let mut buf = [0u8; 8];
    let mut i = 0;
    while i < 8 {
        if i < s.len() {
            buf[i] = s[i];
        }
        i += 1;
    }
    u64::from_le_bytes(buf) | 0x2020_2020_2020_2020
}

/// [`word_key`] of a word read at run time: the same value from at most three loads instead
/// of eight conditional octet copies (this runs on every parameter keyword and on the BODY
/// and NOTIFY values).
#[inline(always)]
pub(crate) fn key_of(s: &[u8]) -> u64 {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let n = s.len();
    let word = match (s.first_chunk::<4>(), s.last_chunk::<4>()) {
        _ if n > 8 => return 0,
        // 4..=8 octets: the first four and the last four (they overlap unless n == 8).
        (Some(first), Some(last)) => {
            u64::from(u32::from_le_bytes(*first))
                | u64::from(u32::from_le_bytes(*last)) << (8 * (n - 4))
        }
        // 1..=3 octets: the first, the middle and the last one cover them all.
        _ => match (s.first(), s.get(n / 2), s.last()) {
            (Some(&a), Some(&b), Some(&c)) => {
                u64::from(a) | u64::from(b) << (8 * (n / 2)) | u64::from(c) << (8 * (n - 1))
            }
            _ => 0,
        },
    };
    word | FOLD
}

/// Stores a parameter once; a repeated parameter is an error.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::InvalidParameter);
    }
    *slot = Some(value);
    Ok(())
}

/// A flag parameter (no value), once.
fn set_flag(flag: &mut bool, value: Option<&[u8]>) -> Result<(), ParseError> {
    if *flag || value.is_some() {
        return Err(ParseError::InvalidParameter);
    }
    *flag = true;
    Ok(())
}

fn required(value: Option<&[u8]>) -> Result<&[u8], ParseError> {
    value.ok_or(ParseError::InvalidParameter)
}

/// `1*DIGIT`, saturating at `u64::MAX` (so that a huge SIZE gets 552, not 501).
pub(crate) fn digits_saturating(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// `1*9DIGIT` (no saturation needed).
fn digits9(v: &[u8]) -> Option<u64> {
    if v.len() > 9 {
        return None;
    }
    digits_saturating(v)
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
pub(crate) fn is_date_time(v: &[u8]) -> bool {
    fn num(s: &[u8], max: u32) -> Option<&[u8]> {
        let (d, rest) = (s.get(..2)?, s.get(2..)?);
        let n = digits_saturating(d)?;
        (n <= u64::from(max)).then_some(rest)
    }
    fn lit(s: &[u8], c: u8) -> Option<&[u8]> {
        match s.split_first() {
            Some((&b, rest)) if b.eq_ignore_ascii_case(&c) => Some(rest),
            _ => None,
        }
    }
    let parse = || -> Option<()> {
        let year = v.get(..4)?;
        digits_saturating(year)?;
        let s = lit(v.get(4..)?, b'-')?;
        let s = lit(num(s, 12)?, b'-')?;
        let s = lit(num(s, 31)?, b'T')?;
        let s = lit(num(s, 23)?, b':')?;
        let s = lit(num(s, 59)?, b':')?;
        let mut s = num(s, 60)?;
        if let Some(frac) = s.strip_prefix(b".") {
            let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            s = &frac[n..];
        }
        match s.split_first()? {
            (b'Z' | b'z', []) => Some(()),
            (b'+' | b'-', off) => {
                let s = lit(num(off, 23)?, b':')?;
                num(s, 59)?.is_empty().then_some(())
            }
            _ => None,
        }
    };
    parse().is_some()
}

fn parse_body(v: &[u8]) -> Result<BodyType, ParseError> {
    const EIGHTBITMIME: u64 = word_key(b"8bitmime");
    const SEVENBIT: u64 = word_key(b"7bit");
    match (v.len(), key_of(v)) {
        (8, EIGHTBITMIME) => Ok(BodyType::EightBitMime),
        (4, SEVENBIT) => Ok(BodyType::SevenBit),
        (10, _) if v.eq_ignore_ascii_case(b"BINARYMIME") => Ok(BodyType::BinaryMime),
        _ => Err(ParseError::InvalidParameter),
    }
}

fn parse_ret(v: &[u8]) -> Result<DsnReturn, ParseError> {
    if v.eq_ignore_ascii_case(b"FULL") {
        Ok(DsnReturn::Full)
    } else if v.eq_ignore_ascii_case(b"HDRS") {
        Ok(DsnReturn::Headers)
    } else {
        Err(ParseError::InvalidParameter)
    }
}

/// `priority-value = (["-"] NZDIGIT) / "0"` (RFC 6710 10).
fn parse_mt_priority(v: &[u8]) -> Result<i8, ParseError> {
    match v {
        [b'0'] => Ok(0),
        [d @ b'1'..=b'9'] => Ok((d - b'0') as i8),
        [b'-', d @ b'1'..=b'9'] => Ok(-((d - b'0') as i8)),
        _ => Err(ParseError::InvalidParameter),
    }
}

/// `future-release-integer = %x31-39 *8DIGIT` (RFC 4865 3).
fn parse_holdfor(v: &[u8]) -> Result<u64, ParseError> {
    match v.first() {
        Some(b'1'..=b'9') => digits9(v).ok_or(ParseError::InvalidParameter),
        _ => Err(ParseError::InvalidParameter),
    }
}

/// `by-value = by-time ";" by-mode [by-trace]`, `by-time = ["-" / "+"] 1*9digit` (RFC 2852 4).
fn parse_by(v: &[u8]) -> Result<DeliverBy, ParseError> {
    let bad = ParseError::InvalidParameter;
    let semi = memchr::memchr(b';', v).ok_or(bad.clone())?;
    let (time, mode) = (&v[..semi], &v[semi + 1..]);
    let (negative, digits) = match time.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, time),
    };
    let n = digits9(digits).ok_or(bad.clone())? as i64;
    let time = if negative { -n } else { n };
    let (mode, trace) = match mode {
        [m] => (m, false),
        [m, b'T' | b't'] => (m, true),
        _ => return Err(bad),
    };
    let mode = match mode {
        b'N' | b'n' => ByMode::Notify,
        b'R' | b'r' => ByMode::Return,
        _ => return Err(bad),
    };
    Ok(DeliverBy { time, mode, trace })
}

/// `mtrk-certifier [":" mtrk-timeout]`, certifier base64, timeout `1*9DIGIT` (RFC 3885 3).
fn parse_mtrk(line: &Bytes, v: &[u8]) -> Result<Mtrk, ParseError> {
    let (cert, timeout) = match memchr::memchr(b':', v) {
        Some(c) => (&v[..c], Some(&v[c + 1..])),
        None => (v, None),
    };
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if cert.is_empty() || !cert.iter().all(is_b64) {
        return Err(ParseError::InvalidParameter);
    }
    let timeout = match timeout {
        Some(t) => Some(digits9(t).ok_or(ParseError::InvalidParameter)?),
        None => None,
    };
    Ok(Mtrk {
        certifier: line.slice_ref(cert),
        timeout,
    })
}

/// `Solicitation-keywords = word *("," word)`, `word = ALPHA *("." / "-" / "_" / ":" / ALPHA /
/// DIGIT)` (RFC 3865 2.3).
fn is_solicit(v: &[u8]) -> bool {
    v.split(|&b| b == b',').all(|w| {
        w.first().is_some_and(u8::is_ascii_alphabetic)
            && w.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
    })
}

/// `NOTIFY="NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY")` (RFC 3461 4.1).
fn parse_notify(v: &[u8]) -> Result<Notify, ParseError> {
    if v.eq_ignore_ascii_case(b"NEVER") {
        return Ok(Notify::Never);
    }
    const SUCCESS: u64 = word_key(b"success");
    const FAILURE: u64 = word_key(b"failure");
    const DELAY: u64 = word_key(b"delay");
    let (mut success, mut failure, mut delay) = (false, false, false);
    for item in v.split(|&b| b == b',') {
        let slot = match (item.len(), key_of(item)) {
            (7, SUCCESS) => &mut success,
            (7, FAILURE) => &mut failure,
            (5, DELAY) => &mut delay,
            _ => return Err(ParseError::InvalidParameter),
        };
        *slot = true;
    }
    Ok(Notify::On {
        success,
        failure,
        delay,
    })
}

/// `addr-type ";" xtext` (RFC 3461 4.2). With the `utf-8` address type of RFC 6533 the
/// address may also hold raw UTF-8 (`utf-8-addr-unitext`), which is passed through.
fn parse_orcpt(line: &Bytes, v: &[u8]) -> Result<Orcpt, ParseError> {
    let (semi, utf8_type) = orcpt_addr_type(v)?;
    xtext::check(&v[semi + 1..], utf8_type).map_err(|_| ParseError::InvalidParameter)?;
    Ok(Orcpt {
        text: Text::from_slice_of(line, v),
        semi,
    })
}

/// [`parse_orcpt`] of a value [`for_each_param`] has checked already: every octet is
/// `%d33-126` other than `=`, or part of valid UTF-8. Of the xtext rules that leaves that
/// non-ASCII octets need the `utf-8` type and that each `+` starts a `+XX`, so the address
/// is read once more only when it holds a `+` (this runs on every RCPT with ORCPT).
fn parse_orcpt_param(line: &Bytes, v: &[u8]) -> Result<Orcpt, ParseError> {
    let (semi, utf8_type) = orcpt_addr_type(v)?;
    let address = &v[semi + 1..];
    if (!utf8_type && !address.is_ascii())
        || (address.contains(&b'+') && xtext::check(address, utf8_type).is_err())
    {
        return Err(ParseError::InvalidParameter);
    }
    Ok(Orcpt {
        text: Text::from_slice_of(line, v),
        semi,
    })
}

/// The `addr-type ";"` of ORCPT: the offset of the `;` and whether the type is `utf-8`.
#[inline(always)]
fn orcpt_addr_type(v: &[u8]) -> Result<(usize, bool), ParseError> {
    let bad = ParseError::InvalidParameter;
    // The type is a short atom: a plain loop beats `memchr`'s set-up.
    let semi = v.iter().position(|&b| b == b';').ok_or(bad.clone())?;
    let (addr_type, address) = (&v[..semi], &v[semi + 1..]);
    // addr-type = atom (RFC 5322 atext)
    let atext = |b: &u8| b.is_ascii() && crate::address::is_atext(*b);
    if addr_type.is_empty() || !addr_type.iter().all(atext) || address.is_empty() {
        return Err(bad);
    }
    Ok((semi, addr_type.eq_ignore_ascii_case(b"utf-8")))
}

/// `RRVS=date-time [";" ("C" / "R")]` (RFC 7293 3.1).
fn parse_rrvs(line: &Bytes, v: &[u8]) -> Result<Rrvs, ParseError> {
    let (time, action) = match memchr::memchr(b';', v) {
        Some(s) => (&v[..s], Some(&v[s + 1..])),
        None => (v, None),
    };
    if !is_date_time(time) {
        return Err(ParseError::InvalidParameter);
    }
    let action = match action {
        None => None,
        Some(b"C" | b"c") => Some(RrvsAction::Continue),
        Some(b"R" | b"r") => Some(RrvsAction::Reject),
        Some(_) => return Err(ParseError::InvalidParameter),
    };
    Ok(Rrvs {
        time: line.slice_ref(time),
        action,
    })
}

fn xtext_value(line: &Bytes, v: &[u8]) -> Result<Bytes, ParseError> {
    xtext::decode_slice(line, v, false).map_err(|_| ParseError::InvalidParameter)
}

fn unknown(line: &Bytes, keyword: &[u8], value: Option<&[u8]>) -> UnknownParam {
    UnknownParam {
        keyword: line.slice_ref(keyword),
        value: value.map(|v| line.slice_ref(v)),
    }
}

impl MailParams {
    /// `true` when no parameter was given.
    pub fn is_empty(&self) -> bool {
        *self == MailParams::default()
    }

    /// The rarer parameters (all absent when none was given; this never allocates).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::command::DsnReturn;
    /// use smtp_proto::{MailParams, ParseOptions};
    /// let opts = ParseOptions::default();
    /// let p = MailParams::parse(&Bytes::from_static(b"SIZE=10 RET=HDRS"), &opts).unwrap();
    /// assert_eq!(p.extra().ret, Some(DsnReturn::Headers));
    /// let p = MailParams::parse(&Bytes::from_static(b"SIZE=10"), &opts).unwrap();
    /// assert!(p.extra.is_none() && p.extra().ret.is_none());
    /// ```
    pub fn extra(&self) -> &MailExtras {
        self.extra.as_deref().unwrap_or(&NO_MAIL_EXTRAS)
    }

    /// The rarer parameters for changing, boxed on first use.
    pub fn extra_mut(&mut self) -> &mut MailExtras {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Parses MAIL parameters: `param *(SP param)` without a leading space, e.g.
    /// `SIZE=1000 BODY=8BITMIME`. Keywords are case-insensitive; a repeated known parameter
    /// or a malformed value is [`ParseError::InvalidParameter`]; unknown ones go to
    /// [`MailExtras::unknown`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use smtp_proto::{MailParams, ParseOptions};
    /// let p = MailParams::parse(&Bytes::from_static(b"size=99999999999999999999999 BODY=8BITMIME"), &ParseOptions::default()).unwrap();
    /// assert_eq!(p.size, Some(u64::MAX));
    /// ```
    pub fn parse(input: &Bytes, opts: &ParseOptions) -> Result<MailParams, ParseError> {
        if input.is_empty() {
            return Ok(MailParams::default());
        }
        let mut with_sp = BytesMut::with_capacity(input.len() + 1);
        with_sp.put_u8(b' ');
        with_sp.extend_from_slice(input);
        let line = with_sp.freeze();
        let mut p = MailParams::default();
        p.parse_into(&line, &line, opts.path_syntax)?;
        Ok(p)
    }

    /// Parses what follows the reverse-path in a MAIL line (empty or starting with SP).
    /// Fills `self` in place (the caller's value sits in the final `Command` already, so
    /// nothing large is moved).
    pub(crate) fn parse_into(
        &mut self,
        line: &Bytes,
        rest: &[u8],
        syntax: PathSyntax,
    ) -> Result<(), ParseError> {
        const SIZE: u64 = word_key(b"size");
        const BODY: u64 = word_key(b"body");
        const SMTPUTF8: u64 = word_key(b"smtputf8");
        const RET: u64 = word_key(b"ret");
        const ENVID: u64 = word_key(b"envid");
        const AUTH: u64 = word_key(b"auth");
        const HOLDFOR: u64 = word_key(b"holdfor");
        const BY: u64 = word_key(b"by");
        const MTRK: u64 = word_key(b"mtrk");
        const SOLICIT: u64 = word_key(b"solicit");
        const CONPERM: u64 = word_key(b"conperm");
        for_each_param(rest, syntax, |k, v| {
            // One integer compare per known keyword (longer keywords by their length first).
            match (k.len(), key_of(k)) {
                (4, SIZE) => {
                    let n = digits_saturating(required(v)?).ok_or(ParseError::InvalidParameter)?;
                    return set_once(&mut self.size, n);
                }
                (4, BODY) => return set_once(&mut self.body, parse_body(required(v)?)?),
                (8, SMTPUTF8) => return set_flag(&mut self.smtputf8, v),
                (10, _) if k.eq_ignore_ascii_case(b"REQUIRETLS") => {
                    return set_flag(&mut self.requiretls, v)
                }
                _ => {}
            }
            let p = self.extra_mut();
            match (k.len(), key_of(k)) {
                (3, RET) => set_once(&mut p.ret, parse_ret(required(v)?)?),
                (5, ENVID) => set_once(&mut p.envid, xtext_value(line, required(v)?)?),
                (4, AUTH) => set_once(&mut p.auth, xtext_value(line, required(v)?)?),
                (11, _) if k.eq_ignore_ascii_case(b"MT-PRIORITY") => {
                    set_once(&mut p.mt_priority, parse_mt_priority(required(v)?)?)
                }
                (7, HOLDFOR) => {
                    let n = parse_holdfor(required(v)?)?;
                    set_once(&mut p.future_release, FutureRelease::For(n))
                }
                (9, _) if k.eq_ignore_ascii_case(b"HOLDUNTIL") => {
                    let t = required(v)?;
                    if !is_date_time(t) {
                        return Err(ParseError::InvalidParameter);
                    }
                    set_once(
                        &mut p.future_release,
                        FutureRelease::Until(line.slice_ref(t)),
                    )
                }
                (2, BY) => set_once(&mut p.by, parse_by(required(v)?)?),
                (4, MTRK) => set_once(&mut p.mtrk, parse_mtrk(line, required(v)?)?),
                (7, SOLICIT) => {
                    let s = required(v)?;
                    if !is_solicit(s) {
                        return Err(ParseError::InvalidParameter);
                    }
                    set_once(&mut p.solicit, line.slice_ref(s))
                }
                (7, CONPERM) => set_flag(&mut p.conperm, v),
                _ => {
                    p.unknown.push(unknown(line, k, v));
                    Ok(())
                }
            }
        })
    }

    /// Appends every parameter, each preceded by a space, in a fixed order (known ones first,
    /// then unknown ones as given). Values are xtext-encoded where the RFC says so.
    pub fn write(&self, out: &mut BytesMut) {
        if let Some(n) = self.size {
            out.extend_from_slice(b" SIZE=");
            write_u64(out, n);
        }
        if let Some(b) = self.body {
            out.extend_from_slice(match b {
                BodyType::SevenBit => b" BODY=7BIT",
                BodyType::EightBitMime => b" BODY=8BITMIME",
                BodyType::BinaryMime => b" BODY=BINARYMIME",
            });
        }
        if self.smtputf8 {
            out.extend_from_slice(b" SMTPUTF8");
        }
        if self.requiretls {
            out.extend_from_slice(b" REQUIRETLS");
        }
        if let Some(x) = &self.extra {
            x.write(out);
        }
    }
}

impl MailExtras {
    /// Appends every parameter set here, each preceded by a space (after the common ones,
    /// see [`MailParams::write`]).
    fn write(&self, out: &mut BytesMut) {
        if let Some(r) = self.ret {
            out.extend_from_slice(match r {
                DsnReturn::Full => b" RET=FULL",
                DsnReturn::Headers => b" RET=HDRS",
            });
        }
        if let Some(e) = &self.envid {
            out.extend_from_slice(b" ENVID=");
            xtext::encode_into(e, out);
        }
        if let Some(a) = &self.auth {
            out.extend_from_slice(b" AUTH=");
            xtext::encode_into(a, out);
        }
        if let Some(p) = self.mt_priority {
            out.extend_from_slice(b" MT-PRIORITY=");
            if p < 0 {
                out.put_u8(b'-');
            }
            write_u64(out, u64::from(p.unsigned_abs()));
        }
        match &self.future_release {
            Some(FutureRelease::For(n)) => {
                out.extend_from_slice(b" HOLDFOR=");
                write_u64(out, *n);
            }
            Some(FutureRelease::Until(t)) => {
                out.extend_from_slice(b" HOLDUNTIL=");
                out.extend_from_slice(t);
            }
            None => {}
        }
        if let Some(by) = &self.by {
            out.extend_from_slice(b" BY=");
            if by.time < 0 {
                out.put_u8(b'-');
            }
            write_u64(out, by.time.unsigned_abs());
            out.extend_from_slice(match (by.mode, by.trace) {
                (ByMode::Notify, false) => b";N",
                (ByMode::Notify, true) => b";NT",
                (ByMode::Return, false) => b";R",
                (ByMode::Return, true) => b";RT",
            });
        }
        if let Some(m) = &self.mtrk {
            out.extend_from_slice(b" MTRK=");
            out.extend_from_slice(&m.certifier);
            if let Some(t) = m.timeout {
                out.put_u8(b':');
                write_u64(out, t);
            }
        }
        if let Some(s) = &self.solicit {
            out.extend_from_slice(b" SOLICIT=");
            out.extend_from_slice(s);
        }
        if self.conperm {
            out.extend_from_slice(b" CONPERM");
        }
        write_unknown(&self.unknown, out);
    }
}

impl RcptParams {
    /// `true` when no parameter was given.
    pub fn is_empty(&self) -> bool {
        *self == RcptParams::default()
    }

    /// The rarer parameters (all absent when none was given; this never allocates).
    pub fn extra(&self) -> &RcptExtras {
        self.extra.as_deref().unwrap_or(&NO_RCPT_EXTRAS)
    }

    /// The rarer parameters for changing, boxed on first use.
    pub fn extra_mut(&mut self) -> &mut RcptExtras {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Parses RCPT parameters: `param *(SP param)` without a leading space, e.g.
    /// `NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b`. Rules as for [`MailParams::parse`].
    pub fn parse(input: &Bytes, opts: &ParseOptions) -> Result<RcptParams, ParseError> {
        if input.is_empty() {
            return Ok(RcptParams::default());
        }
        let mut with_sp = BytesMut::with_capacity(input.len() + 1);
        with_sp.put_u8(b' ');
        with_sp.extend_from_slice(input);
        let line = with_sp.freeze();
        let mut p = RcptParams::default();
        p.parse_into(&line, &line, opts.path_syntax)?;
        Ok(p)
    }

    /// Parses what follows the forward-path in a RCPT line (empty or starting with SP).
    /// Fills `self` in place (the caller's value sits in the final `Command` already, so
    /// nothing large is moved).
    pub(crate) fn parse_into(
        &mut self,
        line: &Bytes,
        rest: &[u8],
        syntax: PathSyntax,
    ) -> Result<(), ParseError> {
        const NOTIFY: u64 = word_key(b"notify");
        const ORCPT: u64 = word_key(b"orcpt");
        const RRVS: u64 = word_key(b"rrvs");
        const CONNEG: u64 = word_key(b"conneg");
        for_each_param(rest, syntax, |k, v| match (k.len(), key_of(k)) {
            (6, NOTIFY) => set_once(&mut self.notify, parse_notify(required(v)?)?),
            (5, ORCPT) => set_once(&mut self.orcpt, parse_orcpt_param(line, required(v)?)?),
            (4, RRVS) => set_once(&mut self.extra_mut().rrvs, parse_rrvs(line, required(v)?)?),
            (6, CONNEG) => set_flag(&mut self.extra_mut().conneg, v),
            _ => {
                self.extra_mut().unknown.push(unknown(line, k, v));
                Ok(())
            }
        })
    }

    /// Appends every parameter, each preceded by a space.
    pub fn write(&self, out: &mut BytesMut) {
        match self.notify {
            Some(Notify::Never) => out.extend_from_slice(b" NOTIFY=NEVER"),
            Some(Notify::On {
                success,
                failure,
                delay,
            }) => {
                out.extend_from_slice(b" NOTIFY=");
                let mut first = true;
                for (on, name) in [
                    (success, &b"SUCCESS"[..]),
                    (failure, b"FAILURE"),
                    (delay, b"DELAY"),
                ] {
                    if on {
                        if !first {
                            out.put_u8(b',');
                        }
                        out.extend_from_slice(name);
                        first = false;
                    }
                }
            }
            None => {}
        }
        if let Some(o) = &self.orcpt {
            out.extend_from_slice(b" ORCPT=");
            o.write(out);
        }
        if let Some(x) = &self.extra {
            x.write(out);
        }
    }
}

impl RcptExtras {
    /// Appends every parameter set here, each preceded by a space.
    fn write(&self, out: &mut BytesMut) {
        if let Some(r) = &self.rrvs {
            out.extend_from_slice(b" RRVS=");
            out.extend_from_slice(&r.time);
            match r.action {
                Some(RrvsAction::Continue) => out.extend_from_slice(b";C"),
                Some(RrvsAction::Reject) => out.extend_from_slice(b";R"),
                None => {}
            }
        }
        if self.conneg {
            out.extend_from_slice(b" CONNEG");
        }
        write_unknown(&self.unknown, out);
    }
}

fn write_unknown(params: &[UnknownParam], out: &mut BytesMut) {
    for u in params {
        out.put_u8(b' ');
        out.extend_from_slice(&u.keyword);
        if let Some(v) = &u.value {
            out.put_u8(b'=');
            out.extend_from_slice(v);
        }
    }
}

/// Appends a decimal number without allocating.
pub(crate) fn write_u64(out: &mut BytesMut, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod key_tests {
    use super::*;

    proptest::proptest! {
        /// ORCPT through the parameter scanner accepts exactly what the full check accepts
        /// among values the scanner lets through, with the same result.
        #[test]
        fn orcpt_param_agrees_with_full_check(
            addr_type in proptest::prop_oneof![
                proptest::strategy::Just("rfc822"),
                proptest::strategy::Just("UTF-8"),
                proptest::strategy::Just("x y"),
            ],
            address in proptest::collection::vec(proptest::prop_oneof![
                4 => proptest::sample::select(&b"aZ09@.;"[..]),
                2 => proptest::sample::select(&b"+2BAFf"[..]),
                1 => proptest::sample::select(&b"=\x7f\xc3\xa9\xff"[..]),
            ], 0..12),
        ) {
            let mut v = addr_type.as_bytes().to_vec();
            v.push(b';');
            v.extend_from_slice(&address);
            let mut input = b"ORCPT=".to_vec();
            input.extend_from_slice(&v);
            let v = Bytes::from(v);
            let via_scanner = RcptParams::parse(&Bytes::from(input), &ParseOptions::default());
            let full = parse_orcpt(&v, &v);
            if let Ok(p) = &via_scanner {
                proptest::prop_assert_eq!(p.orcpt.as_ref(), full.as_ref().ok());
            }
            if full.is_ok() && core::str::from_utf8(&v).is_ok() {
                proptest::prop_assert!(via_scanner.is_ok());
            }
        }

        /// The run-time key equals the compile-time one for every length.
        #[test]
        fn key_of_is_word_key(word in proptest::collection::vec(33u8..=255, 0..12)) {
            proptest::prop_assert_eq!(key_of(&word), word_key(&word));
        }
    }
}
