//! Shared helpers of the client tests: a scripted server driving a client session.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smtp_proto::client::{ClientConfig, Envelope, Event, Session, TlsPolicy, Usage};
use smtp_proto::{ForwardPath, Instant, ParseOptions, Reply, ReplyParser, ReversePath};

/// `<addr>` or `""` for the null path.
pub fn rp(addr: &str) -> ReversePath {
    let s = if addr.is_empty() {
        "<>".to_string()
    } else {
        format!("<{addr}>")
    };
    ReversePath::parse(&Bytes::from(s), &ParseOptions::default()).unwrap()
}

pub fn fp(addr: &str) -> ForwardPath {
    ForwardPath::parse(&Bytes::from(format!("<{addr}>")), &ParseOptions::default()).unwrap()
}

pub fn envelope(from: &str, to: &[&str]) -> Envelope {
    to.iter().fold(Envelope::new(rp(from)), |e, t| e.to(fp(t)))
}

/// A plain-text configuration with no TLS, pipelining and chunking as given.
pub fn config(pipelining: Usage, chunking: Usage) -> ClientConfig {
    ClientConfig {
        tls: TlsPolicy::None,
        pipelining,
        chunking,
        ..ClientConfig::default()
    }
}

/// A client session and everything it produced so far.
pub struct Script {
    pub s: Session,
    pub now: Instant,
    pub out: Vec<u8>,
    pub events: Vec<Event>,
}

impl Script {
    pub fn new(config: ClientConfig) -> Script {
        Script {
            s: Session::new(Arc::new(config), Instant::ZERO),
            now: Instant::ZERO,
            out: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Runs the drain order: transmit, events.
    pub fn pump(&mut self) {
        loop {
            let mut buf = BytesMut::new();
            let n = self.s.poll_transmit(self.now, &mut buf);
            self.out.extend_from_slice(&buf);
            let mut any = false;
            while let Some(e) = self.s.poll_event() {
                self.events.push(e);
                any = true;
            }
            if n == 0 && !any {
                break;
            }
        }
    }

    /// Feeds server bytes and pumps.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.s.receive(self.now, Bytes::copy_from_slice(bytes));
        self.pump();
    }

    /// Everything written since the last call.
    pub fn take_out(&mut self) -> Vec<u8> {
        self.pump();
        std::mem::take(&mut self.out)
    }

    /// Asserts the client wrote exactly `expected` since the last call.
    pub fn expect_out(&mut self, expected: &str) {
        let got = self.take_out();
        assert_eq!(
            String::from_utf8_lossy(&got),
            expected,
            "client output differs"
        );
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.pump();
        std::mem::take(&mut self.events)
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = self.now + Duration::from_secs(secs);
        self.s.handle_timeout(self.now);
        self.pump();
    }
}

/// Splits a server byte stream into its replies (raw bytes of each, line endings kept).
pub fn split_replies(s2c: &[u8]) -> Vec<Vec<u8>> {
    let mut parser = ReplyParser::default();
    let mut out = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while let Some(nl) = s2c[pos..].iter().position(|&b| b == b'\n') {
        let end = pos + nl + 1;
        let mut line = &s2c[pos..end - 1];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        pos = end;
        if parser
            .push_line(&Bytes::copy_from_slice(line))
            .unwrap()
            .is_some()
        {
            out.push(s2c[start..end].to_vec());
            start = end;
        }
    }
    out
}

/// Parses one reply from its bytes.
pub fn reply(bytes: &[u8]) -> Reply {
    let mut p = ReplyParser::default();
    let mut last = None;
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        last = p.push_line(&Bytes::copy_from_slice(line)).unwrap();
    }
    last.unwrap()
}

/// The code of each event that carries a reply, for compact assertions.
pub fn summary(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Greeting(r) => format!("greeting {}", r.code()),
            Event::Ready { .. } => "ready".into(),
            Event::StartTls => "starttls".into(),
            Event::Authenticated(r) => format!("auth {}", r.code()),
            Event::RecipientResult {
                txn,
                index,
                outcome,
            } => format!("rcpt {} {} {}", txn.as_u64(), index, outcome.reply.code()),
            Event::BodyWanted { txn } => format!("body {}", txn.as_u64()),
            Event::MessageResult {
                txn,
                recipient,
                outcome,
            } => match recipient {
                Some(r) => format!(
                    "message {} rcpt {} {}",
                    txn.as_u64(),
                    r,
                    outcome.reply.code()
                ),
                None => format!("message {} {}", txn.as_u64(), outcome.reply.code()),
            },
            Event::TransactionFailed { txn, failure } => {
                format!("failed {} {:?}", txn.as_u64(), failure)
            }
            Event::Deferred {
                txn,
                indices,
                reason,
                ..
            } => format!("deferred {} {:?} {:?}", txn.as_u64(), indices, reason),
            Event::Closed { reason, unfinished } => format!(
                "closed {:?} {:?}",
                reason,
                unfinished.iter().map(|t| t.as_u64()).collect::<Vec<_>>()
            ),
            other => format!("{other:?}"),
        })
        .collect()
}
