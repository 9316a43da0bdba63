//! Replays what 30 real SMTP clients sent (`tests/transcripts/recorded/client-*`, copied from
//! the shared recordings) through a server session configured like the recording server, cut
//! at the recorded `recv()` boundaries, whole, and byte by byte. Checks the envelopes, that
//! the unstuffed body is the message plus CRLF, and that our reply codes match the recording
//! server's line by line.

mod server_common;

use std::path::{Path, PathBuf};

use server_common::{recorder_config, summary, Driver};
use smtp_proto::server::Event;

fn recorded_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/recorded")
}

/// The three-digit code of every reply line.
fn line_codes(out: &[u8]) -> Vec<String> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8_lossy(&l[..3.min(l.len())]).into_owned())
        .collect()
}

/// A reference unstuffer, line by line, independent of the session's decoder: returns each
/// DATA body in the client's octets.
fn reference_bodies(c2s: &[u8]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut in_data = false;
    let mut body = Vec::new();
    let mut rest = c2s;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = &rest[..i];
        rest = &rest[i + 2..];
        if in_data {
            if line == b"." {
                bodies.push(std::mem::take(&mut body));
                in_data = false;
                continue;
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            body.extend_from_slice(line);
            body.extend_from_slice(b"\r\n");
        } else if line.eq_ignore_ascii_case(b"DATA") {
            in_data = true;
        }
    }
    bodies
}

fn bodies_of(events: &[Event]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut cur = Vec::new();
    for e in events {
        match e {
            Event::Body(b) => cur.extend_from_slice(b),
            Event::EndOfMessage(_) => bodies.push(std::mem::take(&mut cur)),
            _ => {}
        }
    }
    bodies
}

fn replay(c2s: &[u8], cuts: &[usize]) -> Driver {
    let mut d = Driver::new(recorder_config());
    let mut pos = 0;
    for &n in cuts {
        d.feed(&c2s[pos..pos + n]);
        pos += n;
    }
    assert_eq!(pos, c2s.len());
    d.session.receive_eof(d.now);
    d.settle();
    d
}

#[test]
fn recorded_clients_replay() {
    let mut names: Vec<String> = std::fs::read_dir(recorded_dir())
        .expect("recorded transcripts")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".c2s").map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names.len(), 30, "the 30 client recordings");
    for name in names {
        let dir = recorded_dir();
        let c2s = std::fs::read(dir.join(format!("{name}.c2s"))).expect("c2s");
        let s2c = std::fs::read(dir.join(format!("{name}.s2c"))).expect("s2c");
        let chunks: Vec<usize> = std::fs::read_to_string(dir.join(format!("{name}.chunks")))
            .expect("chunks")
            .lines()
            .map(|l| l.trim().parse().expect("chunk length"))
            .collect();

        let d = replay(&c2s, &chunks);
        let messages = if name.contains("3msgs") { 3 } else { 1 };

        // Reply codes, line by line, as the recording server sent them.
        assert_eq!(line_codes(&d.out), line_codes(&s2c), "{name}: reply codes");

        // Envelopes.
        let sums: Vec<String> = d.events.iter().map(summary).collect();
        let count = |p: &str| sums.iter().filter(|s| s.starts_with(p)).count();
        assert_eq!(
            count("mail <sender@interop.test>"),
            messages,
            "{name}: {sums:#?}"
        );
        assert_eq!(count("rcpt <rcpt1@interop.test>"), messages, "{name}");
        assert_eq!(count("rcpt <rcpt2@interop.test>"), messages, "{name}");
        assert_eq!(count("eom "), messages, "{name}");
        assert_eq!(count("rejected"), 0, "{name}: {sums:#?}");
        if name.contains("auth") {
            assert!(
                sums.iter()
                    .any(|s| s.contains("authcid=user password=secret")),
                "{name}: {sums:#?}"
            );
        }
        assert!(
            matches!(d.events.last(), Some(Event::Closed { .. })),
            "{name}: ends closed"
        );

        // Bodies: the message plus CRLF, as an independent unstuffer reads them.
        let bodies = bodies_of(&d.events);
        assert_eq!(bodies, reference_bodies(&c2s), "{name}: bodies");
        for (i, body) in bodies.iter().enumerate() {
            let marker = format!("marker {name}-{}\r\n", i + 1);
            assert!(
                body.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{name}"
            );
            assert!(body.starts_with(b"From: "), "{name}");
            let lines = b"\r\n\r\n.\r\n..two dots\r\n.leading dot\r\n";
            assert!(body.windows(lines.len()).any(|w| w == lines), "{name}");
            assert!(body.ends_with(b"\r\n.last line starts with a dot, no final newline\r\n"));
        }

        // The same octets whole and byte by byte give the same output and events.
        let whole = replay(&c2s, &[c2s.len()]);
        let ones = vec![1; c2s.len()];
        let bytewise = replay(&c2s, &ones);
        assert_eq!(whole.out, d.out, "{name}: whole");
        assert_eq!(bytewise.out, d.out, "{name}: bytewise");
        assert_eq!(whole.summaries(), d.summaries(), "{name}: whole events");
        assert_eq!(
            bytewise.summaries(),
            d.summaries(),
            "{name}: bytewise events"
        );
    }
}
