//! `xtext` encoding of RFC 3461 section 4, used by the `ENVID`, `ORCPT` and `AUTH` parameters.
//!
//! ```text
//! xtext   = *( xchar / hexchar )
//! xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except for "+" and "="
//! hexchar = ASCII "+" immediately followed by two upper case hexadecimal digits
//! ```
//!
//! ```
//! use bytes::Bytes;
//! use smtp_proto::xtext;
//! let encoded = xtext::encode(b"a+b=c d");
//! assert_eq!(&encoded[..], b"a+2Bb+3Dc+20d");
//! assert_eq!(&xtext::decode(&encoded).unwrap()[..], b"a+b=c d");
//! ```

use alloc::borrow::Cow;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

/// The input is not xtext: a byte outside `!`..=`~`, a `=`, or a `+` not followed by two
/// upper-case hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("invalid xtext")]
pub struct XtextError;

/// `true` for an `xchar`: a byte that stands for itself.
#[inline]
pub const fn is_xchar(b: u8) -> bool {
    matches!(b, b'!'..=b'~') && b != b'+' && b != b'='
}

#[inline]
fn upper_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes xtext. Without a `+` the result is a slice of `input` (no copy); only values that
/// hold `+XX` allocate.
pub fn decode(input: &Bytes) -> Result<Bytes, XtextError> {
    decode_slice(input, input, false)
}

/// Decodes `text`, a sub-slice of `base`, slicing the result from `base` when no `+` occurs.
/// With `allow_utf8`, raw non-ASCII octets pass through (RFC 6533 `utf-8-addr-unitext`; the
/// caller has checked UTF-8 validity).
pub(crate) fn decode_slice(
    base: &Bytes,
    text: &[u8],
    allow_utf8: bool,
) -> Result<Bytes, XtextError> {
    match decode_cow(text, allow_utf8)? {
        Cow::Borrowed(_) => Ok(base.slice_ref(text)),
        Cow::Owned(v) => Ok(Bytes::from(v)),
    }
}

/// Checks that `text` is xtext (with raw non-ASCII octets when `allow_utf8`) without
/// decoding it, so without allocating.
pub(crate) fn check(text: &[u8], allow_utf8: bool) -> Result<(), XtextError> {
    if !valid_octets(text, allow_utf8)? {
        return Ok(());
    }
    let mut rest = text;
    while let Some(plus) = memchr::memchr(b'+', rest) {
        match rest.get(plus + 1..plus + 3) {
            Some(&[h, l]) if upper_hex(h).is_some() && upper_hex(l).is_some() => {
                rest = &rest[plus + 3..];
            }
            _ => return Err(XtextError),
        }
    }
    Ok(())
}

/// One branch-free pass (it vectorizes): every octet is `!`..=`~` other than `=` (an xchar or
/// the `+` of a hexchar), or non-ASCII when `allow_utf8`. Tells whether a `+` occurs.
#[inline]
fn valid_octets(text: &[u8], allow_utf8: bool) -> Result<bool, XtextError> {
    let mut plus = false;
    let mut bad = false;
    for &b in text {
        plus |= b == b'+';
        let printable = b.wrapping_sub(b'!') <= b'~' - b'!';
        bad |= !((printable & (b != b'=')) | (allow_utf8 & (b >= 0x80)));
    }
    if bad {
        return Err(XtextError);
    }
    Ok(plus)
}

/// Decodes `text`, borrowing it when it holds no `+XX` (the common case: no allocation).
pub(crate) fn decode_cow(text: &[u8], allow_utf8: bool) -> Result<Cow<'_, [u8]>, XtextError> {
    if !valid_octets(text, allow_utf8)? {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'+' {
            match tail {
                [h, l, more @ ..] => {
                    let (h, l) = upper_hex(*h).zip(upper_hex(*l)).ok_or(XtextError)?;
                    out.push((h << 4) | l);
                    rest = more;
                }
                _ => return Err(XtextError),
            }
        } else {
            out.push(b);
            rest = tail;
        }
    }
    Ok(Cow::Owned(out))
}

/// The length of `input` once encoded.
pub fn encoded_len(input: &[u8]) -> usize {
    input.iter().map(|&b| if is_xchar(b) { 1 } else { 3 }).sum()
}

/// Appends the xtext encoding of `input` to `out` (upper-case hex, as RFC 3461 requires).
pub fn encode_into(input: &[u8], out: &mut BytesMut) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(encoded_len(input));
    for &b in input {
        if is_xchar(b) {
            out.put_u8(b);
        } else {
            out.put_slice(&[b'+', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// Encodes `input` as xtext.
pub fn encode(input: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(encoded_len(input));
    encode_into(input, &mut out);
    out.freeze()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc3461_examples() {
        // RFC 3461 4.2: ORCPT=rfc822;Bob@Example.COM and an encoded '+'
        let d = decode(&Bytes::from_static(b"Bob@Example.COM")).unwrap();
        assert_eq!(&d[..], b"Bob@Example.COM");
        let d = decode(&Bytes::from_static(b"joe+2Bspam@example.com")).unwrap();
        assert_eq!(&d[..], b"joe+spam@example.com");
        assert_eq!(
            &encode(b"joe+spam@example.com")[..],
            b"joe+2Bspam@example.com"
        );
        assert_eq!(&encode(b"\x00\xff")[..], b"+00+FF");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"+"[..],
            b"+4",
            b"+4g",
            b"+2b",
            b"a=b",
            b"a b",
            b"\x80",
            b"+G0",
        ] {
            assert_eq!(
                decode(&Bytes::copy_from_slice(bad)),
                Err(XtextError),
                "{bad:?}"
            );
            assert_eq!(check(bad, false), Err(XtextError), "{bad:?}");
        }
    }

    #[test]
    fn no_copy_without_plus() {
        let input = Bytes::from_static(b"user@example.org");
        let d = decode(&input).unwrap();
        assert_eq!(d.as_ptr(), input.as_ptr());
    }

    proptest! {
        #[test]
        fn roundtrip(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let e = encode(&data);
            prop_assert!(e.iter().all(|&b| is_xchar(b) || b == b'+'));
            prop_assert_eq!(&decode(&e).unwrap()[..], &data[..]);
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&Bytes::from(data));
        }

        /// `check` (used when parsing ORCPT, which decodes later) accepts exactly what
        /// decoding accepts.
        #[test]
        fn check_agrees_with_decode(
            data in proptest::collection::vec(prop_oneof![Just(b'+'), Just(b'A'), Just(b'f'), Just(b'2'), Just(0xc3), any::<u8>()], 0..16),
            utf8 in any::<bool>(),
        ) {
            prop_assert_eq!(check(&data, utf8).is_ok(), decode_cow(&data, utf8).is_ok());
        }
    }
}
