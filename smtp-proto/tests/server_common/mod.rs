//! Test support for the server session: a driver that records output and events, and the
//! `C:`/`S:` transcript runner (SANS-IO.md section 9).
//!
//! Transcript syntax, one directive per line:
//!
//! - `C: text` client octets, CRLF appended; `C> text` the same without CRLF. Escapes:
//!   `\r`, `\n`, `\t`, `\\`, `\xHH`, and `\*N{text}` for `text` repeated N times.
//! - `S: text` one expected server line (CRLF appended). Consecutive `S:` lines must equal
//!   exactly the output produced since the previous check.
//! - `A: accept [reply]`, `A: reject <reply>`, `A: challenge <text>`, `A: lmtp r1 | r2`,
//!   `A: shutdown [reply]`, `A: hold`: answers to pending decisions, in order. A decision with
//!   no `A:` line next in the script is accepted automatically (unless held).
//! - `E: text` an event summary that must come next among the events not yet checked
//!   (events in between are skipped; `E:` matches a summary's prefix).
//! - `T: +Ns` advance the clock and call `handle_timeout`.
//! - `TLS` call `tls_established` (the `StartTls` event must have been seen).
//! - `EOF` call `receive_eof`.
//! - `@ option [value]` (before the first `C:`) configures the server; see [`configure`].
//! - `#` comments and blank lines are ignored.
#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use smtp_proto::server::{
    AuthTlsPolicy, BareLineEndingPolicy, EarlyTalkerPolicy, Event, ExpnPolicy, Greeting,
    MailAuthPolicy, PipeliningPolicy, PreparedConfig, Protocol, ServerConfig, Session,
    StartTlsInjectionPolicy, TlsInfo, VrfyPolicy,
};
use smtp_proto::{
    EnhancedCode, Instant, LineEnding, MailParams, Mechanism, RcptParams, Reply, ReplyCode,
};

/// Parses `550 5.7.1 text` (the enhanced code is optional).
pub fn reply(text: &str) -> Reply {
    let text = text.trim();
    let (code, rest) = text.split_at(3.min(text.len()));
    let code = ReplyCode::new(code.parse().expect("reply code")).expect("valid code");
    let rest = rest.trim_start();
    let (enh, body) = match rest.split_once(' ') {
        Some((e, b)) if EnhancedCode::parse(e.as_bytes()).is_some() => {
            (EnhancedCode::parse(e.as_bytes()), b.to_string())
        }
        _ if EnhancedCode::parse(rest.as_bytes()).is_some() => {
            (EnhancedCode::parse(rest.as_bytes()), String::new())
        }
        _ => (None, rest.to_string()),
    };
    Reply::new(code, enh, body)
}

/// The recording server's configuration (shared/transcripts README, Part A).
pub fn recorder_config() -> ServerConfig {
    let mut c = ServerConfig::new("rec.interop.test");
    c.limits.max_message_size = Some(20_000_000);
    c.extensions.dsn = true;
    c.extensions.auth = vec![Mechanism::Plain, Mechanism::Login];
    c.policy.auth_tls = AuthTlsPolicy::AllowPlaintext;
    c
}

/// Applies one `@ option value` line.
pub fn configure(c: &mut ServerConfig, option: &str, value: &str) {
    let num = || value.trim().parse::<u64>().expect("number");
    match option {
        "lmtp" => c.protocol = Protocol::Lmtp,
        "starttls" => c.extensions.starttls = true,
        "auth" => {
            c.extensions.auth = value
                .split_whitespace()
                .map(|m| Mechanism::from_name(m.as_bytes()))
                .collect()
        }
        "plaintext-auth" => c.policy.auth_tls = AuthTlsPolicy::AllowPlaintext,
        "mail-auth" => c.policy.mail_auth = MailAuthPolicy::Required,
        "max-recipients" => c.limits.max_recipients = num() as usize,
        "max-message-size" => c.limits.max_message_size = Some(num()),
        "no-size-limit" => c.limits.max_message_size = None,
        "max-line" => c.limits.max_command_line = num() as usize,
        "max-auth-line" => c.limits.max_auth_line = num() as usize,
        "max-errors" => c.limits.max_errors = num() as u32,
        "max-transactions" => c.limits.max_transactions = Some(num() as u32),
        "max-pending-input" => c.limits.max_pending_input = num() as usize,
        "max-buffered-input" => c.limits.max_buffered_input = num() as usize,
        "no-pipelining" => c.extensions.pipelining = false,
        "no-chunking" => c.extensions.chunking = false,
        "no-esc" => c.extensions.enhanced_status_codes = false,
        "no-smtputf8" => c.extensions.smtputf8 = false,
        "no-8bitmime" => c.extensions.eight_bit_mime = false,
        "no-size" => c.extensions.size = false,
        "dsn" => c.extensions.dsn = true,
        "binarymime" => c.extensions.binary_mime = true,
        "requiretls" => c.extensions.requiretls = true,
        "limits" => c.extensions.limits = true,
        "bare" => {
            c.policy.bare_line_endings = match value.trim() {
                "reject" => BareLineEndingPolicy::Reject,
                "normalize" => BareLineEndingPolicy::Normalize,
                "pass" => BareLineEndingPolicy::Pass,
                v => panic!("bare {v}"),
            }
        }
        "lf-commands" => c.policy.command_line_ending = LineEnding::CrLfOrLf,
        "pipelining" => {
            c.policy.improper_pipelining = match value.trim() {
                "refuse" => PipeliningPolicy::Refuse,
                _ => PipeliningPolicy::Tolerate,
            }
        }
        "early-talker" => {
            c.policy.early_talker = match value.trim() {
                "tolerate" => EarlyTalkerPolicy::Tolerate,
                _ => EarlyTalkerPolicy::Refuse,
            }
        }
        "starttls-injection" => c.policy.starttls_injection = StartTlsInjectionPolicy::Close,
        "vrfy" => {
            c.policy.vrfy = match value.trim() {
                "ask" => VrfyPolicy::Ask,
                "disabled" => VrfyPolicy::Disabled,
                _ => VrfyPolicy::CannotVerify,
            }
        }
        "expn" => c.policy.expn = ExpnPolicy::Ask,
        "greeting-delay" => c.timeouts.greeting_delay = Some(Duration::from_secs(num())),
        "session-timeout" => c.timeouts.session = Some(Duration::from_secs(num())),
        "command-timeout" => c.timeouts.command = Duration::from_secs(num()),
        "data-timeout" => c.timeouts.data = Duration::from_secs(num()),
        "reject-greeting" => c.greeting = Greeting::Reject(reply(value)),
        "hostname" => c.hostname = value.trim().to_string(),
        "banner" => c.greeting = Greeting::Banner(value.trim().to_string()),
        "recorder" => *c = recorder_config(),
        other => panic!("unknown option @ {other}"),
    }
}

/// Unescapes transcript text.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let h = std::str::from_utf8(&b[i + 2..i + 4]).expect("hex");
                out.push(u8::from_str_radix(h, 16).expect("hex"));
                i += 2;
            }
            b'*' => {
                let open = i + s[i..].find('{').expect("{");
                let close = open + s[open..].find('}').expect("}");
                let n: usize = s[i + 2..open].parse().expect("count");
                let piece = unescape(&s[open + 1..close]);
                for _ in 0..n {
                    out.extend_from_slice(&piece);
                }
                i = close + 1;
                continue;
            }
            other => panic!("unknown escape \\{}", other as char),
        }
        i += 2;
    }
    out
}

/// Escapes octets for summaries.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s
}

/// A one-line description of an event, for `E:` lines and for comparing runs.
pub fn summary(ev: &Event) -> String {
    match ev {
        Event::Helo(h) => format!("helo {:?} {}", h.verb, h.host),
        Event::Mail(m) if m.params == MailParams::default() => format!("mail {}", m.reverse_path),
        Event::Mail(m) => format!("mail {} {:?}", m.reverse_path, m.params),
        Event::Rcpt(r) if r.params == RcptParams::default() => format!("rcpt {}", r.forward_path),
        Event::Rcpt(r) => format!("rcpt {} {:?}", r.forward_path, r.params),
        Event::DataStart(d) => format!("data-start {:?} rcpts={}", d.kind, d.recipients),
        Event::Body(b) => format!("body {}", escape(b)),
        Event::EndOfMessage(e) => {
            format!("eom size={} {:?} rcpts={}", e.size, e.kind, e.recipients)
        }
        Event::MessageAborted { reason } => format!("aborted {reason:?}"),
        Event::Auth(a) => format!(
            "auth {} authzid={} authcid={} password={}",
            escape(a.mechanism.name()),
            escape(a.authzid.as_deref().unwrap_or(b"")),
            escape(&a.authcid),
            escape(a.password.expose())
        ),
        Event::AuthStep(s) => format!(
            "auth-step {} {}",
            escape(s.mechanism.name()),
            s.response
                .as_ref()
                .map_or("none".to_string(), |r| escape(r.expose()))
        ),
        Event::Vrfy(v) => format!("vrfy {}", escape(&v.argument)),
        Event::Expn(v) => format!("expn {}", escape(&v.argument)),
        Event::Rejected(r) => format!("rejected {} {}", escape(&r.verb), r.reply.code().as_u16()),
        Event::StartTls {
            discarded_plaintext,
        } => format!("starttls discarded={discarded_plaintext}"),
        Event::Reset => "reset".to_string(),
        Event::Quit => "quit".to_string(),
        Event::Closed { reason } => format!("closed {reason:?}"),
        other => format!("{other:?}"),
    }
}

/// Coalesces consecutive `body` summaries (bodies may be cut differently by splits).
pub fn coalesce(events: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if let (Some(last), Some(rest)) = (out.last_mut(), e.strip_prefix("body ")) {
            if last.starts_with("body ") {
                last.push_str(rest);
                continue;
            }
        }
        out.push(e.clone());
    }
    out
}

/// A session with its recorded output and events, on a simulated clock.
pub struct Driver {
    pub session: Session,
    pub now: Instant,
    pub out: Vec<u8>,
    pub events: Vec<Event>,
    pub max_buffered: usize,
}

impl Driver {
    pub fn new(config: impl Into<PreparedConfig>) -> Driver {
        let session = Session::new(config, Instant::ZERO);
        let mut d = Driver {
            session,
            now: Instant::ZERO,
            out: Vec::new(),
            events: Vec::new(),
            max_buffered: 0,
        };
        d.pump();
        d
    }

    /// Drains output and events (without deciding).
    pub fn pump(&mut self) {
        loop {
            let mut buf = BytesMut::new();
            self.session.poll_transmit(self.now, &mut buf);
            self.out.extend_from_slice(&buf);
            let mut any = false;
            while let Some(ev) = self.session.poll_event() {
                self.events.push(ev);
                any = true;
            }
            self.max_buffered = self.max_buffered.max(self.session.buffered_bytes());
            if !any {
                break;
            }
        }
    }

    /// Receives, then drains; auto-accepts every decision.
    pub fn feed(&mut self, data: &[u8]) {
        self.session.receive(self.now, Bytes::copy_from_slice(data));
        self.settle();
    }

    /// Drains and accepts decisions until nothing is pending.
    pub fn settle(&mut self) {
        loop {
            self.pump();
            if self.session.pending().is_none() {
                break;
            }
            self.session.accept().expect("accept");
        }
        self.pump();
    }

    pub fn take_out(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.out)).into_owned()
    }

    pub fn summaries(&self) -> Vec<String> {
        coalesce(&self.events.iter().map(summary).collect::<Vec<_>>())
    }

    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for e in &self.events {
            if let Event::Body(x) = e {
                b.extend_from_slice(x);
            }
        }
        b
    }

    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        self.session.handle_timeout(self.now);
        self.pump();
    }
}

#[derive(Debug, Clone)]
enum Step {
    Input(Vec<u8>),
    Expect(Vec<u8>),
    Decide(String),
    Event(String),
    Time(Duration),
    Tls,
    Eof,
    WholeOnly,
}

/// How a transcript's client octets are cut into `receive` calls.
#[derive(Debug, Clone, Copy)]
pub enum Split {
    /// Each batch of consecutive `C:` lines in one call.
    Whole,
    /// One octet per call.
    Bytewise,
    /// Pseudo-random cuts from this seed.
    Random(u64),
}

/// The outcome of one run: the full output and the coalesced event summaries.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub output: String,
    pub events: Vec<String>,
}

struct Runner<'a> {
    d: Driver,
    steps: &'a [Step],
    pos: usize,
    pending_input: Vec<u8>,
    split: Split,
    rng: u64,
    held: bool,
    checked_out: usize,
    event_cursor: usize,
    name: &'a str,
}

impl Runner<'_> {
    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn deliver(&mut self) {
        let input = std::mem::take(&mut self.pending_input);
        if input.is_empty() {
            self.drain();
            return;
        }
        let mut i = 0;
        while i < input.len() {
            let n = match self.split {
                Split::Whole => input.len(),
                Split::Bytewise => 1,
                Split::Random(_) => 1 + (self.next_rand() % 64) as usize,
            };
            let end = (i + n).min(input.len());
            self.d
                .session
                .receive(self.d.now, Bytes::copy_from_slice(&input[i..end]));
            i = end;
            self.drain();
        }
    }

    /// Drains, answering decisions from the script (or automatically).
    fn drain(&mut self) {
        loop {
            self.d.pump();
            if self.d.session.pending().is_none() || self.held {
                return;
            }
            // `E:` lines between the input and its `A:` check events already emitted; when
            // one is not there yet, the `A:` is for a later decision and this one is
            // accepted automatically.
            let mut j = self.pos;
            let mut cursor = self.event_cursor;
            while let Some(Step::Event(want)) = self.steps.get(j) {
                match self.find_event(want, cursor) {
                    Some(c) => cursor = c,
                    None => break,
                }
                j += 1;
            }
            if matches!(self.steps.get(j), Some(Step::Decide(_))) {
                self.pos = j;
                self.event_cursor = cursor;
            }
            match self.steps.get(self.pos) {
                Some(Step::Decide(text)) => {
                    let text = text.clone();
                    self.pos += 1;
                    if text.trim() == "hold" {
                        self.held = true;
                        return;
                    }
                    self.decide(&text);
                }
                _ => self.d.session.accept().expect("auto-accept"),
            }
        }
    }

    /// The cursor after the first event at or after `cursor` matching `want`.
    fn find_event(&self, want: &str, cursor: usize) -> Option<usize> {
        let all: Vec<String> = coalesce(&self.d.events.iter().map(summary).collect::<Vec<_>>());
        all[cursor.min(all.len())..]
            .iter()
            .position(|e| e.starts_with(want))
            .map(|i| cursor + i + 1)
    }

    fn check_event(&mut self, want: &str) {
        let all: Vec<String> = coalesce(&self.d.events.iter().map(summary).collect::<Vec<_>>());
        match self.find_event(want, self.event_cursor) {
            Some(c) => self.event_cursor = c,
            None => panic!(
                "{} ({:?}): event `{want}` not found after #{} in {:#?}",
                self.name, self.split, self.event_cursor, all
            ),
        }
    }

    fn decide(&mut self, text: &str) {
        let (verb, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        let s = &mut self.d.session;
        let r = match verb {
            "accept" if rest.is_empty() => s.accept(),
            "accept" => s.accept_with(reply(rest)),
            "reject" => s.reject(reply(rest)),
            "challenge" => s.auth_challenge(&unescape(rest)),
            "lmtp" => s.decide_lmtp(rest.split('|').map(reply)),
            "shutdown" => {
                s.shutdown((!rest.is_empty()).then(|| reply(rest)));
                Ok(())
            }
            other => panic!("{}: unknown decision {other}", self.name),
        };
        r.unwrap_or_else(|e| panic!("{}: decision {text}: {e}", self.name));
    }

    fn run(mut self) -> Outcome {
        while self.pos < self.steps.len() {
            if let Step::Input(b) = &self.steps[self.pos] {
                self.pending_input.extend_from_slice(b);
                self.pos += 1;
                continue;
            }
            // Delivering may consume the `A:` lines that answer the decisions it raises.
            self.deliver();
            let Some(step) = self.steps.get(self.pos).cloned() else {
                break;
            };
            if matches!(step, Step::Input(_)) {
                continue;
            }
            self.pos += 1;
            match step {
                Step::Input(_) => {}
                Step::Expect(first) => {
                    let mut want = first;
                    while let Some(Step::Expect(more)) = self.steps.get(self.pos) {
                        want.extend_from_slice(more);
                        self.pos += 1;
                    }
                    let got = &self.d.out[self.checked_out..];
                    assert_eq!(
                        escape(got),
                        escape(&want),
                        "{} ({:?}): output before line {}",
                        self.name,
                        self.split,
                        self.pos
                    );
                    self.checked_out = self.d.out.len();
                }
                Step::Decide(text) => {
                    assert!(
                        self.held,
                        "{}: `A: {text}` with no held decision (a pending decision takes the A: line that follows its input)",
                        self.name
                    );
                    self.held = false;
                    if text.trim() != "hold" {
                        self.decide(&text);
                    }
                    self.drain();
                }
                Step::Event(want) => self.check_event(&want),
                Step::Time(d) => {
                    self.d.now = self.d.now + d;
                    self.d.session.handle_timeout(self.d.now);
                    self.drain();
                }
                Step::Tls => {
                    self.d
                        .session
                        .tls_established(TlsInfo::new())
                        .unwrap_or_else(|e| panic!("{}: TLS: {e}", self.name));
                    self.drain();
                }
                Step::Eof => {
                    self.d.session.receive_eof(self.d.now);
                    self.drain();
                }
                Step::WholeOnly => {}
            }
        }
        self.deliver();
        assert_eq!(
            escape(&self.d.out[self.checked_out..]),
            "",
            "{} ({:?}): unchecked output at the end",
            self.name,
            self.split
        );
        Outcome {
            output: String::from_utf8_lossy(&self.d.out).into_owned(),
            events: self.d.summaries(),
        }
    }
}

/// Parses a transcript into its configuration and steps.
fn parse(text: &str) -> (ServerConfig, Vec<Step>) {
    let mut config = ServerConfig::new("mx.example.org");
    let mut steps = Vec::new();
    for raw in text.lines() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.trim() == "@ whole-only" {
            // Behaviour that depends on read timing by design (documented in the file).
            steps.push(Step::WholeOnly);
        } else if let Some(rest) = line.strip_prefix("@ ") {
            let (opt, val) = rest.split_once(' ').unwrap_or((rest, ""));
            configure(&mut config, opt.trim(), val);
        } else if let Some(rest) = line.strip_prefix("C: ").or(line.strip_prefix("C:")) {
            let mut b = unescape(rest);
            b.extend_from_slice(b"\r\n");
            steps.push(Step::Input(b));
        } else if let Some(rest) = line.strip_prefix("C> ") {
            steps.push(Step::Input(unescape(rest)));
        } else if let Some(rest) = line.strip_prefix("S: ").or(line.strip_prefix("S:")) {
            let mut b = unescape(rest);
            b.extend_from_slice(b"\r\n");
            steps.push(Step::Expect(b));
        } else if let Some(rest) = line.strip_prefix("A: ") {
            steps.push(Step::Decide(rest.to_string()));
        } else if let Some(rest) = line.strip_prefix("E: ") {
            steps.push(Step::Event(rest.to_string()));
        } else if let Some(rest) = line.strip_prefix("T: +") {
            let secs: u64 = rest.trim().trim_end_matches('s').parse().expect("seconds");
            steps.push(Step::Time(Duration::from_secs(secs)));
        } else if line.trim() == "TLS" {
            steps.push(Step::Tls);
        } else if line.trim() == "EOF" {
            steps.push(Step::Eof);
        } else {
            panic!("bad transcript line: {line}");
        }
    }
    (config, steps)
}

/// Runs a transcript in one split mode.
pub fn run_transcript(name: &str, text: &str, split: Split) -> Outcome {
    let (config, steps) = parse(text);
    let seed = match split {
        Split::Random(s) => s | 1,
        _ => 1,
    };
    let runner = Runner {
        d: Driver::new(config),
        steps: &steps,
        pos: 0,
        pending_input: Vec::new(),
        split,
        rng: seed,
        held: false,
        checked_out: 0,
        event_cursor: 0,
        name,
    };
    runner.run()
}

/// Runs a transcript whole, byte by byte and at several random splits; all must agree.
pub fn check_transcript(name: &str, text: &str) -> Outcome {
    let whole = run_transcript(name, text, Split::Whole);
    if text.lines().any(|l| l.trim() == "@ whole-only") {
        return whole;
    }
    let bytewise = run_transcript(name, text, Split::Bytewise);
    assert_eq!(
        normalized(&whole),
        normalized(&bytewise),
        "{name}: whole vs bytewise"
    );
    for seed in [7, 1234, 99_991] {
        let random = run_transcript(name, text, Split::Random(seed));
        assert_eq!(
            normalized(&whole),
            normalized(&random),
            "{name}: whole vs random split {seed}"
        );
    }
    whole
}

/// The STARTTLS discard count depends on what had arrived when the event left (read
/// timing), so split runs compare it out.
fn normalized(o: &Outcome) -> (String, Vec<String>) {
    let events = o
        .events
        .iter()
        .map(|e| {
            if e.starts_with("starttls ") {
                "starttls".to_string()
            } else {
                e.clone()
            }
        })
        .collect();
    (o.output.clone(), events)
}
