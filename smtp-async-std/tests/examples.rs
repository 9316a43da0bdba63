//! The `maildir-server` and `send` examples end to end, as scripts run them: the server
//! with STARTTLS (self-signed) and AUTH on an ephemeral port, `send` delivering a file over
//! STARTTLS with AUTH, the stored message checked byte for byte, then SIGINT and a clean
//! exit. The binaries are the ones built for the enabled runtime feature.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use smtp_async_std::DefaultRuntime;
use smtp_driver::examples::{built_example, version};

fn example(name: &str) -> PathBuf {
    let version = version::<DefaultRuntime>(name);
    built_example(name, &version).unwrap_or_else(|| {
        panic!("no {name} example answering {version:?}: run `cargo test -p smtp-async-std`")
    })
}

/// Kills the server if the test fails before it exits.
struct Server(Option<Child>);

impl Server {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("running")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn maildir_server_and_send_examples_deliver_over_starttls_with_auth() {
    let dir = std::env::temp_dir().join(format!("smtp-async-std-examples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let maildir = dir.join("maildir");
    let mut server = Server(Some(
        Command::new(example("maildir-server"))
            .args(["--listen", "127.0.0.1:0", "--hostname", "mx.example.test"])
            .arg("--maildir")
            .arg(&maildir)
            .args(["--auth", "alice:s3cret", "--tls-self-signed"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn maildir-server"),
    ));
    let stderr = server.child().stderr.take().expect("stderr");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs its address");
        if line.contains("listening") {
            break line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .expect("addr= in the log line")
                .to_owned();
        }
    };

    let message = dir.join("message.eml");
    // Bare LF line endings: the session sends CRLF; a leading dot is stuffed and unstuffed.
    std::fs::write(&message, "Subject: example\n\n.dot line\nbody\n").expect("message");
    let sent = Command::new(example("send"))
        .args([
            "--server",
            &addr,
            "--from",
            "a@client.test",
            "--to",
            "b@mx.example.test",
        ])
        .args([
            "--starttls",
            "--insecure-accept-any-cert",
            "--auth",
            "alice:s3cret",
        ])
        .arg(&message)
        .stdin(Stdio::null())
        .output()
        .expect("run send");
    let stdout = String::from_utf8_lossy(&sent.stdout);
    assert!(
        sent.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        stdout.starts_with("b@mx.example.test: delivered: 250 2.0.0 Ok: queued as "),
        "{stdout}"
    );

    let stored: Vec<PathBuf> = std::fs::read_dir(maildir.join("new"))
        .expect("new/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8(std::fs::read(&stored[0]).expect("read")).expect("utf-8");
    assert!(text.starts_with("Received: from "), "{text}");
    assert!(
        text.contains("by mx.example.test (smtp-async-std) with ESMTPSA"),
        "{text}"
    );
    assert!(
        text.ends_with("\r\nSubject: example\r\n\r\n.dot line\r\nbody\r\n"),
        "{text:?}"
    );

    let status = Command::new("kill")
        .args(["-INT", &server.child().id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut child = server.0.take().expect("running");
    let (exit_tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait());
    });
    let exit = exited
        .recv_timeout(Duration::from_secs(30))
        .expect("server exits after SIGINT")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
