//! Properties of the codec: round trips, no panics, split invariance.

use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::strategies;
use super::*;
use crate::options::{LineEnding, ParseOptions, PathSyntax};
use crate::{Domain, Mailbox, Status};

fn all_options() -> impl Strategy<Value = ParseOptions> {
    (
        prop_oneof![Just(LineEnding::CrLf), Just(LineEnding::CrLfOrLf)],
        prop_oneof![Just(PathSyntax::Strict), Just(PathSyntax::Lenient)],
        prop_oneof![Just(2048usize), 0usize..300],
    )
        .prop_map(|(line_ending, path_syntax, max_line)| ParseOptions {
            line_ending,
            path_syntax,
            max_line,
        })
}

fn wire(cmd: &Command) -> Bytes {
    let mut out = BytesMut::new();
    cmd.write(&mut out);
    out.freeze()
}

/// Valid command lines with random damage: bytes replaced, inserted or cut.
fn damaged_line() -> impl Strategy<Value = Vec<u8>> {
    (
        strategies::command(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
    )
        .prop_map(|(cmd, edits)| {
            let mut v = wire(&cmd).to_vec();
            for (at, byte, op) in edits {
                let i = at.index(v.len().max(1));
                match op {
                    0 if i < v.len() => v[i] = byte,
                    1 => v.insert(i.min(v.len()), byte),
                    _ => v.truncate(i),
                }
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn command_roundtrip(cmd in strategies::command()) {
        let opts = ParseOptions { max_line: 8192, ..ParseOptions::default() };
        let w = wire(&cmd);
        let parsed = Command::parse(&w, &opts);
        prop_assert_eq!(parsed, Ok(Status::Complete((cmd.clone(), w.len()))), "wire {:?}", w);
        // The same holds in lenient mode.
        let lenient = ParseOptions { path_syntax: PathSyntax::Lenient, ..opts };
        prop_assert_eq!(Command::parse(&w, &lenient), Ok(Status::Complete((cmd, w.len()))));
    }

    #[test]
    fn paths_roundtrip(rp in strategies::reverse_path(), fp in strategies::forward_path()) {
        let opts = ParseOptions::default();
        let mut out = BytesMut::new();
        rp.write(&mut out);
        prop_assert_eq!(ReversePath::parse(&out.split().freeze(), &opts), Ok(rp.clone()));
        prop_assert_eq!(alloc::format!("{rp}").into_bytes(), { rp.write(&mut out); out.split().to_vec() });
        fp.write(&mut out);
        prop_assert_eq!(ForwardPath::parse(&out.split().freeze(), &opts), Ok(fp.clone()));
        prop_assert_eq!(alloc::format!("{fp}").into_bytes(), { fp.write(&mut out); out.split().to_vec() });
    }

    #[test]
    fn mailbox_and_domain_roundtrip(m in strategies::mailbox(), d in strategies::domain()) {
        let opts = ParseOptions::default();
        let mut out = BytesMut::new();
        m.write(&mut out);
        prop_assert_eq!(Mailbox::parse(&out.split().freeze(), &opts), Ok(m.clone()));
        d.write(&mut out);
        prop_assert_eq!(Domain::parse(&out.split().freeze(), &opts), Ok(d.clone()));
        prop_assert_eq!(alloc::format!("{d}"), d.as_str());
    }

    #[test]
    fn params_roundtrip(mp in strategies::mail_params(), rp in strategies::rcpt_params()) {
        let opts = ParseOptions::default();
        let mut out = BytesMut::new();
        mp.write(&mut out);
        let text = out.split().freeze();
        // `write` puts a space before each parameter; `parse` takes the list without it.
        let text = text.slice(usize::from(!text.is_empty())..);
        prop_assert_eq!(MailParams::parse(&text, &opts), Ok(mp));
        rp.write(&mut out);
        let text = out.split().freeze();
        let text = text.slice(usize::from(!text.is_empty())..);
        prop_assert_eq!(RcptParams::parse(&text, &opts), Ok(rp));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300), opts in all_options()) {
        let buf = Bytes::from(data);
        let _ = Command::parse(&buf, &opts);
        let _ = Command::parse_line(&buf, &opts);
        let _ = ReversePath::parse(&buf, &opts);
        let _ = ForwardPath::parse(&buf, &opts);
        let _ = MailParams::parse(&buf, &opts);
        let _ = RcptParams::parse(&buf, &opts);
    }

    #[test]
    fn damaged_lines_never_panic(data in damaged_line(), opts in all_options()) {
        let buf = Bytes::from(data);
        if let Ok(Status::Complete((cmd, used))) = Command::parse(&buf, &opts) {
            prop_assert!(used <= buf.len());
            // Whatever parses writes back into something that parses to the same command.
            let w = wire(&cmd);
            let big = ParseOptions { max_line: 8192, ..opts };
            prop_assert_eq!(Command::parse(&w, &big), Ok(Status::Complete((cmd, w.len()))));
        }
        let _ = Command::parse_line(&buf, &opts);
    }

    /// Feeding a prefix first, then the whole buffer, gives the same answer as the whole
    /// buffer at once: a prefix either asks for more or already gives the final result.
    #[test]
    fn split_invariance(
        data in prop_oneof![
            damaged_line(),
            strategies::command().prop_map(|c| wire(&c).to_vec()),
            proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'A'), Just(b' '), any::<u8>()], 0..40),
        ],
        opts in all_options(),
        at in any::<prop::sample::Index>(),
    ) {
        let buf = Bytes::from(data);
        let whole = Command::parse(&buf, &opts);
        let k = at.index(buf.len() + 1);
        let first = Command::parse(&buf.slice(..k), &opts);
        if first != Ok(Status::Incomplete) {
            prop_assert_eq!(&first, &whole, "prefix of {} octets", k);
        }
    }
}
