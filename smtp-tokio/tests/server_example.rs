//! End to end: the `maildir-server` example binary, as the README runs it, receives mail
//! from real clients (swaks over STARTTLS with AUTH; smtp-source over LMTP), then stops on
//! SIGINT.

mod server_common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use server_common::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `cargo test` builds the examples next to the test binaries; smtp-async-std has an example
/// of the same name, so ours is found by its `--version`.
fn example_binary() -> PathBuf {
    let version = smtp_driver::examples::version::<smtp_tokio::Tokio>("maildir-server");
    smtp_driver::examples::built_example("maildir-server", &version).unwrap_or_else(|| {
        panic!("no maildir-server example answering {version:?}: run `cargo test -p smtp-tokio`")
    })
}

struct Running {
    child: Child,
    addrs: Vec<String>,
    log: tokio::task::JoinHandle<Vec<String>>,
}

/// Starts the example on ephemeral ports and reads the addresses it logs.
async fn start(args: &[&str], listeners: usize) -> Running {
    let mut child = Command::new(example_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn maildir-server");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut addrs = Vec::new();
    let mut seen = Vec::new();
    while addrs.len() < listeners {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the server logs its addresses")
            .expect("stderr")
            .unwrap_or_else(|| panic!("server exited early:\n{}", seen.join("\n")));
        if line.contains("listening") {
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .expect("addr= in the log line");
            addrs.push(addr.to_owned());
        }
        seen.push(line);
    }
    let log = tokio::spawn(async move {
        let mut rest = seen;
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    });
    Running { child, addrs, log }
}

impl Running {
    /// SIGINT, as Ctrl-C would; the server shuts down gracefully and exits 0.
    async fn interrupt(mut self) -> Vec<String> {
        let pid = self.child.id().expect("pid").to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .await
            .expect("kill");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("server exits after SIGINT")
            .expect("wait");
        let log = self.log.await.expect("log task");
        assert!(exit.success(), "exit {exit:?}\n{}", log.join("\n"));
        log
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_over_starttls_with_auth_via_swaks() {
    let Some(swaks) = peer("swaks") else { return };
    let dir = scratch_dir("example-swaks");
    let maildir = dir.join("maildir");
    let server = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--implicit-tls",
            "127.0.0.1:0",
            "--maildir",
            maildir.to_str().expect("utf-8 path"),
            "--hostname",
            "mx.example.test",
            "--tls-self-signed",
            "--auth",
            "dave:pw-dave",
            "--max-size",
            "100000",
        ],
        2,
    )
    .await;
    let (host, port) = server.addrs[0].rsplit_once(':').expect("host:port");
    let body = dir.join("body.eml");
    std::fs::write(&body, "Subject: e2e\r\n\r\nthrough the example\r\n").expect("write");
    let data = format!("@{}", body.display());
    let send = |extra: Vec<&'static str>| {
        let mut args = vec![
            "--server",
            host,
            "--port",
            port,
            "--helo",
            "client.example",
            "--from",
            "s@client.example",
            "--to",
            "r@example.test",
            "--data",
            &data,
            "--timeout",
            "20",
        ];
        args.extend(extra);
        std::process::Command::new(&swaks)
            .args(args)
            .output()
            .expect("swaks")
    };
    // Without AUTH, MAIL is refused (the server was given --auth).
    let refused = send(vec!["--tls"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("530 5.7.0"));
    let sent = send(vec![
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "dave",
        "--auth-password",
        "pw-dave",
    ]);
    let transcript = String::from_utf8_lossy(&sent.stdout).into_owned();
    assert!(sent.status.success(), "{transcript}");

    let new = files(&maildir.join("new"));
    assert_eq!(new.len(), 1, "{transcript}");
    assert!(
        transcript.contains(&format!("250 2.0.0 Ok: queued as {}", new[0])),
        "{transcript}"
    );
    let stored = std::fs::read_to_string(maildir.join("new").join(&new[0])).expect("read");
    let (received, rest) = stored
        .split_once("\r\n\tfor <r@example.test>; ")
        .expect("for clause");
    assert!(
        received.starts_with("Received: from client.example ([127.0.0.1])"),
        "{stored}"
    );
    assert!(
        received.contains("by mx.example.test (smtp-tokio) with ESMTPSA"),
        "{stored}"
    );
    // swaks adds CRLF "." CRLF after the data's own final CRLF.
    assert!(
        rest.ends_with(" +0000\r\nSubject: e2e\r\n\r\nthrough the example\r\n\r\n"),
        "{stored}"
    );

    // --max-size 100000: a larger body is refused with 552 and stored nowhere.
    let big = dir.join("big.eml");
    let line = "x".repeat(998);
    let big_body: String = (0..120).map(|_| format!("{line}\r\n")).collect();
    std::fs::write(&big, format!("Subject: big\r\n\r\n{big_body}")).expect("write");
    let big_data = format!("@{}", big.display());
    let too_big = std::process::Command::new(&swaks)
        .args([
            "--server",
            host,
            "--port",
            port,
            "--from",
            "s@client.example",
            "--to",
            "r@example.test",
            "--data",
            &big_data,
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "dave",
            "--auth-password",
            "pw-dave",
            "--timeout",
            "20",
        ])
        .output()
        .expect("swaks");
    let too_big_transcript = String::from_utf8_lossy(&too_big.stdout);
    assert!(
        too_big_transcript.contains("552 5.3.4"),
        "{too_big_transcript}"
    );
    assert_eq!(files(&maildir.join("new")).len(), 1);
    assert!(files(&maildir.join("tmp")).is_empty());

    let log = server.interrupt().await;
    let stored_lines = log.iter().filter(|l| l.contains("message stored")).count();
    assert_eq!(
        stored_lines,
        1,
        "one log line per message:\n{}",
        log.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_speaks_lmtp_to_smtp_source() {
    let Some(source) = peer("smtp-source") else {
        return;
    };
    let dir = scratch_dir("example-lmtp");
    let maildir = dir.join("maildir");
    let server = start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--maildir",
            maildir.to_str().expect("utf-8 path"),
            "--lmtp",
        ],
        1,
    )
    .await;
    let target = format!("inet:{}", server.addrs[0]);
    let out = Command::new(&source)
        .args([
            "-4",
            "-L",
            "-M",
            "client.example",
            "-r",
            "3",
            "-m",
            "20",
            "-s",
            "4",
            "-l",
            "300",
            &target,
        ])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("smtp-source finishes")
        .expect("smtp-source");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = files(&maildir.join("new"));
    assert_eq!(new.len(), 20);
    for name in &new {
        let stored = std::fs::read_to_string(maildir.join("new").join(name)).expect("read");
        assert!(stored.contains(" with LMTP "), "{stored}");
        // Three recipients: no `for` clause (it would disclose Bcc recipients).
        assert!(!stored.contains("\tfor <"), "{stored}");
    }
    let log = server.interrupt().await;
    assert_eq!(
        log.iter().filter(|l| l.contains("message stored")).count(),
        20
    );
    let _ = std::fs::remove_dir_all(&dir);
}
