//! Short octet strings held in place, longer ones as a slice of the input.
//!
//! A parsed command lives for one exchange and is dropped right after. A [`Bytes`] slice of
//! the shared input buffer costs an atomic reference count increment when it is made and a
//! decrement when it is dropped, which on the short fields of a command (a domain, a
//! mailbox, an ORCPT) costs more than the parsing itself; copying a few dozen octets costs
//! less. So fields of up to `N` octets are copied into the value and longer ones are shared.

use bytes::Bytes;
use core::fmt;
use core::hash::{Hash, Hasher};

/// Octets taken from an input line: up to `N` (at most 255) held in place, longer ones as a
/// slice of the input. Equality and hashing are on the octets.
#[derive(Clone)]
pub(crate) enum Text<const N: usize> {
    /// `octets[..len]`.
    Inline { len: u8, octets: [u8; N] },
    /// A slice of the input.
    Shared(Bytes),
}

impl<const N: usize> Text<N> {
    /// `s`, a sub-slice of `base`: copied when short, else sliced from `base`.
    #[inline(always)]
    pub(crate) fn from_slice_of(base: &Bytes, s: &[u8]) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= N => {
                let mut octets = [0u8; N];
                octets[..s.len()].copy_from_slice(s);
                Text::Inline { len, octets }
            }
            _ => Text::Shared(base.slice_ref(s)),
        }
    }

    /// The octets of `b`: copied when short, else `b` itself.
    pub(crate) fn from_bytes(b: Bytes) -> Self {
        Text::from_slice_of(&b, &b)
    }

    /// The octets.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline { len, octets } => octets.get(..usize::from(*len)).unwrap_or_default(),
            Text::Shared(b) => b,
        }
    }

    /// `s`, a sub-slice of these octets, as a [`Text`] of its own (sharing the input buffer
    /// when these octets do).
    pub(crate) fn sub<const M: usize>(&self, s: &[u8]) -> Text<M> {
        match self {
            Text::Shared(b) => Text::from_slice_of(b, s),
            Text::Inline { .. } => Text::from_bytes(Bytes::copy_from_slice(s)),
        }
    }

    /// `s`, a sub-slice of these octets, as [`Bytes`] (sharing the input buffer when these
    /// octets do, else copied).
    pub(crate) fn sub_bytes(&self, s: &[u8]) -> Bytes {
        match self {
            Text::Shared(b) => b.slice_ref(s),
            Text::Inline { .. } => Bytes::copy_from_slice(s),
        }
    }
}

impl<const N: usize> PartialEq for Text<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for Text<N> {}

impl<const N: usize> Hash for Text<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_is_copied_long_is_shared_equal_either_way() {
        let line = Bytes::from_static(b"0123456789");
        let short: Text<4> = Text::from_slice_of(&line, &line[2..6]);
        assert!(matches!(short, Text::Inline { len: 4, .. }));
        assert_eq!(short.as_bytes(), b"2345");
        let long: Text<4> = Text::from_slice_of(&line, &line[2..7]);
        assert!(matches!(&long, Text::Shared(b) if b.as_ptr() == line[2..].as_ptr()));
        assert_eq!(long.as_bytes(), b"23456");
        let shared_short = Text::<4>::Shared(line.slice(2..6));
        assert_eq!(shared_short, short);
        let sub: Text<8> = long.sub(&long.as_bytes()[1..3]);
        assert_eq!(sub.as_bytes(), b"34");
        assert_eq!(&long.sub_bytes(&long.as_bytes()[1..3])[..], b"34");
        assert_eq!(&short.sub_bytes(&short.as_bytes()[1..3])[..], b"34");
        assert_eq!(alloc::format!("{short:?}"), "b\"2345\"");
    }
}
