//! The application's answers to decision events, and the one error session methods return.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes};

use crate::reply::{standard, Reply, ReplyCode};
use crate::sasl::encode_base64;

use super::event::{AbortReason, CloseReason, DataKind, HeloVerb};
use super::state::{Awaiting, ChunkState, SaslStep, State, Transaction};
use super::Session;
use crate::framing::bdat::ChunkCountdown;

/// Which decision the session is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pending {
    /// [`Event::Helo`](super::Event::Helo).
    Helo,
    /// [`Event::Mail`](super::Event::Mail).
    Mail,
    /// [`Event::Rcpt`](super::Event::Rcpt).
    Rcpt,
    /// [`Event::DataStart`](super::Event::DataStart).
    DataStart,
    /// [`Event::EndOfMessage`](super::Event::EndOfMessage).
    EndOfMessage,
    /// [`Event::Auth`](super::Event::Auth).
    Auth,
    /// [`Event::AuthStep`](super::Event::AuthStep).
    AuthStep,
    /// [`Event::Vrfy`](super::Event::Vrfy).
    Vrfy,
    /// [`Event::Expn`](super::Event::Expn).
    Expn,
}

/// A session method was called when it does not apply: a bug in the caller, never caused by
/// the peer. It is the only error session methods return; the session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// No decision is pending.
    #[error("no decision is pending")]
    NoPendingDecision,
    /// This kind of answer does not fit the pending decision.
    #[error("this answer does not apply to the pending {0:?} decision")]
    WrongDecision(Pending),
    /// The reply's class does not fit (e.g. `reject` with a 2xx, DATA accepted without 354).
    #[error("reply code {0} does not fit this answer")]
    InvalidReply(u16),
    /// `decide_lmtp` with a number of replies other than the accepted recipients.
    #[error("expected {expected} LMTP replies, got {got}")]
    LmtpReplyCount {
        /// Accepted recipients.
        expected: usize,
        /// Replies given.
        got: usize,
    },
    /// `tls_established` outside a STARTTLS hand-off.
    #[error("no TLS hand-off is in progress")]
    NoTlsHandoff,
}

impl Session {
    /// The decision the session is waiting for, if any.
    pub fn pending(&self) -> Option<Pending> {
        self.awaiting.as_ref().map(Awaiting::public)
    }

    /// Accepts the pending request with the standard reply: HELO/EHLO/LHLO the configured
    /// reply, MAIL `250 2.1.0`, RCPT `250 2.1.5`, DATA `354` (BDAT: the chunk is read),
    /// end of message `250 2.0.0` (LMTP: one per recipient), AUTH `235 2.7.0`, VRFY/EXPN
    /// `252`.
    pub fn accept(&mut self) -> Result<(), ApiMisuse> {
        self.answer(Answer::Accept(None))
    }

    /// Accepts with a reply of the application's choosing (for instance `250 2.0.0 queued as
    /// 42` at the end of a message). It must be 2xx, or 354 for DATA. For EHLO it replaces the
    /// whole capability reply; for a BDAT `DataStart` it is ignored (no reply is due there).
    pub fn accept_with(&mut self, reply: Reply) -> Result<(), ApiMisuse> {
        self.answer(Answer::Accept(Some(reply)))
    }

    /// Refuses the pending request with a 4xx or 5xx reply. A refused DATA leaves the
    /// transaction open; a refused first BDAT chunk is read and dropped, and ends the
    /// transaction.
    pub fn reject(&mut self, reply: Reply) -> Result<(), ApiMisuse> {
        if !(reply.is_transient() || reply.is_permanent()) {
            return Err(ApiMisuse::InvalidReply(reply.code().as_u16()));
        }
        self.answer(Answer::Reject(reply))
    }

    /// Continues a SASL exchange of an application-driven mechanism ([`Event::AuthStep`](super::Event::AuthStep)):
    /// sends `334` with `challenge` in base64 and waits for the client's next message.
    pub fn auth_challenge(&mut self, challenge: &[u8]) -> Result<(), ApiMisuse> {
        let mechanism = match &self.awaiting {
            Some(Awaiting::AuthStep(m)) => m.clone(),
            Some(other) => return Err(ApiMisuse::WrongDecision(other.public())),
            None => return Err(ApiMisuse::NoPendingDecision),
        };
        self.awaiting = None;
        self.decided();
        let text = encode_base64(challenge);
        self.write_challenge(&text);
        self.state = State::Auth(SaslStep::Custom(mechanism));
        Ok(())
    }

    /// Answers an LMTP end of message with one reply per accepted recipient, in RCPT order
    /// (RFC 2033 4.2). Each must be 2xx, 4xx or 5xx.
    pub fn decide_lmtp(
        &mut self,
        replies: impl IntoIterator<Item = Reply>,
    ) -> Result<(), ApiMisuse> {
        let expected = match &self.awaiting {
            Some(Awaiting::EndOfMessage { recipients }) if self.is_lmtp() => *recipients,
            Some(other) => return Err(ApiMisuse::WrongDecision(other.public())),
            None => return Err(ApiMisuse::NoPendingDecision),
        };
        let replies: Vec<Reply> = replies.into_iter().collect();
        if replies.len() != expected {
            return Err(ApiMisuse::LmtpReplyCount {
                expected,
                got: replies.len(),
            });
        }
        if let Some(bad) = replies
            .iter()
            .find(|r| !(r.is_positive() || r.is_transient() || r.is_permanent()))
        {
            return Err(ApiMisuse::InvalidReply(bad.code().as_u16()));
        }
        self.awaiting = None;
        self.decided();
        for r in &replies {
            self.write_reply(r);
        }
        if replies.iter().any(|r| !r.is_positive()) {
            self.count_error();
        }
        Ok(())
    }

    /// Ends the session from the application's side (server shutdown): sends `reply` (default
    /// `421 4.3.2`) and closes once it is out. A message in progress is aborted. No-op when
    /// the session is already closing.
    pub fn shutdown(&mut self, reply: Option<Reply>) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.awaiting = None;
        self.abort_message(AbortReason::Shutdown);
        self.write_reply(&reply.unwrap_or(standard::SHUTTING_DOWN));
        self.close(CloseReason::Shutdown);
    }

    fn answer(&mut self, answer: Answer) -> Result<(), ApiMisuse> {
        let Some(awaiting) = self.awaiting.take() else {
            return Err(ApiMisuse::NoPendingDecision);
        };
        if let Err(e) = check_answer(&awaiting, &answer, self.is_lmtp()) {
            self.awaiting = Some(awaiting);
            return Err(e);
        }
        self.decided();
        match answer {
            Answer::Accept(custom) => self.on_accept(awaiting, custom),
            Answer::Reject(reply) => self.on_reject(awaiting, reply),
        }
        Ok(())
    }

    fn on_accept(&mut self, awaiting: Awaiting, custom: Option<Reply>) {
        let reply_or = |default: Reply| custom.clone().unwrap_or(default);
        match awaiting {
            Awaiting::Helo(verb) => {
                self.reset_transaction();
                self.helo = Some(verb);
                match custom {
                    Some(r) => self.write_reply(&r),
                    None => {
                        let wire = match verb {
                            HeloVerb::Helo => self.config.helo_wire().clone(),
                            HeloVerb::Ehlo | HeloVerb::Lhlo => {
                                self.config.ehlo_wire(self.ehlo_variant()).clone()
                            }
                        };
                        self.out.put_slice(&wire);
                    }
                }
            }
            Awaiting::Mail { body, smtputf8 } => {
                self.transactions = self.transactions.saturating_add(1);
                self.write_reply(&reply_or(standard::SENDER_OK));
                self.state = State::Mail(Transaction {
                    body,
                    smtputf8,
                    ..Transaction::default()
                });
            }
            Awaiting::Rcpt => {
                if let State::Mail(txn) = &mut self.state {
                    txn.recipients += 1;
                }
                self.write_reply(&reply_or(standard::RECIPIENT_OK));
            }
            Awaiting::DataStart {
                kind: DataKind::Data,
                ..
            } => {
                self.write_reply(&reply_or(standard::START_DATA));
                if let State::Mail(txn) = core::mem::replace(&mut self.state, State::Idle) {
                    self.state = State::Data(txn, self.new_decoder());
                }
            }
            Awaiting::DataStart {
                kind: DataKind::Bdat,
                chunk,
            } => {
                let (size, last) = chunk.unwrap_or((0, true));
                if let State::Mail(mut txn) = core::mem::replace(&mut self.state, State::Idle) {
                    txn.bdat_started = true;
                    self.state = State::Chunk(ChunkState {
                        txn: Some(txn),
                        countdown: ChunkCountdown::new(size),
                        size,
                        last,
                        failure: None,
                    });
                }
            }
            Awaiting::EndOfMessage { recipients } => {
                let reply = reply_or(standard::MESSAGE_ACCEPTED);
                let n = if self.is_lmtp() { recipients } else { 1 };
                for _ in 0..n {
                    self.write_reply(&reply);
                }
            }
            Awaiting::Auth | Awaiting::AuthStep(_) => {
                self.authenticated = true;
                self.write_reply(&reply_or(standard::AUTH_SUCCEEDED));
                self.state = State::Idle;
            }
            Awaiting::Vrfy | Awaiting::Expn => {
                self.write_reply(&reply_or(standard::CANNOT_VRFY));
            }
        }
    }

    fn on_reject(&mut self, awaiting: Awaiting, reply: Reply) {
        match awaiting {
            Awaiting::DataStart {
                kind: DataKind::Bdat,
                chunk,
            } => {
                // RFC 3030 2: the chunk's octets are read and dropped before the reply.
                let (size, last) = chunk.unwrap_or((0, true));
                if matches!(self.state, State::Mail(_)) {
                    self.state = State::Idle;
                }
                self.state_after_chunk_failure(size, last, reply);
                return;
            }
            Awaiting::AuthStep(_) | Awaiting::Auth => self.state = State::Idle,
            _ => {}
        }
        self.write_reply(&reply);
        self.count_error();
    }

    fn state_after_chunk_failure(&mut self, size: u64, last: bool, reply: Reply) {
        self.state = State::Chunk(ChunkState {
            txn: None,
            countdown: ChunkCountdown::new(size),
            size,
            last,
            failure: Some(reply),
        });
    }

    pub(super) fn write_challenge(&mut self, text: &Bytes) {
        self.out.put_slice(b"334 ");
        self.out.put_slice(text);
        self.out.put_slice(b"\r\n");
    }
}

enum Answer {
    Accept(Option<Reply>),
    Reject(Reply),
}

fn check_answer(awaiting: &Awaiting, answer: &Answer, lmtp: bool) -> Result<(), ApiMisuse> {
    let Answer::Accept(Some(reply)) = answer else {
        return Ok(());
    };
    let code = reply.code();
    let fits = match awaiting {
        Awaiting::DataStart {
            kind: DataKind::Data,
            ..
        } => code == ReplyCode::START_MAIL_INPUT,
        Awaiting::DataStart {
            kind: DataKind::Bdat,
            ..
        } => true,
        _ => reply.is_positive(),
    };
    if !fits {
        return Err(ApiMisuse::InvalidReply(code.as_u16()));
    }
    let _ = lmtp;
    Ok(())
}
