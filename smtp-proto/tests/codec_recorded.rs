//! Every command line that 30 real SMTP clients sent (`tests/transcripts/recorded/client-*.c2s`,
//! recordings of curl, Go net/smtp, lettre, mail-send, msmtp, nodemailer, Perl Net::SMTP,
//! Python smtplib and swaks) parses with the default (strict) options to a known command,
//! and writes back to a line that parses to the same command.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use smtp_proto::command::InitialResponse;
use smtp_proto::{Command, ParseOptions, Status};

/// Splits a client stream into command lines: message bodies after DATA and SASL responses
/// after AUTH are skipped.
fn command_lines(c2s: &[u8]) -> Vec<Bytes> {
    let all = Bytes::copy_from_slice(c2s);
    let opts = ParseOptions::default();
    let mut out = Vec::new();
    let mut rest = all.clone();
    let mut in_data = false;
    let mut sasl_lines = 0;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = rest.slice(..end);
        let _ = rest.split_to(end + 2);
        if in_data {
            in_data = &line[..] != b".";
            continue;
        }
        if sasl_lines > 0 {
            sasl_lines -= 1;
            continue;
        }
        match Command::parse_line(&line, &opts) {
            Ok(Command::Data) => in_data = true,
            Ok(Command::Auth {
                mechanism,
                initial_response,
            }) => {
                // LOGIN: user name and password, one of them possibly as initial response;
                // PLAIN: one response unless given initially.
                let total = if mechanism.name() == b"LOGIN" { 2 } else { 1 };
                sasl_lines = total
                    - usize::from(matches!(initial_response, Some(InitialResponse::Base64(_))));
            }
            _ => {}
        }
        out.push(line);
    }
    out
}

#[test]
fn every_recorded_client_command_parses_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/recorded");
    let opts = ParseOptions::default();
    let mut files = 0;
    let mut lines = 0;
    let mut verbs = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("recordings") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !(name.starts_with("client-") && name.ends_with(".c2s")) {
            continue;
        }
        files += 1;
        let c2s = std::fs::read(&path).expect("read");
        for line in command_lines(&c2s) {
            let cmd = Command::parse_line(&line, &opts)
                .unwrap_or_else(|e| panic!("{name}: {line:?}: {e:?}"));
            assert!(
                !matches!(cmd, Command::Unknown { .. }),
                "{name}: {line:?} unknown"
            );
            verbs.insert(
                line.split(|&b| b == b' ')
                    .next()
                    .map(|v| v.to_ascii_uppercase()),
            );
            let mut w = BytesMut::new();
            cmd.write(&mut w);
            let w = w.freeze();
            assert_eq!(
                Command::parse(&w, &opts),
                Ok(Status::Complete((cmd, w.len()))),
                "{name}: {line:?}"
            );
            lines += 1;
        }
    }
    assert_eq!(files, 30, "recordings present");
    assert!(lines >= 220, "{lines} lines");
    // EHLO, MAIL, RCPT, DATA, QUIT, AUTH and RSET all occur in the recordings.
    for v in ["EHLO", "MAIL", "RCPT", "DATA", "QUIT", "AUTH"] {
        assert!(verbs.contains(&Some(v.as_bytes().to_vec())), "{v} missing");
    }
}
