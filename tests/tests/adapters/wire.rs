//! A blocking std-net SMTP line client (plaintext or rustls) for raw-byte cases: every read
//! has a deadline, so a server that stays silent fails the test instead of hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How long one reply may take to arrive.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(30);

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(data),
            Stream::Tls(s) => s.write_all(data).and_then(|()| s.flush()),
        }
    }
}

/// A connection that writes lines and reads (multi-line) replies.
pub struct Wire {
    stream: Stream,
    /// Read but not yet returned.
    buf: Vec<u8>,
}

impl Wire {
    /// Connects to `addr` with every read bounded by [`REPLY_DEADLINE`].
    pub fn connect(addr: SocketAddr) -> std::io::Result<Wire> {
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        tcp.set_read_timeout(Some(REPLY_DEADLINE))?;
        tcp.set_write_timeout(Some(REPLY_DEADLINE))?;
        Ok(Wire {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
        })
    }

    /// Connects and reads the greeting, which must be `220`.
    pub fn greeted(addr: SocketAddr) -> Wire {
        let mut wire = Wire::connect(addr).expect("connect");
        let greeting = wire.reply();
        assert!(greeting.starts_with("220 "), "{greeting:?}");
        wire
    }

    /// Reads more into the buffer; `false` at EOF (or a reset). A read that runs past the
    /// deadline fails the test.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("nothing from the server within {REPLY_DEADLINE:?}")
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(_) => false,
        }
    }

    /// One reply (all its lines, with CRLFs); empty at EOF.
    pub fn reply(&mut self) -> String {
        let mut start = 0;
        loop {
            while let Some(nl) = self.buf[start..].windows(2).position(|w| w == b"\r\n") {
                let line_end = start + nl + 2;
                if self.buf.get(start + 3) != Some(&b'-') {
                    let reply: Vec<u8> = self.buf.drain(..line_end).collect();
                    return String::from_utf8_lossy(&reply).into_owned();
                }
                start = line_end;
            }
            if !self.fill() {
                let rest: Vec<u8> = self.buf.drain(..).collect();
                return String::from_utf8_lossy(&rest).into_owned();
            }
        }
    }

    /// Everything until the server closes.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill() {}
        self.buf.drain(..).collect()
    }

    /// The TCP socket of a plaintext connection.
    pub fn raw_socket(&self) -> &TcpStream {
        match &self.stream {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(_) => panic!("not a plaintext connection"),
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("write");
    }

    /// Sends a line and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends a line and checks the reply starts with `want`.
    #[track_caller]
    pub fn expect(&mut self, line: &str, want: &str) -> String {
        let reply = self.cmd(line);
        assert!(
            reply.starts_with(want),
            "{line:?}: want {want:?}, got {reply:?}"
        );
        reply
    }

    /// MAIL, RCPT, DATA, the body (already dot-stuffed, ending in CRLF) and the dot; the
    /// final reply.
    pub fn send_message(&mut self, from: &str, to: &str, body: &[u8]) -> String {
        self.expect(&format!("MAIL FROM:<{from}>"), "250 ");
        self.expect(&format!("RCPT TO:<{to}>"), "250 ");
        self.expect("DATA", "354 ");
        self.send(body);
        self.send(b".\r\n");
        self.reply()
    }

    /// The TLS handshake after a `220` to STARTTLS, trusting `config`'s roots for
    /// `localhost`. Nothing may have come after the `220`.
    pub fn starttls(self, config: Arc<rustls::ClientConfig>) -> Wire {
        assert!(
            self.buf.is_empty(),
            "bytes after the 220 to STARTTLS: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let Stream::Plain(tcp) = self.stream else {
            panic!("STARTTLS twice");
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut conn = rustls::ClientConnection::new(config, name).expect("TLS client");
        let mut tcp = tcp;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("TLS handshake");
        }
        Wire {
            stream: Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))),
            buf: Vec::new(),
        }
    }

    /// Writes `input` from a second thread while reading everything the server sends until
    /// it closes (so a server that answers while it reads never blocks on a full socket).
    /// With `half_close` the client then closes its side; otherwise it stays until the
    /// server closes. Plaintext only.
    pub fn exchange(addr: SocketAddr, input: Vec<u8>, half_close: bool) -> Vec<u8> {
        let mut wire = Wire::connect(addr).expect("connect");
        let Stream::Plain(tcp) = &wire.stream else {
            unreachable!("a fresh connection is plaintext")
        };
        let mut writer = tcp.try_clone().expect("clone the socket");
        let feeder = std::thread::spawn(move || {
            // The server may close before taking everything (too many errors): not an error.
            let _ = writer.write_all(&input);
            if half_close {
                let _ = writer.shutdown(Shutdown::Write);
            }
        });
        let out = wire.read_to_end();
        let _ = feeder.join();
        out
    }
}

/// Splits a server's output into reply lines (without CRLF).
pub fn lines(wire: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(wire)
        .split_terminator("\r\n")
        .map(str::to_owned)
        .collect()
}

/// The reply codes of a server's output, one per reply (continuation lines skipped).
pub fn codes(wire: &[u8]) -> Vec<u16> {
    lines(wire)
        .iter()
        .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
        .map(|l| l.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0))
        .collect()
}
